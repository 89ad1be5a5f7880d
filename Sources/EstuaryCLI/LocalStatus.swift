import EstuaryDVR
import EstuaryHub
import EstuaryLive
import EstuaryNode
import EstuaryReplication
import Foundation
import ServiceLifecycle

/// The one-screen status `estuary local` prints after start and then every `--status-every` seconds: per node its
/// role, streams running and alive, input bitrate, clients, what its recorders wrote; per replicated stream the
/// percent present and gaps. Read from the in-process nodes and replicator, so it costs no request.
struct LocalStatus: Sendable {
    let nodes: [Node]
    let replicator: Replicator

    /// The table as text (one line per node and per replicated stream).
    func render(at date: Date = Date()) -> String {
        var lines = ["status at \(ISO8601DateFormatter().string(from: date))"]
        lines.append(row("NODE", "ROLE", "STREAMS", "ALIVE", "IN Mbit/s", "CLIENTS", "RECORDED"))
        for node in nodes {
            let streams = node.manager.all
            let alive = streams.filter(\.isAlive).count
            let bits = streams.reduce(Int64(0)) { $0 + $1.pipeline.statistics.inputBitsPerSecond }
            let clients = streams.reduce(0) { $0 + $1.pipeline.m4f.statistics.readers + $1.pipeline.mpegts.statistics.readers }
            let recorders = streams.compactMap { $0.recorder?.status }
            let recorded =
                recorders.isEmpty
                ? "-"
                : "\(recorders.reduce(0) { $0 + $1.segmentsWritten }) segments, "
                    + String(format: "%.1f MB", Double(recorders.reduce(0) { $0 + $1.bytesWritten }) / 1e6)
                    + (recorders.contains(where: \.diskFull) ? ", DISK FULL" : "")
            lines.append(
                row(
                    node.options.hostname, node.options.role, "\(streams.count)", "\(alive)", String(format: "%.2f", Double(bits) / 1e6),
                    "\(clients)", recorded))
        }
        for (name, state) in replicator.status.sorted(by: { $0.key < $1.key }) {
            let error = state.lastErrorReason.map { ", error: \($0)" } ?? ""
            lines.append(
                "replicator \(name): " + String(format: "%.1f %%", state.percent) + " present, \(state.gaps) gaps, "
                    + "\(state.copiedSegments) segments copied from \(state.primary)\(error)")
        }
        return lines.joined(separator: "\n")
    }

    private func row(_ columns: String...) -> String {
        let widths = [10, 13, 9, 7, 11, 9]
        return zip(columns, widths + [0]).map { column, width in
            width == 0 ? column : column.padding(toLength: max(width, column.count + 1), withPad: " ", startingAt: 0)
        }.joined()
    }

    /// Prints the status after `first`, then every `interval` (never when `interval` is zero), until cancelled.
    func run(first: Duration, interval: Duration) async {
        guard interval > .zero else { return }
        var wait = first
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: wait)
            } catch {
                return
            }
            print("\n" + render() + "\n")
            fflush(nil)
            wait = interval
        }
    }
}

/// Runs ``LocalStatus`` in the local cluster's service group (the first status 10 s after start).
struct LocalStatusService: Service {
    let status: LocalStatus
    let interval: Duration

    func run() async throws {
        await cancelWhenGracefulShutdown { await status.run(first: min(interval, .seconds(10)), interval: interval) }
    }
}
