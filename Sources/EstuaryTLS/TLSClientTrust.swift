import NIOSSL

/// The TLS settings of a node's outgoing connections (`m4fs://`, `https://` peers and backends).
///
/// Guarantees: peers are verified against the system's roots plus the configured CA file, host names included;
/// an unreadable or empty CA file is an error at start, never a silent fallback to no verification.
public enum TLSClientTrust {
    /// A client configuration trusting the system's roots and, when given, the certificates of `caFile`.
    public static func configuration(caFile: String?) throws(TLSError) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caFile {
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw .unreadableCA(path: caFile, reason: "\(error)")
            }
            guard !certificates.isEmpty else { throw .unreadableCA(path: caFile, reason: "no PEM certificate in the file") }
            configuration.additionalTrustRoots = [.certificates(certificates)]
        }
        return configuration
    }
}
