import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A refused request, answered as JSON `{"error": …, "detail": …}`: 401 with `WWW-Authenticate` for both
/// schemes, 403, or 429 with `Retry-After`.
public struct AccessError: HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var code: String
    public var detail: String
    public var retryAfterSeconds: Int?

    public init(status: HTTPResponse.Status, code: String, detail: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.retryAfterSeconds = retryAfterSeconds
    }

    public static func unauthorized(_ reason: String) -> AccessError {
        AccessError(status: .unauthorized, code: "unauthorized", detail: reason)
    }

    public static func forbidden(_ reason: String) -> AccessError {
        AccessError(status: .forbidden, code: "forbidden", detail: reason)
    }

    public var description: String { "\(status.code) \(code): \(detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = (try? JSONEncoder().encode(["error": code, "detail": detail])) ?? Data()
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized {
            headers.append(HTTPField(name: .wwwAuthenticate, value: "Basic realm=\"estuary\", charset=\"UTF-8\""))
            headers.append(HTTPField(name: .wwwAuthenticate, value: "Bearer realm=\"estuary\""))
        }
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
