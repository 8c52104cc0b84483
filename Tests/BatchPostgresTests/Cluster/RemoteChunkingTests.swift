import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Remote chunking (`ledger-etl-remote`) under real faults: the launcher reads and sends the
/// chunks, separate `swiftbatch worker` processes write them, real signals kill or pause them.
/// Every test checks `bench_txn_out` against the reference, no id twice, and the step's counts
/// against the input.
@Suite("Remote chunking through PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct RemoteChunkingTests {
    typealias Cluster = WorkerFaultTests.Cluster

    static let rows = 30_000
    /// 500 rows a chunk: ids 10001...10500 are chunk 20.
    static let launch = ["launch", "ledger-etl-remote", "chunk=500", "in-flight=4"]
    static let stalledID = 10_250
    static let stalledChunk = 20

    static func workers(_ count: Int, _ cluster: Cluster, leaseSeconds: Int = 30) throws -> [RunningProcess] {
        try (0..<count).map { _ in
            try cluster.binary.start(
                ["worker", "--concurrency", "1", "--lease-seconds", "\(leaseSeconds)", "--steps", "ledger-etl-remote"],
                environment: cluster.env)
        }
    }

    /// The transform step's last execution: status, read and write counts, exit message.
    static func transform(_ cluster: Cluster) async throws -> (status: String, read: Int64, write: Int64, message: String) {
        try await cluster.row("""
            SELECT status, read_count, write_count, exit_message FROM batch_step_execution
            WHERE step_name = 'transform' ORDER BY step_execution_id DESC LIMIT 1
            """, as: (String, Int64, Int64, String).self)
    }

    /// The chunks by state, and how many items they hold in all.
    static func chunks(_ cluster: Cluster) async throws -> (total: Int64, done: Int64, items: Int64, seqs: Int64) {
        try await cluster.row("""
            SELECT count(*), count(*) FILTER (WHERE state = 'DONE'), coalesce(sum(item_count), 0)::bigint,
                   count(DISTINCT seq)
            FROM batch_remote_chunk
            """, as: (Int64, Int64, Int64, Int64).self)
    }

    /// Waits until the stalled chunk's first attempt is held, and returns its holder.
    static func stalledHolder(_ cluster: Cluster, _ workers: [RunningProcess]) async throws -> RunningProcess {
        let owner = try await cluster.waitFor("a worker to hold the stalled chunk") { db in
            try db.query("""
                SELECT owner FROM batch_remote_chunk WHERE seq = \(Self.stalledChunk) AND state = 'CLAIMED' AND attempt = 1
                """).first?.decode(String.self, column: 0)
        }
        return try #require(workers.first { $0.pid == WorkerFaultTests.pid(of: owner) })
    }

    static func checkExact(_ cluster: Cluster) async throws {
        try await cluster.checkExactOutput(rows: Int64(rows))
        let step = try await transform(cluster)
        #expect(step.status == "COMPLETED" && step.read == Int64(rows) && step.write == Int64(rows), "\(step)")
        let chunks = try await chunks(cluster)
        #expect(chunks.total == Int64(rows / 500) && chunks.done == chunks.total && chunks.seqs == chunks.total)
        #expect(chunks.items == Int64(rows))
    }

    @Test(arguments: [1, 2])
    func theOutputAndCountsAreExact(workers count: Int) async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(count, cluster)
            let launcher = try await cluster.binary.run(Self.launch, environment: cluster.env)
            #expect(launcher.exitCode == 0, "\(launcher.standardOutput)\(launcher.standardError)")
            #expect(launcher.standardOutput.contains("step transform: COMPLETED"))
            #expect(launcher.standardOutput.contains("read \(Self.rows), written \(Self.rows)"))
            try await Self.checkExact(cluster)
            // Every chunk written on its first claim, and its items cleared once written.
            let (reclaimed, kept, owners) = try await cluster.row("""
                SELECT count(*) FILTER (WHERE attempt <> 1), count(items), count(DISTINCT owner) FROM batch_remote_chunk
                """, as: (Int64, Int64, Int64).self)
            #expect(reclaimed == 0 && kept == 0 && owners <= Int64(count))
            try await cluster.stop(workers)
        }
    }

    @Test func aLaunchWithLocalWorkersNeedsNoDaemon() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let launched = try await cluster.binary.run(Self.launch + ["--local-workers", "2"], environment: cluster.env)
            #expect(launched.exitCode == 0, "\(launched.standardOutput)\(launched.standardError)")
            try await Self.checkExact(cluster)
        }
    }

    @Test func aWorkerKilledMidChunkHasItsChunkSentAgainAndWrittenOnce() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster, leaseSeconds: 2)
            let launcher = try cluster.binary.start(
                Self.launch + ["stall-id=\(Self.stalledID)", "stall-seconds=600"], environment: cluster.env)
            let victim = try await Self.stalledHolder(cluster, workers)
            victim.send(SIGKILL)
            #expect(try await victim.wait() == 128 + SIGKILL)

            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            try await Self.checkExact(cluster)
            // Claimed again once the dead worker's lease ran out, by the other worker.
            let (state, attempt, owner) = try await cluster.row("""
                SELECT state, attempt, owner FROM batch_remote_chunk WHERE seq = \(Self.stalledChunk)
                """, as: (String, Int, String).self)
            #expect(state == "DONE" && attempt == 2 && WorkerFaultTests.pid(of: owner) != victim.pid)
            try await cluster.stop(workers.filter { $0 !== victim })
        }
    }

    @Test func aWorkerPausedPastItsLeaseCommitsNothingWhenItWakes() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster, leaseSeconds: 2)
            let launcher = try cluster.binary.start(
                Self.launch + ["stall-id=\(Self.stalledID)", "stall-seconds=5"], environment: cluster.env)
            let victim = try await Self.stalledHolder(cluster, workers)
            victim.send(SIGSTOP)
            // The other worker takes the chunk over once the lease ran out, and writes it.
            _ = try await cluster.waitFor("the stalled chunk to be written by another worker") { db in
                try db.query("""
                    SELECT 1 FROM batch_remote_chunk WHERE seq = \(Self.stalledChunk) AND state = 'DONE' AND attempt = 2
                    """).first.map { _ in true }
            }
            victim.send(SIGCONT)
            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            // Awake, the paused worker finishes its stalled processing and tries to commit: the
            // claim is no longer its own, so nothing is written.
            _ = try await cluster.waitFor("the paused worker to find its lease lost") { _ in
                victim.output.contains("lost the lease of remote chunk \(Self.stalledChunk)") ? true : nil
            }
            try await Self.checkExact(cluster)
            #expect(victim.isRunning)
            try await cluster.stop(workers)
        }
    }

    @Test func aManagerKilledMidStepIsRestartedAndTheCountsAreExact() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster, leaseSeconds: 5)
            let launcher = try cluster.binary.start(Self.launch + ["--lease-seconds", "2"], environment: cluster.env)
            // Mid-step: some chunks written, the input not all sent (at most in-flight ahead).
            _ = try await cluster.waitFor("some chunks written") { db in
                try db.query("SELECT 1 FROM batch_remote_chunk HAVING count(*) FILTER (WHERE state = 'DONE') >= 10")
                    .first.map { _ in true }
            }
            launcher.send(SIGKILL)
            #expect(try await launcher.wait() == 128 + SIGKILL)
            let sentBefore = try await Self.chunks(cluster).total
            #expect(sentBefore < Int64(Self.rows / 500))
            _ = try await cluster.waitFor("the dead launcher's lease to run out") { db in
                try db.query("SELECT job_execution_id FROM batch_job_launcher WHERE lease_expires_at < now()")
                    .first?.decode(Int64.self, column: 0)
            }
            let relaunch = try await cluster.binary.run(Self.launch, environment: cluster.env)
            #expect(relaunch.exitCode == 0, "\(relaunch.standardOutput)\(relaunch.standardError)")
            // The restart adopted the chunks already sent and read on after the last of them:
            // each chunk once, each row once, and the step's counts the whole input.
            try await Self.checkExact(cluster)
            let (executions, failed, steps) = try await cluster.row("""
                SELECT count(*), count(*) FILTER (WHERE status = 'FAILED'),
                       (SELECT count(*) FROM batch_step_execution WHERE step_name = 'transform')
                FROM batch_job_execution
                WHERE job_instance_id = (SELECT job_instance_id FROM batch_job_instance WHERE job_name = 'ledger-etl-remote')
                """, as: (Int64, Int64, Int64).self)
            #expect(executions == 2 && failed == 1 && steps == 2)
            try await cluster.stop(workers)
        }
    }

    @Test func aStoppedStepEndsItsChunksInFlightAndARestartFinishesItExactly() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster)
            let launcher = try cluster.binary.start(
                Self.launch + ["stall-id=\(Self.stalledID)", "stall-seconds=2"], environment: cluster.env)
            _ = try await Self.stalledHolder(cluster, workers)
            let executionID = try await cluster.row(
                "SELECT max(job_execution_id) FROM batch_job_execution", as: Int64.self)
            let stop = try await cluster.binary.run(["stop", "\(executionID)"], environment: cluster.env)
            #expect(stop.exitCode == 0, "\(stop.standardError)")
            #expect(try await launcher.wait() == 3, "\(launcher.output)")
            // The manager sent no more, and ended after the chunks in flight (the stalled one
            // included): the step's counts are exactly what is in the output.
            let step = try await Self.transform(cluster)
            let (written, open) = try await cluster.row("""
                SELECT (SELECT count(*) FROM bench_txn_out),
                       (SELECT count(*) FROM batch_remote_chunk WHERE state <> 'DONE')
                """, as: (Int64, Int64).self)
            #expect(step.status == "STOPPED" && step.write == written && step.read == written && open == 0, "\(step)")
            #expect(written < Int64(Self.rows))

            let restarted = try await cluster.binary.run(["restart", "\(executionID)"], environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardOutput)\(restarted.standardError)")
            try await Self.checkExact(cluster)
            try await cluster.stop(workers)
        }
    }

    @Test func theManagerAndTheWorkersRideOutADatabaseRestart() async throws {
        let server = try await PrivateServer()
        do {
            let cluster = Cluster(binary: try SwiftBatchBinary(), url: server.url)
            #expect(try await cluster.binary.run(["migrate"], environment: cluster.env).exitCode == 0)
            #expect(try await cluster.binary.run(["launch", "ledger-seed", "rows=\(Self.rows)"], environment: cluster.env).exitCode == 0)
            let workers = try Self.workers(2, cluster, leaseSeconds: 3)
            // A stalled chunk keeps the step running until the server is back.
            let launcher = try cluster.binary.start(
                Self.launch + ["stall-id=\(Self.stalledID)", "stall-seconds=3"], environment: cluster.env)
            _ = try await Self.stalledHolder(cluster, workers)
            try await server.restart(immediate: true)

            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            #expect(launcher.output.contains("reconnected to the repository; sending on"), "\(launcher.output)")
            try await Self.checkExact(cluster)
            try await cluster.stop(workers)
        } catch {
            await server.destroy()
            throw error
        }
        await server.destroy()
    }

    /// Bad rows are skipped, recorded and counted up to the limit, which holds for the whole
    /// step: chunks committed by different workers share it. One more fails its chunk, naming
    /// the row; a restart after the fix keeps the skips and writes every other row once.
    @Test func badRowsAreSkippedUpToTheLimitOfTheWholeStep() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster)
            // Three bad rows, in chunks 4, 24 and 50; the limit allows two.
            let bad: Set<Int64> = [2_345, 12_345, 25_001]
            _ = try await cluster.query { db in
                try db.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id IN (2345, 12345, 25001)")
            }
            let failed = try await cluster.binary.run(Self.launch + ["skip-limit=2"], environment: cluster.env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("skip limit 2 exceeded at process: bench_txn id"), "\(failed.standardOutput)")

            // Whichever two chunks committed first skipped their row; the third row is named.
            let recorded = try await cluster.query { db in
                try db.query("SELECT item_key FROM batch_skipped_item WHERE phase = 'process' ORDER BY item_key")
                    .map { try $0.decode(String.self, column: 0) }
            }
            let skipped = Set(recorded.compactMap { Int64($0.replacingOccurrences(of: "bench_txn id ", with: "")) })
            #expect(skipped.count == 2 && skipped.isSubset(of: bad), "\(recorded)")
            let named = try #require(bad.subtracting(skipped).first)
            #expect(failed.standardOutput.contains("skip limit 2 exceeded at process: bench_txn id \(named): unknown currency"))
            let (status, skips, written, output) = try await cluster.row("""
                SELECT s.status, s.process_skip_count, s.write_count, (SELECT count(*) FROM bench_txn_out)
                FROM batch_step_execution s WHERE step_name = 'transform' ORDER BY step_execution_id DESC LIMIT 1
                """, as: (String, Int64, Int64, Int64).self)
            #expect(status == "FAILED" && skips == 2 && written == output)

            // The named row is fixed; the restart keeps the two skips.
            _ = try await cluster.query { db in
                try db.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = \(named)")
            }
            let restarted = try await cluster.binary.run(Self.launch + ["skip-limit=2"], environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardOutput)\(restarted.standardError)")
            let (finalStatus, finalSkips, finalRead, finalWritten) = try await cluster.row("""
                SELECT status, process_skip_count, read_count, write_count FROM batch_step_execution
                WHERE step_name = 'transform' ORDER BY step_execution_id DESC LIMIT 1
                """, as: (String, Int64, Int64, Int64).self)
            #expect(finalStatus == "COMPLETED" && finalSkips == 2)
            #expect(finalRead == Int64(Self.rows) && finalWritten == Int64(Self.rows) - 2)
            let (rows, distinct, missing, skippedWritten) = try await cluster.row("""
                SELECT (SELECT count(*) FROM bench_txn_out), (SELECT count(DISTINCT id) FROM bench_txn_out),
                       (SELECT count(*) FROM bench_txn t WHERE t.currency <> 'XXX'
                          AND NOT EXISTS (SELECT 1 FROM bench_txn_out o WHERE o.id = t.id)),
                       (SELECT count(*) FROM bench_txn_out o JOIN bench_txn t USING (id) WHERE t.currency = 'XXX')
                """, as: (Int64, Int64, Int64, Int64).self)
            #expect(rows == Int64(Self.rows) - 2 && distinct == rows && missing == 0 && skippedWritten == 0)
            try await cluster.stop(workers)
        }
    }

    @Test func aPoisonRowFailsTheStepNamingItAndARestartAfterTheFixIsExact() async throws {
        try await WorkerFaultTests.withCluster(rows: Self.rows) { cluster in
            let workers = try Self.workers(2, cluster)
            _ = try await cluster.query { db in try db.execute("UPDATE bench_txn SET currency = 'XXX' WHERE id = 12345") }
            let failed = try await cluster.binary.run(Self.launch, environment: cluster.env)
            #expect(failed.exitCode == 1)
            #expect(failed.standardOutput.contains("remote chunks failed: chunk 24"), "\(failed.standardOutput)")
            #expect(failed.standardOutput.contains("bench_txn id 12345: unknown currency \"XXX\""))
            // Consistent: the step's counts are what the workers committed, and the failed
            // chunk's rows are not in the output.
            let step = try await Self.transform(cluster)
            let (written, poisonChunk) = try await cluster.row("""
                SELECT (SELECT count(*) FROM bench_txn_out),
                       (SELECT count(*) FROM bench_txn_out WHERE id BETWEEN 12001 AND 12500)
                """, as: (Int64, Int64).self)
            #expect(step.status == "FAILED" && step.write == written && poisonChunk == 0)
            #expect(step.message.contains("bench_txn id 12345"))

            _ = try await cluster.query { db in try db.execute("UPDATE bench_txn SET currency = 'GBP' WHERE id = 12345") }
            let restarted = try await cluster.binary.run(Self.launch, environment: cluster.env)
            #expect(restarted.exitCode == 0, "\(restarted.standardOutput)\(restarted.standardError)")
            try await Self.checkExact(cluster)
            try await cluster.stop(workers)

            // Pruned with the history: the restart adopted every chunk, so all 60 go with it.
            _ = try await cluster.query { db in
                try db.execute("""
                    UPDATE batch_job_execution SET create_time = create_time - interval '40 days',
                        start_time = start_time - interval '40 days', end_time = end_time - interval '40 days'
                    """)
            }
            let pruned = try await cluster.binary.run(["prune", "--older-than", "30d"], environment: cluster.env)
            #expect(pruned.exitCode == 0, "\(pruned.standardError)")
            #expect(pruned.standardOutput.contains("deleted 60 remote chunks"), "\(pruned.standardOutput)")
            #expect(try await Self.chunks(cluster).total == 0)
        }
    }
}
