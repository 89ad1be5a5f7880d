import EstuaryAccess
import EstuaryClusterAuth
import EstuaryConfig
import EstuaryConfigExternal
import EstuaryHub
import EstuaryLive
import EstuaryMP4
import EstuaryMedia
import EstuarySources
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// The node's one router table: every HTTP endpoint of DESIGN §4 is listed here.
///
/// Every request first passes ``APIAccessMiddleware`` with ``classify(_:clusterAuth:)``'s verdict on the right it needs; with
/// `archiveOnly` (the replication listener) it first passes ``ReplicationListenerFilter``.
public func buildRouter(node: Node, archiveOnly: Bool = false) -> Router<EstuaryRequestContext> {
    let router = Router(context: EstuaryRequestContext.self)
    if archiveOnly { router.add(middleware: ReplicationListenerFilter()) }
    let clusterAuth = node.clusterAuth
    router.add(
        middleware: APIAccessMiddleware(policy: node.accessPolicy, throttle: node.authFailures) { request in
            classify(request, clusterAuth: clusterAuth)
        })

    // §4.4 operations
    router.get("/healthz") { _, _ in "ok\n" }
    router.get("/readyz") { _, _ -> Response in
        Response(
            status: node.isReady ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: node.isReady ? "ready\n" : "starting\n")))
    }
    router.get("/metrics") { _, _ -> Response in
        node.metrics.refresh(configSync: node.configSync, enabled: node.configExternalEnabled, counts: node.manager.countsByOrigin)
        let text = node.metrics.render(streams: node.manager.all)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
    router.get("/streamer/api/v3/streams") { _, _ -> Response in
        try jsonResponse(["streams": node.manager.all.map(StreamReport.init)])
    }
    // §4.2 archive API: …/{name}/dvr/ranges (GET, DELETE), …/{name}/dvr/segments, …/{name}/dvr/import (POST)
    router.get("/streamer/api/v3/streams/**") { request, context -> Response in
        let name = context.parameters.getCatchAll().joined(separator: "/")
        if let stream = name.strippingSuffix("/dvr/ranges") { return try await ArchiveEndpoints.ranges(node, stream) }
        if let stream = name.strippingSuffix("/dvr/segments") {
            try node.authorizeClusterRequest(request)
            return try await ArchiveEndpoints.segments(node, stream, request)
        }
        guard let stream = node.manager.stream(named: name) else { throw NodeError.streamNotFound(name) }
        return try jsonResponse(StreamReport(stream))
    }
    router.post("/streamer/api/v3/streams/**") { request, context -> Response in
        let name = context.parameters.getCatchAll().joined(separator: "/")
        if let streamName = name.strippingSuffix("/dvr/replication") {
            // The replicator reports its progress: {"percent": 0…100, "running": bool}.
            try node.authorizeClusterRequest(request)
            guard let stream = node.manager.stream(named: streamName) else { throw NodeError.streamNotFound(streamName) }
            let body = try await request.body.collect(upTo: 4096)
            struct Progress: Decodable {
                var percent: Double
                var running: Bool
            }
            guard let progress = try? JSONDecoder().decode(Progress.self, from: Data(body.readableBytesView)),
                (0...100).contains(progress.percent)
            else {
                throw NodeError(.badRequest, "invalid_progress", "the body must be {\"percent\": 0…100, \"running\": true|false}")
            }
            stream.replicationProgress = (progress.percent, progress.running)
            return Response(status: .noContent)
        }
        guard let stream = name.strippingSuffix("/dvr/import") else {
            throw NodeError(.notFound, "not_found", "no POST endpoint at \(request.uri.path)")
        }
        try node.authorizeClusterRequest(request)
        return try await ArchiveEndpoints.importArchive(node, stream, request)
    }
    router.put("/streamer/api/v3/streams/**") { request, context -> Response in
        let name = context.parameters.getCatchAll().joined(separator: "/")
        guard !node.configExternalEnabled else { throw NodeError.configExternalEnabled }
        guard StreamConfig.isValidName(name) else {
            throw NodeError(.badRequest, "invalid_stream_name", "'\(name)' is not a valid stream name: [A-Za-z0-9_.-/]{1,128}, no '..'")
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        let config: StreamConfig
        do {
            config = try StreamConfig.decode(json: Data(body.readableBytesView), name: name).config
        } catch {
            throw NodeError(.badRequest, "invalid_stream", "\(error)")
        }
        guard config.name == name else {
            throw NodeError(.badRequest, "invalid_stream", "the body names stream '\(config.name)' but the path names '\(name)'")
        }
        if let root = config.dvr?.root, !node.options.access.allowsAPIDVRRoot(root) {
            throw NodeError(
                .badRequest, "dvr_root_not_allowed",
                "dvr root '\(root)' is outside api_dvr_roots (\(node.options.access.apiDVRRoots?.joined(separator: ", ") ?? ""))")
        }
        try node.putStream(config)
        return try jsonResponse(config.maskedForDisplay)
    }
    router.delete("/streamer/api/v3/streams/**") { request, context -> Response in
        let name = context.parameters.getCatchAll().joined(separator: "/")
        if let stream = name.strippingSuffix("/dvr/ranges") { return try await ArchiveEndpoints.deleteRange(node, stream, request) }
        try node.deleteStream(name)
        return Response(status: .noContent)
    }
    router.get("/streamer/api/v3/config") { _, _ -> Response in
        try jsonResponse(node.configReport())
    }
    router.put("/streamer/api/v3/config") { request, _ -> Response in
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
            throw NodeError(
                .badRequest, "invalid_json", "the body must be a JSON object such as {\"config_external\": \"http://…/streams\"}")
        }
        if let value = object["config_external"] {
            switch value {
            case let text as String: try node.setConfigExternal(text)
            case is NSNull: try node.setConfigExternal(nil)
            default: throw NodeError(.badRequest, "invalid_config_external", "config_external must be a URL string or null")
            }
        }
        return try jsonResponse(node.configReport())
    }

    // M4F push (issue 6): another node sends a stream to this node's publish:// input as a chunked POST body.
    router.post("**") { request, context -> Response in
        guard let name = String(request.uri.path.dropFirst()).strippingSuffix("/m4f") else {
            throw NodeError(.notFound, "not_found", "no endpoint at POST \(request.uri.path)")
        }
        try node.authorizeClusterRequest(request)
        let origin = "m4f push"
        let session: PublishSession
        do throws(PublishError) {
            session = try await node.acceptPublisher(
                stream: name, password: request.uri.queryParameters["password"].map(String.init), origin: origin,
                ip: context.clientIP, proto: "m4f")
        } catch {
            throw NodeError(publishRefusal: error)
        }
        var reader = M4FReader()
        var received = 0
        do {
            for try await bytes in request.body {
                guard session.isOpen else { break }
                received += bytes.readableBytes
                for event in reader.feed(bytes, arrivalMicros: WallClock.nowMicros()) {
                    M4FSource.deliver(event, to: session)
                }
            }
        } catch {
            session.finish(reason: "the push connection broke: \(error)")
            throw error
        }
        let replacedBy = session.endReason
        session.finish(reason: nil)
        if let replacedBy {
            throw NodeError(.conflict, "publish_ended", "the publication to '\(name)' was ended: \(replacedBy)")
        }
        return try jsonResponse(["stream": name, "received_bytes": "\(received)"])
    }

    // §4.1 live media and §4.2 archive playback: /{name}/m4f, /{name}/index.m3u8 (+ init-N.mp4, seg-N.m4s), /{name}/mpegts
    router.get("**") { request, context -> Response in
        guard let media = MediaPath(path: request.uri.path) else {
            throw NodeError(.notFound, "not_found", "no endpoint at \(request.uri.path)")
        }
        switch media {
        case .recordingStatus(let name):
            return try await ArchiveEndpoints.recordingStatus(node, name)
        case .archive(let name, let from, let duration, let format):
            if format == .m4f { try node.authorizeClusterRequest(request) }
            try await node.authorizePlayback(name, proto: format == .m3u8 ? "dvr_hls" : format.rawValue, request, context)
            return try await ArchiveEndpoints.export(
                node, name, from: from, duration: duration, format: format, request: request, channel: context.channel)
        case .archiveSegment(let name, let start):
            try await node.authorizePlayback(name, proto: "dvr_hls", request, context)
            return try await ArchiveEndpoints.segment(node, name, startMs: start, channel: context.channel)
        case .archiveInit(let name, let id):
            try await node.authorizePlayback(name, proto: "dvr_hls", request, context)
            return try await ArchiveEndpoints.initSegment(node, name, id: id)
        default:
            break
        }
        let stream = try await node.streamForPlayback(media.stream)
        try await node.authorizePlayback(stream.name, proto: media.playbackProtocol, request, context, config: stream.config)
        switch media {
        case .m4f:
            try node.authorizeClusterRequest(request)
            if request.headers[HTTPField.Name(M4FSource.instanceHeader)!] == node.instanceID {
                throw NodeError(
                    HTTPResponse.Status(code: 508, reasonPhrase: "Loop Detected"), "loop_detected",
                    "'\(stream.name)' was asked for by this node itself; an input must name another node")
            }
            return await liveResponse(stream.pipeline.m4f, contentType: "video/mp4", request, context, fanouts: node.liveFanouts)
        case .mpegts:
            return await liveResponse(stream.pipeline.mpegts, contentType: "video/mp2t", request, context, fanouts: node.liveFanouts)
        case .hlsPlaylist:
            guard let playlist = await stream.pipeline.hlsPlaylist(waitingUpTo: .seconds(10)) else {
                throw NodeError(.serviceUnavailable, "stream_not_ready", "stream '\(stream.name)' has no complete HLS segment yet")
            }
            return Response(
                status: .ok, headers: [.contentType: "application/vnd.apple.mpegurl", .cacheControl: "no-cache"],
                body: .init(byteBuffer: ByteBuffer(string: withPlaybackToken(playlist, request))))
        case .hlsInit(_, let version):
            guard let bytes = stream.pipeline.hlsInit(version) else {
                throw NodeError(.notFound, "segment_not_found", "init segment \(version) of '\(stream.name)' is not held")
            }
            return Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: bytes))
        case .hlsSegment(_, let sequence):
            guard let bytes = stream.pipeline.hlsSegment(sequence) else {
                throw NodeError(.notFound, "segment_not_found", "segment \(sequence) of '\(stream.name)' is not held")
            }
            return Response(status: .ok, headers: [.contentType: "video/iso.segment"], body: .init(byteBuffer: bytes))
        case .recordingStatus, .archive, .archiveSegment, .archiveInit:
            throw NodeError(.notFound, "not_found", "no endpoint at \(request.uri.path)")
        }
    }
    return router
}

