import Foundation
import PostgresClient
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The one way tests start a process: posix_spawn with its standard output and error going to
/// files (never pipes, so a chatty child can never block on a full one) and no standard input,
/// reaped with waitpid. Foundation's `Process` is not used: its `waitUntilExit` spins a CPU on
/// Linux, and it never saw a script exit that leaves a server running in the background.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    /// Where the child's standard output goes.
    public let outputPath: String
    /// Where the child's standard error goes (the same file as ``outputPath`` when merged).
    public let errorPath: String
    /// The exit status once reaped (128 + n for signal n).
    private let exitStatus = Mutex<Int32?>(nil)

    /// Starts `executable arguments...` with this process's environment plus `environment` (a
    /// nil value removes the variable).
    ///
    /// - Parameter mergeOutput: standard error into the same file as standard output.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String?] = [:], mergeOutput: Bool = true
    ) throws {
        let base = NSTemporaryDirectory() + "swiftbatch-test-\(UInt64.random(in: 0...UInt64.max))"
        outputPath = base + ".out"
        errorPath = mergeOutput ? outputPath : base + ".err"
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if mergeOutput {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        }
        var pid: pid_t = 0
        let spawned = withCStrings([executable] + arguments) { argv in
            withCStrings(env.map { "\($0.key)=\($0.value)" }) { envp in posix_spawn(&pid, executable, &actions, nil, argv, envp) }
        }
        guard spawned == 0 else {
            throw PostgresError(kind: .usage, message: "could not start \(executable): errno \(spawned)")
        }
        self.pid = pid
    }

    /// A test that fails before it stops its processes must not leave them running (a worker
    /// would retry its connection forever): whatever is still alive when dropped is killed.
    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            _ = waitBlocking()
        }
    }

    /// Sends a signal (SIGKILL, SIGTERM, SIGSTOP, SIGCONT...).
    public func send(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// True until the process has exited (and been reaped).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Waits for the process to exit and returns its exit status (128 + n for signal n),
    /// polling so the cooperative pool is never blocked.
    public func wait() async throws -> Int32 {
        while true {
            if let status = reap(blocking: false) { return status }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits on this thread (never on the cooperative pool) for the process to exit.
    public func waitBlocking() -> Int32 {
        reap(blocking: true) ?? -1
    }

    /// What the process wrote to standard output (and error, when merged) so far.
    public var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// What the process wrote to standard error so far.
    public var errorOutput: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    private func reap(blocking: Bool) -> Int32? {
        exitStatus.withLock { known in
            if let known { return known }
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while result == -1 && errno == EINTR
            guard result == pid else { return nil }
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            known = code
            return code
        }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
