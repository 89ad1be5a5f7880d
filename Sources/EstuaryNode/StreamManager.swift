import AsyncHTTPClient
import EstuaryConfig
import EstuaryConfigExternal
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Logging
import ServiceLifecycle
import Synchronization

/// Owns the node's running streams. Configuration sources (the YAML file, the API, later
/// config_external) tell it what should run; it starts, restarts (only on a changed
/// configuration) and stops streams, each in its own child task.
///
/// Guarantees: a stream whose configuration is unchanged is never touched; one stream's
/// failure never affects another; on graceful shutdown every stream stops and its readers'
/// responses end.
public final class StreamManager: Service, Sendable {
    private let streams = Mutex<[String: LiveStream]>([:])
    private let commands: AsyncStream<LiveStream>
    private let commandSink: AsyncStream<LiveStream>.Continuation
    let factory: SourceFactory
    let logger: Logger
    let readerLimits: HubLimits
    /// The archives of recorded streams.
    public let archives = ArchiveRegistry()

    public init(factory: SourceFactory, readerLimits: HubLimits = HubLimits(), logger: Logger) {
        self.factory = factory
        self.readerLimits = readerLimits
        self.logger = logger
        (commands, commandSink) = AsyncStream.makeStream()
    }

    /// Makes the streams of `origin` exactly `configs`: starts new ones, restarts changed ones,
    /// stops those of that origin no longer listed. Streams of other origins are untouched,
    /// and a name already running from another origin is reported, not overridden.
    @discardableResult
    public func apply(_ configs: [StreamConfig], origin: StreamOrigin) -> [String] {
        let wanted = Set(configs.map(\.name))
        return change(origin: origin) { streams, plan in
            for (name, stream) in streams where stream.origin == origin && !wanted.contains(name) {
                plan.stop.append(stream)
                streams[name] = nil
            }
            for config in configs { plan.place(config, origin: origin, in: &streams) { $0 == origin } }
        }
    }

    /// Starts or restarts one stream of `origin` (the API's `PUT`). Returns `false` when the name runs
    /// from another origin, which is left untouched.
    public func put(_ config: StreamConfig, origin: StreamOrigin) -> Bool {
        change(origin: origin) { streams, plan in
            plan.place(config, origin: origin, in: &streams) { $0 == origin }
        }.isEmpty
    }

    /// Starts a stream the backend returned for a dynamic name, unless one of that name already runs.
    /// Returns the stream now running under that name.
    public func startDynamic(_ config: StreamConfig) -> LiveStream? {
        var running: LiveStream?
        _ = change(origin: .dynamic) { streams, plan in
            if let existing = streams[config.name] {
                running = existing
                return
            }
            plan.place(config, origin: .dynamic, in: &streams) { _ in false }
            running = streams[config.name]
        }
        return running
    }

    private struct Plan {
        var start: [LiveStream] = []
        var stop: [LiveStream] = []
        var conflicts: [String] = []
        let limits: HubLimits
        let publishRegistry: PublishRegistry

        /// Starts `config` unless an identical one runs; restarts it (keeping the running stream's origin)
        /// when the running one may be replaced (`replaceable(origin)`) and differs; else a conflict.
        mutating func place(
            _ config: StreamConfig, origin: StreamOrigin, in streams: inout [String: LiveStream], replaceable: (StreamOrigin) -> Bool
        ) {
            var origin = origin
            if let running = streams[config.name] {
                guard replaceable(running.origin) else {
                    conflicts.append(config.name)
                    return
                }
                if running.config == config { return }
                origin = running.origin
                stop.append(running)
            }
            let stream = LiveStream(config: config, origin: origin, limits: limits, publishRegistry: publishRegistry)
            streams[config.name] = stream
            start.append(stream)
        }
    }

    /// Changes the table under the lock, then stops and starts outside it. Returns the conflicts.
    private func change(origin: StreamOrigin, _ body: (inout [String: LiveStream], inout Plan) -> Void) -> [String] {
        let plan = streams.withLock { streams in
            var plan = Plan(limits: readerLimits, publishRegistry: factory.publishRegistry)
            body(&streams, &plan)
            return plan
        }
        for stream in plan.stop {
            logger.info("stopping stream", metadata: ["stream": .string(stream.name)])
            stream.stop()
        }
        for stream in plan.start {
            logger.info("starting stream", metadata: ["stream": .string(stream.name), "origin": .string(stream.origin.rawValue)])
            commandSink.yield(stream)
        }
        for name in plan.conflicts {
            logger.error(
                "stream defined twice; the running definition stays",
                metadata: ["stream": .string(name), "origin": .string(origin.rawValue)])
        }
        return plan.conflicts
    }

    /// How many streams run from each origin.
    public var countsByOrigin: [StreamOrigin: Int] {
        streams.withLock { streams in
            var counts: [StreamOrigin: Int] = [:]
            for stream in streams.values { counts[stream.origin, default: 0] += 1 }
            return counts
        }
    }

    /// Stops one stream, whatever its origin. Returns whether it was running.
    @discardableResult
    public func stop(_ name: String) -> Bool {
        guard let stream = streams.withLock({ $0.removeValue(forKey: name) }) else { return false }
        stream.stop()
        return true
    }

    /// The running stream with this name.
    public func stream(named name: String) -> LiveStream? {
        streams.withLock { $0[name] }
    }

    /// Every running stream, sorted by name.
    public var all: [LiveStream] {
        streams.withLock { Array($0.values) }.sorted { $0.name < $1.name }
    }

    public func run() async {
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await stream in commands {
                    if stream.stopSignal.isFired { continue }
                    group.addTask {
                        await stream.run(factory: self.factory, archives: self.archives, logger: self.logger)
                        // A publisher still held for a stream that no longer runs is let go.
                        if self.stream(named: stream.name) == nil { self.factory.publishRegistry.close(stream: stream.name) }
                    }
                }
            } onGracefulShutdown: {
                self.shutdown()
            }
            group.cancelAll()
        }
    }

    /// Stops every stream and accepts no more.
    func shutdown() {
        let running = streams.withLock { streams in
            defer { streams.removeAll() }
            return Array(streams.values)
        }
        for stream in running { stream.stop() }
        commandSink.finish()
    }
}

extension StreamManager: ExternalStreamTarget {
    /// Streams from the backend's list and from dynamic requests.
    public func externalStreamNames() -> Set<String> {
        streams.withLock { streams in
            Set(streams.values.filter { $0.origin == .external || $0.origin == .dynamic }.map(\.name))
        }
    }

    /// Starts, restarts (keeping a dynamic stream dynamic) and stops the backend's streams; a name the file
    /// or the API defines is a conflict and stays as it is.
    public func applyExternal(_ configs: [StreamConfig], stopping: [String]) -> [String] {
        change(origin: .external) { streams, plan in
            for name in stopping {
                guard let stream = streams[name], stream.origin == .external || stream.origin == .dynamic else { continue }
                plan.stop.append(stream)
                streams[name] = nil
            }
            for config in configs {
                plan.place(config, origin: .external, in: &streams) { $0 == .external || $0 == .dynamic }
            }
        }
    }
}