/// The right each request of the node needs (issue 9): `/healthz`, `/readyz`, playback and the node-to-node
/// endpoints (which check their own cluster signature) are open to the API policy; `/metrics` needs metrics
/// rights; the rest of `/streamer/api/v3` needs view rights to read and edit rights to change. A read signed with
/// the cluster key (another node following this one's `sources:`, a replicator listing its target) has view rights.
@Sendable func classify(_ request: Request, clusterAuth: ClusterAuth? = nil) -> AccessNeed {
    let path = request.uri.path
    if path == "/metrics" { return .metrics }
    guard path.hasPrefix("/streamer/api/") else { return .open }
    if path.hasSuffix("/dvr/segments") || path.hasSuffix("/dvr/import") || path.hasSuffix("/dvr/replication") { return .open }
    switch request.method {
    case .get, .head:
        if let clusterAuth, let header = request.headers[.authorization], header.hasPrefix(ClusterAuth.scheme + " "),
            (try? clusterAuth.verify(header: header, method: request.method.rawValue, path: path)) != nil
        {
            return .open
        }
        return .view
    default: return .edit
    }
}

/// An HLS playlist with the request's `token=` carried into its URIs, so that the player presents it again.
func withPlaybackToken(_ playlist: String, _ request: Request) -> String {
    guard let token = request.uri.queryParameters["token"], !token.isEmpty else { return playlist }
    return PlaylistToken.append(String(token), to: playlist)
}

