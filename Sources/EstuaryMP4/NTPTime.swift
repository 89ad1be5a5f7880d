/// Conversions between UTC microseconds since 1970 and 64-bit NTP timestamps (seconds since
/// 1900 in the high 32 bits, binary fraction in the low 32), as `prft` carries them.
public enum NTPTime {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// The NTP timestamp of a UTC time given in microseconds since 1970.
    public static func ntp(fromUnixMicros micros: Int64) -> UInt64 {
        let clamped = max(micros, 0)
        let seconds = UInt64(clamped / 1_000_000) + unixEpochOffset
        let fraction = (UInt64(clamped % 1_000_000) << 32) / 1_000_000
        return seconds << 32 | fraction
    }

    /// The UTC time in microseconds since 1970 of an NTP timestamp.
    public static func unixMicros(fromNTP ntp: UInt64) -> Int64 {
        let seconds = Int64(ntp >> 32) - Int64(unixEpochOffset)
        let micros = Int64(((ntp & 0xFFFF_FFFF) * 1_000_000) >> 32)
        return seconds * 1_000_000 + micros
    }
}
