/// Why an RTMP connection was refused or dropped, naming what was wrong.
public enum RTMPError: Error, Equatable, CustomStringConvertible {
    /// C0 asked for a protocol version other than 3.
    case unsupportedVersion(UInt8)
    /// A chunk or message header cannot be valid (zero or huge chunk size, oversized message).
    case malformedChunk(String)
    /// An AMF0 value could not be decoded.
    case malformedAMF(String)
    /// A command arrived out of order or with missing arguments.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .unsupportedVersion(let version): "RTMP version \(version) is not supported (only 3)"
        case .malformedChunk(let reason): "malformed RTMP chunk: \(reason)"
        case .malformedAMF(let reason): "malformed AMF0 value: \(reason)"
        case .protocolViolation(let reason): "RTMP protocol violation: \(reason)"
        }
    }
}
