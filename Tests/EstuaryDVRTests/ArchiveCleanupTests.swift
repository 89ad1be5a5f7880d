import EstuaryConfig
import EstuaryDVR
import Foundation
import Testing

@Suite struct ArchiveCleanupTests {
    let start: Int64 = 1_700_000_000_000
    /// 30 segments of 4 s: two minutes of archive; "now" is its end.
    var now: Int64 { start + 120_000 }

    @Test func expirationDeletesOnlyWhatIsOlder() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let written = try writeSegments(archive, count: 30, startMs: start)
            let outcome = try ArchiveCleanup.apply(to: archive, config: DVRConfig(root: root, expiration: 60), nowMs: now)
            #expect(outcome.segments == 15)
            #expect(try archive.records(fromMs: 0, toMs: .max) == Array(written.suffix(15)))
            for record in written.prefix(15) {
                #expect(!FileManager.default.fileExists(atPath: archive.path(of: record)))
            }
        }
    }

    @Test func storageLimitKeepsTheNewestBytes() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let written = try writeSegments(archive, count: 30, startMs: start)
            let limit = written.suffix(10).reduce(0) { $0 + $1.bytes }
            try ArchiveCleanup.apply(to: archive, config: DVRConfig(root: root, storageLimit: limit), nowMs: now)
            #expect(archive.totalBytes <= limit)
            #expect(try archive.records(fromMs: 0, toMs: .max) == Array(written.suffix(10)))
        }
    }

    @Test func episodesProtectArchiveAndTheirFailureSuspendsCleanup() throws {
        try withTemporaryDirectorySync { root in
            let archive = try StreamArchive.open(root: root, name: "cam")
            let written = try writeSegments(archive, count: 30, startMs: start)
            let config = DVRConfig(root: root, expiration: 20)
            // The backend fails: nothing goes.
            #expect(try ArchiveCleanup.apply(to: archive, config: config, nowMs: now, episodes: .unavailable).segments == 0)
            // 501: nothing by expiration.
            #expect(try ArchiveCleanup.apply(to: archive, config: config, nowMs: now, episodes: .keepAllByExpiration).segments == 0)
            // An episode over segments 2…4 keeps them; everything else past expiration goes.
            let episode = ArchiveRange(fromMs: written[2].startMs + 100, toMs: written[4].endMs - 100)
            try ArchiveCleanup.apply(to: archive, config: config, nowMs: now, episodes: .protect([episode]))
            let kept = try archive.records(fromMs: 0, toMs: .max).map(\.startMs)
            #expect(kept == [written[2], written[3], written[4]].map(\.startMs) + written.suffix(5).map(\.startMs))
            // episodes_expiration ends even an episode's protection.
            var strict = config
            strict.episodesExpiration = 60
            try ArchiveCleanup.apply(to: archive, config: strict, nowMs: now, episodes: .protect([episode]))
            #expect(try archive.records(fromMs: 0, toMs: .max).map(\.startMs) == written.suffix(5).map(\.startMs))
        }
    }
}
