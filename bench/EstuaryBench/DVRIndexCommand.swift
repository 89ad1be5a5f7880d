import ArgumentParser
import EstuaryDVR
import Foundation
import NIOCore
import NIOPosix

/// `dvr-index`: a synthetic archive index (30 days × 100 streams by default), then start-up time and range
/// query latency, in process.
struct DVRIndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dvr-index",
        abstract: "Synthetic archive index: time to open every stream's archive (start-up) and range-query latency.")

    @Option(help: "Streams.") var streams = 100
    @Option(help: "Days of archive per stream.") var days = 30
    @Option(help: "Segment duration, seconds.") var segmentSeconds = 6
    @Option(help: "Random range queries to time.") var queries = 20_000
    @Option(help: "Where the synthetic archive lives (kept between runs: generation takes a while).")
    var directory = FileManager.default.temporaryDirectory.appendingPathComponent("estuary-bench-dvr-index").path

    func run() async throws {
        let end: Int64 = 1_795_305_600_000  // 2026-11-22T00:00:00Z
        let start = end - Int64(days) * 86_400_000
        let segmentMs = Int64(segmentSeconds) * 1000
        let marker = "\(directory)/.complete-\(streams)-\(days)-\(segmentSeconds)"
        if !FileManager.default.fileExists(atPath: marker) {
            try? FileManager.default.removeItem(atPath: directory)
            let began = ContinuousClock.now
            try generate(start: start, end: end, segmentMs: segmentMs)
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
            report(
                "dvr-index generated streams=\(streams) days=\(days) segment_s=\(segmentSeconds) seconds=\(fixed(elapsedSeconds(.now - began), 1))"
            )
        }
        let perStream = (end - start) / segmentMs
        report(
            "dvr-index archive streams=\(streams) days=\(days) segments=\(Int64(streams) * perStream) "
                + "archive_seconds=\(Int64(streams) * (end - start) / 1000) index_mb=\(fixed(Double(Int64(streams) * perStream * 56) / 1e6, 0))"
        )

        // Start-up: open every archive (first open after generation rebuilds summaries; the timed one is a restart).
        _ = try openAll()
        let began = ContinuousClock.now
        let archives = try openAll()
        let startup = elapsedSeconds(.now - began)
        report("dvr-index startup streams=\(streams) seconds=\(fixed(startup, 3)) target_s=5 \(startup < 5 ? "MET" : "MISSED")")

        // Range queries: a random stream, a random 10-minute window. Cold: the day is read on first use.
        var generator = SystemRandomNumberGenerator()
        var cold: [Double] = []
        var warm: [Double] = []
        for index in 0..<queries {
            let archive = archives[Int.random(in: 0..<archives.count, using: &generator)]
            let from = Int64.random(in: start..<(end - 600_000), using: &generator)
            let began = ContinuousClock.now
            let found = try archive.records(fromMs: from, toMs: from + 600_000)
            let seconds = elapsedSeconds(.now - began)
            guard found.count >= 600 / segmentSeconds else { throw BenchError("query \(index) found \(found.count) segments") }
            if index < queries / 2 {
                cold.append(seconds * 1000)
            } else {
                warm.append(seconds * 1000)
            }
        }
        // Warm: the same days again.
        var repeated: [Double] = []
        for _ in 0..<queries {
            let archive = archives[Int.random(in: 0..<archives.count, using: &generator)]
            let from = Int64.random(in: start..<(end - 600_000), using: &generator)
            let began = ContinuousClock.now
            _ = try archive.records(fromMs: from, toMs: from + 600_000)
            repeated.append(elapsedSeconds(.now - began) * 1000)
        }
        func percentile(_ values: [Double], _ p: Double) -> Double {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        }
        report(
            "dvr-index query first_half p50_ms=\(fixed(percentile(cold, 0.5), 3)) p99_ms=\(fixed(percentile(cold, 0.99), 3)) "
                + "(includes loading a day on first use)")
        let p99 = percentile(repeated, 0.99)
        report(
            "dvr-index query loaded p50_ms=\(fixed(percentile(repeated, 0.5), 3)) p99_ms=\(fixed(p99, 3)) target_p99_ms=1 "
                + "\(p99 < 1 ? "MET" : "MISSED")")
    }

    private func openAll() throws -> [StreamArchive] {
        try (0..<streams).map { try StreamArchive.open(root: directory, name: "s\($0)") }
    }

    /// Writes day index files directly (no segment files: start-up and queries never read them).
    private func generate(start: Int64, end: Int64, segmentMs: Int64) throws {
        let sha = [UInt8](repeating: 0xA5, count: 32)
        for stream in 0..<streams {
            var day = start
            while day < end {
                let name = SegmentRecord.dayName(ofMs: day)
                let path = "\(directory)/s\(stream)/\(name)"
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
                var buffer = ByteBuffer()
                buffer.reserveCapacity(Int(86_400_000 / segmentMs) * 56)
                var time = day
                while time < min(day + 86_400_000, end) {
                    SegmentRecord(startMs: time, durationMs: segmentMs, bytes: 1_500_000, initID: "0000abcd", sha256: sha).encode(
                        into: &buffer)
                    time += segmentMs
                }
                _ = FileManager.default.createFile(atPath: "\(path)/index.bin", contents: Data(buffer.readableBytesView))
                day += 86_400_000
            }
        }
    }
}
