import EstuaryMedia
import NIOCore

/// An incremental reader of M4F byte streams (fragmented ISO-BMFF): feed it bytes split
/// anywhere and it returns initialization and fragment events as soon as each box is whole.
///
/// Guarantees:
/// - the same events for any split of the same input;
/// - memory bounded by `maximumBoxSize` (a larger box is an error, never buffered);
/// - damaged input yields an ``M4FError`` event and the reader resynchronises at the next
///   plausible top-level box; after damage, video resumes only at a keyframe.
public struct M4FReader: Sendable {
    /// What the reader found.
    public enum Event: Sendable {
        /// An initialization segment (`moov`) declared these tracks; `raw` is `ftyp`+`moov` as received.
        case initialization(tracks: [TrackInfo], raw: ByteBuffer)
        /// A whole fragment.
        case fragment(M4FFragment)
        /// Damaged or unsupported input; reading continues.
        case error(M4FError)
    }

    static let topLevelTypes: Set<FourCC> = ["ftyp", "moov", "styp", "prft", "moof", "mdat", "emsg", "sidx", "free", "skip", "uuid"]

    public let maximumBoxSize: Int
    private var pending: ByteBuffer
    /// Absolute stream offset of `pending.readerIndex`.
    private var streamOffset: Int64 = 0
    private var tracks: [Int: ParsedTrack] = [:]
    private var lastFtyp: ByteBuffer?
    private var segmentPending = false
    private var prft: (trackID: Int, ntp: UInt64, mediaTime: UInt64)?
    /// The boxes of the fragment in progress before its `mdat` (`styp`, `prft`, `moof`: small), copied.
    private var fragmentHead = ByteBuffer()
    /// Whether `pending` is a buffer this reader allocated (rather than one it was fed, shared with the caller).
    private var pendingIsOwn = false
    private var moof: (offset: Int64, sequence: UInt32, runs: [ParsedRun])?
    private var needsKeyframe = false
    private var resyncSkipped = 0

    public init(maximumBoxSize: Int = 32 << 20) {
        self.maximumBoxSize = maximumBoxSize
        self.pending = ByteBuffer()
    }

    /// The tracks of the last initialization segment.
    public var currentTracks: [TrackInfo] { tracks.values.map(\.info).sorted { $0.id < $1.id } }

    /// Feeds the next bytes; `arrivalMicros` stands in for UTC when a fragment has no `prft`.
    public mutating func feed(_ bytes: ByteBuffer, arrivalMicros: Int64) -> [Event] {
        if pending.readableBytes == 0 {
            pending = bytes
            pendingIsOwn = false
        } else {
            var incoming = bytes
            if !pendingIsOwn || pending.writableBytes < incoming.readableBytes {
                // A box continues: gather it in a buffer of its own, sized for the whole box when its header says how
                // big it is, so its bytes are copied once (growing the buffer feed by feed copied them again at each
                // doubling, and writing into the caller's buffer copied that whole buffer).
                var joined = ByteBufferAllocator().buffer(
                    capacity: max(pending.readableBytes + incoming.readableBytes, declaredSizeOfPendingBox() ?? 0))
                joined.writeImmutableBuffer(pending)
                pending = joined
                pendingIsOwn = true
            }
            pending.writeBuffer(&incoming)
        }
        var events: [Event] = []
        while pending.readableBytes >= 8 {
            let start = pending.readerIndex
            guard let size32 = pending.getInteger(at: start, as: UInt32.self),
                let rawType = pending.getInteger(at: start + 4, as: UInt32.self)
            else { break }
            let type = FourCC(rawValue: rawType)
            var size = UInt64(size32)
            var headerSize = 8
            if size32 == 1 {
                guard let large = pending.getInteger(at: start + 8, as: UInt64.self) else { break }
                size = large
                headerSize = 16
            }
            let plausible =
                Self.topLevelTypes.contains(type) && size >= UInt64(headerSize) && size <= UInt64(maximumBoxSize)
            guard plausible else {
                if resyncSkipped == 0 {
                    if !Self.topLevelTypes.contains(type) {
                        events.append(.error(.malformedBox(type: type.description, reason: "unexpected top-level box")))
                    } else {
                        events.append(.error(.invalidBoxSize(type: type.description, size: size)))
                    }
                }
                skip(1)
                resyncSkipped += 1
                needsKeyframe = true
                // A styp or prft read before the damage belongs to no fragment that follows it.
                resetFragment()
                continue
            }
            guard pending.readableBytes >= Int(size) else { break }
            if resyncSkipped > 0 {
                events.append(.error(.skippedBytes(resyncSkipped)))
                resyncSkipped = 0
            }
            let boxOffset = streamOffset
            guard let box = pending.getSlice(at: start, length: Int(size)),
                let body = pending.getSlice(at: start + headerSize, length: Int(size) - headerSize)
            else { break }
            skip(Int(size))
            handle(
                type: type, box: box, body: body, offset: boxOffset, headerSize: headerSize, arrivalMicros: arrivalMicros, events: &events)
        }
        if pending.readableBytes == 0 {
            // Not `clear()`: `pending` usually shares the caller's buffer, and clearing a shared buffer allocates a new one
            // of the same capacity, which the next `feed` would replace unused.
            pending = ByteBuffer()
        } else if pending.readerIndex > 1 << 16 {
            pending.discardReadBytes()
        }
        return events
    }

