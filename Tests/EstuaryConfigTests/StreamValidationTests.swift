import Foundation
import Testing

@testable import EstuaryConfig

/// Decodes one stream object and returns the error it was rejected with, if any.
private func rejection(_ json: String, name: String? = nil) -> StreamConfigError? {
    do {
        _ = try StreamConfig.decode(json: Data(json.utf8), name: name)
        return nil
    } catch let error as StreamConfigError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite struct StreamValidationTests {
    @Test(arguments: ["cam1", "a/b.c-d_1", "A.B", String(repeating: "x", count: 128), "live/cam-01/hd", ".a/b.", "a/.b/c"])
    func validNames(name: String) {
        #expect(StreamConfig.isValidName(name))
        #expect(rejection(streamJSON(name)) == nil)
    }

    @Test(arguments: [
        ("", "must not be empty"),
        (String(repeating: "x", count: 129), "longer than 128 characters"),
        ("cam 1", "may contain only letters, digits and _ . - /"),
        ("cam#1", "may contain only letters, digits and _ . - /"),
        ("kamera-ü", "may contain only letters, digits and _ . - /"),
        ("a/../b", "must not contain '..'"),
        ("a..b", "must not contain '..'"),
        ("/cam1", "must not begin with '/'"),
        ("cam1/", "must not end with '/'"),
        ("a//b", "must not contain '//'"),
        ("a/./b", "must not contain a '.' path segment"),
        (".", "must not contain a '.' path segment"),
        ("./a", "must not contain a '.' path segment"),
        ("a/.", "must not contain a '.' path segment"),
    ])
    func invalidNames(name: String, reason: String) {
        #expect(!StreamConfig.isValidName(name))
        #expect(rejection(streamJSON(name)) == .invalidField(stream: name, field: "name", reason: reason))
    }

    @Test func missingNameIsNamedByPlace() {
        #expect(rejection(#"{"inputs": [{"url": "fake://a"}]}"#) == .missingField(stream: "(unnamed)", field: "name"))
    }

    @Test func wrongTypedName() {
        let error = rejection(#"{"name": true, "inputs": [{"url": "fake://a"}]}"#)
        #expect(error?.stream == "(unnamed)")
        #expect(error?.field == "name")
    }

    @Test func atLeastOneInput() {
        for json in [#"{"name": "cam1"}"#, #"{"name": "cam1", "inputs": []}"#, #"{"name": "cam1", "inputs": null}"#] {
            let error = rejection(json)
            #expect(error?.stream == "cam1")
            #expect(error?.field == "inputs")
        }
    }

    @Test func publishCountsAsAnInput() {
        #expect(rejection(#"{"name": "pub", "inputs": [{"url": "publish://"}], "password": "x"}"#) == nil)
    }

    @Test(arguments: [
        "fake://fake1", "m4f://h:8081/cam", "m4fs://h/cam", "udp://239.0.0.1:1234", "udp://@239.0.0.1:1234",
        "tshttp://h/ts", "http://h/ts", "https://h/ts", "publish://", "rtsp://u:p@10.0.0.5/s1", "rtmp://h/app/x",
        "hls://h/x.m3u8", "hlss://h/x.m3u8",
    ])
    func supportedSchemes(url: String) {
        #expect(rejection(#"{"name": "cam1", "inputs": [{"url": "\#(url)"}]}"#) == nil)
    }

    @Test func unsupportedSchemeNamesStreamAndField() {
        let json = #"{"name": "cam1", "inputs": [{"url": "rtsp://h/ok"}, {"url": "ftp://h/x"}]}"#
        #expect(rejection(json) == .invalidField(stream: "cam1", field: "inputs[1].url", reason: "unsupported scheme 'ftp'"))
        #expect(rejection(json)?.description == "stream 'cam1': inputs[1].url: unsupported scheme 'ftp'")
    }

    @Test(arguments: ["10.0.0.5/s1", "", "rtsp:///s1", "rtsp://h/a b", "fake://"])
    func badInputURLs(url: String) {
        let error = rejection(#"{"name": "cam1", "inputs": [{"url": "\#(url)"}]}"#)
        #expect(error?.stream == "cam1")
        #expect(error?.field == "inputs[0].url")
    }

    @Test func inputWithoutURL() {
        let json = #"{"name": "cam1", "inputs": [{"priority": 1}]}"#
        #expect(rejection(json) == .missingField(stream: "cam1", field: "inputs[0].url"))
    }

    @Test func badURLsAreMaskedInErrors() {
        let error = rejection(#"{"name": "cam1", "inputs": [{"url": "user:secret@host"}]}"#)
        #expect(error != nil)
        #expect(error?.description.contains("secret") == false)
    }

    @Test(arguments: ["0", "-5", "\"-5s\"", "\"soon\"", "true"])
    func sourceTimeoutMustBePositive(value: String) {
        let error = rejection(#"{"name": "cam1", "inputs": [{"url": "fake://a", "source_timeout": \#(value)}]}"#)
        #expect(error?.stream == "cam1")
        #expect(error?.field == "inputs[0].source_timeout")
    }

    @Test func sourceTimeoutTakesUnits() throws {
        let json = #"{"name": "cam1", "inputs": [{"url": "fake://a", "source_timeout": "1m"}]}"#
        #expect(try StreamConfig.decode(json: Data(json.utf8)).config.inputs[0].sourceTimeout == 60)
    }

    @Test func priorityMustNotBeNegative() {
        let error = rejection(#"{"name": "cam1", "inputs": [{"url": "fake://a", "priority": -1}]}"#)
        #expect(error == .invalidField(stream: "cam1", field: "inputs[0].priority", reason: "must not be negative, got -1"))
    }

    @Test func emptyClusterKeyIsRejectedByValidate() {
        let config = StreamConfig(name: "cam1", inputs: [InputConfig(url: "fake://a", clusterKey: "")])
        #expect(throws: StreamConfigError.invalidField(stream: "cam1", field: "inputs[0].cluster_key", reason: "must not be empty")) {
            try config.validate()
        }
    }

    @Test(arguments: [
        (#"{"expiration": 1}"#, "dvr.root"),
        (#"{"root": "storage"}"#, "dvr.root"),
        (#"{"root": ""}"#, "dvr.root"),
        (#"{"root": "/s", "disk_usage_limit": 101}"#, "dvr.disk_usage_limit"),
        (#"{"root": "/s", "disk_usage_limit": -1}"#, "dvr.disk_usage_limit"),
        (#"{"root": "/s", "expiration": "20x"}"#, "dvr.expiration"),
        (#"{"root": "/s", "expiration": -1}"#, "dvr.expiration"),
        (#"{"root": "/s", "storage_limit": "-5G"}"#, "dvr.storage_limit"),
        (#"{"root": "/s", "episodes_expiration": "later"}"#, "dvr.episodes_expiration"),
        (#"{"root": "/s", "episodes_url": "ftp://h/e"}"#, "dvr.episodes_url"),
        (#"{"root": "/s", "replication_port": 0}"#, "dvr.replication_port"),
        (#"{"root": "/s", "replication_port": 70000}"#, "dvr.replication_port"),
        (#"{"root": "/s", "replication_speed": 0}"#, "dvr.replication_speed"),
        (#"{"root": "/s", "replication_speed": "fast"}"#, "dvr.replication_speed"),
        (#"{"root": "/s", "dvr_replicate": "maybe"}"#, "dvr.dvr_replicate"),
        (#"{"root": "/s", "replicate": 7}"#, "dvr.replicate"),
        (#""/storage""#, "dvr"),
    ])
    func dvrRules(dvr: String, field: String) {
        let error = rejection(streamJSON("cam1", #""dvr": \#(dvr)"#))
        #expect(error?.stream == "cam1")
        #expect(error?.field == field)
    }

    @Test func dvrUnitErrorQuotesTheValue() {
        let error = rejection(streamJSON("cam1", #""dvr": {"root": "/s", "expiration": "20x"}"#))
        guard case .invalidField(_, _, let reason) = error else {
            Issue.record("expected invalidField, got \(String(describing: error))")
            return
        }
        #expect(reason.contains("'20x'"))
    }

    @Test func diskUsageLimitBoundsAreAccepted() {
        #expect(rejection(streamJSON("cam1", #""dvr": {"root": "/s", "disk_usage_limit": 0}"#)) == nil)
        #expect(rejection(streamJSON("cam1", #""dvr": {"root": "/s", "disk_usage_limit": 100}"#)) == nil)
    }

    @Test func pushNeedsAURL() {
        #expect(rejection(streamJSON("cam1", #""pushes": [{"url": "nowhere"}]"#))?.field == "pushes[0].url")
        #expect(rejection(streamJSON("cam1", #""pushes": [{}]"#)) == .missingField(stream: "cam1", field: "pushes[0].url"))
    }

    @Test func clusterIngestCaptureAtMustNotBeEmpty() {
        let config = StreamConfig(name: "cam1", inputs: [InputConfig(url: "fake://a")], clusterIngest: ClusterIngestConfig(captureAt: ""))
        #expect(throws: StreamConfigError.self) { try config.validate() }
    }

    @Test(arguments: [
        (#""static": "maybe""#, "static"),
        (#""inputs": "fake://a""#, "inputs"),
        (#""inputs": [42]"#, "inputs[0]"),
        (#""cluster_ingest": 3"#, "cluster_ingest"),
        (#""pushes": {}"#, "pushes"),
        (#""password": [1]"#, "password"),
    ])
    func wrongTypes(extra: String, field: String) {
        let json = #"{"name": "cam1", "inputs": [{"url": "fake://a"}], \#(extra)}"#
        let error = rejection(json.replacingOccurrences(of: #""inputs": [{"url": "fake://a"}], "inputs""#, with: #""inputs""#))
        #expect(error?.stream == "cam1")
        #expect(error?.field == field)
    }

    /// Spaces and control characters anywhere in an input URL are refused, ASCII or not; other non-ASCII text is not.
    @Test(arguments: [
        ("rtsp://10.0.0.5/a b", false), ("rtsp://10.0.0.5/a\\tb", false), ("rtsp://10.0.0.5/a\\u007fb", false),
        ("rtsp://10.0.0.5/a\\u00a0b", false), ("rtsp://10.0.0.5/a\\u3000b", false), ("rtsp://10.0.0.5/caméra", true),
        ("rtsp://10.0.0.5/~a!b", true),
    ])
    func inputURLCharacters(url: String, accepted: Bool) {
        let json = #"{"name": "cam1", "inputs": [{"url": "\#(url)"}]}"#
        let expected: StreamConfigError? =
            accepted ? nil : .invalidField(stream: "cam1", field: "inputs[0].url", reason: "must not contain spaces or control characters")
        #expect(rejection(json) == expected)
    }

    @Test func hlsInputsDefaultToTheirLongerSourceTimeoutWhateverTheSchemeCase() throws {
        #expect(InputConfig.defaultSourceTimeout(for: "HLS://h/x.m3u8") == 180)
        #expect(InputConfig.defaultSourceTimeout(for: "hlss://h/x.m3u8") == 180)
        #expect(InputConfig.defaultSourceTimeout(for: "hlsx://h/x.m3u8") == InputConfig.defaultSourceTimeout)
        #expect(InputConfig.defaultSourceTimeout(for: "hl") == InputConfig.defaultSourceTimeout)
        #expect(InputConfig.defaultSourceTimeout(for: "(ls://h") == InputConfig.defaultSourceTimeout)
    }

    /// The scheme and authority are cut at the first `://`, whatever colons and slashes come before it.
    @Test(arguments: [
        ("udp://239.0.0.1:1234", "udp", "239.0.0.1:1234"), ("a:b://c/d", "a:b", "c"), ("x:/y://h?q", "x:/y", "h"),
        ("m4f://key@h:80/x", "m4f", "key@h:80"), ("é://h", "é", "h"), ("rtsp://", "rtsp", ""),
    ])
    func urlPartsAreCutAtTheFirstSchemeSeparator(url: String, scheme: String, authority: String) {
        let parts = URLText.split(url)
        #expect(parts.map { String($0.scheme) } == scheme)
        #expect(parts.map { String($0.authority) } == authority)
    }

    @Test func aURLWithoutSchemeSeparatorHasNoParts() {
        for url in ["", ":", "h:/x", "h//x", "cam1"] {
            #expect(URLText.split(url) == nil, "\(url)")
        }
        #expect(URLText.split("://").map { String($0.scheme) } == "")
        #expect(URLText.scheme(of: "HTTP://h") == "http")
        #expect(URLText.scheme(of: "1x://h") == nil)
    }

    /// A scheme is ASCII: a letter, then letters, digits, `+`, `-` and `.`; it reads back in lower case.
    @Test func aSchemeIsALetterThenLettersDigitsPlusMinusOrDot() {
        #expect(URLText.scheme(of: "Rtmp+TLS.v-2://h") == "rtmp+tls.v-2")
        #expect(URLText.scheme(of: "tshttp://h") == "tshttp")
        for url in ["é://h", "hé://h", "h_x://h", "h x://h", "+h://h", "://h", "٣x://h", "x٣://h"] {
            #expect(URLText.scheme(of: url) == nil, "\(url)")
        }
        #expect(URLText.split("http://h#f/x").map { String($0.authority) } == "h")
        #expect(URLText.split("http://hé?q/x").map { String($0.rest) } == "?q/x")
    }
}
