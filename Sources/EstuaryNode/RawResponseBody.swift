import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOSSL

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The body of one HTTP/1 response written below NIO's HTTP encoder, so that it can carry `FileRegion`s (sent
/// with `sendfile`, never read into memory) as well as buffers.
///
/// Use it from a Hummingbird body closure, after the head went out (so its framing is set: a `Content-Length`,
/// which the caller's pieces must add up to). Guarantees: writes go out in order and each write returns once NIO
/// has written its bytes (so a response holds open only the files of the ``RawBatch`` being written, at most
/// ``RawBatch/filesPerWrite`` segments);
/// ``serve(on:_:)`` leaves the pipeline as it was afterwards, so the response ends through the encoder as usual.
struct RawResponseBody: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<RawBodyHandler>

    /// Whether archive files may be sent with sendfile: `ESTUARY_SENDFILE=0` turns it off (every body is then
    /// read into memory, as over TLS), for a filesystem where sendfile misbehaves or for comparing.
    static let isEnabled = ProcessInfo.processInfo.environment["ESTUARY_SENDFILE"] != "0"

    /// Runs `body` with the writer installed on `channel` (nil where it cannot be: TLS, HTTP/2, switched off),
    /// and takes the writer out of the pipeline again however `body` ends.
    static func serve<T>(on channel: any Channel, _ body: (RawResponseBody?) async throws -> T) async throws -> T {
        let raw = await install(on: channel)
        do {
            let result = try await body(raw)
            await raw?.remove()
            return result
        } catch {
            await raw?.remove()
            throw error
        }
    }

    /// Installs the writer on an HTTP/1 connection without TLS (sendfile cannot go through TLS); nil elsewhere.
    private static func install(on channel: any Channel) async -> RawResponseBody? {
        guard isEnabled else { return nil }
        return try? await channel.eventLoop.submit { () -> RawResponseBody? in
            if (try? channel.pipeline.syncOperations.context(handlerType: NIOSSLServerHandler.self)) != nil { return nil }
            let encoder = try channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
            let handler = RawBodyHandler(eventLoop: channel.eventLoop)
            try channel.pipeline.syncOperations.addHandler(handler, position: .before(encoder.handler))
            return RawResponseBody(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
        }.get() ?? nil
    }

    /// Writes and flushes `data`; returns when NIO has written it to the socket.
    func write(_ data: IOData) async throws {
        try await write([data])
    }

    /// Writes `items` in order with one flush (one hop to the loop); returns when NIO has written the last.
    func write(_ items: [IOData]) async throws {
        guard !items.isEmpty else { return }
        try await channel.eventLoop.flatSubmit {
            self.handler.value.write(items)
        }.get()
    }

    /// Writes `batch`'s items with one flush, then closes its files (whether the write succeeded or not), and leaves
    /// `batch` empty.
    func write(_ batch: inout RawBatch) async throws {
        var written = batch
        batch = RawBatch()
        defer { written.closeFiles() }
        try await write(written.items)
    }

    /// Sends bytes `range` of the file at `path` with `sendfile`.
    func sendFile(_ path: String, range: Range<Int>) async throws {
        let handle = try Self.openFile(path, holding: range.upperBound)
        defer { try? handle.close() }
        try await write(.fileRegion(FileRegion(fileHandle: handle, readerIndex: range.lowerBound, endIndex: range.upperBound)))
    }

    /// Opens the file at `path` for ``FileRegion``s (the caller closes it once they are written). Throws, naming
    /// the file, when it cannot be opened or holds fewer than `length` bytes (the head promised them: the
    /// connection must end).
    /// With `exactly`, a file of any other length throws too (one replaced since its layout was read).
    static func openFile(_ path: String, holding length: Int, exactly: Bool = false) throws -> NIOFileHandle {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw NodeError(.internalServerError, "archive_unreadable", "cannot open \(path): errno \(errno)")
        }
        let size = lseek(descriptor, 0, SEEK_END)
        guard size >= length, !exactly || size == length else {
            close(descriptor)
            throw NodeError(
                .internalServerError, "archive_unreadable", "\(path) holds \(size) bytes, not the \(length) bytes indexed")
        }
        return NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

    /// Leaves the pipeline.
    private func remove() async {
        try? await channel.eventLoop.submit {
            self.handler.value.remove()
        }.get()
    }
}
