import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `swiftbatch` process started in the background, for tests that signal it.
public final class RunningProcess: @unchecked Sendable {
    // Sendable rule: `process` is only read after init; Process itself is thread-safe for
    // `processIdentifier`, `isRunning` and `waitUntilExit`.
    private let process: Process
    public let outputPath: String

    init(process: Process, outputPath: String) {
        self.process = process
        self.outputPath = outputPath
    }

    /// A test that fails before it stops its processes must not leave them running (a worker
    /// would retry its connection forever): whatever is still alive when dropped is killed.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var pid: Int32 { process.processIdentifier }

    /// True until the process has exited.
    public var isRunning: Bool { process.isRunning }

    /// Sends a signal (SIGKILL, SIGTERM, SIGSTOP, SIGCONT...).
    public func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the process to exit and returns its exit status (128+n for a signal n).
    public func wait() async throws -> Int32 {
        // Foundation's waitUntilExit spins a CPU on Linux while it waits: on a 2-core machine
        // that starves the very processes under test. Polling costs nothing in comparison.
        while process.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// What the process wrote to stdout and stderr so far.
    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }
}

extension SwiftBatchBinary {
    /// Starts `swiftbatch arguments...` in the background; stdout and stderr go to a file.
    public func start(_ arguments: [String], environment: [String: String?] = [:]) throws -> RunningProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outputPath = NSTemporaryDirectory() + "swiftbatch-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return RunningProcess(process: process, outputPath: outputPath)
    }
}
