// swift-tools-version:6.1
// An application that runs a SwiftBatch worker inside its own ServiceGroup, beside a service of
// its own, with no SwiftBatch command line: SIGTERM shuts the group down gracefully and the
// worker hands its partitions back.
import PackageDescription

let package = Package(
    name: "embedded-worker",
    platforms: [.macOS(.v15)],
    dependencies: [
        // In your own package: .package(url: "https://<your git host>/swiftbatch.git", from: "0.1.0")
        .package(name: "swiftbatch", path: "../.."),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "embedded-worker",
            dependencies: [
                .product(name: "SwiftBatch", package: "swiftbatch"),
                .product(name: "PostgresClient", package: "swiftbatch"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
