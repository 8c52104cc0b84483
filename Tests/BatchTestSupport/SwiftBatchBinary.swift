import Foundation
import PostgresClient

/// Runs the real, built `swiftbatch` executable as a separate process.
public struct SwiftBatchBinary: Sendable {
    /// What a finished process left behind.
    public struct Outcome: Sendable {
        public var exitCode: Int32
        public var standardOutput: String
        public var standardError: String
    }

    public let path: String

    /// Finds the executable: `$SWIFTBATCH_BIN`, else the debug build next to the sources.
    public init() throws {
        if let path = ProcessInfo.processInfo.environment["SWIFTBATCH_BIN"] {
            self.path = path
        } else {
            let root = URL(fileURLWithPath: #filePath)
                .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            self.path = root.appendingPathComponent(".build/debug/swiftbatch").path
        }
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw PostgresError(kind: .usage, message: "no swiftbatch executable at \(path): run `swift build` first")
        }
    }

    /// Another executable built on the SwiftBatch CLI (an example application, say).
    public init(path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw PostgresError(kind: .usage, message: "no executable at \(path): build it first")
        }
        self.path = path
    }

    /// Runs `swiftbatch arguments...` to completion and returns its exit code and output.
    ///
    /// - Parameters:
    ///   - environment: variables set on top of (or, when nil, removed from) this process's own.
    public func run(
        _ arguments: [String], environment: [String: String?] = [:]
    ) async throws -> Outcome {
        let process = try ChildProcess(path, arguments, environment: environment, mergeOutput: false)
        let status = try await process.wait()
        defer {
            try? FileManager.default.removeItem(atPath: process.outputPath)
            try? FileManager.default.removeItem(atPath: process.errorPath)
        }
        return Outcome(exitCode: status, standardOutput: process.output, standardError: process.errorOutput)
    }
}
