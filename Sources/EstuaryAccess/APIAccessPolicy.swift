import EstuaryConfig
import Foundation

/// Decides whether an `Authorization` header grants the right a request needs (issue 9).
///
/// Credentials are `Basic base64(USER:PASS)` matching `edit_auth`, `view_auth` or `metrics_auth`, or
/// `Bearer TOKEN` matching an `api_tokens` entry. Edit credentials also grant view and metrics; view
/// credentials also grant metrics.
///
/// Guarantees: with nothing configured every request is allowed; when only read protection is configured,
/// writes need view credentials at least (an API is never writable by those who may not read it);
/// comparisons of secrets take time independent of where they differ.
public struct APIAccessPolicy: Sendable {
    public let config: AccessConfig

    public init(_ config: AccessConfig) {
        self.config = config
    }

    /// What a credential grants: the strongest role it matches, or nil.
    enum Grant: Int, Comparable {
        case metrics = 0
        case view = 1
        case edit = 2
        static func < (lhs: Grant, rhs: Grant) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    public func decide(authorization header: String?, need: AccessNeed) -> AccessDecision {
        let required: Grant
        switch need {
        case .open:
            return .allowed
        case .metrics:
            guard config.metricsAuth != nil else { return .allowed }
            required = .metrics
        case .view:
            guard config.protectsReads else { return .allowed }
            required = .view
        case .edit:
            if config.protectsEdits {
                required = .edit
            } else if config.protectsReads {
                required = .view
            } else {
                return .allowed
            }
        }
        guard let header, !header.isEmpty else {
            return .unauthorized(reason: "credentials are required (Basic or Bearer)")
        }
        guard let grant = grant(of: header) else {
            return .unauthorized(reason: "the credentials are not valid")
        }
        guard grant >= required else {
            return .forbidden(reason: "the credentials do not grant \(required == .edit ? "edit" : "view") rights")
        }
        return .allowed
    }

    /// The strongest grant of a header, or nil when it matches nothing.
    func grant(of header: String) -> Grant? {
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmingCharacters(in: .whitespaces)
        var best: Grant?
        func offer(_ grant: Grant) { best = max(best ?? grant, grant) }
        switch scheme {
        case "basic":
            guard let data = Data(base64Encoded: value), let text = String(data: data, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            else { return nil }
            let user = String(text[..<colon])
            let password = String(text[text.index(after: colon)...])
            if let auth = config.editAuth, Self.same(auth.user, user) && Self.same(auth.password, password) { offer(.edit) }
            if let auth = config.viewAuth, Self.same(auth.user, user) && Self.same(auth.password, password) { offer(.view) }
            if let auth = config.metricsAuth, Self.same(auth.user, user) && Self.same(auth.password, password) { offer(.metrics) }
        case "bearer":
            for token in config.apiTokens where Self.same(token.token, value) {
                offer(token.role == .edit ? .edit : .view)
            }
        default:
            return nil
        }
        return best
    }

    /// Compares two secrets in time that depends on their lengths only.
    static func same(_ lhs: String, _ rhs: String) -> Bool {
        let left = Array(lhs.utf8)
        let right = Array(rhs.utf8)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            let a = index < left.count ? left[index] : 0
            let b = index < right.count ? right[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }
}
