import EstuaryConfig
import EstuaryDVR
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Foundation

/// The JSON the API shows for one stream (`GET /streamer/api/v3/streams[/{name}]`).
struct StreamReport: Encodable {
    struct Track: Encodable {
        var id: Int
        var codec: String
        var width: Int?
        var height: Int?
        var sampleRate: Int?
        var channels: Int?

        enum CodingKeys: String, CodingKey {
            case id, codec, width, height, channels
            case sampleRate = "sample_rate"
        }
    }

    struct Input: Encodable {
        var url: String
        var priority: Int
        var active: Bool
    }

    struct Stats: Encodable {
        var alive: Bool
        var inputBitrate: Int64
        var framesIn: UInt64
        var bytesIn: UInt64
        var onlineClients: Int
        var skippedFragments: UInt64
        var disconnectedClients: UInt64
        var sourceReconnects: Int
        var inputSwitches: Int
        var lastError: String?
        var lastErrorReason: String?
        var activeInput: String?
        var timestampDiscontinuities: Int
        var inputErrors: Int
        var lastInputError: String?
        var tracks: [Track]

        enum CodingKeys: String, CodingKey {
            case alive, tracks
            case inputBitrate = "input_bitrate"
            case framesIn = "frames_in"
            case bytesIn = "bytes_in"
            case onlineClients = "online_clients"
            case skippedFragments = "skipped_fragments"
            case disconnectedClients = "disconnected_clients"
            case sourceReconnects = "source_reconnects"
            case inputSwitches = "input_switches"
            case lastError = "last_error"
            case lastErrorReason = "last_error_reason"
            case activeInput = "active_input"
            case timestampDiscontinuities = "timestamp_discontinuities"
            case inputErrors = "input_errors"
            case lastInputError = "last_input_error"
        }
    }

    struct DVR: Encodable {
        var expiration: Int
        var storageLimit: Int
        var replicate: Bool
        var replicationPort: Int?
        var replicationSpeed: Int?
        /// Media queued for the disk and not yet written: a replicator backs off while live recording lags.
        var recordingBacklogBytes: Int
        /// Media chunks dropped because the disk fell behind (each one a gap).
        var recordingDroppedChunks: Int

        enum CodingKeys: String, CodingKey {
            case expiration, replicate
            case recordingBacklogBytes = "recording_backlog_bytes"
            case recordingDroppedChunks = "recording_dropped_chunks"
            case storageLimit = "storage_limit"
            case replicationPort = "replication_port"
            case replicationSpeed = "replication_speed"
        }
    }

    var name: String
    var origin: String
    var inputs: [Input]
    var dvr: DVR?
    var dvrReplication: Double?
    var dvrReplicationRunning: Bool?
    var pushes: [PushStatus.Entry]
    var publisher: String?
    var stats: Stats

    enum CodingKeys: String, CodingKey {
        case name, origin, inputs, dvr, stats, pushes, publisher
        case dvrReplication = "dvr_replication"
        case dvrReplicationRunning = "dvr_replication_running"
    }

    init(_ stream: LiveStream) {
        let pipeline = stream.pipeline.statistics
        let input = stream.inputStatus.snapshot
        let m4f = stream.pipeline.m4f.statistics
        let ts = stream.pipeline.mpegts.statistics
        name = stream.name
        origin = stream.origin.rawValue
        inputs = stream.config.inputsByPriority.enumerated().map { index, config in
            Input(url: SecretMasking.mask(url: config.url), priority: config.priority, active: input.activeInput == index)
        }
        let recorder = stream.recorder
        dvr = stream.config.dvr.map {
            DVR(
                expiration: $0.expiration, storageLimit: $0.storageLimit, replicate: $0.replicate, replicationPort: $0.replicationPort,
                replicationSpeed: $0.replicationSpeed, recordingBacklogBytes: recorder?.queuedBytes ?? 0,
                recordingDroppedChunks: recorder?.status.droppedChunks ?? 0)
        }
        pushes = stream.pushStatus.snapshot
        publisher = stream.publisher
        let progress = stream.replicationProgress
        dvrReplication = progress?.percent
        dvrReplicationRunning = progress?.running
        stats = Stats(
            alive: stream.isAlive, inputBitrate: pipeline.inputBitsPerSecond, framesIn: pipeline.framesIn, bytesIn: pipeline.bytesIn,
            onlineClients: m4f.readers + ts.readers, skippedFragments: m4f.skippedItems + ts.skippedItems,
            disconnectedClients: m4f.disconnectedReaders + ts.disconnectedReaders, sourceReconnects: input.reconnects,
            inputSwitches: input.switches, lastError: input.lastError, lastErrorReason: input.lastErrorReason,
            activeInput: input.activeURL, timestampDiscontinuities: pipeline.timestampDiscontinuities,
            inputErrors: input.inputErrors, lastInputError: input.lastInputError,
            tracks: pipeline.tracks.map(Self.track))
    }

    static func track(_ info: TrackInfo) -> Track {
        switch info.config {
        case .h264(let config):
            Track(id: info.id, codec: "h264", width: config.info.width, height: config.info.height)
        case .h265(let config):
            Track(id: info.id, codec: "h265", width: config.info.width, height: config.info.height)
        case .aac(let config):
            Track(id: info.id, codec: "aac", sampleRate: config.sampleRate, channels: config.channels)
        }
    }
}
