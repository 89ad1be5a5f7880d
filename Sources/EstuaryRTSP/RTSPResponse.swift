import Foundation
import NIOCore

/// One RTSP response: status, headers (looked up case-insensitively) and body.
public struct RTSPResponse: Sendable, Equatable {
    public var code: Int
    public var reason: String
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer

    public init(code: Int, reason: String, headers: [(name: String, value: String)], body: ByteBuffer) {
        self.code = code
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The first value of a header.
    public subscript(header name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// Every value of a header (a server may send several `WWW-Authenticate`).
    public func values(of name: String) -> [String] {
        headers.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
    }

    public var cseq: Int? { self[header: "CSeq"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    public static func == (lhs: RTSPResponse, rhs: RTSPResponse) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason && lhs.body == rhs.body
            && lhs.headers.map { [$0.name, $0.value] } == rhs.headers.map { [$0.name, $0.value] }
    }
}
