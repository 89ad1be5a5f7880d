import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `estuary replication`: what a replicator is doing, stream by stream (its `GET /status`).
struct ReplicationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replication", abstract: "Show a replicator's streams: percent present, gaps, copied, last error.")

    @Option(help: "The replicator's status URL.") var url = "http://127.0.0.1:8090"

    func run() async throws {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(url)/status"), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw ValidationError("\(url)/status answered \(response.status.code)") }
        struct Status: Decodable {
            struct Stream: Decodable {
                var primary: String
                var percent: Double
                var gaps: Int
                var missingSegments: Int
                var copiedSegments: Int
                var copiedBytes: Int
                var running: Bool
                var lastError: String?
            }
            var target: String
            var speedLimit: Int?
            var streams: [String: Stream]
            var heldForLive: Bool?
            var laggingLive: [String]?
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let status = try decoder.decode(Status.self, from: Data(body.readableBytesView))
        print("target \(status.target)   speed limit \(status.speedLimit.map { "\($0 / 1_000_000) Mbit/s" } ?? "none")")
        if status.heldForLive == true {
            print("paused: the target's live recording lags (\((status.laggingLive ?? []).joined(separator: "; ")))")
        }
        print("STREAM".padding(toLength: 24, withPad: " ", startingAt: 0) + "PRESENT  GAPS  MISSING  COPIED        STATE")
        for name in status.streams.keys.sorted() {
            guard let stream = status.streams[name] else { continue }
            let state = (stream.lastError.map { "error: \($0)" } ?? (stream.running ? "copying" : "idle")) + "  from \(stream.primary)"
            let copied = "\(stream.copiedSegments) (\(stream.copiedBytes / 1_000_000) MB)"
            print(
                name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%6.1f%%", stream.percent) + "  "
                    + "\(stream.gaps)".padding(toLength: 6, withPad: " ", startingAt: 0)
                    + "\(stream.missingSegments)".padding(toLength: 9, withPad: " ", startingAt: 0)
                    + copied.padding(toLength: 14, withPad: " ", startingAt: 0) + state)
        }
    }
}
