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
        let key = "\(root)\u{0}\(name)"
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

    /// Archives opened so far.
    public var all: [StreamArchive] { archives.withLock { Array($0.values) } }
}
