import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension WorkerFaultTests.Cluster {
    func execute(_ sql: String) async throws {
        _ = try await query { try $0.execute(PostgresQuery(unsafeSQL: sql)) }
    }
}

/// The operator's commands, as an operator runs them: the real executable, separate processes,
/// real signals. status --json/--watch, progress, Ctrl-C on launch, recover and prune.
@Suite("status, progress, Ctrl-C, recover and prune (the executable)", .timeLimit(.minutes(2)))
struct OperationsCommandTests {
    typealias Cluster = WorkerFaultTests.Cluster

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    /// The numbers of lines of `text` that start with `prefix`.
    static func lines(_ text: String, starting prefix: String) -> Int {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.count
    }

    @Test func statusJSONAndWatchReportARealRun() async throws {
        try await WorkerFaultTests.withCluster(rows: 20_000) { cluster in
            let binary = cluster.binary
            // No worker yet: the launch waits for its partitions, `status --watch` (the newest
            // running execution) follows it, and both end once a worker ran them.
            let launch = try binary.start(["launch", "ledger-etl", "grid=4", "chunk=500"], environment: cluster.env)
            let id = try await cluster.waitFor("the partitions") { db in
                try db.query("SELECT max(job_execution_id) FROM batch_partition").single().decode(Int64?.self, column: 0)
            }
            let watch = try binary.start(["status", "--watch", "--progress", "plain"], environment: cluster.env)
            // The job takes a fraction of a second once a worker comes: wait for the launcher's
            // periodic plain line (every 5 s) to show the waiting partitions first.
            try await waitFor("the launcher's line on the waiting partitions", timeout: .seconds(30), poll: .milliseconds(50)) {
                launch.output.contains("step transform partitions ")
            }
            let worker = try binary.start(["worker", "--concurrency", "2"], environment: cluster.env)
            #expect(try await watch.wait() == 0, "\(watch.output)")
            #expect(watch.output.contains("Job ledger-etl, execution \(id): COMPLETED"), "\(watch.output)")
            #expect(watch.output.contains("progress: execution \(id) ledger-etl"), "\(watch.output)")
            #expect(try await launch.wait() == 0, "\(launch.output)")
            // Not a terminal: plain progress lines, no carriage returns.
            #expect(launch.output.contains("progress: execution \(id) ledger-etl STARTED | step transform partitions "), "\(launch.output)")
            #expect(!launch.output.contains("\r"))

            let one = try await binary.run(["status", String(id), "--json"], environment: cluster.env)
            #expect(one.exitCode == 0, "\(one.standardError)")
            let document = try #require(try Self.json(one.standardOutput) as? [String: Any])
            #expect(document["status"] as? String == "COMPLETED")
            #expect(document["read"] as? Int == 20_000 && document["written"] as? Int == 20_000)
            let steps = try #require(document["steps"] as? [[String: Any]])
            #expect(steps.count == 1 && steps[0]["name"] as? String == "transform")
            let partitions = try #require(steps[0]["partitions"] as? [String: Int])
            #expect(partitions["total"] == 4 && partitions["done"] == 4 && partitions["completed"] == 4)
            #expect(partitions["failed"] == 0 && partitions["running"] == 0)
            #expect((document["parameters"] as? [String: String])?["grid"] == "4")

            let list = try await binary.run(["status", "--json"], environment: cluster.env)
            let rows = try #require(try Self.json(list.standardOutput) as? [[String: Any]])
            #expect(rows.map { $0["job"] as? String } == ["ledger-etl", "ledger-seed"])
            #expect(rows[0]["id"] as? Int == Int(id) && rows[0]["read"] as? Int == 20_000)

            // A FAILED execution: --watch ends at once with its code, 1. Quiet launches show no progress.
            try await cluster.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 777")
            let failed = try await binary.run(["launch", "ledger-etl", "grid=4", "--next", "-q"], environment: cluster.env)
            #expect(failed.exitCode == 1)
            #expect(!failed.standardError.contains("progress:"))
            let failedID = try #require(failed.standardOutput.firstMatch(of: /execution (\d+): FAILED/)).1
            let watchFailed = try await binary.run(["status", String(failedID), "--watch", "--json", "-q"], environment: cluster.env)
            #expect(watchFailed.exitCode == 1)
            #expect((try Self.json(watchFailed.standardOutput) as? [String: Any])?["status"] as? String == "FAILED")

            let nothing = try await binary.run(["status", "--watch"], environment: cluster.env)
            #expect(nothing.exitCode == 2 && nothing.standardError.contains("no execution is running"))
            let bad = try await binary.run(["launch", "ledger-etl", "--progress", "fancy"], environment: cluster.env)
            #expect(bad.exitCode == 2 && bad.standardError.contains("fancy"))
            try await cluster.stop([worker])
        }
    }

