// swift-tools-version:6.1
// An application of its own that uses SwiftBatch as a library: it defines a job outside the
// framework's sources and gets the whole `swiftbatch` command line for it.
import PackageDescription

let package = Package(
    name: "billing",
    platforms: [.macOS(.v15)],
    dependencies: [
        // In your own package: .package(url: "https://<your git host>/swiftbatch.git", from: "0.1.0")
        .package(name: "swiftbatch", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "billing",
            dependencies: [
                .product(name: "SwiftBatch", package: "swiftbatch"),      // jobs, repository, cluster
                .product(name: "SwiftBatchCLI", package: "swiftbatch"),   // SwiftBatchCLI.main(jobs:)
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
