import EstuaryAccess
import EstuaryConfig
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Every endpoint of the config-sidecar, in one table:
///
/// - config_external (DESIGN §3), answered from memory: `GET /streams`, `/update_streams_list` (alias
///   `/update-streams`), `/dynamic_streams_list` (alias `/dynamic-streams`), `/episodes`.
/// - Operations: `GET /status`, `/metrics`, `/healthz`.
/// - Admin (written through to the upstream): `GET /admin/streams`, `GET|PUT|DELETE /admin/streams/{name}`
///   (`?role=`, default `ingest`), `GET|PUT /admin/episodes`, `DELETE /admin/episodes/{id}`,
///   `GET /admin/nodes`, `GET /admin/assignments`.
///
/// Errors are JSON `{"error": …, "detail": …}`, with `field` when one field is at fault.
enum SidecarRouter {
    /// The right each request needs (issue 9): `/admin/*` needs view rights to read and edit rights to change,
    /// `/metrics` metrics rights; the config_external endpoints, `/status` and `/healthz` are open.
    @Sendable static func classify(_ request: Request) -> AccessNeed {
        let path = request.uri.path
        if path == "/metrics" { return .metrics }
        guard path.hasPrefix("/admin/") || path == "/admin" else { return .open }
        return request.method == .get || request.method == .head ? .view : .edit
    }

    /// Streams per page of `/streams`; the rest follow through `next`.
    static let pageSize = 1000

