import Crypto
import Foundation
import NIOCore
import Synchronization

/// One stream's archive on disk under `root/{name}/` (DESIGN §6):
///
/// ```
/// root/name/init/IIIIIIII.mp4                 init segments, named by their sha256's first 8 hex digits
/// root/name/YYYY-MM-DD/START-DUR-INIT.m4s     segments (UTC day of their start)
/// root/name/YYYY-MM-DD/index.bin              the day's records, 56 bytes each, appended in write order
/// root/name/summary.json                      per day: index size, count, bytes, ranges (a cache)
/// ```
///
/// Guarantees:
/// - a segment is visible only once whole: written under a temporary name, fsynced, renamed, the directory
///   fsynced; only then is its record appended (and fsynced) to the day's index;
/// - after a crash, ``open(root:name:)`` finds every completed segment: a torn index record is cut off, a
///   segment renamed but not yet indexed is adopted (hashed again), temporary files are removed;
/// - start-up reads only `summary.json` and stats each day's index (a day whose index size differs from the
///   summary is re-read); no query scans a directory; days are loaded on first use;
/// - segments are ordered by their UTC start; overlapping segments (a clock that jumped back) are kept,
///   ordered by start then by write order, and counted in ``overlaps``.
///
/// Blocking file I/O: call from a thread pool (`NIOThreadPool`), never from an event loop.
public final class StreamArchive: Sendable {
    /// The stream's name.
    public let name: String
    /// `root/name`.
    public let directory: String
    /// The archive's root (the filesystem whose usage `disk_usage_limit` watches).
    public let root: String

    struct DaySummary: Codable, Equatable {
        var indexBytes: Int
        var count: Int
        var bytes: Int
        var ranges: [ArchiveRange]
    }

    struct State {
        var summaries: [String: DaySummary] = [:]
        var loaded: [String: [SegmentRecord]] = [:]
        var inits: Set<String> = []
        var overlaps = 0
        var lastEndMs: Int64?
    }

    private let state: Mutex<State>
    /// Box layouts of segments recently exported (``segmentLayout(_:)``), by start (which names the file), each with
    /// the record it was read for and when it was last used: a stored segment never changes, and one that replaces it
    /// is another record (another sha256), whose layout is read anew. At most ``layoutCacheCount`` entries; the least
    /// recently used goes first.
    private let layouts = Mutex<(entries: [Int64: (record: SegmentRecord, layout: SegmentLayout, used: UInt64)], clock: UInt64)>(
        ([:], 0))
    /// Init segments read (``initSegment(_:)``), by id; at most ``initCacheCount``.
    private let initCache = Mutex<[String: ByteBuffer]>([:])
    /// Init segments kept in memory: a kilobyte or so each.
    public static let initCacheCount = 64
    /// Segments whose layout is kept: as many as an `.mp4` export packs (``PackedExportSegment/segmentLimit``), so
    /// that a player's later ranges of one find them all. A packed segment is kept without its parts (its header
    /// template and last header: about 20 KB for 4 s of video and audio in 200 ms fragments, so 512 are about 10 MB);
    /// another keeps its boxes and small media payloads.
    public static let layoutCacheCount = PackedExportSegment.segmentLimit
    /// Serialises writers (recording, import, cleanup) of this archive's files.
    private let writeLock = Mutex(())

    private init(root: String, name: String, state: State) {
        self.root = root
        self.name = name
        self.directory = "\(root)/\(name)"
        self.state = Mutex(state)
    }

    /// Opens (creating if needed) the archive of `name` under `root`, recovering from a crash.
    public static func open(root: String, name: String) throws(DVRError) -> StreamArchive {
        let directory = "\(root)/\(name)"
        try FileIO.makeDirectories("\(directory)/init")
        var state = State()
        for file in FileIO.list("\(directory)/init") {
            if file.hasSuffix(".tmp") {
                FileIO.remove("\(directory)/init/\(file)")
            } else if file.hasSuffix(".mp4") {
                state.inits.insert(String(file.dropLast(4)))
            }
        }
        if let data = try FileIO.readFile("\(directory)/summary.json"),
            let summaries = try? JSONDecoder().decode([String: DaySummary].self, from: Data(data.readableBytesView))
        {
            state.summaries = summaries
        }
        let archive = StreamArchive(root: root, name: name, state: state)
        try archive.recover()
        return archive
    }

