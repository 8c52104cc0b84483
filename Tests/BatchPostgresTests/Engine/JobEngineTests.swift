import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Logging
import PostgresClient
import Testing

/// What the engine does that only PostgreSQL can show: savepoints and skip records in the
/// database, multi-threaded steps as partitions' workers. The engine's own rules are tested on
/// the in-memory repository (BatchTests/Engine); the repository's, by the contract tests.
@Suite("Jobs, steps and the launcher against PostgreSQL", .timeLimit(.minutes(2)))
struct JobEngineTests {
    static func migrated(_ url: String) async throws -> JobLauncher {
        try await onDedicatedThread {
            let db = try PostgresConnection(connectionString: url)
            defer { db.close() }
            try SchemaMigrations.migrate(on: db)
        }
        return JobLauncher(repository: PostgresJobRepository(connectionString: url))
    }

    static func query<T: Sendable>(_ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await TestDatabase.query(url, body)
    }

    static func steps(_ url: String, _ executionID: Int64) async throws -> [StepExecution] {
        try await query(url) { try PostgresJobRepositorySession(connection: $0).stepExecutions(jobExecutionID: executionID) }
    }

    static func outputCheck(_ url: String) async throws -> (count: Int64, distinct: Int64, sum: Int64) {
        try await query(url) {
            try $0.query("SELECT count(*), count(DISTINCT n), coalesce(sum(n), 0)::bigint FROM engine_out")
                .single().decode((Int64, Int64, Int64).self)
        }
    }

    @Test func asAPartitionsWorkerStepEachRangeRunsOnTwoThreadsAndRestartsExactly() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(5_555)
            let job = Job("mt-partitioned", parameters: [.required("batch", .string)]) {
                TaskletStep("prepare") { _, chunk in
                    let db = try chunk.postgresConnection()
                    try db.execute("CREATE TABLE engine_in (n bigint PRIMARY KEY)")
                    try db.execute("INSERT INTO engine_in SELECT generate_series(1, 10050)")
                    try db.execute("CREATE TABLE engine_out (n bigint PRIMARY KEY)")
                    return .finished
                }
                PartitionStep(
                    "load", gridSize: 4, partitioner: ColumnRangePartitioner(table: "engine_in", column: "n"),
                    workerStep: MultiThreadedChunkStep("load-range", threads: 2, commitInterval: 100) { scope in
                        PostgresKeysetPageSource<Int64>(
                            table: "engine_in", columns: ["n"], key: "n", keys: Partition.keyRange(in: scope.stepContext),
                            name: "numbers"
                        ) { row in try row.decode(Int64.self, column: 0) }
                    } worker: { _ in
                        (CheckingProcessor(poison: poison), NumberWriter())
                    })
            }
            let worker = try PartitionWorker(
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let failed = try await launcher.run(job, parameters: ["batch": .string("w")])
            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("w")])
            worker.shutdown()
            try await running.value

            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("1 of 4 partitions failed"))
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let (read, written, filtered) = try await JobEngineTests.query(url) { db in
                try db.query("""
                    SELECT sum(read_count)::bigint, sum(write_count)::bigint, sum(filter_count)::bigint
                    FROM batch_step_execution WHERE step_name LIKE 'load:%'
                    """).single().decode((Int64, Int64, Int64).self)
            }
            #expect(read == 10_050 && written == 9_045 && filtered == 1_005)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == (1...Int64(10_050)).filter { $0 % 10 != 0 }.reduce(0, +))
        }
    }
}
