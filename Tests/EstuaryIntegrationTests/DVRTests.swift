import AsyncHTTPClient
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryDVR
import EstuaryNode
import EstuaryTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// A recorded stream: `fake://NAME` (or `input`) recorded under `root`.
func recorded(
    _ name: String, root: String, input: String? = nil, timeout: Int = 3, configure: (inout DVRConfig) -> Void = { _ in }
)
    -> StreamConfig
{
    var dvr = DVRConfig(root: root)
    configure(&dvr)
    return StreamConfig(name: name, inputs: [InputConfig(url: input ?? "fake://\(name)", sourceTimeout: timeout)], dvr: dvr)
}

struct RangeReport: Decodable, Equatable {
    var from: Int64
    var duration: Int64
}

struct SegmentReport: Decodable, Hashable {
    var startMs: Int64
    var durationMs: Int64
    var bytes: Int
    var sha256: String

    enum CodingKeys: String, CodingKey {
        case bytes, sha256
        case startMs = "start_ms"
        case durationMs = "duration_ms"
    }
}

/// `dvr/ranges` of a stream.
func archiveRanges(port: Int, _ name: String) async throws -> [RangeReport] {
    struct Body: Decodable { var ranges: [RangeReport] }
    let response = try await httpGet("http://127.0.0.1:\(port)/streamer/api/v3/streams/\(name)/dvr/ranges")
    guard response.status == 200 else { throw TestFailure("ranges of \(name): \(response.status) \(response.body)") }
    return try JSONDecoder().decode(Body.self, from: Data(response.body.utf8)).ranges
}

/// `dvr/segments` of a stream (signed with `key` when the node has a cluster key).
func archiveSegments(port: Int, _ name: String, key: String? = nil) async throws -> [SegmentReport] {
    struct Body: Decodable { var segments: [SegmentReport] }
    let path = "/streamer/api/v3/streams/\(name)/dvr/segments"
    let headers = key.map { [("Authorization", ClusterAuth(key: $0).authorizationHeader(method: "GET", path: path))] } ?? []
    let response = try await httpGet("http://127.0.0.1:\(port)\(path)", headers: headers)
    guard response.status == 200 else { throw TestFailure("segments of \(name): \(response.status) \(response.body)") }
    return try JSONDecoder().decode(Body.self, from: Data(response.body.utf8)).segments
}

