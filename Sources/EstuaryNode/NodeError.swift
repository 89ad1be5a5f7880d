import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Foundation
import Hummingbird
import NIOCore

/// An error answered to an HTTP client as JSON `{"error": "...", "detail": "..."}` (DESIGN §4).
public struct NodeError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    /// A short machine-readable code, e.g. `stream_not_found`.
    public var code: String
    /// A sentence naming what was wrong.
    public var detail: String

    public init(_ status: HTTPResponse.Status, _ code: String, _ detail: String) {
        self.status = status
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    /// The answer to a refused publisher: 404 unknown stream, 403 wrong password, 409 already published,
    /// 503 backend unreachable.
    public init(publishRefusal error: PublishError) {
        let status: HTTPResponse.Status =
            switch error {
            case .unknownStream: .notFound
            case .wrongPassword, .denied: .forbidden
            case .alreadyPublishing: .conflict
            case .backendUnavailable: .serviceUnavailable
            }
        self.init(status, error.reason, error.description)
    }

    public static func streamNotFound(_ name: String) -> NodeError {
        NodeError(.notFound, "stream_not_found", "no stream named '\(name)' runs on this node")
    }

    /// The API may not change streams while a configuration backend manages them (DESIGN §3).
    public static let configExternalEnabled = NodeError(
        .badRequest, "config_external_enabled",
        "streams are managed by the configuration backend (config_external); change them there, or remove config_external first")

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONEncoder().encode(["error": code, "detail": detail])) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Cluster" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
