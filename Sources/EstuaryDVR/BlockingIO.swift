import NIOCore
import NIOPosix

/// Runs blocking file I/O on the archive's own thread pool (``ArchiveIOThreads``) and waits for it without
/// reacting to task cancellation: a write that has begun (a segment being completed at shutdown) always
/// finishes.
public func blockingIO<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await ArchiveIOThreads.pool.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any(), body).get()
}

/// The threads archive file I/O runs on.
///
/// Guarantees: `count` threads, started on first use and alive for the whole process. They are more than
/// the cores (NIO's shared pool has one per core) because most of their time is spent waiting on the disk
/// (an fsync of a 2 MB segment takes about 3 ms here): with one per core, two streams committing would
/// stall every other stream's recording and import behind them.
public enum ArchiveIOThreads {
    /// Threads in the pool: 4 per core, at least 8.
    public static let count = max(8, 4 * System.coreCount)
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: count)
        pool.start()
        return pool
    }()
}
