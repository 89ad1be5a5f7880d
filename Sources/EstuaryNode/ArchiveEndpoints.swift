import EstuaryAccess
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryDVR
import EstuarySources
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix

/// The archive endpoints of DESIGN §4.2 (routed in ``buildRouter(node:)``).
enum ArchiveEndpoints {
    /// The archive of a stream recorded here.
    static func archive(_ node: Node, _ name: String) async throws -> StreamArchive {
        guard let stream = node.manager.stream(named: name) else { throw NodeError.streamNotFound(name) }
        guard let dvr = stream.config.dvr else {
            throw NodeError(.notFound, "not_recorded", "stream '\(name)' has no dvr block on this node")
        }
        do {
            return try await node.manager.archives.archive(root: dvr.root, name: name)
        } catch {
            throw NodeError(.internalServerError, "archive_unavailable", "the archive of '\(name)' cannot be opened: \(error)")
        }
    }

    static func io<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await blockingIO(body)
        } catch let error as DVRError {
            throw NodeError(.internalServerError, "archive_io_error", error.description)
        }
    }

    struct RangeJSON: Codable {
        var from: Int64
        var duration: Int64
    }

    static func rangesJSON(_ ranges: [ArchiveRange]) -> [RangeJSON] {
        ranges.map { RangeJSON(from: $0.fromMs / 1000, duration: max(1, ($0.toMs + 999) / 1000 - $0.fromMs / 1000)) }
    }

    /// `GET /streamer/api/v3/streams/{name}/dvr/ranges`.
    static func ranges(_ node: Node, _ name: String) async throws -> Response {
        let archive = try await archive(node, name)
        return try jsonResponse(["ranges": rangesJSON(archive.ranges())])
    }

    /// `DELETE /streamer/api/v3/streams/{name}/dvr/ranges` with `{"from", "duration"}`: deletes the segments
    /// that start inside the range.
    static func deleteRange(_ node: Node, _ name: String, _ request: Request) async throws -> Response {
        let archive = try await archive(node, name)
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let range = try? JSONDecoder().decode(RangeJSON.self, from: Data(body.readableBytesView)) else {
            throw NodeError(.badRequest, "invalid_range", "the body must be {\"from\": UTC seconds, \"duration\": seconds}")
        }
        guard range.duration > 0, range.from >= 0, range.from <= Int64.max / 2000, range.duration <= Int64.max / 2000 else {
            throw NodeError(.badRequest, "invalid_range", "from must be ≥ 0 and duration > 0 (seconds)")
        }
        let fromMs = range.from * 1000
        let toMs = fromMs + range.duration * 1000
        let deleted = try await io { try archive.delete(fromMs: fromMs, toMs: toMs) { $0.startMs >= fromMs && $0.startMs < toMs } }
        return try jsonResponse(["deleted_segments": deleted.segments, "deleted_bytes": deleted.bytes])
    }

    struct SegmentJSON: Codable {
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

    /// `GET /streamer/api/v3/streams/{name}/dvr/segments?from=&to=` (UTC seconds; both optional).
    static func segments(_ node: Node, _ name: String, _ request: Request) async throws -> Response {
        let archive = try await archive(node, name)
        let query = request.uri.queryParameters
        func seconds(_ key: String, default value: Int64) throws -> Int64 {
            guard let text = query[Substring(key)].map(String.init) else { return value }
            guard let number = Int64(text), number >= 0, number <= Int64.max / 2000 else {
                throw NodeError(.badRequest, "invalid_range", "\(key) must be UTC seconds, got '\(text)'")
            }
            return number
        }
        let from = try seconds("from", default: 0)
        let to = try seconds("to", default: Int64.max / 2000)
        guard to >= from else { throw NodeError(.badRequest, "invalid_range", "to (\(to)) is before from (\(from))") }
        let records = try await io { try archive.records(fromMs: from * 1000, toMs: to * 1000) }
        return try jsonResponse([
            "segments": records.map { SegmentJSON(startMs: $0.startMs, durationMs: $0.durationMs, bytes: $0.bytes, sha256: $0.sha256Hex) }
        ])
    }

    struct RecordingStatus: Encodable {
        var from: Int64?
        var depth: Int64
        var ranges: [RangeJSON]
        var bytes: Int
        var diskSize: Int
        var duration: Int64
        var segments: Int
        var recording: Bool
        var diskFull: Bool
        var writeErrors: Int
        var droppedChunks: Int
        var overlaps: Int
        var lastError: String?

        enum CodingKeys: String, CodingKey {
            case from, depth, ranges, bytes, duration, segments, recording, overlaps
            case diskSize = "disk_size"
            case diskFull = "dvr_disk_full"
            case writeErrors = "write_errors"
            case droppedChunks = "dropped_chunks"
            case lastError = "last_error"
        }
    }

    /// `GET /{name}/recording_status.json`.
    static func recordingStatus(_ node: Node, _ name: String) async throws -> Response {
        let archive = try await archive(node, name)
        let ranges = archive.ranges()
        let status = node.manager.stream(named: name)?.recorder?.status ?? Recorder.RecorderStatus()
        let now = Int64(Date().timeIntervalSince1970)
        let from = ranges.first.map { $0.fromMs / 1000 }
        let diskSize = node.options.diskUsageProbe(archive.root)?.total ?? 0
        return try jsonResponse(
            RecordingStatus(
                from: from, depth: from.map { now - $0 } ?? 0, ranges: rangesJSON(ranges), bytes: archive.totalBytes, diskSize: diskSize,
                duration: ranges.reduce(0) { $0 + $1.durationMs } / 1000, segments: archive.segmentCount,
                recording: node.manager.stream(named: name)?.recorder != nil, diskFull: status.diskFull,
                writeErrors: status.writeErrors, droppedChunks: status.droppedChunks, overlaps: archive.overlaps,
                lastError: status.lastError))
    }

    /// The range of an export request, checked: `from` and `duration` in seconds, `live` for `duration` "now".
    /// Throws a 400 naming what is wrong.
    static func exportRange(
        from fromText: String, duration durationText: String, format: MediaPath.ArchiveFormat, now: Int64
    ) throws -> (from: Int64, duration: Int64, live: Bool) {
        guard let from = Int64(fromText), from >= 0, from <= Int64.max / 2000 else {
            throw NodeError(.badRequest, "invalid_range", "from must be UTC seconds, got '\(fromText)'")
        }
        guard from <= now + 5 else { throw NodeError(.badRequest, "invalid_range", "from (\(from)) is in the future (now \(now))") }
        let live = durationText == "now"
        let duration: Int64
        if live {
            guard format == .m3u8 else {
                throw NodeError(.badRequest, "invalid_range", "duration 'now' is for .m3u8 only; give seconds for .\(format.rawValue)")
            }
            duration = now - from + 1
        } else {
            guard let seconds = Int64(durationText), seconds > 0, seconds <= 366 * 86_400 else {
                throw NodeError(
                    .badRequest, "invalid_range", "duration must be a positive number of seconds or 'now', got '\(durationText)'")
            }
            duration = seconds
        }
        if format == .mp4 && duration > 86_400 {
            throw NodeError(.badRequest, "invalid_range", "an .mp4 export is at most 24 h (86400 s), asked \(duration) s")
        }
        return (from, duration, live)
    }

    /// The head of an export's answer: 206 with `Content-Range` when the request has a `Range` header.
    static func exportHead(ranged: Bool, _ range: Range<Int>, of length: Int) -> (HTTPResponse.Status, HTTPFields) {
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes"]
        guard ranged else { return (.ok, headers) }
        headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound - 1)/\(length)"
        return (.partialContent, headers)
    }

    /// `GET /{name}/archive-{from}-{duration}.{m3u8|mp4|m4f}`.
    static func export(
        _ node: Node, _ name: String, from fromText: String, duration durationText: String, format: MediaPath.ArchiveFormat,
        request: Request, channel: any Channel
    ) async throws -> Response {
        let (from, duration, live) = try exportRange(
            from: fromText, duration: durationText, format: format, now: Int64(Date().timeIntervalSince1970))
        let archive = try await archive(node, name)
        let fromMs = from * 1000
        let toMs = (from + duration) * 1000
        let overlapping = try await io { try archive.records(fromMs: fromMs, toMs: toMs) }
        let records = ArchiveExportBody.records(overlapping, fromMs: fromMs, toMs: toMs, format: format)
        if format == .m3u8 {
            return Response(
                status: .ok, headers: [.contentType: "application/vnd.apple.mpegurl", .cacheControl: live ? "no-cache" : "max-age=60"],
                body: .init(byteBuffer: ByteBuffer(string: withPlaybackToken(ArchivePlaylist.render(records, live: live), request))))
        }
        guard !records.isEmpty else {
            throw NodeError(.notFound, "no_archive", "stream '\(name)' has no archive between \(from) and \(from + duration)")
        }
        var inits: [String: ByteBuffer] = [:]
        for id in ArchiveExportBody.initIDs(records, format: format) {
            if let bytes = try await io({ try archive.initSegment(id) }) { inits[id] = bytes }
        }
        let parts = ArchiveExportBody.parts(records, format: format, inits: inits)
        guard let firstRecord = parts.first?.record else {
            throw NodeError(
                .internalServerError, "archive_unreadable", "the init segment \(records[0].initID) of '\(name)' cannot be read")
        }
        // A longer export than the plan takes is all rebased in place.
        let exported = parts.map(\.record)
        let packing = format == .mp4 ? try await io { try PackedExportSegment.plan(exported, in: archive) } : nil
        let body = ArchiveExportBody(parts, inits: inits, format: format, packing: packing?.segments)
        let length = body.length
        let byteRange = try ByteRangeRequest.parse(request.headers[.range], length: length)
        let selected = body.pieces(in: byteRange)
        let (status, headers) = exportHead(ranged: request.headers[.range] != nil, byteRange, of: length)
        return Response(
            status: status, headers: headers,
            body: .init(contentLength: byteRange.count) { writer in
                // Segment media goes out with sendfile where it can (plain HTTP/1): .m4f sends the stored files,
                // .mp4 a header from memory before each packed run of a stored file (or, for a segment that is not
                // packed, its own boxes rebased in memory and its media payloads from the file).
                try await RawResponseBody.serve(on: channel) { raw in
                    var timeline = packing?.timeline ?? ExportTimeline()
                    if format == .mp4 && packing == nil
                        && !selected.contains(where: { if case .rebased(_, true) = $0.piece { true } else { false } })
                    {
                        // The range starts after the first segment: learn the timeline's origin from it.
                        _ = timeline.rebase(try await io { try archive.segmentBytes(firstRecord) })
                    }
                    // Over sendfile, pieces go out several segments at a time: one hop to the event loop per batch.
                    var batch = RawBatch()
                    defer { batch.closeFiles() }
                    // Without sendfile, the stored file last read (a packed segment of several runs reads it once).
                    var stored: (record: SegmentRecord, bytes: ByteBuffer)?
                    for (part, piece) in selected {
                        let (start, end) = (part.lowerBound, part.upperBound)
                        var bytes: ByteBuffer
                        switch piece {
                        case .bytes(let fixed): bytes = fixed
                        case .packedHeader(let run, let sequence): bytes = run.header(sequence: sequence, timeline: timeline)
                        case .file(let record, let range):
                            let within = (range.lowerBound + start)..<(range.lowerBound + end)
                            if let raw {
                                // An .mp4 run's header promised the file whole, as indexed; .m4f sends what is asked.
                                if format == .m4f {
                                    try batch.appendFile(archive.path(of: record), range: within)
                                } else {
                                    let file = try batch.open(archive.path(of: record), holding: record.bytes, exactly: true)
                                    batch.items.append(
                                        .fileRegion(
                                            FileRegion(fileHandle: file, readerIndex: within.lowerBound, endIndex: within.upperBound)))
                                }
                                if batch.files.count >= RawBatch.filesPerWrite { try await raw.write(&batch) }
                                continue
                            }
                            if stored?.record != record {
                                stored = (record, try await io { try archive.segmentBytes(record, direct: format == .m4f) })
                            }
                            guard let whole = stored?.bytes, whole.readableBytes == record.bytes else {
                                throw NodeError(
                                    .internalServerError, "archive_unreadable",
                                    "segment \(record.startMs) of '\(name)' changed while it was exported")
                            }
                            bytes = whole.getSlice(at: whole.readerIndex + range.lowerBound, length: range.count) ?? ByteBuffer()
                        case .rebased(let record, _):
                            if let raw {
                                try await appendRebased(record, of: archive, bytes: start..<end, timeline: &timeline, to: &batch)
                                if batch.files.count >= RawBatch.filesPerWrite { try await raw.write(&batch) }
                                continue
                            }
                            // An .mp4 file starts at zero.
                            bytes = timeline.rebase(try await io { try archive.segmentBytes(record) })
                        }
                        guard let slice = bytes.getSlice(at: bytes.readerIndex + start, length: end - start) else { continue }
                        if raw != nil { batch.items.append(.byteBuffer(slice)) } else { try await writer.write(slice) }
                    }
                    if let raw { try await raw.write(&batch) }
                }
                try await writer.finish(nil)
            })
    }

    /// `record`'s box layout: kept in memory (exports of the same hours are asked again and again), else read on the
    /// I/O pool.
    static func layout(of record: SegmentRecord, in archive: StreamArchive) async throws -> SegmentLayout {
        // A packed segment is kept without its parts: one rebased in place (a longer export than a plan) reads them.
        if let kept = archive.cachedSegmentLayout(record), kept.packed == nil { return kept }
        return try await io { try archive.segmentLayout(record) }
    }

    /// Adds bytes `range` of a segment of an `.mp4` export to `batch`: every box run is rebased, in order (the
    /// timeline learns its origin from the first), and only what falls in the range is added; media payloads go
    /// from the file with sendfile.
    static func appendRebased(
        _ record: SegmentRecord, of archive: StreamArchive, bytes range: Range<Int>, timeline: inout ExportTimeline,
        to batch: inout RawBatch
    ) async throws {
        let layout = try await layout(of: record, in: archive)
        // The layout may have been kept from before a replacement: the file must still be the indexed one.
        let file = try batch.open(archive.path(of: record), holding: record.bytes, exactly: true)
        var partStart = 0
        for part in layout.parts {
            let partEnd = partStart + part.length
            defer { partStart = partEnd }
            var rebased: ByteBuffer?
            if case .boxes(let boxes) = part { rebased = timeline.rebase(boxes) }
            let from = max(range.lowerBound, partStart)
            let to = min(range.upperBound, partEnd)
            guard from < to else { continue }
            switch part {
            case .boxes:
                if let rebased, let slice = rebased.getSlice(at: rebased.readerIndex + from - partStart, length: to - from) {
                    batch.items.append(.byteBuffer(slice))
                }
            case .file(let offset, _):
                let region = FileRegion(fileHandle: file, readerIndex: offset + from - partStart, endIndex: offset + to - partStart)
                batch.items.append(.fileRegion(region))
            }
        }
    }

    /// The header fields of an archive segment's response (besides its length).
    static let segmentHeaderFields: HTTPFields = [.contentType: "video/iso.segment", .cacheControl: "max-age=86400"]

    /// An archive request answered on the event loop (``ArchiveFastPath``), when nothing in the answer needs to wait:
    /// a GET of a stream recorded here with no `on_play` check, its archive open, sendfile allowed, and
    /// - `/{name}/archive/seg-{start}.m4s` without `Range`, the segment's day in memory;
    /// - `/{name}/archive-{from}-{duration}.{mp4|m4f}` (with or without `Range`), the days, the init segments and, for
    ///   `.mp4`, every segment's packing in memory (exports asked again, as players and replication do).
    ///
    /// An `.m4f` export also needs the cluster's signature when the node has a `cluster_key`, and an export at most
    /// ``PackedExportSegment/segmentLimit`` segments. Nil sends the request to the router, which answers it the same
    /// way (``segment(_:_:startMs:channel:)``, ``export(_:_:from:duration:format:request:channel:)``), or with the
    /// error.
    static func fastAnswer(_ node: Node, _ request: HTTPRequest, serverName: String) -> ArchiveFastPath.Answer? {
        guard RawResponseBody.isEnabled, request.method == .get, let target = request.path else { return nil }
        let uriPath = String(target.prefix { $0 != "?" })
        guard let media = MediaPath(path: uriPath) else { return nil }
        let name: String
        switch media {
        case .archiveSegment(let stream, _), .archive(let stream, _, _, _): name = stream
        default: return nil
        }
        guard let config = node.manager.stream(named: name)?.config, let dvr = config.dvr, node.onPlayURL(for: config) == nil,
            let archive = node.manager.archives.opened(root: dvr.root, name: name)
        else { return nil }
        var answer: ArchiveFastPath.Answer
        switch media {
        case .archiveSegment(_, let startMs):
            guard request.headerFields[.range] == nil, let record = archive.cachedRecord(startingAt: startMs) else { return nil }
            let file = ArchiveFastPath.Answer.Item.file(
                path: archive.path(of: record), range: 0..<record.bytes, holding: record.bytes, exactly: false)
            answer = .init(kind: .segment, headerFields: segmentHeaderFields, body: [file])
        case .archive(_, let from, let duration, let format):
            // .m4f is for nodes of the cluster (as the router checks): an unsigned request goes on to be refused.
            if format == .m4f, let clusterAuth = node.clusterAuth {
                guard (try? clusterAuth.verify(header: request.headerFields[.authorization], method: "GET", path: uriPath)) != nil
                else { return nil }
            }
            guard let exported = fastExport(archive, from: from, duration: duration, format: format, range: request.headerFields[.range])
            else { return nil }
            answer = exported
        default:
            return nil
        }
        answer.headerFields[.server] = serverName
        return answer
    }

    /// The answer to an `.mp4` or `.m4f` export from what is in memory; nil when something must be read (or the
    /// request is refused: the router says why).
    private static func fastExport(
        _ archive: StreamArchive, from fromText: String, duration durationText: String, format: MediaPath.ArchiveFormat,
        range rangeHeader: String?
    ) -> ArchiveFastPath.Answer? {
        guard format != .m3u8,
            let (from, duration, _) = try? exportRange(
                from: fromText, duration: durationText, format: format, now: Int64(Date().timeIntervalSince1970)),
            let overlapping = archive.cachedRecords(fromMs: from * 1000, toMs: (from + duration) * 1000)
        else { return nil }
        let records = ArchiveExportBody.records(overlapping, fromMs: from * 1000, toMs: (from + duration) * 1000, format: format)
        guard !records.isEmpty else { return nil }
        // As long as an .mp4 plan at most: the body is built on the event loop before anything is sent.
        guard records.count <= PackedExportSegment.segmentLimit else { return nil }
        var inits: [String: ByteBuffer] = [:]
        for id in ArchiveExportBody.initIDs(records, format: format) {
            guard let bytes = archive.cachedInitSegment(id) else { return nil }
            inits[id] = bytes
        }
        let parts = ArchiveExportBody.parts(records, format: format, inits: inits)
        var packing: (segments: [PackedExportSegment?], timeline: ExportTimeline)?
        // The .mp4 layouts by segment start, with the file each was read from.
        var layouts: [Int64: SegmentLayout] = [:]
        if format == .mp4 {
            guard parts.count <= PackedExportSegment.segmentLimit else { return nil }
            var ordered: [SegmentLayout] = []
            ordered.reserveCapacity(parts.count)
            for part in parts {
                // Only packed segments: one rebased in place is the router's.
                guard let layout = archive.cachedSegmentLayout(part.record), layout.packed != nil else { return nil }
                ordered.append(layout)
                layouts[part.record.startMs] = layout
            }
            packing = PackedExportSegment.plan(ordered)
        }
        let body = ArchiveExportBody(parts, inits: inits, format: format, packing: packing?.segments)
        guard let byteRange = try? ByteRangeRequest.parse(rangeHeader, length: body.length) else { return nil }
        var items: [ArchiveFastPath.Answer.Item] = []
        for (part, piece) in body.pieces(in: byteRange) {
            let (start, end) = (part.lowerBound, part.upperBound)
            let bytes: ByteBuffer
            switch piece {
            case .bytes(let fixed): bytes = fixed
            case .packedHeader(let run, let sequence):
                bytes = run.header(sequence: sequence, timeline: packing?.timeline ?? ExportTimeline())
            case .file(let record, let range):
                // An .mp4 run's header promised the file whole, as indexed.
                let path = layouts[record.startMs]?.path ?? archive.path(of: record)
                items.append(
                    .file(
                        path: path, range: (range.lowerBound + start)..<(range.lowerBound + end), holding: record.bytes,
                        exactly: format == .mp4))
                continue
            case .rebased:
                return nil
            }
            guard let slice = bytes.getSlice(at: bytes.readerIndex + start, length: end - start) else { return nil }
            items.append(.bytes(slice))
        }
        let (status, headers) = exportHead(ranged: rangeHeader != nil, byteRange, of: body.length)
        return .init(kind: .export, status: status, headerFields: headers, body: items)
    }

    /// `GET /{name}/archive/seg-{start}.m4s`: the stored file, sent with sendfile where it can.
    static func segment(_ node: Node, _ name: String, startMs: Int64, channel: any Channel) async throws -> Response {
        let archive = try await archive(node, name)
        guard let record = try await io({ try archive.record(startingAt: startMs) }) else {
            throw NodeError(.notFound, "segment_not_found", "stream '\(name)' has no segment starting at \(startMs)")
        }
        return Response(
            status: .ok, headers: segmentHeaderFields,
            body: .init(contentLength: record.bytes) { writer in
                try await RawResponseBody.serve(on: channel) { raw in
                    if let raw {
                        try await raw.sendFile(archive.path(of: record), range: 0..<record.bytes)
                    } else {
                        try await writer.write(try await io { try archive.segmentBytes(record) })
                    }
                }
                try await writer.finish(nil)
            })
    }

    /// `GET /{name}/archive/init-{id}.mp4`.
    static func initSegment(_ node: Node, _ name: String, id: String) async throws -> Response {
        let archive = try await archive(node, name)
        guard let bytes = try await io({ try archive.initSegment(id) }) else {
            throw NodeError(.notFound, "segment_not_found", "stream '\(name)' has no init segment \(id)")
        }
        return Response(status: .ok, headers: [.contentType: "video/mp4", .cacheControl: "max-age=86400"], body: .init(byteBuffer: bytes))
    }

    struct ImportResult: Encodable {
        var startMs: Int64
        var status: String
        var detail: String?

        enum CodingKeys: String, CodingKey {
            case status, detail
            case startMs = "start_ms"
        }
    }

    /// `POST /streamer/api/v3/streams/{name}/dvr/import`: an archive M4F body; every whole segment whose
    /// sha256 matches its marker is stored (atomically, idempotently), even if the body is cut short.
    ///
    /// One segment is committed (hashed, written, fsynced) while the next one arrives, so the network and
    /// the disk overlap; segments are still committed one after the other, in the body's order.
    static func importArchive(_ node: Node, _ name: String, _ request: Request) async throws -> Response {
        let archive = try await archive(node, name)
        @Sendable func commit(_ marker: ArchiveMarker, _ bytes: [ByteBuffer]) async throws -> ImportResult {
            do {
                let (_, existed) = try await blockingIO {
                    try archive.importSegment(
                        parts: bytes, startMs: marker.startMs, durationMs: marker.durationMs, initID: marker.initID, sha256: marker.sha256)
                }
                return ImportResult(startMs: marker.startMs, status: existed ? "exists" : "stored")
            } catch let error as DVRError where !error.isDiskFull {
                if case .io = error { throw error }
                return ImportResult(startMs: marker.startMs, status: "rejected", detail: error.description)
            }
        }
        var results: [ImportResult] = []
        var failure: String?
        await withTaskGroup(of: Result<ImportResult, any Error>.self) { group in
            var importer = ArchiveImporter()
            var currentInit: String?
            var committing = false
            /// Waits for the segment being committed; its failure (an I/O error) ends the import.
            func settle() async throws {
                guard committing, let result = await group.next() else { return }
                committing = false
                results.append(try result.get())
            }
            func handle(_ events: [ArchiveImporter.Event]) async throws {
                for event in events {
                    switch event {
                    case .initialization(let bytes):
                        try await settle()
                        currentInit = try await io { try archive.storeInit(bytes) }
                    case .segment(let marker, let bytes):
                        try await settle()
                        guard currentInit == marker.initID else {
                            results.append(
                                ImportResult(
                                    startMs: marker.startMs, status: "rejected",
                                    detail: "init \(marker.initID) was not sent before the segment (have \(currentInit ?? "none"))"))
                            continue
                        }
                        group.addTask {
                            do { return .success(try await commit(marker, bytes)) } catch { return .failure(error) }
                        }
                        committing = true
                    case .truncated(let detail):
                        failure = "body ended early: \(detail)"
                    }
                }
            }
            do {
                for try await chunk in request.body { try await handle(importer.feed(chunk)) }
                try await handle(importer.finish())
                try await settle()
            } catch let error as DVRError {
                failure = error.description
            } catch {
                failure = "\(error)"
            }
            // A commit begun before the body failed still completes, and counts.
            if committing, let result = await group.next() {
                switch result {
                case .success(let result): results.append(result)
                case .failure(let error): failure = failure ?? "\(error)"
                }
            }
        }
        let stored = results.count { $0.status == "stored" }
        let existing = results.count { $0.status == "exists" }
        let rejected = results.count { $0.status == "rejected" }
        struct Summary: Encodable {
            var stored: Int
            var existing: Int
            var rejected: Int
            var error: String?
            var segments: [ImportResult]
        }
        var response = try jsonResponse(Summary(stored: stored, existing: existing, rejected: rejected, error: failure, segments: results))
        if failure != nil && stored + existing == 0 { response.status = .badRequest }
        return response
    }
}

/// A single `Range: bytes=…` request header, resolved against a body's length.
enum ByteRangeRequest {
    /// The requested bytes (the whole body without a header). Throws 416 when unsatisfiable.
    static func parse(_ header: String?, length: Int) throws -> Range<Int> {
        guard let header else { return 0..<length }
        let unsatisfiable = NodeError(.rangeNotSatisfiable, "invalid_range", "cannot serve '\(header)' of a \(length)-byte body")
        guard header.hasPrefix("bytes="), !header.contains(",") else { return 0..<length }
        let spec = header.dropFirst(6).split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard spec.count == 2 else { throw unsatisfiable }
        if spec[0].isEmpty {
            guard let suffix = Int(spec[1]), suffix > 0 else { throw unsatisfiable }
            return max(0, length - suffix)..<length
        }
        guard let start = Int(spec[0]), start < length, start >= 0 else { throw unsatisfiable }
        let end = spec[1].isEmpty ? length - 1 : min(Int(spec[1]) ?? -1, length - 1)
        guard end >= start else { throw unsatisfiable }
        return start..<(end + 1)
    }
}
