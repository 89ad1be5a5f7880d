import Testing

@testable import EstuaryHLS

@Suite("HLS playlists")
struct HLSPlaylistTests {
    @Test("a master playlist lists its variants with bandwidth and resolution")
    func master() throws {
        let text = """
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
            low/index.m3u8
            #EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.4d401f,mp4a.40.2"
            http://cdn.example/high/index.m3u8
            """
        guard case .master(let variants) = try HLSPlaylist.parse(text) else {
            Issue.record("not a master playlist")
            return
        }
        #expect(variants.map(\.bandwidth) == [800_000, 2_500_000])
        #expect(variants.map(\.resolution) == ["640x360", "1280x720"])
        #expect(variants[0].uri == "low/index.m3u8")
    }

    @Test("a media playlist numbers segments from its media sequence and marks discontinuities and maps")
    func media() throws {
        let text = """
            #EXTM3U
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:41
            #EXT-X-MAP:URI="init-1.mp4"
            #EXTINF:2.000,
            seg-41.m4s
            #EXTINF:1.960,title
            seg-42.m4s
            #EXT-X-DISCONTINUITY
            #EXT-X-MAP:URI="init-2.mp4"
            #EXTINF:2.0,
            seg-43.m4s
            #EXT-X-ENDLIST
            """
        guard case .media(let media) = try HLSPlaylist.parse(text) else {
            Issue.record("not a media playlist")
            return
        }
        #expect(media.targetDuration == 2)
        #expect(media.ended)
        #expect(media.segments.map(\.sequence) == [41, 42, 43])
        #expect(media.segments.map(\.duration) == [2.0, 1.96, 2.0])
        #expect(media.segments.map(\.discontinuity) == [false, false, true])
        #expect(media.segments.map(\.initializationURI) == ["init-1.mp4", "init-1.mp4", "init-2.mp4"])
    }

    @Test("bad playlists are refused naming the line")
    func errors() {
        #expect(throws: HLSPlaylistError.notAPlaylist) { try HLSPlaylist.parse("<html>") }
        #expect(throws: HLSPlaylistError.invalidTag(line: 2, tag: "#EXT-X-TARGETDURATION", reason: "not a positive number")) {
            try HLSPlaylist.parse("#EXTM3U\n#EXT-X-TARGETDURATION:-1\n")
        }
        #expect(throws: HLSPlaylistError.invalidTag(line: 3, tag: "#EXTINF", reason: "invalid duration 'abc'")) {
            try HLSPlaylist.parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:abc,\nseg.ts\n")
        }
        #expect(throws: HLSPlaylistError.invalidTag(line: 2, tag: "#EXT-X-STREAM-INF", reason: "missing or invalid BANDWIDTH")) {
            try HLSPlaylist.parse("#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1\nx.m3u8\n")
        }
        #expect(throws: HLSPlaylistError.empty) { try HLSPlaylist.parse("#EXTM3U\n#EXT-X-VERSION:3\n") }
    }

    @Test("relative URIs resolve against the playlist's directory or origin")
    func resolve() {
        let base = "http://origin:8080/live/cam/index.m3u8?token=x"
        #expect(HLSPlaylist.resolve("seg-1.ts", against: base) == "http://origin:8080/live/cam/seg-1.ts")
        #expect(HLSPlaylist.resolve("/other/seg.ts", against: base) == "http://origin:8080/other/seg.ts")
        #expect(HLSPlaylist.resolve("https://cdn/x.ts", against: base) == "https://cdn/x.ts")
    }
}
