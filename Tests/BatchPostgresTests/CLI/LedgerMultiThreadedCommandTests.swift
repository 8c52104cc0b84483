import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// ledger-etl-mt run as a user runs it: the real executable, one process per command.
@Suite("ledger-etl-mt (the executable): failed, killed and restarted, exactly once", .timeLimit(.minutes(4)))
struct LedgerMultiThreadedCommandTests {
    @discardableResult
    static func sql<T: Sendable>(_ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await FlowJobCommandTests.sql(url, body)
    }

    /// bench_txn_out against the reference aggregates, its distinct ids, and the read and write
    /// counts of every execution of the convert step, summed.
    static func check(_ url: String) async throws
        -> (output: (Int64, Int64, Int64, Int64), expected: (Int64, Int64, Int64, Int64), distinct: Int64, read: Int64, written: Int64)
    {
        try await sql(url) { db in
            let output = try db.query(
                "SELECT count(*), coalesce(sum(amount_eur_cents), 0)::bigint, coalesce(sum(fee_cents), 0)::bigint, count(*) FILTER (WHERE flagged) FROM bench_txn_out"
            ).single().decode((Int64, Int64, Int64, Int64).self)
            let expected = try db.query(PostgresQuery(unsafeSQL: LedgerJobCommandTests.reference)).single()
                .decode((Int64, Int64, Int64, Int64).self)
            let distinct = try db.query("SELECT count(DISTINCT id) FROM bench_txn_out").single().decode(Int64.self, column: 0)
            let (read, written) = try db.query("""
                SELECT coalesce(sum(read_count), 0)::bigint, coalesce(sum(write_count), 0)::bigint
                FROM batch_step_execution WHERE step_name = 'convert'
                """).single().decode((Int64, Int64).self)
            return (output, expected, distinct, read, written)
        }
    }

    @Test func aPoisonRowFailsTheStepAndARestartWritesEveryRowOnce() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            #expect(try await binary.run(["launch", "ledger-seed", "rows=20000"], environment: env).exitCode == 0)
            let refused = try await binary.run(["launch", "ledger-etl-mt", "threads=0"], environment: env)
            #expect(refused.exitCode == 2)
            #expect(refused.standardError.contains("parameter threads must be between 1 and 64, not 0"))

            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 12345") }
            let failed = try await binary.run(["launch", "ledger-etl-mt", "threads=4", "chunk=500"], environment: env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("step convert: FAILED"))
            #expect(failed.standardOutput.contains("bench_txn id 12345: unknown currency \"XXX\""))
            // What committed is exactly what the step counted, and not the poison row's page.
            let (committed, counted, poisonWritten) = try await Self.sql(url) { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM bench_txn_out), (SELECT write_count FROM batch_step_execution WHERE step_name = 'convert'),
                           (SELECT count(*) FROM bench_txn_out WHERE id BETWEEN 12001 AND 12500)
                    """).single().decode((Int64, Int64, Int64).self)
            }
            #expect(committed == counted && committed < 20_000 && poisonWritten == 0)

            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = 12345") }
            let hint = try #require(failed.standardOutput.firstMatch(of: /swiftbatch restart (\d+)/))
            let restarted = try await binary.run(["restart", String(hint.1)], environment: env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            #expect(restarted.standardOutput.contains("step convert: COMPLETED"))
            #expect(!restarted.standardOutput.contains("step clear"))
            let check = try await Self.check(url)
            #expect(check.output == check.expected)
            #expect(check.distinct == 20_000)
            #expect(check.read == 20_000 && check.written == 20_000)
        }
    }

    @Test func aLauncherKilledMidStepIsTakenOverAndEveryRowIsWrittenOnce() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            #expect(try await binary.run(["launch", "ledger-seed", "rows=300000"], environment: env).exitCode == 0)
            let launch = ["launch", "ledger-etl-mt", "threads=4", "chunk=500"]
            let victim = try binary.start(launch, environment: env)
            // Kill it once some pages committed (the step execution's row is saved with each).
            try await waitFor("a committed page of convert (or the launch's end)", timeout: .seconds(90)) {
                try await Self.sql(url) { db in
                    try db.query("SELECT coalesce(max(write_count), 0)::bigint FROM batch_step_execution WHERE step_name = 'convert'")
                        .single().decode(Int64.self, column: 0)
                } > 0 || !victim.isRunning
            }
            victim.send(SIGKILL)
            #expect(try await victim.wait() == 128 + SIGKILL)
            let killedAt = try await Self.sql(url) { db in
                try db.query("SELECT write_count FROM batch_step_execution WHERE step_name = 'convert'").single().decode(Int64.self, column: 0)
            }
            try #require(killedAt > 0 && killedAt < 300_000, "the launcher was not killed mid-step (\(killedAt) rows written)")

            // Its lease would run out in 30 s; an operator's wait, shortened.
            try await Self.sql(url) { try $0.execute("UPDATE batch_job_launcher SET lease_expires_at = now() - interval '1 second'") }
            let relaunched = try await binary.run(launch, environment: env)
            #expect(relaunched.exitCode == 0, "\(relaunched.standardOutput) \(relaunched.standardError)")
            #expect(relaunched.standardOutput.contains("step convert: COMPLETED"))
            let check = try await Self.check(url)
            #expect(check.output == check.expected)
            #expect(check.distinct == 300_000)
            // The killed execution's counts are those of its committed pages: with the
            // relaunch's, every row once.
            #expect(check.read == 300_000 && check.written == 300_000)
        }
    }
}
