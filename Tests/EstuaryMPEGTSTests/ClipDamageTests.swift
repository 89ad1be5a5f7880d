import EstuaryMPEGTS
import EstuaryMedia
import EstuaryTestSupport
import NIOCore
import Testing

/// Damaged real clips: the demuxer reports the damage, never crashes, never lets a damaged
/// video frame through, and resumes (video at a keyframe).
@Suite struct ClipDamageTests {
    private static let videoPID = 0x100
    private static let audioPID = 0x101

    /// Bytes with no sync byte, so they cannot be mistaken for packets.
    private static func garbage(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0x48...0xFF, using: &generator) }
    }

    /// Checks that after the first error the output is the clean output resumed: frames
    /// before it are a prefix of the clean frames; after it, video is exactly the clean video
    /// from the first keyframe following the last good frame, and audio is a suffix of the
    /// clean audio that lost nothing or exactly one PES (one starting at a PTS in `pesStarts`).
    private func expectResumed(
        _ events: [TSDemuxer.Event], clean: [TSDemuxer.Event], pesStarts: Set<Int64>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let before = events.framesBeforeFirstError
        let after = events.framesAfterFirstError
        let cleanFrames = clean.frames
        #expect(Array(cleanFrames.prefix(before.count)) == before, sourceLocation: sourceLocation)
        expectVideoResumed(before: before, after: after, clean: clean, sourceLocation: sourceLocation)
        expectAudioResumed(before: before, after: after, clean: clean, pesStarts: pesStarts, sourceLocation: sourceLocation)
    }

    private func expectVideoResumed(
        before: [MediaFrame], after: [MediaFrame], clean: [TSDemuxer.Event], sourceLocation: SourceLocation
    ) {

        let cleanVideo = clean.frames(track: 1)
        let videoBefore = before.filter { $0.trackID == 1 }.count
        let videoAfter = after.filter { $0.trackID == 1 }
        // The first keyframe strictly after the frame that was cut (videoBefore is the first
        // frame not emitted before the error; it may or may not be the damaged one).
        let candidates = cleanVideo.indices.filter { $0 >= videoBefore && cleanVideo[$0].isKeyframe }
        guard let resumeIndex = candidates.first(where: { cleanVideo.count - $0 == videoAfter.count }) else {
            Issue.record("video after the error is not a clean suffix from a keyframe", sourceLocation: sourceLocation)
            return
        }
        #expect(resumeIndex <= (candidates.first { $0 > videoBefore } ?? resumeIndex), sourceLocation: sourceLocation)
        #expect(videoAfter == Array(cleanVideo[resumeIndex...]), sourceLocation: sourceLocation)
        #expect(videoAfter.first?.isKeyframe == true, sourceLocation: sourceLocation)
    }

    private func expectAudioResumed(
        before: [MediaFrame], after: [MediaFrame], clean: [TSDemuxer.Event], pesStarts: Set<Int64>,
        sourceLocation: SourceLocation
    ) {
        let cleanAudio = clean.frames(track: 2)
        let audioBefore = before.filter { $0.trackID == 2 }.count
        let audioAfter = after.filter { $0.trackID == 2 }
        #expect(Array(cleanAudio.suffix(audioAfter.count)) == audioAfter, sourceLocation: sourceLocation)
        // What is missing is nothing, or exactly the frames of one PES.
        let lostEnd = cleanAudio.count - audioAfter.count
        guard lostEnd > audioBefore else {
            #expect(lostEnd == audioBefore, sourceLocation: sourceLocation)
            return
        }
        let lost = cleanAudio[audioBefore..<lostEnd]
        #expect(lost.first.map { pesStarts.contains(mod33($0.pts)) } == true, sourceLocation: sourceLocation)
        #expect(lost.dropFirst().allSatisfy { !pesStarts.contains(mod33($0.pts)) }, sourceLocation: sourceLocation)
        if lostEnd < cleanAudio.count {
            #expect(pesStarts.contains(mod33(cleanAudio[lostEnd].pts)), sourceLocation: sourceLocation)
        }
    }

    /// The PTS of every audio PES in a clean stream (read from the first packet's PES header).
    private static func audioPESStarts(in bytes: [UInt8]) -> Set<Int64> {
        Set(
            RawPacket.all(in: bytes).filter { $0.pid == audioPID && $0.unitStart }.map { packet in
                let t = packet.offset + packet.payloadOffset + 9
                return (Int64(bytes[t] >> 1) & 0x07) << 30 | Int64(bytes[t + 1]) << 22 | Int64(bytes[t + 2] >> 1) << 15
                    | Int64(bytes[t + 3]) << 7 | Int64(bytes[t + 4] >> 1)
            })
    }

    /// The index of the packet holding the start of a video PES about `fraction` into the clip.
    private func videoStart(in bytes: [UInt8], at fraction: Double) throws -> RawPacket {
        let packets = RawPacket.all(in: bytes)
        let starts = packets.filter { $0.pid == Self.videoPID && $0.unitStart }
        return try #require(starts.first { Double($0.offset) >= Double(bytes.count) * fraction })
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func garbageBeforeTheStreamIsSkippedExactly() throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        for pattern in [ChunkPattern.whole, .fixed(1), .fixed(333)] {
            let events = demux(Self.garbage(1000, seed: 1) + clip.bytes, pattern: pattern)
            #expect(events.first == .error(.lostSync(skippedBytes: 1000)), "\(pattern)")
            #expect(Array(events.dropFirst()) == clean, "\(pattern)")
        }
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func garbageInTheMiddleIsReportedOnceAndVideoResumesAtAKeyframe() throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        let at = try videoStart(in: clip.bytes, at: 0.4).offset + 188 * 3
        let damaged = Array(clip.bytes[..<at]) + Self.garbage(500, seed: 2) + Array(clip.bytes[at...])
        let events = demux(damaged, pattern: .random(seed: 3, maxSize: 2000))
        // The packet before the garbage is not followed by a sync byte, so it cannot be
        // trusted either: 188 + 500 bytes are skipped.
        #expect(events.errors == [.lostSync(skippedBytes: 688)])
        expectResumed(events, clean: clean, pesStarts: Self.audioPESStarts(in: clip.bytes))
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func aTruncatedPacketIsSkippedAndVideoResumesAtAKeyframe() throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        let start = try videoStart(in: clip.bytes, at: 0.6)
        let cut = start.offset + 188  // the packet after the PES start
        var damaged = clip.bytes
        damaged.removeSubrange((cut + 88)..<(cut + 188))
        let events = demux(damaged)
        #expect(events.errors == [.lostSync(skippedBytes: 88)])
        expectResumed(events, clean: clean, pesStarts: Self.audioPESStarts(in: clip.bytes))
    }

    @Test(.enabled(if: FFmpegTool.enabled))
    func aTruncatedEndIsReported() throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        let events = demux(Array(clip.bytes.dropLast(100)))
        #expect(events.errors.first == .truncatedPacket(bytes: 88))
        #expect(events.errors.count == 1)
        // Each track is a prefix of the clean track: the PES the cut packet belonged to is
        // dropped (one video frame, or one audio PES of a few frames), not emitted incomplete.
        let lastPID = Int(clip.bytes[clip.bytes.count - 187] & 0x1F) << 8 | Int(clip.bytes[clip.bytes.count - 186])
        for track in [1, 2] {
            let frames = events.frames(track: track)
            let cleanFrames = clean.frames(track: track)
            #expect(Array(cleanFrames.prefix(frames.count)) == frames)
            let lost = cleanFrames.count - frames.count
            if lastPID == 0x100 + track - 1 {
                #expect(track == 1 ? lost == 1 : (1...12).contains(lost))
            } else {
                #expect(lost == 0)
            }
        }
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: [UInt64(1), 2, 3])
    func aFlippedPESStartCodeDropsTheFrameAndVideoResumesAtAKeyframe(seed: UInt64) throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        var generator = SeededGenerator(seed: seed)
        let packets = RawPacket.all(in: clip.bytes)
        let starts = packets.filter { $0.pid == Self.videoPID && $0.unitStart }
        let target = starts[Int.random(in: 5..<(starts.count - 30), using: &generator)]
        var damaged = clip.bytes
        let pes = target.offset + target.payloadOffset
        damaged[pes + Int.random(in: 0..<3, using: &generator)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
        let prefix = Int(damaged[pes]) << 16 | Int(damaged[pes + 1]) << 8 | Int(damaged[pes + 2])

        let events = demux(damaged)
        #expect(
            events.errors == [.invalidPESHeader(pid: Self.videoPID, field: "packet_start_code_prefix", value: prefix)])
        expectResumed(events, clean: clean, pesStarts: [])
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: [UInt64(1), 2, 3])
    func aFlippedContinuityCounterIsReported(seed: UInt64) throws {
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        var generator = SeededGenerator(seed: seed)
        let pid = seed == 2 ? Self.audioPID : Self.videoPID
        let packets = RawPacket.all(in: clip.bytes).filter { $0.pid == pid && $0.hasPayload }
        let target = packets[Int.random(in: 10..<(packets.count - 60), using: &generator)]
        var damaged = clip.bytes
        damaged[target.offset + 3] ^= 0x01
        let counter = target.continuityCounter

        let events = demux(damaged, pattern: .random(seed: seed, maxSize: 1500))
        // Either way one gap is seen: an even counter flipped to counter + 1 is itself the gap
        // (and the real counter + 1 after it passes as a duplicate); an odd one flipped to
        // counter - 1 passes as a duplicate, and the next packet shows the gap.
        #expect(events.errors == [.continuityError(pid: pid, expected: counter, got: (counter + 1) & 0x0F)])
        if pid == Self.videoPID {
            expectResumed(events, clean: clean, pesStarts: [])
        } else {
            // Audio damage leaves video alone.
            #expect(events.frames(track: 1) == clean.frames(track: 1))
            let before = events.framesBeforeFirstError
            #expect(Array(clean.frames.prefix(before.count)) == before)
            expectAudioResumed(
                before: before, after: events.framesAfterFirstError, clean: clean,
                pesStarts: Self.audioPESStarts(in: clip.bytes), sourceLocation: #_sourceLocation)
        }
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: [UInt64(11), 12, 13, 14])
    func randomBitFlipsInPayloadsNeverCrashAndErrorsNameThePID(seed: UInt64) throws {
        // MPEG-TS carries no checksum over PES payloads, so flips inside slice data pass
        // through unnoticed; what must hold is that the demuxer survives, reports what it can
        // see (headers it cannot parse) and keeps its output well-formed.
        let clip = try ClipKind.plain.load()
        let clean = demux(clip.bytes)
        var generator = SeededGenerator(seed: seed)
        let packets = RawPacket.all(in: clip.bytes).filter { $0.pid == Self.videoPID || $0.pid == Self.audioPID }
        var damaged = clip.bytes
        for _ in 0..<200 {
            let packet = packets[Int.random(in: 0..<packets.count, using: &generator)]
            guard packet.payloadOffset < 188 else { continue }
            let byte = packet.offset + Int.random(in: packet.payloadOffset..<188, using: &generator)
            damaged[byte] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
        }
        let events = demux(damaged, pattern: .random(seed: seed, maxSize: 3000))
        #expect(events.trackAnnouncements.count >= 1)
        let video = events.frames(track: 1)
        #expect(video.first?.isKeyframe == true)
        #expect(events.frames.count <= clean.frames.count)
        #expect(events.frames.count >= clean.frames.count / 2)
        for error in events.errors {
            #expect(error.description.contains("PID 0x0100") || error.description.contains("PID 0x0101"))
        }
    }

    @Test(.enabled(if: FFmpegTool.enabled), arguments: [UInt64(21), 22, 23, 24])
    func randomBitFlipsAnywhereNeverCrash(seed: UInt64) throws {
        let clip = try ClipKind.wrapped.load()
        var generator = SeededGenerator(seed: seed)
        var damaged = clip.bytes
        for _ in 0..<100 {
            let byte = Int.random(in: 0..<damaged.count, using: &generator)
            damaged[byte] ^= UInt8(1) << UInt8.random(in: 0...7, using: &generator)
        }
        let events = demux(damaged, pattern: .random(seed: seed, maxSize: 3000))
        var announced: Set<Int> = []
        for event in events {
            switch event {
            case .tracks(let tracks): announced = Set(tracks.map(\.id))
            case .frame(let frame): #expect(announced.contains(frame.trackID))
            case .error: break
            }
        }
        #expect(events.frames(track: 1).first?.isKeyframe == true)
    }
}