/// An endless response that relays a hub's chunks until the stream stops, the client goes
/// away, or the server shuts down gracefully.
/// A live output's response: on an HTTP/1 connection, the client joins its event loop's ``LiveFanout`` once the
/// chunked head is written; elsewhere (or for a method other than GET) a hub subscription feeds the body writer.
func liveResponse(
    _ hub: StreamHub<LiveChunk>, contentType: String, _ request: Request, _ context: EstuaryRequestContext,
    fanouts: LiveFanoutRegistry
) async -> Response {
    let channel = context.channel
    guard request.method == .get, await LiveFanoutRegistry.canServe(channel) else {
        return liveResponse(hub, contentType: contentType)
    }
    return Response(
        status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache"],
        body: .init { writer in
            let done = fanouts.join(channel, hub: hub)
            do {
                try await withGracefulShutdownHandler {
                    try await withTaskCancellationHandler {
                        try await done.get()
                    } onCancel: {
                        LiveFanoutRegistry.end(channel)
                    }
                } onGracefulShutdown: {
                    LiveFanoutRegistry.end(channel)
                }
            } catch {
                // The client went away or was too slow: end this response only.
            }
            try await writer.finish(nil)
        })
}

/// A live output's response fed by a hub subscription through Hummingbird's body writer.
func liveResponse(_ hub: StreamHub<LiveChunk>, contentType: String) -> Response {
    let subscription = hub.subscribe()
    return Response(
        status: .ok, headers: [.contentType: contentType, .cacheControl: "no-cache"],
        body: .init { writer in
            do {
                for try await chunk in subscription.cancelOnGracefulShutdown() {
                    try await writer.write(chunk.bytes)
                }
            } catch {
                // The reader was too slow, or the client went away: end this response only.
            }
            subscription.cancel()
            try await writer.finish(nil)
        })
}

func jsonResponse(_ value: some Encodable) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(value)
    return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

extension String {
    /// The string without `suffix`, or nil when it does not end with it (or is nothing else).
    func strippingSuffix(_ suffix: String) -> String? {
        guard hasSuffix(suffix), count > suffix.count else { return nil }
        return String(dropLast(suffix.count))
    }
}
