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

    /// The UTC time in microseconds since 1970 of an NTP timestamp, rounded to the nearest
    /// microsecond (so `unixMicros(fromNTP: ntp(fromUnixMicros: t)) == t`). Timestamps whose
    /// seconds have the top bit clear are taken to be in NTP era 1 (2036-02-07 to 2104), as
    /// RFC 4330 section 3 suggests.
    public static func unixMicros(fromNTP ntp: UInt64) -> Int64 {
        var seconds = Int64(ntp >> 32)
        if seconds < 0x8000_0000 { seconds += 1 << 32 }
        let micros = Int64(((ntp & 0xFFFF_FFFF) * 1_000_000 + (1 << 31)) >> 32)
        return (seconds - Int64(unixEpochOffset)) * 1_000_000 + micros
    }
}