extension IntegrationTests {
    /// dvr-node behaviour (DESIGN §4.2, §6) with real files, real sockets and ffmpeg as the independent reader.
    @Suite(.serialized) struct DVRTests {
        @Test(.enabled(if: FFmpegTool.enabled)) func twentySecondsOfFakeAndFFmpegFedStreamsPlayBack() async throws {
            try await withTemporaryDirectory { directory in
                let clip = try await TSIngestTests.makeClip(in: directory)
                let udpPort = try await freeUDPPort()
                let root = directory.appendingPathComponent("storage").path
                let streams = [
                    recorded("cam", root: root), recorded("feed", root: root, input: "udp://127.0.0.1:\(udpPort)", timeout: 20),
                ]
                try await withNode(streams: streams) { _, port in
                    let sender = try FFmpegTool.start(
                        "ffmpeg",
                        [
                            "-v", "error", "-re", "-stream_loop", "5", "-i", clip.path, "-c", "copy", "-f", "mpegts",
                            "udp://127.0.0.1:\(udpPort)?pkt_size=1316",
                        ])
                    defer { sender.terminate() }
                    for name in ["cam", "feed"] {
                        try await waitUntil("\(name) has 24 s of archive", timeout: .seconds(60)) {
                            (try? await archiveRanges(port: port, name).first?.duration ?? 0) ?? 0 >= 24
                        }
                    }
                    for name in ["cam", "feed"] {
                        let from = try #require(try await archiveRanges(port: port, name).first).from + 1
                        let base = "http://127.0.0.1:\(port)/\(name)/archive-\(from)-20"
                        let probed = try await FFmpegTool.run(
                            "ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", "\(base).mp4"],
                            timeout: .seconds(60))
                        let duration = try #require(
                            Double(String(decoding: probed, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
                        #expect(abs(duration - 20) <= 4.5, "\(name).mp4 lasts \(duration) s, not 20 ± one segment")
                        for url in ["\(base).mp4", "\(base).m3u8"] {
                            let errors = try await FFmpegTool.run(
                                "ffmpeg", ["-v", "error", "-i", url, "-f", "null", "-"], timeout: .seconds(60))
                            #expect(errors.isEmpty, "ffmpeg decoding \(url): \(String(decoding: errors, as: UTF8.self))")
                        }
                        let playlist = try await httpGet("\(base).m3u8").body
                        let listed = playlist.split(separator: "\n").filter { $0.hasPrefix("#EXTINF:") }
                            .compactMap { Double($0.dropFirst(8).dropLast()) }.reduce(0, +)
                        #expect(abs(listed - 20) <= 4.5, "\(name).m3u8 lists \(listed) s")
                    }
                }
            }
        }

        @Test func anMP4ExportAnswersByteRangesWithTheBytesOfTheWholeFile() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("storage").path
                try await withNode(streams: [recorded("cam", root: root)]) { node, port in
                    try await waitUntil("cam has 14 s of archive", timeout: .seconds(60)) {
                        (try? await archiveRanges(port: port, "cam").first?.duration ?? 0) ?? 0 >= 14
                    }
                    let from = try #require(try await archiveRanges(port: port, "cam").first).from + 1
                    let url = "http://127.0.0.1:\(port)/cam/archive-\(from)-12.mp4"
                    func fetch(_ range: String?, from url: String = url) async throws -> (status: UInt, bytes: [UInt8]) {
                        var request = HTTPClientRequest(url: url)
                        if let range { request.headers.add(name: "Range", value: range) }
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        let body = try await response.body.collect(upTo: 256 << 20)
                        return (response.status.code, Array(body.readableBytesView))
                    }
                    let whole = try await fetch(nil)
                    #expect(whole.status == 200)
                    let file = whole.bytes
                    #expect(file.count > 100_000)
                    // Packed (`PackedExportSegment`): after the init, `moof` + `mdat` pairs whose payloads are the
                    // segment files, whole and in order (a segment splits into runs where a track's times jump, as the
                    // fake clip's audio does where it loops).
                    var topLevel: [(type: String, size: Int)] = []
                    var position = 0
                    while position + 8 <= file.count {
                        let size = file[position..<(position + 4)].reduce(0) { $0 << 8 | Int($1) }
                        topLevel.append((String(decoding: file[(position + 4)..<(position + 8)], as: UTF8.self), size))
                        guard size >= 8 else { break }
                        position += size
                    }
                    #expect(position == file.count, "the top-level boxes add up to the file")
                    #expect(topLevel.prefix(2).map(\.type) == ["ftyp", "moov"])
                    let body = Array(topLevel.dropFirst(2))
                    #expect(body.indices.allSatisfy { body[$0].type == ($0 % 2 == 0 ? "moof" : "mdat") }, "\(body.map(\.type))")
                    // The export holds the segments whose middle falls in the range (recording goes on meanwhile).
                    let exported = try await archiveSegments(port: port, "cam").filter {
                        ((from * 1000)..<((from + 12) * 1000)).contains($0.startMs + $0.durationMs / 2)
                    }
                    let payloads = body.filter { $0.type == "mdat" }.reduce(0) { $0 + $1.size - 8 }
                    #expect(payloads == exported.reduce(0) { $0 + $1.bytes }, "the mdat payloads are the \(exported.count) segment files")
                    #expect(body.count / 2 >= exported.count)
                    // Ranges at the start, across segments and boxes, inside a later segment only, and to the end.
                    var generator = SeededGenerator(seed: 11)
                    var ranges = [(0, 99), (0, file.count - 1), (file.count / 2, file.count - 1), (file.count - 10, file.count - 1)]
                    for _ in 0..<12 {
                        let first = Int.random(in: 0..<file.count, using: &generator)
                        ranges.append((first, min(file.count - 1, first + Int.random(in: 0..<400_000, using: &generator))))
                    }
                    // The first answer came from the router, which read the layouts and the init segment; with them in
                    // memory, the same export is answered on the event loop (`ArchiveFastPath`), ranges too.
                    let fastBefore = node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed)
                    for (first, last) in ranges {
                        let part = try await fetch("bytes=\(first)-\(last)")
                        #expect(part.status == 206)
                        #expect(part.bytes == Array(file[first...last]), "bytes \(first)-\(last) differ from the whole file's")
                    }
                    #expect(node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed) - fastBefore == ranges.count)
                    let again = try await fetch(nil)
                    #expect(again.status == 200 && again.bytes == file, "the whole file again, answered on the event loop")
                    #expect(try await fetch("bytes=\(file.count)-").status == 416)
                    // .m4f, on the event loop too (its days and init segment are in memory): init, then marker and
                    // stored file for every overlapping segment, as a reader of the archive's files makes it.
                    let m4f = try await fetch(nil, from: "http://127.0.0.1:\(port)/cam/archive-\(from)-12.m4f")
                    let reader = try StreamArchive.openForReading(root: root, name: "cam")
                    var expected: [UInt8] = []
                    var currentInit: String?
                    for record in try reader.records(fromMs: from * 1000, toMs: (from + 12) * 1000) {
                        if record.initID != currentInit {
                            expected += try #require(try reader.initSegment(record.initID)).readableBytesView
                            currentInit = record.initID
                        }
                        expected += ArchiveMarker(record).box().readableBytesView
                        expected += try reader.segmentBytes(record).readableBytesView
                    }
                    #expect(m4f.status == 200 && m4f.bytes.count > 100_000)
                    #expect(m4f.bytes == expected, "the .m4f export is not the stored archive")
                    #expect(node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed) - fastBefore == ranges.count + 2)
                }
            }
        }

        /// An export of more segment files than an answer on the event loop holds open at once
        /// (`ArchiveFastPath.filesPerWrite`) goes out in several batches, whole and in order, as the router sends it.
        @Test func anExportOfManySegmentsIsAnsweredOnTheEventLoopInBatches() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("storage").path
                // Twenty stored segments ten minutes ago (recording goes on now, outside the range).
                let startMs = (Int64(Date().timeIntervalSince1970) - 600) * 1000
                func box(_ type: String, _ payload: Int, fill: UInt8) -> ByteBuffer {
                    var buffer = ByteBuffer()
                    buffer.writeInteger(UInt32(8 + payload))
                    buffer.writeString(type)
                    buffer.writeRepeatingByte(fill, count: payload)
                    return buffer
                }
                var expected: [UInt8] = []
                do {
                    let archive = try StreamArchive.open(root: root, name: "cam")
                    var initSegment = box("ftyp", 16, fill: 1)
                    initSegment.writeImmutableBuffer(box("moov", 200, fill: 1))
                    let initID = try archive.storeInit(initSegment)
                    expected += initSegment.readableBytesView
                    for index in 0..<20 {
                        var fragment = box("styp", 8, fill: 2)
                        fragment.writeImmutableBuffer(box("mdat", 5000 + index, fill: UInt8(index)))
                        let record = try archive.write(
                            fragments: [fragment], startMs: startMs + Int64(index) * 2000, durationMs: 2000, initID: initID)
                        expected += ArchiveMarker(record).box().readableBytesView
                        expected += fragment.readableBytesView
                    }
                }
                try await withNode(streams: [recorded("cam", root: root)]) { node, port in
                    let url = "http://127.0.0.1:\(port)/cam/archive-\(startMs / 1000)-40.m4f"
                    func fetch() async throws -> [UInt8] {
                        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
                        #expect(response.status == .ok)
                        return Array(try await response.body.collect(upTo: 16 << 20).readableBytesView)
                    }
                    let before = node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed)
                    // The router first (it reads the init segment from disk), then the event loop.
                    let routed = try await fetch()
                    let fast = try await fetch()
                    #expect(routed == expected, "the router's answer")
                    #expect(fast == expected, "the event loop's answer")
                    #expect(node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed) - before == 1)
                }
                // With a cluster key, .m4f is for the cluster's nodes, on the event loop as in the router.
                let key = "a-cluster-key-for-this-test"
                try await withNode(streams: [recorded("cam", root: root)], clusterKey: key) { node, port in
                    let path = "/cam/archive-\(startMs / 1000)-40.m4f"
                    func status(signed: Bool) async throws -> UInt {
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                        if signed {
                            request.headers.add(
                                name: "Authorization", value: ClusterAuth(key: key).authorizationHeader(method: "GET", path: path))
                        }
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        _ = try await response.body.collect(upTo: 16 << 20)
                        return response.status.code
                    }
                    let routed = try await status(signed: true)
                    #expect(routed == 200, "signed, through the router")
                    let before = node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed)
                    let unsigned = try await status(signed: false)
                    #expect(unsigned == 401, "unsigned, with everything in memory")
                    let fast = try await status(signed: true)
                    #expect(fast == 200, "signed, on the event loop")
                    #expect(node.metrics.archiveExportsOnEventLoop.load(ordering: .relaxed) - before == 1)
                }
            }
        }

        /// Archive segments are answered on the event loop (`ArchiveFastPath`) and every other request by the
        /// router: pipelined on one connection, the answers keep the requests' order and each segment is its file.
        @Test func archiveSegmentsAndOtherRequestsOnOneConnectionAnswerInOrder() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("storage").path
                try await withNode(streams: [recorded("cam", root: root)]) { node, port in
                    try await waitUntil("cam has 3 segments", timeout: .seconds(60)) {
                        ((try? await archiveSegments(port: port, "cam")) ?? []).count >= 3
                    }
                    let segments = Array(try await archiveSegments(port: port, "cam").prefix(3))
                    let paths = segments.map { "/cam/archive/seg-\($0.startMs).m4s" }
                    func get(_ path: String, _ extra: String = "") -> String { "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(extra)\r\n" }
                    let before = node.metrics.archiveSegmentsOnEventLoop.load(ordering: .relaxed)
                    // Three segments back to back (each waits for the one before), then requests the router answers:
                    // one that is not a segment, a missing segment, and a segment asked with Range, which closes.
                    let first = try parseHTTPResponses(
                        try await exchange(
                            port: port,
                            [
                                paths.map { get($0) }.joined() + get("/healthz") + get("/cam/archive/seg-1000.m4s")
                                    + get(paths[0], "Range: bytes=0-9\r\nConnection: close\r\n")
                            ]))
                    #expect(first.map(\.status) == [200, 200, 200, 200, 404, 200])
                    if first.count == 6 {
                        for index in [0, 1, 2] { #expect(sha256Hex(first[index].body) == segments[index].sha256, "segment \(index)") }
                        #expect(first[3].body == Array("ok\n".utf8))
                        #expect(String(decoding: first[4].body, as: UTF8.self).contains("segment_not_found"))
                        #expect(sha256Hex(first[5].body) == segments[0].sha256, "the router sends the whole segment")
                        // The event loop's answers carry what the router's do.
                        for index in [0, 5] {
                            #expect(first[index].head.contains { $0.hasPrefix("date: ") && $0.hasSuffix(" gmt") }, "\(first[index].head)")
                            #expect(first[index].head.contains("content-type: video/iso.segment"))
                            #expect(first[index].head.contains("cache-control: max-age=86400"))
                        }
                    }
                    #expect(node.metrics.archiveSegmentsOnEventLoop.load(ordering: .relaxed) - before == 3)
                    // Once the router's answer has ended, the next segment on the connection goes by the event loop again.
                    let second = try parseHTTPResponses(
                        try await exchange(port: port, [get("/healthz"), get(paths[1], "Connection: close\r\n")]))
                    #expect(second.map(\.status) == [200, 200])
                    #expect(second.count == 2 && sha256Hex(second[1].body) == segments[1].sha256)
                    #expect(node.metrics.archiveSegmentsOnEventLoop.load(ordering: .relaxed) - before == 4)
                }
            }
        }

        @Test func anOutageOfTenSecondsLeavesTwoRangesAndADiscontinuity() async throws {
            try await withTemporaryDirectory { directory in
                let sourcePort = try await freeTCPPort()
                let source = NodeControl(streams: [stream("src", "fake://src")], port: sourcePort)
                try await source.start()
                let root = directory.path
                let streams = [recorded("copy", root: root, input: "m4f://127.0.0.1:\(sourcePort)/src", timeout: 1)]
                try await withNode(streams: streams, logLevel: .critical) { _, port in
                    try await waitUntil("5 s recorded", timeout: .seconds(30)) {
                        (try? await archiveRanges(port: port, "copy").first?.duration ?? 0) ?? 0 >= 5
                    }
                    await source.stop()
                    let stoppedAt = ContinuousClock.now
                    // The outage lasts 10 s; the node must not fill it.
                    try await Task.sleep(until: stoppedAt + .seconds(10))
                    try await source.start()
                    try await waitUntil("a second range", timeout: .seconds(30)) {
                        (try? await archiveRanges(port: port, "copy").count) == 2
                    }
                    let ranges = try await archiveRanges(port: port, "copy")
                    let gap = ranges[1].from - (ranges[0].from + ranges[0].duration)
                    #expect(gap >= 8, "the outage left a gap of \(gap) s: \(ranges)")
                    let from = ranges[0].from
                    let playlist = try await httpGet("http://127.0.0.1:\(port)/copy/archive-\(from)-now.m3u8").body
                    #expect(playlist.contains("#EXT-X-DISCONTINUITY"), "\(playlist)")
                    #expect(playlist.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !playlist.contains("ENDLIST"))
                }
                await source.stop()
            }
        }

        @Test func retentionByAgeSizeDiskUsageAndEpisodes() async throws {
            try await withTemporaryDirectory { directory in
                try await withBackend { backend, control in
                    let root = directory.appendingPathComponent("a").path
                    let small = directory.appendingPathComponent("small").path
                    let recordedBytes = Mutex(0)
                    let episodesURL = control.url.replacingOccurrences(of: "/streams", with: "/episodes")
                    let streams = [
                        recorded("aged", root: root) { $0.expiration = 8 },
                        recorded("sized", root: root) { $0.storageLimit = 2_500_000 },
                        recorded("crowded", root: small) { $0.diskUsageLimit = 50 },
                        recorded("kept", root: root) {
                            $0.expiration = 6
                            $0.episodesURL = episodesURL
                        },
                    ]
                    let startMs = Int64(Date().timeIntervalSince1970 * 1000)
                    // An episode covers the first 6 s of "kept".
                    backend.script.withLock {
                        $0.episodes = (
                            200,
                            "{\"episodes\": [{\"opened_at\": \(startMs), \"updated_at\": \(startMs), \"closed_at\": \(startMs + 6000)}]}"
                        )
                    }
                    try await withNode(
                        streams: streams, logLevel: .error,
                        options: { options in
                            options.dvrCleanupInterval = .milliseconds(500)
                            // The "small" filesystem is 6 MB; the archive under it is all that uses it.
                            options.diskUsageProbe = { path in
                                guard path == small else { return StreamArchive.filesystem(path) }
                                return (6_000_000, 6_000_000 - recordedBytes.withLock { $0 })
                            }
                        }
                    ) { node, port in
                        try await waitUntil("every stream has 20 s of archive", timeout: .seconds(60)) {
                            for stream in node.manager.all {
                                guard
                                    let archive = try? await node.manager.archives.archive(root: stream.config.dvr!.root, name: stream.name)
                                else {
                                    return false
                                }
                                if stream.name == "crowded" { recordedBytes.withLock { $0 = archive.totalBytes } }
                            }
                            let segments = try await archiveSegments(port: port, "sized")
                            let kept = try await archiveSegments(port: port, "kept")
                            return (kept.last.map { $0.startMs + $0.durationMs - startMs } ?? 0) >= 20_000 && !segments.isEmpty
                        }
                        let now = Int64(Date().timeIntervalSince1970 * 1000)
                        let aged = try await archiveSegments(port: port, "aged")
                        #expect(
                            aged.allSatisfy { $0.startMs + $0.durationMs > now - 8_000 - 2_000 },
                            "aged keeps old segments: \(aged.map(\.startMs))")
                        let sized = try await archiveSegments(port: port, "sized")
                        #expect(
                            sized.reduce(0) { $0 + $1.bytes } <= 2_500_000 + 1_500_000,
                            "sized holds \(sized.reduce(0) { $0 + $1.bytes }) bytes")
                        let crowded = try await archiveSegments(port: port, "crowded")
                        #expect(
                            crowded.reduce(0) { $0 + $1.bytes } <= 3_000_000 + 1_500_000,
                            "crowded holds \(crowded.reduce(0) { $0 + $1.bytes })")
                        let kept = try await archiveSegments(port: port, "kept")
                        #expect(kept.first.map { $0.startMs < startMs + 6000 } == true, "the episode's segments were deleted")
                        #expect(kept.contains { $0.startMs > startMs + 12_000 })
                        #expect(!kept.contains { $0.startMs > startMs + 6_000 && $0.startMs + $0.durationMs < now - 8_000 })

                        // The episodes backend fails: nothing more of "kept" is deleted.
                        backend.script.withLock { $0.episodes = (500, "down") }
                        backend.clearLog()
                        try await waitUntil("a cleanup pass meets the failing episodes backend") {
                            backend.requests.contains { $0.path.hasSuffix("/episodes") }
                        }
                        let frozen = try await archiveSegments(port: port, "kept")
                        // Watch several more passes (every 0.5 s) against the failing backend.
                        try await Task.sleep(for: .seconds(8))
                        let later = try await archiveSegments(port: port, "kept")
                        #expect(Set(frozen.map(\.startMs)).isSubset(of: Set(later.map(\.startMs))), "cleanup ran while episodes failed")
                    }
                }
            }
        }

        /// Episodes from the configuration backend itself (DESIGN §3 step 4): with `X-Config-Server-Episodes: true` and
        /// no `episodes_url`, cleanup asks the backend's `/episodes` with the stream's name and the filters, and keeps what
        /// an episode covers; a 501 keeps everything from expiring.
        @Test func episodesFromTheConfigBackendKeepArchiveAndA501StopsExpiration() async throws {
            try await withTemporaryDirectory { directory in
                try await withBackend { backend, control in
                    let root = directory.appendingPathComponent("a").path
                    let startMs = Int64(Date().timeIntervalSince1970 * 1000)
                    backend.script.withLock { script in
                        script.headers = [("X-Config-Server-Episodes", "true")]
                        script.listed = [
                            (
                                "kept",
                                #"{"name": "kept", "inputs": [{"url": "fake://kept"}], "dvr": {"root": "\#(root)", "expiration": 6}}"#
                            )
                        ]
                        script.episodes = (
                            200, #"{"episodes": [{"opened_at": \#(startMs), "updated_at": \#(startMs), "closed_at": \#(startMs + 6000)}]}"#
                        )
                    }
                    try await withNode(
                        streams: [], logLevel: .error,
                        options: { options in
                            options.configExternalOverride = control.url
                            options.dvrCleanupInterval = .milliseconds(500)
                        }
                    ) { node, port in
                        try await waitUntil("kept has 20 s of archive", timeout: .seconds(60)) {
                            let kept = (try? await archiveSegments(port: port, "kept")) ?? []
                            return (kept.last.map { $0.startMs + $0.durationMs - startMs } ?? 0) >= 20_000
                        }
                        let asked = try #require(backend.requests.last { $0.path.hasSuffix("/episodes") })
                        #expect(asked.parameters["name"] == "kept", "\(asked.query)")
                        #expect(asked.parameters["opened_at_lt"] != nil && asked.parameters["closed_at_gt"] != nil, "\(asked.query)")
                        try await waitUntil("expiration deletes what the episode does not cover") {
                            let now = Int64(Date().timeIntervalSince1970 * 1000)
                            let kept = (try? await archiveSegments(port: port, "kept")) ?? []
                            return !kept.contains { $0.startMs > startMs + 6_000 && $0.startMs + $0.durationMs < now - 8_000 }
                        }
                        let kept = try await archiveSegments(port: port, "kept")
                        #expect(kept.first.map { $0.startMs < startMs + 6000 } == true, "the episode's segments were deleted")

                        // 501: the backend keeps no episodes, so nothing is deleted by expiration any more.
                        backend.script.withLock { $0.episodes = (501, "not implemented") }
                        backend.clearLog()
                        try await waitUntil("a cleanup pass meets the 501") {
                            backend.requests.contains { $0.path.hasSuffix("/episodes") }
                        }
                        let frozen = try await archiveSegments(port: port, "kept")
                        // Several more passes (every 0.5 s), during which segments pass the 6 s expiration.
                        try await Task.sleep(for: .seconds(8))
                        let later = try await archiveSegments(port: port, "kept")
                        #expect(Set(frozen.map(\.startMs)).isSubset(of: Set(later.map(\.startMs))), "expiration ran after a 501")
                        #expect(node.manager.stream(named: "kept")?.origin == .external)
                    }
                }
            }
        }

        @Test func importMakesBothArchivesIdenticalAndKeepsWholeSegmentsOfACutBody() async throws {
            try await withTemporaryDirectory { directory in
                let idle = try await freeUDPPort()
                let primaryStreams = [recorded("cam", root: directory.appendingPathComponent("a").path)]
                let secondaryStreams = [
                    recorded("cam", root: directory.appendingPathComponent("b").path, input: "udp://127.0.0.1:\(idle)", timeout: 600),
                    recorded("cut", root: directory.appendingPathComponent("b").path, input: "udp://127.0.0.1:\(idle + 1)", timeout: 600),
                ]
                try await withNode(streams: primaryStreams) { _, primary in
                    try await waitUntil("12 s recorded", timeout: .seconds(40)) {
                        (try? await archiveSegments(port: primary, "cam").count) ?? 0 >= 3
                    }
                    let segments = try await archiveSegments(port: primary, "cam")
                    let from = segments[0].startMs / 1000
                    let end = (segments.last!.startMs + segments.last!.durationMs) / 1000 + 1
                    let fetched = try await HTTPClient.shared.execute(
                        HTTPClientRequest(url: "http://127.0.0.1:\(primary)/cam/archive-\(from)-\(end - from).m4f"), timeout: .seconds(30))
                    #expect(fetched.status == .ok)
                    let body = try await fetched.body.collect(upTo: 256 << 20)
                    try await withNode(streams: secondaryStreams) { _, secondary in
                        var request = HTTPClientRequest(url: "http://127.0.0.1:\(secondary)/streamer/api/v3/streams/cam/dvr/import")
                        request.method = .POST
                        request.body = .bytes(body)
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                        #expect(response.status == .ok, "\(text)")
                        let copied = try await archiveSegments(port: secondary, "cam")
                        let expected = segments.filter { $0.startMs / 1000 >= from }
                        #expect(copied.map(\.sha256) == expected.map(\.sha256))
                        #expect(copied.map(\.startMs) == expected.map(\.startMs))

                        var cut = HTTPClientRequest(url: "http://127.0.0.1:\(secondary)/streamer/api/v3/streams/cut/dvr/import")
                        cut.method = .POST
                        cut.body = .bytes(body.getSlice(at: 0, length: body.readableBytes * 2 / 3)!)
                        _ = try await HTTPClient.shared.execute(cut, timeout: .seconds(30)).body.collect(upTo: 1 << 20)
                        let partial = try await archiveSegments(port: secondary, "cut")
                        #expect(!partial.isEmpty && partial.count < expected.count)
                        #expect(partial.map(\.sha256) == Array(expected.prefix(partial.count)).map(\.sha256))
                    }
                }
            }
        }

        @Test func twentySIGKILLsLoseAtMostTheSegmentBeingWritten() async throws {
            let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("dvr-node").path
            let executable =
                FileManager.default.isExecutableFile(atPath: binary)
                ? binary
                : URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dvr-node").path
            try #require(FileManager.default.isExecutableFile(atPath: executable), "no dvr-node binary beside the tests (\(executable))")
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("storage").path
                let yaml = directory.appendingPathComponent("dvr.yaml")
                try "streams:\n  - {name: cam, inputs: [{url: \"fake://cam\"}], dvr: {root: \(root)}}\n"
                    .write(to: yaml, atomically: true, encoding: .utf8)
                var generator = SeededGenerator(seed: 20)
                var known: [SegmentRecord] = []
                for round in 0..<20 {
                    let port = try await freeTCPPort()
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = ["--config", yaml.path, "--http-port", "\(port)"]
                    process.standardOutput = FileHandle.nullDevice
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    try await waitUntil("round \(round): the node answers") {
                        (try? await httpGet("http://127.0.0.1:\(port)/healthz").status) == 200
                    }
                    // Kill at a random moment: often while a segment is being written or indexed.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 3500...8500, using: &generator)))
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    // Recover as the next start will, and check every listed segment against its file.
                    let archive = try StreamArchive.open(root: root, name: "cam")
                    let records = try archive.records(fromMs: 0, toMs: .max)
                    for record in records {
                        let data = try Data(contentsOf: URL(fileURLWithPath: archive.path(of: record)))
                        #expect(data.count == record.bytes, "round \(round): \(record.fileName) has \(data.count) bytes")
                        #expect(sha256Hex(Array(data)) == record.sha256Hex, "round \(round): \(record.fileName) is damaged")
                    }
                    #expect(Set(known).isSubset(of: Set(records)), "round \(round): a completed segment was lost")
                    #expect(archive.ranges() == ArchiveRange.merge(records.map { ArchiveRange(fromMs: $0.startMs, toMs: $0.endMs) }))
                    let leftovers = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String }.filter {
                        $0.hasSuffix(".tmp")
                    }
                    #expect(leftovers?.isEmpty != false, "round \(round): temporary files left: \(leftovers ?? [])")
                    known = records
                }
                #expect(known.count >= 5, "only \(known.count) segments written in 20 rounds")
            }
        }

        /// A tmpfs can be mounted here (root with CAP_SYS_ADMIN, as in CI).
        static let canMountTmpfs: Bool = {
            guard getuid() == 0, let directory = try? makeTemporaryDirectory(prefix: "estuary-probe") else { return false }
            defer { try? FileManager.default.removeItem(at: directory) }
            guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", directory.path]) == 0 else { return false }
            _ = run("/bin/umount", [directory.path])
            return true
        }()

        @discardableResult
        static func run(_ tool: String, _ arguments: [String]) -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = arguments
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            guard (try? process.run()) != nil else { return -1 }
            process.waitUntilExit()
            return process.terminationStatus
        }

        @Test(.enabled(if: canMountTmpfs, "needs root to mount a small tmpfs"))
        func aFullDiskPausesRecordingAndItResumesWhenSpaceReturns() async throws {
            try await withTemporaryDirectory { directory in
                let root = directory.appendingPathComponent("small").path
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                #expect(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=5m", "tmpfs", root]) == 0)
                defer { Self.run("/bin/umount", ["-l", root]) }
                try await withNode(streams: [recorded("cam", root: root)], logLevel: .critical) { node, port in
                    struct Status: Decodable {
                        var segments: Int
                        var dvrDiskFull: Bool
                        enum CodingKeys: String, CodingKey {
                            case segments
                            case dvrDiskFull = "dvr_disk_full"
                        }
                    }
                    func status() async throws -> Status {
                        try JSONDecoder().decode(
                            Status.self, from: Data(try await httpGet("http://127.0.0.1:\(port)/cam/recording_status.json").body.utf8))
                    }
                    try await waitUntil("the disk fills", timeout: .seconds(60)) { try await status().dvrDiskFull }
                    let full = try await archiveSegments(port: port, "cam")
                    #expect(!full.isEmpty)
                    let archive = try await node.manager.archives.archive(root: root, name: "cam")
                    for segment in full {
                        let record = try #require(try archive.record(startingAt: segment.startMs))
                        let data = try Data(contentsOf: URL(fileURLWithPath: archive.path(of: record)))
                        #expect(sha256Hex(Array(data)) == segment.sha256, "a segment written before the disk filled is damaged")
                    }
                    #expect(node.manager.stream(named: "cam")?.isAlive == true, "the live stream stopped with the disk")
                    // Free space: delete the oldest two segments through the API.
                    let from = full[0].startMs / 1000
                    let body = "{\"from\": \(from), \"duration\": \((full[1].startMs - full[0].startMs) / 1000 + 1)}"
                    #expect(
                        try await httpSend(.DELETE, "http://127.0.0.1:\(port)/streamer/api/v3/streams/cam/dvr/ranges", json: body).status
                            == 200)
                    try await waitUntil("recording resumes", timeout: .seconds(30)) {
                        let now = try await archiveSegments(port: port, "cam")
                        return now.last.map { $0.startMs > full.last!.startMs } == true
                    }
                    #expect(try await status().dvrDiskFull == false)
                }
            }
        }

        @Test func badRangesAreRefusedWithAReason() async throws {
            try await withTemporaryDirectory { directory in
                try await withNode(streams: [recorded("cam", root: directory.path)]) { _, port in
                    let now = Int64(Date().timeIntervalSince1970)
                    let cases = [
                        ("archive-\(now + 3600)-10.mp4", "future"), ("archive-\(now - 100)--5.mp4", "duration"),
                        ("archive-\(now - 100)-0.m3u8", "duration"), ("archive-\(now - 200_000)-90000.mp4", "24 h"),
                        ("archive-abc-10.m4f", "from"), ("archive-\(now - 10)-now.mp4", "now"),
                    ]
                    for (path, words) in cases {
                        let response = try await httpGet("http://127.0.0.1:\(port)/cam/\(path)")
                        #expect(response.status == 400, "\(path): \(response.status)")
                        #expect(response.body.contains(words), "\(path): \(response.body)")
                    }
                    #expect(try await httpGet("http://127.0.0.1:\(port)/nope/recording_status.json").status == 404)
                }
            }
        }
    }
}

