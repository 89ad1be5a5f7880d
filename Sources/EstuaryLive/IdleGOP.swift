import EstuaryMedia
import NIOCore

/// The current GOP of a stream whose M4F nobody needs packaged (no reader, no recorder tap, no HLS): its
/// frames since the last video keyframe, with the upstream fragment boundaries among them. A reader joining
/// then starts with this GOP, packaged only when it joins, exactly as it would have started with the hub's
/// GOP cache.
///
/// Guarantees: the first frame kept is a video keyframe (frames before the first keyframe are not kept); at most
/// ``maximumBytes`` of frame data (a GOP larger than that is dropped and the next keyframe starts again, as the
/// hub's cache does); the frames are shared with the source, not copied.
struct IdleGOP: Sendable {
    /// A kept frame, or the end of an upstream fragment (where the packager is flushed when the GOP is replayed).
    enum Entry: Sendable {
        case frame(MediaFrame)
        case boundary
    }

    /// The most frame data kept.
    let maximumBytes: Int
    private(set) var entries: [Entry] = []
    private var bytes = 0

    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    /// Keeps a frame: a video keyframe starts the GOP over.
    mutating func add(_ frame: MediaFrame) {
        if frame.codec.isVideo && frame.isKeyframe {
            clear()
        } else if entries.isEmpty {
            return
        }
        bytes += frame.data.readableBytes
        guard bytes <= maximumBytes else {
            clear()
            return
        }
        entries.append(.frame(frame))
    }

    /// Marks the end of an upstream fragment.
    mutating func addBoundary() {
        if let last = entries.last, case .frame = last { entries.append(.boundary) }
    }

    /// The GOP, which is forgotten.
    mutating func take() -> [Entry] {
        defer { clear() }
        return entries
    }

    /// Forgets the GOP (new tracks, or packaging resumed).
    mutating func clear() {
        entries.removeAll()
        bytes = 0
    }
}
