/// A stored segment as an export sends it (``StreamArchive/segmentLayout(_:)``): its parts (boxes in memory, media
/// payloads left in the file), and its packing for an `.mp4` export, worked out once when the layout is read.
///
/// Guarantees: `parts` are exactly the file's bytes, in order (empty only in the ``kept`` form of a packed segment);
/// `packed` is nil exactly when ``PackedExportSegment/init(_:segmentBytes:)`` refuses the segment.
public struct SegmentLayout: Sendable, Equatable {
    public let parts: [SegmentPart]
    public let packed: PackedExportSegment?
    /// The file the layout was read from (``StreamArchive/path(of:)``).
    public let path: String

    /// The layout of the segment file at `path`, of `bytes` bytes made of `parts`.
    public init(parts: [SegmentPart], bytes: Int, path: String) {
        self.parts = parts
        self.packed = PackedExportSegment(parts, segmentBytes: bytes)
        self.path = path
    }

    private init(packed: PackedExportSegment, path: String) {
        self.parts = []
        self.packed = packed
        self.path = path
    }

    /// What the archive keeps in memory (``StreamArchive/cachedSegmentLayout(_:)``): a packed segment's export needs
    /// only its packing, so its parts (boxes and small media payloads, tens of kilobytes) are left out and ``parts`` is
    /// empty; another segment is kept whole.
    public var kept: SegmentLayout {
        guard let packed else { return self }
        return SegmentLayout(packed: packed, path: path)
    }
}