    /// Opens the archive of `name` under `root` to read it while another process (or another instance) records
    /// it: nothing is created, repaired or removed, since the recorder's temporary files and the index it is
    /// appending to are its own. A record still being appended is not listed. A snapshot: the days and records
    /// as they were at the call (open again to see newer ones). For reading only: recovery, writing and cleanup
    /// belong to the instance ``open(root:name:)`` returned to the recorder.
    public static func openForReading(root: String, name: String) throws(DVRError) -> StreamArchive {
        let archive = StreamArchive(root: root, name: name, state: State())
        let days = archive.dayDirectories()
        for day in days {
            let records = try archive.loadDay(day, repair: false)
            let summary = summarize(records, indexBytes: records.count * SegmentRecord.encodedSize)
            archive.state.withLock { state in
                state.summaries[day] = summary
                state.loaded[day] = records
            }
        }
        return archive
    }

    /// The names of the archive's day directories (`YYYY-MM-DD`), unsorted.
    private func dayDirectories() -> [String] {
        FileIO.list(directory).filter { $0.count == 10 && $0.first?.isNumber == true }
    }

    /// Checks every day against the summary; repairs the newest day (the only one a crash can leave open).
    private func recover() throws(DVRError) {
        let days = dayDirectories().sorted()
        var summaries = state.withLock { $0.summaries }
        for day in summaries.keys where !days.contains(day) { summaries[day] = nil }
        for (position, day) in days.enumerated() {
            let isNewest = position >= days.count - 2
            let indexPath = "\(directory)/\(day)/index.bin"
            let size = FileIO.size(indexPath) ?? 0
            if !isNewest, let summary = summaries[day], summary.indexBytes == size { continue }
            var records = try loadDay(day, repair: true)
            if isNewest {
                // Adopt segments that were renamed but not indexed; drop temporaries.
                let indexed = Set(records.map(\.fileName))
                for file in FileIO.list("\(directory)/\(day)") {
                    let path = "\(directory)/\(day)/\(file)"
                    if file.hasSuffix(".tmp") {
                        FileIO.remove(path)
                        continue
                    }
                    guard !indexed.contains(file), let parsed = SegmentRecord.parseFileName(file),
                        let bytes = try FileIO.readFile(path)
                    else { continue }
                    let record = SegmentRecord(
                        startMs: parsed.startMs, durationMs: parsed.durationMs, bytes: bytes.readableBytes, initID: parsed.initID,
                        sha256: Self.sha256(bytes))
                    var encoded = ByteBuffer()
                    record.encode(into: &encoded)
                    try FileIO.append(encoded, to: indexPath)
                    records.append(record)
                }
                records.sort { $0.startMs < $1.startMs }
            }
            summaries[day] = Self.summarize(records, indexBytes: FileIO.size(indexPath) ?? 0)
            state.withLock { $0.loaded[day] = records }
        }
        state.withLock { state in
            state.summaries = summaries
            state.lastEndMs = summaries.keys.max().flatMap { state.loaded[$0]?.last?.endMs }
        }
        saveSummary()
    }

    /// Reads a day's index; with `repair`, cuts a torn or damaged tail off the file.
    private func loadDay(_ day: String, repair: Bool) throws(DVRError) -> [SegmentRecord] {
        let path = "\(directory)/\(day)/index.bin"
        guard var buffer = try FileIO.readFile(path) else { return [] }
        let total = buffer.readableBytes
        var records: [SegmentRecord] = []
        records.reserveCapacity(total / SegmentRecord.encodedSize)
        while buffer.readableBytes >= SegmentRecord.encodedSize, let record = SegmentRecord.decode(from: &buffer) {
            records.append(record)
        }
        let valid = records.count * SegmentRecord.encodedSize
        if repair && valid != total {
            var kept = ByteBuffer()
            for record in records { record.encode(into: &kept) }
            try FileIO.writeAtomically([kept], to: path)
        }
        records.sort { $0.startMs < $1.startMs }
        return records
    }

    static func summarize(_ records: [SegmentRecord], indexBytes: Int) -> DaySummary {
        DaySummary(
            indexBytes: indexBytes, count: records.count, bytes: records.reduce(0) { $0 + $1.bytes },
            ranges: ArchiveRange.merge(records.map { ArchiveRange(fromMs: $0.startMs, toMs: $0.endMs) }))
    }

