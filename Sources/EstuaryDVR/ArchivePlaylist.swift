import EstuaryLive

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
            if gap || newInit { lines.append("#EXT-X-PROGRAM-DATE-TIME:\(UTCTime.iso8601(ms: record.startMs))") }
            lines.append("#EXTINF:\(UTCTime.decimalSeconds(ms: record.durationMs)),")
            lines.append("archive/seg-\(record.startMs).m4s")
            previous = record
        }
        if !live { lines.append("#EXT-X-ENDLIST") }
        return lines.joined(separator: "\n") + "\n"
    }
}
