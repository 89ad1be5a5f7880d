import EstuaryConfig
import EstuaryConfigExternal
import EstuaryDVR
import Foundation
import Logging
import NIOCore

/// The node's archive cleanup (DESIGN §6): every ``NodeOptions/dvrCleanupInterval`` it applies each
/// recorded stream's `expiration`, `storage_limit` and episodes, then `disk_usage_limit` across the
/// streams that share a filesystem, oldest first.
///
/// Guarantees: never deletes archive an episode covers (until `episodes_expiration`); a failing episodes
/// backend suspends expiration and storage-limit cleanup for that stream; one stream's failure does not
/// stop the pass for the others.
struct DVRCleanup: Sendable {
    let node: Node

    func run() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: node.options.dvrCleanupInterval)
            } catch {
                return
            }
            await pass()
        }
    }

    /// One cleanup pass over every recorded stream.
    func pass() async {
        let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
        var byRoot: [String: (limit: Int, archives: [StreamArchive])] = [:]
        for stream in node.manager.all {
            guard let dvr = stream.config.dvr else { continue }
            do {
                let archive = try await node.manager.archives.archive(root: dvr.root, name: stream.name)
                let episodes = await self.episodes(for: stream.name, dvr: dvr, nowMs: nowMs)
                let outcome = try await blockingIO { try ArchiveCleanup.apply(to: archive, config: dvr, nowMs: nowMs, episodes: episodes) }
                if outcome.segments > 0 {
                    node.logger.info(
                        "dvr cleanup",
                        metadata: ["stream": .string(stream.name), "segments": "\(outcome.segments)", "bytes": "\(outcome.bytes)"])
                }
                if dvr.diskUsageLimit > 0 {
                    var entry = byRoot[dvr.root] ?? (dvr.diskUsageLimit, [])
                    entry.limit = min(entry.limit, dvr.diskUsageLimit)
                    entry.archives.append(archive)
                    byRoot[dvr.root] = entry
                }
            } catch {
                node.logger.error("dvr cleanup failed", metadata: ["stream": .string(stream.name), "error": "\(error)"])
            }
        }
        for (root, entry) in byRoot {
            await enforceDiskUsage(root: root, limit: entry.limit, archives: entry.archives)
        }
    }

    /// Deletes the oldest segments across `archives` until the filesystem of `root` is at most `limit` % used.
    func enforceDiskUsage(root: String, limit: Int, archives: [StreamArchive]) async {
        guard let disk = node.options.diskUsageProbe(root), disk.total > 0 else { return }
        var excess = (disk.total - disk.available) - disk.total / 100 * limit
        var rounds = 0
        while excess > 0 && rounds < 10_000 {
            rounds += 1
            // The archive holding the oldest segment gives up a batch of its oldest.
            let oldest = try? await blockingIO {
                archives.compactMap { archive in (try? archive.oldest(limit: 1).first).map { (archive, $0.startMs) } }
                    .min { $0.1 < $1.1 }?.0
            }
            guard let archive = oldest ?? nil else { break }
            let batch = try? await blockingIO { try archive.oldest(limit: 16).reduce(0) { $0 + $1.bytes } }
            let wanted = min(excess, batch ?? excess)
            guard let deleted = try? await blockingIO({ try ArchiveCleanup.trim(archive, bytes: wanted) }),
                deleted.segments > 0
            else { break }
            excess -= deleted.bytes
            node.logger.info(
                "dvr cleanup: disk_usage_limit",
                metadata: ["root": .string(root), "stream": .string(archive.name), "bytes": "\(deleted.bytes)"])
        }
    }

    /// Asks the episodes backend (the stream's `episodes_url`, or the config backend's `/episodes` when it
    /// announced `X-Config-Server-Episodes: true`).
    func episodes(for name: String, dvr: DVRConfig, nowMs: Int64) async -> ArchiveCleanup.Episodes {
        let sync = node.configSync
        let client: ConfigBackendClient
        var override: String?
        if let text = dvr.episodesURL, !text.isEmpty {
            guard let url = try? ConfigBackendURL(text) else { return .unavailable }
            client = ConfigBackendClient(url: url, host: node.options.hostname, httpClient: node.httpClient)
            override = text.split(separator: "?").first.map(String.init)
        } else if let url = sync.url, sync.status.capabilities.episodes {
            client = ConfigBackendClient(url: url, host: node.options.hostname, httpClient: node.httpClient)
        } else {
            return .none
        }
        let query = "name=\(NameQuery.encode(name))&opened_at_lt=\(nowMs / 1000)&closed_at_gt=0&\(NameQuery.host(node.options.hostname))"
        let target = override.map { url in "\(url)?\(query)" }
        do {
            let answer = try await client.get(.episodes, query: query, urlOverride: target)
            struct EpisodeList: Decodable {
                struct Episode: Decodable {
                    var openedAt: Int64
                    var closedAt: Int64?
                    enum CodingKeys: String, CodingKey {
                        case openedAt = "opened_at"
                        case closedAt = "closed_at"
                    }
                }
                var episodes: [Episode]
            }
            let list = try JSONDecoder().decode(EpisodeList.self, from: Data(answer.body.readableBytesView))
            return .protect(list.episodes.map { ArchiveRange(fromMs: $0.openedAt, toMs: $0.closedAt ?? Int64.max / 2) })
        } catch let error as ConfigExternalError where error.detail.contains("HTTP 501") {
            return .keepAllByExpiration
        } catch {
            node.logger.warning(
                "dvr cleanup: episodes unavailable; expiration and storage limit suspended",
                metadata: ["stream": .string(name), "error": "\(error)"])
            return .unavailable
        }
    }
}
