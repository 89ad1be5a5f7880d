import EstuaryConfig

/// Deletes archive by the rules of DVR configuration: `expiration` (age), `storage_limit` (bytes per
/// stream) and, across the streams sharing a filesystem, `disk_usage_limit` (percent) — oldest first, never
/// inside an episode.
public enum ArchiveCleanup {
    /// What one pass deleted.
    public struct Outcome: Sendable, Equatable {
        public var segments = 0
        public var bytes = 0
        public init() {}
    }

    /// What the episodes backend said for a stream (DESIGN §3 step 4).
    public enum Episodes: Sendable, Equatable {
        /// No episodes are configured: nothing is protected.
        case none
        /// These ranges are covered by episodes and kept (until `episodes_expiration`, when set).
        case protect([ArchiveRange])
        /// The backend answered 501: delete nothing by expiration (the storage limit still applies).
        case keepAllByExpiration
        /// The backend failed: expiration and storage-limit cleanup are suspended; only
        /// `episodes_expiration` applies.
        case unavailable
    }

    /// Applies `expiration`, `episodes_expiration` and `storage_limit` to one archive.
    @discardableResult
    public static func apply(
        to archive: StreamArchive, config: DVRConfig, nowMs: Int64, episodes: Episodes = .none
    ) throws(DVRError) -> Outcome {
        var outcome = Outcome()
        func add(_ deleted: (segments: Int, bytes: Int)) {
            outcome.segments += deleted.segments
            outcome.bytes += deleted.bytes
        }
        let protected: [ArchiveRange]
        switch episodes {
        case .none, .keepAllByExpiration, .unavailable: protected = []
        case .protect(let ranges): protected = ranges
        }
        let isProtected = { (record: SegmentRecord) in
            protected.contains { $0.fromMs < record.endMs && record.startMs < $0.toMs }
        }
        // episodes_expiration: even archive an episode covers goes after this long.
        if config.episodesExpiration > 0 && episodes != .none {
            let cutoff = nowMs - Int64(config.episodesExpiration) * 1000
            add(try archive.delete(fromMs: 0, toMs: cutoff) { $0.endMs <= cutoff })
        }
        if episodes == .unavailable { return outcome }
        if config.expiration > 0 && episodes != .keepAllByExpiration {
            let cutoff = nowMs - Int64(config.expiration) * 1000
            add(try archive.delete(fromMs: 0, toMs: cutoff) { $0.endMs <= cutoff && !isProtected($0) })
        }
        if config.storageLimit > 0 {
            let deleted = try trim(archive, bytes: archive.totalBytes - config.storageLimit, isProtected: isProtected)
            outcome.segments += deleted.segments
            outcome.bytes += deleted.bytes
        }
        return outcome
    }

    /// Deletes at least `excess` bytes of the oldest unprotected segments (if there are that many).
    public static func trim(
        _ archive: StreamArchive, bytes excess: Int, isProtected: (SegmentRecord) -> Bool = { _ in false }
    ) throws(DVRError) -> Outcome {
        var outcome = Outcome()
        var remaining = excess
        var batch = 256
        while remaining > 0 {
            let candidates = try archive.oldest(limit: batch)
            let oldest = candidates.filter { !isProtected($0) }
            if oldest.isEmpty {
                // Everything this old is protected: look further, or stop when there is nothing more.
                guard candidates.count == batch, batch < 1 << 20 else { break }
                batch *= 2
                continue
            }
            var chosen = Set<Int64>()
            for record in oldest where remaining > 0 {
                chosen.insert(record.startMs)
                remaining -= record.bytes
            }
            let last = oldest.filter { chosen.contains($0.startMs) }.map(\.endMs).max() ?? 0
            let deleted = try archive.delete(fromMs: 0, toMs: last) { chosen.contains($0.startMs) && !isProtected($0) }
            outcome.segments += deleted.segments
            outcome.bytes += deleted.bytes
            if deleted.segments == 0 { break }
        }
        return outcome
    }
}
