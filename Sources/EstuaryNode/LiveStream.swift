import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Logging

/// One running stream: its configuration, its pipeline (what readers take) and its inputs.
public final class LiveStream: Sendable {
    public let config: StreamConfig
    public let origin: StreamOrigin
    public let pipeline: StreamPipeline
    public let inputStatus = InputStatus()
    let stopSignal = StopSignal()
    let startedMicros: Int64

    init(config: StreamConfig, origin: StreamOrigin, limits: HubLimits) {
        self.config = config
        self.origin = origin
        self.pipeline = StreamPipeline(name: config.name, limits: limits)
        self.startedMicros = WallClock.nowMicros()
    }

    public var name: String { config.name }

    /// Whether media arrived within the last 5 seconds.
    public var isAlive: Bool {
        let last = pipeline.statistics.lastFrameMicros
        return last > 0 && WallClock.nowMicros() - last < 5_000_000
    }

    /// Runs the inputs until the stream is stopped or the task cancelled, then ends readers.
    func run(factory: SourceFactory, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "stream"] = .string(name)
        let supervisor = InputSupervisor(inputs: config.inputs, factory: factory, status: inputStatus, logger: logger)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await supervisor.run(into: self.pipeline) }
            group.addTask { await self.stopSignal.wait() }
            await group.next()
            group.cancelAll()
        }
        pipeline.finish()
    }

    func stop() { stopSignal.fire() }
}
