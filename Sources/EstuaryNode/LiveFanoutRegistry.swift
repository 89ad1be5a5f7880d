import EstuaryHub
import EstuaryLive
import NIOCore
import NIOHTTP1
import Synchronization

/// The node's live fan-outs, one per (output hub, event loop), and the way an HTTP response joins one.
///
/// Guarantees: at most one attached ``LiveFanout`` per hub and loop; a fan-out is made, joined and forgotten only
/// on its loop, so a client never joins one that is detaching.
final class LiveFanoutRegistry: Sendable {
    private struct Key: Hashable {
        var hub: ObjectIdentifier
        var loop: ObjectIdentifier
    }

    private let fanouts = Mutex<[Key: LiveFanout]>([:])

    /// Fan-outs attached now (one per output with clients, per event loop holding some of them).
    var count: Int { fanouts.withLock { $0.count } }

    /// Whether `channel` can be served by a fan-out: an HTTP/1 pipeline with NIO's response encoder, which the
    /// writer goes just below.
    static func canServe(_ channel: any Channel) async -> Bool {
        (try? await channel.pipeline.containsHandler(type: HTTPResponseEncoder.self).get()) != nil
    }

    /// Joins `channel` (whose chunked response head was written) to `hub`'s fan-out on its loop. The result
    /// completes as ``LiveFanoutWriter/done`` does.
    func join(_ channel: any Channel, hub: StreamHub<LiveChunk>) -> EventLoopFuture<Void> {
        let loop = channel.eventLoop
        let done = loop.makePromise(of: Void.self)
        loop.execute {
            let writer = LiveFanoutWriter(done: done)
            do {
                let encoder = try channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
                try channel.pipeline.syncOperations.addHandler(writer, position: .before(encoder.handler))
                let limit = hub.limits.maximumQueuedBytes
                try channel.syncOptions?.setOption(
                    ChannelOptions.writeBufferWaterMark, value: .init(low: limit / 2, high: limit))
            } catch {
                done.fail(error)
                return
            }
            self.fanout(for: hub, on: loop, adding: writer)
        }
        return done.futureResult
    }

    /// Ends the response of a writer joined by ``join(_:hub:)`` (shutdown, cancellation). Safe from any thread.
    static func end(_ channel: any Channel) {
        channel.eventLoop.execute {
            (try? channel.pipeline.syncOperations.handler(type: LiveFanoutWriter.self))?.end()
        }
    }

    /// On `loop`: the attached fan-out of `hub`, made and attached if there is none, with `writer` added.
    private func fanout(for hub: StreamHub<LiveChunk>, on loop: any EventLoop, adding writer: LiveFanoutWriter) {
        let key = Key(hub: ObjectIdentifier(hub), loop: ObjectIdentifier(loop as AnyObject))
        if let existing = fanouts.withLock({ $0[key] }), existing.add(writer) { return }
        let fanout = LiveFanout(hub: hub, loop: loop, registry: self)
        guard let initial = hub.attach(fanout) else {
            writer.end()
            return
        }
        fanout.seed(header: initial.header, cache: initial.cache)
        fanouts.withLock { $0[key] = fanout }
        _ = fanout.add(writer)
    }

    /// Forgets a fan-out that detached. On its loop.
    func forget(_ fanout: LiveFanout) {
        let key = Key(hub: ObjectIdentifier(fanout.hub), loop: ObjectIdentifier(fanout.loop as AnyObject))
        fanouts.withLock { fanouts in
            if fanouts[key] === fanout { fanouts.removeValue(forKey: key) }
        }
    }
}
