import EstuaryConfig
import EstuaryDVR
import NIOPosix
import Synchronization

/// The node's open archives, one ``StreamArchive`` per `(root, name)`, shared by the recorder, playback,
/// import and cleanup so they all see the same index.
public final class ArchiveRegistry: Sendable {
    private let archives = Mutex<[String: StreamArchive]>([:])
    private let opening = Mutex(())

    public init() {}

    /// The archive of `name` under `root`, opened (and recovered) on the I/O thread pool on first use.
    public func archive(root: String, name: String) async throws -> StreamArchive {
        let key = Self.key(root: root, name: name)
        if let archive = archives.withLock({ $0[key] }) { return archive }
        return try await blockingIO {
            try self.opening.withLock { _ in
                if let archive = self.archives.withLock({ $0[key] }) { return archive }
                let archive = try StreamArchive.open(root: root, name: name)
                self.archives.withLock { $0[key] = archive }
                return archive
            }
        }
    }

    /// The archive of `name` under `root` if it is open already (nil otherwise: opening it needs the disk).
    public func opened(root: String, name: String) -> StreamArchive? {
        archives.withLock { $0[Self.key(root: root, name: name)] }
    }

    private static func key(root: String, name: String) -> String { "\(root)\u{0}\(name)" }

    /// Archives opened so far.
    public var all: [StreamArchive] { archives.withLock { Array($0.values) } }
}
