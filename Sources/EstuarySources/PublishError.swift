/// Why a publisher (RTMP, M4F push) was refused, naming the stream.
public enum PublishError: Error, Equatable, CustomStringConvertible {
    /// No stream of that name accepts publishing (none configured, or none with a `publish://` input).
    case unknownStream(String)
    /// The stream asks for a password and the publisher gave none or another.
    case wrongPassword(stream: String)
    /// Another publisher is sending to the stream and the stream does not let a new one replace it.
    case alreadyPublishing(stream: String)
    /// The configuration backend could not be asked about an unknown name.
    case backendUnavailable(stream: String, reason: String)
    /// The stream's `on_publish` backend refused the publisher, or could not be asked and fails closed.
    case denied(stream: String, reason: String)

    public var description: String {
        switch self {
        case .unknownStream(let name): "stream '\(name)' does not accept publishing (no such stream with a publish:// input)"
        case .wrongPassword(let name): "wrong or missing publish password for stream '\(name)'"
        case .alreadyPublishing(let name): "stream '\(name)' already has a publisher"
        case .backendUnavailable(let name, let reason):
            "stream '\(name)' is unknown here and the configuration backend could not be asked: \(reason)"
        case .denied(let name, let reason): "publishing to stream '\(name)' was refused: \(reason)"
        }
    }

    /// A short machine-readable reason for status, logs and HTTP error bodies.
    public var reason: String {
        switch self {
        case .unknownStream: "unknown_stream"
        case .wrongPassword: "wrong_password"
        case .alreadyPublishing: "already_publishing"
        case .backendUnavailable: "config_external_error"
        case .denied: "publish_denied"
        }
    }
}
