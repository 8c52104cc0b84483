// swift-tools-version:6.1
import PackageDescription

// postgres-nio as a peer of our PostgresClient in scripts/bench.sh: the same round trip,
// streamed read and COPY, against the same server in the same run. A package of its own so that
// neither the core build nor CI's test build resolves or compiles SwiftNIO; bench.sh builds it
// on demand (release) and skips its rows, saying why, when it cannot.
let package = Package(
    name: "postgres-nio-peer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
    ],
    targets: [
        .executableTarget(
            name: "nio-peer",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
