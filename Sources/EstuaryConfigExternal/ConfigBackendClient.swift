import AsyncHTTPClient
import EstuaryConfig
import Foundation
import NIOCore
import NIOHTTP1

/// Asks one configuration backend for streams (DESIGN §3): the node's list (following `cursor` to the end)
/// and streams by name (chunked so that each query string stays within about 1 KB).
///
/// Guarantees: every request carries `host=<hostname>` and the configured authorization; a request that has
/// not delivered its whole body within ``timeout`` fails with `network_error`; a body larger than
/// ``maximumBodyBytes`` is refused; a question is answered whole or fails whole (a failed page or chunk
/// fails the question), so a caller never acts on half an answer. Invalid stream entries do not fail the
/// question: they come back in ``BackendStreamAnswer/errors``.
public final class ConfigBackendClient: Sendable {
    /// The backend.
    public let url: ConfigBackendURL
    /// This node's hostname, sent as `host=`.
    public let host: String
    /// The bound on one request, body included (DESIGN §3: a backend slower than 5 s is failing).
    public let timeout: Duration
    /// The largest body accepted (64 MiB by default: about 300,000 streams).
    public let maximumBodyBytes: Int
    /// The bound on a by-name query string.
    public let queryLimit: Int
    private let httpClient: HTTPClient
    private let observer: @Sendable (ConfigBackendRequest) -> Void

    /// Creates a client.
    ///
    /// - Parameter observer: told about every request when it ends (for metrics); it must not block.
    public init(
        url: ConfigBackendURL, host: String, httpClient: HTTPClient, timeout: Duration = .seconds(5),
        maximumBodyBytes: Int = 64 << 20, queryLimit: Int = NameQuery.defaultLimit,
        observer: @escaping @Sendable (ConfigBackendRequest) -> Void = { _ in }
    ) {
        self.url = url
        self.host = host
        self.httpClient = httpClient
        self.timeout = timeout
        self.maximumBodyBytes = maximumBodyBytes
        self.queryLimit = queryLimit
        self.observer = observer
    }

    /// `GET /streams?host=H`, then `&cursor=` for each `next` until it is null.
    ///
    /// - Throws: the first failing page's error; `validation_error` when a cursor repeats (a loop) or more
    ///   than `maximumPages` pages arrive.
    public func list(maximumPages: Int = 100_000) async throws(ConfigExternalError) -> BackendStreamAnswer {
        var answer = BackendStreamAnswer()
        var cursor: String?
        var seenCursors = Set<String>()
        var page = 0
        repeat {
            page += 1
            if page > maximumPages {
                throw ConfigExternalError(.validationError, "/streams: more than \(maximumPages) pages; the cursor never ends")
            }
            let response = try await get(.streams, query: NameQuery.page(host: host, cursor: cursor))
            let decoded = try decode(response.body, endpoint: .streams)
            var part = BackendStreamAnswer(
                streams: decoded.streams, errors: decoded.errors, unknownFields: decoded.unknownFields, requests: 1,
                bytes: response.body.readableBytes)
            if page == 1 {
                part.capabilities = BackendCapabilities(headers: response.headers)
                answer = part
            } else {
                answer.merge(part)
            }
            cursor = decoded.next
            if let next = cursor, !seenCursors.insert(next).inserted {
                throw ConfigExternalError(.validationError, "/streams: cursor '\(next)' came back twice; the paging loops")
            }
        } while cursor != nil
        return answer
    }

    /// Asks for `names` at `endpoint` (`?name=a,b,c`, chunked). Streams the backend returns that were not
    /// asked for are dropped.
    public func streams(
        named names: [String], via endpoint: ConfigBackendEndpoint
    ) async throws(ConfigExternalError)
        -> BackendStreamAnswer
    {
        var answer = BackendStreamAnswer()
        let asked = Set(names)
        let reserved = url.baseQuery.isEmpty ? 0 : url.baseQuery.utf8.count + 1
        for chunk in NameQuery.chunks(names: names, host: host, limit: queryLimit, reserved: reserved) {
            let response = try await get(endpoint, query: NameQuery.names(chunk, host: host))
            let decoded = try decode(response.body, endpoint: endpoint)
            answer.merge(
                BackendStreamAnswer(
                    streams: decoded.streams.filter { asked.contains($0.name) }, errors: decoded.errors,
                    unknownFields: decoded.unknownFields, requests: 1, bytes: response.body.readableBytes))
        }
        return answer
    }

