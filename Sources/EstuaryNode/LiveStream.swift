import EstuaryConfig
import EstuaryDVR
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Logging
import Synchronization

/// One running stream: its configuration, its pipeline (what readers take) and its inputs.
public final class LiveStream: Sendable {
    public let config: StreamConfig
    public let origin: StreamOrigin
    public let pipeline: StreamPipeline
    public let inputStatus = InputStatus()
    /// How each of `pushes` is doing, by URL (credentials masked).
    public let pushStatus = PushStatus()
    let stopSignal = StopSignal()
    let startedMicros: Int64
    private let recording = Mutex<(recorder: Recorder?, error: String?)>((nil, nil))
    private let replication = Mutex<(percent: Double, running: Bool)?>(nil)

    /// What the replicator last reported for this stream: percent of the depth present here, and whether
    /// it is copying now (Flussonic's `dvr_replication`, `dvr_replication_running`).
    public var replicationProgress: (percent: Double, running: Bool)? {
        get { replication.withLock { $0 } }
        set { replication.withLock { $0 = newValue } }
    }

    init(config: StreamConfig, origin: StreamOrigin, limits: HubLimits, publishRegistry: PublishRegistry? = nil) {
        self.publishRegistry = publishRegistry
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

    /// Where the current publisher connects from, while a publisher sends to this stream.
    public var publisher: String? { publishRegistry?.publisher(of: name)?.origin }
    private let publishRegistry: PublishRegistry?

    /// The recorder, while a stream with a `dvr` block runs.
    public var recorder: Recorder? { recording.withLock { $0.recorder } }

    /// Why the archive could not be opened, if it could not.
    public var recordingError: String? { recording.withLock { $0.error } }

    /// Runs the inputs (and the recorder, with a `dvr` block) until the stream is stopped or the task
    /// cancelled, then ends readers and completes the segment being recorded.
    func run(factory: SourceFactory, archives: ArchiveRegistry, logger: Logger) async {
        var logger = logger
        logger[metadataKey: "stream"] = .string(name)
        var recorder: Recorder?
        if let dvr = config.dvr {
            do {
                let archive = try await archives.archive(root: dvr.root, name: name)
                recorder = Recorder(archive: archive, logger: logger)
            } catch {
                logger.error("dvr: cannot open the archive; the stream runs without recording", metadata: ["error": "\(error)"])
                recording.withLock { $0.error = "\(error)" }
            }
        }
        if let recorder {
            recording.withLock { $0.recorder = recorder }
            // A stream relayed over M4F records the upstream bytes unchanged, so that its archive and the
            // upstream node's hold identical segments (replication compares them by sha256).
            if config.inputs.allSatisfy({ $0.scheme == "m4f" || $0.scheme == "m4fs" }) {
                pipeline.tapPassthrough { recorder.record($0) }
            } else {
                pipeline.tap { recorder.record($0) }
            }
        }
        let supervisor = InputSupervisor(inputs: config.inputs, factory: factory, status: inputStatus, logger: logger, stream: name)
        await withTaskGroup(of: Void.self) { group in
            if let recorder { group.addTask { await recorder.run() } }
            await withTaskGroup(of: Void.self) { inputs in
                inputs.addTask { await supervisor.run(into: self.pipeline) }
                for push in config.pushes {
                    let pusher = M4FPusher(
                        push: push, stream: name, hub: pipeline.m4f, client: factory.httpClient, clusterKey: factory.clusterKey,
                        status: pushStatus, logger: logger)
                    inputs.addTask { await pusher.run() }
                }
                inputs.addTask { await self.stopSignal.wait() }
                await inputs.next()
                inputs.cancelAll()
            }
            pipeline.finish()
            recorder?.finish()
        }
    }

    func stop() { stopSignal.fire() }
}
