import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The cluster under real faults: separate `swiftbatch worker` processes, real signals.
/// Every test ends with the job COMPLETED and `bench_txn_out` exactly the reference.
@Suite("Workers under SIGKILL, SIGSTOP and SIGTERM", .serialized, .timeLimit(.minutes(3)))
struct WorkerFaultTests {
    struct Cluster {
        let binary: SwiftBatchBinary
        let url: String
        var env: [String: String?] { ["DATABASE_URL": url, "SWIFTBATCH_LOG_LEVEL": "info"] }

        func query<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
            let url = self.url
            return try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try body(db)
            }
        }

        /// Polls the repository until `condition` holds (event-driven: it waits on the
        /// cluster's own state, not on time).
        func waitFor<T: Sendable>(
            _ what: String, timeout: Duration = .seconds(60),
            _ condition: @escaping @Sendable (PostgresConnection) throws -> T?
        ) async throws -> T {
            try await BatchTestSupport.waitFor(what, timeout: timeout) { try await query(condition) }
        }

        /// A partition some worker holds and has already committed chunks of.
        func busyPartition() async throws -> (partitionID: Int64, owner: String, attempt: Int) {
            try await waitFor("a partition in progress") { db in
                try db.query("""
                    SELECT p.partition_id, p.owner, p.attempt FROM batch_partition p
                    JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                    WHERE p.state = 'CLAIMED' AND s.commit_count >= 2 ORDER BY p.partition_id LIMIT 1
                    """).first.map { try $0.decode((Int64, String, Int).self) }
            }
        }

        /// Workers, a launch of ledger-etl over them, and the worker holding a partition in progress.
        struct Run {
            var workers: [RunningProcess]
            var launcher: RunningProcess
            var busy: (partitionID: Int64, owner: String, attempt: Int)
            var victim: RunningProcess
            var others: [RunningProcess] { workers.filter { $0 !== victim } }
        }

        static let launch = ["launch", "ledger-etl", "grid=6", "chunk=100"]

        func startRun(workers count: Int, leaseSeconds: Int, launcherOptions: [String] = []) async throws -> Run {
            let workers = try (0..<count).map { _ in
                try binary.start(["worker", "--concurrency", "1", "--lease-seconds", "\(leaseSeconds)"], environment: env)
            }
            let launcher = try binary.start(Self.launch + launcherOptions, environment: env)
            let busy = try await busyPartition()
            let victim = try #require(workers.first { $0.pid == WorkerFaultTests.pid(of: busy.owner) })
            return Run(workers: workers, launcher: launcher, busy: busy, victim: victim)
        }

        /// A partition's state, attempt and owner now.
        func partition(_ id: Int64) async throws -> (state: String, attempt: Int, owner: String) {
            try await query { db in
                try db.query("SELECT state, attempt, owner FROM batch_partition WHERE partition_id = \(id)")
                    .single().decode((String, Int, String).self)
            }
        }

        /// SIGTERM, and every one must exit 0.
        func stop(_ workers: [RunningProcess]) async throws {
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(try await worker.wait() == 0) }
        }

        func checkExactOutput(rows: Int64) async throws {
            let (output, expected, distinct) = try await query { db in
                let output = try db.query(
                    "SELECT count(*), sum(amount_eur_cents), sum(fee_cents), count(*) FILTER (WHERE flagged) FROM bench_txn_out"
                ).single().decode((Int64, Int64, Int64, Int64).self)
                let expected = try db.query(PostgresQuery(unsafeSQL: LedgerJobCommandTests.reference)).single()
                    .decode((Int64, Int64, Int64, Int64).self)
                let distinct = try db.query("SELECT count(DISTINCT id) FROM bench_txn_out").single().decode(Int64.self, column: 0)
                return (output, expected, distinct)
            }
            #expect(output == expected)
            #expect(output.0 == rows && distinct == rows)
        }
    }

    static func withCluster(rows: Int, _ body: (Cluster) async throws -> Void) async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let cluster = Cluster(binary: binary, url: url)
            #expect(try await binary.run(["migrate"], environment: cluster.env).exitCode == 0)
            let seeded = try await binary.run(["launch", "ledger-seed", "rows=\(rows)"], environment: cluster.env)
            #expect(seeded.exitCode == 0)
            try await body(cluster)
        }
    }

    static func pid(of owner: String) -> Int32? {
        let parts = owner.split(separator: ":")
        return parts.count >= 3 ? Int32(parts[parts.count - 2]) : nil
    }

    @Test func aWorkerKilledMidPartitionChangesNothingButTheTime() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let run = try await cluster.startRun(workers: 3, leaseSeconds: 2)
            run.victim.send(SIGKILL)
            #expect(try await run.victim.wait() == 128 + SIGKILL)

            #expect(try await run.launcher.wait() == 0, "\(run.launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            // The killed worker's partition was taken over and finished by another worker.
            let (state, attempt, owner) = try await cluster.partition(run.busy.partitionID)
            #expect(state == "COMPLETED" && attempt == run.busy.attempt + 1 && owner != run.busy.owner)
            try await cluster.stop(run.others)
        }
    }

    @Test func aWorkerPausedPastItsLeaseIsFencedWhenItWakes() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let run = try await cluster.startRun(workers: 3, leaseSeconds: 2)
            let busy = run.busy
            run.victim.send(SIGSTOP)
            // Another worker takes the partition over once the lease has expired.
            let takenBy = try await cluster.waitFor("the partition to be taken over") { db in
                try db.query("SELECT owner FROM batch_partition WHERE partition_id = \(busy.partitionID) AND attempt > \(busy.attempt)")
                    .first?.decode(String?.self, column: 0) ?? nil
            }
            #expect(takenBy != busy.owner)
            run.victim.send(SIGCONT)

            #expect(try await run.launcher.wait() == 0, "\(run.launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            try await cluster.stop(run.workers)
            // The paused worker wrote nothing more (the output is exact) and knows why: paused
            // between transactions, its first commit after waking finds the lease gone; paused
            // inside one, the server ended its session (idle_in_transaction_session_timeout);
            // paused inside a call, its lease watchdog or its heartbeat woke with it, found the
            // claim lost and stopped the slot, which then dropped the partition.
            let fencedByLease = run.victim.output.contains("lost the lease of partition \(busy.partitionID)")
            let fencedBySession = run.victim.output.contains("partition abandoned")
                && run.victim.output.contains("connection lost")
            let fencedByWatchdog = run.victim.output.contains("partition dropped")
                && (run.victim.output.contains("claim was not renewed for a lease")
                    || run.victim.output.contains("lost a partition's claim"))
            #expect(fencedByLease || fencedBySession || fencedByWatchdog, "\(run.victim.output)")
        }
    }

    @Test func aLaunchAfterTheLauncherWasKilledAttachesAndNoPartitionRunsTwice() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let run = try await cluster.startRun(workers: 2, leaseSeconds: 5, launcherOptions: ["--lease-seconds", "2"])
            run.launcher.send(SIGKILL)
            #expect(try await run.launcher.wait() == 128 + SIGKILL)
            // The workers carry on; once the dead launcher's lease has run out a new launch
            // takes the execution over.
            let executionID = try await cluster.waitFor("the dead launcher's lease to run out") { db in
                try db.query("SELECT job_execution_id FROM batch_job_launcher WHERE lease_expires_at < now()")
                    .first?.decode(Int64.self, column: 0)
            }
            let relaunch = try cluster.binary.start(Cluster.launch, environment: cluster.env)
            #expect(try await relaunch.wait() == 0, "\(relaunch.output)")
            #expect(relaunch.output.contains("attached to the running execution"), "\(relaunch.output)")
            try await cluster.checkExactOutput(rows: 120_000)

            let (executions, status, managers, partitions, reruns, attachments) = try await cluster.query { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM batch_job_execution e JOIN batch_job_instance i USING (job_instance_id)
                            WHERE i.job_name = 'ledger-etl'),
                           (SELECT status FROM batch_job_execution WHERE job_execution_id = \(executionID)),
                           (SELECT count(*) FROM batch_step_execution WHERE job_execution_id = \(executionID)
                            AND step_name = 'transform'),
                           (SELECT count(*) FROM batch_partition WHERE job_execution_id = \(executionID) AND state = 'COMPLETED'),
                           (SELECT count(*) FROM batch_partition WHERE attempt <> 1),
                           (SELECT attachments FROM batch_job_launcher WHERE job_execution_id = \(executionID))
                    """).single().decode((Int64, String, Int64, Int64, Int64, Int32).self)
            }
            // One execution, one manager step, the same six partitions, each run exactly once.
            #expect(executions == 1 && status == "COMPLETED" && managers == 1)
            #expect(partitions == 6 && reruns == 0 && attachments == 1)
            try await cluster.stop(run.workers)
        }
    }

    @Test func aTerminatedWorkerHandsItsPartitionBackAndExitsZero() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let run = try await cluster.startRun(workers: 2, leaseSeconds: 5)
            run.victim.send(SIGTERM)
            #expect(try await run.victim.wait() == 0, "\(run.victim.output)")
            #expect(run.victim.output.contains("worker stopped"))

            #expect(try await run.launcher.wait() == 0, "\(run.launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            // Handed back, not failed: the attempt was not spent, and the other worker finished it.
            let (state, attempt, owner) = try await cluster.partition(run.busy.partitionID)
            #expect(state == "COMPLETED" && attempt == run.busy.attempt && owner != run.busy.owner)
            try await cluster.stop(run.others)
        }
    }
}
