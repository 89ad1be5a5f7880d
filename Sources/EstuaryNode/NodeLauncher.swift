import EstuaryConfig
import EstuaryHub
import EstuaryLive
import EstuaryMedia
import EstuarySources
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// Starts a node process: resolves settings (flags > env > YAML), sets up logging, runs the
/// node in a `ServiceGroup` that shuts down gracefully on SIGTERM or SIGINT.
public enum NodeLauncher {
    /// Runs a node of `role` until a signal ends it.
    public static func run(role: String, flags: NodeFlags) async throws {
        MemoryTuning.apply()
        NodeLogging.bootstrap()
        let logger = Logger(label: "estuary.\(role)")
        let environment = ProcessInfo.processInfo.environment
        let settings: NodeSettings
        do {
            let loaded = try NodeSettings.load(flags: flags, environment: environment, defaultHostname: ProcessInfo.processInfo.hostName)
            settings = loaded.settings
            for warning in loaded.warnings { logger.warning("configuration: \(warning)") }
        } catch {
            logger.critical("cannot load configuration: \(error)")
            throw error
        }
        // The flag or STREAMER_CONFIG_EXTERNAL wins over the API's value; the YAML line loses to it (DESIGN §3).
        let overriding = [flags.configExternal, environment[NodeEnvironmentKey.configExternal.rawValue]]
            .compactMap { $0?.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        var options = NodeOptions(
            httpPort: settings.httpPort, clusterKey: settings.clusterKey, hostname: settings.hostname, role: role,
            stateDirectory: settings.stateDir, configExternalOverride: overriding,
            configExternalFile: overriding == nil ? settings.configExternal : nil)
        // Ingest nodes take RTMP publishers (DESIGN §7); a DVR node records what ingest nodes relay.
        options.rtmpPort = role == "ingest" ? settings.rtmpPort : nil
        options.access = settings.access
        options.httpsPort = settings.httpsPort
        options.replicationPort = settings.replicationPort
        options.tls = settings.tls
        options.sources = settings.sources
        let node = Node(options: options, streams: settings.streams, logger: logger)
        try await runServices([node], logger: logger, shutdownTimeout: options.shutdownTimeout)
    }

    /// Runs services in one group with graceful shutdown on SIGTERM/SIGINT.
    public static func runServices(_ services: [any Service], logger: Logger, shutdownTimeout: Duration) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}
