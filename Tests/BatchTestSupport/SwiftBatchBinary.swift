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
        let path = self.path
        return try await onDedicatedThread {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            for (key, value) in environment { env[key] = value }
            process.environment = env
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            // Read both pipes to the end before waiting, so a chatty child never blocks on a full pipe.
            let errData = ThreadSafeData()
            let errDone = DispatchSemaphore(value: 0)
            Thread {
                errData.set(err.fileHandleForReading.readDataToEndOfFile())
                errDone.signal()
            }.start()
            let outData = out.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            errDone.wait()
            return Outcome(
                exitCode: process.terminationStatus,
                standardOutput: String(decoding: outData, as: UTF8.self),
                standardError: String(decoding: errData.value, as: UTF8.self))
        }
    }
}

private final class ThreadSafeData: @unchecked Sendable {
    // Sendable rule: `data` is guarded by `lock`.
    private let lock = NSLock()
    private var data = Data()

    func set(_ value: Data) {
        lock.lock()
        data = value
        lock.unlock()
    }

    var value: Data {
        lock.lock()
        defer { lock.unlock() }
        return data
    }
}
