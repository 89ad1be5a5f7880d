import NIOCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Conversions between the two ways NAL units travel: Annex B (start codes, as in MPEG-TS
/// and RTP-derived streams) and length-prefixed "AVCC" (4-byte lengths, as in ISO-BMFF).
public enum NALUnits {
    /// Splits an Annex B byte stream into NAL units (without start codes). Empty units and
    /// trailing zero bytes are dropped. Bytes before the first start code are ignored.
    public static func splitAnnexB(_ buffer: ByteBuffer) -> [ByteBuffer] {
        // Positions first, slices after. `memchr` finds each candidate 0x01 (vectorised in libc; about one byte
        // in 256 of coded video), and only there are the two bytes before it checked for zeros.
        let bounds = buffer.withUnsafeReadableBytes { bytes -> [(start: Int, end: Int)] in
            var bounds: [(start: Int, end: Int)] = []
            guard let base = bytes.baseAddress else { return bounds }
            let count = bytes.count
            var unitStart = -1
            func close(at end: Int) {
                var end = end
                while end > unitStart, bytes[end - 1] == 0 { end -= 1 }
                if end > unitStart { bounds.append((unitStart, end)) }
            }
            // The earliest place the 0x01 of a start code can be.
            var searchFrom = 2
            while searchFrom < count, let found = memchr(base + searchFrom, 1, count - searchFrom) {
                let one = base.distance(to: UnsafeRawPointer(found))
                if bytes[one - 1] == 0, bytes[one - 2] == 0 {
                    if unitStart >= 0 { close(at: one - 2) }
                    unitStart = one + 1
                    // The next start code may begin right where this unit does.
                    searchFrom = unitStart + 2
                } else {
                    searchFrom = one + 1
                }
            }
            if unitStart >= 0, unitStart < count { close(at: count) }
            return bounds
        }
        return bounds.compactMap { buffer.getSlice(at: buffer.readerIndex + $0.start, length: $0.end - $0.start) }
    }

    /// Splits a length-prefixed (4-byte big-endian lengths) payload into NAL units.
    /// - Throws: ``MediaFormatError/truncated(what:)`` if a length runs past the end.
    public static func splitLengthPrefixed(_ buffer: ByteBuffer) throws -> [ByteBuffer] {
        var reader = buffer
        var units: [ByteBuffer] = []
        while reader.readableBytes > 0 {
            guard let length = reader.readInteger(as: UInt32.self) else {
                throw MediaFormatError.truncated(what: "NAL length prefix")
            }
            guard let unit = reader.readSlice(length: Int(length)) else {
                throw MediaFormatError.truncated(what: "NAL unit of \(length) bytes")
            }
            units.append(unit)
        }
        return units
    }

    /// Joins NAL units into one length-prefixed payload.
    public static func lengthPrefixed(_ units: [ByteBuffer], allocator: ByteBufferAllocator = .init()) -> ByteBuffer {
        var out = allocator.buffer(capacity: units.reduce(0) { $0 + $1.readableBytes + 4 })
        for unit in units {
            out.writeInteger(UInt32(unit.readableBytes))
            out.writeImmutableBuffer(unit)
        }
        return out
    }

    /// Writes NAL units as an Annex B stream (4-byte start codes) into `out`.
    public static func writeAnnexB(_ units: [ByteBuffer], into out: inout ByteBuffer) {
        for unit in units {
            out.writeInteger(UInt32(1))
            out.writeImmutableBuffer(unit)
        }
    }

    /// Writes raw NAL units given as byte arrays as Annex B into `out`.
    public static func writeAnnexB(_ units: [[UInt8]], into out: inout ByteBuffer) {
        for unit in units {
            out.writeInteger(UInt32(1))
            out.writeBytes(unit)
        }
    }

    /// The H.264 `nal_unit_type` of a NAL unit (its first byte's low 5 bits).
    public static func h264Type(_ unit: ByteBuffer) -> UInt8? {
        unit.getInteger(at: unit.readerIndex, as: UInt8.self).map { $0 & 0x1F }
    }

    /// The H.265 `nal_unit_type` of a NAL unit (bits 1–6 of its first byte).
    public static func h265Type(_ unit: ByteBuffer) -> UInt8? {
        unit.getInteger(at: unit.readerIndex, as: UInt8.self).map { ($0 >> 1) & 0x3F }
    }
}

/// H.264 NAL unit types Estuary looks at.
public enum H264NALType {
    public static let idr: UInt8 = 5
    public static let sei: UInt8 = 6
    public static let sps: UInt8 = 7
    public static let pps: UInt8 = 8
    public static let accessUnitDelimiter: UInt8 = 9
    public static let filler: UInt8 = 12
}

/// H.265 NAL unit types Estuary looks at.
public enum H265NALType {
    /// IRAP pictures are types 16…23 (BLA, IDR, CRA).
    public static let irapRange: ClosedRange<UInt8> = 16...23
    public static let vps: UInt8 = 32
    public static let sps: UInt8 = 33
    public static let pps: UInt8 = 34
    public static let accessUnitDelimiter: UInt8 = 35
}
