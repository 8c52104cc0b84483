import BatchTestSupport
import PostgresClient
import Testing

/// The flow examples run as a user runs them: the real executable, one process per command.
@Suite("ledger-audit, ledger-split and ledger-etl-async (the executable)", .timeLimit(.minutes(3)))
struct FlowJobCommandTests {
    @discardableResult
    static func sql<T: Sendable>(_ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await onDedicatedThread {
            let db = try PostgresConnection(connectionString: url)
            defer { db.close() }
            return try body(db)
        }
    }

    @Test func theAuditRoutesOnItsCheckAndItsDeciderAndRestartsAtTheDecider() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let jobs = try await binary.run(["jobs"], environment: env)
            #expect(jobs.standardOutput.contains(
                "flow: check [COMPLETED -> report, NEEDS REPAIR -> triage]; decide triage [REPAIR -> repair, TOO MANY -> fail TOO MANY BAD ROWS]; repair -> report"))
            #expect(jobs.standardOutput.contains("flow: clear -> split convert (even: convert-even | odd: convert-odd) -> verify"))
            #expect(jobs.standardOutput.contains("ledger-etl-async"))
            #expect(try await binary.run(["launch", "ledger-seed", "rows=5000"], environment: env).exitCode == 0)
            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id IN (7, 700, 4000)") }

            // Three bad rows, two allowed: the decider fails the job.
            let failed = try await binary.run(["launch", "ledger-audit", "max-repairs=2"], environment: env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("step check: COMPLETED (NEEDS REPAIR)"))
            #expect(failed.standardOutput.contains("TOO MANY BAD ROWS: triage ended TOO MANY: the flow fails here"))
            #expect(failed.standardOutput.contains("swiftbatch restart"))
            #expect(!failed.standardOutput.contains("step repair"))

            // Launching the instance again with a larger limit restarts it at the decider:
            // check is not run again; repair quarantines the three rows; report follows.
            let restarted = try await binary.run(["launch", "ledger-audit", "max-repairs=10"], environment: env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            #expect(!restarted.standardOutput.contains("step check"))
            #expect(restarted.standardOutput.contains("step repair: COMPLETED"))
            #expect(restarted.standardOutput.contains("written 3,"))
            #expect(restarted.standardOutput.contains("step report: COMPLETED"))
            let (left, quarantined) = try await Self.sql(url) {
                try $0.query("SELECT (SELECT count(*) FROM bench_txn), (SELECT count(*) FROM bench_txn_quarantine)")
                    .single().decode((Int64, Int64).self)
            }
            #expect(left == 4_997 && quarantined == 3)

            // Clean data: check goes straight to report.
            let clean = try await binary.run(["launch", "ledger-audit", "--next"], environment: env)
            #expect(clean.exitCode == 0)
            #expect(clean.standardOutput.contains("step check: COMPLETED in"))
            #expect(clean.standardOutput.contains("step report: COMPLETED"))
            #expect(!clean.standardOutput.contains("step repair"))
        }
    }

    @Test func aSplitRestartsOnlyItsFailedFlowAndTheAsyncETLSkipsTheBadRow() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            #expect(try await binary.run(["launch", "ledger-seed", "rows=6000"], environment: env).exitCode == 0)
            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 4321") }

            let failed = try await binary.run(["launch", "ledger-split", "chunk=500"], environment: env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("step convert-even: COMPLETED"))
            #expect(failed.standardOutput.contains("step convert-odd: FAILED"))
            #expect(failed.standardOutput.contains("bench_txn id 4321: unknown currency"))
            #expect(!failed.standardOutput.contains("step verify"))

            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = 4321") }
            let hint = try #require(failed.standardOutput.firstMatch(of: /swiftbatch restart (\d+)/))
            let restarted = try await binary.run(["restart", String(hint.1)], environment: env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            #expect(restarted.standardOutput.contains("step convert-odd: COMPLETED"))
            #expect(restarted.standardOutput.contains("step verify: COMPLETED"))
            #expect(!restarted.standardOutput.contains("step convert-even"))
            #expect(!restarted.standardOutput.contains("step clear"))
            let (output, expected) = try await Self.sql(url) { db in
                let output = try db.query(
                    "SELECT count(DISTINCT id), sum(amount_eur_cents), sum(fee_cents), count(*) FILTER (WHERE flagged) FROM bench_txn_out"
                ).single().decode((Int64, Int64, Int64, Int64).self)
                let expected = try db.query(PostgresQuery(unsafeSQL: LedgerJobCommandTests.reference)).single()
                    .decode((Int64, Int64, Int64, Int64).self)
                return (output, expected)
            }
            #expect(output == expected)

            // The async processor: the bad row is skipped under its own id, every other row once.
            try await Self.sql(url) { try $0.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 777") }
            let async = try await binary.run(
                ["launch", "ledger-etl-async", "threads=4", "chunk=250", "skip-limit=1"], environment: env)
            #expect(async.exitCode == 0, "\(async.standardError)")
            #expect(async.standardOutput.contains("read 6000, written 5999, skipped 1,"))
            let (rows, distinct, missing, skipped) = try await Self.sql(url) { db in
                let (rows, distinct) = try db.query("SELECT count(*), count(DISTINCT id) FROM bench_txn_out")
                    .single().decode((Int64, Int64).self)
                let missing = try db.query("SELECT count(*) FROM bench_txn_out WHERE id = 777").single().decode(Int64.self, column: 0)
                let skipped = try db.query("SELECT item_key FROM batch_skipped_item").map { try $0.decode(String.self, column: 0) }
                return (rows, distinct, missing, skipped)
            }
            #expect(rows == 5_999 && distinct == 5_999 && missing == 0)
            #expect(skipped == ["bench_txn id 777"])
        }
    }
}
