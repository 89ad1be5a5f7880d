import Foundation

/// The parts of a session description (RFC 8866) an RTSP client needs: each media section's payload
/// type, encoding, clock rate, channels, `fmtp` parameters and control URL.
///
/// Guarantees: every `m=` line becomes one ``Media``, even for encodings we do not play (so errors can
/// name what was offered); malformed `m=`/`rtpmap` lines are ``RTSPError/malformedSDP(_:)``.
public struct SDPDescription: Sendable, Equatable {
    public struct Media: Sendable, Equatable {
        /// `video` or `audio` (or whatever the `m=` line says).
        public var kind: String
        public var payloadType: Int
        /// Upper-cased encoding name from `rtpmap` (`H264`, `H265`, `MPEG4-GENERIC`).
        public var encoding: String
        public var clockRate: Int
        public var channels: Int?
        /// `fmtp` parameters, keys lower-cased.
        public var format: [String: String]
        /// `a=control` of the section (may be relative).
        public var control: String?
    }

    public var media: [Media]
    /// Session-level `a=control`.
    public var control: String?

    public init(parsing text: String) throws(RTSPError) {
        media = []
        control = nil
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("m=") {
                let fields = line.dropFirst(2).split(separator: " ")
                guard fields.count >= 4, let payloadType = Int(fields[3]) else { throw .malformedSDP("media line '\(line)'") }
                media.append(
                    Media(
                        kind: String(fields[0]), payloadType: payloadType, encoding: "", clockRate: 0, channels: nil, format: [:],
                        control: nil))
            } else if line.hasPrefix("a=control:") {
                let value = String(line.dropFirst("a=control:".count))
                if media.isEmpty { control = value } else { media[media.count - 1].control = value }
            } else if line.hasPrefix("a=rtpmap:"), !media.isEmpty {
                let body = line.dropFirst("a=rtpmap:".count)
                let parts = body.split(separator: " ", maxSplits: 1)
                guard parts.count == 2, Int(parts[0]) == media[media.count - 1].payloadType else { continue }
                let encoding = parts[1].split(separator: "/")
                guard encoding.count >= 2, let rate = Int(encoding[1]), rate > 0 else { throw .malformedSDP("rtpmap '\(line)'") }
                media[media.count - 1].encoding = encoding[0].uppercased()
                media[media.count - 1].clockRate = rate
                media[media.count - 1].channels = encoding.count > 2 ? Int(encoding[2]) : nil
            } else if line.hasPrefix("a=fmtp:"), !media.isEmpty {
                let body = line.dropFirst("a=fmtp:".count)
                guard let space = body.firstIndex(of: " ") else { continue }
                for pair in body[body.index(after: space)...].split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard let key = kv.first else { continue }
                    media[media.count - 1].format[key.trimmingCharacters(in: .whitespaces).lowercased()] =
                        kv.count > 1 ? kv[1].trimmingCharacters(in: .whitespaces) : ""
                }
            }
        }
        guard !media.isEmpty else { throw .malformedSDP("no media section") }
    }

    /// A control attribute made absolute against the base URL (RFC 2326 C.1.1).
    public static func resolve(_ control: String?, base: String) -> String {
        guard let control, !control.isEmpty, control != "*" else { return base }
        if control.lowercased().hasPrefix("rtsp://") || control.lowercased().hasPrefix("rtsps://") { return control }
        return base.hasSuffix("/") ? base + control : base + "/" + control
    }
}
