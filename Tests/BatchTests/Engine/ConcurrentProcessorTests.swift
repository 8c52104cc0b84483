import Batch
import BatchTestSupport
import Foundation
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

/// Writes like NumberWriter and remembers the order it was given the items in.
final class OrderWriter: NumberWriter, @unchecked Sendable {
    // Sendable rule: `written` is a Locked.
    let written: Locked<[Int64]>
    init(_ table: OutputTable, _ written: Locked<[Int64]>) {
        self.written = written
        super.init(table)
    }
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
        let output: OutputTable
    }

    static func job(_ probe: Probe, count: Int64 = 2_050, skipPolicy: SkipPolicy = .never) -> Job {
        Job("async-numbers", parameters: [.required("batch", .string)]) {
            TaskletStep("prepare") { _, _ in .finished }
            ChunkStep("load", commitInterval: 100, skipPolicy: skipPolicy) { _ in
                let processor = ProbingProcessor(poison: probe.poison, inFlight: probe.inFlight, rendezvous: Rendezvous(parties: 4))
                return (NumberReader(count: count), processor.concurrent(maxConcurrent: 4), OrderWriter(probe.output, probe.written))
            }
        }
    }

    static func expected(_ range: ClosedRange<Int64>, without: Set<Int64> = []) -> [Int64] {
        range.filter { $0 % 10 != 0 && !without.contains($0) }
    }

    @Test func fourItemsAtOnceTheWriterGetsThemInOrderAndCountsAreExact() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let probe = Probe(output: engine.output)
            let execution = try await launcher.run(Self.job(probe), parameters: ["batch": .string("a")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 2_050, write: 1_845, filter: 205, commit: 21))
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050))
            // The rendezvous proved four at once; never more.
            #expect(probe.inFlight.withLock { $0.most } == 4)
            let output = try engine.outputCheck()
            #expect(output.count == 1_845 && output.distinct == 1_845)
        }
    }

    @Test func aPoisonItemIsSkippedAndRecordedUnderItsOwnKey() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let probe = Probe(output: engine.output)
            probe.poison.poison(55, 1_234)
            let job = Self.job(probe, skipPolicy: .skip([PoisonedItem.self], limit: 3))
            let execution = try await launcher.run(job, parameters: ["batch": .string("b")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 2_050, write: 1_843, filter: 205, processSkip: 2, commit: 21))
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050, without: [55, 1_234]))
            let skipped = engine.repository.skippedItems(jobExecutionID: execution.id)
            #expect(skipped.map(\.phase) == [.process, .process])
            #expect(skipped.map(\.itemKey) == ["55", "1234"])
            #expect(skipped.map(\.reason) == ["item 55 is poisoned", "item 1234 is poisoned"])
        }
    }

    @Test func aRestartAfterAFailureMidwayIsExact() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let probe = Probe(output: engine.output)
            probe.poison.poison(1_234)
            let job = Self.job(probe)
            let failed = try await launcher.run(job, parameters: ["batch": .string("c")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("item 1234 is poisoned"))
            let first = try #require(try engine.steps(failed.id).last)
            #expect(first.counts == StepCounts(read: 1_200, write: 1_080, filter: 120, commit: 12, rollback: 1))
            #expect(try engine.outputCheck().count == 1_080)

            probe.poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("c")])
            #expect(restarted.status == .completed)
            let second = try #require(try engine.steps(restarted.id).last)
            #expect(second.counts == StepCounts(read: 850, write: 765, filter: 85, commit: 9))
            let output = try engine.outputCheck()
            #expect(output.count == 1_845 && output.distinct == 1_845)
            #expect(output.sum == Self.expected(1...2_050).reduce(0, +))
            // What the writer was handed, across both runs: every item once, in order.
            #expect(probe.written.withLock { $0 } == Self.expected(1...2_050))
        }
    }
}
