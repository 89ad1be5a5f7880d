/// Why a replication step failed; the text names the node and the request.
public struct ReplicationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `unauthorized` (a wrong cluster_key), `not_found` (the node does not record the stream), `unreachable`,
    /// `tls_error`, `http_error`, `bad_response`, `rejected`.
    public var reason: String
    public var detail: String

    public init(_ reason: String, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason): \(detail)" }
}
