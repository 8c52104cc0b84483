// swift-tools-version:6.1
import PackageDescription

// Settings that keep every target honest: Swift 6 mode, explicit `any`, and imports that must be
// declared by the file that uses them.
let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "swiftbatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftbatch", targets: ["swiftbatch"]),
        // The library: jobs, the PostgreSQL repository, the cluster (workers as ServiceLifecycle services).
        .library(name: "SwiftBatch", targets: ["BatchSupport", "Batch", "BatchPostgres", "BatchCluster"]),
        // The command line (`SwiftBatchCLI.main(jobs:)`) with its ArgumentParser and HTTP dependencies.
        .library(name: "SwiftBatchCLI", targets: ["BatchCLI"]),
        // The metrics and health HTTP endpoint (Hummingbird, Prometheus), for an application's own ServiceGroup.
        .library(name: "SwiftBatchHTTP", targets: ["BatchHTTP"]),
        // The web dashboard as a library, for an application's own ServiceGroup.
        .library(name: "BatchDashboard", targets: ["BatchDashboard"]),
        .library(name: "PostgresClient", targets: ["PostgresClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        // `swift package generate-documentation` builds the DocC catalogs; a plugin, not linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // libpq, found through pkg-config; no header paths are written down here.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // General values with no batch or database meaning: JSON values, MD5, civil-calendar arithmetic.
        .target(
            name: "BatchSupport",
            swiftSettings: strictSettings
        ),
        // The Swift face of libpq: connections, bound queries, decoding, COPY, LISTEN/NOTIFY.
        .target(
            name: "PostgresClient",
            dependencies: ["CLibPQ", "BatchSupport"],
            swiftSettings: strictSettings
        ),
        // The batch model: jobs, steps, parameters, statuses, contexts. No SQL in here.
        .target(
            name: "Batch",
            dependencies: [
                "BatchSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        // The PostgreSQL job repository: its schema migrations, the launch, step and job SQL, the
        // chunk commit (under a caller's commit guard), operator queries, PostgreSQL items.
        .target(
            name: "BatchPostgres",
            dependencies: [
                "Batch", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The cluster protocol: partitions and remote chunks across processes (their SQL, the
        // claim/lease/fence decisions, channels), the manager's coordinator and the worker daemon.
        .target(
            name: "BatchCluster",
            dependencies: [
                "Batch", "BatchPostgres", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The metrics and health endpoint: Prometheus text at /metrics, /health and /ready, served
        // by Hummingbird as a ServiceLifecycle service. Knows nothing of batch: it is given a
        // readiness probe. Kept apart so the library targets above need no HTTP server.
        .target(
            name: "BatchHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        // The web dashboard over the job repository: pages, live updates and operator actions,
        // served by Hummingbird; repository queries run on dedicated-thread connections.
        .target(
            name: "BatchDashboard",
            dependencies: [
                "Batch", "BatchPostgres", "BatchCluster", "PostgresClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The command line any executable gets by handing over its jobs.
        .target(
            name: "BatchCLI",
            dependencies: [
                "Batch", "BatchPostgres", "BatchCluster", "BatchDashboard", "PostgresClient", "BatchHTTP",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The shipped executable: the CLI plus the example jobs.
        .executableTarget(
            name: "swiftbatch",
            dependencies: ["BatchCLI", "Batch", "BatchPostgres", "PostgresClient"],
            swiftSettings: strictSettings
        ),
        // Micro-benchmarks of the data path, run by scripts/bench.sh (not shipped).
        .executableTarget(
            name: "swiftbatch-bench",
            dependencies: ["PostgresClient"],
            swiftSettings: strictSettings
        ),

        // Helpers shared by the test targets: a fresh database per test, the built binary.
        .target(
            name: "BatchTestSupport",
            dependencies: ["Batch", "PostgresClient"],
            path: "Tests/BatchTestSupport",
            swiftSettings: strictSettings
        ),
        // Unit tests: no database needed.
        .testTarget(
            name: "BatchSupportTests",
            dependencies: ["BatchSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BatchTests",
            dependencies: [
                "Batch", "BatchTestSupport", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
        // Unit tests of the cluster protocol's decisions: no database needed.
        .testTarget(
            name: "BatchClusterTests",
            dependencies: ["BatchCluster", "Batch", "BatchPostgres", "PostgresClient"],
            swiftSettings: strictSettings
        ),
        // Integration tests against a real PostgreSQL (DATABASE_URL, or libpq's PG* variables).
        .testTarget(
            name: "PostgresClientTests",
            dependencies: ["PostgresClient", "BatchTestSupport"],
            swiftSettings: strictSettings
        ),
        // The web dashboard over HTTP, against a real PostgreSQL (and a headless browser if present).
        .testTarget(
            name: "BatchDashboardTests",
            dependencies: [
                "BatchDashboard", "Batch", "BatchPostgres", "PostgresClient", "BatchTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BatchPostgresTests",
            dependencies: [
                "Batch", "BatchPostgres", "BatchCluster", "PostgresClient", "BatchTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
