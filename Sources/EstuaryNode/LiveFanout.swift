import EstuaryHub
import EstuaryLive
import NIOCore

/// Every HTTP client of one live output (a ``StreamHub`` of ``LiveChunk``) whose connection lives on one event
/// loop: the hub hands it each chunk once, and it writes that one shared buffer to each client from the loop.
///
/// Guarantees:
/// - per published chunk, the cost outside the loop is one `execute`; on the loop, one chunk-framed copy of the
///   bytes, then one write and flush per client (the buffer's storage is shared, so the kernel's copy is the
///   only one per client);
/// - a client joining gets the current header and the chunks since the last sync point (the GOP cache), framed
///   and in order with what follows, because the cache is kept on the loop from the same deliveries;
/// - a client whose connection holds more than ``HubLimits/maximumQueuedBytes`` unsent skips to the next sync
///   point (then gets the header first), and one that stays unwritable for ``HubLimits/stallTimeout`` is closed:
///   a slow client never slows the source or other clients, and its memory is bounded;
/// - all state is touched only on ``loop``; the fan-out detaches from the hub when its last client leaves.
final class LiveFanout: HubSink, Sendable {
    typealias Item = LiveChunk

    struct State {
        var writers: [LiveFanoutWriter] = []
        var header: ByteBuffer?
        var framedHeader: ByteBuffer?
        var cache: [ByteBuffer] = []
        var cacheBytes = 0
        var detached = false
    }

    let hub: StreamHub<LiveChunk>
    let loop: any EventLoop
    /// ``HubLimits/stallTimeout`` as NIO time.
    private let stallTimeout: TimeAmount
    private let registry: LiveFanoutRegistry
    private let state: NIOLoopBoundBox<State>

    /// Made on `loop` by the registry, which attaches it to the hub and seeds it.
    init(hub: StreamHub<LiveChunk>, loop: any EventLoop, registry: LiveFanoutRegistry) {
        self.hub = hub
        self.loop = loop
        let (seconds, attoseconds) = hub.limits.stallTimeout.components
        self.stallTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        self.registry = registry
        self.state = NIOLoopBoundBox(State(), eventLoop: loop)
    }

    /// Seeds the header and GOP cache from what the hub held when this fan-out attached. On the loop.
    func seed(header: LiveChunk?, cache: [LiveChunk]) {
        state.value.header = header?.bytes
        state.value.framedHeader = header.map { Self.frame($0.bytes) }
        for chunk in cache where chunk.bytes.readableBytes > 0 { remember(Self.frame(chunk.bytes), sync: chunk.isSyncPoint) }
    }

    // MARK: HubSink (called on the publishing thread)

    func hubPublished(_ item: LiveChunk, header: LiveChunk?) {
        loop.execute { self.deliver(item, header: header) }
    }

    func hubFinished() {
        loop.execute {
            self.state.value.detached = true
            self.registry.forget(self)
            let writers = self.state.value.writers
            self.state.value.writers.removeAll()
            self.hub.recordPush(readers: -writers.count)
            for writer in writers { writer.end() }
        }
    }

    // MARK: On the loop

    /// Adds a client: it gets the header and the GOP cache now. False when the fan-out already detached (the
    /// caller makes a new one).
    func add(_ writer: LiveFanoutWriter) -> Bool {
        guard !state.value.detached else { return false }
        writer.fanout = self
        state.value.writers.append(writer)
        hub.recordPush(readers: 1)
        var initial: [ByteBuffer] = []
        if let header = state.value.framedHeader { initial.append(header) }
        initial += state.value.cache
        writer.start(with: initial)
        return true
    }

    /// Removes a client that ended; the last one out detaches the fan-out from the hub.
    func remove(_ writer: LiveFanoutWriter) {
        guard let index = state.value.writers.firstIndex(where: { $0 === writer }) else { return }
        state.value.writers.swapAt(index, state.value.writers.count - 1)
        state.value.writers.removeLast()
        hub.recordPush(readers: -1)
        if state.value.writers.isEmpty, !state.value.detached {
            state.value.detached = true
            hub.detach(self)
            registry.forget(self)
        }
    }

    private func deliver(_ item: LiveChunk, header: LiveChunk?) {
        // An empty chunk framed would read as the body's end.
        guard !state.value.detached, item.bytes.readableBytes > 0 else { return }
        if header?.bytes != state.value.header {
            state.value.header = header?.bytes
            state.value.framedHeader = header.map { Self.frame($0.bytes) }
        }
        let framed = Self.frame(item.bytes)
        remember(framed, sync: item.isSyncPoint)
        let now = NIODeadline.now()
        var written: UInt64 = 0
        var skipped: UInt64 = 0
        var skipEvents: UInt64 = 0
        var closed: UInt64 = 0
        let header = state.value.framedHeader
        for writer in state.value.writers {
            switch writer.offer(framed, sync: item.isSyncPoint, header: header, now: now, stallTimeout: stallTimeout) {
            case .written: written += 1
            case .skipped: skipped += 1
            case .startedSkipping:
                skipped += 1
                skipEvents += 1
            case .closed: closed += 1
            case .ended: break
            }
        }
        hub.recordPush(
            skippedItems: skipped, skipEvents: skipEvents, disconnected: closed,
            deliveredBytes: written * UInt64(item.byteCount))
    }

    private func remember(_ framed: ByteBuffer, sync: Bool) {
        if sync {
            state.value.cache.removeAll(keepingCapacity: true)
            state.value.cacheBytes = 0
        }
        guard sync || !state.value.cache.isEmpty else { return }
        state.value.cache.append(framed)
        state.value.cacheBytes += framed.readableBytes
        if state.value.cacheBytes > hub.limits.maximumCachedBytes {
            state.value.cache.removeAll()
            state.value.cacheBytes = 0
        }
    }

    /// `bytes` as one HTTP/1.1 chunk (`size CRLF bytes CRLF`): the response head carries `Transfer-Encoding:
    /// chunked`, and writing the framing with the bytes makes each client's write a single buffer.
    static func frame(_ bytes: ByteBuffer) -> ByteBuffer {
        let size = String(bytes.readableBytes, radix: 16)
        var framed = ByteBufferAllocator().buffer(capacity: bytes.readableBytes + size.utf8.count + 4)
        framed.writeString(size)
        framed.writeStaticString("\r\n")
        framed.writeImmutableBuffer(bytes)
        framed.writeStaticString("\r\n")
        return framed
    }
}
