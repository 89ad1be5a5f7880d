import EstuaryDVR
import EstuaryLive
import Testing

@Suite struct SegmentCutterTests {
    @Test func segmentsStartAtKeyframesAndLastAtLeastThreeSeconds() {
        var cutter = SegmentCutter()
        var segments: [SegmentCutter.Segment] = []
        segments += cutter.push(headerChunk())
        // 2 s GOPs of 200 ms fragments for 20 s.
        for index in 0..<100 {
            segments += cutter.push(mediaChunk(atMs: 1_000_000 + Int64(index) * 200, keyframe: index % 10 == 0))
        }
        if let last = cutter.flush() { segments.append(last) }
        #expect(segments.map(\.durationMs) == [4000, 4000, 4000, 4000, 4000])
        #expect(segments.map(\.startMs) == [1_000_000, 1_004_000, 1_008_000, 1_012_000, 1_016_000])
        #expect(segments.allSatisfy { $0.fragments.count == 20 })
    }

    @Test func aGapInUTCTimeEndsTheSegmentAndMediaWaitsForAKeyframe() {
        var cutter = SegmentCutter()
        var segments = cutter.push(headerChunk())
        for index in 0..<5 { segments += cutter.push(mediaChunk(atMs: 10_000 + Int64(index) * 200, keyframe: index == 0)) }
        // A 10 s outage, then media that resumes without a keyframe, then a keyframe.
        segments += cutter.push(mediaChunk(atMs: 21_000, keyframe: false))
        segments += cutter.push(mediaChunk(atMs: 21_200, keyframe: true))
        segments += cutter.push(mediaChunk(atMs: 21_400, keyframe: false))
        if let last = cutter.flush() { segments.append(last) }
        #expect(segments.map(\.startMs) == [10_000, 21_200])
        #expect(segments.map(\.durationMs) == [1000, 400])
        #expect(cutter.droppedChunks == 1)
    }

    @Test func aNewInitSegmentEndsTheSegment() {
        var cutter = SegmentCutter()
        var segments = cutter.push(headerChunk(1))
        segments += cutter.push(mediaChunk(atMs: 0, keyframe: true))
        segments += cutter.push(mediaChunk(atMs: 200, keyframe: false))
        segments += cutter.push(headerChunk(2))
        segments += cutter.push(mediaChunk(atMs: 400, keyframe: true))
        if let last = cutter.flush() { segments.append(last) }
        #expect(segments.count == 2)
        #expect(segments[0].initSegment == fakeInit(1))
        #expect(segments[1].initSegment == fakeInit(2))
    }
}
