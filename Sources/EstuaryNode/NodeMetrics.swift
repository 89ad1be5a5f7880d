import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Prometheus

/// The node's Prometheus metrics (`GET /metrics`). Per-stream figures are read from the
/// streams' own counters at scrape time, so the media path never touches a metrics lock.
public final class NodeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
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
            registry.makeGauge(name: "estuary_stream_readers", labels: labels, help: "Live readers now").set(
                to: Double(m4f.readers + ts.readers))
            registry.makeGauge(name: "estuary_stream_alive", labels: labels, help: "1 if media arrived in the last 5 s")
                .set(to: stream.isAlive ? 1 : 0)
            registry.makeGauge(name: "estuary_stream_input_bitrate_bits", labels: labels, help: "Input bit rate over the last second")
                .set(to: Double(pipeline.inputBitsPerSecond))
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return out
    }

    private func set(counter name: String, _ value: Int64, _ labels: [(String, String)], _ help: String) {
        let counter = registry.makeCounter(name: name, labels: labels, help: help)
        counter.reset()
        counter.increment(by: value)
    }
}
