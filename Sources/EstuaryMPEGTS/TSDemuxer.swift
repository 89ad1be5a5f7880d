import EstuaryMedia
import NIOCore

/// An incremental MPEG-TS demuxer: bytes in, ``TrackInfo`` announcements and
/// ``MediaFrame``s out.
///
/// Guarantees:
/// - Input may be split at any byte; the events do not depend on how it was split.
/// - Packet alignment is found (and re-found after garbage) by two sync bytes 188 bytes
///   apart; each loss of sync is reported once, with the number of bytes skipped.
/// - It follows the first program of the PAT; from its PMT it takes the first H.264 (0x1B) or
///   H.265 (0x24) stream as track 1 and the first AAC/ADTS (0x0F) stream as track 2.
/// - `.tracks` always carries every known track; it comes once every PMT stream has a
///   configuration (or after about 1 s of media if one never gets one), and again whenever a
///   configuration changes. Frames are never emitted before the `.tracks` that covers them.
/// - Video frames follow the ``MediaFrame`` payload rules (length-prefixed, no AUD, no
///   parameter sets), start at a keyframe, and after any loss (continuity error, lost sync,
///   damaged PES) resume only at the next keyframe, so no damaged picture goes downstream.
/// - Timestamps are unwrapped from 33 bits onto a continuous `Int64` timeline.
/// - Memory is bounded: a PES is capped at `maxPESSize` bytes, and garbage never accumulates.
/// - No input makes it trap.
public struct TSDemuxer: Sendable {
    /// What the demuxer found in the input, in input order.
    public enum Event: Sendable, Equatable {
        /// All currently known tracks (video id 1, audio id 2); sent whenever the set changes.
        case tracks([TrackInfo])
        /// One access unit of a track announced by an earlier `.tracks`.
        case frame(MediaFrame)
        /// A problem in the input; demuxing goes on after it.
        case error(TSDemuxError)
    }

    /// The default cap on one PES packet (8 MiB).
    public static let defaultMaxPESSize = 8 << 20
    /// The track id given to the video stream.
    public static let videoTrackID = 1
    /// The track id given to the audio stream.
    public static let audioTrackID = 2
    /// How much media (90 kHz ticks) to wait for every PMT stream's configuration before
    /// announcing the tracks that are known.
    public static let trackWaitLimit: Int64 = 90_000

    private struct VideoStream: Sendable {
        var pid: Int
        var codec: Codec
        var assembler: PESAssembler
        var vps: [[UInt8]] = []
        var sps: [[UInt8]] = []
        var pps: [[UInt8]] = []
        var config: CodecConfig?
        var needsKeyframe = true
        var lastDTS: Int64?
    }

    private struct AudioStream: Sendable {
        var pid: Int
        var assembler: PESAssembler
        var config: AACConfig?
        var lastDTS: Int64?
        /// Where the frame after the last one would start, for a PES without PTS.
        var nextPTS: Int64?
    }

    private let maxPESSize: Int
    private var pending = ByteBuffer()
    /// Storage of the demuxer's own for a short tail of `pending` (the packet that waits for the next one's sync
    /// byte), so that the caller's buffer is not kept alive between feeds: a UDP receive buffer nobody else holds
    /// is reused by the next receive instead of a new one being allocated per datagram.
    private var tailStorage = ByteBuffer()
    /// Whether `pending` is a copy in `tailStorage`.
    private var pendingInTail = false
    private var inSync = false
    private var skippedBytes = 0
    /// Stream offset of `pending`'s reader index, and the end offset and wall clock of each
    /// fed chunk still in `pending`, so a packet gets the time its first byte arrived.
    private var consumedOffset: Int64 = 0
    private var fedOffset: Int64 = 0
    private var arrivals: [(end: Int64, wallClockMicros: Int64)] = []
    private var wallClockMicros: Int64 = 0

