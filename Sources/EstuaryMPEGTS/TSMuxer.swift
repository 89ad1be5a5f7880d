import EstuaryMedia
import NIOCore

/// Writes ``MediaFrame``s as an MPEG-TS byte stream of 188-byte packets (one program).
///
/// Guarantees:
/// - PIDs are fixed: PAT 0x0000, PMT ``pmtPID``, video ``videoPID``, audio ``audioPID``;
///   the PMT lists the first video track (H.264 0x1B / H.265 0x24) and the first AAC track (0x0F).
/// - Every PID has its own continuity counter, incremented on each packet with payload.
/// - PAT and PMT are written before the first frame and before every video keyframe (and,
///   for audio-only streams, about once a second), so a reader can join at any keyframe.
/// - Video goes out as Annex B with an access unit delimiter first and the parameter sets
///   (VPS,) SPS, PPS before every keyframe; one PES per frame, stream_id 0xE0, PTS and DTS
///   (DTS omitted when equal to PTS), PES_packet_length 0 when it would not fit 16 bits.
/// - Audio goes out one PES per frame, stream_id 0xC0, each frame behind its own ADTS header.
/// - The PCR is on the video PID (the audio PID without video). Its value is the DTS of the
///   frame it goes out with minus ``pcrDelay``, held up to the previous PCR so it never
///   decreases, and never past that frame's DTS. It is in the first packet of every video PES
///   (so of every keyframe; skipped only if the clamp would put it past the DTS, i.e. audio ran
///   more than ``pcrDelay`` ahead of video) and of every audio PES without video. With video,
///   audio frames add PCR-only packets (adaptation field, no payload) before the first video
///   frame and whenever the PCR would otherwise fall more than ``maxPCRInterval`` behind, so
///   the PCR interval stays within 100 ms as long as audio or video frames come that often.
/// - The first packet of a video keyframe (of every audio frame, without video) has
///   random_access_indicator set.
/// - Timestamps are written modulo 2^33, so they wrap as the format requires.
/// - Frames of tracks not given to the muxer are ignored; nothing it is given makes it trap.
public struct TSMuxer: Sendable {
    /// PID of the program map table.
    public static let pmtPID = 0x1000
    /// PID of the video elementary stream.
    public static let videoPID = 0x100
    /// PID of the audio elementary stream.
    public static let audioPID = 0x101
    /// How far (90 kHz ticks) the PCR runs behind the DTS it is written with (100 ms).
    public static let pcrDelay: Int64 = 9_000
    /// The longest PCR gap (90 kHz ticks) the muxer lets audio frames open up (100 ms).
    public static let maxPCRInterval: Int64 = 9_000

    private static let programNumber = 1
    private static let transportStreamID = 1
    private static let maxADTSPayload = 0x1FFF - 7

    /// The tracks being muxed, as given.
    public private(set) var tracks: [TrackInfo]
    private var videoTrack: TrackInfo?
    private var audioTrack: TrackInfo?
    private var counters: [Int: UInt8] = [:]
    private var pmtVersion = 0
    private var lastPCR: Int64?
    private var tablesWritten = false
    private var lastTablesDTS: Int64?

    /// Creates a muxer for `tracks`; the first video and the first AAC track are muxed.
    public init(tracks: [TrackInfo]) {
        self.tracks = tracks
        videoTrack = tracks.first { $0.codec.isVideo }
        audioTrack = tracks.first { $0.codec == .aac }
    }

    /// Replaces the tracks (for example after a parameter-set change), keeping continuity
    /// counters and PCR. The PMT version is bumped when the listed streams change, and the
    /// tables are written again before the next frame.
    public mutating func setTracks(_ tracks: [TrackInfo]) {
        let oldTypes = streamEntries.map(\.streamType)
        self.tracks = tracks
        videoTrack = tracks.first { $0.codec.isVideo }
        audioTrack = tracks.first { $0.codec == .aac }
        if streamEntries.map(\.streamType) != oldTypes {
            pmtVersion = (pmtVersion + 1) & 0x1F
        }
        tablesWritten = false
    }

