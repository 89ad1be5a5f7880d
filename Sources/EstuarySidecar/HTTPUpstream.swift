import AsyncHTTPClient
import EstuaryConfig
import EstuaryConfigExternal
import Logging

/// Another config_external backend as the centre (`http(s)://…`, for example a Flussonic-style central): its
/// whole list is pulled with cursor paging every ``interval`` and replicated. Its streams get this sidecar's
/// role. Read-only for the admin API.
public struct HTTPUpstream: CentralUpstream {
    /// The backend.
    public let url: ConfigBackendURL
    /// The `host=` sent: this node's name.
    public let host: String
    /// The role given to its streams.
    public let role: String
    /// The pause between pulls.
    public let interval: Duration
    let httpClient: HTTPClient
    let logger: Logger

    /// Creates the upstream.
    public init(url: ConfigBackendURL, host: String, role: String, httpClient: HTTPClient, interval: Duration = .seconds(2), logger: Logger)
    {
        self.url = url
        self.host = host
        self.role = role
        self.httpClient = httpClient
        self.interval = interval
        self.logger = logger
    }

    public var label: String { url.masked }
    public var isWritable: Bool { false }

    public func run(into state: SidecarState) async {
        let client = ConfigBackendClient(url: url, host: host, httpClient: httpClient)
        while !Task.isCancelled {
            do throws(ConfigExternalError) {
                let answer = try await client.list()
                if !answer.errors.isEmpty {
                    logger.warning(
                        "upstream entries rejected", metadata: ["errors": "\(answer.errors.map(\.description).joined(separator: "; "))"])
                }
                var config = state.config ?? CentralConfig()
                let streams = answer.streams.map { CentralStream(role: role, config: $0) }
                config.streams = Dictionary(streams.map { ($0.key, $0) }, uniquingKeysWith: { _, last in last })
                await state.deliver(config)
            } catch {
                state.fail("upstream_unreachable", "\(url.masked): \(error.reason.rawValue): \(error.detail)")
            }
            try? await Task.sleep(for: interval)
        }
    }

    public func apply(_ change: AdminChange) async throws(AdminError) {
        throw .readOnly(upstream: label)
    }
}