    private var pat = SectionAssembler(pid: MPEGTS.patPID)
    private var lastPAT: [UInt8]?
    private var pmt: SectionAssembler?
    private var lastPMT: [UInt8]?
    private var continuity = ContinuityCounters()
    private var scrambledPIDs: Set<Int> = []

    private var video: VideoStream?
    private var audio: AudioStream?
    private var pmtSeen = false

    private var announced: [TrackInfo]?
    private var held: [MediaFrame] = []
    private var heldBytes = 0
    private var firstMediaTime: Int64?
    private var lastMediaTime: Int64?
    private var events: [Event] = []

    /// Creates a demuxer; `maxPESSize` caps one PES (larger ones are reported and dropped).
    public init(maxPESSize: Int = TSDemuxer.defaultMaxPESSize) {
        self.maxPESSize = max(maxPESSize, MPEGTS.packetSize)
    }

    /// Feeds the next bytes of the stream, split anywhere.
    ///
    /// `wallClockMicros` is the time the bytes arrived (UTC µs); a frame carries the time
    /// of the chunk in which its first packet arrived.
    /// - Returns: the events these bytes completed, in order.
    public mutating func feed(_ bytes: ByteBuffer, wallClockMicros: Int64) -> [Event] {
        if bytes.readableBytes > 0 {
            fedOffset += Int64(bytes.readableBytes)
            arrivals.append((fedOffset, wallClockMicros))
            appendPending(bytes)
        }
        process(final: false)
        keepTailApart()
        return takeEvents()
    }

    /// Ends the input: processes a last unconfirmed packet, completes PES packets that
    /// wait for a next unit start, reports a trailing partial packet or garbage, and
    /// announces tracks (and releases frames) still waiting for a configuration.
    ///
    /// The demuxer may be fed again afterwards; that input is treated as following a gap
    /// (sync is searched anew and video waits for a keyframe), with configurations kept.
    public mutating func flush() -> [Event] {
        process(final: true)
        let remaining = pending.readableBytes
        if inSync, remaining > 0 {
            events.append(.error(.truncatedPacket(bytes: remaining)))
            // The PES the cut packet belonged to is incomplete, whatever its length says.
            if let high = pending.getInteger(at: pending.readerIndex + 1, as: UInt8.self),
                let low = pending.getInteger(at: pending.readerIndex + 2, as: UInt8.self)
            {
                lossOfStream(Int(high & 0x1F) << 8 | Int(low))
            } else {
                lossOfAllStreams()
            }
        } else if !inSync, skippedBytes + remaining > 0 {
            events.append(.error(.lostSync(skippedBytes: skippedBytes + remaining)))
        }
        consume(remaining)
        pending = ByteBuffer()
        pendingInTail = false
        skippedBytes = 0
        inSync = false

        var output: [PESAssembler.Output] = []
        video?.assembler.finish(into: &output)
        handleVideoOutput(output)
        output = []
        audio?.assembler.finish(into: &output)
        handleAudioOutput(output)
        announceIfReady(force: true)

        pat.drop()
        pmt?.drop()
        continuity.removeAll()
        video?.needsKeyframe = true
        return takeEvents()
    }

    private mutating func takeEvents() -> [Event] {
        let out = events
        events = []
        return out
    }

    // MARK: - Packet alignment

    private mutating func process(final: Bool) {
        let size = MPEGTS.packetSize
        while true {
            let available = pending.readableBytes
            let start = pending.readerIndex
            if inSync {
                guard available >= size else { break }
                if pending.getInteger(at: start, as: UInt8.self) == MPEGTS.syncByte {
                    if available > size {
                        if pending.getInteger(at: start + size, as: UInt8.self) == MPEGTS.syncByte {
                            handlePacket(at: start)
                            consume(size)
                            continue
                        }
                    } else if final {
                        handlePacket(at: start)
                        consume(size)
                        continue
                    } else {
                        break
                    }
                }
                inSync = false
                skippedBytes = 0
                lossOfAllStreams()
            }
            guard available > size else { break }
            let found = pending.withUnsafeReadableBytes { raw -> Int? in
                var index = 0
                while index + size < raw.count {
                    if raw[index] == MPEGTS.syncByte, raw[index + size] == MPEGTS.syncByte { return index }
                    index += 1
                }
                return nil
            }
            if let found {
                consume(found)
                skippedBytes += found
                inSync = true
                if skippedBytes > 0 {
                    events.append(.error(.lostSync(skippedBytes: skippedBytes)))
                }
                skippedBytes = 0
            } else {
                let discard = available - size
                consume(discard)
                skippedBytes += discard
                break
            }
        }
        if pending.readableBytes == 0, !pendingInTail { pending = ByteBuffer() }
    }