    @Test func ctrlCDetachesTheLauncherAndTheWorkersFinishTheJob() async throws {
        try await WorkerFaultTests.withCluster(rows: 120_000) { cluster in
            let binary = cluster.binary
            let workers = try (0..<2).map { _ in
                try binary.start(["worker", "--concurrency", "1"], environment: cluster.env)
            }
            let arguments = ["launch", "ledger-etl", "grid=12", "chunk=100"]
            let launch = try binary.start(arguments, environment: cluster.env)
            _ = try await cluster.busyPartition()
            launch.send(SIGINT)
            #expect(try await launch.wait() == 130, "\(launch.output)")
            let output = launch.output
            let execution = try #require(output.firstMatch(of: /detached from execution (\d+) \(ledger-etl\); it goes on in the workers/), "\(output)").1
            #expect(output.contains("swiftbatch status \(execution) --watch"))
            #expect(output.contains("swiftbatch stop \(execution)"))
            #expect(output.contains("re-attach:  swiftbatch launch ledger-etl chunk=100 grid=12"), "\(output)")

            // The lease was released: the same launch attaches at once (or finds it complete),
            // never "already running".
            let again = try await binary.run(arguments, environment: cluster.env)
            if again.exitCode == 0 {
                #expect(again.standardOutput.contains("execution \(execution): COMPLETED"), "\(again.standardOutput)")
                #expect(again.standardError.contains("attached to the running execution"))
            } else {
                #expect(again.exitCode == 4, "\(again.standardError)")
                #expect(again.standardError.contains("already complete"), "\(again.standardError)")
            }
            try await cluster.checkExactOutput(rows: 120_000)
            let (status, executions) = try await cluster.query { db in
                try db.query("""
                    SELECT (SELECT status FROM batch_job_execution WHERE job_execution_id = \(Int64(execution)!)),
                           (SELECT count(*) FROM batch_job_execution e JOIN batch_job_instance i USING (job_instance_id)
                            WHERE i.job_name = 'ledger-etl')
                    """).single().decode((String, Int64).self)
            }
            #expect(status == "COMPLETED" && executions == 1)
            try await cluster.stop(workers)
        }
    }

