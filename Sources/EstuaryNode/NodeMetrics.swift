import EstuaryConfig
import EstuaryConfigExternal
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Prometheus
import Synchronization

/// The node's Prometheus metrics (`GET /metrics`). Per-stream figures are read from the
/// streams' own counters at scrape time, so the media path never touches a metrics lock.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// Archive HLS segments answered on the event loop (``ArchiveFastPath``) since start.
    public let archiveSegmentsOnEventLoop = Atomic<Int>(0)
    /// Archive `.mp4` and `.m4f` exports answered on the event loop (``ArchiveFastPath``) since start.
    public let archiveExportsOnEventLoop = Atomic<Int>(0)

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Counts one configuration backend request by endpoint and outcome, with its latency and bytes.
    func record(_ request: ConfigBackendRequest) {
        let endpoint = request.endpoint.rawValue
        counter(
            name: "estuary_config_external_requests_total", labels: [("endpoint", endpoint), ("outcome", request.outcome)],
            help: "Requests to the configuration backend by endpoint and outcome (ok or the error reason)"
        ).increment()
        counter(
            name: "estuary_config_external_response_bytes_total", labels: [("endpoint", endpoint)],
            help: "Body bytes received from the configuration backend"
        ).increment(by: Int64(request.bytes))
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "estuary", metricName: "config_external_request", unitName: "seconds",
                helpText: "Configuration backend request latency, body included"),
            labels: [("endpoint", endpoint)],
            buckets: [.milliseconds(5), .milliseconds(20), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5)]
        ).record(request.duration)
    }

    /// Refreshes the config_external and per-origin gauges.
    func refresh(configSync: ConfigSync, enabled: Bool, counts: [StreamOrigin: Int]) {
        for origin in [StreamOrigin.file, .api, .external, .dynamic, .source] {
            gauge(
                name: "estuary_streams", labels: [("origin", origin.rawValue)],
                help: "Running streams by where their configuration came from"
            )
            .set(to: Double(counts[origin] ?? 0))
        }
        let status = configSync.status
        gauge(
            name: "estuary_config_external_enabled", labels: [], help: "1 when a configuration backend manages streams"
        ).set(to: enabled ? 1 : 0)
        gauge(
            name: "estuary_config_external_last_sync_timestamp_seconds", labels: [],
            help: "UTC time of the last completed config_external cycle (0 before the first)"
        ).set(to: Double(status.lastSync ?? 0))
        for reason in ConfigExternalReason.allCases {
            gauge(
                name: "estuary_config_external_error", labels: [("reason", reason.rawValue)],
                help: "1 while config_external_error has this reason"
            ).set(to: status.error?.reason == reason ? 1 : 0)
        }
    }

    /// Refreshes the per-stream metrics from `streams`, then renders the exposition text.
    func render(streams: [LiveStream]) -> [UInt8] {
        for stream in streams {
            let labels = [("stream", stream.name)]
            let pipeline = stream.pipeline.statistics
            let input = stream.inputStatus.snapshot
            let m4f = stream.pipeline.m4f.statistics
            let ts = stream.pipeline.mpegts.statistics
            set(counter: "estuary_stream_input_bytes_total", Int64(pipeline.bytesIn), labels, "Media bytes received from the input")
            set(counter: "estuary_stream_input_frames_total", Int64(pipeline.framesIn), labels, "Frames received from the input")
            set(counter: "estuary_stream_source_reconnects_total", Int64(input.reconnects), labels, "Input reconnects and failovers")
            set(
                counter: "estuary_stream_input_errors_total", Int64(input.inputErrors), labels,
                "Damaged input skipped (bad packets or boxes)")
            set(
                counter: "estuary_stream_skipped_fragments_total", Int64(m4f.skippedItems + ts.skippedItems), labels,
                "Fragments slow readers skipped")
            set(
                counter: "estuary_stream_disconnected_readers_total", Int64(m4f.disconnectedReaders + ts.disconnectedReaders), labels,
                "Readers disconnected for being too slow")
            set(
                counter: "estuary_stream_delivered_bytes_total", Int64(m4f.deliveredBytes + ts.deliveredBytes), labels,
                "Bytes handed to live readers")
            gauge(name: "estuary_stream_readers", labels: labels, help: "Live readers now").set(
                to: Double(m4f.readers + ts.readers))
            gauge(name: "estuary_stream_alive", labels: labels, help: "1 if media arrived in the last 5 s")
                .set(to: stream.isAlive ? 1 : 0)
            gauge(name: "estuary_stream_input_bitrate_bits", labels: labels, help: "Input bit rate over the last second")
                .set(to: Double(pipeline.inputBitsPerSecond))
        }
        set(
            counter: "estuary_archive_segments_on_event_loop_total", Int64(archiveSegmentsOnEventLoop.load(ordering: .relaxed)), [],
            "Archive HLS segments answered on the event loop with sendfile (the others go through the router)")
        set(
            counter: "estuary_archive_exports_on_event_loop_total", Int64(archiveExportsOnEventLoop.load(ordering: .relaxed)), [],
            "Archive .mp4 and .m4f exports answered on the event loop with sendfile (the others go through the router)")
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    /// A counter by its full exposition name (the descriptor's unit part left empty).
    private func counter(name: String, labels: [(String, String)], help: String) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// A gauge by its full exposition name.
    private func gauge(name: String, labels: [(String, String)], help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    private func set(counter name: String, _ value: Int64, _ labels: [(String, String)], _ help: String) {
        let counter = counter(name: name, labels: labels, help: help)
        counter.reset()
        counter.increment(by: value)
    }
}