    /// Appends input to the unconsumed tail. The tail (at most a packet or two) and the new
    /// bytes go into a buffer of their own, so each feed costs what it brings, however
    /// large the buffer was and whether or not its storage is shared (ByteBuffer's
    /// copy-on-write would copy all of it).
    private mutating func appendPending(_ bytes: ByteBuffer) {
        let size = MPEGTS.packetSize
        if pending.readableBytes == 0 {
            pending = bytes
            pendingInTail = false
            return
        }
        // The usual case: in sync, one packet waits for the next one's sync byte to confirm it. The new bytes bring
        // it: handle the packet now and keep the new bytes as they are, without copying them behind it.
        if inSync, pending.readableBytes == size, pending.getInteger(at: pending.readerIndex, as: UInt8.self) == MPEGTS.syncByte,
            bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == MPEGTS.syncByte
        {
            handlePacket(at: pending.readerIndex)
            consume(size)
            pending = bytes
            pendingInTail = false
            return
        }
        var merged = ByteBufferAllocator().buffer(capacity: pending.readableBytes + bytes.readableBytes)
        merged.writeImmutableBuffer(pending)
        merged.writeImmutableBuffer(bytes)
        pending = merged
        pendingInTail = false
    }

    /// Copies a tail of at most one packet out of the caller's buffer into the demuxer's own storage, reused from
    /// feed to feed (`pending` has let go of it before it is written again, so no copy-on-write occurs).
    private mutating func keepTailApart() {
        let count = pending.readableBytes
        guard count > 0, count <= MPEGTS.packetSize, !pendingInTail else { return }
        tailStorage.clear()
        tailStorage.writeImmutableBuffer(pending)
        pending = tailStorage
        pendingInTail = true
    }

    /// Moves past `count` pending bytes and forgets arrival times of chunks wholly consumed.
    private mutating func consume(_ count: Int) {
        pending.moveReaderIndex(forwardBy: min(count, pending.readableBytes))
        consumedOffset += Int64(count)
        var drop = 0
        while drop < arrivals.count, arrivals[drop].end <= consumedOffset { drop += 1 }
        if drop > 0 { arrivals.removeFirst(drop) }
    }

    // MARK: - Packets

