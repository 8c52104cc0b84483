import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

/// A partitioned step's skip limit holds for the whole step, as for every other kind of step:
/// the skips of all its partitions count together.
@Suite("The skip limit of a partitioned step", .timeLimit(.minutes(2)))
struct PartitionSkipLimitTests {
    /// Two bad numbers in each of the four partitions.
    static let bad: Set<Int64> = [10, 20, 30, 40, 60, 70, 80, 90]

    struct RefuseBad: ItemProcessor {
        func process(_ number: Int64) throws -> Int64? {
            if PartitionSkipLimitTests.bad.contains(number) { throw PoisonedItem(item: number) }
            return number
        }
    }

    static func job(limit: Int) -> Job {
        let copy = ChunkStep("copy", commitInterval: 5, skipPolicy: .skip([PoisonedItem.self], limit: limit)) { scope in
            let reader = PostgresKeysetReader<Int64>(
                table: "numbers", columns: ["id"], keyColumns: ["id"], range: try Partition.keys(in: scope.stepContext),
                pageSize: 5, name: "numbers"
            ) { row in try row.decode(Int64.self, column: 0) }
            let writer = PostgresInsertItemWriter<Int64>(table: "numbers_out", columns: ["id"]) { number, values in
                values.append(number)
            }
            return (reader, RefuseBad(), writer)
        }
        return Job("skip-numbers-\(limit)") {
            PartitionStep(
                "copy", maxAttempts: 1,
                partitioner: KeyBoundaryPartitioner([RowKey([.bigint(26)]), RowKey([.bigint(51)]), RowKey([.bigint(76)])]),
                workerStep: copy)
        }
    }

    @Test func skipsOfAllPartitionsCountTogetherAgainstTheLimit() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.query(url) { db in
                try SchemaMigrations.migrate(on: db)
                try db.execute("CREATE TABLE numbers (id bigint PRIMARY KEY)")
                try db.execute("INSERT INTO numbers SELECT generate_series(1, 100)")
                try db.execute("CREATE TABLE numbers_out (id bigint PRIMARY KEY)")
            }
            let tight = Self.job(limit: 5)
            let enough = Self.job(limit: 8)
            let worker = try PartitionWorker(
                jobs: [tight, enough], configuration: WorkerConfiguration(connectionString: url, concurrency: 1, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))

            // 8 bad numbers in all, 2 a partition: a limit of 5 per partition would let every
            // partition through; for the whole step it cannot.
            let failed = try await launcher.run(tight, parameters: JobParameters())
            #expect(failed.status == .failed)
            let (skipped, message) = try await TestDatabase.query(url) { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM batch_skipped_item),
                           (SELECT string_agg(exit_message, ' | ') FROM batch_step_execution WHERE status = 'FAILED' AND step_name LIKE 'copy:%')
                    """).single().decode((Int64, String).self)
            }
            // One slot runs the partitions one after the other: each skip is checked against the
            // skips the others committed, so exactly the limit's worth commit.
            #expect(skipped == 5, "committed skips: \(skipped)")
            #expect(message.contains("skip limit"), "\(message)")

            try await TestDatabase.query(url) { db in _ = try db.execute("TRUNCATE numbers_out") }
            let completed = try await launcher.run(enough, parameters: JobParameters())
            worker.shutdown()
            try await running.value
            #expect(completed.status == .completed)
            let (rows, skips) = try await TestDatabase.query(url) { db in
                try db.query("""
                    SELECT (SELECT count(*) FROM numbers_out),
                           (SELECT process_skip_count FROM batch_step_execution
                            WHERE step_name = 'copy' AND job_execution_id = \(completed.id))::bigint
                    """).single().decode((Int64, Int64).self)
            }
            #expect(rows == 92 && skips == 8)
        }
    }
}
