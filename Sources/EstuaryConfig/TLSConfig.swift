/// The `tls` block: the files a node serves HTTPS with and the extra certificate authority it trusts.
///
/// ```yaml
/// listen: {http: 8080, https: 8443}
/// tls: {certificate: /etc/estuary/tls/tls.crt, key: /etc/estuary/tls/tls.key, ca: /etc/estuary/tls/ca.crt}
/// ```
/// Guarantees: a configuration with an HTTPS port names both a certificate and a key (``NodeConfig`` refuses
/// it otherwise); the files themselves are read by the runtime, which reports an unreadable one by its path.
public struct TLSConfig: Sendable, Equatable {
    /// `certificate`: the PEM certificate chain the HTTPS listener presents (leaf first).
    public var certificate: String?
    /// `key`: the PEM private key of that certificate.
    public var key: String?
    /// `ca`: a PEM file of certificate authorities trusted, besides the system's, when this node connects over
    /// TLS (`m4fs://` inputs and pushes, `https://` backends and peers).
    public var ca: String?

    /// Creates the block; the defaults are those of an absent `tls`.
    public init(certificate: String? = nil, key: String? = nil, ca: String? = nil) {
        self.certificate = certificate
        self.key = key
        self.ca = ca
    }

    /// Whether a certificate and key are configured (an HTTPS listener can start).
    public var canServe: Bool { certificate != nil && key != nil }

    static func read(from reader: inout ObjectReader) throws(FieldError) -> TLSConfig {
        TLSConfig(
            certificate: try reader.nonEmptyString("certificate"), key: try reader.nonEmptyString("key"),
            ca: try reader.nonEmptyString("ca"))
    }

    /// The block with `ESTUARY_TLS_CERTIFICATE`, `ESTUARY_TLS_KEY` and `ESTUARY_TLS_CA` over it.
    public func applying(environment: [String: String]) -> TLSConfig {
        func value(_ key: NodeEnvironmentKey) -> String? {
            guard let text = environment[key.rawValue]?.trimmingSpaces(), !text.isEmpty else { return nil }
            return text
        }
        return TLSConfig(
            certificate: value(.tlsCertificate) ?? certificate, key: value(.tlsKey) ?? key, ca: value(.tlsCA) ?? ca)
    }
}
