/// A bearer token for the HTTP API (`api_tokens:` in the YAML, `ESTUARY_API_TOKEN` in the environment) and the
/// right it grants.
///
/// Guarantees: ``description`` never shows the token.
public struct APIToken: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// What a credential may do: `view` reads the API, `edit` also changes it.
    public enum Role: String, Sendable, Equatable, Hashable, CaseIterable {
        case view
        case edit
    }

    public var token: String
    public var role: Role

    public init(token: String, role: Role) {
        self.token = token
        self.role = role
    }

    public var description: String { "*** (\(role.rawValue))" }
}
