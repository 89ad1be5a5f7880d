import EstuaryConfig
import Foundation

/// A configuration backend's address, as configured (`STREAMER_CONFIG_EXTERNAL`, the API or the YAML line),
/// resolved into its endpoints (DESIGN §3).
///
/// Guarantees: a URL whose path ends in `/streams` names the list endpoint and its siblings are the other
/// endpoints; any other path has the endpoint names appended. User information never appears in
/// ``endpointURL(_:)`` or ``masked``: a lone key (`http://KEY@host/…`) becomes `Authorization: Bearer KEY`,
/// `user:password` becomes HTTP Basic. A query string in the configured URL is kept on every request.
public struct ConfigBackendURL: Sendable, Equatable, CustomStringConvertible {
    /// The URL exactly as configured (it may hold a secret: never log it; log ``masked``).
    public let configured: String
    /// `scheme://host[:port]/base` without user information, query or trailing slash.
    public let base: String
    /// The configured URL's own query string (without `?`), sent on every request; empty when none.
    public let baseQuery: String
    /// The `Authorization` header value derived from the user information, if any.
    public let authorization: String?

    /// Parses a backend URL.
    ///
    /// - Throws: ``ConfigExternalError`` with reason `invalid_request` when the text is not an absolute
    ///   `http` or `https` URL with a host.
    public init(_ text: String) throws(ConfigExternalError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw ConfigExternalError(
                .invalidRequest, "config_external must be an http:// or https:// URL with a host, got '\(SecretMasking.mask(url: trimmed))'"
            )
        }
        configured = trimmed
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        if path.hasSuffix("/streams") { path.removeLast("/streams".count) }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let port = components.port.map { ":\($0)" } ?? ""
        base = "\(scheme)://\(hostPart)\(port)\(path)"
        baseQuery = components.percentEncodedQuery ?? ""
        switch (components.user, components.password) {
        case (let user?, nil) where !user.isEmpty:
            authorization = "Bearer \(user.removingPercentEncoding ?? user)"
        case (let user?, let password?):
            let pair = "\(user.removingPercentEncoding ?? user):\(password.removingPercentEncoding ?? password)"
            authorization = "Basic \(Data(pair.utf8).base64EncodedString())"
        default:
            authorization = nil
        }
    }

    /// The URL of one endpoint with `query` (already encoded) after the configured query.
    public func endpointURL(_ endpoint: ConfigBackendEndpoint, query: String = "") -> String {
        let joined = [baseQuery, query].filter { !$0.isEmpty }.joined(separator: "&")
        let url = "\(base)/\(endpoint.pathComponent)"
        return joined.isEmpty ? url : "\(url)?\(joined)"
    }

    /// The configured URL with its secrets masked, for logs and the API.
    public var masked: String { SecretMasking.mask(url: configured) }

    public var description: String { masked }
}
