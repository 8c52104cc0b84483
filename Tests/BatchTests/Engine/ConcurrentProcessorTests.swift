import Batch
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Synchronization
import Testing

/// Counts the items in flight, and makes the first `rendezvous.parties` items meet (so the
/// test knows that many ran at once); otherwise what CheckingProcessor does.
struct ProbingProcessor: ItemProcessor {
    let poison: PoisonSwitch
    let inFlight: Locked<(now: Int, most: Int)>
    let rendezvous: Rendezvous

    func process(_ item: Int64) throws -> Int64? {
        inFlight.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
        defer { inFlight.withLock { $0.now -= 1 } }
        if item <= Int64(rendezvous.parties) { try rendezvous.arrive() }
        usleep(UInt32.random(in: 0...300))  // finish out of order
        if poison.isPoisoned(item) { throw PoisonedItem(item: item) }
        return item % 10 == 0 ? nil : item
    }
}

/// A lock-protected value for tests.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result { try mutex.withLock { try body(&$0) } }
}

/// Writes like NumberWriter and remembers the order it was given the items in.
final class OrderWriter: NumberWriter, @unchecked Sendable {
    // Sendable rule: `written` is a Locked.
    let written: Locked<[Int64]>
    init(_ written: Locked<[Int64]>) { self.written = written }
    override func write(_ items: [Int64], in chunk: ChunkContext) throws {
        try super.write(items, in: chunk)
        written.withLock { $0 += items }
    }
}

@Suite("Concurrent item processing: order, counts, skips and restarts", .timeLimit(.minutes(2)))
struct ConcurrentProcessorTests {
    struct Probe {
        let poison = PoisonSwitch()
        let inFlight = Locked<(now: Int, most: Int)>((0, 0))
        let written = Locked<[Int64]>([])
    }

    static func job(_ probe: Probe, count: Int64 = 2_050, skipPolicy: SkipPolicy = .never) -> Job {
        Job("async-numbers", parameters: [.required("batch", .string)]) {
            TaskletStep("prepare") { _, chunk in
                try chunk.postgresConnection().execute("CREATE TABLE IF NOT EXISTS engine_out (n bigint PRIMARY KEY)")
                return .finished
            }
            ChunkStep("load", commitInterval: 100, skipPolicy: skipPolicy) { _ in
                let processor = ProbingProcessor(poison: probe.poison, inFlight: probe.inFlight, rendezvous: Rendezvous(parties: 4))
                return (NumberReader(count: count), processor.concurrent(maxConcurrent: 4), OrderWriter(probe.written))
            }
        }
    }

    static func expected(_ range: ClosedRange<Int64>, without: Set<Int64> = []) -> [Int64] {
        range.filter { $0 % 10 != 0 && !without.contains($0) }
    }

    @Test func fourItemsAtOnceTheWriterGetsThemInOrderAndCountsAreExact() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let probe = Probe()
            let execution = try await launcher.run(Self.job(probe), parameters: ["batch": .string("a")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 2_050, write: 1_845, filter: 205, commit: 21))
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050))
            // The rendezvous proved four at once; never more.
            #expect(probe.inFlight.withLock { $0.most } == 4)
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 1_845 && output.distinct == 1_845)
        }
    }

    @Test func aPoisonItemIsSkippedAndRecordedUnderItsOwnKey() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let probe = Probe()
            probe.poison.poison(55, 1_234)
            let job = Self.job(probe, skipPolicy: .skip([PoisonedItem.self], limit: 3))
            let execution = try await launcher.run(job, parameters: ["batch": .string("b")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 2_050, write: 1_843, filter: 205, processSkip: 2, commit: 21))
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050, without: [55, 1_234]))
            let skipped = try await JobEngineTests.query(url) { db in
                try db.query("SELECT phase, item_key, reason FROM batch_skipped_item ORDER BY skipped_item_id")
                    .map { try $0.decode((String, String, String).self) }
            }
            #expect(skipped.map(\.0) == ["process", "process"])
            #expect(skipped.map(\.1) == ["55", "1234"])
            #expect(skipped.map(\.2) == ["item 55 is poisoned", "item 1234 is poisoned"])
        }
    }

    @Test func aRestartAfterAFailureMidwayIsExact() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let probe = Probe()
            probe.poison.poison(1_234)
            let job = Self.job(probe)
            let failed = try await launcher.run(job, parameters: ["batch": .string("c")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("item 1234 is poisoned"))
            let first = try #require(try await JobEngineTests.steps(url, failed.id).last)
            #expect(first.counts == StepCounts(read: 1_200, write: 1_080, filter: 120, commit: 12, rollback: 1))
            #expect(try await JobEngineTests.outputCheck(url).count == 1_080)

            probe.poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("c")])
            #expect(restarted.status == .completed)
            let second = try #require(try await JobEngineTests.steps(url, restarted.id).last)
            #expect(second.counts == StepCounts(read: 850, write: 765, filter: 85, commit: 9))
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 1_845 && output.distinct == 1_845)
            #expect(output.sum == Self.expected(1...2_050).reduce(0, +))
            // What the writer was handed, across both runs: every item once, in order.
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050))
        }
    }
}
