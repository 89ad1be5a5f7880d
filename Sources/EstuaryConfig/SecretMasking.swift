import Foundation

/// Hides the secrets in URLs before they are logged or shown.
///
/// - `http://KEY@host/x` → `http://***@host/x` (a lone user-info part is a key or token)
/// - `rtsp://user:pass@h/` → `rtsp://user:***@h/` (the user name stays, the password goes)
/// - query values of `password`, `pass`, `passwd`, `token`, `key`, `secret`, `auth`, `cluster_key`,
///   `access_token`, `signature`: `…?token=abc` → `…?token=***`
///
/// Text without `scheme://` is returned unchanged, and so is an empty user-info part (`udp://@239.0.0.1:1234`).
public enum SecretMasking {
    /// What a secret is replaced with.
    public static let placeholder = "***"

    /// Query parameter names whose values are masked (compared in lower case).
    public static let secretQueryNames: Set<String> = [
        "password", "pass", "passwd", "token", "key", "secret", "auth", "cluster_key", "access_token", "signature",
    ]

    /// The URL with its secrets replaced by ``placeholder``.
    public static func mask(url: String) -> String {
        guard let parts = URLText.split(url) else { return url }
        var authority = String(parts.authority)
        if let at = authority.lastIndex(of: "@"), at != authority.startIndex {
            let userInfo = authority[..<at]
            let host = authority[at...]
            if let colon = userInfo.firstIndex(of: ":") {
                authority = "\(userInfo[..<colon]):\(placeholder)\(host)"
            } else {
                authority = "\(placeholder)\(host)"
            }
        }
        return "\(parts.scheme)://\(authority)\(maskQuery(parts.rest))"
    }

    /// The URL with its secrets replaced by ``placeholder``.
    public static func mask(url: URL) -> String {
        mask(url: url.absoluteString)
    }

    private static func maskQuery(_ rest: Substring) -> String {
        guard let question = rest.firstIndex(of: "?") else { return String(rest) }
        let path = rest[..<question]
        let afterQuestion = rest[rest.index(after: question)...]
        let fragmentStart = afterQuestion.firstIndex(of: "#") ?? afterQuestion.endIndex
        let query = afterQuestion[..<fragmentStart]
        let fragment = afterQuestion[fragmentStart...]
        let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<equals]
            guard secretQueryNames.contains(name.lowercased()) else { return String(pair) }
            return "\(name)=\(placeholder)"
        }
        return "\(path)?\(masked.joined(separator: "&"))\(fragment)"
    }
}

extension StreamConfig {
    /// The stream as the API shows it (issue 9): `password` as `***`, each input's and push's URL through
    /// ``SecretMasking/mask(url:)``, an input's `cluster_key` as `***`, `on_play`/`on_publish` masked.
    /// Never feed it back as configuration.
    public var maskedForDisplay: StreamConfig {
        var copy = self
        if copy.password != nil { copy.password = SecretMasking.placeholder }
        copy.inputs = inputs.map { input in
            var input = input
            input.url = SecretMasking.mask(url: input.url)
            if input.clusterKey != nil { input.clusterKey = SecretMasking.placeholder }
            return input
        }
        copy.pushes = pushes.map { PushConfig(url: SecretMasking.mask(url: $0.url)) }
        copy.onPlay = onPlay.map { SecretMasking.mask(url: $0) }
        copy.onPublish = onPublish.map { SecretMasking.mask(url: $0) }
        copy.dvr?.episodesURL = dvr?.episodesURL.map { SecretMasking.mask(url: $0) }
        return copy
    }
}
