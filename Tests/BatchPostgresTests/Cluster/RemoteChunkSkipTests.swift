import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

/// Skips in remote chunking, with an in-process worker: the step's skip policy on processing
/// and on writing, counted with the chunks' replies, and the limit shared by all chunks.
@Suite("Remote chunking: skips", .timeLimit(.minutes(2)))
struct RemoteChunkSkipTests {
    typealias T = JobEngineTests

    /// prepare (creates engine_out, which refuses 7777 when asked) -> load (1...count sent as
    /// remote chunks of 1,000; workers filter multiples of ten and fail on poisoned items).
    static func job(count: Int64, poison: PoisonSwitch, skipPolicy: SkipPolicy, refuse7777: Bool) -> Job {
        Job("remote-numbers", parameters: [.required("batch", .string)]) {
            TaskletStep("prepare") { _, chunk in
                try chunk.postgresConnection().execute(
                    "CREATE TABLE IF NOT EXISTS engine_out (n bigint PRIMARY KEY CHECK (n <> 7777 OR \(unsafeRaw: refuse7777 ? "false" : "true")))")
                return .finished
            }
            RemoteChunkStep(
                "load", commitInterval: 1000, maxInFlight: 4, skipPolicy: skipPolicy,
                reader: { _ in NumberReader(count: count) },
                worker: { _ in (CheckingProcessor(poison: poison), NumberWriter()) })
        }
    }

    /// Runs `job` once with an in-process worker of two slots.
    static func run(_ job: Job, _ url: String, batch: String) async throws -> JobExecution {
        let worker = try PartitionWorker(
            jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
            logger: Logger(label: "test"))
        let running = Task { try await worker.run() }
        let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))
        let execution = try await launcher.run(job, parameters: ["batch": .string(batch)])
        worker.shutdown()
        try await running.value
        return execution
    }

    @Test func processFailuresAndARefusedWriteAreSkippedRecordedAndCounted() async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await T.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(1_234, 5_555)
            let job = Self.job(count: 10_050, poison: poison, skipPolicy: FaultToleranceTests.skipPoisonAndChecks, refuse7777: true)
            let execution = try await Self.run(job, url, batch: "skips")
            #expect(execution.status == .completed)
            let load = try #require(try await T.steps(url, execution.id).last)
            // 7777 is refused by the database: its chunk is written again item by item on the
            // worker, and only 7777 is skipped.
            #expect(load.counts.read == 10_050 && load.counts.write == 9_042 && load.counts.filter == 1_005)
            #expect(load.counts.processSkip == 2 && load.counts.writeSkip == 1)
            let output = try await T.outputCheck(url)
            #expect(output.count == 9_042 && output.distinct == 9_042)
            let records = try await FaultToleranceTests.skipped(url)
            #expect(records.count == 3)
            #expect(records.contains("process 1234: item 1234 is poisoned"))
            #expect(records.contains("process 5555: item 5555 is poisoned"))
            #expect(records.contains { $0.hasPrefix("write 7777: ") && $0.contains("23514") })
        }
    }

    @Test func theLimitHoldsForAllChunksAndARestartAfterTheFixKeepsTheSkips() async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await T.migrated(url)
            let poison = PoisonSwitch()
            // Four poisoned items in four chunks, a limit of three for the whole step.
            let poisoned: Set<Int64> = [1_501, 2_501, 3_501, 4_501]
            poison.poison(1_501, 2_501, 3_501, 4_501)
            let job = Self.job(count: 10_050, poison: poison, skipPolicy: FaultToleranceTests.skipPoisonAndChecks, refuse7777: false)
            let failed = try await Self.run(job, url, batch: "limit")
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("skip limit 3 exceeded at process: item"), "\(failed.exitStatus.exitDescription)")
            // Whichever three chunks committed first skipped their item; the fourth is named.
            let records = try await FaultToleranceTests.skipped(url)
            #expect(records.count == 3)
            let skipped = Set(records.compactMap { Int64($0.split(separator: " ")[1].dropLast()) })
            #expect(skipped.count == 3 && skipped.isSubset(of: poisoned), "\(records)")
            let named = try #require(poisoned.subtracting(skipped).first)
            #expect(failed.exitStatus.exitDescription.contains("item \(named) is poisoned"))
            let load = try #require(try await T.steps(url, failed.id).last)
            #expect(load.counts.processSkip == 3)

            poison.cure()
            let restarted = try await Self.run(job, url, batch: "limit")
            #expect(restarted.status == .completed)
            let again = try #require(try await T.steps(url, restarted.id).last)
            #expect(again.counts.read == 10_050 && again.counts.processSkip == 3 && again.counts.write == 9_042)
            let output = try await T.outputCheck(url)
            // Everything but the filtered and the three skipped.
            #expect(output.count == 10_050 - 1_005 - 3 && output.count == output.distinct)
        }
    }
}