    private mutating func handlePacket(at index: Int) {
        if let arrival = arrivals.first { wallClockMicros = arrival.wallClockMicros }
        let header: TSPacketHeader
        do {
            guard let parsed = try TSPacketHeader.parse(pending, at: index) else { return }
            header = parsed
        } catch {
            events.append(.error(error))
            if case .invalidAdaptationField(let pid, _) = error, isRelevant(pid) {
                lossOfStream(pid)
            }
            return
        }
        let pid = header.pid
        guard pid != MPEGTS.nullPID, isRelevant(pid) else { return }
        if header.transportError {
            // The packet (its counter too) is unreliable; the loss is reported here, so the
            // counter check restarts with the next good packet.
            events.append(.error(.transportError(pid: pid)))
            lossOfStream(pid)
            continuity.remove(pid)
            return
        }
        guard header.hasPayload else { return }
        // One lookup per packet: the counter is stored whatever the check finds (a duplicate stores the same).
        if let last = continuity.update(header.continuityCounter, for: pid), !header.discontinuity {
            if header.continuityCounter == last { return }  // a permitted duplicate packet
            let expected = (last + 1) & 0x0F
            if header.continuityCounter != expected {
                events.append(
                    .error(.continuityError(pid: pid, expected: Int(expected), got: Int(header.continuityCounter))))
                lossOfStream(pid)
            }
        }
        if header.scrambling != 0 {
            if scrambledPIDs.insert(pid).inserted {
                events.append(.error(.scrambled(pid: pid)))
            }
            lossOfStream(pid)
            return
        }
        if !scrambledPIDs.isEmpty { scrambledPIDs.remove(pid) }
        let payloadLength = MPEGTS.packetSize - header.payloadOffset
        guard payloadLength > 0, let payload = pending.getSlice(at: index + header.payloadOffset, length: payloadLength)
        else { return }

        if pid == MPEGTS.patPID {
            var sections: [[UInt8]] = []
            var errors: [TSDemuxError] = []
            pat.append(payload, unitStart: header.payloadUnitStart, sections: &sections, errors: &errors)
            events += errors.map { .error($0) }
            for section in sections { handlePAT(section) }
        } else if pid == pmt?.pid {
            var sections: [[UInt8]] = []
            var errors: [TSDemuxError] = []
            pmt?.append(payload, unitStart: header.payloadUnitStart, sections: &sections, errors: &errors)
            events += errors.map { .error($0) }
            for section in sections { handlePMT(section, pid: pid) }
        } else if pid == video?.pid {
            var output: [PESAssembler.Output] = []
            video?.assembler.append(
                payload, unitStart: header.payloadUnitStart, wallClockMicros: wallClockMicros, into: &output)
            handleVideoOutput(output)
        } else if pid == audio?.pid {
            var output: [PESAssembler.Output] = []
            audio?.assembler.append(
                payload, unitStart: header.payloadUnitStart, wallClockMicros: wallClockMicros, into: &output)
            handleAudioOutput(output)
        }
    }

    private func isRelevant(_ pid: Int) -> Bool {
        pid == MPEGTS.patPID || pid == pmt?.pid || pid == video?.pid || pid == audio?.pid
    }

    /// Packets of `pid` were lost or damaged: drop what was being collected.
    private mutating func lossOfStream(_ pid: Int) {
        if pid == MPEGTS.patPID { pat.drop() }
        if pid == pmt?.pid { pmt?.drop() }
        if pid == video?.pid {
            video?.assembler.drop()
            video?.needsKeyframe = true
        }
        if pid == audio?.pid { audio?.assembler.drop() }
    }

    /// Sync was lost: any stream may have lost packets.
    private mutating func lossOfAllStreams() {
        pat.drop()
        pmt?.drop()
        video?.assembler.drop()
        video?.needsKeyframe = true
        audio?.assembler.drop()
        continuity.removeAll()
    }

    // MARK: - Tables

    private mutating func handlePAT(_ bytes: [UInt8]) {
        guard bytes != lastPAT else { return }
        let section: PSISection
        do {
            section = try PSISection(parsing: bytes, pid: MPEGTS.patPID)
        } catch {
            events.append(.error(error))
            return
        }
        guard section.tableID == 0x00 else {
            events.append(.error(.invalidSection(pid: MPEGTS.patPID, field: "table_id", value: Int(section.tableID))))
            return
        }
        guard section.isCurrent, section.sectionNumber == 0 else { return }
        lastPAT = bytes
        guard let pmtPID = section.firstProgramPMTPID() else { return }
        guard pmtPID != MPEGTS.patPID, pmtPID != MPEGTS.nullPID else {
            events.append(.error(.invalidSection(pid: MPEGTS.patPID, field: "program_map_PID", value: pmtPID)))
            return
        }
        if pmtPID != pmt?.pid {
            if let old = pmt?.pid { continuity.remove(old) }
            pmt = SectionAssembler(pid: pmtPID)
            lastPMT = nil
        }
    }

