import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The config-sidecar's admin API for the CLI (`--sidecar`, env `ESTUARY_SIDECAR`, default
/// `http://127.0.0.1:8070`). A refused request prints the sidecar's error, with the field it names.
/// `ESTUARY_API_TOKEN`, when set, is sent as `Authorization: Bearer …` (the sidecar's admin API may ask for it).
struct SidecarAdminClient {
    var base: String
    var token = ProcessInfo.processInfo.environment["ESTUARY_API_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }

    init(_ option: String?) {
        let text = option ?? ProcessInfo.processInfo.environment["ESTUARY_SIDECAR"] ?? "http://127.0.0.1:8070"
        base = text.hasSuffix("/") ? String(text.dropLast()) : text
    }

    /// Sends a request; returns the JSON body, or throws the sidecar's error as a readable message.
    func send(_ method: HTTPMethod, _ path: String, body: Any? = nil) async throws -> Any? {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        } catch {
            throw CLIError("cannot reach the config-sidecar at \(base): \(error)")
        }
        let data = Data(try await response.body.collect(upTo: 64 << 20).readableBytesView)
        let object = data.isEmpty ? nil : try? JSONSerialization.jsonObject(with: data)
        guard (200..<300).contains(Int(response.status.code)) else {
            let error = object as? [String: Any]
            let detail = error?["detail"] as? String ?? String(decoding: data, as: UTF8.self)
            let field = (error?["field"] as? String).map { " (field \($0))" } ?? ""
            throw CLIError("\(method) \(path): \(response.status.code) \(error?["error"] as? String ?? ""): \(detail)\(field)")
        }
        return object
    }

    /// Percent-encodes a stream name for a path, keeping its slashes.
    static func path(_ name: String) -> String {
        name.split(separator: "/", omittingEmptySubsequences: false).map {
            String($0).addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? String($0)
        }.joined(separator: "/")
    }
}