    /// The size the box at the start of `pending` declares, when its header is there and passes the checks the
    /// parsing loop makes (a top-level type, a size between its header's and the maximum): garbage never sizes a buffer.
    private func declaredSizeOfPendingBox() -> Int? {
        let start = pending.readerIndex
        guard let size32 = pending.getInteger(at: start, as: UInt32.self),
            let rawType = pending.getInteger(at: start + 4, as: UInt32.self),
            Self.topLevelTypes.contains(FourCC(rawValue: rawType))
        else { return nil }
        var size = UInt64(size32)
        var headerSize: UInt64 = 8
        if size32 == 1 {
            guard let large = pending.getInteger(at: start + 8, as: UInt64.self) else { return nil }
            size = large
            headerSize = 16
        }
        guard size >= headerSize, size <= UInt64(maximumBoxSize) else { return nil }
        return Int(size)
    }

    private mutating func skip(_ count: Int) {
        pending.moveReaderIndex(forwardBy: count)
        streamOffset += Int64(count)
    }

    private mutating func handle(
        type: FourCC, box: ByteBuffer, body: ByteBuffer, offset: Int64, headerSize: Int, arrivalMicros: Int64, events: inout [Event]
    ) {
        switch type {
        case "ftyp":
            lastFtyp = box
        case "moov":
            do {
                let parsed = try InitSegmentParser.parse(moov: body)
                tracks = Dictionary(parsed.map { ($0.info.id, $0) }, uniquingKeysWith: { first, _ in first })
                var raw = lastFtyp ?? ByteBuffer()
                raw.writeImmutableBuffer(box)
                lastFtyp = nil
                needsKeyframe = tracks.values.contains { $0.info.codec.isVideo }
                events.append(.initialization(tracks: currentTracks, raw: raw))
            } catch {
                events.append(.error(error))
            }
        case "styp":
            segmentPending = true
            fragmentHead.writeImmutableBuffer(box)
        case "prft":
            var reader = body
            if let (version, _) = try? reader.readVersionAndFlags("prft"),
                let trackID = reader.readInteger(as: UInt32.self),
                let ntp = reader.readInteger(as: UInt64.self)
            {
                let media = version == 1 ? reader.readInteger(as: UInt64.self) : reader.readInteger(as: UInt32.self).map(UInt64.init)
                if let media { prft = (Int(trackID), ntp, media) }
            }
            fragmentHead.writeImmutableBuffer(box)
        case "moof":
            guard !tracks.isEmpty else {
                events.append(.error(.fragmentBeforeInitialization))
                resetFragment()
                return
            }
            do {
                let parsed = try MovieFragmentParser.parse(moof: body, tracks: tracks)
                moof = (offset, parsed.sequenceNumber, parsed.runs)
                fragmentHead.writeImmutableBuffer(box)
            } catch {
                events.append(.error(error))
                needsKeyframe = true
                resetFragment()
            }
        case "mdat":
            guard let current = moof else {
                resetFragment()
                return
            }
            // One copy, into a buffer of the fragment's exact size: growing one box by box copied the media again at
            // each doubling, and the power-of-two sizes it reached cost fresh pages from the kernel.
            var raw = ByteBufferAllocator().buffer(capacity: fragmentHead.readableBytes + box.readableBytes)
            raw.writeImmutableBuffer(fragmentHead)
            raw.writeImmutableBuffer(box)
            fragmentHead.clear()
            // The frames share the fragment's own bytes (which it keeps anyway, for `raw`), not the received
            // buffers: those are free again as soon as they are parsed, and the socket's allocator reuses them.
            let payload = raw.getSlice(at: raw.writerIndex - body.readableBytes, length: body.readableBytes) ?? body
            let payloadOffset = offset + Int64(headerSize)
            do {
                let fragment = try buildFragment(
                    current, raw: raw, mdat: payload, payloadOffset: payloadOffset, arrivalMicros: arrivalMicros)
                if let fragment { events.append(.fragment(fragment)) }
            } catch {
                events.append(.error(error))
                needsKeyframe = true
            }
            resetFragment()
        default:
            break
        }
    }

    private mutating func resetFragment() {
        moof = nil
        prft = nil
        segmentPending = false
        fragmentHead.clear()
    }

