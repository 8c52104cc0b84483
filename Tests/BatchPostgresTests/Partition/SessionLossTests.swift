import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Synchronization
import Testing

/// A partition whose chunk always loses its session (the server ends it) is an attempt like any
/// other failure: given up after a few losses in a row, claimed again as its next attempt, and
/// FAILED on its last, with a message that names the cause. Nothing loops forever.
@Suite("A chunk that always loses its session", .timeLimit(.minutes(2)))
struct SessionLossTests {
    /// Writes numbers into `numbers_out`; while `armed`, the chunk holding 42 has the server
    /// end its own session instead.
    final class SessionKillingWriter: ItemWriter {
        let armed: Locked<Bool>
        init(armed: Locked<Bool>) { self.armed = armed }

        func write(_ items: [Int64], in chunk: ChunkContext) throws {
            let db = try chunk.postgresConnection()
            if items.contains(42), armed.withLock({ $0 }) {
                try db.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            }
            let list = items.map { String($0) }.joined(separator: ",")
            try db.execute("INSERT INTO numbers_out SELECT unnest(string_to_array(\(list), ',')::bigint[])")
        }
    }

    @Test func itIsGivenUpRetriedAsItsNextAttemptAndFailedNamingTheCauseThenARestartIsExact() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.query(url) { db in
                try SchemaMigrations.migrate(on: db)
                try db.execute("CREATE TABLE numbers (id bigint PRIMARY KEY)")
                try db.execute("INSERT INTO numbers SELECT generate_series(1, 100)")
                try db.execute("CREATE TABLE numbers_out (id bigint PRIMARY KEY)")
            }
            let armed = Locked(true)
            let copy = ChunkStep("copy", commitInterval: 10) { scope in
                let keys = try Partition.keys(in: scope.stepContext)
                let reader = PostgresKeysetReader<Int64>(
                    table: "numbers", columns: ["id"], keyColumns: ["id"], range: keys, pageSize: 10, name: "numbers"
                ) { row in try row.decode(Int64.self, column: 0) }
                return (reader, SessionKillingWriter(armed: armed))
            }
            let job = Job("numbers-copy") {
                PartitionStep(
                    "copy", maxAttempts: 2, partitioner: KeyBoundaryPartitioner([RowKey([.bigint(51)])]),
                    workerStep: copy)
            }
            let worker = try PartitionWorker(
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 1, lease: .seconds(1)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))
            let failed = try await launcher.run(job, parameters: JobParameters())
            #expect(failed.status == .failed)
            let (message, attempt) = try await TestDatabase.query(url) { db in
                try db.query("""
                    SELECT s.exit_message, p.attempt FROM batch_partition p
                    JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                    WHERE p.state = 'FAILED'
                    """).single().decode((String, Int64).self)
            }
            #expect(attempt == 2)
            #expect(message.contains("attempt 2 of 2"), "\(message)")
            #expect(message.contains("lost 4 times in a row before a chunk committed"), "\(message)")

            armed.withLock { $0 = false }
            let restarted = try await launcher.run(job, parameters: JobParameters())
            worker.shutdown()
            try await running.value
            #expect(restarted.status == .completed)
            let (count, distinct, sum) = try await TestDatabase.query(url) { db in
                try db.query("SELECT count(*), count(DISTINCT id), sum(id)::bigint FROM numbers_out").single().decode((Int64, Int64, Int64).self)
            }
            #expect(count == 100 && distinct == 100 && sum == 5_050)
        }
    }
}
