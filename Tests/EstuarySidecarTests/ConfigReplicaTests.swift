import EstuaryConfig
import EstuaryTestSupport
import Foundation
import GRDB
import Logging
import Testing

@testable import EstuarySidecar

@Suite struct ConfigReplicaTests {
    let config = try! CentralDocument.parse(
        yaml: """
            failback: return
            nodes: [{name: n1, advertise: "h:1", labels: {region: eu}}]
            streams:
              - {name: a, inputs: [{url: "fake://a"}], cluster_ingest: {capture_at: n1, failback: stay}}
              - {name: b, role: dvr, inputs: [{url: "m4f://@ingest/a"}], dvr: {root: /s, expiration: 1d}}
            templates: [{prefix: "live/", inputs: [{url: "publish://"}]}]
            episodes: [{id: e, stream: a, opened_at: 5, closed_at: 9}]
            """)

    @Test func storesAndLoadsTheWholeConfigurationAndLeases() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            let replica = try ConfigReplica(path: path)
            #expect(try replica.load() == nil, "a new replica holds nothing")
            let synced = Date(timeIntervalSince1970: 1_700_000_000)
            try await replica.store(config, previous: nil, syncedAt: synced)
            let leases = [StreamKey(role: "ingest", name: "a"): Lease(node: "n1", nextNode: "n2", epoch: 7)]
            try await replica.storeLeases(leases)
            let reopened = try ConfigReplica(path: path)
            let snapshot = try #require(try reopened.load())
            #expect(snapshot.config == config)
            #expect(snapshot.syncedAt == synced)
            #expect(snapshot.leases == leases)
            // An incremental write removes and changes only what differs.
            var next = config
            next.streams[StreamKey(role: "dvr", name: "b")] = nil
            next.episodes["e"]?.closedAt = 11
            try await reopened.store(next, previous: config, syncedAt: synced)
            #expect(try ConfigReplica(path: path).load()?.config == next)
            // Leases too: one removed, one changed, one added; the rest untouched.
            let kept = StreamKey(role: "ingest", name: "k")
            let before = [
                StreamKey(role: "ingest", name: "a"): Lease(node: "n1", epoch: 7), kept: Lease(node: "n1", epoch: 1),
                StreamKey(role: "ingest", name: "gone"): Lease(node: "n2", epoch: 3),
            ]
            try await reopened.storeLeases(before)
            var after = before
            after[StreamKey(role: "ingest", name: "gone")] = nil
            after[StreamKey(role: "ingest", name: "a")] = Lease(node: "n2", epoch: 8)
            after[StreamKey(role: "dvr", name: "new")] = Lease(node: "n3", epoch: 1)
            try await reopened.storeLeases(after, previous: before)
            #expect(try ConfigReplica(path: path).load()?.leases == after)
        }
    }

    /// Given the keys that changed, a lease write compares and writes those alone: the caller vouches that no
    /// other key differs, so a difference outside them is not looked for.
    @Test func aLeaseWriteGivenTheChangedKeysWritesThoseAlone() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            let replica = try ConfigReplica(path: path)
            try await replica.store(config, previous: nil, syncedAt: Date())
            func key(_ name: String) -> StreamKey { StreamKey(role: "ingest", name: name) }
            let before = [
                key("a"): Lease(node: "n1", epoch: 1), key("b"): Lease(node: "n1", epoch: 1), key("c"): Lease(node: "n2", epoch: 1),
            ]
            try await replica.storeLeases(before)
            var after = before
            after[key("a")] = Lease(node: "n2", nextNode: "n3", epoch: 2)
            after[key("b")] = nil
            after[key("d")] = Lease(node: "n3", epoch: 1)
            try await replica.storeLeases(after, previous: before, changed: [key("a"), key("b"), key("d"), key("z")])
            #expect(try ConfigReplica(path: path).load()?.leases == after)
            var unlisted = after
            unlisted[key("c")] = Lease(node: "n9", epoch: 5)
            try await replica.storeLeases(unlisted, previous: after, changed: [])
            #expect(try ConfigReplica(path: path).load()?.leases == after, "a key outside the changed ones is not compared")
            try await replica.storeLeases(unlisted, previous: after)
            #expect(try ConfigReplica(path: path).load()?.leases == unlisted, "without them, every key is")
        }
    }

    /// The lease passes hand the state the keys they read; through changes, a full read, a failed write and a
    /// view held back at start, the file's lease view stays the served one.
    @Test func theStoredLeaseViewFollowsTheServedOneThroughChangedKeys() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            let state = SidecarState(
                identity: SidecarIdentity(hostname: "ingest-0"), replica: try ConfigReplica(path: path), logger: Logger(label: "t"))
            await state.deliver(config)
            func key(_ name: String) -> StreamKey { StreamKey(role: "ingest", name: name) }
            var view = [key("a"): Lease(node: "ingest-0", epoch: 1), key("b"): Lease(node: "ingest-1", epoch: 1)]
            await state.updateLeases(view, touched: nil, cluster: [])
            #expect(try ConfigReplica(path: path).load()?.leases == view)
            view[key("a")] = Lease(node: "ingest-1", epoch: 2)
            view[key("b")] = nil
            view[key("c")] = Lease(node: "ingest-0", epoch: 1)
            await state.updateLeases(view, touched: [key("a"), key("b"), key("c")], cluster: [])
            #expect(state.leases == view)
            #expect(try ConfigReplica(path: path).load()?.leases == view)
            // Rows read again unchanged: nothing differs, nothing is written.
            await state.updateLeases(view, touched: [key("a")], cluster: [])
            #expect(try ConfigReplica(path: path).load()?.leases == view)
            // A write that fails (the file locked past the busy timeout) is followed by a whole one.
            var holding = GRDB.Configuration()
            holding.allowsUnsafeTransactions = true  // the lock is held across two accesses on purpose
            let holder = try DatabaseQueue(path: path, configuration: holding)
            try await holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN EXCLUSIVE") }
            view[key("d")] = Lease(node: "ingest-1", epoch: 1)
            await state.updateLeases(view, touched: [key("d")], cluster: [])
            #expect(state.leases == view, "served from memory")
            try await holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            view[key("e")] = Lease(node: "ingest-0", epoch: 1)
            await state.updateLeases(view, touched: [key("e")], cluster: [])
            #expect(try ConfigReplica(path: path).load()?.leases == view, "the row of the failed write is there too")
            // A full read (no keys) compares everything.
            view = [key("f"): Lease(node: "ingest-0", epoch: 1)]
            await state.updateLeases(view, touched: nil, cluster: [])
            #expect(try ConfigReplica(path: path).load()?.leases == view)
            // Restarted, the replica's view held back: the first pass's view replaces it, whatever keys it names.
            let restarted = SidecarState(
                identity: SidecarIdentity(hostname: "ingest-0"), replica: try ConfigReplica(path: path), logger: Logger(label: "t"))
            restarted.holdLeasesUntilConfirmed()
            let fresh = [key("g"): Lease(node: "ingest-0", epoch: 1)]
            await restarted.updateLeases(fresh, touched: [key("g")], cluster: [])
            #expect(restarted.leases == fresh)
            #expect(try ConfigReplica(path: path).load()?.leases == fresh)
        }
    }

    /// A PostgreSQL row's JSON text is stored as it came (no second encoding), and reads back under the row's name.
    @Test func aStreamReadFromJSONTextReadsBackUnderItsRowName() async throws {
        let text = #"{"inputs": [{"url": "fake://x"}], "name": "other"}"#
        let stream = try CentralDocument.storedStream(role: "ingest", name: "cam1", failback: "return", json: text)
        #expect(stream.name == "cam1")
        #expect(stream.source == text)
        var changed = stream
        changed.config.inputs = [InputConfig(url: "fake://y")]
        #expect(changed.source == nil, "a changed configuration no longer matches its text")
        let unnamed = try CentralDocument.storedStream(role: "dvr", name: "cam2", failback: nil, json: #"{"inputs": ["fake://z"]}"#)
        #expect(unnamed.name == "cam2")
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            let stored = CentralConfig(streams: [stream, unnamed, changed.renamed("cam3")])
            try await ConfigReplica(path: path).store(stored, previous: nil, syncedAt: Date())
            let loaded = try #require(try ConfigReplica(path: path).load())
            #expect(loaded.config.streams == stored.streams)
            #expect(loaded.config.streams[StreamKey(role: "ingest", name: "cam3")]?.config.inputs.map(\.url) == ["fake://y"])
        }
    }

    /// A configuration write that fails (another process holds the file's lock past the busy timeout) is rolled
    /// back, so the file lacks that change: the next write replaces everything instead of writing the difference
    /// from what is served, and the file holds the newest configuration again.
    @Test func afterAFailedWriteTheNextOneReplacesTheWholeConfiguration() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            let state = SidecarState(
                identity: SidecarIdentity(hostname: "ingest-0"), replica: try ConfigReplica(path: path), logger: Logger(label: "t"))
            func streams(_ names: String...) -> CentralConfig {
                CentralConfig(
                    streams: names.map { CentralStream(config: StreamConfig(name: $0, inputs: [InputConfig(url: "fake://\($0)")])) })
            }
            await state.deliver(streams("a"))
            var holding = GRDB.Configuration()
            holding.allowsUnsafeTransactions = true  // the lock is held across two accesses on purpose
            let holder = try DatabaseQueue(path: path, configuration: holding)
            try await holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN EXCLUSIVE") }
            await state.deliver(streams("a", "b"))
            #expect(state.config == streams("a", "b"), "served from memory")
            try await holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
            #expect(try ConfigReplica(path: path).load()?.config == streams("a"), "the locked write was rolled back")
            await state.deliver(streams("a", "b", "c"))
            #expect(try ConfigReplica(path: path).load()?.config == streams("a", "b", "c"))
        }
    }

    @Test func aDamagedFileIsMovedAsideAndNeverServed() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory.appendingPathComponent("replica.sqlite").path
            try await ConfigReplica(path: path).store(config, previous: nil, syncedAt: Date())
            // Overwrite the middle of the file: SQLite's page structure no longer holds.
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seek(toOffset: 0)
            try handle.write(contentsOf: Data(repeating: 0x5A, count: 4096))
            try handle.close()
            let replica = try ConfigReplica(path: path)
            #expect(replica.rebuiltFrom != nil)
            #expect(try replica.load() == nil, "the rebuilt replica serves nothing until the upstream answers")
            #expect(FileManager.default.fileExists(atPath: try #require(replica.rebuiltFrom)))
        }
    }
}

extension CentralStream {
    /// The same stream under another name.
    fileprivate func renamed(_ name: String) -> CentralStream {
        var copy = self
        copy.config.name = name
        return copy
    }
}
