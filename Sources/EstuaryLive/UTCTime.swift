/// UTC calendar text for playlists and archive paths, without Foundation's formatters (which are slow and
/// locale-dependent): `2026-11-22`, `2026-11-22T04:05:06.789Z`, `4.000`.
public enum UTCTime {
    /// The civil date of a day count since 1970-01-01 (Howard Hinnant's days-to-civil algorithm).
    static func civil(days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `YYYY-MM-DD` of a UTC time in milliseconds.
    public static func dayName(ms: Int64) -> String {
        let date = civil(days: floorDivide(ms, 86_400_000))
        return "\(pad(date.year, 4))-\(pad(date.month, 2))-\(pad(date.day, 2))"
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` of a UTC time in milliseconds.
    public static func iso8601(ms: Int64) -> String {
        let inDay = ms - floorDivide(ms, 86_400_000) * 86_400_000
        let seconds = inDay / 1000
        return "\(dayName(ms: ms))T\(pad(seconds / 3600, 2)):\(pad(seconds / 60 % 60, 2)):\(pad(seconds % 60, 2)).\(pad(inDay % 1000, 3))Z"
    }

    /// Milliseconds as seconds with three decimals (`EXTINF`): `4000` → `4.000`.
    public static func decimalSeconds(ms: Int64) -> String {
        "\(ms / 1000).\(pad(ms % 1000, 3))"
    }

    static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    /// Division rounding toward negative infinity (times before 1970 land on the right day).
    public static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : -((-a + b - 1) / b)
    }
}
