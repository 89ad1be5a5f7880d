/// Why a node-to-node request was refused (answer 401). No case carries the key or the expected signature.
public enum ClusterAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No `Authorization` header.
    case missing
    /// The header is not `Cluster <unix_s>:<64 hex digits>`; the text says which part is wrong.
    case malformed(String)
    /// The signed time is more than ``ClusterAuth/maximumSkewSeconds`` from the verifier's clock;
    /// `skewSeconds` is verifier minus signer (positive: the request is old).
    case stale(skewSeconds: Int64)
    /// The signature does not match: a different key, method, path or time.
    case badSignature

    /// A one-line reason for logs and the 401 body.
    public var description: String {
        switch self {
        case .missing: "missing Authorization header"
        case .malformed(let reason): "malformed Cluster authorization: \(reason)"
        case .stale(let skew): "stale Cluster authorization: \(skew) s from this node's clock (limit \(ClusterAuth.maximumSkewSeconds) s)"
        case .badSignature: "bad Cluster authorization signature"
        }
    }
}
