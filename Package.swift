// swift-tools-version: 6.1
import PackageDescription

/// Settings every Swift target shares: Swift 6 mode is the package default; the first two make
/// each import's visibility deliberate; the third keeps a nonisolated async function on its
/// caller's executor (the event loop) instead of hopping to the global pool at every call, as
/// `docs/architecture.md` ("The loop and the async bridge") asks. Work that must leave the loop
/// says so with `@concurrent`.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("NonisolatedNonsendingByDefault"),
]

let package = Package(
    name: "comfy-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "comfy-gateway", targets: ["ComfyGateway"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: []),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            path: "Modules/CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            path: "Modules/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(
            name: "Reactor",
            dependencies: ["CLibUV", "CSQLite", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strictSettings),
        .target(
            name: "Codecs",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Routing",
            dependencies: [
                "Reactor", "Codecs", .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Client",
            dependencies: ["Reactor", "Codecs", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strictSettings),
        .target(name: "Models", dependencies: ["Codecs"], swiftSettings: strictSettings),
        .target(name: "Store", dependencies: ["Codecs", "Models", "Reactor"], swiftSettings: strictSettings),
        .target(
            name: "Core",
            dependencies: [
                "Codecs",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "AtomComfyHTTP", dependencies: ["Client", "Codecs", "Models", "Reactor"],
            swiftSettings: strictSettings),
        .target(
            name: "AtomComfySocket", dependencies: ["Client", "Codecs", "Models", "Reactor"],
            swiftSettings: strictSettings),
        .target(name: "AtomValidation", dependencies: ["Codecs", "Models"], swiftSettings: strictSettings),
        .target(
            name: "AtomFiles",
            dependencies: ["Codecs", "Models", "Reactor", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeWorkflow",
            dependencies: ["Codecs", "Reactor", "AtomComfyHTTP", "AtomValidation", "Core", "Models"],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeQueue", dependencies: ["Reactor", "AtomComfyHTTP", "Core", "Models"],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeImage",
            dependencies: ["Codecs", "Reactor", "AtomComfyHTTP", "AtomFiles", "AtomValidation", "Core", "Models"],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeHealth",
            dependencies: [
                "Codecs",
                "Reactor", "AtomComfyHTTP", "Core", "Models", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeEvents",
            dependencies: [
                "Codecs",
                "Reactor",
                "AtomComfyHTTP", "AtomComfySocket", "Core", "Models", .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "MoleculeBackends", dependencies: ["Reactor", "AtomComfyHTTP", "Core"], swiftSettings: strictSettings),
        .target(name: "MoleculeSessions", dependencies: ["Codecs"], swiftSettings: strictSettings),
        .target(
            name: "MoleculeJobs",
            dependencies: [
                "Codecs", "Core", "Models", "Reactor", "Store", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "Coordinators",
            dependencies: [
                "Codecs",
                "Reactor",
                "MoleculeBackends", "MoleculeEvents", "MoleculeHealth", "MoleculeImage", "MoleculeJobs",
                "MoleculeQueue", "MoleculeSessions",
                "MoleculeWorkflow", "Core", "Models",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .target(
            name: "Entry",
            dependencies: [
                "Codecs",
                "Reactor",
                "Coordinators", "Routing", "Models", "Core", .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ComfyGateway",
            dependencies: [
                "Entry", "Reactor", "Core", "Codecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "LoopbackTestSupport",
            dependencies: ["Reactor", "Codecs"],
            path: "Tests/Support/LoopbackTestSupport",
            swiftSettings: strictSettings
        ),
        .target(
            name: "ComfyEmulatorSupport",
            dependencies: ["Client", "Codecs", "Models", "Reactor"],
            path: "Tests/Support/ComfyEmulatorSupport",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "websocket-echo",
            dependencies: ["Codecs", "Reactor", "Routing", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Tools/WebSocketEcho",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "websocket-test-client",
            dependencies: ["Client", "Codecs", "Reactor"],
            path: "Tests/Tools/WebSocketTestClient",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "upstream-bench",
            dependencies: ["AtomComfyHTTP", "Client", "ComfyEmulatorSupport", "Reactor"],
            path: "Tests/Tools/UpstreamBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "ledger-bench",
            dependencies: ["Codecs", "Models", "Store"],
            path: "Tests/Tools/LedgerBench",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "websocket-load",
            dependencies: ["Codecs", "Reactor"],
            path: "Tests/Tools/WebSocketLoad",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs"], swiftSettings: strictSettings),
        .testTarget(
            name: "ReactorTests",
            dependencies: ["Reactor", "LoopbackTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RoutingTests",
            dependencies: [
                "Routing", "Reactor", "Codecs", "LoopbackTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "CoreTests", dependencies: ["Core"], swiftSettings: strictSettings),
        .testTarget(
            name: "StoreTests", dependencies: ["Store", "Models", "Codecs", "Reactor"], swiftSettings: strictSettings),
        .testTarget(
            name: "ClientTests",
            dependencies: ["Client", "Codecs", "Reactor", "Routing", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Codecs", "Core", "Reactor", "LoopbackTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AtomComfyHTTPTests",
            dependencies: ["AtomComfyHTTP", "Client", "Codecs", "Models", "Reactor", "ComfyEmulatorSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AtomComfySocketTests",
            dependencies: [
                "AtomComfySocket", "AtomComfyHTTP", "Client", "Codecs", "Models", "Reactor", "ComfyEmulatorSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "ArchitectureTests", swiftSettings: strictSettings),
        .testTarget(
            name: "AtomValidationTests", dependencies: ["AtomValidation", "Codecs", "Models"],
            swiftSettings: strictSettings),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Entry", "ComfyEmulatorSupport", "Client", "Codecs", "Core", "Models", "Reactor",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings),
        .testTarget(
            name: "MoleculeTests",
            dependencies: [
                "MoleculeEvents", "MoleculeImage", "MoleculeQueue", "MoleculeSessions", "MoleculeWorkflow",
                "AtomComfyHTTP", "AtomComfySocket", "ComfyEmulatorSupport", "Client", "Codecs", "Core", "Models",
                "Reactor",
            ],
            swiftSettings: strictSettings),
    ]
)
