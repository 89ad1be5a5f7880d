/// Reads a bit string most-significant bit first, the order in which H.264, H.265 and AAC
/// syntax elements are written.
///
/// Guarantees: every read is bounds-checked and never traps on any input. A read that would
/// run past the end throws ``MediaFormatError/truncated(what:)`` and leaves ``position``
/// where it was. Errors name ``context`` and, where the caller gave one, the field.
public struct BitReader: Sendable {
    /// The bytes being read.
    public let bytes: [UInt8]
    /// What is being read (for example "H.264 SPS"); the start of every error's description.
    public let context: String
    /// The offset of the next bit to read, in bits from the start of ``bytes``.
    public private(set) var position: Int = 0

    /// Creates a reader positioned at the first bit of `bytes`.
    public init(_ bytes: [UInt8], context: String = "bit string") {
        self.bytes = bytes
        self.context = context
    }

    /// The number of bits not yet read.
    public var bitsRemaining: Int { bytes.count * 8 - position }

    /// Whether the next bit to read is the first bit of a byte.
    public var isByteAligned: Bool { position & 7 == 0 }

    /// Reads `n` bits (0…64) as an unsigned big-endian number.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if fewer than `n` bits remain;
    ///   ``MediaFormatError/invalidField(what:value:)`` if `n` is outside 0…64.
    public mutating func readBits(_ n: Int, field: String? = nil) throws -> UInt64 {
        guard n >= 0, n <= 64 else {
            throw MediaFormatError.invalidField(what: "\(context) bit count", value: n)
        }
        guard n <= bitsRemaining else {
            throw MediaFormatError.truncated(what: name(field))
        }
        var result: UInt64 = 0
        var remaining = n
        while remaining > 0 {
            let byte = UInt64(bytes[position >> 3])
            let available = 8 - (position & 7)
            let take = min(available, remaining)
            let chunk = (byte >> UInt64(available - take)) & ((1 << UInt64(take)) - 1)
            result = result << UInt64(take) | chunk
            position += take
            remaining -= take
        }
        return result
    }

    /// Reads one bit as a flag (`1` is `true`).
    /// - Throws: ``MediaFormatError/truncated(what:)`` at the end of the bytes.
    public mutating func readFlag(field: String? = nil) throws -> Bool {
        try readBits(1, field: field) == 1
    }

    /// Reads an unsigned exp-Golomb code, `ue(v)` (H.264 §9.1), whose value is at most 2³³ − 2.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if the code runs past the end;
    ///   ``MediaFormatError/invalidField(what:value:)`` if its prefix has more than 32 zeros.
    public mutating func readUE(field: String? = nil) throws -> Int {
        var leadingZeros = 0
        var cursor = position
        while true {
            guard cursor < bytes.count * 8 else {
                throw MediaFormatError.truncated(what: name(field))
            }
            if bytes[cursor >> 3] & (0x80 >> UInt8(cursor & 7)) != 0 { break }
            leadingZeros += 1
            cursor += 1
            if leadingZeros > 32 {
                throw MediaFormatError.invalidField(what: "\(name(field)) exp-Golomb prefix length", value: leadingZeros)
            }
        }
        // `cursor` is at the terminating 1 bit; the suffix has `leadingZeros` bits after it.
        guard bytes.count * 8 - cursor - 1 >= leadingZeros else {
            throw MediaFormatError.truncated(what: name(field))
        }
        position = cursor + 1
        let suffix = try readBits(leadingZeros, field: field)
        return (1 << leadingZeros) - 1 + Int(suffix)
    }

    /// Reads a signed exp-Golomb code, `se(v)` (H.264 §9.1.1): 0, 1, −1, 2, −2, …
    /// - Throws: as ``readUE(field:)``.
    public mutating func readSE(field: String? = nil) throws -> Int {
        let code = try readUE(field: field)
        return code & 1 == 1 ? (code + 1) / 2 : -(code / 2)
    }

    /// Reads `count` whole bytes; when the reader is not byte-aligned they are assembled from
    /// the next `8 × count` bits.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if fewer than `8 × count` bits remain;
    ///   ``MediaFormatError/invalidField(what:value:)`` if `count` is negative.
    public mutating func readBytes(_ count: Int, field: String? = nil) throws -> [UInt8] {
        guard count >= 0 else {
            throw MediaFormatError.invalidField(what: "\(context) byte count", value: count)
        }
        guard count <= bitsRemaining / 8 else {
            throw MediaFormatError.truncated(what: name(field))
        }
        if isByteAligned {
            let start = position >> 3
            position += count * 8
            return Array(bytes[start..<start + count])
        }
        var out: [UInt8] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(UInt8(try readBits(8, field: field)))
        }
        return out
    }

    /// Skips `n` bits.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if fewer than `n` bits remain;
    ///   ``MediaFormatError/invalidField(what:value:)`` if `n` is negative.
    public mutating func skipBits(_ n: Int, field: String? = nil) throws {
        guard n >= 0 else {
            throw MediaFormatError.invalidField(what: "\(context) bit count", value: n)
        }
        guard n <= bitsRemaining else {
            throw MediaFormatError.truncated(what: name(field))
        }
        position += n
    }

    private func name(_ field: String?) -> String {
        guard let field else { return context }
        return "\(context) \(field)"
    }
}
