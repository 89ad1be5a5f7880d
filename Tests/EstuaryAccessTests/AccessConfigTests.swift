import EstuaryAccess
import EstuaryConfig
import Foundation
import Testing

@Suite struct AccessConfigTests {
    @Test func theYAMLKeysAreRead() throws {
        let (config, warnings) = try NodeConfig.load(
            yaml: """
                edit_auth: admin s3cret
                view_auth: "viewer   v1"
                metrics_auth: prom p1
                api_tokens:
                  - {token: abc, role: edit}
                  - {token: def}
                on_play: http://auth.local/play?key=k
                on_publish: https://auth.local/publish
                auth_backend_failure: open
                client_limits: {connections: 50, connections_per_ip: 5, request_timeout: 3s, header_bytes: 8K, idle_timeout: 1m}
                streams:
                  - {name: cam, inputs: [publish://], on_play: http://other/play, on_publish: http://other/pub}
                """)
        #expect(warnings.isEmpty, "\(warnings)")
        let access = config.access
        #expect(access.editAuth == UserPassword(user: "admin", password: "s3cret"))
        #expect(access.viewAuth == UserPassword(user: "viewer", password: "v1"))
        #expect(access.metricsAuth == UserPassword(user: "prom", password: "p1"))
        #expect(access.apiTokens == [APIToken(token: "abc", role: .edit), APIToken(token: "def", role: .view)])
        #expect(access.onPlay == "http://auth.local/play?key=k")
        #expect(access.onPublish == "https://auth.local/publish")
        #expect(access.backendFailOpen)
        #expect(
            access.clientLimits == ClientLimits(connections: 50, connectionsPerIP: 5, requestTimeout: 3, headerBytes: 8192, idleTimeout: 60)
        )
        #expect(config.streams.first?.onPlay == "http://other/play")
        #expect(config.streams.first?.onPublish == "http://other/pub")
        #expect(!access.description.contains("s3cret"))
    }

    @Test func badValuesNameTheirField() {
        let cases: [(String, String)] = [
            ("edit_auth: onlyuser", "edit_auth"),
            ("api_tokens: [{token: abc, role: admin}]", "role"),
            ("on_play: ftp://x/y", "on_play"),
            ("auth_backend_failure: maybe", "auth_backend_failure"),
            ("client_limits: {connections_per_ip: 0}", "connections_per_ip"),
        ]
        for (yaml, field) in cases {
            do {
                _ = try NodeConfig.load(yaml: yaml)
                Issue.record("\(yaml) must be refused")
            } catch {
                #expect("\(error)".contains(field), "\(yaml): \(error)")
                #expect(!"\(error)".contains("onlyuser"), "credentials are not echoed: \(error)")
            }
        }
    }

    @Test func theEnvironmentWinsAndAddsAnEditToken() throws {
        let file = AccessConfig(editAuth: UserPassword(user: "a", password: "b"))
        let merged = try file.applying(environment: [
            "ESTUARY_EDIT_AUTH": "root pw", "ESTUARY_API_TOKEN": "envtoken", "ESTUARY_VIEW_AUTH": "",
        ])
        #expect(merged.editAuth == UserPassword(user: "root", password: "pw"))
        #expect(merged.viewAuth == nil)
        #expect(merged.apiTokens == [APIToken(token: "envtoken", role: .edit)])
        do {
            _ = try file.applying(environment: ["ESTUARY_VIEW_AUTH": "just-one-word-secret"])
            Issue.record("one word is not USER PASS")
        } catch {
            #expect("\(error)".contains("ESTUARY_VIEW_AUTH"))
            #expect(!"\(error)".contains("just-one-word-secret"), "the value is masked")
        }
    }

    @Test func theAPIShowsStreamsWithTheirSecretsMasked() throws {
        var stream = StreamConfig(
            name: "cam", inputs: [InputConfig(url: "rtsp://user:camsecret@10.0.0.5/s1", clusterKey: "ck")], password: "pubsecret",
            onPlay: "http://auth/play?token=playsecret")
        stream.pushes = [PushConfig(url: "m4f://host:1/x?password=pushsecret")]
        let text = String(decoding: try JSONEncoder().encode(stream.maskedForDisplay), as: UTF8.self)
        for secret in ["camsecret", "pubsecret", "playsecret", "pushsecret", "\"ck\""] {
            #expect(!text.contains(secret), "\(secret) in \(text)")
        }
        #expect(text.contains("***"))
    }

    @Test func playlistURIsCarryTheToken() {
        let playlist = """
            #EXTM3U
            #EXT-X-TARGETDURATION:2
            #EXT-X-MAP:URI="init-1.mp4"
            #EXTINF:2.000,
            seg-10.m4s
            #EXTINF:2.000,
            dvr/seg.m4s?from=1

            """
        let rewritten = PlaylistToken.append("a b&c", to: playlist)
        #expect(rewritten.contains("#EXT-X-MAP:URI=\"init-1.mp4?token=a%20b%26c\""))
        #expect(rewritten.contains("\nseg-10.m4s?token=a%20b%26c\n"))
        #expect(rewritten.contains("\ndvr/seg.m4s?from=1&token=a%20b%26c\n"))
        #expect(rewritten.contains("#EXTINF:2.000,\n"), "tags are left alone")
        #expect(rewritten.hasSuffix("\n"))
    }
}
