import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

/// CheckingProcessor, and the first item of each of the first `meetAt.count` pages waits there
/// until all have arrived: a thread waiting cannot take another page, so their meeting proves
/// that many threads ran pages at once.
struct MeetingProcessor: ItemProcessor {
    let base: CheckingProcessor
    let rendezvous: Rendezvous?
    let meetAt: Set<Int64>

    func process(_ item: Int64) throws -> Int64? {
        if let rendezvous, meetAt.contains(item) { try rendezvous.arrive() }
        return try base.process(item)
    }
}

/// CheckingProcessor that asks for the job to stop (through a connection of its own, as an
/// operator's `swiftbatch stop` would) when it meets `item`.
struct StoppingProcessor: ItemProcessor {
    let base: CheckingProcessor
    let url: String
    let jobExecutionID: Int64
    let item: Int64

    func process(_ item: Int64) throws -> Int64? {
        if item == self.item {
            let db = try PostgresConnection(connectionString: url)
            defer { db.close() }
            _ = try PostgresJobRepositorySession(connection: db).requestStop(jobExecutionID: jobExecutionID)
        }
        return try base.process(item)
    }
}

@Suite("Multi-threaded chunk step: counts, faults and exact restarts", .timeLimit(.minutes(3)))
struct MultiThreadedChunkStepTests {
    static let count: Int64 = 10_050
    /// Multiples of ten are filtered.
    static let expectedSum = (1...count).filter { $0 % 10 != 0 }.reduce(0, +)

    /// prepare (engine_in = 1...count, engine_out empty) -> load (multi-threaded, 100 a page).
    static func job(
        threads: Int, chunk: Int = 100, poison: PoisonSwitch = PoisonSwitch(), skipPolicy: SkipPolicy = .never,
        hiccupAt: Int64? = nil,
        worker: (@Sendable (StepScope) -> (any ItemProcessor<Int64, Int64>, NumberWriter))? = nil
    ) -> Job {
        Job("mt-numbers", parameters: [.required("batch", .string)]) {
            TaskletStep("prepare") { _, chunk in
                let db = try chunk.postgresConnection()
                try db.execute("CREATE TABLE IF NOT EXISTS engine_in (n bigint PRIMARY KEY)")
                try db.execute("INSERT INTO engine_in SELECT generate_series(1, \(count)) ON CONFLICT DO NOTHING")
                // The primary key makes writing a number twice an error, not a silent duplicate.
                try db.execute("CREATE TABLE IF NOT EXISTS engine_out (n bigint PRIMARY KEY)")
                return .finished
            }
            MultiThreadedChunkStep("load", threads: threads, commitInterval: chunk, skipPolicy: skipPolicy) { _ in
                HiccupSource(
                    base: PostgresKeysetPageSource<Int64>(table: "engine_in", columns: ["n"], key: "n", name: "numbers") { row in
                        try row.decode(Int64.self, column: 0)
                    },
                    key: hiccupAt)
            } worker: { scope in
                if let worker {
                    let (processor, writer) = worker(scope)
                    return (AnyNumberProcessor(processor), writer)
                }
                return (AnyNumberProcessor(CheckingProcessor(poison: poison)), NumberWriter())
            }
        }
    }

    /// The keys the step's checkpoint says are done, within 1...count.
    static func done(_ execution: StepExecution) throws -> [ClosedRange<Int64>] {
        try KeyRangeCheckpoint(execution.context, prefix: "numbers", start: .min).ranges.compactMap { range in
            let clamped = max(range.lowerBound, 1)...min(range.upperBound, count)
            return clamped.isEmpty ? nil : clamped
        }
    }

    /// What engine_out must hold when exactly the pages in `ranges` committed (and no item
    /// was skipped): the numbers in them that are not multiples of ten.
    static func expectedOutput(_ ranges: [ClosedRange<Int64>]) -> [Int64] {
        ranges.flatMap { range in range.filter { $0 % 10 != 0 } }
    }

