/// Parsers for the unit-carrying values of the configuration: durations, byte sizes and bit rates.
///
/// Every parser takes a whole, non-negative integer with at most one unit letter after it (surrounding
/// spaces are ignored, letters are case-insensitive) and returns the value in the base unit. Anything else —
/// an empty text, a sign, a fraction, an unknown unit, an overflow — is rejected with a ``UnitParseError``
/// that quotes the text.
public enum ConfigUnits {
    /// Parses a duration into whole seconds.
    ///
    /// Units: `s` seconds, `m` minutes, `h` hours, `d` days, `w` weeks; a plain number is seconds.
    /// `"20d"` is 1,728,000, `"90m"` is 5,400, `"30"` is 30.
    public static func parseDuration(_ text: String) throws(UnitParseError) -> Int {
        try parse(text, kind: .duration, multipliers: durationMultipliers)
    }

    /// Parses a size into bytes.
    ///
    /// Units are powers of 1024: `K`, `M`, `G`, `T`, `P` (a trailing `B`, as in `"500GB"`, is allowed);
    /// a plain number is bytes. `"512K"` is 524,288, `"500G"` is 536,870,912,000.
    public static func parseByteSize(_ text: String) throws(UnitParseError) -> Int {
        try parse(text, kind: .byteSize, multipliers: byteMultipliers)
    }

    /// Parses a bit rate into bits per second.
    ///
    /// Units are powers of 1000: `K`, `M`, `G`, `T` (a trailing `bit`, `bps` or `bit/s`, as in `"100Mbit"`,
    /// is allowed); a plain number is bits per second. `"100M"` is 100,000,000.
    public static func parseBitRate(_ text: String) throws(UnitParseError) -> Int {
        try parse(text, kind: .bitRate, multipliers: bitRateMultipliers)
    }

    private static let durationMultipliers: [String: Int] = [
        "": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800,
    ]

    private static let byteMultipliers: [String: Int] = {
        var table: [String: Int] = ["": 1, "b": 1]
        let powers = ["k": 1, "m": 2, "g": 3, "t": 4, "p": 5]
        for (letter, power) in powers {
            var value = 1
            for _ in 0..<power { value *= 1_024 }
            table[letter] = value
            table[letter + "b"] = value
        }
        return table
    }()

    private static let bitRateMultipliers: [String: Int] = {
        var table: [String: Int] = ["": 1]
        let powers = ["": 0, "k": 1, "m": 2, "g": 3, "t": 4]
        for (letter, power) in powers {
            var value = 1
            for _ in 0..<power { value *= 1_000 }
            table[letter] = value
            for suffix in ["bit", "bps", "bit/s"] {
                table[letter + suffix] = value
            }
        }
        return table
    }()

    private static func parse(
        _ text: String,
        kind: UnitParseError.Kind,
        multipliers: [String: Int]
    ) throws(UnitParseError) -> Int {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else {
            throw UnitParseError(kind: kind, value: text, reason: "empty value")
        }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else {
            let reason =
                trimmed.first == "-" ? "must not be negative" : "expected a whole number with an optional unit"
            throw UnitParseError(kind: kind, value: text, reason: reason)
        }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces().lowercased()
        guard let multiplier = multipliers[unit] else {
            if unit.first == "." || unit.first == "," {
                throw UnitParseError(kind: kind, value: text, reason: "expected a whole number")
            }
            throw UnitParseError(kind: kind, value: text, reason: "unknown unit '\(unit)' (use \(kind.unitHint))")
        }
        guard let number = Int(digits) else {
            throw UnitParseError(kind: kind, value: text, reason: "too large")
        }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else {
            throw UnitParseError(kind: kind, value: text, reason: "too large")
        }
        return product
    }
}

/// A unit-carrying value that could not be parsed; the description quotes the value.
public struct UnitParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of value was expected.
    public enum Kind: String, Sendable, Equatable {
        /// A duration (`"20d"`, `"12h"`, seconds).
        case duration
        /// A size in bytes (`"500G"`).
        case byteSize = "size"
        /// A bit rate (`"100M"`).
        case bitRate = "bit rate"

        var unitHint: String {
            switch self {
            case .duration: "s, m, h, d or w"
            case .byteSize: "K, M, G, T or P"
            case .bitRate: "K, M, G or T"
            }
        }
    }

    /// The kind of value expected.
    public var kind: Kind
    /// The text that was rejected, as given.
    public var value: String
    /// Why it was rejected.
    public var reason: String

    /// Creates an error for `value`.
    public init(kind: Kind, value: String, reason: String) {
        self.kind = kind
        self.value = value
        self.reason = reason
    }

    /// For example `invalid duration '20x': unknown unit 'x' (use s, m, h, d or w)`.
    public var description: String {
        "invalid \(kind.rawValue) '\(value)': \(reason)"
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs.
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
