import NIOCore

/// Reads an archive M4F stream (``ArchiveMarker`` before each segment) incrementally, in any split, and
/// yields init segments and whole segments with their markers.
///
/// Guarantees: a segment is yielded only when the next marker, init or the end of input closes it; bytes
/// after the last complete box at the end are reported as ``Event/truncated(_:)``, never as a segment.
/// A segment's bytes are slices of the buffers fed in (no byte of a media box is copied), and only the
/// boxes it needs are kept: memory stays at one segment plus one box header, whatever the body's length.
public struct ArchiveImporter: Sendable {
    /// What the stream held.
    public enum Event: Sendable {
        /// `ftyp`+`moov`: the init segment for the segments after it.
        case initialization(ByteBuffer)
        /// A segment's marker and bytes, in order (slices of the input, not aligned to boxes).
        case segment(ArchiveMarker, [ByteBuffer])
        /// The input ended inside a segment or box: `detail` says where.
        case truncated(String)
    }

    /// The box being read: its type, the bytes still to come, and its bytes so far when they are kept.
    private struct OpenBox {
        var type: String
        var remaining: Int
        var parts: [ByteBuffer]
        var keep: Bool
    }

    /// The largest box accepted.
    public let maximumBoxSize: Int
    /// Bytes of the next box's header read so far (at most 16).
    private var header = ByteBuffer()
    private var box: OpenBox?
    /// Bytes consumed so far, to name offsets in errors.
    private var offset = 0
    private var pendingInit: ByteBuffer?
    private var current: (marker: ArchiveMarker, boxes: [ByteBuffer])?

    public init(maximumBoxSize: Int = 256 << 20) {
        self.maximumBoxSize = maximumBoxSize
    }

    /// Adds bytes; returns the events they completed.
    public mutating func feed(_ bytes: ByteBuffer) throws(DVRError) -> [Event] {
        var bytes = bytes
        var events: [Event] = []
        while bytes.readableBytes > 0 {
            if var open = box {
                let count = min(open.remaining, bytes.readableBytes)
                let slice = bytes.readSlice(length: count)!
                if open.keep { open.parts.append(slice) }
                open.remaining -= count
                offset += count
                if open.remaining > 0 {
                    box = open
                } else {
                    box = nil
                    try close(open, into: &events)
                }
                continue
            }
            // A header: 8 bytes, or 16 when the 32-bit size is 1 (a 64-bit size follows the type).
            let needed = header.readableBytes >= 4 && header.getInteger(at: header.readerIndex, as: UInt32.self) == 1 ? 16 : 8
            var take = bytes.readSlice(length: min(needed - header.readableBytes, bytes.readableBytes))!
            header.writeBuffer(&take)
            guard header.readableBytes == needed else { continue }
            if needed == 8 && header.getInteger(at: header.readerIndex, as: UInt32.self) == 1 { continue }
            try open(&events)
        }
        return events
    }

    /// Ends the input: the segment in progress is yielded (its sha256 decides whether it was whole).
    public mutating func finish() -> [Event] {
        var events: [Event] = []
        if let segment = closeSegment() { events.append(segment) }
        if let box {
            events.append(.truncated("box '\(box.type)' ends \(box.remaining) bytes short at offset \(offset)"))
        } else if header.readableBytes > 0 {
            events.append(.truncated("\(header.readableBytes) bytes of an incomplete box header at the end"))
        }
        return events
    }

    /// Starts the box whose header is complete.
    private mutating func open(_ events: inout [Event]) throws(DVRError) {
        let size32 = header.getInteger(at: header.readerIndex, as: UInt32.self)!
        let type = header.getString(at: header.readerIndex + 4, length: 4) ?? "????"
        let size = size32 == 1 ? Int(clamping: header.getInteger(at: header.readerIndex + 8, as: UInt64.self)!) : Int(size32)
        guard size >= header.readableBytes, size <= maximumBoxSize else {
            throw .malformedImport("box '\(type)' of \(size) bytes at offset \(offset)")
        }
        let inspected = type == "ftyp" || type == "moov" || type == "skip"
        let opened = OpenBox(type: type, remaining: size - header.readableBytes, parts: [header], keep: inspected || current != nil)
        offset += header.readableBytes
        header = ByteBuffer()
        if opened.remaining > 0 {
            box = opened
        } else {
            try close(opened, into: &events)
        }
    }

    /// Acts on a box whose bytes have all arrived.
    private mutating func close(_ box: OpenBox, into events: inout [Event]) throws(DVRError) {
        guard box.keep else { return }
        switch box.type {
        case "ftyp":
            if let segment = closeSegment() { events.append(segment) }
            pendingInit = Self.joined(box.parts)
        case "moov":
            guard var initBytes = pendingInit else { throw .malformedImport("moov without ftyp at offset \(offset)") }
            var moov = Self.joined(box.parts)
            initBytes.writeBuffer(&moov)
            pendingInit = nil
            events.append(.initialization(initBytes))
        case "skip":
            var payload = Self.joined(box.parts)
            payload.moveReaderIndex(forwardBy: 8)
            if let marker = ArchiveMarker(payload: payload) {
                if let segment = closeSegment() { events.append(segment) }
                current = (marker, [])
            } else if current != nil {
                current!.boxes += box.parts
            }
        default:
            if current != nil { current!.boxes += box.parts }
        }
    }

    private static func joined(_ parts: [ByteBuffer]) -> ByteBuffer {
        if parts.count == 1 { return parts[0] }
        var joined = ByteBuffer()
        joined.reserveCapacity(parts.reduce(0) { $0 + $1.readableBytes })
        for var part in parts { joined.writeBuffer(&part) }
        return joined
    }

    private mutating func closeSegment() -> Event? {
        guard let current else { return nil }
        self.current = nil
        return .segment(current.marker, current.boxes)
    }
}
