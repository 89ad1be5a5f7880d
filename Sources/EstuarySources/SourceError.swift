/// Why a source stopped, naming the input.
public enum SourceError: Error, Equatable, CustomStringConvertible {
    /// The URL cannot be captured (bad syntax, unknown scheme, unknown fake clip).
    case invalidURL(String, reason: String)
    /// The peer answered with an HTTP error status.
    case httpStatus(url: String, status: Int)
    /// The peer refused our credentials (HTTP or RTSP 401: the cluster key, or a camera's user and password).
    case unauthorized(url: String)
    /// The connection failed or broke.
    case connectionFailed(url: String, reason: String)
    /// The input ended (the peer closed the stream).
    case endOfStream(url: String)
    /// No media arrived for `source_timeout` seconds.
    case timeout(url: String, seconds: Int)
    /// The input's bytes could not be parsed at all.
    case malformedInput(url: String, reason: String)
    /// The input is this node itself (an `m4f://` URL naming this node): reading it would feed the stream its own output.
    case loop(url: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "invalid input URL \(url): \(reason)"
        case .httpStatus(let url, let status): "\(url) answered HTTP \(status)"
        case .unauthorized(let url): "\(url) refused our credentials (401)"
        case .connectionFailed(let url, let reason): "connection to \(url) failed: \(reason)"
        case .endOfStream(let url): "\(url) ended the stream"
        case .timeout(let url, let seconds): "no media from \(url) for \(seconds) s"
        case .malformedInput(let url, let reason): "malformed input from \(url): \(reason)"
        case .loop(let url): "\(url) is this node itself (508 loop detected); another input is used"
        }
    }

    /// A short machine-readable reason for status and metrics.
    public var reason: String {
        switch self {
        case .invalidURL: "invalid_url"
        case .httpStatus: "http_status"
        case .unauthorized: "unauthorized"
        case .connectionFailed: "connection_failed"
        case .endOfStream: "end_of_stream"
        case .timeout: "timeout"
        case .malformedInput: "malformed_input"
        case .loop: "loop_detected"
        }
    }
}
