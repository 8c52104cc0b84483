// swift-tools-version:6.2
// OTLP export of SwiftBatch's traces and metrics through swift-otel: a worker and a launcher in
// one executable, each exporting to an OpenTelemetry collector (OTEL_EXPORTER_OTLP_ENDPOINT,
// default http://localhost:4318). Not built by the core package or its tests: swift-otel
// brings gRPC and protobuf, a long first build.
import PackageDescription

let package = Package(
    name: "otel-tracing",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swiftbatch", path: "../.."),
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        .executableTarget(
            name: "otel-tracing",
            dependencies: [
                .product(name: "SwiftBatch", package: "swiftbatch"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
