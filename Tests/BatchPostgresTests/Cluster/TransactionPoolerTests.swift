import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether Debian's (or any) PgBouncer is installed.
private let pgbouncerInstalled = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"].contains {
    FileManager.default.isExecutableFile(atPath: $0)
}

/// The real PgBouncer (Debian's 1.18) in transaction mode in front of the test server: the
/// launcher and sixteen worker processes go through it with `--pooler transaction`.
/// scripts/test.sh installs PgBouncer when run as root; without it the suite skips, saying so.
@Suite(
    "PgBouncer in transaction mode", .timeLimit(.minutes(4)),
    .enabled(if: pgbouncerInstalled, "pgbouncer is not installed (scripts/test.sh installs it as root)"))
struct TransactionPoolerTests {
    /// Starts scripts/pgbouncer.sh in a directory of its own in front of `url`; returns the
    /// pooled URL and a function that stops it.
    static func startPooler(_ url: String, poolSize: Int) async throws -> (url: String, stop: @Sendable () async -> Void) {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/pgbouncer.sh").path
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbatch-pgbouncer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        let env: [String: String?] = ["PGBOUNCER_ROOT": directory]
        let start = try ChildProcess("/bin/bash", [script, "start", url, "--mode", "transaction", "--pool-size", String(poolSize)], environment: env, mergeOutput: false)
        let status = try await start.wait()
        guard status == 0, let pooled = start.output.split(separator: "\n").last.map(String.init), pooled.hasPrefix("postgres://") else {
            throw PostgresError(kind: .usage, message: "scripts/pgbouncer.sh start failed (\(status)): \(start.errorOutput)")
        }
        return (pooled, {
            if let stop = try? ChildProcess("/bin/bash", [script, "stop"], environment: env, mergeOutput: false) {
                _ = try? await stop.wait()
            }
            try? FileManager.default.removeItem(atPath: directory)
        })
    }

    @Test func sixteenWorkersRunLedgerETLExactlyWithinThePoolsServerConnections() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let direct: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: direct).exitCode == 0)
            let poolSize = 4
            let pooler = try await Self.startPooler(url, poolSize: poolSize)
            do {
                let pooled: [String: String?] = ["DATABASE_URL": pooler.url, "SWIFTBATCH_POOLER": "transaction"]
                // A launch through the pooler: no session state, so no LISTEN, no named statements.
                let seeded = try await binary.run(["launch", "ledger-seed", "rows=40000"], environment: pooled)
                #expect(seeded.exitCode == 0, "\(seeded.standardError)")

                let workers = try (0..<16).map { _ in
                    try binary.start(["worker", "--concurrency", "1", "--pooler", "transaction"], environment: ["DATABASE_URL": pooler.url])
                }
                try await waitFor("16 workers RUNNING", timeout: .seconds(90), poll: .milliseconds(100)) {
                    try await TestDatabase.query(url) { db in
                        try db.query("SELECT count(*) FROM batch_worker WHERE state = 'RUNNING'").single().decode(Int64.self, column: 0)
                    } >= 16
                }
                let launcher = try binary.start(["launch", "ledger-etl", "grid=16", "chunk=500"], environment: pooled)
                // Server sessions, counted on the server itself: everything else goes through
                // the pooler, which opens at most its pool's worth.
                var peak: Int64 = 0
                while launcher.isRunning {
                    let now = try await TestDatabase.query(url) { db in
                        try db.query("""
                            SELECT count(*) FROM pg_stat_activity
                            WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                            """).single().decode(Int64.self, column: 0)
                    }
                    peak = max(peak, now)
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(try await launcher.wait() == 0, "\(launcher.output)")
                #expect(peak >= 1 && peak <= Int64(poolSize), "the server had \(peak) client sessions at once")

                try await WorkerFaultTests.Cluster(binary: binary, url: url).checkExactOutput(rows: 40000)
                let owners = try await TestDatabase.query(url) { db in
                    try db.query("SELECT count(DISTINCT owner) FROM batch_partition").single().decode(Int64.self, column: 0)
                }
                #expect(owners >= 2, "the partitions were spread over \(owners) workers")

                for worker in workers { worker.send(SIGTERM) }
                for worker in workers { #expect(try await worker.wait() == 0, "\(worker.output)") }
            } catch {
                await pooler.stop()
                throw error
            }
            await pooler.stop()
        }
    }
}
