import EstuaryTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A configuration backend for tests: it answers `/streams` (with `host`, `cursor` and `name`),
/// `/update_streams_list` and `/dynamic_streams_list` the way the test scripts, and records every request.
final class ScriptedBackend: Sendable {
    /// How the backend answers.
    enum Mode: Sendable {
        /// As a backend should.
        case normal
        /// With this status and a short body.
        case status(Int)
        /// With this body (status 200).
        case body(String)
        /// Headers, then a body that never ends.
        case hang
    }

    struct Script: Sendable {
        /// The node's list, in order: name → the stream's JSON object.
        var listed: [(name: String, json: String)] = []
        /// Streams known by name only (answered to `name=` questions, not listed).
        var byName: [String: String] = [:]
        /// Response headers on `/streams` list answers.
        var headers: [(String, String)] = []
        /// Page size of the list; nil answers it whole.
        var pageSize: Int?
        var mode: Mode = .normal
        /// The `/episodes` answer: status and body.
        var episodes: (status: Int, body: String) = (200, "{\"episodes\": []}")
    }

    /// One request the backend saw.
    struct Recorded: Sendable {
        var path: String
        var query: String
        var parameters: [String: String]
        var authorization: String?
        var at: ContinuousClock.Instant

        /// The names of a `name=` question (empty for a list request).
        var names: [String] {
            parameters["name"].map { $0.split(separator: ",").map(String.init) } ?? []
        }
        var isList: Bool { path.hasSuffix("/streams") && parameters["name"] == nil }
    }

    let script = Mutex(Script())
    private let log = Mutex<[Recorded]>([])

    /// Every request so far.
    var requests: [Recorded] { log.withLock { $0 } }

    func clearLog() { log.withLock { $0.removeAll() } }

    /// Replaces the node's list with streams whose JSON is `json(name)`.
    func list(_ names: [String], json: (String) -> String) {
        script.withLock { $0.listed = names.map { ($0, json($0)) } }
    }

    /// Runs the backend on `port` (0: any) until the task is cancelled; `ready` gets the bound port.
    func run(port: Int = 0, ready: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router(context: BasicRequestContext.self)
        router.get("**") { request, _ -> Response in
            try await self.answer(request)
        }
        var logger = Logger(label: "test.backend")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? port) }, logger: logger)
        try await app.run()
    }

    private func answer(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let query = request.uri.query ?? ""
        var parameters: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            parameters[parts[0]] = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
        }
        let recorded = Recorded(
            path: path, query: query, parameters: parameters, authorization: request.headers[.authorization], at: .now)
        log.withLock { $0.append(recorded) }
        let script = self.script.withLock { $0 }
        switch script.mode {
        case .normal: break
        case .status(let code):
            return Response(
                status: .init(code: code), headers: [.contentType: "text/plain"],
                body: .init(byteBuffer: ByteBuffer(string: "backend broke")))
        case .body(let text):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        case .hang:
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init { writer in
                    try await writer.write(ByteBuffer(string: "{\"streams\": ["))
                    while !Task.isCancelled {
                        try await Task.sleep(for: .milliseconds(200))
                        try await writer.write(ByteBuffer(string: " "))
                    }
                    try await writer.finish(nil)
                })
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if path.hasSuffix("/episodes") {
            return Response(
                status: .init(code: script.episodes.status), headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: script.episodes.body)))
        }
        if recorded.names.isEmpty {
            guard path.hasSuffix("/streams") else { return Response(status: .notFound) }
            for (name, value) in script.headers { if let field = HTTPField.Name(name) { headers[field] = value } }
            var entries = script.listed
            var next = "null"
            if let size = script.pageSize {
                let start = Int(parameters["cursor"] ?? "0") ?? 0
                let end = min(start + size, entries.count)
                entries = Array(entries[min(start, end)..<end])
                if end < script.listed.count { next = "\"\(end)\"" }
            }
            let body = "{\"streams\": [\(entries.map(\.json).joined(separator: ","))], \"next\": \(next)}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let known = Dictionary(script.listed, uniquingKeysWith: { first, _ in first }).merging(script.byName) { first, _ in first }
        let found = recorded.names.compactMap { known[$0] }
        let body = "{\"streams\": [\(found.joined(separator: ","))]}"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// Runs a scripted backend for the duration of `body`; `body` gets the backend, its base URL and a way to
/// stop and restart it on the same port.
func withBackend<T: Sendable>(_ body: (ScriptedBackend, BackendControl) async throws -> T) async throws -> T {
    let backend = ScriptedBackend()
    let control = BackendControl(backend: backend)
    try await control.start()
    do {
        let result = try await body(backend, control)
        await control.stop()
        return result
    } catch {
        await control.stop()
        throw error
    }
}

/// Starts and stops a ``ScriptedBackend`` (to simulate a backend that dies and comes back).
final class BackendControl: Sendable {
    let backend: ScriptedBackend
    private let state = Mutex<(port: Int, task: Task<Void, any Error>?)>((0, nil))

    init(backend: ScriptedBackend) { self.backend = backend }

    var port: Int { state.withLock { $0.port } }
    var url: String { "http://127.0.0.1:\(port)/streams" }

    func start() async throws {
        let port = self.port
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let task = Task { try await backend.run(port: port) { continuation.yield($0) } }
        var iterator = stream.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw TestFailure("the backend did not start") }
        state.withLock { $0 = (bound, task) }
    }

    func stop() async {
        let task = state.withLock { state in
            defer { state.task = nil }
            return state.task
        }
        task?.cancel()
        _ = await task?.result
    }
}
