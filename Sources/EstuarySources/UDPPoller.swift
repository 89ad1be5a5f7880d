import NIOCore
import Synchronization

/// Reads the sockets of a node's `udp://` inputs on a fixed tick, a batch of datagrams per socket per system call,
/// instead of waking for each datagram.
///
/// At a few hundred datagrams a second per input, waking per datagram cost more than the demuxing itself (readiness
/// events, one receive each, and a pipeline pass per datagram). Polling every ``interval`` reads each socket once
/// per tick with `recvmmsg` and hands the datagrams straight to their reader, on the reader's event loop.
///
/// Guarantees: a reader's datagrams reach it in arrival order, on one event loop, and never after it was removed;
/// a socket is closed on that loop once it is removed. The tick runs only while a loop has readers, and slows to
/// every ``quietEvery`` intervals while all of them are quiet.
public final class UDPPoller: Sendable {
    /// How often each socket is read: the most a datagram waits in the kernel before it is demuxed.
    public static let interval: TimeAmount = .milliseconds(10)
    /// The most receives per socket per tick (``UDPSocket/batch`` datagrams each); the rest waits for the next tick.
    static let receivesPerTick = 16
    /// A socket that received nothing for this many ticks in a row is quiet: read only every ``quietEvery`` ticks,
    /// so that idle inputs cost little (the first datagrams after a silence wait at most that long).
    /// (50 ms: a stream that comes back at 30 Mbit/s still fits the receive buffer that `net.core.rmem_max` allows by
    /// default, 416 KiB, until it is read again.)
    static let quietAfter = 50
    static let quietEvery = 5

    private let group: any EventLoopGroup
    private let loops = Mutex<[ObjectIdentifier: LoopPoller]>([:])

    public init(group: any EventLoopGroup) { self.group = group }

    /// Starts reading the socket that `open` makes (called on the chosen loop) into the reader that `makeReader`
    /// makes of it; returns the handle that ``remove(_:)`` takes.
    func add(
        open: @escaping @Sendable () throws(UDPSocketError) -> UDPSocket,
        makeReader: @escaping @Sendable (UDPSocket) -> any UDPPolledReader
    ) async throws -> Registration {
        let loop = group.next()
        let poller = loops.withLock { loops in
            if let poller = loops[ObjectIdentifier(loop)] { return poller }
            let poller = LoopPoller(loop: loop)
            loops[ObjectIdentifier(loop)] = poller
            return poller
        }
        return try await loop.submit {
            let socket = try open()
            return poller.add(makeReader(socket))
        }.get()
    }

    /// Stops reading `registration`'s socket and closes it (on its loop); `ended` then succeeds.
    func remove(_ registration: Registration) {
        registration.poller.loop.execute {
            registration.poller.remove(registration.id, because: nil)
        }
    }

    /// One socket being read.
    struct Registration: Sendable {
        fileprivate let poller: LoopPoller
        fileprivate let id: Int
        /// Completed once the socket is no longer read and closed: succeeded after ``UDPPoller/remove(_:)``, failed
        /// with the ``UDPSocketError`` of a receive that failed.
        let ended: EventLoopFuture<Void>
    }
}

/// A socket ``UDPPoller`` reads, and where its datagrams go. Called on its event loop only.
protocol UDPPolledReader: AnyObject {
    var socket: UDPSocket { get }
    /// One datagram (its first ``UDPSocket/slot`` bytes, `truncated` when it was longer).
    func datagram(_ bytes: ByteBuffer, truncated: Bool)
}

/// The readers of one event loop and its tick.
private final class LoopPoller: Sendable {
    let loop: any EventLoop
    private let state: NIOLoopBoundBox<State>