    @Test func ctrlCWithLocalWorkersHandsTheirPartitionsBackForAReattach() async throws {
        try await WorkerFaultTests.withCluster(rows: 20_000) { cluster in
            let binary = cluster.binary
            // Partitions run in the launcher (--local-workers): they are handed back, and the
            // execution, which awaits them, stays running for a re-attach.
            let arguments = ["launch", "ledger-etl", "grid=40", "chunk=50", "--local-workers", "1"]
            let launch = try binary.start(arguments, environment: cluster.env)
            _ = try await cluster.busyPartition()
            launch.send(SIGINT)
            #expect(try await launch.wait() == 130, "\(launch.output)")
            #expect(launch.output.contains("no live worker serves it"), "\(launch.output)")
            let (claimed, running) = try await cluster.query { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM batch_partition WHERE state = 'CLAIMED'),
                           (SELECT count(*) FROM batch_job_execution WHERE status = 'STARTED')
                    """).single().decode((Int64, Int64).self)
            }
            #expect(claimed == 0 && running == 1)
            let attached = try await binary.run(arguments, environment: cluster.env)
            #expect(attached.exitCode == 0, "\(attached.standardError)")
            #expect(attached.standardError.contains("attached to the running execution"))
            try await cluster.checkExactOutput(rows: 20_000)
        }
    }

    @Test func ctrlCOnAStepRunningInTheLauncherFailsItAndARestartFinishesIt() async throws {
        try await WorkerFaultTests.withCluster(rows: 10) { cluster in
            let binary = cluster.binary
            // ledger-seed fills bench_txn in the launcher, in commits of 250,000 rows.
            let launch = try binary.start(["launch", "ledger-seed", "rows=1500000"], environment: cluster.env)
            let id = try await cluster.waitFor("the first slice of fill to commit") { db in
                try db.query("""
                    SELECT job_execution_id FROM batch_step_execution WHERE step_name = 'fill' AND commit_count >= 1
                      AND status = 'STARTED'
                    """).first?.decode(Int64.self, column: 0)
            }
            launch.send(SIGINT)
            #expect(try await launch.wait() == 130, "\(launch.output)")
            #expect(launch.output.contains("execution \(id) (ledger-seed) was running step fill in this launcher"), "\(launch.output)")
            #expect(launch.output.contains("swiftbatch restart \(id)"))
            let (status, message) = try await cluster.query { db in
                try db.query("SELECT status, exit_message FROM batch_job_execution WHERE job_execution_id = \(id)")
                    .single().decode((String, String).self)
            }
            #expect(status == "FAILED" && message.contains("interrupted (SIGINT)"), "\(message)")
            let restarted = try await binary.run(["restart", String(id)], environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            let (rows, distinct) = try await cluster.query { db in
                try db.query("SELECT count(*), count(DISTINCT id) FROM bench_txn").single().decode((Int64, Int64).self)
            }
            #expect(rows == 1_500_000 && distinct == 1_500_000)
        }
    }

    @Test func recoverFailsAnExecutionWhoseLauncherAndWorkersAreGoneAndARestartCompletesIt() async throws {
        try await WorkerFaultTests.withCluster(rows: 20_000) { cluster in
            let binary = cluster.binary
            let launch = try binary.start(["launch", "ledger-etl", "grid=4", "--lease-seconds", "2"], environment: cluster.env)
            let id = try await cluster.waitFor("the partitions") { db in
                try db.query("SELECT max(job_execution_id) FROM batch_partition").single().decode(Int64?.self, column: 0)
            }
            let alive = try await binary.run(["recover"], environment: cluster.env)
            #expect(alive.exitCode == 0)
            #expect(alive.standardOutput.contains("execution \(id) (ledger-etl): left running: its launcher is alive"), "\(alive.standardOutput)")
            launch.send(SIGKILL)
            #expect(try await launch.wait() == 128 + SIGKILL)
            _ = try await cluster.waitFor("the dead launcher's lease to run out") { db in
                try db.query("SELECT 1 FROM batch_job_launcher WHERE lease_expires_at < now()").first.map { _ in true }
            }
            // A worker's live claim keeps it running; recover never guesses.
            try await cluster.execute("""
                    UPDATE batch_partition SET state = 'CLAIMED', owner = 'elsewhere', attempt = 1,
                        lease_expires_at = now() + interval '1 minute'
                    WHERE partition_id = (SELECT min(partition_id) FROM batch_partition)
                    """)
            let held = try await binary.run(["recover"], environment: cluster.env)
            #expect(held.standardOutput.contains("left running: workers hold 1 of its partitions"), "\(held.standardOutput)")
            try await cluster.execute("UPDATE batch_partition SET lease_expires_at = now() - interval '1 second' WHERE owner = 'elsewhere'")

            let dry = try await binary.run(["recover", "--dry-run"], environment: cluster.env)
            #expect(dry.standardOutput.contains("execution \(id) (ledger-etl): would be marked FAILED"), "\(dry.standardOutput)")
            let recovered = try await binary.run(["recover"], environment: cluster.env)
            #expect(recovered.exitCode == 0)
            #expect(recovered.standardOutput.contains("execution \(id) (ledger-etl): marked FAILED, 4 unfinished partitions"), "\(recovered.standardOutput)")
            #expect(recovered.standardOutput.contains("swiftbatch restart \(id)"))
            let (status, exitCode, message, ended, steps, partitions) = try await cluster.query { db in
                try db.query("""
                    SELECT e.status, e.exit_code, e.exit_message, e.end_time IS NOT NULL,
                           (SELECT count(*) FROM batch_step_execution s WHERE s.job_execution_id = e.job_execution_id
                            AND s.status <> 'FAILED'),
                           (SELECT count(*) FROM batch_partition p WHERE p.job_execution_id = e.job_execution_id
                            AND p.state <> 'FAILED')
                    FROM batch_job_execution e WHERE e.job_execution_id = \(id)
                    """).single().decode((String, String, String, Bool, Int64, Int64).self)
            }
            #expect(status == "FAILED" && exitCode == "FAILED" && ended && steps == 0 && partitions == 0)
            #expect(message.contains("launcher") && message.contains("stopped heartbeating"), "\(message)")
            let again = try await binary.run(["recover"], environment: cluster.env)
            #expect(again.standardOutput.contains("nothing to recover"))

            let restarted = try await binary.run(["restart", String(id), "--local-workers", "2"], environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            #expect(restarted.standardOutput.contains("COMPLETED"))
            try await cluster.checkExactOutput(rows: 20_000)
        }
    }

    @Test func pruneDeletesOldHistoryKeepsRecentAndStillRefusesCompletedInstances() async throws {
        try await WorkerFaultTests.withCluster(rows: 5_000) { cluster in
            let binary = cluster.binary
            // An old instance with two executions (failed, then restarted: the restart reuses
            // the completed partitions of the first), and a recent one.
            try await cluster.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 77")
            let old = ["launch", "ledger-etl", "grid=4", "--local-workers", "2", "-q"]
            #expect(try await binary.run(old, environment: cluster.env).exitCode == 1)
            try await cluster.execute("UPDATE bench_txn SET currency = 'EUR' WHERE id = 77")
            #expect(try await binary.run(old, environment: cluster.env).exitCode == 0)
            try await cluster.execute("""
                    UPDATE batch_job_execution SET create_time = create_time - interval '40 days',
                        start_time = start_time - interval '40 days', end_time = end_time - interval '40 days'
                    """)
            try await cluster.execute("TRUNCATE bench_txn_out")
            let recent = try await binary.run(old + ["--next"], environment: cluster.env)
            #expect(recent.exitCode == 0)

            func census() async throws -> [Int64] {
                let counts = try await cluster.query { db in
                    try db.query("""
                        SELECT (SELECT count(*) FROM batch_job_execution), (SELECT count(*) FROM batch_step_execution),
                               (SELECT count(*) FROM batch_partition), (SELECT count(*) FROM batch_job_launcher)
                        """).single().decode((Int64, Int64, Int64, Int64).self)
                }
                return [counts.0, counts.1, counts.2, counts.3]
            }
            let before = try await census()
            let dry = try await binary.run(["prune", "--older-than", "30d", "--dry-run"], environment: cluster.env)
            #expect(dry.exitCode == 0, "\(dry.standardError)")
            #expect(dry.standardOutput.contains("would delete 1 job executions"), "\(dry.standardOutput)")
            #expect(try await census() == before)

            let pruned = try await binary.run(["prune", "--older-than", "30d", "--batch-size", "1"], environment: cluster.env)
            #expect(pruned.exitCode == 0, "\(pruned.standardError)")
            // ledger-seed's one execution and ledger-etl's two: the failed one goes whole, the
            // newest of each instance keeps its row. Partitions: 4 of the failed run (3
            // completed ones reused by the restart, so pointing at its steps) and 1 restarted.
            #expect(pruned.standardOutput.contains("history of 2 job instances"), "\(pruned.standardOutput)")
            #expect(pruned.standardOutput.contains("deleted 1 job executions"))
            #expect(pruned.standardOutput.contains("deleted 4 partitions"), "\(pruned.standardOutput)")
            #expect(pruned.standardOutput.contains("deleted 3 launcher records"))
            let after = try await census()
            // 3 executions remain (seed, old etl's newest, recent etl); only the recent one has steps.
            #expect(after[0] == 3 && after[2] == 4 && after[3] == 1, "\(after)")
            let recentSteps = try await cluster.query { db in
                try db.query("""
                    SELECT count(*) FROM batch_step_execution
                    WHERE job_execution_id = (SELECT max(job_execution_id) FROM batch_job_execution)
                    """).single().decode(Int64.self, column: 0)
            }
            #expect(after[1] == recentSteps)

            // The completed old instance is still refused; nothing more to prune.
            let refused = try await binary.run(["launch", "ledger-etl", "grid=4"], environment: cluster.env)
            #expect(refused.exitCode == 4 && refused.standardError.contains("already complete"), "\(refused.standardError)")
            let again = try await binary.run(["prune", "--older-than", "30d"], environment: cluster.env)
            #expect(again.standardOutput.contains("history of 0 job instances"))
            let bad = try await binary.run(["prune", "--older-than", "30 days"], environment: cluster.env)
            #expect(bad.exitCode == 2 && bad.standardError.contains("is not an age"))
            let missing = try await binary.run(["prune"], environment: cluster.env)
            #expect(missing.exitCode == 2)
        }
    }
}
