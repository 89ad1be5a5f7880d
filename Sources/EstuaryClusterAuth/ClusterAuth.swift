import Crypto
import Foundation

/// Signs and checks node-to-node requests with the cluster key (DESIGN §4.3).
///
/// A request carries `Authorization: Cluster <unix_s>:<hex>` where `<hex>` is the lower-case hex
/// HMAC-SHA256 of `"METHOD path unix_s"` under the cluster key; `path` excludes the query string. The key
/// never crosses the wire: only the time and the signature do, and a signature is accepted for at most
/// ``maximumSkewSeconds`` either side of the receiver's clock.
///
/// The key is never printed: `description`, `debugDescription` and reflection show `***`, and no
/// ``ClusterAuthError`` contains it.
public struct ClusterAuth: Sendable {
    /// The largest accepted difference, in seconds, between the signer's time and the verifier's.
    public static let maximumSkewSeconds: Int64 = 120

    /// The scheme word of the `Authorization` header.
    public static let scheme = "Cluster"

    private let key: SymmetricKey

    /// Creates a signer and verifier for `key` (the `cluster_key` setting, used as its UTF-8 bytes).
    ///
    /// An empty key is accepted but protects nothing; EstuaryConfig's `NodeSettings` never yields one.
    public init(key: String) {
        self.key = SymmetricKey(data: Data(key.utf8))
    }

    /// The `Authorization` header value for a request made at `now`.
    ///
    /// - Parameters:
    ///   - method: the HTTP method; it is upper-cased.
    ///   - path: the request path; anything from `?` on is ignored, so a full request target may be given.
    public func authorizationHeader(method: String, path: String, now: Date = Date()) -> String {
        authorizationHeader(method: method, path: path, now: Self.unixSeconds(now))
    }

    /// The `Authorization` header value for a request made at `now`, in UTC seconds since 1970.
    public func authorizationHeader(method: String, path: String, now: Int64) -> String {
        "\(Self.scheme) \(now):\(signature(method: method, path: path, unixSeconds: now))"
    }

    /// The lower-case hex HMAC-SHA256 of `"METHOD path unix_s"` (64 characters).
    public func signature(method: String, path: String, unixSeconds: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Self.message(method: method, path: path, unixSeconds: unixSeconds), using: key)
        return code.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Checks a request's `Authorization` header at `now`; returns normally when it is valid.
    ///
    /// - Parameters:
    ///   - header: the header value, `nil` when absent.
    ///   - method: the request's method (upper-cased before checking).
    ///   - path: the request's path; anything from `?` on is ignored.
    /// - Throws: ``ClusterAuthError/missing``, ``ClusterAuthError/malformed(_:)``,
    ///   ``ClusterAuthError/stale(skewSeconds:)`` (more than ``maximumSkewSeconds`` apart), or
    ///   ``ClusterAuthError/badSignature``. The signature is compared in constant time.
    public func verify(header: String?, method: String, path: String, now: Date = Date()) throws(ClusterAuthError) {
        try verify(header: header, method: method, path: path, now: Self.unixSeconds(now))
    }

    /// Checks a request's `Authorization` header at `now`, in UTC seconds since 1970; see the `Date` variant.
    public func verify(header: String?, method: String, path: String, now: Int64) throws(ClusterAuthError) {
        guard let header, !header.allSatisfy({ $0 == " " || $0 == "\t" }) else { throw .missing }
        let (timestamp, mac) = try Self.parse(header)
        let (skew, overflow) = now.subtractingReportingOverflow(timestamp)
        guard !overflow, abs(skew) <= Self.maximumSkewSeconds else {
            throw .stale(skewSeconds: overflow ? Int64.max : skew)
        }
        let message = Self.message(method: method, path: path, unixSeconds: timestamp)
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: key) else {
            throw .badSignature
        }
    }

    /// Checks a request and returns the outcome instead of throwing.
    public func check(header: String?, method: String, path: String, now: Date = Date()) -> Result<Void, ClusterAuthError> {
        Result { () throws(ClusterAuthError) in try verify(header: header, method: method, path: path, now: now) }
    }

    static func message(method: String, path: String, unixSeconds: Int64) -> Data {
        let bare = path.firstIndex(of: "?").map { path[..<$0] } ?? path[...]
        return Data("\(method.uppercased()) \(bare) \(unixSeconds)".utf8)
    }

    static func unixSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard let whole = Int64(exactly: seconds) else { return seconds < 0 ? Int64.min : Int64.max }
        return whole
    }

    /// Splits `Cluster <digits>:<64 hex>` into the time and the MAC bytes.
    private static func parse(_ header: String) throws(ClusterAuthError) -> (Int64, Data) {
        let trimmed = header.drop { $0 == " " || $0 == "\t" }
        guard let space = trimmed.firstIndex(of: " ") else {
            throw .malformed("expected '\(scheme) <unix_s>:<hex>'")
        }
        guard trimmed[..<space].lowercased() == scheme.lowercased() else {
            throw .malformed("the scheme is not '\(scheme)'")
        }
        let credentials = trimmed[trimmed.index(after: space)...].trimmingCharacters(in: .whitespaces)
        guard let colon = credentials.firstIndex(of: ":") else {
            throw .malformed("expected '<unix_s>:<hex>' after '\(scheme)'")
        }
        let time = credentials[..<colon]
        let hex = credentials[credentials.index(after: colon)...]
        guard !time.isEmpty, time.count <= 19, time.allSatisfy({ $0.isASCII && $0.isNumber }), let timestamp = Int64(time) else {
            throw .malformed("the time is not a whole number of seconds")
        }
        guard hex.utf8.count == 2 * SHA256.byteCount, let mac = decodeHex(hex) else {
            throw .malformed("the signature is not \(2 * SHA256.byteCount) hex digits")
        }
        return (timestamp, mac)
    }

    private static func decodeHex(_ text: Substring) -> Data? {
        var bytes = Data(capacity: text.utf8.count / 2)
        var high: UInt8?
        for char in text.utf8 {
            let nibble: UInt8
            switch char {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = char - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = char - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = char - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let value = high {
                bytes.append(value << 4 | nibble)
                high = nil
            } else {
                high = nibble
            }
        }
        return high == nil ? bytes : nil
    }
}

extension ClusterAuth: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `ClusterAuth(key: ***)`: the key is never shown.
    public var description: String { "ClusterAuth(key: ***)" }

    /// `ClusterAuth(key: ***)`: the key is never shown.
    public var debugDescription: String { description }

    /// A mirror without the key.
    public var customMirror: Mirror { Mirror(self, children: ["key": "***"]) }
}