    /// Writes `summary.json` (a cache: a stale one only costs a re-read of the days it misdescribes).
    public func saveSummary() {
        let summaries = state.withLock { $0.summaries }
        guard let data = try? JSONEncoder().encode(summaries) else { return }
        try? FileIO.writeAtomically([ByteBuffer(bytes: data)], to: "\(directory)/summary.json")
    }

    // MARK: writing

    /// The sha256 of a buffer's readable bytes, without copying them.
    static func sha256(_ bytes: ByteBuffer) -> [UInt8] {
        var hasher = SHA256()
        bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        return Array(hasher.finalize())
    }

    /// Stores an init segment (once per distinct content); returns its id.
    public func storeInit(_ bytes: ByteBuffer) throws(DVRError) -> String {
        let id = hex(SHA256.hash(data: Array(bytes.readableBytesView)).prefix(4))
        if state.withLock({ $0.inits.contains(id) }) { return id }
        try writeLock.withLock { _ throws(DVRError) in
            try FileIO.writeAtomically([bytes], to: "\(directory)/init/\(id).mp4")
        }
        state.withLock { _ = $0.inits.insert(id) }
        return id
    }

    /// The init segment `id`, or nil. Kept in memory once read (``cachedInitSegment(_:)``): its id is a hash of its
    /// bytes, so it never changes.
    public func initSegment(_ id: String) throws(DVRError) -> ByteBuffer? {
        if let kept = cachedInitSegment(id) { return kept }
        guard id.count == 8, id.allSatisfy(\.isHexDigit), let bytes = try FileIO.readFile("\(directory)/init/\(id).mp4") else {
            return nil
        }
        initCache.withLock { kept in
            // A few per stream (one per change of codec parameters); a stream that changes them all the time starts over.
            if kept.count >= Self.initCacheCount { kept.removeAll() }
            kept[id] = bytes
        }
        return bytes
    }

    /// ``initSegment(_:)`` read before and still kept; nil when it must be read from the file.
    public func cachedInitSegment(_ id: String) -> ByteBuffer? { initCache.withLock { $0[id] } }

    /// Writes one segment (its fragments' bytes in order) and indexes it.
    @discardableResult
    public func write(fragments: [ByteBuffer], startMs: Int64, durationMs: Int64, initID: String) throws(DVRError) -> SegmentRecord {
        var hasher = SHA256()
        var size = 0
        for fragment in fragments {
            fragment.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
            size += fragment.readableBytes
        }
        let record = SegmentRecord(
            startMs: startMs, durationMs: durationMs, bytes: size, initID: initID, sha256: Array(hasher.finalize()))
        // Replication may have imported this very segment already (then there is nothing to do), or another
        // one under the same start (then this one replaces it: one record per file name).
        let existing = try records(startingExactlyAt: startMs)
        if existing.contains(where: { $0.sha256 == record.sha256 }) { return record }
        if !existing.isEmpty { try delete(fromMs: startMs, toMs: startMs + 1) { $0.startMs == startMs } }
        try commit(record, fragments: fragments)
        return record
    }

    /// Imports a replicated segment: checks its sha256, then writes it like a recorded one.
    ///
    /// - Returns: the record and whether an identical segment was already stored (then nothing is written).
    public func importSegment(
        _ bytes: ByteBuffer, startMs: Int64, durationMs: Int64, initID: String, sha256 expected: String
    )
        throws(DVRError) -> (record: SegmentRecord, existed: Bool)
    {
        try importSegment(parts: [bytes], startMs: startMs, durationMs: durationMs, initID: initID, sha256: expected)
    }

