import EstuaryConfig
import Foundation
import Testing

@Suite struct SecretMaskingTests {
    @Test(arguments: [
        ("http://KEY@host/x", "http://***@host/x"),
        ("rtsp://user:pass@h/", "rtsp://user:***@h/"),
        ("rtsp://user:p@ss@10.0.0.5:554/s1", "rtsp://user:***@10.0.0.5:554/s1"),
        ("http://127.0.0.1:8070/streams", "http://127.0.0.1:8070/streams"),
        ("http://secret@127.0.0.1:8070", "http://***@127.0.0.1:8070"),
        ("m4f://streamer:8081/fake2", "m4f://streamer:8081/fake2"),
        ("publish://", "publish://"),
        ("udp://@239.0.0.1:1234", "udp://@239.0.0.1:1234"),
        ("hls://h/x.m3u8?token=abc&x=1#frag", "hls://h/x.m3u8?token=***&x=1#frag"),
        ("http://h/p?Password=1&user=me", "http://h/p?Password=***&user=me"),
        ("not a url", "not a url"),
        ("", ""),
    ])
    func masks(url: String, expected: String) {
        #expect(SecretMasking.mask(url: url) == expected)
    }

    @Test func masksFoundationURLs() throws {
        let url = try #require(URL(string: "https://token123@backend.example/streams"))
        #expect(SecretMasking.mask(url: url) == "https://***@backend.example/streams")
    }
}
