import EstuaryTestSupport
import Testing

@testable import EstuaryHLS

/// Seeded fuzzing of playlists an origin can serve: parsed or refused with ``HLSPlaylistError``, never a trap.
@Suite("HLS fuzz")
struct HLSFuzzTests {
    @Test("100,000 mutated and random playlists: parsed or refused")
    func playlists() {
        let media = Array(
            """
            #EXTM3U
            #EXT-X-VERSION:7
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:41
            #EXT-X-MAP:URI="init-1.mp4",BYTERANGE="720@0"
            #EXTINF:2.000,
            seg-41.m4s
            #EXT-X-DISCONTINUITY
            #EXTINF:1.960,title
            /abs/seg-42.m4s?token=x
            #EXT-X-ENDLIST
            """.utf8)
        let master = Array(
            """
            #EXTM3U
            #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
            low/index.m3u8
            #EXT-X-STREAM-INF:BANDWIDTH=2500000
            http://cdn/high.m3u8
            """.utf8)
        var mutator = Mutator(seed: 0x5EED_0201)
        var parsed = 0
        var refused = 0
        for index in 0..<100_000 {
            let bytes = index % 10 == 0 ? mutator.randomBytes(upTo: 200) : mutator.mutate(index.isMultiple(of: 2) ? media : master)
            do {
                let playlist = try HLSPlaylist.parse(String(decoding: bytes, as: UTF8.self))
                if case .media(let list) = playlist {
                    for segment in list.segments { _ = HLSPlaylist.resolve(segment.uri, against: "http://h:1/a/b.m3u8") }
                }
                parsed += 1
            } catch {
                refused += 1
            }
        }
        #expect(parsed > 0 && refused > 0, "parsed \\(parsed), refused \\(refused)")
    }
}
