import BatchTestSupport
import Foundation
import PostgresClient
import Testing

/// Examples/billing is an application of its own that defines its job outside the framework and
/// gets the whole command line from `SwiftBatchCLI.main(jobs:)`. scripts/test.sh builds it and
/// sets SWIFTBATCH_EXAMPLE_BIN; a plain `swift test` skips this suite.
@Suite(
    "The example application (Examples/billing)", .timeLimit(.minutes(3)),
    .enabled(if: ProcessInfo.processInfo.environment["SWIFTBATCH_EXAMPLE_BIN"] != nil, "run by scripts/test.sh"))
struct ExamplePackageTests {
    @Test func anOutsideJobGetsTheWholeCommandLine() async throws {
        let billing = try SwiftBatchBinary(path: ProcessInfo.processInfo.environment["SWIFTBATCH_EXAMPLE_BIN"]!)
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            // Before migrating, the hint names the application's own command.
            let early = try await billing.run(["status"], environment: env)
            #expect(early.exitCode == 5)
            #expect(early.standardError.contains("run `billing migrate`"), "\(early.standardError)")
            let migrated = try await billing.run(["migrate"], environment: env)
            #expect(migrated.exitCode == 0)
            #expect(migrated.standardOutput.contains("Applied the migrations of billing to 4 (applied 1, 2, 3, 4)."), "\(migrated.standardOutput)")
            let check = try await billing.run(["migrate", "--check"], environment: env)
            #expect(check.exitCode == 0)
            #expect(check.standardOutput.contains("billing 2 create_invoice_out: applied"), "\(check.standardOutput)")
            let jobs = try await billing.run(["jobs"], environment: env)
            #expect(jobs.standardOutput.contains("billing"))
            #expect(jobs.standardOutput.contains("month=<string>  required"))

            // 10,000 demo invoices: every 1000th negative (skipped, recorded), every other 250th free (filtered).
            let run = try await billing.run(["launch", "billing", "month=2026-11", "demo-rows=10000"], environment: env)
            #expect(run.exitCode == 0, "\(run.standardError)")
            #expect(run.standardOutput.contains("read 10000, written 9960, filtered 30, skipped 10"), "\(run.standardOutput)")
            let (rows, cents, skips) = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("""
                    SELECT (SELECT count(*) FROM invoice_out WHERE month = '2026-11'),
                           (SELECT sum(cents) FROM invoice_out WHERE month = '2026-11')::bigint,
                           (SELECT count(*) FROM batch_skipped_item WHERE reason LIKE 'invoice % has a negative amount')
                    """).single().decode((Int64, Int64, Int64).self)
            }
            // The same sum computed by PostgreSQL: 20% VAT rounded half up on the paid invoices.
            var expected: Int64 = 0
            for id in Int64(1)...10_000 where id % 250 != 0 {
                expected += (id % 10_000 * 120 + 50) / 100
            }
            #expect(rows == 9960 && cents == expected && skips == 10)

            let again = try await billing.run(["launch", "billing", "month=2026-11"], environment: env)
            #expect(again.exitCode == 4)
            #expect(again.standardError.contains("already complete"))
            let unknown = try await billing.run(["launch", "invoicing"], environment: env)
            #expect(unknown.exitCode == 2)
            #expect(unknown.standardError.contains("(see `billing jobs`)"), "\(unknown.standardError)")
        }
    }

    /// The command line calls itself after the application's executable, everywhere.
    @Test func theApplicationsBinarySaysItsOwnName() async throws {
        let billing = try SwiftBatchBinary(path: ProcessInfo.processInfo.environment["SWIFTBATCH_EXAMPLE_BIN"]!)
        let help = try await billing.run(["--help"])
        #expect(help.exitCode == 0)
        #expect(help.standardOutput.contains("USAGE: billing <subcommand>"), "\(help.standardOutput)")
        #expect(help.standardOutput.contains("  billing migrate"))
        for command in ["", "migrate", "jobs", "launch", "worker", "status", "stop", "restart", "abandon", "recover", "prune"] {
            let text = try await billing.run(command.isEmpty ? ["--help"] : [command, "--help"]).standardOutput
            #expect(!text.contains("swiftbatch "), "`billing \(command) --help` says swiftbatch: \(text)")
            #expect(!text.contains("`swiftbatch"), "`billing \(command) --help` says swiftbatch: \(text)")
        }
        let bad = try await billing.run(["launch"])
        #expect(bad.exitCode == 2)
        #expect(bad.standardError.contains("billing launch --help"), "\(bad.standardError)")
    }

    /// The user, end to end: a partitioned job over a table keyed by `(date, text)` whose
    /// processor awaits a 2-second call to a (fake) remote service per chunk, on workers of the
    /// application's own binary with a 1-second lease, one of them SIGKILLed mid-run: every order
    /// is priced exactly once. An order the service can never price fails its partition, naming it.
    @Test func anAsyncProcessorSlowerThanTheLeaseRunsExactlyOnceAcrossAKilledWorker() async throws {
        let billing = try SwiftBatchBinary(path: ProcessInfo.processInfo.environment["SWIFTBATCH_EXAMPLE_BIN"]!)
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await billing.run(["migrate"], environment: env).exitCode == 0)
            let workers = try (0..<2).map { _ in
                try billing.start(["worker", "--concurrency", "2", "--lease-seconds", "1"], environment: env)
            }
            let launch = try billing.start(
                ["launch", "price-orders", "from=2026-03-01", "to=2026-03-06", "demo-orders=100", "quote-ms=2000"], environment: env)
            // Once a chunk has committed (2 s of awaiting each), kill a worker that holds a partition.
            let owner = try await waitFor("a chunk to commit while a partition is held", timeout: .seconds(75)) {
                try await TestDatabase.query(url) { db in
                    try db.query("""
                        SELECT p.owner FROM batch_partition p
                        WHERE p.state = 'CLAIMED' AND EXISTS (
                            SELECT 1 FROM batch_partition q JOIN batch_step_execution s USING (step_execution_id)
                            WHERE s.commit_count > 0)
                        ORDER BY p.partition_id LIMIT 1
                        """).first?.decode(String.self, column: 0)
                }
            }
            let victim = try #require(workers.first { $0.pid == WorkerFaultTests.pid(of: owner) })
            victim.send(SIGKILL)
            #expect(try await victim.wait() == 128 + SIGKILL)
            #expect(try await launch.wait() == 0, "\(launch.output)")
            let (rows, distinct, total, expected, takenOver) = try await TestDatabase.query(url) { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM orders_priced), (SELECT count(DISTINCT (order_date, order_ref)) FROM orders_priced),
                           (SELECT sum(total_cents) FROM orders_priced)::bigint,
                           (SELECT sum(substr(sku, 5)::int * 100 * quantity) FROM orders)::bigint,
                           (SELECT count(*) FROM batch_partition WHERE attempt > 1)
                    """).single().decode((Int64, Int64, Int64, Int64, Int64).self)
            }
            #expect(rows == 600 && distinct == 600 && total == expected)
            #expect(takenOver >= 1)

            let failing = try await billing.run(
                ["launch", "price-orders", "from=2026-03-10", "to=2026-03-10", "demo-orders=20", "unpriced-sku=sku-3"], environment: env)
            #expect(failing.exitCode == 1)
            #expect(failing.standardOutput.contains("the pricing service has no price for sku-3"), "\(failing.standardOutput)")
            for worker in workers where worker !== victim { worker.send(SIGTERM) }
            for worker in workers where worker !== victim { #expect(try await worker.wait() == 0) }
        }
    }
}