    private mutating func handlePMT(_ bytes: [UInt8], pid: Int) {
        guard bytes != lastPMT else { return }
        let section: PSISection
        let streams: [(streamType: UInt8, pid: Int)]
        do throws(TSDemuxError) {
            section = try PSISection(parsing: bytes, pid: pid)
            guard section.tableID == 0x02 else {
                throw TSDemuxError.invalidSection(pid: pid, field: "table_id", value: Int(section.tableID))
            }
            streams = try section.pmtStreams(pid: pid)
        } catch {
            events.append(.error(error))
            return
        }
        guard section.isCurrent else { return }
        lastPMT = bytes
        pmtSeen = true
        let usable = streams.filter { $0.pid != MPEGTS.patPID && $0.pid != pid && $0.pid != MPEGTS.nullPID }

        let videoEntry = usable.first { $0.streamType == MPEGTS.streamTypeH264 || $0.streamType == MPEGTS.streamTypeH265 }
        let videoCodec: Codec? = videoEntry.map { $0.streamType == MPEGTS.streamTypeH264 ? .h264 : .h265 }
        if let videoEntry, let videoCodec {
            if video?.pid != videoEntry.pid || video?.codec != videoCodec {
                if let old = video?.pid { continuity.remove(old) }
                video = VideoStream(
                    pid: videoEntry.pid, codec: videoCodec,
                    assembler: PESAssembler(pid: videoEntry.pid, maxSize: maxPESSize))
            }
        } else if let old = video?.pid {
            continuity.remove(old)
            video = nil
        }

        let audioEntry = usable.first { $0.streamType == MPEGTS.streamTypeAAC && $0.pid != videoEntry?.pid }
        if let audioEntry {
            if audio?.pid != audioEntry.pid {
                if let old = audio?.pid { continuity.remove(old) }
                audio = AudioStream(pid: audioEntry.pid, assembler: PESAssembler(pid: audioEntry.pid, maxSize: maxPESSize))
            }
        } else if let old = audio?.pid {
            continuity.remove(old)
            audio = nil
        }
        announceIfReady(force: false)
    }

    // MARK: - Tracks

    private var knownTracks: [TrackInfo] {
        var tracks: [TrackInfo] = []
        if let config = video?.config { tracks.append(TrackInfo(id: Self.videoTrackID, config: config)) }
        if let config = audio?.config { tracks.append(TrackInfo(id: Self.audioTrackID, config: .aac(config))) }
        return tracks
    }

    /// Sends `.tracks` when the known set changed since the last one; before the first one,
    /// only once every PMT stream is configured (or when `force`d), then releases held frames.
    private mutating func announceIfReady(force: Bool) {
        let tracks = knownTracks
        if let announced {
            if tracks != announced {
                events.append(.tracks(tracks))
                self.announced = tracks
            }
            return
        }
        guard !tracks.isEmpty else { return }
        let videoReady = video == nil || video?.config != nil
        let audioReady = audio == nil || audio?.config != nil
        guard force || (pmtSeen && videoReady && audioReady) else { return }
        events.append(.tracks(tracks))
        announced = tracks
        events += held.map { .frame($0) }
        held = []
        heldBytes = 0
    }

    /// A configuration is about to change while frames of the old one may still be held:
    /// announce the old set now, so those frames are not sent under the new one.
    private mutating func announceHeldFramesBeforeAChange() {
        if announced == nil, !held.isEmpty { announceIfReady(force: true) }
    }

    private mutating func deliver(_ frame: MediaFrame) {
        if announced != nil {
            events.append(.frame(frame))
            return
        }
        held.append(frame)
        heldBytes += frame.data.readableBytes
        if heldBytes > maxPESSize {
            announceIfReady(force: true)
        }
    }

    /// Notes media time for the wait limit on the first `.tracks`, and the shared timeline.
    private mutating func noteMediaTime(_ dts: Int64) {
        lastMediaTime = dts
        guard announced == nil else { return }
        guard let first = firstMediaTime else {
            firstMediaTime = dts
            return
        }
        if dts &- first >= Self.trackWaitLimit {
            announceIfReady(force: true)
        }
    }

