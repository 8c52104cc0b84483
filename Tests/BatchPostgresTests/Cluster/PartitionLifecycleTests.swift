import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Partition lifecycle", .timeLimit(.minutes(2)))
struct PartitionLifecycleTests {
    /// Partitions are written a batch at a time as the partitioner makes them (the manager
    /// holds one batch, never the whole list), all in one transaction: no worker sees any of
    /// them before the last is written.
    @Test func partitionsAreWrittenInBatchesAsTheyAreMadeAndShownOnlyWhenAllAre() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "batch-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            let other = try PostgresConnection(connectionString: url)
            defer { other.close() }
            let countQuery: PostgresQuery = "SELECT count(*) FROM batch_partition"
            var writtenBefore: [Int64] = []
            var seenElsewhere: [Int64] = []
            let count = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "batch-test/work", maxAttempts: 2
            ) { each in
                for index in 0..<2_500 {
                    if index % 1_000 == 0 {
                        // In the manager's transaction: the full batches are already written.
                        writtenBefore.append(try db.query(countQuery).single().decode(Int64.self, column: 0))
                        seenElsewhere.append(try other.query(countQuery).single().decode(Int64.self, column: 0))
                    }
                    try each(Partition(name: "p\(index)", context: ["partition.index": .int(Int64(index))]))
                }
            }
            #expect(count == 2_500)
            #expect(writtenBefore == [0, 1_000, 2_000])
            #expect(seenElsewhere == [0, 0, 0])
            #expect(try other.query(countQuery).single().decode(Int64.self, column: 0) == 2_500)
            let names = try db.query("SELECT count(DISTINCT partition_name), min(partition_id) FILTER (WHERE partition_name = 'p2499') > min(partition_id) FILTER (WHERE partition_name = 'p0') FROM batch_partition")
                .single().decode((Int64, Bool).self)
            #expect(names.0 == 2_500 && names.1)
        }
    }

    @Test func aPartitionWhoseLeaseExpiresOnItsLastAttemptFailsSayingWhy() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "lease-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            let count = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "lease-test/work", maxAttempts: 2
            ) { [Partition(name: "p0", context: [:])] }
            #expect(count == 1)

            // Two workers in turn claim it and die (their leases are made to expire at once).
            for (attempt, worker) in ["w1", "w2"].enumerated() {
                let claimed = try session.claimPartitions(workerID: worker, steps: ["lease-test/work"], limit: 5, leaseSeconds: 30)
                #expect(claimed.map(\.attempt) == [attempt + 1])
                #expect(try session.claimPartitions(workerID: "other", steps: ["lease-test/work"], limit: 5, leaseSeconds: 30).isEmpty)
                try db.execute("UPDATE batch_partition SET lease_expires_at = now() - interval '1 second'")
            }
            // No attempt left: nobody may claim it, and the sweep fails it with the reason.
            #expect(try session.claimPartitions(workerID: "w3", steps: ["lease-test/work"], limit: 5, leaseSeconds: 30).isEmpty)
            try session.sweepExpiredPartitions()
            let (state, error) = try db.query("SELECT state, last_error FROM batch_partition").single().decode((String, String?).self)
            #expect(state == "FAILED")
            #expect(error == "its worker (w2) stopped renewing the lease on attempt 2 of 2")
            let progress = try session.awaitPartitions(
                manager: manager, workerStep: "lease-test/work", expected: 1, timeout: .seconds(10), reportEvery: .seconds(5),
                logger: Logger(label: "test")
            ) { _ in }
            #expect(progress.failed == 1 && progress.failedNames == ["p0"])
            let step = try #require(try session.stepExecutions(jobExecutionID: execution.id).first { $0.stepName == "work:p0" })
            #expect(step.status == .failed)
            #expect(step.exitStatus.exitDescription.contains("stopped renewing the lease"))
        }
    }

    /// A failover to an asynchronous standby that never received the partitions: the manager,
    /// which had counted them before, reconnects to a repository where none is open. It must
    /// count the rows that exist and say they are gone (its step prepares them again), never
    /// derive "completed" from the count taken before (which ended the step COMPLETED with zero
    /// counts).
    @Test func partitionsGoneAfterAReconnectAreLostNotCompleted() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "failover-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            let count = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "failover-test/work", maxAttempts: 3
            ) { [Partition(name: "p0", context: [:]), Partition(name: "p1", context: [:])] }
            #expect(count == 2)

            // Once the manager has counted its partitions and reported, they vanish (as on a
            // standby that lacks them) and its connection drops (as at a failover).
            let counted = Gate()
            let other = try PostgresConnection(connectionString: url)
            defer { other.close() }
            let managerPID = db.backendPID
            let failover = Thread {
                guard counted.wait(timeout: 30) else { return }
                _ = try? other.execute("DELETE FROM batch_partition")
                _ = try? other.execute("SELECT pg_terminate_backend(\(managerPID))")
            }
            failover.start()
            var reports: [PartitionProgress] = []
            #expect {
                _ = try session.awaitPartitions(
                    manager: manager, workerStep: "failover-test/work", expected: count, timeout: .seconds(30),
                    reportEvery: .seconds(5), logger: Logger(label: "test")
                ) { progress in
                    reports.append(progress)
                    counted.open()
                }
            } throws: { error in
                guard let lost = error as? PartitionsLost else { return false }
                return lost.expected == 2 && lost.found == 0 && lost.step == "work"
            }
            #expect(reports.first?.total == 2)
            #expect(reports.allSatisfy { !$0.isFinished })
        }
    }

    @Test func theHeartbeatRenewsOnlyTheClaimsInHand() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "heartbeat-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            _ = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "heartbeat-test/work", maxAttempts: 3
            ) { [Partition(name: "p0", context: [:]), Partition(name: "p1", context: [:])] }
            let claimed = try session.claimPartitions(workerID: "w1", steps: ["heartbeat-test/work"], limit: 2, leaseSeconds: 30)
            #expect(claimed.count == 2)
            try db.execute("UPDATE batch_partition SET lease_expires_at = now() - interval '1 second'")

            // The worker still runs p0 but dropped p1 (say its slot gave up): only p0 is renewed,
            // and a stale attempt number renews nothing.
            let inHand = claimed.first { $0.partitionName == "p0" }!
            let fence = PartitionFence(partitionID: inHand.partitionID, owner: "w1", attempt: inHand.attempt, leaseSeconds: 30)
            var stale = fence
            stale.attempt += 1
            #expect(try session.heartbeat(workerID: "w1", leaseSeconds: 30, held: [stale]) == HeartbeatResult(lost: [stale.partitionID]))
            #expect(try session.heartbeat(workerID: "w1", leaseSeconds: 30, held: [fence]) == HeartbeatResult(renewed: [fence.partitionID]))
            #expect(try session.heartbeat(workerID: "w1", leaseSeconds: 30, held: []) == HeartbeatResult())

            // A slot of the worker mid-commit holds p0's row: the heartbeat skips it (it does not
            // wait, and does not call it lost), and the slot's commit renews it.
            let slot = try PostgresConnection(connectionString: url)
            defer { slot.close() }
            try slot.execute("BEGIN")
            try slot.execute("SELECT 1 FROM batch_partition WHERE partition_id = \(fence.partitionID) FOR UPDATE")
            #expect(try session.heartbeat(workerID: "w1", leaseSeconds: 30, held: [fence]) == HeartbeatResult(busy: [fence.partitionID]))
            try slot.execute("ROLLBACK")

            let taken = try session.claimPartitions(workerID: "w2", steps: ["heartbeat-test/work"], limit: 2, leaseSeconds: 30)
            #expect(taken.map(\.partitionName) == ["p1"])
            #expect(taken.map(\.attempt) == [2])
        }
    }

    @Test func aFinishWritesNothingWhenTheLeaseOrTheVersionIsStale() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "finish-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            _ = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "finish-test/work", maxAttempts: 3
            ) { [Partition(name: "p0", context: [:])] }
            let claimed = try #require(
                try session.claimPartitions(workerID: "w1", steps: ["finish-test/work"], limit: 1, leaseSeconds: 30).first)
            #expect(claimed.jobStatus == .starting)
            let fence = PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
            var step = try #require(try session.stepExecution(id: claimed.stepExecutionID))
            step.status = .completed
            step.counts.read = 7
            func state() throws -> (String, Int64) {
                try db.query("""
                    SELECT p.state, s.read_count FROM batch_partition p JOIN batch_step_execution s USING (step_execution_id)
                    """).single().decode((String, Int64).self)
            }

            // Another process wrote the step execution: the finish fails and writes nothing.
            try db.execute("UPDATE batch_step_execution SET version = version + 1 WHERE step_execution_id = \(step.id)")
            var stale = step
            #expect(throws: JobRepositoryError.self) {
                try session.finishPartition(claimed, execution: &stale, outcome: .completed, fence: fence)
            }
            #expect(try state() == ("CLAIMED", 0))

            // Another worker holds the claim now: the finish is fenced out, nothing written.
            step.version += 1
            var other = fence
            other.owner = "w2"
            #expect(throws: PartitionLeaseLost.self) {
                try session.finishPartition(claimed, execution: &step, outcome: .completed, fence: other)
            }
            #expect(try state() == ("CLAIMED", 0))

            try session.finishPartition(claimed, execution: &step, outcome: .completed, fence: fence)
            #expect(try state() == ("COMPLETED", 7))
        }
    }

    @Test func workersWakeTheManagerOnlyForItsLastFewPartitionsAndForFailures() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let listener = try PostgresConnection(connectionString: url)
            defer { listener.close() }
            try listener.listen(ClusterChannels.partitionDone)
            func notices() throws -> Int {
                var count = 0
                // A NOTIFY is delivered once its transaction commits, before the finish returns.
                while try listener.nextNotification(timeout: .milliseconds(count == 0 ? 200 : 50)) != nil { count += 1 }
                return count
            }
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "notify-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            _ = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "notify-test/work", maxAttempts: 3
            ) { (0..<30).map { Partition(name: "p\($0)", context: [:]) } }
            #expect(try notices() == 0)

            var woken: [Int] = []
            for index in 0..<30 {
                let claimed = try #require(
                    try session.claimPartitions(workerID: "w1", steps: ["notify-test/work"], limit: 1, leaseSeconds: 30).first)
                let fence = PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
                var step = try #require(try session.stepExecution(id: claimed.stepExecutionID))
                // The sixth fails: a failure wakes the manager whatever is left.
                let outcome: PartitionOutcome = index == 5 ? .failed("boom") : .completed
                step.status = index == 5 ? .failed : .completed
                try session.finishPartition(claimed, execution: &step, outcome: outcome, fence: fence)
                if try notices() > 0 { woken.append(index) }
            }
            // Of 30, the failure and the last 10 (fewer than 10 waiting after each when it ended).
            #expect(woken == [5] + Array(20..<30))
        }
    }

    @Test func theStatementThatEndsAPartitionClaimsTheNextOnlyWhenItSucceeds() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "next-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            _ = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "next-test/work", maxAttempts: 3
            ) { (0..<3).map { Partition(name: "p\($0)", context: ["i": .int(Int64($0))]) } }
            func states() throws -> [String] {
                try db.query("SELECT state || ':' || coalesce(owner, '-') FROM batch_partition ORDER BY partition_name")
                    .map { try $0.decode(String.self, column: 0) }
            }
            let request = ClaimRequest(workerID: "w1", steps: ["next-test/work"], leaseSeconds: 30)
            var claimed = try #require(try session.claimPartitions(workerID: "w1", steps: request.steps, limit: 1, leaseSeconds: 30).first)
            #expect(claimed.partitionName == "p0")

            // A stale lease: the end is refused, and nothing is claimed with it.
            var step = claimed.execution
            step.status = .completed
            var other = PartitionFence(partitionID: claimed.partitionID, owner: "w2", attempt: claimed.attempt, leaseSeconds: 30)
            #expect(throws: PartitionLeaseLost.self) {
                try session.finishPartition(claimed, execution: &step, outcome: .completed, fence: other, claimNext: request)
            }
            #expect(try states() == ["CLAIMED:w1", "READY:-", "READY:-"])

            // The end claims the next, with its step execution and checkpoint, under the same lease rules.
            var fence = PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
            let next = try #require(try session.finishPartition(claimed, execution: &step, outcome: .completed, fence: fence, claimNext: request))
            #expect(next.partitionName == "p1" && next.attempt == 1 && next.jobStatus == .starting)
            #expect(next.execution.context["i"] == .int(1))
            #expect(try states() == ["COMPLETED:w1", "CLAIMED:w1", "READY:-"])

            // A failure claims the next too; handing back (shutdown) claims nothing.
            claimed = next
            step = claimed.execution
            step.status = .failed
            fence = PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
            claimed = try #require(try session.finishPartition(claimed, execution: &step, outcome: .failed("boom"), fence: fence, claimNext: request))
            #expect(claimed.partitionName == "p2")
            step = claimed.execution
            other = PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
            #expect(try session.finishPartition(claimed, execution: &step, outcome: .handedBack, fence: other, claimNext: request) == nil)
            #expect(try states() == ["COMPLETED:w1", "FAILED:w1", "READY:-"])
        }
    }

    @Test func theEndOfAPartitionClaimsOnlyTheOnesAfterItAndTheSlotTakesThoseLeftBehind() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let execution = try session.createJobExecution(
                jobName: "order-test", parameters: ["k": .string("v")], restartable: true, launcher: .current()
            ).get().execution
            let manager = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
            _ = try session.preparePartitions(
                manager: manager, jobExecution: execution, workerStep: "order-test/work", maxAttempts: 3
            ) { (0..<4).map { Partition(name: "p\($0)", context: [:]) } }
            let steps = ["order-test/work"]
            func fence(_ claimed: ClaimedPartition) -> PartitionFence {
                PartitionFence(partitionID: claimed.partitionID, owner: "w1", attempt: claimed.attempt, leaseSeconds: 30)
            }
            let first = try session.claimPartitions(workerID: "w1", steps: steps, limit: 2, leaseSeconds: 30)
            #expect(first.map(\.partitionName) == ["p0", "p1"])
            // p0 goes back to the queue, behind the partitions being claimed.
            var step = first[0].execution
            try session.finishPartition(first[0], execution: &step, outcome: .handedBack, fence: fence(first[0]))

            let request = ClaimRequest(workerID: "w1", steps: steps, leaseSeconds: 30)
            var ending = first[1]
            var order: [String] = []
            while true {
                step = ending.execution
                step.status = .completed
                guard let next = try session.finishPartition(ending, execution: &step, outcome: .completed, fence: fence(ending), claimNext: request)
                else { break }
                order.append(next.partitionName)
                ending = next
            }
            // Those after it, in order; then nothing: p0, left behind, goes to the slot's own
            // claim after the commit (as any claim, expired claims first).
            #expect(order == ["p2", "p3"])
            let behind = try session.claimPartitions(workerID: "w1", steps: steps, limit: 2, leaseSeconds: 30)
            #expect(behind.map(\.partitionName) == ["p0"])
            let states = try db.query("SELECT count(*) FROM batch_partition WHERE state = 'COMPLETED'").single().decode(Int64.self, column: 0)
            #expect(states == 3)
        }
    }

    @Test func aPartitionedStepPastItsTimeoutFailsSayingHowFarItGotAndRestarts() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                try SchemaMigrations.migrate(on: db)
            }
            let job = Job("timeout-test") {
                PartitionStep(
                    "work", gridSize: 3, timeout: .seconds(2), partitioner: CountPartitioner(),
                    workerStep: TaskletStep("work") { _, _ in .finished })
            }
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))
            // No worker serves the step: the manager gives up after its timeout.
            let failed = try await launcher.run(job, parameters: ["k": .string("v")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("step work timed out with 0 of 3 partitions finished"),
                "\(failed.exitStatus.exitDescription)")
            // What nobody claimed is failed with the job, so no worker runs it under a failed execution.
            let leftover = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("""
                    SELECT count(*) FROM batch_partition p JOIN batch_step_execution s USING (step_execution_id)
                    WHERE p.state = 'FAILED' AND s.status = 'FAILED' AND p.last_error = 'not run: step work timed out first'
                    """).single().decode(Int64.self, column: 0)
            }
            #expect(leftover == 3)

            // A worker comes; the restart reuses the three partitions and completes. The restart
            // has time enough for a worker starting on a loaded machine (the timeout is the
            // job definition's, not the instance's).
            let patient = Job("timeout-test") {
                PartitionStep(
                    "work", gridSize: 3, timeout: .seconds(60), partitioner: CountPartitioner(),
                    workerStep: TaskletStep("work") { _, _ in .finished })
            }
            let worker = try PartitionWorker(
                jobs: [patient], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let restarted = try await launcher.run(patient, parameters: ["k": .string("v")])
            worker.shutdown()
            try await running.value
            #expect(restarted.status == .completed)
            let partitions = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("SELECT count(*), count(*) FILTER (WHERE state = 'COMPLETED') FROM batch_partition")
                    .single().decode((Int64, Int64).self)
            }
            #expect(partitions == (3, 3))
        }
    }

    /// Chunk commits, a worker's and the launcher's, skip the WAL flush unless configured not to.
    @Test(arguments: [false, true])
    func chunkCommitsAreAsynchronousUnlessAskedOtherwise(synchronousCommit: Bool) async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                try SchemaMigrations.migrate(on: db)
                _ = try db.execute("CREATE TABLE seen (step text, setting text)")
            }
            // Each step records the setting its own chunk transaction runs under.
            let record = TaskletStep("record") { contribution, chunk in
                let transaction = try #require(chunk.transaction as? PostgresStepTransaction)
                _ = try transaction.connection.execute(
                    "INSERT INTO seen VALUES (\(chunk.stepName), current_setting('synchronous_commit'))")
                return .finished
            }
            let job = Job("commit-mode-test") {
                record
                PartitionStep("work", gridSize: 2, partitioner: CountPartitioner(), workerStep: record)
            }
            let worker = try PartitionWorker(
                jobs: [job],
                configuration: WorkerConfiguration(
                    connectionString: url, concurrency: 2, lease: .seconds(5), synchronousCommit: synchronousCommit),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url, synchronousCommit: synchronousCommit))
            let execution = try await launcher.run(job, parameters: ["k": .string("v")])
            worker.shutdown()
            try await running.value
            #expect(execution.status == .completed)
            let seen = try await onDedicatedThread {
                let db = try PostgresConnection(connectionString: url)
                defer { db.close() }
                return try db.query("SELECT step || '=' || setting FROM seen ORDER BY step").map { try $0.decode(String.self, column: 0) }
            }
            let setting = synchronousCommit ? "on" : "off"
            #expect(seen == ["record=\(setting)", "work:p0=\(setting)", "work:p1=\(setting)"])
        }
    }

    @Test func aLauncherWithoutWorkersSaysHowToStartOneAndGoesOnWhenOneComes() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let launcher = try binary.start(["launch", "noop-partitions", "partitions=5"], environment: env)
            try await waitFor("the launcher's warning that no live worker serves the step", timeout: .seconds(60)) {
                launcher.output.contains("no live worker serves this step")
            }
            #expect(launcher.output.contains("start one with `swiftbatch worker`"))
            let worker = try binary.start(["worker"], environment: env)
            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            #expect(launcher.output.contains("partitions: 5 in this execution, 5 completed"))
            worker.send(SIGTERM)
            #expect(try await worker.wait() == 0)
        }
    }
}
