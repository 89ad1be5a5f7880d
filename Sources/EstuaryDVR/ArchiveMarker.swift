import Foundation
import NIOCore

/// The box that introduces each segment in an archive M4F stream (`archive-…m4f`, the replication wire):
/// a top-level `skip` box whose payload is `{"estuary_segment": {"start_ms", "duration_ms", "init",
/// "sha256"}}`. Players (ffprobe included) ignore `skip` boxes; the importer uses it to cut the stream back
/// into the very segments the primary stored and to check each one's sha256.
public struct ArchiveMarker: Sendable, Equatable, Codable {
    public var startMs: Int64
    public var durationMs: Int64
    public var initID: String
    public var sha256: String

    enum CodingKeys: String, CodingKey {
        case startMs = "start_ms"
        case durationMs = "duration_ms"
        case initID = "init"
        case sha256
    }

    private struct Envelope: Codable {
        var estuarySegment: ArchiveMarker
        enum CodingKeys: String, CodingKey { case estuarySegment = "estuary_segment" }
    }

    /// The marker of a stored segment.
    public init(_ record: SegmentRecord) {
        startMs = record.startMs
        durationMs = record.durationMs
        initID = record.initID
        sha256 = record.sha256Hex
    }

    /// The whole `skip` box. Its JSON is written by hand (an export writes one per segment, and `JSONEncoder`
    /// cost more than the rest of the marker's path); ``init(payload:)`` reads it back with `JSONDecoder`.
    public func box() -> ByteBuffer {
        let payload =
            "{\"estuary_segment\":{\"start_ms\":\(startMs),\"duration_ms\":\(durationMs),"
            + "\"init\":\(Self.jsonString(initID)),\"sha256\":\(Self.jsonString(sha256))}}"
        var buffer = ByteBuffer()
        buffer.reserveCapacity(8 + payload.utf8.count)
        buffer.writeInteger(UInt32(8 + payload.utf8.count))
        buffer.writeString("skip")
        buffer.writeString(payload)
        return buffer
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ text: String) -> String {
        // Stored IDs and hex digests need no escaping: quote them whole instead of scalar by scalar.
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Reads a marker from a `skip` box's payload; nil if it is some other `skip` box.
    public init?(payload: ByteBuffer) {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: Data(payload.readableBytesView)) else { return nil }
        self = envelope.estuarySegment
    }
}
