import EstuaryConfig
import Foundation

/// What a node keeps across restarts in its state directory (`--state-dir`, `ESTUARY_STATE_DIR`,
/// `state_dir:`): the `config_external` URL set through the API, and the streams managed through the API.
///
/// Guarantees: each file is replaced atomically (written beside, flushed to disk, renamed), so a crash
/// leaves either the old or the new content; a damaged file is reported with its path and never
/// half-applied.
public struct NodeStateStore: Sendable {
    /// The directory; created when first written.
    public let directory: URL

    /// The persisted state.
    public struct State: Sendable, Equatable {
        /// The URL set by `PUT /streamer/api/v3/config`; `nil` when none was set (or it was removed).
        public var configExternal: String?
        /// The streams `PUT /streamer/api/v3/streams/{name}` created, by name.
        public var streams: [String: StreamConfig]

        /// Creates a state.
        public init(configExternal: String? = nil, streams: [String: StreamConfig] = [:]) {
            self.configExternal = configExternal
            self.streams = streams
        }
    }

    /// A state file that exists but cannot be read.
    public struct LoadError: Error, CustomStringConvertible {
        /// The file.
        public var path: String
        /// What was wrong with it.
        public var reason: String
        public var description: String { "cannot read node state \(path): \(reason)" }
    }

    /// Creates a store for `directory`.
    public init(directory: String) {
        self.directory = URL(fileURLWithPath: directory, isDirectory: true)
    }

    var configFile: URL { directory.appendingPathComponent("config.json") }
    var streamsFile: URL { directory.appendingPathComponent("streams.json") }

    /// Reads both files; a missing file is an empty state.
    public func load() throws(LoadError) -> State {
        var state = State()
        if let data = try read(configFile) {
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw LoadError(path: configFile.path, reason: "not a JSON object")
            }
            state.configExternal = object["config_external"] as? String
        }
        if let data = try read(streamsFile) {
            let decoded: DecodedStreamList
            do {
                decoded = try StreamListDecoder().decode(json: data)
            } catch {
                throw LoadError(path: streamsFile.path, reason: error.description)
            }
            if let error = decoded.errors.first { throw LoadError(path: streamsFile.path, reason: error.description) }
            state.streams = Dictionary(decoded.streams.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        }
        return state
    }

    /// Persists the API's `config_external` (`nil` removes it).
    public func saveConfigExternal(_ url: String?) throws {
        let object: [String: Any] = url.map { ["config_external": $0] } ?? [:]
        try write(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), to: configFile)
    }

    /// Persists the API-managed streams.
    public func saveStreams(_ streams: [String: StreamConfig]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let list = streams.keys.sorted().compactMap { streams[$0] }
        try write(encoder.encode(["streams": list]), to: streamsFile)
    }

    private func read(_ file: URL) throws(LoadError) -> Data? {
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        do {
            return try Data(contentsOf: file)
        } catch {
            throw LoadError(path: file.path, reason: "\(error)")
        }
    }

    private func write(_ data: Data, to file: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let temporary = directory.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).tmp")
        FileManager.default.createFile(atPath: temporary.path, contents: nil)
        let handle = try FileHandle(forWritingTo: temporary)
        do {
            try handle.write(contentsOf: data)
            try handle.synchronize()
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
        guard rename(temporary.path, file.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw LoadError(path: file.path, reason: "rename failed: \(reason)")
        }
    }
}