    static func output(_ url: String) async throws -> [Int64] {
        try await JobEngineTests.query(url) { db in
            try db.query("SELECT n FROM engine_out ORDER BY n").map { try $0.decode(Int64.self, column: 0) }
        }
    }

    @Test(arguments: [1, 2, 4])
    func countsAreExactWithAnyNumberOfThreads(threads: Int) async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let rendezvous = threads > 1 ? Rendezvous(parties: threads) : nil
            // The first item of each of the first `threads` pages.
            let meetAt = Set((0..<Int64(threads)).map { $0 * 100 + 1 })
            let poison = PoisonSwitch()
            let job = Self.job(threads: threads) { _ in
                (MeetingProcessor(base: CheckingProcessor(poison: poison), rendezvous: rendezvous, meetAt: meetAt), NumberWriter())
            }
            let execution = try await launcher.run(job, parameters: ["batch": .string("t\(threads)")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.status == .completed)
            // 100 pages of 100 and one of 50: one commit each.
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101))
            // The last page, being short, covers every key after it.
            #expect(load.context.int("numbers.done_through") == Int64.max)
            #expect(load.context["numbers.committed_above"] == nil)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aFailureInOneThreadStopsTheOthersAndARestartWritesEveryItemOnce() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(5_555)
            let job = Self.job(threads: 4, poison: poison)
            let failed = try await launcher.run(job, parameters: ["batch": .string("f")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("item 5555 is poisoned"))
            let first = try #require(try await JobEngineTests.steps(url, failed.id).last)
            #expect(first.status == .failed)
            #expect(first.counts.rollback == 1)
            // The other threads stopped after the page in hand: pages beyond the poison's were
            // not all taken.
            #expect(first.counts.read < 10_050 - 100)
            #expect(first.counts.read == first.counts.write + first.counts.filter)
            #expect(first.counts.read == first.counts.commit * 100)
            // The checkpoint claims exactly the pages whose output committed, and not the poison's.
            let done = try Self.done(first)
            #expect(!done.contains { $0.contains(5_555) })
            #expect(done.reduce(0) { $0 + Int64($1.count) } == first.counts.read)
            #expect(try await Self.output(url) == Self.expectedOutput(done))

            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("f")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try await JobEngineTests.steps(url, restarted.id).last)
            // Across both executions, every item was read, written or filtered once.
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005)
            #expect(total.commit == 101)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func skipsAreCountedOnceAcrossThreadsAndTheLimitHoldsForTheStep() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(55, 5_555)
            let skipping = Self.job(threads: 4, poison: poison, skipPolicy: .skip([PoisonedItem.self], limit: 3))
            let execution = try await launcher.run(skipping, parameters: ["batch": .string("s")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_043, filter: 1_005, processSkip: 2, commit: 101))
            let skipped = try await JobEngineTests.query(url) { db in
                try db.query("SELECT item_key FROM batch_skipped_item ORDER BY item_key").map { try $0.decode(String.self, column: 0) }
            }
            #expect(skipped == ["55", "5555"])
            #expect(try await JobEngineTests.outputCheck(url).count == 9_043)

            // Four bad items in four pages, two allowed: the step fails, and what committed never
            // holds more than two skips, each recorded once.
            try await JobEngineTests.query(url) { db in
                try db.execute("TRUNCATE engine_out")
                try db.execute("TRUNCATE batch_skipped_item")
            }
            poison.poison(1_055, 3_055, 6_055, 9_055)
            let limited = Self.job(threads: 4, poison: poison, skipPolicy: .skip([PoisonedItem.self], limit: 2))
            let failed = try await launcher.run(limited, parameters: ["batch": .string("l")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("skip limit 2 exceeded"))
            let step = try #require(try await JobEngineTests.steps(url, failed.id).last)
            #expect(step.counts.processSkip <= 2)
            let recorded = try await JobEngineTests.query(url) { db in
                try db.query("SELECT count(*) FROM batch_skipped_item").single().decode(Int64.self, column: 0)
            }
            #expect(recorded == step.counts.processSkip)
            #expect(try await JobEngineTests.outputCheck(url).count == step.counts.write)
        }
    }

    @Test func aTransientFailureRetriesOnlyItsPage() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            let job = Self.job(threads: 4) { _ in (CheckingProcessor(poison: poison), HiccupWriter(item: 5_555)) }
            let execution = try await launcher.run(job, parameters: ["batch": .string("r")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101, rollback: 1))
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aPageWhoseFetchFailsIsFetchedAgainNotLost() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let execution = try await launcher.run(Self.job(threads: 4, hiccupAt: 5_555), parameters: ["batch": .string("h")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101, rollback: 1))
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aRestartWithOtherThreadsAndChunkReadsOnlyWhatDidNotCommit() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(5_555)
            let failed = try await launcher.run(Self.job(threads: 4, poison: poison), parameters: ["batch": .string("c")])
            #expect(failed.status == .failed)
            let first = try #require(try await JobEngineTests.steps(url, failed.id).last)

            poison.cure()
            let restarted = try await launcher.run(Self.job(threads: 3, chunk: 37), parameters: ["batch": .string("c")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try await JobEngineTests.steps(url, restarted.id).last)
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func asAPartitionsWorkerStepEachRangeRunsOnTwoThreadsAndRestartsExactly() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(5_555)
            let job = Job("mt-partitioned", parameters: [.required("batch", .string)]) {
                Self.job(threads: 1).steps[0]  // prepare
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
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, leaseSeconds: 5),
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
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aStopRequestEndsTheStepStoppedAndARestartFinishesItExactly() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            let stopping = Self.job(threads: 4) { scope in
                (StoppingProcessor(base: CheckingProcessor(poison: poison), url: url, jobExecutionID: scope.jobExecution.id, item: 3_000),
                 NumberWriter())
            }
            let stopped = try await launcher.run(stopping, parameters: ["batch": .string("p")])
            #expect(stopped.status == .stopped, "\(stopped.exitStatus)")
            let first = try #require(try await JobEngineTests.steps(url, stopped.id).last)
            #expect(first.status == .stopped)
            #expect(first.counts.read < 10_050)
            let done = try Self.done(first)
            #expect(done.contains { $0.contains(3_000) })
            #expect(try await Self.output(url) == Self.expectedOutput(done))

            let restarted = try await launcher.run(Self.job(threads: 4), parameters: ["batch": .string("p")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try await JobEngineTests.steps(url, restarted.id).last)
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005 && total.commit == 101)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }
}

/// A page source whose fetch of the page holding `key` fails once, transiently.
struct HiccupSource: KeyedPageSource {
    let base: PostgresKeysetPageSource<Int64>
    let key: Int64?
    let failed = Locked(false)

    var name: String { base.name }
    var keys: ClosedRange<Int64>? { base.keys }

    func pageEnds(in keys: ClosedRange<Int64>, every limit: Int, pages: Int, in chunk: ChunkContext) throws -> [Int64] {
        try base.pageEnds(in: keys, every: limit, pages: pages, in: chunk)
    }

    func fetch(_ keys: ClosedRange<Int64>, in chunk: ChunkContext) throws -> PostgresKeysetPageSource<Int64>.Page {
        if let key, keys.contains(key), failed.withLock({ failed in defer { failed = true }; return !failed }) {
            throw Hiccup()
        }
        return try base.fetch(keys, in: chunk)
    }
}

/// Any processor of numbers, so one job builder serves every test.
struct AnyNumberProcessor: ItemProcessor {
    let base: any ItemProcessor<Int64, Int64>
    init(_ base: any ItemProcessor<Int64, Int64>) { self.base = base }
    func process(_ item: Int64) throws -> Int64? { try base.process(item) }
}