    private var pcrPID: Int { videoTrack != nil ? Self.videoPID : Self.audioPID }

    private var streamEntries: [(streamType: UInt8, pid: Int)] {
        var entries: [(streamType: UInt8, pid: Int)] = []
        if let videoTrack {
            entries.append((videoTrack.codec == .h265 ? MPEGTS.streamTypeH265 : MPEGTS.streamTypeH264, Self.videoPID))
        }
        if audioTrack != nil { entries.append((MPEGTS.streamTypeAAC, Self.audioPID)) }
        return entries
    }

    // MARK: - Tables

    /// Writes one PAT and one PMT packet (each section with its CRC-32).
    public mutating func writeTables(into out: inout ByteBuffer) {
        var pat: [UInt8] = [
            0x00, 0, 0,
            UInt8(Self.transportStreamID >> 8), UInt8(Self.transportStreamID & 0xFF),
            0xC1, 0x00, 0x00,
            UInt8(Self.programNumber >> 8), UInt8(Self.programNumber & 0xFF),
            UInt8(0xE0 | Self.pmtPID >> 8), UInt8(Self.pmtPID & 0xFF),
        ]
        Self.finishSection(&pat)
        writeSectionPacket(pat, pid: MPEGTS.patPID, into: &out)

        var pmt: [UInt8] = [
            0x02, 0, 0,
            UInt8(Self.programNumber >> 8), UInt8(Self.programNumber & 0xFF),
            UInt8(0xC1 | (pmtVersion & 0x1F) << 1), 0x00, 0x00,
            UInt8(0xE0 | pcrPID >> 8), UInt8(pcrPID & 0xFF),
            0xF0, 0x00,
        ]
        for entry in streamEntries {
            pmt += [entry.streamType, UInt8(0xE0 | entry.pid >> 8), UInt8(entry.pid & 0xFF), 0xF0, 0x00]
        }
        Self.finishSection(&pmt)
        writeSectionPacket(pmt, pid: Self.pmtPID, into: &out)
        tablesWritten = true
    }

