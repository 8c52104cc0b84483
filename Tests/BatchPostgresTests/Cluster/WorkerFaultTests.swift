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
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            while clock.now < deadline {
                if let value = try await query(condition) { return value }
                try await Task.sleep(for: .milliseconds(20))
            }
            throw PostgresError(kind: .timeout, message: "gave up waiting for \(what)")
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
            let workers = try (0..<3).map { _ in
                try cluster.binary.start(["worker", "--concurrency", "1", "--lease-seconds", "2"], environment: cluster.env)
            }
            let launcher = try cluster.binary.start(["launch", "ledger-etl", "grid=6", "chunk=100"], environment: cluster.env)
            let busy = try await cluster.busyPartition()
            let victim = try #require(workers.first { $0.pid == Self.pid(of: busy.owner) })
            victim.send(SIGKILL)
            #expect(try await victim.wait() == 128 + SIGKILL)

            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            // The killed worker's partition was taken over and finished by another worker.
            let (state, attempt, owner) = try await cluster.query { db in
                try db.query("SELECT state, attempt, owner FROM batch_partition WHERE partition_id = \(busy.partitionID)")
                    .single().decode((String, Int, String).self)
            }
            #expect(state == "COMPLETED" && attempt == busy.attempt + 1 && owner != busy.owner)
            for worker in workers where worker !== victim { worker.send(SIGTERM) }
            for worker in workers where worker !== victim { #expect(try await worker.wait() == 0) }
        }
    }

    @Test func aWorkerPausedPastItsLeaseIsFencedWhenItWakes() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let workers = try (0..<3).map { _ in
                try cluster.binary.start(["worker", "--concurrency", "1", "--lease-seconds", "2"], environment: cluster.env)
            }
            let launcher = try cluster.binary.start(["launch", "ledger-etl", "grid=6", "chunk=100"], environment: cluster.env)
            let busy = try await cluster.busyPartition()
            let victim = try #require(workers.first { $0.pid == Self.pid(of: busy.owner) })
            victim.send(SIGSTOP)
            // Another worker takes the partition over once the lease has expired.
            let partitionID = busy.partitionID
            let takenBy = try await cluster.waitFor("the partition to be taken over") { db in
                try db.query("SELECT owner FROM batch_partition WHERE partition_id = \(partitionID) AND attempt > \(busy.attempt)")
                    .first?.decode(String?.self, column: 0) ?? nil
            }
            #expect(takenBy != busy.owner)
            victim.send(SIGCONT)

            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(try await worker.wait() == 0) }
            // The paused worker found out at its first commit after waking, and wrote nothing more.
            #expect(victim.output.contains("lost the lease of partition \(busy.partitionID)"), "\(victim.output)")
        }
    }

    @Test func aTerminatedWorkerHandsItsPartitionBackAndExitsZero() async throws {
        try await Self.withCluster(rows: 120_000) { cluster in
            let workers = try (0..<2).map { _ in
                try cluster.binary.start(["worker", "--concurrency", "1", "--lease-seconds", "5"], environment: cluster.env)
            }
            let launcher = try cluster.binary.start(["launch", "ledger-etl", "grid=6", "chunk=100"], environment: cluster.env)
            let busy = try await cluster.busyPartition()
            let victim = try #require(workers.first { $0.pid == Self.pid(of: busy.owner) })
            victim.send(SIGTERM)
            #expect(try await victim.wait() == 0, "\(victim.output)")
            #expect(victim.output.contains("worker stopped"))

            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            try await cluster.checkExactOutput(rows: 120_000)
            // Handed back, not failed: the attempt was not spent, and the other worker finished it.
            let (state, attempt, owner) = try await cluster.query { db in
                try db.query("SELECT state, attempt, owner FROM batch_partition WHERE partition_id = \(busy.partitionID)")
                    .single().decode((String, Int, String).self)
            }
            #expect(state == "COMPLETED" && attempt == busy.attempt && owner != busy.owner)
            for worker in workers where worker !== victim { worker.send(SIGTERM) }
            for worker in workers where worker !== victim { #expect(try await worker.wait() == 0) }
        }
    }
}
