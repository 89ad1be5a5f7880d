/// A user name and password for HTTP Basic authentication, as Flussonic writes them: `edit_auth: USER PASS`.
///
/// Guarantees: both parts are non-empty and contain no whitespace; ``description`` never shows the password.
public struct UserPassword: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var user: String
    public var password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Parses `USER PASS` (one or more spaces between them).
    ///
    /// - Returns: nil when the text is not exactly two words.
    public init?(parsing text: String) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard words.count == 2 else { return nil }
        self.init(user: String(words[0]), password: String(words[1]))
    }

    public var description: String { "\(user) ***" }
}