    /// Fills in section_length (syntax indicator set) and appends the CRC-32.
    private static func finishSection(_ section: inout [UInt8]) {
        let length = section.count - 3 + 4
        section[1] = UInt8(0xB0 | (length >> 8) & 0x0F)
        section[2] = UInt8(length & 0xFF)
        let crc = MPEGTSCRC32.checksum(of: section)
        section += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)]
    }

    private mutating func writeSectionPacket(_ section: [UInt8], pid: Int, into out: inout ByteBuffer) {
        let start = out.writerIndex
        writeHeader(pid: pid, unitStart: true, adaptation: false, payload: true, into: &out)
        out.writeInteger(UInt8(0))  // pointer_field
        out.writeBytes(section.prefix(MPEGTS.packetSize - 5))
        let used = out.writerIndex - start
        if used < MPEGTS.packetSize {
            out.writeRepeatingByte(0xFF, count: MPEGTS.packetSize - used)
        }
    }

    // MARK: - Frames

    /// Writes one frame as a PES in whole 188-byte packets (preceded by PAT/PMT when due).
    ///
    /// A video payload whose length prefixes run past its end is written up to the last
    /// whole NAL unit; an AAC frame too long for ADTS (over 8184 bytes) is skipped.
    public mutating func write(_ frame: MediaFrame, into out: inout ByteBuffer) {
        if let videoTrack, frame.trackID == videoTrack.id, frame.codec == videoTrack.codec {
            writeVideo(frame, config: videoTrack.config, into: &out)
        } else if let audioTrack, frame.trackID == audioTrack.id, frame.codec == .aac,
            case .aac(let config) = audioTrack.config
        {
            writeAudio(frame, config: config, into: &out)
        }
    }

    private mutating func writeVideo(_ frame: MediaFrame, config: CodecConfig, into out: inout ByteBuffer) {
        if frame.isKeyframe || !tablesWritten {
            writeTables(into: &out)
        }
        var es = ByteBufferAllocator().buffer(capacity: frame.data.readableBytes + 256)
        switch config {
        case .h264(let h264):
            es.writeBytes([0, 0, 0, 1, 0x09, 0xF0])
            if frame.isKeyframe { NALUnits.writeAnnexB(h264.sps + h264.pps, into: &es) }
        case .h265(let h265):
            es.writeBytes([0, 0, 0, 1, 0x46, 0x01, 0x50])
            if frame.isKeyframe { NALUnits.writeAnnexB(h265.vps + h265.sps + h265.pps, into: &es) }
        case .aac:
            return
        }
        var reader = frame.data
        while let length = reader.readInteger(as: UInt32.self), let unit = reader.readSlice(length: Int(length)) {
            es.writeInteger(UInt32(1))
            es.writeImmutableBuffer(unit)
        }

        var pes = ByteBufferAllocator().buffer(capacity: es.readableBytes + 19)
        let hasDTS = frame.dts != frame.pts
        let headerDataLength = hasDTS ? 10 : 5
        let pesLength = 3 + headerDataLength + es.readableBytes
        pes.writeBytes([0, 0, 1, 0xE0])
        pes.writeInteger(UInt16(pesLength <= 0xFFFF ? pesLength : 0))
        pes.writeBytes([0x84, hasDTS ? 0xC0 : 0x80, UInt8(headerDataLength)])
        Self.writeTimestamp(frame.pts, prefix: hasDTS ? 0x3 : 0x2, into: &pes)
        if hasDTS { Self.writeTimestamp(frame.dts, prefix: 0x1, into: &pes) }
        pes.writeImmutableBuffer(es)

        let pcr = nextPCR(for: frame.dts)
        packetize(pes, pid: Self.videoPID, pcr: pcr, randomAccess: frame.isKeyframe, into: &out)
    }

    private mutating func writeAudio(_ frame: MediaFrame, config: AACConfig, into out: inout ByteBuffer) {
        let payloadLength = frame.data.readableBytes
        guard payloadLength <= Self.maxADTSPayload else { return }
        if videoTrack == nil {
            let due =
                !tablesWritten
                || lastTablesDTS.map { frame.dts &- $0 >= mediaTimescale || frame.dts &- $0 < 0 } ?? false
            if due { writeTables(into: &out) }
            if due || lastTablesDTS == nil { lastTablesDTS = frame.dts }
        } else if !tablesWritten {
            writeTables(into: &out)
        }

        var pcr: Int64?
        if videoTrack == nil {
            pcr = nextPCR(for: frame.dts)
        } else if let lastPCR {
            if frame.dts &- Self.pcrDelay &- lastPCR > Self.maxPCRInterval {
                writePCROnly(lastPCR &+ Self.maxPCRInterval, into: &out)
            }
        } else {
            // Audio before the first video frame: start the clock from audio.
            writePCROnly(frame.dts &- Self.pcrDelay, into: &out)
        }

        var pes = ByteBufferAllocator().buffer(capacity: payloadLength + 21)
        pes.writeBytes([0, 0, 1, 0xC0])
        pes.writeInteger(UInt16(3 + 5 + 7 + payloadLength))
        pes.writeBytes([0x84, 0x80, 0x05])
        Self.writeTimestamp(frame.pts, prefix: 0x2, into: &pes)
        let objectType = (1...4).contains(config.objectType) ? config.objectType : 2
        ADTSHeader.write(
            objectType: objectType, samplingFrequencyIndex: config.samplingFrequencyIndex,
            channelConfiguration: config.channels, payloadLength: payloadLength, into: &pes)
        pes.writeImmutableBuffer(frame.data)
        packetize(pes, pid: Self.audioPID, pcr: pcr, randomAccess: videoTrack == nil, into: &out)
    }

    /// The PCR to write with a frame of `dts`, or nil if it would pass that DTS.
    private mutating func nextPCR(for dts: Int64) -> Int64? {
        let candidate = max(dts &- Self.pcrDelay, lastPCR ?? Int64.min)
        guard candidate <= dts else { return nil }
        lastPCR = candidate
        return candidate
    }

    // MARK: - Packets

    private mutating func nextCounter(_ pid: Int) -> UInt8 {
        let counter = counters[pid] ?? 0
        counters[pid] = (counter + 1) & 0x0F
        return counter
    }

    private mutating func writeHeader(pid: Int, unitStart: Bool, adaptation: Bool, payload: Bool, into out: inout ByteBuffer) {
        out.writeInteger(MPEGTS.syncByte)
        out.writeInteger(UInt8((unitStart ? 0x40 : 0) | (pid >> 8) & 0x1F))
        out.writeInteger(UInt8(pid & 0xFF))
        let control = (adaptation ? 0x20 : 0) | (payload ? 0x10 : 0)
        let counter = payload ? nextCounter(pid) : ((counters[pid] ?? 0) &+ 15) & 0x0F
        out.writeInteger(UInt8(control) | counter)
    }

    /// Writes a packet with only an adaptation field carrying `pcr` on the PCR PID.
    private mutating func writePCROnly(_ pcr: Int64, into out: inout ByteBuffer) {
        lastPCR = pcr
        writeHeader(pid: pcrPID, unitStart: false, adaptation: true, payload: false, into: &out)
        out.writeInteger(UInt8(183))
        out.writeInteger(UInt8(0x10))
        Self.writePCR(pcr, into: &out)
        out.writeRepeatingByte(0xFF, count: 183 - 7)
    }

    /// Splits a PES into packets; the first carries PCR / random_access_indicator if given,
    /// the last is padded with adaptation-field stuffing.
    private mutating func packetize(_ pes: ByteBuffer, pid: Int, pcr: Int64?, randomAccess: Bool, into out: inout ByteBuffer) {
        var remaining = pes
        var first = true
        while remaining.readableBytes > 0 {
            let flagged = first && (pcr != nil || randomAccess)
            let pcrBytes = first && pcr != nil ? 6 : 0
            var adaptationLength = flagged ? 2 + pcrBytes : 0
            let chunk = min(remaining.readableBytes, 184 - adaptationLength)
            adaptationLength += 184 - adaptationLength - chunk
            writeHeader(pid: pid, unitStart: first, adaptation: adaptationLength > 0, payload: true, into: &out)
            if adaptationLength > 0 {
                out.writeInteger(UInt8(adaptationLength - 1))
                if adaptationLength > 1 {
                    var flags: UInt8 = 0
                    if flagged && randomAccess { flags |= 0x40 }
                    if pcrBytes > 0 { flags |= 0x10 }
                    out.writeInteger(flags)
                    if pcrBytes > 0, let pcr { Self.writePCR(pcr, into: &out) }
                    out.writeRepeatingByte(0xFF, count: adaptationLength - 2 - pcrBytes)
                }
            }
            if let slice = remaining.readSlice(length: chunk) {
                out.writeImmutableBuffer(slice)
            }
            first = false
        }
    }

    /// Writes a 5-byte PTS/DTS field with the 4-bit `prefix`, modulo 2^33.
    static func writeTimestamp(_ value: Int64, prefix: UInt8, into out: inout ByteBuffer) {
        let v = value & (MPEGTS.timestampModulus - 1)
        out.writeInteger(UInt8(prefix << 4) | UInt8((v >> 29) & 0x0E) | 1)
        out.writeInteger(UInt8((v >> 22) & 0xFF))
        out.writeInteger(UInt8((v >> 14) & 0xFE) | 1)
        out.writeInteger(UInt8((v >> 7) & 0xFF))
        out.writeInteger(UInt8((v << 1) & 0xFE) | 1)
    }

    /// Writes a 6-byte PCR (33-bit base modulo 2^33, extension 0).
    static func writePCR(_ value: Int64, into out: inout ByteBuffer) {
        let base = value & (MPEGTS.timestampModulus - 1)
        out.writeInteger(UInt8((base >> 25) & 0xFF))
        out.writeInteger(UInt8((base >> 17) & 0xFF))
        out.writeInteger(UInt8((base >> 9) & 0xFF))
        out.writeInteger(UInt8((base >> 1) & 0xFF))
        out.writeInteger(UInt8((base & 1) << 7) | 0x7E)
        out.writeInteger(UInt8(0))
    }
}
