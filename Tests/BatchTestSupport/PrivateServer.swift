import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server of a test's own (started by `scripts/postgres.sh` in a temporary
/// directory), for tests that restart or crash the server: the shared test server must never
/// go down under other suites.
public final class PrivateServer: Sendable {
    public let url: String
    private let root: String
    private static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/postgres.sh").path

    /// Starts a fresh server (initdb, start, database `swiftbatch`); about a second.
    public init() async throws {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("swiftbatch-pg-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        self.root = root
        let output = try await Self.script(["start"], root: root)
        guard let line = output.split(separator: "\n").last, line.hasPrefix("DATABASE_URL=") else {
            throw PostgresError(kind: .usage, message: "postgres.sh start printed no URL: \(output)")
        }
        url = String(line.dropFirst("DATABASE_URL=".count))
    }

    /// `pg_ctl restart -m fast` (sessions are ended cleanly) or `-m immediate` (a crash, then recovery).
    public func restart(immediate: Bool = false) async throws {
        _ = try await Self.script(["restart", immediate ? "immediate" : "fast"], root: root)
    }

    /// Stops the server and removes its directory.
    public func destroy() async {
        _ = try? await Self.script(["stop"], root: root)
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs postgres.sh with posix_spawn and waitpid: Foundation's Process never saw this
    /// script exit (it leaves a server running in the background), so it is not used here.
    private static func script(_ arguments: [String], root: String) async throws -> String {
        try await onDedicatedThread {
            let outputPath = root + "/script-output.txt"
            var env = ProcessInfo.processInfo.environment
            env["DATABASE_URL"] = nil
            env["SWIFTBATCH_PG_ROOT"] = root
            let argv = ["/bin/bash", script] + arguments
            let envp = env.map { "\($0.key)=\($0.value)" }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_addopen(&actions, 2, root + "/script-errors.txt", O_WRONLY | O_CREAT | O_APPEND, 0o644)
            var pid: pid_t = 0
            let spawned = withCStrings(argv) { cArgv in
                withCStrings(envp) { cEnv in posix_spawn(&pid, "/bin/bash", &actions, nil, cArgv, cEnv) }
            }
            guard spawned == 0 else {
                throw PostgresError(kind: .usage, message: "could not start postgres.sh: errno \(spawned)")
            }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
                throw PostgresError(
                    kind: .usage,
                    message: "postgres.sh \(arguments.joined(separator: " ")) failed (status \(status)); see \(root)/script-errors.txt")
            }
            return text
        }
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
