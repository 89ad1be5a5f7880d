import Foundation
import Logging

/// The central configuration in a YAML file (`file:///path/streams.yaml`; a ConfigMap in Kubernetes).
///
/// The file is checked every ``pollInterval`` (size, modification time and inode, which also catches the
/// symlink swap a ConfigMap update makes) and re-read when any changed. A bad edit keeps the last good
/// configuration served and is reported as `invalid_configuration` with every error; a missing file as
/// `upstream_unreachable`. It is read-only for the admin API.
public struct FileUpstream: CentralUpstream {
    /// The file's path.
    public let path: String
    /// How often the file is checked.
    public let pollInterval: Duration
    let logger: Logger

    /// Creates the upstream.
    public init(path: String, pollInterval: Duration = .milliseconds(250), logger: Logger) {
        self.path = path
        self.pollInterval = pollInterval
        self.logger = logger
    }

    public var label: String { "file://\(path)" }
    public var isWritable: Bool { false }

    public func run(into state: SidecarState) async {
        var lastStamp: [String]?
        var lastText: String?
        while !Task.isCancelled {
            let stamp = Self.stamp(path)
            if stamp != lastStamp {
                lastStamp = stamp
                if stamp == nil {
                    state.fail("upstream_unreachable", "\(path): no such file")
                } else if let data = FileManager.default.contents(atPath: path) {
                    let text = String(decoding: data, as: UTF8.self)
                    if text != lastText {
                        do throws(CentralConfigErrors) {
                            let config = try CentralDocument.parse(yaml: text)
                            await state.deliver(config)
                            lastText = text
                        } catch {
                            state.fail("invalid_configuration", "\(path): \(error)")
                        }
                    } else {
                        state.confirm()
                    }
                } else {
                    state.fail("upstream_unreachable", "\(path): cannot read")
                }
            } else if stamp != nil, lastText != nil, state.health.state == "ok" {
                state.confirm()
            }
            try? await Task.sleep(for: pollInterval)
        }
    }

    public func apply(_ change: AdminChange) async throws(AdminError) {
        throw .readOnly(upstream: label)
    }

    /// Size, modification time and inode of the file (following symlinks), or `nil` when it is missing.
    static func stamp(_ path: String) -> [String]? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return ["\(attributes[.size] ?? 0)", "\(modified)", "\(attributes[.systemFileNumber] ?? 0)"]
    }
}
