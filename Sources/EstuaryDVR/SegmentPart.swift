import NIOCore

/// A piece of a stored segment file as ``StreamArchive/segmentLayout(_:)`` hands it out: boxes read into memory
/// (everything but media payloads: `styp`, `prft`, `moof`, markers, and each `mdat`'s header), or a range of the
/// file holding an `mdat` payload, to be sent without being read (`sendfile`).
///
/// Guarantees: the parts of one segment, in order, are exactly the file's bytes; each `.boxes` part holds whole
/// boxes, so a rewrite of its times (``ExportTimeline``) sees every field it needs.
public enum SegmentPart: Sendable, Equatable {
    case boxes(ByteBuffer)
    case file(offset: Int, length: Int)

    /// The part's size in bytes.
    public var length: Int {
        switch self {
        case .boxes(let bytes): bytes.readableBytes
        case .file(_, let length): length
        }
    }
}
