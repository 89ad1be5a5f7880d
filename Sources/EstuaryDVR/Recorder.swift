import EstuaryLive
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Records one stream: takes its M4F chunks (``record(_:)``, called on the media path, never blocks), cuts
/// them into segments and writes them to a ``StreamArchive`` on the I/O thread pool.
///
/// Guarantees: the media path never waits for the disk; if the disk falls behind by more than
/// ``maximumQueuedBytes`` the oldest queued media is dropped (a gap, counted) rather than memory growing;
/// a full disk stops writing with ``RecorderStatus/diskFull`` set and writing resumes by itself when a
/// write succeeds again; what was written before is never touched.
public final class Recorder: Sendable {
    /// What the recorder has done, for the API and metrics.
    public struct RecorderStatus: Sendable, Equatable {
        public var segmentsWritten = 0
        public var bytesWritten = 0
        public var writeErrors = 0
        public var droppedChunks = 0
        public var diskFull = false
        public var lastError: String?
        /// UTC ms of the end of the last segment written.
        public var lastSegmentEndMs: Int64?

        public init() {}
    }

    public let archive: StreamArchive
    public let maximumQueuedBytes: Int
    private let logger: Logger
    private let queue: Mutex<(chunks: [LiveChunk], bytes: Int, finished: Bool, waiter: CheckedContinuation<Void, Never>?)> =
        Mutex(([], 0, false, nil))
    private let statusState = Mutex(RecorderStatus())

    /// Creates a recorder writing into `archive`.
    public init(archive: StreamArchive, logger: Logger, maximumQueuedBytes: Int = 64 << 20) {
        self.archive = archive
        self.logger = logger
        self.maximumQueuedBytes = maximumQueuedBytes
    }

    public var status: RecorderStatus { statusState.withLock { $0 } }

    /// Bytes queued for the disk and not yet taken by the writer: how far live recording lags behind.
    public var queuedBytes: Int { queue.withLock { $0.bytes } }

    /// Queues a chunk (M4F header or media). Cheap; safe from any thread.
    public func record(_ chunk: LiveChunk) {
        let (waiter, dropped) = queue.withLock { queue -> (CheckedContinuation<Void, Never>?, Int) in
            guard !queue.finished else { return (nil, 0) }
            queue.chunks.append(chunk)
            queue.bytes += chunk.bytes.readableBytes
            var dropped = 0
            while queue.bytes > maximumQueuedBytes, let index = queue.chunks.firstIndex(where: { $0.kind == .media }) {
                queue.bytes -= queue.chunks[index].bytes.readableBytes
                queue.chunks.remove(at: index)
                dropped += 1
            }
            defer { queue.waiter = nil }
            return (queue.waiter, dropped)
        }
        if dropped > 0 { statusState.withLock { $0.droppedChunks += dropped } }
        waiter?.resume()
    }

    /// Ends recording: what is queued is written, then ``run()`` returns.
    public func finish() {
        let waiter = queue.withLock { queue in
            queue.finished = true
            defer { queue.waiter = nil }
            return queue.waiter
        }
        waiter?.resume()
    }

    /// Writes segments until ``finish()`` (or cancellation), then completes the segment in progress.
    public func run() async {
        var cutter = SegmentCutter()
        var initIDs: [ByteBuffer: String] = [:]
        while true {
            let (chunks, finished) = await next()
            for chunk in chunks {
                for segment in cutter.push(chunk) { await write(segment, initIDs: &initIDs) }
            }
            if finished || Task.isCancelled { break }
        }
        if let segment = cutter.flush() { await write(segment, initIDs: &initIDs) }
        statusState.withLock { $0.droppedChunks += cutter.droppedChunks }
        try? await blockingIO { self.archive.saveSummary() }
    }

    private func next() async -> ([LiveChunk], Bool) {
        while true {
            let taken = queue.withLock { queue -> ([LiveChunk], Bool)? in
                guard !queue.chunks.isEmpty || queue.finished else { return nil }
                defer {
                    queue.chunks = []
                    queue.bytes = 0
                }
                return (queue.chunks, queue.finished)
            }
            if let taken { return taken }
            if Task.isCancelled { return ([], true) }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = queue.withLock { queue -> Bool in
                        if !queue.chunks.isEmpty || queue.finished || Task.isCancelled { return true }
                        queue.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = queue.withLock { queue in
                    defer { queue.waiter = nil }
                    return queue.waiter
                }
                waiter?.resume()
            }
        }
    }

    private func write(_ segment: SegmentCutter.Segment, initIDs: inout [ByteBuffer: String]) async {
        let archive = self.archive
        let knownInit = initIDs[segment.initSegment]
        do {
            let (record, initID) = try await blockingIO { () throws -> (SegmentRecord, String) in
                let initID = try knownInit ?? archive.storeInit(segment.initSegment)
                let record = try archive.write(
                    fragments: segment.fragments, startMs: segment.startMs, durationMs: segment.durationMs, initID: initID)
                return (record, initID)
            }
            initIDs[segment.initSegment] = initID
            let recovered = statusState.withLock { status -> Bool in
                let wasFull = status.diskFull
                status.segmentsWritten += 1
                status.bytesWritten += record.bytes
                status.diskFull = false
                status.lastSegmentEndMs = record.endMs
                return wasFull
            }
            if recovered { logger.notice("dvr: writing again after the disk was full", metadata: ["stream": .string(archive.name)]) }
        } catch {
            let full = (error as? DVRError)?.isDiskFull ?? false
            let first = statusState.withLock { status -> Bool in
                let first = !status.diskFull || !full
                status.writeErrors += 1
                status.diskFull = full
                status.lastError = "\(error)"
                return first
            }
            if first {
                logger.error(
                    full ? "dvr_disk_full: recording paused until space returns" : "dvr: segment write failed",
                    metadata: ["stream": .string(archive.name), "error": .string("\(error)")])
            }
        }
    }
}
