import NIOSSL

/// Why TLS could not be set up or a TLS connection failed, naming the file or peer at fault.
public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The certificate chain file cannot be read or holds no PEM certificate.
    case unreadableCertificate(path: String, reason: String)
    /// The private key file cannot be read or holds no PEM key.
    case unreadableKey(path: String, reason: String)
    /// The trusted CA file cannot be read or holds no PEM certificate.
    case unreadableCA(path: String, reason: String)
    /// The key does not belong to the certificate.
    case keyMismatch(certificate: String, key: String, reason: String)

    public var description: String {
        switch self {
        case .unreadableCertificate(let path, let reason): "tls: cannot read the certificate chain '\(path)': \(reason)"
        case .unreadableKey(let path, let reason): "tls: cannot read the private key '\(path)': \(reason)"
        case .unreadableCA(let path, let reason): "tls: cannot read the trusted CA file '\(path)': \(reason)"
        case .keyMismatch(let certificate, let key, let reason):
            "tls: the key '\(key)' does not fit the certificate '\(certificate)': \(reason)"
        }
    }

    /// A one-line explanation of a TLS failure inside `error` (an untrusted or invalid peer certificate, a failed
    /// handshake), or nil when `error` is not a TLS failure.
    public static func explain(_ error: any Error) -> String? {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "tls: the peer's certificate is not trusted (certificate verify failed; check tls.ca)"
        }
        if let ssl = error as? NIOSSLError {
            return "tls: handshake failed: \(ssl)"
        }
        if let ssl = error as? NIOSSLExtraError {
            return "tls: \(ssl)"
        }
        if text.contains("handshakeFailed") || text.contains("NIOSSL") || text.contains("SSL_R_") {
            return "tls: handshake failed: \(text.prefix(300))"
        }
        return nil
    }
}
