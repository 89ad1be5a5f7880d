import AsyncHTTPClient
import EstuaryConfig
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
        var conflicts: [String] = []
        let wanted = Dictionary(configs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let (toStart, toStop) = streams.withLock { streams -> ([LiveStream], [LiveStream]) in
            var start: [LiveStream] = []
            var stop: [LiveStream] = []
            for (name, stream) in streams where stream.origin == origin && wanted[name] == nil {
                stop.append(stream)
                streams[name] = nil
            }
            for config in configs {
                if let running = streams[config.name] {
                    if running.origin != origin {
                        conflicts.append(config.name)
                        continue
                    }
                    if running.config == config { continue }
                    stop.append(running)
                }
                let stream = LiveStream(config: config, origin: origin, limits: readerLimits)
                streams[config.name] = stream
                start.append(stream)
            }
            return (start, stop)
        }
        for stream in toStop {
            logger.info("stopping stream", metadata: ["stream": .string(stream.name)])
            stream.stop()
        }
        for stream in toStart {
            logger.info("starting stream", metadata: ["stream": .string(stream.name), "origin": .string(origin.rawValue)])
            commandSink.yield(stream)
        }
        for name in conflicts {
            logger.error("stream defined twice", metadata: ["stream": .string(name), "origin": .string(origin.rawValue)])
        }
        return conflicts
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
                    group.addTask { await stream.run(factory: self.factory, logger: self.logger) }
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
