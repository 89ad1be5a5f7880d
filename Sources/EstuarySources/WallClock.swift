import Foundation

/// The UTC wall clock in microseconds since 1970 (what `prft` and `wallClockMicros` carry).
public enum WallClock {
    public static func nowMicros() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }
}