    /// Confined to `loop` (held in a ``NIOLoopBoundBox``, made off the loop).
    final class State {
        var readers: [Entry] = []
        var nextID = 0
        var ticks = 0
        var tick: Scheduled<Void>?
        /// Whether the pending tick comes after a slow (all quiet) interval: it reads every socket.
        var slow = false
        /// Where receives land: one buffer for every socket of the loop (datagrams are fed before the next receive;
        /// a slice a reader keeps makes the next receive allocate anew).
        var scratch = ByteBuffer()
    }

    /// One reader, its end, and how many ticks in a row it received nothing.
    final class Entry {
        let id: Int
        let reader: any UDPPolledReader
        let ended: EventLoopPromise<Void>
        var quietTicks = 0

        init(id: Int, reader: any UDPPolledReader, ended: EventLoopPromise<Void>) {
            self.id = id
            self.reader = reader
            self.ended = ended
        }
    }

    init(loop: any EventLoop) {
        self.loop = loop
        self.state = NIOLoopBoundBox.makeBoxSendingValue(State(), eventLoop: loop)
    }

    /// Adds `reader`; on `loop`.
    func add(_ reader: any UDPPolledReader) -> UDPPoller.Registration {
        let state = self.state.value
        let id = state.nextID
        state.nextID += 1
        let ended = loop.makePromise(of: Void.self)
        state.readers.append(Entry(id: id, reader: reader, ended: ended))
        if state.tick == nil { schedule(after: UDPPoller.interval) }
        return UDPPoller.Registration(poller: self, id: id, ended: ended.futureResult)
    }

    /// Removes reader `id`, closes its socket and completes its `ended` (failed with `error`, if any); on `loop`.
    func remove(_ id: Int, because error: UDPSocketError?) {
        let state = self.state.value
        guard let index = state.readers.firstIndex(where: { $0.id == id }) else { return }
        let removed = state.readers.remove(at: index)
        removed.reader.socket.close()
        if let error { removed.ended.fail(error) } else { removed.ended.succeed() }
        if state.readers.isEmpty {
            state.tick?.cancel()
            state.tick = nil
        }
    }

    /// Schedules the next tick; on `loop`.
    private func schedule(after delay: TimeAmount) {
        state.value.tick = loop.scheduleTask(in: delay) { [self] in
            let state = self.state.value
            poll()
            guard !state.readers.isEmpty else { return }
            // All quiet: nothing to read soon, so the loop need not wake every interval.
            state.slow = state.readers.allSatisfy { $0.quietTicks >= UDPPoller.quietAfter }
            schedule(after: state.slow ? UDPPoller.interval * Int64(UDPPoller.quietEvery) : UDPPoller.interval)
        }
    }

    /// Reads every socket once (more while whole batches keep coming, up to ``UDPPoller/receivesPerTick``); a quiet
    /// one only every ``UDPPoller/quietEvery`` ticks, or after a slow interval.
    private func poll() {
        let state = self.state.value
        state.ticks &+= 1
        var failed: [(Int, UDPSocketError)] = []
        for entry in state.readers {
            if entry.quietTicks >= UDPPoller.quietAfter && !state.slow && state.ticks % UDPPoller.quietEvery != 0 { continue }
            let reader = entry.reader
            let socket = reader.socket
            var rounds = 0
            var received = 0
            defer { entry.quietTicks = received == 0 ? entry.quietTicks + 1 : 0 }
            while rounds < UDPPoller.receivesPerTick {
                rounds += 1
                let count: Int
                do {
                    count = try socket.receive(into: &state.scratch)
                } catch {
                    failed.append((entry.id, error))
                    break
                }
                received += count
                let base = state.scratch.readerIndex
                for index in 0..<count {
                    let length = Int(socket.lengths[index])
                    guard length > 0, let datagram = state.scratch.getSlice(at: base + index * UDPSocket.slot, length: length)
                    else { continue }
                    reader.datagram(datagram, truncated: socket.truncated[index] != 0)
                }
                if count < UDPSocket.batch { break }
            }
        }
        for (id, error) in failed { remove(id, because: error) }
    }
}