    /// Imports a replicated segment given as its boxes, in order (no copy is made to join them).
    public func importSegment(
        parts: [ByteBuffer], startMs: Int64, durationMs: Int64, initID: String, sha256 expected: String
    )
        throws(DVRError) -> (record: SegmentRecord, existed: Bool)
    {
        var hasher = SHA256()
        for part in parts { part.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) } }
        let digest = Array(hasher.finalize())
        let size = parts.reduce(0) { $0 + $1.readableBytes }
        guard hex(digest) == expected.lowercased() else {
            throw .checksumMismatch(startMs: startMs, expected: expected, actual: hex(digest))
        }
        let record = SegmentRecord(startMs: startMs, durationMs: durationMs, bytes: size, initID: initID, sha256: digest)
        let existing = try records(startingExactlyAt: startMs)
        if existing.contains(where: { $0.sha256 == digest }) { return (record, true) }
        if !existing.isEmpty {
            // Same start, other bytes: the imported segment replaces it (never two records for one file name).
            try delete(fromMs: startMs, toMs: startMs + 1) { $0.startMs == startMs }
        }
        try commit(record, fragments: parts)
        // The imported segment is authoritative for its span: a local segment inside it (the partial first
        // segment of a recording that joined late) is replaced, so both archives end identical.
        try delete(fromMs: record.startMs, toMs: record.endMs) { other in
            other.startMs > record.startMs && other.endMs <= record.endMs + ArchiveRange.defaultToleranceMs
        }
        return (record, false)
    }

    private func commit(_ record: SegmentRecord, fragments: [ByteBuffer]) throws(DVRError) {
        let day = record.dayName
        let dayDirectory = "\(directory)/\(day)"
        try writeLock.withLock { _ throws(DVRError) in
            // Make sure the day is loaded before its index grows, so the in-memory list stays complete.
            _ = try self.dayRecords(day)
            try FileIO.makeDirectories(dayDirectory)
            try FileIO.writeAtomically(fragments, to: "\(dayDirectory)/\(record.fileName)", direct: true)
            var encoded = ByteBuffer()
            record.encode(into: &encoded)
            try FileIO.append(encoded, to: "\(dayDirectory)/index.bin")
            state.withLock { state in
                if let lastEnd = state.lastEndMs, record.startMs < lastEnd - ArchiveRange.defaultToleranceMs { state.overlaps += 1 }
                state.lastEndMs = record.endMs
                // In place: a copy of the day's list (and a retain per record) on every segment would grow with the day.
                let position = Self.firstIndex(in: state.loaded[day, default: []], startingAfter: record.startMs)
                state.loaded[day, default: []].insert(record, at: position)
                var summary = state.summaries[day] ?? DaySummary(indexBytes: 0, count: 0, bytes: 0, ranges: [])
                summary.indexBytes += SegmentRecord.encodedSize
                summary.count += 1
                summary.bytes += record.bytes
                summary.ranges = ArchiveRange.merge(summary.ranges + [ArchiveRange(fromMs: record.startMs, toMs: record.endMs)])
                state.summaries[day] = summary
            }
        }
    }

    // MARK: reading

    /// A day's records, loading them on first use.
    private func dayRecords(_ day: String) throws(DVRError) -> [SegmentRecord] {
        if let records = state.withLock({ $0.loaded[day] }) { return records }
        guard state.withLock({ $0.summaries[day] != nil }) else { return [] }
        let records = try loadDay(day, repair: false)
        state.withLock { $0.loaded[day] = records }
        return records
    }

    /// The span of times the archive can hold (1970 to the end of year 9999): day names compare as text.
    static func clamp(_ fromMs: Int64, _ toMs: Int64) -> (Int64, Int64) {
        (min(max(fromMs, 0), 253_402_300_799_999), min(max(toMs, 0), 253_402_300_799_999))
    }

    /// Segments overlapping `[fromMs, toMs)`, by start time.
    public func records(fromMs: Int64, toMs: Int64) throws(DVRError) -> [SegmentRecord] {
        try overlapping(fromMs: fromMs, toMs: toMs) { day throws(DVRError) in try dayRecords(day) } ?? []
    }

    /// ``records(fromMs:toMs:)`` when the index in memory holds every day they may come from; nil when a day would
    /// first have to be read from disk. Never touches the disk, so it may be called on an event loop.
    public func cachedRecords(fromMs: Int64, toMs: Int64) -> [SegmentRecord]? {
        overlapping(fromMs: fromMs, toMs: toMs) { day in state.withLock { $0.loaded[day] } }
    }

    /// Segments overlapping `[fromMs, toMs)`, by start time, from the days `day` gives (nil when one is not at hand).
    private func overlapping<Failure: Error>(
        fromMs: Int64, toMs: Int64, day records: (String) throws(Failure) -> [SegmentRecord]?
    ) throws(Failure) -> [SegmentRecord]? {
        let (fromMs, toMs) = Self.clamp(fromMs, toMs)
        let days = state.withLock { $0.summaries.keys.sorted() }
        let first = SegmentRecord.dayName(ofMs: max(0, fromMs - 86_400_000))
        let last = SegmentRecord.dayName(ofMs: toMs)
        var result: [SegmentRecord] = []
        for day in days where day >= first && day <= last {
            guard let dayRecords = try records(day) else { return nil }
            // A day's records are ordered by start: those starting at `toMs` or later are past the range.
            let end = Self.firstIndex(in: dayRecords, startingAfter: toMs - 1)
            for record in dayRecords[..<end] where record.endMs > fromMs {
                result.append(record)
            }
        }
        return result.sorted { $0.startMs < $1.startMs }
    }

    /// The whole archive as ranges without gaps.
    public func ranges(toleranceMs: Int64 = ArchiveRange.defaultToleranceMs) -> [ArchiveRange] {
        let spans = state.withLock { $0.summaries.values.flatMap(\.ranges) }
        return ArchiveRange.merge(spans, toleranceMs: toleranceMs)
    }

    /// Total and available bytes of the filesystem holding `path` (`statvfs`), for `disk_usage_limit` and
    /// `recording_status.json`.
    public static func filesystem(_ path: String) -> (total: Int, available: Int)? { FileIO.filesystem(path) }

    /// Bytes of all segments.
    public var totalBytes: Int { state.withLock { $0.summaries.values.reduce(0) { $0 + $1.bytes } } }

    /// Segments stored.
    public var segmentCount: Int { state.withLock { $0.summaries.values.reduce(0) { $0 + $1.count } } }

    /// Times a segment was written that starts before the end of the one written just before it (a clock
    /// that jumped back, or a source whose timestamps restarted).
    public var overlaps: Int { state.withLock { $0.overlaps } }

    /// The file of a segment.
    public func path(of record: SegmentRecord) -> String { "\(directory)/\(record.dayName)/\(record.fileName)" }

    /// The bytes of a segment.
    ///
    /// With `direct`, the file is read past the page cache (`O_DIRECT`), for a reader that reads each segment
    /// once, as replication does.
    public func segmentBytes(_ record: SegmentRecord, direct: Bool = false) throws(DVRError) -> ByteBuffer {
        guard let bytes = try FileIO.readFile(path(of: record), direct: direct) else {
            throw .io(path: path(of: record), operation: "read", reason: "missing", diskFull: false)
        }
        return bytes
    }

    /// A segment as parts to send (``SegmentLayout``): its boxes read, its media payloads left in the file at
    /// ``path(of:)``, for an export that rewrites times but should not read the media. Always read from the file;
    /// the result is kept for ``cachedSegmentLayout(_:)``.
    public func segmentLayout(_ record: SegmentRecord) throws(DVRError) -> SegmentLayout {
        guard let parts = try FileIO.readBoxLayout(path(of: record)) else {
            throw .io(path: path(of: record), operation: "read", reason: "missing", diskFull: false)
        }
        let layout = SegmentLayout(parts: parts, bytes: record.bytes, path: path(of: record))
        let kept = layout.kept
        layouts.withLock { cache in
            cache.clock += 1
            cache.entries[record.startMs] = (record, kept, cache.clock)
            if cache.entries.count > Self.layoutCacheCount, let oldest = cache.entries.min(by: { $0.value.used < $1.value.used }) {
                cache.entries[oldest.key] = nil
            }
        }
        return layout
    }

    /// ``segmentLayout(_:)`` of a segment read before and still kept (``SegmentLayout/kept``: a packed one without its
    /// parts); nil when it must be read from the file. Never touches the disk.
    public func cachedSegmentLayout(_ record: SegmentRecord) -> SegmentLayout? {
        layouts.withLock { cache in
            guard let kept = cache.entries[record.startMs], kept.record == record else { return nil }
            cache.clock += 1
            cache.entries[record.startMs]?.used = cache.clock
            return kept.layout
        }
    }

    /// The segment starting at `startMs`, if stored.
    public func record(startingAt startMs: Int64) throws(DVRError) -> SegmentRecord? {
        try records(startingExactlyAt: startMs).first
    }

    /// The segment starting at `startMs` when the index in memory holds it; nil when it is not stored or when its
    /// day's index would first have to be read from disk (``record(startingAt:)`` answers both). Never touches
    /// the disk, so it may be called on an event loop.
    public func cachedRecord(startingAt startMs: Int64) -> SegmentRecord? {
        let day = SegmentRecord.dayName(ofMs: startMs)
        guard Self.clamp(startMs, startMs).0 == startMs, let records = state.withLock({ $0.loaded[day] }) else { return nil }
        let index = Self.firstIndex(in: records, startingAfter: startMs - 1)
        return index < records.count && records[index].startMs == startMs ? records[index] : nil
    }

    /// The segments starting exactly at `startMs` (one, unless two writers stored the same start): a binary
    /// search of the day the start falls in (segments live in the day of their start), so writing a segment or
    /// serving one by its start costs the same at the end of a day as at its beginning.
    func records(startingExactlyAt startMs: Int64) throws(DVRError) -> [SegmentRecord] {
        let (clamped, _) = Self.clamp(startMs, startMs)
        guard clamped == startMs else { return [] }
        let records = try dayRecords(SegmentRecord.dayName(ofMs: startMs))
        var index = Self.firstIndex(in: records, startingAfter: startMs - 1)
        var result: [SegmentRecord] = []
        while index < records.count && records[index].startMs == startMs {
            result.append(records[index])
            index += 1
        }
        return result
    }

    /// The position of the first record starting after `startMs` in a list ordered by start (binary search).
    static func firstIndex(in records: [SegmentRecord], startingAfter startMs: Int64) -> Int {
        var low = 0
        var high = records.count
        while low < high {
            let middle = (low + high) / 2
            if records[middle].startMs <= startMs { low = middle + 1 } else { high = middle }
        }
        return low
    }

    // MARK: deleting

    /// Deletes the segments `shouldDelete` selects among those overlapping `[fromMs, toMs)`; a whole day
    /// emptied loses its directory. Returns how many segments and bytes were deleted.
    @discardableResult
    public func delete(
        fromMs: Int64, toMs: Int64, where shouldDelete: (SegmentRecord) -> Bool
    ) throws(DVRError) -> (
        segments: Int, bytes: Int
    ) {
        var deleted = (segments: 0, bytes: 0)
        let (fromMs, toMs) = Self.clamp(fromMs, toMs)
        try writeLock.withLock { _ throws(DVRError) in
            let days = state.withLock { $0.summaries.keys.sorted() }
            let first = SegmentRecord.dayName(ofMs: max(0, fromMs - 86_400_000))
            let last = SegmentRecord.dayName(ofMs: toMs)
            for day in days where day >= first && day <= last {
                let records = try dayRecords(day)
                // Most calls (each import) delete nothing: find that out without building two copies of the day.
                guard records.contains(where: { $0.endMs > fromMs && $0.startMs < toMs && shouldDelete($0) }) else { continue }
                let (gone, kept) = records.reduce(into: ([SegmentRecord](), [SegmentRecord]())) { parts, record in
                    if record.endMs > fromMs && record.startMs < toMs && shouldDelete(record) {
                        parts.0.append(record)
                    } else {
                        parts.1.append(record)
                    }
                }
                guard !gone.isEmpty else { continue }
                let dayDirectory = "\(directory)/\(day)"
                if kept.isEmpty {
                    FileIO.removeTree(dayDirectory)
                    state.withLock { state in
                        state.loaded[day] = nil
                        state.summaries[day] = nil
                    }
                } else {
                    // The index first (a crash then leaves unindexed files, adopted or removed at start-up).
                    var encoded = ByteBuffer()
                    for record in kept { record.encode(into: &encoded) }
                    try FileIO.writeAtomically([encoded], to: "\(dayDirectory)/index.bin")
                    for record in gone { FileIO.remove("\(dayDirectory)/\(record.fileName)") }
                    state.withLock { state in
                        state.loaded[day] = kept
                        state.summaries[day] = Self.summarize(kept, indexBytes: kept.count * SegmentRecord.encodedSize)
                    }
                }
                deleted.segments += gone.count
                deleted.bytes += gone.reduce(0) { $0 + $1.bytes }
            }
        }
        if deleted.segments > 0 { saveSummary() }
        return deleted
    }

    /// The oldest segments, up to `limit`, by start time (for storage-limit cleanup).
    public func oldest(limit: Int) throws(DVRError) -> [SegmentRecord] {
        let days = state.withLock { $0.summaries.keys.sorted() }
        var result: [SegmentRecord] = []
        for day in days {
            result += try dayRecords(day)
            if result.count >= limit { break }
        }
        return Array(result.sorted { $0.startMs < $1.startMs }.prefix(limit))
    }
}
