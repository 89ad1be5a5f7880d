import Crypto
import Foundation

/// Answers an RTSP server's `WWW-Authenticate` challenge with Basic or Digest (RFC 2617, MD5, with or
/// without `qop=auth`) credentials from the URL's user information.
///
/// Guarantees: Digest is preferred when the server offers both; the password never appears in
/// descriptions; a challenge this type cannot answer leaves ``challenge`` nil.
public struct RTSPAuthenticator: Sendable {
    enum Challenge: Sendable, Equatable {
        case basic
        case digest(realm: String, nonce: String, opaque: String?, qop: Bool)
    }

    let user: String
    let password: String
    private(set) var challenge: Challenge?
    private var nonceCount = 0

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }

    /// Takes the `WWW-Authenticate` values of a 401; returns whether one can be answered.
    public mutating func accept(challenges: [String]) -> Bool {
        var basic = false
        for text in challenges {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.lowercased().hasPrefix("digest") {
                let fields = Self.parameters(String(trimmed.dropFirst(6)))
                guard let realm = fields["realm"], let nonce = fields["nonce"] else { continue }
                if let algorithm = fields["algorithm"], algorithm.uppercased() != "MD5" { continue }
                let qop =
                    fields["qop"].map { $0.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "auth" } } ?? false
                challenge = .digest(realm: realm, nonce: nonce, opaque: fields["opaque"], qop: qop)
                nonceCount = 0
                return true
            }
            if trimmed.lowercased().hasPrefix("basic") { basic = true }
        }
        if basic { challenge = .basic }
        return basic
    }

    /// The `Authorization` header for a request, once a challenge was accepted.
    public mutating func authorization(method: String, uri: String) -> String? {
        authorization(method: method, uri: uri, cnonce: String(format: "%016llx", UInt64.random(in: 0...UInt64.max)))
    }

    mutating func authorization(method: String, uri: String, cnonce: String) -> String? {
        switch challenge {
        case nil:
            return nil
        case .basic:
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .digest(let realm, let nonce, let opaque, let qop):
            let ha1 = Self.md5("\(user):\(realm):\(password)")
            let ha2 = Self.md5("\(method):\(uri)")
            var header = "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\""
            if qop {
                nonceCount += 1
                let nc = String(format: "%08x", nonceCount)
                header +=
                    ", qop=auth, nc=\(nc), cnonce=\"\(cnonce)\", response=\"\(Self.md5("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)"))\""
            } else {
                header += ", response=\"\(Self.md5("\(ha1):\(nonce):\(ha2)"))\""
            }
            if let opaque { header += ", opaque=\"\(opaque)\"" }
            return header
        }
    }

    static func md5(_ text: String) -> String {
        Insecure.MD5.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// `key="value", key=value` pairs of a challenge.
    static func parameters(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(text)
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "," }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let close = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<close])
                rest = close < rest.endIndex ? rest[rest.index(after: close)...] : ""
            } else {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<comma].trimmingCharacters(in: .whitespaces)
                rest = rest[comma...]
            }
            result[key] = value
        }
        return result
    }
}
