// swift-tools-version: 6.2
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Estuary",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingest-node", targets: ["IngestNode"]),
        .executable(name: "dvr-node", targets: ["DVRNode"]),
        .executable(name: "replicator", targets: ["Replicator"]),
        .executable(name: "config-sidecar", targets: ["ConfigSidecar"]),
        .executable(name: "estuary", targets: ["EstuaryCLI"]),
        .executable(name: "estuary-bench", targets: ["EstuaryBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.25.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
    ],
    targets: [
        // Media formats: depend on NIOCore at most.
        .target(
            name: "EstuaryMedia",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EstuaryMP4",
            dependencies: ["EstuaryMedia", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EstuaryMPEGTS",
            dependencies: ["EstuaryMedia", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The live fan-out: one source, many readers.
        .target(
            name: "EstuaryHub",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // Live packaging: frames to M4F, HLS and MPEG-TS outputs.
        .target(
            name: "EstuaryLive",
            dependencies: [
                "EstuaryMedia", "EstuaryMP4", "EstuaryMPEGTS", "EstuaryHub",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Configuration model, YAML loading and validation.
        .target(
            name: "EstuaryConfig",
            dependencies: [.product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        // Who may use the API, play and publish (credentials, on_play/on_publish backends) and what one HTTP
        // client may cost a listener (connection caps, request deadlines, header limits).
        // TLS: the HTTPS listener's certificate (reloaded on change or SIGHUP) and the trust of outgoing connections.
        .target(
            name: "EstuaryTLS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EstuaryAccess",
            dependencies: [
                "EstuaryConfig",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Node-to-node request signing (cluster_key).
        .target(
            name: "EstuaryClusterAuth",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // config_external: the configuration backend client, the sync cycle, dynamic names.
        .target(
            name: "EstuaryConfigExternal",
            dependencies: [
                "EstuaryConfig",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `recvmmsg` for the UDP inputs: Swift's Glibc module does not export it.
        .target(name: "CEstuaryUDP"),
        // Ingest sources: fake, m4f, MPEG-TS over UDP and HTTP, input failover.
        .target(
            name: "EstuarySources",
            dependencies: [
                "CEstuaryUDP",
                "EstuaryMedia", "EstuaryMP4", "EstuaryMPEGTS", "EstuaryConfig", "EstuaryClusterAuth", "EstuaryHLS", "EstuaryRTSP",
                "EstuaryTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Resources/fake.ts")],
            swiftSettings: swiftSettings
        ),
        // HLS: the playlist model (RFC 8216) that the HLS pull source reads.
        .target(name: "EstuaryHLS", swiftSettings: swiftSettings),
        // RTMP publish: handshake, chunk stream, AMF0 commands, FLV media, and the listener.
        .target(
            name: "EstuaryRTMP",
            dependencies: [
                "EstuaryMedia",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // RTSP pull: requests, authentication, SDP, RTP depacketizing (H.264, H.265, AAC) and the client.
        .target(
            name: "EstuaryRTSP",
            dependencies: [
                "EstuaryMedia",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // DVR storage: the archive on disk, recording, cleanup, playback and import formats.
        .target(
            name: "EstuaryDVR",
            dependencies: [
                "EstuaryLive", "EstuaryConfig", "EstuaryMP4",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Replication: copies missing archive from a primary dvr-node into a secondary's import.
        .target(
            name: "EstuaryReplication",
            dependencies: [
                "EstuaryConfig", "EstuaryClusterAuth", "EstuaryTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: swiftSettings
        ),
        // The node runtime: HTTP server, stream manager, services, metrics.
        .target(
            name: "EstuaryNode",
            dependencies: [
                "EstuaryMedia", "EstuaryMP4", "EstuaryMPEGTS", "EstuaryHub", "EstuaryLive",
                "EstuaryConfig", "EstuaryClusterAuth", "EstuarySources", "EstuaryConfigExternal", "EstuaryDVR", "EstuaryRTMP",
                "EstuaryAccess", "EstuaryTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The config-sidecar: central configuration (file, PostgreSQL, HTTP) replicated into SQLite, served as
        // config_external to its node, with capture-once leases in PostgreSQL.
        .target(
            name: "EstuarySidecar",
            dependencies: [
                "EstuaryConfig", "EstuaryConfigExternal", "EstuaryAccess",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "ConfigSidecar",
            dependencies: [
                "EstuarySidecar", "EstuaryNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "IngestNode",
            dependencies: [
                "EstuaryNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "DVRNode",
            dependencies: [
                "EstuaryNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "Replicator",
            dependencies: [
                "EstuaryReplication", "EstuaryNode",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "EstuaryCLI",
            dependencies: [
                "EstuaryNode", "EstuaryConfig", "EstuaryReplication", "EstuarySidecar", "EstuaryLive", "EstuaryHub", "EstuaryDVR",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "EstuaryBench",
            dependencies: [
                "EstuaryMedia", "EstuaryMP4", "EstuaryDVR", "EstuaryConfig", "EstuarySidecar", "EstuaryTestSupport", "EstuaryRTMP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            path: "bench/EstuaryBench",
            swiftSettings: swiftSettings
        ),
        // Helpers every test target shares: ffmpeg, fixtures, seeded randomness, chunking, waiting.
        .target(
            name: "EstuaryTestSupport",
            dependencies: [.product(name: "NIOCore", package: "swift-nio"), .product(name: "Crypto", package: "swift-crypto")],
            path: "Tests/EstuaryTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EstuaryMediaTests", dependencies: ["EstuaryMedia", "EstuaryTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EstuaryMP4Tests",
            dependencies: ["EstuaryMP4", "EstuaryMedia", "EstuaryTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EstuaryMPEGTSTests",
            dependencies: ["EstuaryMPEGTS", "EstuaryMedia", "EstuaryTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EstuaryRTMPTests",
            dependencies: ["EstuaryRTMP", "EstuaryMedia", "EstuaryTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EstuaryRTSPTests",
            dependencies: ["EstuaryRTSP", "EstuaryMedia", "EstuaryTestSupport", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EstuaryHLSTests", dependencies: ["EstuaryHLS", "EstuaryTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EstuaryHubTests", dependencies: ["EstuaryHub", "EstuaryTestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "EstuaryAccessTests", dependencies: ["EstuaryAccess", "EstuaryConfig"], swiftSettings: swiftSettings),
        .testTarget(name: "EstuaryConfigTests", dependencies: ["EstuaryConfig", "EstuaryClusterAuth"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EstuaryDVRTests",
            dependencies: [
                "EstuaryDVR", "EstuaryLive", "EstuaryConfig", "EstuaryMP4", "EstuaryTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EstuaryConfigExternalTests",
            dependencies: [
                "EstuaryConfigExternal", "EstuaryConfig", "EstuaryTestSupport",
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "EstuaryReplicationTests", dependencies: ["EstuaryReplication"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EstuarySidecarTests",
            dependencies: [
                "EstuarySidecar", "EstuaryConfig", "EstuaryTestSupport", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"), .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EstuaryIntegrationTests",
            dependencies: [
                "EstuaryNode", "EstuaryMedia", "EstuaryMP4", "EstuaryMPEGTS", "EstuaryConfig", "EstuarySources",
                "EstuaryLive", "EstuaryClusterAuth", "EstuaryHub", "EstuaryTestSupport", "EstuaryConfigExternal", "EstuaryDVR",
                "EstuaryTLS",
                "EstuaryReplication", "EstuarySidecar", "EstuaryAccess",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
