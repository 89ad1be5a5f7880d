/// Why an RTSP session failed, naming the request, header or packet at fault.
public enum RTSPError: Error, Equatable, CustomStringConvertible {
    /// The server answered a request with an error status.
    case status(method: String, code: Int, reason: String)
    /// The server refused our credentials (or asked for them and we have none).
    case unauthorized(method: String)
    /// A response or interleaved frame could not be parsed.
    case malformedResponse(String)
    /// The session description could not be used.
    case malformedSDP(String)
    /// Nothing in the session description can be played (no H.264, H.265 or AAC track).
    case noSupportedTracks([String])
    /// The server offered a transport we did not ask for, or none.
    case unsupportedTransport(String)
    /// The server closed the connection.
    case connectionClosed

    public var description: String {
        switch self {
        case .status(let method, let code, let reason): "\(method) answered \(code) \(reason)"
        case .unauthorized(let method): "\(method) refused the credentials (401)"
        case .malformedResponse(let reason): "malformed RTSP response: \(reason)"
        case .malformedSDP(let reason): "malformed SDP: \(reason)"
        case .noSupportedTracks(let found): "no H.264, H.265 or AAC track in the session (found \(found.joined(separator: ", ")))"
        case .unsupportedTransport(let text): "unusable transport '\(text)'"
        case .connectionClosed: "the server closed the connection"
        }
    }
}
