import NIOCore

/// The CRC-32 of MPEG-2 PSI sections (polynomial 0x04C11DB7, initial value 0xFFFFFFFF,
/// no reflection, no final XOR; "CRC-32/MPEG-2").
///
/// Guarantees: `checksum(of: section)` over a whole section including its trailing CRC is 0
/// exactly when the CRC is right, and `checksum(of: "123456789")` is `0x0376E6E7`.
public enum MPEGTSCRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index) << 24
        for _ in 0..<8 {
            crc = crc & 0x8000_0000 != 0 ? (crc << 1) ^ 0x04C1_1DB7 : crc << 1
        }
        return crc
    }

    /// The CRC of `bytes`, continuing from `crc` (start with the default for a fresh CRC).
    public static func checksum<Bytes: Sequence>(of bytes: Bytes, continuing crc: UInt32 = 0xFFFF_FFFF) -> UInt32
    where Bytes.Element == UInt8 {
        var crc = crc
        let table = Self.table
        for byte in bytes {
            crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 24) ^ byte)]
        }
        return crc
    }

    /// The CRC of the readable bytes of `buffer`.
    public static func checksum(of buffer: ByteBuffer) -> UInt32 {
        checksum(of: buffer.readableBytesView)
    }
}
