import EstuaryConfigExternal
import Foundation
import NIOHTTP1
import Testing

@Suite struct ConfigBackendURLTests {
    @Test func aPathEndingInStreamsNamesTheListEndpoint() throws {
        let url = try ConfigBackendURL("http://central:8070/config/streams")
        #expect(url.endpointURL(.streams) == "http://central:8070/config/streams")
        #expect(url.endpointURL(.updateStreamsList, query: "host=a") == "http://central:8070/config/update_streams_list?host=a")
        #expect(url.endpointURL(.dynamicStreamsList) == "http://central:8070/config/dynamic_streams_list")
        #expect(url.endpointURL(.episodes) == "http://central:8070/config/episodes")
    }

    @Test func anyOtherPathHasTheEndpointsAppended() throws {
        #expect(try ConfigBackendURL("http://central/api/").endpointURL(.streams) == "http://central/api/streams")
        #expect(try ConfigBackendURL("https://central").endpointURL(.episodes) == "https://central/episodes")
    }

    @Test func theConfiguredQueryTravelsOnEveryRequest() throws {
        let url = try ConfigBackendURL("http://central/streams?tenant=7")
        #expect(url.endpointURL(.streams, query: "host=n1") == "http://central/streams?tenant=7&host=n1")
        #expect(url.endpointURL(.updateStreamsList) == "http://central/update_streams_list?tenant=7")
    }

    @Test func userInformationBecomesAuthorizationAndIsNeverShown() throws {
        let bearer = try ConfigBackendURL("http://s3cr3t@central:8070/streams")
        #expect(bearer.authorization == "Bearer s3cr3t")
        #expect(!bearer.endpointURL(.streams).contains("s3cr3t"))
        #expect(!bearer.masked.contains("s3cr3t"))
        let basic = try ConfigBackendURL("http://user:pa55@central/streams")
        #expect(basic.authorization == "Basic \(Data("user:pa55".utf8).base64EncodedString())")
        #expect(!basic.masked.contains("pa55"))
        #expect(try ConfigBackendURL("http://central/streams").authorization == nil)
    }

    @Test(arguments: ["", "central/streams", "ftp://central/streams", "http:///streams", "file:///etc/streams.yaml"])
    func anUnusableURLIsRefusedWithTheReason(text: String) {
        #expect {
            _ = try ConfigBackendURL(text)
        } throws: { error in
            (error as? ConfigExternalError)?.reason == .invalidRequest
        }
    }

    @Test func headersSwitchCapabilitiesAndGarbageKeepsDefaults() {
        #expect(BackendCapabilities(headers: HTTPHeaders()) == BackendCapabilities())
        let all = BackendCapabilities(
            headers: HTTPHeaders([
                ("X-Config-Server-Separate-Endpoints", "true"), ("x-config-server-dynamic-streams", "false"),
                ("X-Config-Server-Episodes", "TRUE"),
            ]))
        #expect(all == BackendCapabilities(separateEndpoints: true, dynamicStreams: false, episodes: true))
        #expect(all.updateEndpoint == .updateStreamsList)
        #expect(all.dynamicEndpoint == .dynamicStreamsList)
        let garbage = BackendCapabilities(headers: HTTPHeaders([("X-Config-Server-Dynamic-Streams", "perhaps")]))
        #expect(garbage.dynamicStreams)
        #expect(BackendCapabilities().updateEndpoint == .streams)
    }
}
