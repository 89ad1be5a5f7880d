import NIOCore

/// Conversions between the two ways NAL units travel: Annex B (start codes, as in MPEG-TS
/// and RTP-derived streams) and length-prefixed "AVCC" (4-byte lengths, as in ISO-BMFF).
public enum NALUnits {
    /// Splits an Annex B byte stream into NAL units (without start codes). Empty units and
    /// trailing zero bytes are dropped. Bytes before the first start code are ignored.
    public static func splitAnnexB(_ buffer: ByteBuffer) -> [ByteBuffer] {
        // Positions first (a scan of raw bytes that skips three at a time where no start code can be), slices after.
        let bounds = buffer.withUnsafeReadableBytes { bytes -> [(start: Int, end: Int)] in
            var bounds: [(start: Int, end: Int)] = []
            let count = bytes.count
            var index = 0
            var unitStart = -1
            func close(at end: Int) {
                var end = end
                while end > unitStart, bytes[end - 1] == 0 { end -= 1 }
                if end > unitStart { bounds.append((unitStart, end)) }
            }
            while index + 2 < count {
                let third = bytes[index + 2]
                if third > 1 {
                    // No start code begins at index, index + 1 or index + 2: each would need this byte to be 0 or 1.
                    index += 3
                } else if third == 1, bytes[index + 1] == 0, bytes[index] == 0 {
                    if unitStart >= 0 { close(at: index) }
                    index += 3
                    unitStart = index
                } else {
                    index += 1
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