    /// One GET with the node's authorization, bounded by ``timeout`` for the whole exchange.
    ///
    /// - Returns: the headers and body of a 2xx answer.
    public func get(
        _ endpoint: ConfigBackendEndpoint, query: String, urlOverride: String? = nil
    ) async throws(ConfigExternalError)
        -> (headers: HTTPHeaders, body: ByteBuffer)
    {
        let started = ContinuousClock.now
        let target = urlOverride ?? url.endpointURL(endpoint, query: query)
        do {
            let result = try await exchange(target, label: "/\(endpoint.pathComponent)")
            observer(ConfigBackendRequest(endpoint: endpoint, duration: .now - started, bytes: result.body.readableBytes))
            return result
        } catch {
            observer(ConfigBackendRequest(endpoint: endpoint, failure: error.reason, duration: .now - started, bytes: 0))
            throw error
        }
    }

    private func exchange(_ target: String, label: String) async throws(ConfigExternalError) -> (headers: HTTPHeaders, body: ByteBuffer) {
        var request = HTTPClientRequest(url: target)
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "estuary")
        if let authorization = url.authorization { request.headers.add(name: "Authorization", value: authorization) }
        let prepared = request
        let timeout = self.timeout
        let limit = maximumBodyBytes
        let client = httpClient
        let outcome: Result<(HTTPHeaders, ByteBuffer, HTTPResponseStatus), any Error> = await withTaskGroup(
            of: Result<(HTTPHeaders, ByteBuffer, HTTPResponseStatus), any Error>?.self
        ) { group in
            group.addTask {
                do {
                    let response = try await client.execute(prepared, timeout: .seconds(Int64(timeout.components.seconds) + 1))
                    let body = try await response.body.collect(upTo: limit)
                    return .success((response.headers, body, response.status))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                } catch {
                    return nil
                }
                return .failure(BackendTimeout())
            }
            defer { group.cancelAll() }
            while let next = await group.next() {
                if let next { return next }
            }
            return .failure(CancellationError())
        }
        let (headers, body, status): (HTTPHeaders, ByteBuffer, HTTPResponseStatus)
        switch outcome {
        case .success(let value): (headers, body, status) = value
        case .failure(let error): throw Self.classify(error, label: label, timeout: timeout, limit: limit)
        }
        switch status.code {
        case 200..<300:
            return (headers, body)
        case 400..<500:
            throw ConfigExternalError(.invalidRequest, "\(label): HTTP \(status.code)\(Self.excerpt(body))")
        case 500..<600:
            throw ConfigExternalError(.networkError, "\(label): HTTP \(status.code)\(Self.excerpt(body))")
        default:
            throw ConfigExternalError(.unknown, "\(label): unexpected HTTP \(status.code)")
        }
    }

    private func decode(_ body: ByteBuffer, endpoint: ConfigBackendEndpoint) throws(ConfigExternalError) -> DecodedStreamList {
        do {
            return try StreamListDecoder().decode(json: Data(body.readableBytesView))
        } catch {
            throw ConfigExternalError(endpoint: endpoint, list: error)
        }
    }

    private struct BackendTimeout: Error {}

    private static func classify(_ error: any Error, label: String, timeout: Duration, limit: Int) -> ConfigExternalError {
        switch error {
        case is BackendTimeout:
            return ConfigExternalError(.networkError, "\(label): no complete answer within \(timeout)")
        case is NIOTooManyBytesError:
            return ConfigExternalError(.invalidRequest, "\(label): body larger than \(limit) bytes")
        case is CancellationError:
            return ConfigExternalError(.networkError, "\(label): request cancelled")
        default:
            return ConfigExternalError(.networkError, "\(label): \(String(describing: error).prefix(200))")
        }
    }

    private static func excerpt(_ body: ByteBuffer) -> String {
        let text = String(decoding: body.readableBytesView.prefix(160), as: UTF8.self)
            .replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? "" : " (\(text))"
    }
}
