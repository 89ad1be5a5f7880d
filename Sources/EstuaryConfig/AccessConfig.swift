import Foundation

/// Who may use a node's or sidecar's API and play or publish its streams (issue 9): the top-level keys
/// `edit_auth`, `view_auth`, `metrics_auth`, `api_tokens`, `on_play`, `on_publish`, `auth_backend_failure`
/// and `client_limits`.
///
/// ```yaml
/// edit_auth: admin s3cret          # Basic credentials that may change the API
/// view_auth: viewer v1ew           # when set, reading the API needs view (or edit) rights
/// metrics_auth: prom scrape        # when set, /metrics needs these (or view/edit) credentials
/// api_tokens:                      # bearer tokens, each with a role
///   - {token: 3f9a…, role: edit}
/// on_play: http://auth/play        # asked before a client plays a stream (per stream too)
/// on_publish: http://auth/publish  # asked before a publisher is admitted (per stream too)
/// auth_backend_failure: closed     # or open: what a failing on_play/on_publish backend means
/// api_dvr_roots: [/storage]        # streams put through the API record only under these
/// ```
///
/// Guarantees: with no credential configured at all the API is open (development), as before this block
/// existed; ``description`` shows no secret.
public struct AccessConfig: Sendable, Equatable, CustomStringConvertible {
    public var editAuth: UserPassword?
    public var viewAuth: UserPassword?
    public var metricsAuth: UserPassword?
    public var apiTokens: [APIToken]
    /// `on_play`: the playback authorization backend for every stream without its own.
    public var onPlay: String?
    /// `on_publish`: the publish authorization backend for every stream without its own.
    public var onPublish: String?
    /// `auth_backend_failure: open`: a backend that cannot be asked allows (default: it denies).
    public var backendFailOpen: Bool
    public var clientLimits: ClientLimits
    /// `api_dvr_roots`: when set, a stream changed through the API may record only under one of these
    /// directories, so that edit rights do not mean writing anywhere on the node's disk.
    public var apiDVRRoots: [String]?

    public init(
        editAuth: UserPassword? = nil, viewAuth: UserPassword? = nil, metricsAuth: UserPassword? = nil,
        apiTokens: [APIToken] = [], onPlay: String? = nil, onPublish: String? = nil, backendFailOpen: Bool = false,
        clientLimits: ClientLimits = ClientLimits(), apiDVRRoots: [String]? = nil
    ) {
        self.apiDVRRoots = apiDVRRoots
        self.editAuth = editAuth
        self.viewAuth = viewAuth
        self.metricsAuth = metricsAuth
        self.apiTokens = apiTokens
        self.onPlay = onPlay
        self.onPublish = onPublish
        self.backendFailOpen = backendFailOpen
        self.clientLimits = clientLimits
    }

    /// Whether `root` may hold the archive of a stream put through the API: always without `api_dvr_roots`,
    /// else when its normalized path lies inside one of them (`..` cannot climb out).
    public func allowsAPIDVRRoot(_ root: String) -> Bool {
        guard let roots = apiDVRRoots else { return true }
        let path = URL(fileURLWithPath: root).standardizedFileURL.path
        return roots.contains { allowed in
            let base = URL(fileURLWithPath: allowed).standardizedFileURL.path
            return path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
        }
    }

    /// Whether changing the API needs credentials (some edit credential is configured).
    public var protectsEdits: Bool { editAuth != nil || apiTokens.contains { $0.role == .edit } }
    /// Whether reading the API needs credentials (`view_auth` or a view token is configured).
    public var protectsReads: Bool { viewAuth != nil || apiTokens.contains { $0.role == .view } }

    public var description: String {
        "edit_auth=\(editAuth?.description ?? "none") view_auth=\(viewAuth?.description ?? "none") tokens=\(apiTokens.count)"
    }

    /// The environment variables that set these values; each wins over the YAML key of the same meaning.
    public enum EnvironmentKey: String, Sendable, CaseIterable {
        /// An edit-role bearer token, added to `api_tokens`.
        case apiToken = "ESTUARY_API_TOKEN"
        /// `edit_auth` as `USER PASS`.
        case editAuth = "ESTUARY_EDIT_AUTH"
        /// `view_auth` as `USER PASS`.
        case viewAuth = "ESTUARY_VIEW_AUTH"
        /// `metrics_auth` as `USER PASS`.
        case metricsAuth = "ESTUARY_METRICS_AUTH"
    }

