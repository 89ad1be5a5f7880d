/// Writes the HLS playlist of an archive time range: fMP4 segments as stored, `EXT-X-PROGRAM-DATE-TIME`
/// at the start and after each gap, `EXT-X-DISCONTINUITY` at each gap or init change, `EXT-X-MAP` per init.
public enum ArchivePlaylist {
    /// The playlist for `records` (sorted by start). `live` makes an EVENT playlist without `ENDLIST`.
    public static func render(_ records: [SegmentRecord], live: Bool, toleranceMs: Int64 = ArchiveRange.defaultToleranceMs) -> String {
        let target = max(1, Int((records.map(\.durationMs).max() ?? 1000) + 999) / 1000)
        var lines = [
            "#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:\(target)", "#EXT-X-MEDIA-SEQUENCE:0",
            "#EXT-X-PLAYLIST-TYPE:\(live ? "EVENT" : "VOD")", "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        var previous: SegmentRecord?
        for record in records {
            let gap = previous.map { record.startMs > $0.endMs + toleranceMs } ?? true
            let newInit = previous?.initID != record.initID
            if previous != nil && (gap || newInit) { lines.append("#EXT-X-DISCONTINUITY") }
            if newInit { lines.append("#EXT-X-MAP:URI=\"archive/init-\(record.initID).mp4\"") }
            if gap || newInit { lines.append("#EXT-X-PROGRAM-DATE-TIME:\(iso8601(ms: record.startMs))") }
            let seconds = Double(record.durationMs) / 1000
            lines.append("#EXTINF:\(String(format3(seconds))),")
            lines.append("archive/seg-\(record.startMs).m4s")
            previous = record
        }
        if !live { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `2026-11-22T04:05:06.789Z`.
    public static func iso8601(ms: Int64) -> String {
        let day = SegmentRecord.dayName(ofMs: ms)
        let inDay = ms - floorDiv(ms, 86_400_000) * 86_400_000
        let hours = inDay / 3_600_000
        let minutes = inDay / 60_000 % 60
        let seconds = inDay / 1000 % 60
        let millis = inDay % 1000
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(day)T\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2)).\(pad(millis, 3))Z"
    }

    private static func format3(_ value: Double) -> String {
        let thousandths = Int64((value * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}