    static func build(_ sidecar: Sidecar) -> Router<EstuaryRequestContext> {
        let router = Router(context: EstuaryRequestContext.self)
        router.add(
            middleware: APIAccessMiddleware(
                policy: APIAccessPolicy(sidecar.settings.access), throttle: sidecar.authFailures, classify: classify))
        let state = sidecar.state
        router.get("/healthz") { _, _ in "ok\n" }
        for path in ["/streams", "/update_streams_list", "/update-streams"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                streams(sidecar, request)
            }
        }
        for path in ["/dynamic_streams_list", "/dynamic-streams"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                dynamic(sidecar, request)
            }
        }
        router.get("/episodes") { request, _ -> Response in
            state.countRequest()
            guard let config = state.config else { return notReady(sidecar) }
            let query = request.uri.queryParameters
            guard let name = query["name"].map(String.init), !name.isEmpty else {
                return error(.badRequest, "invalid_request", "name= is required", field: "name")
            }
            let episodes = config.episodes(
                of: name, openedBefore: query["opened_at_lt"].flatMap { Int64(String($0)) },
                closedAfter: query["closed_at_gt"].flatMap { Int64(String($0)) })
            return json(["episodes": episodes], sidecar)
        }
        router.get("/status") { _, _ -> Response in
            json(status(sidecar), sidecar)
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: metrics(sidecar))))
        }
        router.get("/admin/streams") { request, _ -> Response in
            guard let config = state.config else { return notReady(sidecar) }
            let role = request.uri.queryParameters["role"].map(String.init)
            let list = config.streams.values.filter { role == nil || $0.role == role }.sorted { $0.key < $1.key }
            return rawJSON(["streams": list.map(CentralDocument.adminObject)])
        }
        router.get("/admin/streams/**") { request, context -> Response in
            let key = streamKey(request, context)
            guard let stream = state.config?.streams[key] else { return error(.notFound, "not_found", "stream \(key) not found") }
            return rawJSON(CentralDocument.adminObject(stream))
        }
        router.put("/admin/streams/**") { request, context -> Response in
            let key = streamKey(request, context)
            let body = try await request.body.collect(upTo: 1 << 20)
            guard var object = (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] else {
                return error(.badRequest, "malformed_json", "the body must be one stream as a JSON object")
            }
            if let name = object["name"] as? String, name != key.name {
                return error(
                    .badRequest, "validation_error", "name '\(name)' in the body differs from '\(key.name)' in the path", field: "name")
            }
            object["name"] = key.name
            if object["role"] == nil { object["role"] = key.role }
            let stream: CentralStream
            do throws(CentralConfigError) {
                stream = try CentralDocument.readStream(object, label: key.name)
            } catch {
                return adminError(.invalid(error))
            }
            do throws(AdminError) {
                try await sidecar.upstream.apply(.putStream(stream))
            } catch {
                return adminError(error)
            }
            return rawJSON(CentralDocument.adminObject(stream))
        }
        router.delete("/admin/streams/**") { request, context -> Response in
            let key = streamKey(request, context)
            do throws(AdminError) {
                try await sidecar.upstream.apply(.deleteStream(key))
            } catch {
                return adminError(error)
            }
            return Response(status: .noContent)
        }
        router.get("/admin/episodes") { request, _ -> Response in
            guard let config = state.config else { return notReady(sidecar) }
            let stream = request.uri.queryParameters["stream"].map(String.init)
            let list = config.episodes.values.filter { stream == nil || $0.stream == stream }.sorted {
                ($0.openedAt, $0.id) < ($1.openedAt, $1.id)
            }
            return json(["episodes": list], sidecar)
        }
        router.put("/admin/episodes") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            guard let object = try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) else {
                return error(.badRequest, "malformed_json", "the body must be one episode as a JSON object")
            }
            let episode: CentralEpisode
            do throws(CentralConfigError) {
                episode = try CentralDocument.readEpisode(object, label: "episode")
            } catch {
                return adminError(.invalid(error))
            }
            do throws(AdminError) {
                try await sidecar.upstream.apply(.putEpisode(episode))
            } catch {
                return adminError(error)
            }
            return json(episode, sidecar)
        }
        router.delete("/admin/episodes/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            do throws(AdminError) {
                try await sidecar.upstream.apply(.deleteEpisode(id: id))
            } catch {
                return adminError(error)
            }
            return Response(status: .noContent)
        }
        router.get("/admin/nodes") { _, _ -> Response in
            rawJSON(["nodes": nodes(sidecar)])
        }
        router.get("/admin/assignments") { _, _ -> Response in
            rawJSON(["assignments": assignments(sidecar), "mode": state.leases == nil ? "static" : "capture_once"])
        }
        return router
    }

    // MARK: - config_external

    private static func streams(_ sidecar: Sidecar, _ request: Request) -> Response {
        let state = sidecar.state
        state.countRequest()
        let query = request.uri.queryParameters
        let host = query["host"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? state.identity.hostname
        let names = query["name"].map { Set($0.split(separator: ",").map(String.init)) }
        // Asked by name (the node re-checking the names it runs), a name a template covers is answered like
        // a dynamic request, so that a published or played dynamic stream is not stopped on the next cycle.
        // Without separate endpoints, clients' requests come here too and keep dynamic names placed.
        if let names { return named(sidecar, host: host, names: names.sorted(), asked: !sidecar.settings.separateEndpoints) }
        guard let list = state.streams(for: host, names: nil) else { return notReady(sidecar) }
        let start = query["cursor"].flatMap { Int(String($0)) } ?? 0
        let end = min(list.count, max(start, 0) + pageSize)
        let page = start < end ? list[max(start, 0)..<end] : []
        let next = end < list.count ? "\"\(end)\"" : "null"
        return streamList(Array(page), next: next, sidecar)
    }

    private static func dynamic(_ sidecar: Sidecar, _ request: Request) -> Response {
        let state = sidecar.state
        state.countRequest()
        let query = request.uri.queryParameters
        let host = query["host"].map(String.init).flatMap { $0.isEmpty ? nil : $0 } ?? state.identity.hostname
        let names = query["name"].map { $0.split(separator: ",").map(String.init) } ?? []
        return named(sidecar, host: host, names: names, asked: true)
    }

    /// The configured streams among `names`, plus a template's answer for each name not configured.
    /// - Parameter asked: a client asked for the names (a dynamic request), not the node re-checking them.
    private static func named(_ sidecar: Sidecar, host: String, names: [String], asked: Bool) -> Response {
        let state = sidecar.state
        guard let configured = state.streams(for: host, names: Set(names)) else { return notReady(sidecar) }
        var list = configured
        let known = Set(configured.compactMap { (try? JSONSerialization.jsonObject(with: $0) as? [String: Any])?["name"] as? String })
        for name in names where !known.contains(name) {
            if let stream = state.dynamicStream(name, for: host, asked: asked) { list.append(stream) }
        }
        return streamList(list, next: "null", sidecar)
    }

    private static func streamList(_ streams: [Data], next: String, _ sidecar: Sidecar) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(streams.reduce(32) { $0 + $1.count + 1 })
        buffer.writeString("{\"streams\":[")
        for (index, stream) in streams.enumerated() {
            if index > 0 { buffer.writeString(",") }
            buffer.writeBytes(stream)
        }
        buffer.writeString("],\"next\":\(next)}")
        return Response(status: .ok, headers: headers(sidecar), body: .init(byteBuffer: buffer))
    }

    private static func headers(_ sidecar: Sidecar) -> HTTPFields {
        let settings = sidecar.settings
        var fields: HTTPFields = [.contentType: "application/json"]
        fields[HTTPField.Name("X-Config-Server-Separate-Endpoints")!] = settings.separateEndpoints ? "true" : "false"
        fields[HTTPField.Name("X-Config-Server-Dynamic-Streams")!] = settings.dynamicStreams ? "true" : "false"
        fields[HTTPField.Name("X-Config-Server-Episodes")!] = settings.episodes ? "true" : "false"
        fields[HTTPField.Name("X-Config-Server-Poll-Interval")!] = String(settings.pollInterval)
        if let synced = sidecar.state.health.syncedAt {
            fields[HTTPField.Name("X-Config-Data-Age")!] = String(format: "%.1f", Date().timeIntervalSince(synced))
        }
        return fields
    }

    // MARK: - Operations

    private static func status(_ sidecar: Sidecar) -> [String: AnyEncodable] {
        let state = sidecar.state
        let health = state.health
        let config = state.config
        let mine = state.streams(for: state.identity.hostname)?.count ?? 0
        var result: [String: AnyEncodable] = [
            "state": AnyEncodable(health.state),
            "upstream": AnyEncodable(sidecar.upstream.label),
            "node": AnyEncodable(state.identity.hostname),
            "role": AnyEncodable(state.identity.role),
            "mode": AnyEncodable(state.leases == nil ? "static" : "capture_once"),
            "streams": AnyEncodable(config?.streams.count ?? 0),
            "assigned_streams": AnyEncodable(mine),
            "node_ready": AnyEncodable(state.nodeReport.ready),
            "requests": AnyEncodable(state.requestsServed),
        ]
        if let error = health.error { result["error"] = AnyEncodable(error) }
        if let since = health.errorSince { result["error_since"] = AnyEncodable(since.timeIntervalSince1970) }
        if let synced = health.syncedAt {
            result["synced_at"] = AnyEncodable(synced.timeIntervalSince1970)
            result["data_age_seconds"] = AnyEncodable((Date().timeIntervalSince(synced) * 10).rounded() / 10)
        }
        if let replica = state.replica {
            result["replica"] = AnyEncodable(replica.path)
            if let aside = replica.rebuiltFrom { result["replica_rebuilt_from"] = AnyEncodable(aside) }
        }
        return result
    }

    private static func metrics(_ sidecar: Sidecar) -> String {
        let state = sidecar.state
        let health = state.health
        let age = health.syncedAt.map { Date().timeIntervalSince($0) } ?? -1
        let assigned = state.streams(for: state.identity.hostname)?.count ?? 0
        return """
            # HELP estuary_sidecar_upstream_ok 1 when the last upstream exchange succeeded.
            # TYPE estuary_sidecar_upstream_ok gauge
            estuary_sidecar_upstream_ok \(health.state == "ok" ? 1 : 0)
            # HELP estuary_sidecar_data_age_seconds Seconds since the upstream last confirmed the served configuration.
            # TYPE estuary_sidecar_data_age_seconds gauge
            estuary_sidecar_data_age_seconds \(String(format: "%.3f", age))
            # HELP estuary_sidecar_streams Streams in the central configuration.
            # TYPE estuary_sidecar_streams gauge
            estuary_sidecar_streams \(state.config?.streams.count ?? 0)
            # HELP estuary_sidecar_assigned_streams Streams served to this sidecar's node.
            # TYPE estuary_sidecar_assigned_streams gauge
            estuary_sidecar_assigned_streams \(assigned)
            # HELP estuary_sidecar_requests_total config_external requests answered.
            # TYPE estuary_sidecar_requests_total counter
            estuary_sidecar_requests_total \(state.requestsServed)

            """
    }

    private static func nodes(_ sidecar: Sidecar) -> [[String: Any]] {
        let state = sidecar.state
        if state.leases != nil {
            return state.cluster.sorted { $0.node.name < $1.node.name }.map { status in
                [
                    "name": status.node.name, "role": status.node.role, "advertise": status.node.advertise,
                    "labels": status.node.labels, "ready": status.ready, "streams": status.streams, "bitrate": status.bitrate,
                    "heartbeat_age": (status.heartbeatAge * 10).rounded() / 10,
                    "live": status.isLive(deadAfter: sidecar.settings.deadAfter),
                ]
            }
        }
        return (state.config?.nodes.values.sorted { $0.name < $1.name } ?? []).map { node in
            ["name": node.name, "role": node.role, "advertise": node.advertise, "labels": node.labels]
        }
    }

    private static func assignments(_ sidecar: Sidecar) -> [[String: Any]] {
        let state = sidecar.state
        guard let config = state.config else { return [] }
        if let leases = state.leases {
            return leases.sorted { $0.key < $1.key }.map { key, lease in
                var entry: [String: Any] = ["role": key.role, "stream": key.name, "node": lease.node, "epoch": lease.epoch]
                if let next = lease.nextNode { entry["next_node"] = next }
                return entry
            }
        }
        let nodes = config.nodes.values.sorted { $0.name < $1.name }
        return config.streams.values.sorted { $0.key < $1.key }.map { stream in
            let on = nodes.filter { $0.role == stream.role && SidecarState.runs(stream, on: $0, leases: nil) }.map(\.name)
            return ["role": stream.role, "stream": stream.name, "nodes": on]
        }
    }

    // MARK: - Helpers

    private static func streamKey(_ request: Request, _ context: EstuaryRequestContext) -> StreamKey {
        let name = context.parameters.getCatchAll().joined(separator: "/")
        let role = request.uri.queryParameters["role"].map(String.init) ?? "ingest"
        return StreamKey(role: role, name: name)
    }

    private static func notReady(_ sidecar: Sidecar) -> Response {
        let health = sidecar.state.health
        return error(
            .serviceUnavailable, "no_configuration",
            "no configuration received yet from \(sidecar.upstream.label)" + (health.error.map { ": \($0)" } ?? ""))
    }

    private static func adminError(_ failure: AdminError) -> Response {
        switch failure {
        case .readOnly: error(.conflict, "read_only", failure.description)
        case .invalid(let invalid): error(.badRequest, "validation_error", invalid.description, field: invalid.field)
        case .notFound: error(.notFound, "not_found", failure.description)
        case .unavailable: error(.serviceUnavailable, "upstream_unreachable", failure.description)
        }
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ detail: String, field: String? = nil) -> Response {
        var object: [String: Any] = ["error": code, "detail": detail]
        if let field { object["field"] = field }
        var response = rawJSON(object)
        response.status = status
        return response
    }

    private static func json(_ value: some Encodable, _ sidecar: Sidecar) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: .ok, headers: headers(sidecar), body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    private static func rawJSON(_ object: Any) -> Response {
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// An `Encodable` of any type, for the `/status` object's mixed values.
struct AnyEncodable: Encodable {
    private let encodeValue: (any Encoder) throws -> Void

    init(_ value: some Encodable) {
        encodeValue = { try value.encode(to: $0) }
    }

    func encode(to encoder: any Encoder) throws {
        try encodeValue(encoder)
    }
}
