import NIOCore

/// Reads an archive M4F stream (``ArchiveMarker`` before each segment) incrementally, in any split, and
/// yields init segments and whole segments with their markers.
///
/// Guarantees: a segment is yielded only when the next marker, init or the end of input closes it; bytes
/// after the last complete box at the end are reported as ``Event/truncated(_:)``, never as a segment.
public struct ArchiveImporter: Sendable {
    /// What the stream held.
    public enum Event: Sendable {
        /// `ftyp`+`moov`: the init segment for the segments after it.
        case initialization(ByteBuffer)
        /// A segment's marker and bytes.
        case segment(ArchiveMarker, [ByteBuffer])
        /// The input ended inside a segment or box: `detail` says where.
        case truncated(String)
    }

    /// The largest box accepted.
    public let maximumBoxSize: Int
    private var buffer = ByteBuffer()
    private var pendingInit: ByteBuffer?
    private var current: (marker: ArchiveMarker, boxes: [ByteBuffer])?

    public init(maximumBoxSize: Int = 256 << 20) {
        self.maximumBoxSize = maximumBoxSize
    }

    /// Adds bytes; returns the events they completed.
    public mutating func feed(_ bytes: ByteBuffer) throws(DVRError) -> [Event] {
        if buffer.readableBytes == 0 {
            buffer = bytes
        } else {
            var bytes = bytes
            buffer.writeBuffer(&bytes)
        }
        var events: [Event] = []
        while let (type, box) = try nextBox() {
            switch type {
            case "ftyp":
                if let segment = closeSegment() { events.append(segment) }
                pendingInit = box
            case "moov":
                guard var initBytes = pendingInit else { throw .malformedImport("moov without ftyp") }
                var box = box
                initBytes.writeBuffer(&box)
                pendingInit = nil
                events.append(.initialization(initBytes))
            case "skip":
                var payload = box
                payload.moveReaderIndex(forwardBy: 8)
                if let marker = ArchiveMarker(payload: payload) {
                    if let segment = closeSegment() { events.append(segment) }
                    current = (marker, [])
                }
            default:
                guard current != nil else { continue }
                current!.boxes.append(box)
            }
        }
        // Boxes are slices of `buffer`: start a new one instead of moving bytes under them.
        if buffer.readableBytes == 0 { buffer = ByteBuffer() }
        return events
    }

    /// Ends the input: the segment in progress is yielded (its sha256 decides whether it was whole).
    public mutating func finish() -> [Event] {
        var events: [Event] = []
        if let segment = closeSegment() { events.append(segment) }
        if buffer.readableBytes > 0 { events.append(.truncated("\(buffer.readableBytes) bytes of an incomplete box at the end")) }
        return events
    }

    private mutating func closeSegment() -> Event? {
        guard let current else { return nil }
        self.current = nil
        return .segment(current.marker, current.boxes)
    }

    private mutating func nextBox() throws(DVRError) -> (String, ByteBuffer)? {
        guard buffer.readableBytes >= 8, let size32 = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
            let type = buffer.getString(at: buffer.readerIndex + 4, length: 4)
        else { return nil }
        var size = Int(size32)
        if size32 == 1 {
            guard buffer.readableBytes >= 16, let large = buffer.getInteger(at: buffer.readerIndex + 8, as: UInt64.self) else { return nil }
            size = Int(clamping: large)
        }
        guard size >= 8, size <= maximumBoxSize else {
            throw .malformedImport("box '\(type)' of \(size) bytes at offset \(buffer.readerIndex)")
        }
        guard buffer.readableBytes >= size, let box = buffer.readSlice(length: size) else { return nil }
        return (type, box)
    }
}
