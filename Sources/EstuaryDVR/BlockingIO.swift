import NIOCore
import NIOPosix

/// Runs blocking file I/O on NIO's thread pool and waits for it without reacting to task cancellation:
/// a write that has begun (a segment being completed at shutdown) always finishes.
public func blockingIO<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(eventLoop: MultiThreadedEventLoopGroup.singleton.any(), body).get()
}