    /// Applies the environment over these values.
    ///
    /// - Throws: ``NodeSettingsError/invalidValue(source:value:reason:)`` for credentials that are not
    ///   `USER PASS` (the value is masked in the error).
    public func applying(environment: [String: String]) throws(NodeSettingsError) -> AccessConfig {
        var config = self
        func credentials(_ key: EnvironmentKey) throws(NodeSettingsError) -> UserPassword? {
            guard let text = environment[key.rawValue]?.trimmingSpaces(), !text.isEmpty else { return nil }
            guard let value = UserPassword(parsing: text) else {
                throw .invalidValue(source: key.rawValue, value: "***", reason: "expected 'USER PASSWORD'")
            }
            return value
        }
        config.editAuth = try credentials(.editAuth) ?? config.editAuth
        config.viewAuth = try credentials(.viewAuth) ?? config.viewAuth
        config.metricsAuth = try credentials(.metricsAuth) ?? config.metricsAuth
        if let token = environment[EnvironmentKey.apiToken.rawValue]?.trimmingSpaces(), !token.isEmpty {
            config.apiTokens.append(APIToken(token: token, role: .edit))
        }
        return config
    }

    /// Reads the access keys from the node's top-level reader (the caller reports its unknown fields).
    static func read(from reader: inout ObjectReader, unknownFields: inout Set<String>) throws(FieldError) -> AccessConfig {
        func credentials(_ key: String, _ reader: inout ObjectReader) throws(FieldError) -> UserPassword? {
            guard let text = try reader.nonEmptyString(key) else { return nil }
            guard let value = UserPassword(parsing: text) else {
                throw FieldError(field: key, reason: "expected 'USER PASSWORD' (two words)")
            }
            return value
        }
        var config = AccessConfig()
        config.editAuth = try credentials("edit_auth", &reader)
        config.viewAuth = try credentials("view_auth", &reader)
        config.metricsAuth = try credentials("metrics_auth", &reader)
        if let tokens = try reader.list("api_tokens") {
            for (path, value) in tokens {
                var entry = try ObjectReader(value, path: path, namePath: "api_tokens")
                let token = try entry.requiredString("token")
                guard !token.isEmpty, !token.contains(" ") else {
                    throw FieldError(field: entry.fieldPath("token"), reason: "must be a non-empty word")
                }
                let roleText = try entry.string("role") ?? "view"
                guard let role = APIToken.Role(rawValue: roleText) else {
                    throw FieldError(field: entry.fieldPath("role"), reason: "must be view or edit, got '\(roleText)'")
                }
                unknownFields.formUnion(entry.unknownFields)
                config.apiTokens.append(APIToken(token: token, role: role))
            }
        }
        config.onPlay = try readBackendURL("on_play", &reader)
        config.onPublish = try readBackendURL("on_publish", &reader)
        if let failure = try reader.string("auth_backend_failure") {
            guard failure == "open" || failure == "closed" else {
                throw FieldError(field: "auth_backend_failure", reason: "must be open or closed, got '\(failure)'")
            }
            config.backendFailOpen = failure == "open"
        }
        if let roots = try reader.stringList("api_dvr_roots") {
            for root in roots where !root.hasPrefix("/") {
                throw FieldError(field: "api_dvr_roots", reason: "'\(root)' is not an absolute path")
            }
            config.apiDVRRoots = roots
        }
        if var limits = try reader.object("client_limits") {
            config.clientLimits = try ClientLimits.read(from: &limits)
            unknownFields.formUnion(limits.unknownFields)
        }
        return config
    }

    /// Reads an `on_play`/`on_publish` URL: http(s) with a host.
    static func readBackendURL(_ key: String, _ reader: inout ObjectReader) throws(FieldError) -> String? {
        guard let url = try reader.nonEmptyString(key) else { return nil }
        let scheme = URLText.scheme(of: url)
        guard scheme == "http" || scheme == "https", !(URLText.hostAndPort(of: url)?.isEmpty ?? true) else {
            throw FieldError(field: reader.fieldPath(key), reason: "expected an http(s) URL\(URLText.describe(url))")
        }
        return url
    }
}