    /// Unwraps a PES's timestamps against the stream's previous DTS (or, for a stream's
    /// first PES, the program's latest media time).
    private func unwrap(pts rawPTS: Int64, dts rawDTS: Int64, previous: Int64?) -> (pts: Int64, dts: Int64) {
        let dts = (previous ?? lastMediaTime).map { TimestampUnwrapping.unwrap(rawDTS, near: $0) } ?? rawDTS
        let pts = TimestampUnwrapping.unwrap(rawPTS, near: dts)
        return (pts, dts)
    }

    // MARK: - Video

    private mutating func handleVideoOutput(_ output: [PESAssembler.Output]) {
        for item in output {
            switch item {
            case .error(let error):
                events.append(.error(error))
                video?.needsKeyframe = true
            case .pes(let bytes, let wallClock):
                handleVideoPES(bytes, wallClockMicros: wallClock)
            }
        }
    }

    private mutating func handleVideoPES(_ bytes: ByteBuffer, wallClockMicros: Int64) {
        guard let pid = video?.pid, let codec = video?.codec else { return }
        let pes: PESPacket
        do {
            pes = try PESPacket(parsing: bytes, pid: pid)
        } catch {
            events.append(.error(error))
            video?.needsKeyframe = true
            return
        }
        guard let rawPTS = pes.pts else {
            events.append(.error(.missingPTS(pid: pid)))
            video?.needsKeyframe = true
            return
        }
        let time = unwrap(pts: rawPTS, dts: pes.dts ?? rawPTS, previous: video?.lastDTS)
        video?.lastDTS = time.dts

        var kept: [ByteBuffer] = []
        var vps: [[UInt8]] = []
        var sps: [[UInt8]] = []
        var pps: [[UInt8]] = []
        var isKeyframe = false
        var hasPicture = false
        for unit in NALUnits.splitAnnexB(pes.payload) {
            if codec == .h265 {
                guard let type = NALUnits.h265Type(unit) else { continue }
                switch type {
                case H265NALType.vps: vps.append(Array(unit.readableBytesView))
                case H265NALType.sps: sps.append(Array(unit.readableBytesView))
                case H265NALType.pps: pps.append(Array(unit.readableBytesView))
                case H265NALType.accessUnitDelimiter, 38: continue  // 38: FD_NUT (filler)
                default:
                    if H265NALType.irapRange.contains(type) { isKeyframe = true }
                    if type <= 31 { hasPicture = true }  // VCL NAL unit types
                    kept.append(unit)
                }
            } else {
                guard let type = NALUnits.h264Type(unit) else { continue }
                switch type {
                case H264NALType.sps: sps.append(Array(unit.readableBytesView))
                case H264NALType.pps: pps.append(Array(unit.readableBytesView))
                case H264NALType.accessUnitDelimiter, H264NALType.filler: continue
                default:
                    if type == H264NALType.idr { isKeyframe = true }
                    if (1...5).contains(type) { hasPicture = true }  // coded slices
                    kept.append(unit)
                }
            }
        }
        if !vps.isEmpty || !sps.isEmpty || !pps.isEmpty {
            updateParameterSets(vps: vps, sps: sps, pps: pps, pid: pid, codec: codec)
        }
        noteMediaTime(time.dts)

        // A PES without a coded picture (only SEI or parameter sets, say) is no frame.
        guard hasPicture, video?.config != nil, let needsKeyframe = video?.needsKeyframe else { return }
        if needsKeyframe {
            guard isKeyframe else { return }
            video?.needsKeyframe = false
        }
        deliver(
            MediaFrame(
                trackID: Self.videoTrackID, codec: codec, dts: time.dts, pts: time.pts, isKeyframe: isKeyframe,
                data: NALUnits.lengthPrefixed(kept), wallClockMicros: wallClockMicros))
    }

