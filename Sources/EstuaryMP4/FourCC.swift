/// A four-character code (box type, brand, sample entry name) as its 32-bit big-endian value.
public struct FourCC: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The code as a big-endian 32-bit integer.
    public var rawValue: UInt32

    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Creates a code from a four-ASCII-character string (shorter strings are space padded).
    public init(stringLiteral value: String) {
        var raw: UInt32 = 0
        var bytes = Array(value.utf8.prefix(4))
        while bytes.count < 4 { bytes.append(0x20) }
        for byte in bytes { raw = raw << 8 | UInt32(byte) }
        self.rawValue = raw
    }

    /// The code as text; unprintable bytes are shown as `?`.
    public var description: String {
        let bytes = [24, 16, 8, 0].map { UInt8((rawValue >> $0) & 0xFF) }
        return String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : 0x3F }, as: UTF8.self)
    }

    /// Whether all four bytes are printable ASCII (used to resynchronise on damaged input).
    public var isPrintable: Bool {
        [24, 16, 8, 0].allSatisfy { (0x20...0x7E).contains(UInt8((rawValue >> $0) & 0xFF)) }
    }
}
