import Foundation
import PostgresClient

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

    /// Runs postgres.sh for this server and returns what it printed.
    private static func script(_ arguments: [String], root: String) async throws -> String {
        let process = try ChildProcess(
            "/bin/bash", [script] + arguments, environment: ["DATABASE_URL": nil, "SWIFTBATCH_PG_ROOT": root],
            mergeOutput: false)
        let status = try await process.wait()
        guard status == 0 else {
            throw PostgresError(
                kind: .usage,
                message: "postgres.sh \(arguments.joined(separator: " ")) failed (status \(status)): \(process.errorOutput)")
        }
        return process.output
    }
}
