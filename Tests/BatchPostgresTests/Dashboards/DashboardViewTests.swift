import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `batch_dashboard_*` views (migration 6) over real runs of the executable: every figure
/// they show is checked against the repository's tables and the job's own output.
@Suite("SQL dashboards over real runs", .timeLimit(.minutes(2)))
struct DashboardViewTests {
    typealias Cluster = WorkerFaultTests.Cluster

    /// Items written per the throughput view, summed over every minute, by job.
    static func throughputTotals(_ cluster: Cluster) async throws -> [String: Int64] {
        let totals = try await cluster.rows("""
            SELECT job_name, round(sum(items_written))::bigint FROM batch_dashboard_throughput GROUP BY job_name
            """, as: (String, Int64).self)
        return Dictionary(uniqueKeysWithValues: totals)
    }

    static func outputRows(_ cluster: Cluster) async throws -> Int64 {
        try await cluster.row("SELECT count(*) FROM bench_txn_out", as: Int64.self)
    }

    @Test func aPoisonedPartitionAndItsRestartShowInTheJobStepFailureWorkerAndThroughputViews() async throws {
        try await WorkerFaultTests.withCluster(rows: 20_000) { cluster in
            _ = try await cluster.query { db in try db.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 12345") }
            let failed = try await cluster.binary.run(
                ["launch", "ledger-etl", "grid=4", "chunk=500", "--local-workers", "2"], environment: cluster.env)
            #expect(failed.exitCode == 1, "\(failed.standardError)")
            // Partition p2 holds ids 10001...15000: its four chunks before the poison row committed.
            let output = try await Self.outputRows(cluster)
            #expect(output == 17_000)

            // Job overview: the failed execution, its counts those of bench_txn_out.
            let (execution, status, exitCode, message, read, written, skipped, executions, instanceWritten, timed, launcherPID) =
                try await cluster.row("""
                    SELECT job_execution_id, status, exit_code, exit_message, read_count, write_count, skip_count,
                           executions, instance_write_count, duration_seconds >= 0, launcher_pid
                    FROM batch_dashboard_jobs WHERE job_name = 'ledger-etl'
                    """, as: (Int64, String, String, String, Int64, Int64, Int64, Int64, Int64, Bool, Int32).self)
            #expect(status == "FAILED" && exitCode == "FAILED" && message.contains("p2"))
            #expect(read == output && written == output && skipped == 0)
            #expect(executions == 1 && instanceWritten == output && timed)

            // Steps: the manager holds its partitions' sums; each partition what it wrote.
            let steps = try await cluster.rows("""
                SELECT kind, coalesce(partition_name, ''), status, coalesce(partition_state, ''), write_count,
                       commit_count, rollback_count, read_per_second IS NOT NULL, coalesce(last_error, ''), straggler
                FROM batch_dashboard_steps WHERE job_execution_id = \(execution) ORDER BY step_name
                """, as: (String, String, String, String, Int64, Int64, Int64, Bool, String, Bool).self)
            #expect(steps.map(\.0) == ["manager", "partition", "partition", "partition", "partition"])
            #expect(steps.map(\.1) == ["", "p0", "p1", "p2", "p3"])
            let manager = try #require(steps.first)
            let partitions = steps.dropFirst()
            #expect(manager.2 == "FAILED" && manager.4 == output)
            #expect(partitions.map(\.4).reduce(0, +) == manager.4)
            #expect(partitions.map(\.5).reduce(0, +) == manager.5 && partitions.map(\.6).reduce(0, +) == manager.6)
            #expect(partitions.filter { $0.1 != "p2" }.map { [$0.2, $0.3, "\($0.4)"] } == Array(repeating: ["COMPLETED", "COMPLETED", "5000"], count: 3))
            let poisoned = try #require(partitions.first { $0.1 == "p2" })
            let p2Output = try await cluster.row("SELECT count(*) FROM bench_txn_out WHERE id BETWEEN 10001 AND 15000", as: Int64.self)
            #expect(poisoned.2 == "FAILED" && poisoned.3 == "FAILED" && poisoned.4 == p2Output && p2Output == 2_000)
            #expect(poisoned.8.contains("bench_txn id 12345"))
            #expect(steps.allSatisfy { $0.7 && !$0.9 })

            // Failures: the job, its manager step and the partition, each with its message.
            let failures = try await cluster.rows("""
                SELECT level, coalesce(step_name, ''), coalesce(partition_name, ''), exit_message, instance_latest_status
                FROM batch_dashboard_failures WHERE job_execution_id = \(execution) ORDER BY level
                """, as: (String, String, String, String, String).self)
            #expect(failures.map(\.0) == ["job", "partition", "step"])
            #expect(failures.map(\.1) == ["", "transform:p2", "transform"])
            #expect(failures.map(\.2) == ["", "p2", ""])
            #expect(failures.count == 3 && failures[1].3.contains("bench_txn id 12345: unknown currency \"XXX\""))
            #expect(failures.count == 3 && failures[2].3.contains("1 of 4 partitions failed: p2"))
            #expect(failures.allSatisfy { $0.4 == "FAILED" })

            // Workers: --local-workers ran in the launching process, and left when it ended.
            let worker = try await cluster.row("""
                SELECT pid, concurrency, steps, health, partitions_held, heartbeat_age_seconds >= 0 FROM batch_dashboard_workers
                """, as: (Int32, Int, String, String, Int64, Bool).self)
            #expect(worker.0 == launcherPID && worker.1 == 2 && worker.2 == "ledger-etl/transform")
            #expect(worker.3 == "stopped" && worker.4 == 0 && worker.5)
            #expect(try await Self.throughputTotals(cluster) == ["ledger-seed": 20_000, "ledger-etl": output])

            // Fixed and restarted: only p2 runs again, from its checkpoint.
            _ = try await cluster.query { db in try db.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = 12345") }
            let restarted = try await cluster.binary.run(["restart", "\(execution)", "--local-workers", "2"], environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardError)")
            let finalOutput = try await Self.outputRows(cluster)
            #expect(finalOutput == 20_000)

            let (second, secondStatus, secondWritten, secondExecutions, secondInstanceWritten, managerWritten) =
                try await cluster.row("""
                    SELECT j.job_execution_id, j.status, j.write_count, j.executions, j.instance_write_count, s.write_count
                    FROM batch_dashboard_jobs j
                    JOIN batch_step_execution s ON s.job_execution_id = j.job_execution_id AND s.step_name = 'transform'
                    WHERE j.job_name = 'ledger-etl'
                    """, as: (Int64, String, Int64, Int64, Int64, Int64).self)
            #expect(second > execution && secondStatus == "COMPLETED" && secondExecutions == 2)
            // The restart's manager step counts its reused partitions again (as `status` does);
            // what the instance wrote over both executions is exactly the output.
            #expect(secondWritten == managerWritten && secondInstanceWritten == finalOutput)

            let rerun = try await cluster.rows("""
                SELECT partition_name, status, write_count FROM batch_dashboard_steps
                WHERE job_execution_id = \(second) AND kind = 'partition'
                """, as: (String, String, Int64).self)
            #expect(rerun.map(\.0) == ["p2"] && rerun.map(\.1) == ["COMPLETED"] && rerun.map(\.2) == [Int64(5_000 - 2_000)])

            // The failures stay, marked as since resolved by the instance's latest execution.
            let resolved = try await cluster.rows("""
                SELECT DISTINCT instance_latest_execution_id, instance_latest_status FROM batch_dashboard_failures
                """, as: (Int64, String).self)
            #expect(resolved.map(\.0) == [second] && resolved.map(\.1) == ["COMPLETED"])
            let stragglers = try await cluster.row("SELECT count(*) FROM batch_dashboard_stragglers", as: Int64.self)
            #expect(stragglers == 0)
            #expect(try await Self.throughputTotals(cluster) == ["ledger-seed": 20_000, "ledger-etl": finalOutput])
        }
    }

    @Test func skippedItemsShowWithTheirStepPhaseKeyAndReason() async throws {
        let binary = try SwiftBatchBinary()
        let file = NSTemporaryDirectory() + "dashboard-skips-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let lines = [
            "id,account_id,amount_cents,currency,created_at,memo",
            "1,1,100,EUR,2026-01-01T00:00:00Z,first",
            "2,1,200,EUR,2026-01-01T00:00:00Z,second",
            "3,x,300,EUR,2026-01-01T00:00:00Z,bad account",
            "4,1,400,EUR",
            "2,1,200,EUR,2026-01-01T00:00:00Z,duplicate id",
            "5,1,500,EUR,2026-01-01T00:00:00Z,last",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        try await TestDatabase.withFreshDatabase { url in
            let repository = Cluster(binary: binary, url: url)
            #expect(try await binary.run(["migrate"], environment: repository.env).exitCode == 0)
            let imported = try await binary.run(["launch", "csv-import", "file=\(file)", "chunk=2"], environment: repository.env)
            #expect(imported.exitCode == 0, "\(imported.standardError)")

            let skipped = try await repository.rows("""
                SELECT job_name, step, phase, item_key, reason, created_at <= now() FROM batch_dashboard_skipped_items
                ORDER BY skipped_item_id
                """, as: (String, String, String, String, String, Bool).self)
            #expect(skipped.count == 3)
            #expect(skipped.allSatisfy { $0.0 == "csv-import" && $0.1 == "load" && $0.5 })
            #expect(skipped.map(\.2) == ["read", "read", "write"])
            #expect(skipped.map(\.3) == ["\(file) line 4", "\(file) line 5", "csv id 2"])
            #expect(skipped.count == 3 && skipped[0].4.contains("account_id \"x\" is not a whole number"))
            #expect(skipped.count == 3 && skipped[1].4.contains("has 4 fields, but the header names 6"))
            #expect(skipped.count == 3 && skipped[2].4.contains("23505"))

            let (status, read, written, skips, recorded, loaded, failures) = try await repository.row("""
                SELECT status, read_count, write_count, skip_count, (SELECT count(*) FROM batch_skipped_item),
                       (SELECT count(*) FROM csv_import), (SELECT count(*) FROM batch_dashboard_failures)
                FROM batch_dashboard_jobs WHERE job_name = 'csv-import'
                """, as: (String, Int64, Int64, Int64, Int64, Int64, Int64).self)
            #expect(status == "COMPLETED" && skips == recorded && written == loaded && loaded == 3 && read == 4)
            #expect(failures == 0)
        }
    }

    @Test func aPausedWorkersPartitionIsAStragglerAndWorkersAreClassifiedByHeartbeat() async throws {
        try await WorkerFaultTests.withCluster(rows: 24_000) { cluster in
            // Two workers, one partition at a time each, leases long enough that the paused
            // worker keeps its partition while the other runs all the rest.
            let run = try await cluster.startRun(workers: 2, leaseSeconds: 60)
            run.victim.send(SIGSTOP)
            let victimID = run.busy.owner
            let completed = try await cluster.waitFor("every partition but the paused worker's to complete") { db in
                let pending = try db.query("""
                    SELECT count(*) FROM batch_partition WHERE state <> 'COMPLETED' AND owner IS DISTINCT FROM \(victimID)
                    """).single().decode(Int64.self, column: 0)
                return pending == 0 ? try db.query("SELECT count(*) FROM batch_partition WHERE state = 'COMPLETED'")
                    .single().decode(Int64.self, column: 0) : nil
            }
            #expect(completed == 5)

            let stragglers = try await cluster.rows("""
                SELECT partition_id, owner, siblings_completed, sibling_partitions,
                       elapsed_seconds > 1.5 * sibling_median_seconds, lease_remaining_seconds > 0, reason
                FROM batch_dashboard_stragglers
                """, as: (Int64, String, Int64, Int64, Bool, Bool, String).self)
            let held = try await cluster.rows("""
                SELECT partition_id, partition_name FROM batch_partition WHERE state = 'CLAIMED' AND owner = \(victimID)
                """, as: (Int64, String).self)
            #expect(held.count == 1)
            #expect(stragglers.map(\.0) == held.map(\.0))
            let straggler = try #require(stragglers.first)
            #expect(straggler.1 == victimID && straggler.2 == 5 && straggler.3 == 6 && straggler.4 && straggler.5)
            #expect(straggler.6.contains("median of its completed siblings"))

            // The job meanwhile: running, its launcher heartbeating, its counts as committed.
            let (status, launcherPID, heartbeatAge, duration, writtenSoFar, committed) = try await cluster.row("""
                SELECT j.status, j.launcher_pid, j.launcher_heartbeat_age_seconds, j.duration_seconds, j.instance_write_count,
                       (SELECT sum(write_count)::bigint FROM batch_step_execution WHERE strpos(step_name, ':') > 0)
                FROM batch_dashboard_jobs j WHERE j.job_name = 'ledger-etl'
                """, as: (String, Int32, Decimal, Decimal, Int64, Int64).self)
            #expect(status == "STARTED" && launcherPID == run.launcher.pid && heartbeatAge < 30 && duration > 0)
            #expect(writtenSoFar == committed && writtenSoFar > 5 * 4_000 && writtenSoFar < 24_000)

            // Heartbeat ages no live test can wait for: the rows workers killed 45 s and 10
            // minutes ago would have left.
            _ = try await cluster.query { db in
                try db.execute("""
                    INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps, started_at, heartbeat_at)
                    VALUES ('gone-a-while:1:a', 'gone-a-while', 1, 4, '*', now() - interval '1 hour', now() - interval '45 seconds'),
                           ('gone-for-good:2:b', 'gone-for-good', 2, 4, '*', now() - interval '1 hour', now() - interval '10 minutes')
                    """)
            }
            let workers = try await cluster.rows("""
                SELECT worker_id, health, partitions_held, coalesce(held, '') FROM batch_dashboard_workers ORDER BY worker_id
                """, as: (String, String, Int64, String).self)
            let byID = Dictionary(uniqueKeysWithValues: workers.map { ($0.0, $0) })
            let victim = try #require(byID[victimID])
            #expect(workers.count == 4)
            #expect(victim.1 == "live" && victim.2 == 1 && victim.3 == "ledger-etl/transform:\(held.first?.1 ?? "?")")
            let other = try #require(workers.first { $0.0 != victimID && !$0.0.hasPrefix("gone-") })
            #expect(other.1 == "live" && other.2 == 0)
            #expect(byID["gone-a-while:1:a"]?.1 == "stale")
            #expect(byID["gone-for-good:2:b"]?.1 == "dead")

            run.victim.send(SIGCONT)
            #expect(try await run.launcher.wait() == 0, "\(run.launcher.output)")
            try await cluster.checkExactOutput(rows: 24_000)
            try await cluster.stop(run.workers)
            let (stopped, remaining, written) = try await cluster.row("""
                SELECT (SELECT count(*) FROM batch_dashboard_workers WHERE health = 'stopped' AND partitions_held = 0),
                       (SELECT count(*) FROM batch_dashboard_stragglers),
                       (SELECT round(sum(items_written))::bigint FROM batch_dashboard_throughput WHERE job_name = 'ledger-etl')
                """, as: (Int64, Int64, Int64).self)
            #expect(stopped == 2 && remaining == 0 && written == 24_000)
        }
    }
}
