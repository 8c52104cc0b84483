import BatchTestSupport
import PostgresClient
import Testing

/// The ledger jobs run as a user runs them: the real executable, one process per command.
@Suite("ledger-seed and ledger-etl (the executable)", .timeLimit(.minutes(3)))
struct LedgerJobCommandTests {
    static let reference = """
        SELECT count(*), sum(a), sum(greatest(25, round(abs(a) * 0.0125))::bigint),
               count(*) FILTER (WHERE abs(a) > 1000000 OR memo LIKE 'refund%')
        FROM (SELECT memo, round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                                WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a
              FROM bench_txn) s
        """

    @Test func aPoisonRowFailsTheJobAndARestartFinishesItExactlyOnce() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let seeded = try await binary.run(["launch", "ledger-seed", "rows=20000"], environment: env)
            #expect(seeded.exitCode == 0, "\(seeded.standardError)")
            #expect(seeded.standardOutput.contains("written 20000"))

            try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                try db.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 12345")
            }
            let launch = ["launch", "ledger-etl", "grid=8", "chunk=500", "--local-workers", "2"]
            let failed = try await binary.run(launch, environment: env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("FAILED"))
            #expect(failed.standardOutput.contains("1 of 8 partitions failed: p4"))
            #expect(failed.standardOutput.contains("bench_txn id 12345: unknown currency \"XXX\""))
            #expect(failed.standardOutput.contains("swiftbatch restart"))

            let (committed, maxID) = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                try db.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = 12345")
                return try db.query("SELECT count(*), coalesce(max(id), 0) FROM bench_txn_out").single().decode((Int64, Int64).self)
            }
            // Ids 10001...12500 are partition p4: its chunks before the poison row committed,
            // nothing of the poison row's chunk did; every other partition completed.
            #expect(committed == 19_500 && maxID == 20_000)

            // The operator's way back: the id the failed launch printed.
            let hint = try #require(failed.standardOutput.firstMatch(of: /swiftbatch restart (\d+)/))
            let restarted = try await binary.run(["restart", String(hint.1), "--local-workers", "2"], environment: env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            // Only p4 ran again, from its checkpoint: the 500 rows of the chunk that failed.
            #expect(restarted.standardOutput.contains("partitions: 1 in this execution, 1 completed"))

            let (output, expected, distinct) = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                let output = try db.query(
                    "SELECT count(*), sum(amount_eur_cents), sum(fee_cents), count(*) FILTER (WHERE flagged) FROM bench_txn_out"
                ).single().decode((Int64, Int64, Int64, Int64).self)
                let expected = try db.query(PostgresQuery(unsafeSQL: Self.reference)).single()
                    .decode((Int64, Int64, Int64, Int64).self)
                let distinct = try db.query("SELECT count(DISTINCT id) FROM bench_txn_out").single().decode(Int64.self, column: 0)
                return (output, expected, distinct)
            }
            #expect(output == expected)
            #expect(distinct == 20_000)

            let again = try await binary.run(launch, environment: env)
            #expect(again.exitCode == 4)
            #expect(again.standardError.contains("already complete"))
            #expect(again.standardError.contains("--next"))
            let restartCompleted = try await binary.run(["restart", String(hint.1)], environment: env)
            #expect(restartCompleted.exitCode == 4)
            #expect(restartCompleted.standardError.contains("already complete"))
        }
    }

    @Test func badLaunchesAreRefusedWithTheDocumentedCodes() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            let noSchema = try await binary.run(["launch", "ledger-seed", "rows=10"], environment: env)
            #expect(noSchema.exitCode == 5)
            #expect(noSchema.standardError.contains("swiftbatch migrate"))
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)

            let unknown = try await binary.run(["launch", "no-such-job"], environment: env)
            #expect(unknown.exitCode == 2)
            #expect(unknown.standardError.contains("ledger-etl"))
            let badType = try await binary.run(["launch", "ledger-seed", "rows=many"], environment: env)
            #expect(badType.exitCode == 2)
            #expect(badType.standardError.contains("\"many\" is not a whole number"))
            let missing = try await binary.run(["launch", "ledger-seed"], environment: env)
            #expect(missing.exitCode == 2)
            #expect(missing.standardError.contains("missing required parameter rows"))
            let malformed = try await binary.run(["launch", "ledger-seed", "=5"], environment: env)
            #expect(malformed.exitCode == 2)
            let badChunk = try await binary.run(["launch", "ledger-etl", "chunk=0"], environment: env)
            #expect(badChunk.exitCode == 2)
            #expect(badChunk.standardError.contains("chunk must be between 1 and 1000000"))
            let unknownExecution = try await binary.run(["status", "424242"], environment: env)
            #expect(unknownExecution.exitCode == 2)
            // Nothing was written by the refused launches.
            let instances = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("SELECT count(*) FROM batch_job_instance WHERE job_name = 'ledger-seed'")
                    .single().decode(Int64.self, column: 0)
            }
            #expect(instances == 0)
        }
    }

    @Test func sixteenProcessesLaunchingOneInstanceRunItOnce() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let outcomes = try await withThrowingTaskGroup(of: SwiftBatchBinary.Outcome.self) { group in
                for _ in 0..<16 {
                    group.addTask { try await binary.run(["launch", "ledger-seed", "rows=300000"], environment: env) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let codes = outcomes.map(\.exitCode).sorted()
            #expect(codes == [0] + Array(repeating: 4, count: 15), "\(outcomes.map(\.standardError))")
            for refused in outcomes where refused.exitCode == 4 {
                #expect(refused.standardError.contains("already running") || refused.standardError.contains("already complete"))
                #expect(!refused.standardError.contains("40001"))
            }
            let (executions, rows) = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("SELECT (SELECT count(*) FROM batch_job_execution), (SELECT count(*) FROM bench_txn)")
                    .single().decode((Int64, Int64).self)
            }
            #expect(executions == 1)
            #expect(rows == 300_000)
        }
    }
}