    private mutating func buildFragment(
        _ moof: (offset: Int64, sequence: UInt32, runs: [ParsedRun]), raw: ByteBuffer, mdat: ByteBuffer, payloadOffset: Int64,
        arrivalMicros: Int64
    ) throws(M4FError) -> M4FFragment? {
        var frames: [MediaFrame] = []
        var referenceDuration: Int64?
        var utcBase = arrivalMicros
        var utcMedia90k: Int64?
        if let prft, let track = tracks[prft.trackID] {
            utcBase = NTPTime.unixMicros(fromNTP: prft.ntp)
            utcMedia90k = Self.to90k(Int64(clamping: prft.mediaTime), timescale: track.timescale)
        }
        for run in moof.runs {
            guard let track = tracks[run.trackID] else { throw .unknownTrack(run.trackID) }
            var position = moof.offset + run.dataOffset
            var dts = run.baseDecodeTime
            for sample in run.samples {
                let start = position - payloadOffset
                guard start >= 0, start + Int64(sample.size) <= Int64(mdat.readableBytes),
                    var data = mdat.getSlice(at: mdat.readerIndex + Int(start), length: Int(sample.size))
                else { throw .sampleOutsideMediaData(track: run.trackID, offset: position, size: Int(sample.size)) }
                if track.info.codec.isVideo, track.nalLengthSize != 4 {
                    data = Self.convertToFourByteLengths(data, lengthSize: track.nalLengthSize)
                }
                // Timestamps wrap instead of trapping: a damaged tfdt or prft may hold any value.
                let dts90k = Self.to90k(dts, timescale: track.timescale)
                let pts90k = Self.to90k(dts &+ Int64(sample.compositionOffset), timescale: track.timescale)
                let isKeyframe = track.info.codec.isVideo ? sample.flags & 0x0001_0000 == 0 : true
                let offset = dts90k &- (utcMedia90k ?? dts90k)
                let wallClock =
                    utcBase &+ (offset / mediaTimescale) &* 1_000_000 &+ (offset % mediaTimescale) * 1_000_000 / mediaTimescale
                frames.append(
                    MediaFrame(
                        trackID: run.trackID, codec: track.info.codec, dts: dts90k, pts: pts90k, isKeyframe: isKeyframe, data: data,
                        wallClockMicros: wallClock))
                position += Int64(sample.size)
                dts &+= Int64(sample.duration)
            }
            if referenceDuration == nil {
                referenceDuration = Self.to90k(dts &- run.baseDecodeTime, timescale: track.timescale)
            }
        }
        frames.sort { $0.dts < $1.dts }
        if needsKeyframe {
            guard let firstVideo = frames.firstIndex(where: { $0.codec.isVideo && $0.isKeyframe }) else {
                if !frames.contains(where: { $0.codec.isVideo }) {
                    return fragmentValue(moof, raw, frames, utcBase, referenceDuration ?? 0)
                }
                return nil
            }
            let keyframeDTS = frames[firstVideo].dts
            frames.removeAll { $0.codec.isVideo && $0.dts < keyframeDTS }
            needsKeyframe = false
        }
        return fragmentValue(moof, raw, frames, utcBase, referenceDuration ?? 0)
    }

    private func fragmentValue(
        _ moof: (offset: Int64, sequence: UInt32, runs: [ParsedRun]), _ raw: ByteBuffer, _ frames: [MediaFrame], _ utc: Int64,
        _ duration: Int64
    )
        -> M4FFragment
    {
        M4FFragment(
            startsSegment: segmentPending, sequenceNumber: moof.sequence, wallClockMicros: frames.first?.wallClockMicros ?? utc,
            frames: frames, raw: raw, duration: duration)
    }

    /// `value` (in `timescale` units) on the 90 kHz timeline, rounded toward zero; exact
    /// wherever the result fits, wrapping (never trapping) where it does not.
    static func to90k(_ value: Int64, timescale: UInt32) -> Int64 {
        guard timescale != 90_000 else { return value }
        let scale = Int64(timescale)
        let (product, overflow) = value.multipliedReportingOverflow(by: mediaTimescale)
        if !overflow { return product / scale }
        return (value / scale) &* mediaTimescale &+ (value % scale) * mediaTimescale / scale
    }

    private static func convertToFourByteLengths(_ data: ByteBuffer, lengthSize: Int) -> ByteBuffer {
        var input = data
        var out = ByteBuffer()
        out.reserveCapacity(data.readableBytes + 16)
        while input.readableBytes >= lengthSize {
            var length = 0
            for _ in 0..<lengthSize { length = length << 8 | Int(input.readInteger(as: UInt8.self) ?? 0) }
            guard let unit = input.readSlice(length: min(length, input.readableBytes)) else { break }
            out.writeInteger(UInt32(unit.readableBytes))
            out.writeImmutableBuffer(unit)
        }
        return out
    }
}