/// A node that a test stops and starts again on the same port (a source that goes away and returns).
final class NodeControl: Sendable {
    let streams: [StreamConfig]
    let port: Int
    let configure: @Sendable (inout NodeOptions) -> Void
    private let task = Mutex<(task: Task<Void, any Error>?, node: Node?)>((nil, nil))

    init(streams: [StreamConfig], port: Int, configure: @escaping @Sendable (inout NodeOptions) -> Void = { _ in }) {
        self.streams = streams
        self.port = port
        self.configure = configure
    }

    /// The node while it runs.
    var node: Node? { task.withLock { $0.node } }

    func start() async throws {
        var logger = Logger(label: "test.source")
        logger.logLevel = .critical
        var options = NodeOptions(httpHost: "127.0.0.1", httpPort: port, hostname: "source")
        configure(&options)
        let node = Node(options: options, streams: streams, logger: logger)
        let running = Task { try await node.run() }
        task.withLock { $0 = (running, node) }
        _ = await node.waitUntilListening()
    }

    func stop() async {
        let running = task.withLock { task in
            defer { task = (nil, nil) }
            return task.task
        }
        running?.cancel()
        _ = await running?.result
    }
}

/// Sends each of `steps` on one new connection to 127.0.0.1:`port`, each once every response to the steps before it
/// has arrived (a step holds one or more requests, each starting with `GET `), and returns every byte received
/// until the node closes the connection (at most 30 s).
func exchange(port: Int, _ steps: [String]) async throws -> [UInt8] {
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let received = Mutex<[UInt8]>([])
        let done: EventLoopPromise<Void>
        init(done: EventLoopPromise<Void>) { self.done = done }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = unwrapInboundIn(data)
            received.withLock { $0 += bytes.readableBytesView }
        }
        func channelInactive(context: ChannelHandlerContext) { done.succeed(()) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
    }
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let collector = Collector(done: loop.makePromise())
    let channel = try await ClientBootstrap(group: loop)
        .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
        }
        .connect(host: "127.0.0.1", port: port).get()
    let deadline = loop.scheduleTask(in: .seconds(30)) { channel.close(promise: nil) }
    defer { deadline.cancel() }
    var expected = 0
    for step in steps {
        if expected > 0 {
            try await waitUntil("\(expected) responses", timeout: .seconds(20)) {
                ((try? parseHTTPResponses(collector.received.withLock { $0 })) ?? []).count >= expected
            }
        }
        try await channel.writeAndFlush(ByteBuffer(string: step))
        expected += step.components(separatedBy: "GET ").count - 1
    }
    try await collector.done.futureResult.get()
    return collector.received.withLock { $0 }
}

