import Crypto
import EstuaryLive
import NIOCore

/// One stored segment: a GOP-aligned run of M4F fragments (`[styp] prft moof mdat …`) beginning with a
/// keyframe, played after the init segment ``initID`` names.
///
/// Guarantees: ``sha256`` is the digest of the segment file's bytes, computed once when written (or
/// checked on import); ``startMs`` is the UTC time (`prft`) of its first sample.
public struct SegmentRecord: Sendable, Equatable, Hashable {
    /// UTC milliseconds of the first sample.
    public var startMs: Int64
    /// Media duration, milliseconds.
    public var durationMs: Int64
    /// The file's size.
    public var bytes: Int
    /// The init segment it needs: 8 hex digits (the start of the init's sha256).
    public var initID: String
    /// The file's sha256, 32 bytes.
    public var sha256: [UInt8]

    /// Creates a record.
    public init(startMs: Int64, durationMs: Int64, bytes: Int, initID: String, sha256: [UInt8]) {
        self.startMs = startMs
        self.durationMs = durationMs
        self.bytes = bytes
        self.initID = initID
        self.sha256 = sha256
    }

    /// UTC milliseconds just after the last sample.
    public var endMs: Int64 { startMs + durationMs }

    /// ``sha256`` in lower-case hex.
    public var sha256Hex: String { hex(sha256) }

    /// The segment's file name inside its day directory: `START-DURATION-INIT.m4s`.
    public var fileName: String { "\(startMs)-\(durationMs)-\(initID).m4s" }

    /// The day directory (UTC) the segment lives in: `YYYY-MM-DD`.
    public var dayName: String { Self.dayName(ofMs: startMs) }

    /// `YYYY-MM-DD` of a UTC time.
    public static func dayName(ofMs ms: Int64) -> String { UTCTime.dayName(ms: ms) }

    /// Parses `START-DURATION-INIT.m4s`.
    static func parseFileName(_ name: String) -> (startMs: Int64, durationMs: Int64, initID: String)? {
        guard name.hasSuffix(".m4s") else { return nil }
        let parts = name.dropLast(4).split(separator: "-")
        guard parts.count == 3, let start = Int64(parts[0]), let duration = Int64(parts[1]), parts[2].count == 8 else { return nil }
        return (start, duration, String(parts[2]))
    }

    // MARK: the index record (56 bytes)

    /// The size of one record in a day's `index.bin`.
    static let encodedSize = 56

    /// Appends the 56-byte index record: start i64, duration u32, bytes u32, init u32, sha256 32 bytes, check u32 (the first 4 bytes of the
    /// sha256 of the 52 bytes before it): a torn or damaged record is detected.
    public func encode(into buffer: inout ByteBuffer) {
        var record = ByteBuffer()
        record.reserveCapacity(Self.encodedSize)
        record.writeInteger(startMs)
        record.writeInteger(UInt32(clamping: durationMs))
        record.writeInteger(UInt32(clamping: bytes))
        record.writeInteger(UInt32(initID, radix: 16) ?? 0)
        record.writeBytes(sha256)
        let check = Array(SHA256.hash(data: Array(record.readableBytesView)).prefix(4))
        record.writeBytes(check)
        buffer.writeBuffer(&record)
    }

    /// Reads one record; nil when its check does not match.
    static func decode(from buffer: inout ByteBuffer) -> SegmentRecord? {
        guard let raw = buffer.readBytes(length: encodedSize) else { return nil }
        let check = Array(SHA256.hash(data: raw[0..<52]).prefix(4))
        guard Array(raw[52..<56]) == check else { return nil }
        var view = ByteBuffer(bytes: raw)
        guard let start = view.readInteger(as: Int64.self), let duration = view.readInteger(as: UInt32.self),
            let bytes = view.readInteger(as: UInt32.self), let initNumber = view.readInteger(as: UInt32.self),
            let sha = view.readBytes(length: 32)
        else { return nil }
        let initHex = String(initNumber, radix: 16)
        return SegmentRecord(
            startMs: start, durationMs: Int64(duration), bytes: Int(bytes),
            initID: String(repeating: "0", count: max(0, 8 - initHex.count)) + initHex, sha256: sha)
    }
}

func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0xF)])
    }
    return String(decoding: out, as: UTF8.self)
}