    /// Replaces the stream's parameter sets of each kind present in an access unit and, when
    /// they changed and parse, its configuration (announcing the change).
    private mutating func updateParameterSets(vps: [[UInt8]], sps: [[UInt8]], pps: [[UInt8]], pid: Int, codec: Codec) {
        guard let stream = video else { return }
        let newVPS = vps.isEmpty ? stream.vps : vps
        let newSPS = sps.isEmpty ? stream.sps : sps
        let newPPS = pps.isEmpty ? stream.pps : pps
        guard newVPS != stream.vps || newSPS != stream.sps || newPPS != stream.pps else { return }
        video?.vps = newVPS
        video?.sps = newSPS
        video?.pps = newPPS
        guard !newSPS.isEmpty, !newPPS.isEmpty, codec != .h265 || !newVPS.isEmpty else { return }
        let config: CodecConfig
        do {
            if codec == .h265 {
                config = .h265(try H265Config(vps: newVPS, sps: newSPS, pps: newPPS))
            } else {
                config = .h264(try H264Config(sps: newSPS, pps: newPPS))
            }
        } catch {
            events.append(.error(.invalidParameterSets(pid: pid, reason: String(describing: error))))
            return
        }
        guard config != stream.config else { return }
        if stream.config != nil { announceHeldFramesBeforeAChange() }
        video?.config = config
        announceIfReady(force: false)
    }

    // MARK: - Audio

    private mutating func handleAudioOutput(_ output: [PESAssembler.Output]) {
        for item in output {
            switch item {
            case .error(let error):
                events.append(.error(error))
            case .pes(let bytes, let wallClock):
                handleAudioPES(bytes, wallClockMicros: wallClock)
            }
        }
    }

    private mutating func handleAudioPES(_ bytes: ByteBuffer, wallClockMicros: Int64) {
        guard let pid = audio?.pid else { return }
        let pes: PESPacket
        do {
            pes = try PESPacket(parsing: bytes, pid: pid)
        } catch {
            events.append(.error(error))
            return
        }
        let time: (pts: Int64, dts: Int64)
        if let rawPTS = pes.pts {
            time = unwrap(pts: rawPTS, dts: rawPTS, previous: audio?.lastDTS)
        } else if let next = audio?.nextPTS {
            // A PES may omit its PTS (ISO 13818-1 §2.7.4): it continues the previous one.
            time = (next, next)
        } else {
            events.append(.error(.missingPTS(pid: pid)))
            return
        }
        audio?.lastDTS = time.dts
        noteMediaTime(time.dts)

        var reader = pes.payload
        var index: Int64 = 0
        while reader.readableBytes > 0 {
            let header: ADTSHeader
            do {
                header = try ADTSHeader(parsing: reader)
            } catch {
                events.append(.error(.invalidADTS(pid: pid, reason: String(describing: error))))
                return
            }
            guard let frameBytes = reader.readSlice(length: header.frameLength),
                let frame = frameBytes.getSlice(
                    at: frameBytes.readerIndex + header.headerLength, length: header.frameLength - header.headerLength)
            else {
                events.append(
                    .error(
                        .invalidADTS(
                            pid: pid,
                            reason: "frame length \(header.frameLength) exceeds the \(reader.readableBytes) bytes left in the PES")))
                return
            }
            let config = header.config
            if config != audio?.config {
                if audio?.config != nil { announceHeldFramesBeforeAChange() }
                audio?.config = config
                announceIfReady(force: false)
            }
            let offset = index * 1024 * mediaTimescale / Int64(max(config.sampleRate, 1))
            index += 1
            audio?.nextPTS = time.pts &+ index * 1024 * mediaTimescale / Int64(max(config.sampleRate, 1))
            guard frame.readableBytes > 0 else { continue }
            deliver(
                MediaFrame(
                    trackID: Self.audioTrackID, codec: .aac, dts: time.dts &+ offset, pts: time.pts &+ offset,
                    isKeyframe: true, data: frame, wallClockMicros: wallClockMicros))
        }
    }
}