/// HTTP/1.1 responses one after another, each framed by its `Content-Length` (head lines lowercased).
func parseHTTPResponses(_ bytes: [UInt8]) throws -> [(status: Int, head: [String], body: [UInt8])] {
    var responses: [(status: Int, head: [String], body: [UInt8])] = []
    var rest = bytes[...]
    let separator = Array("\r\n\r\n".utf8)
    while !rest.isEmpty {
        guard let end = rest.indices.first(where: { rest[$0...].starts(with: separator) }) else {
            throw TestFailure("an incomplete response head after \(responses.count) responses")
        }
        let head = String(decoding: rest[..<end], as: UTF8.self).lowercased().split(separator: "\r\n")
        guard let status = head.first.flatMap({ Int($0.split(separator: " ")[1]) }),
            let length = head.first(where: { $0.hasPrefix("content-length:") }).flatMap({
                Int($0.dropFirst(15).trimmingCharacters(in: .whitespaces))
            }),
            rest.distance(from: end + 4, to: rest.endIndex) >= length
        else { throw TestFailure("response \(responses.count + 1) has no status, no Content-Length or a short body") }
        responses.append((status, head.map(String.init), Array(rest[(end + 4)..<(end + 4 + length)])))
        rest = rest[(end + 4 + length)...]
    }
    return responses
}
