import Batch
import BatchTestSupport
import Foundation
import Testing

/// Awaits a short, random time per item (finishing out of order), counts the items in flight,
/// and fails the poisoned ones; multiples of 10 are filtered out.
struct AwaitingProcessor: AsyncItemProcessor {
    let poison: PoisonSwitch
    let inFlight: Locked<(now: Int, most: Int)>
    var hangOn: Int64? = nil

    func process(_ item: Int64) async throws -> Int64? {
        inFlight.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
        defer { inFlight.withLock { $0.now -= 1 } }
        if item == hangOn {
            // A call that never answers: only a timeout or a cancellation ends it.
            try await Task.sleep(for: .seconds(3_600))
        }
        try await Task.sleep(for: .microseconds(Int.random(in: 0...2_000)))
        if poison.isPoisoned(item) { throw PoisonedItem(item: item) }
        return item % 10 == 0 ? nil : item
    }
}

/// A transaction for a chunk context built by hand.
private final class BareTransaction: StepTransaction {
    func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result { try body() }
    func recordSkip(_ item: SkippedItem) throws {}
}

@Suite("Async item processing: bounded in flight, order kept, errors per item, cancellation", .timeLimit(.minutes(2)))
struct AsyncProcessorTests {
    struct Probe {
        let poison = PoisonSwitch()
        let inFlight = Locked<(now: Int, most: Int)>((0, 0))
        let written = Locked<[Int64]>([])
        let output: OutputTable
    }

    static func job(_ probe: Probe, skipPolicy: SkipPolicy = .never, hangOn: Int64? = nil, timeout: Duration? = nil) -> Job {
        Job("async-await-numbers", parameters: [.required("batch", .string)]) {
            ChunkStep("load", commitInterval: 100, skipPolicy: skipPolicy) { _ in
                let processor = AwaitingProcessor(poison: probe.poison, inFlight: probe.inFlight, hangOn: hangOn)
                return (NumberReader(count: 1_050), processor.inChunks(maxInFlight: 8, timeout: timeout), OrderWriter(probe.output, probe.written))
            }
        }
    }

    static func expected(_ range: ClosedRange<Int64>, without: Set<Int64> = []) -> [Int64] {
        range.filter { $0 % 10 != 0 && !without.contains($0) }
    }

    @Test func atMostEightAwaitedAtOnceTheWriterGetsThemInOrderAndCountsAreExact() async throws {
        let engine = Engine()
        let probe = Probe(output: engine.output)
        let execution = try await engine.launcher.run(Self.job(probe), parameters: ["batch": .string("a")])
        #expect(execution.status == .completed, "\(execution.exitStatus)")
        let load = try #require(try engine.steps(execution.id).last)
        #expect(load.counts == StepCounts(read: 1_050, write: 945, filter: 105, commit: 11))
        #expect(probe.written.withLock { $0 } == Self.expected(1...1_050))
        let most = probe.inFlight.withLock { $0.most }
        #expect(most > 1 && most <= 8, "most in flight: \(most)")
        let output = try engine.outputCheck()
        #expect(output.count == 945 && output.distinct == 945)
    }

    @Test func aFailedItemIsSkippedUnderItsOwnKeyOrFailsTheStepNamingIt() async throws {
        let engine = Engine()
        let probe = Probe(output: engine.output)
        probe.poison.poison(55, 777)
        let job = Self.job(probe, skipPolicy: .skip([PoisonedItem.self], limit: 5))
        let execution = try await engine.launcher.run(job, parameters: ["batch": .string("b")])
        #expect(execution.status == .completed, "\(execution.exitStatus)")
        let load = try #require(try engine.steps(execution.id).last)
        #expect(load.counts == StepCounts(read: 1_050, write: 943, filter: 105, processSkip: 2, commit: 11))
        #expect(probe.written.withLock { $0 } == Self.expected(1...1_050, without: [55, 777]))
        let skipped = engine.repository.skippedItems(jobExecutionID: execution.id)
        #expect(skipped.map(\.reason) == ["item 55 is poisoned", "item 777 is poisoned"])

        let strict = Engine()
        let failing = Probe(output: strict.output)
        failing.poison.poison(777)
        let failed = try await strict.launcher.run(Self.job(failing), parameters: ["batch": .string("c")])
        #expect(failed.status == .failed)
        #expect(failed.exitStatus.exitDescription.contains("item 777 is poisoned"))
        // The chunks before the failing one committed; nothing of its chunk did.
        #expect(failing.written.withLock { $0 } == Self.expected(1...700))
    }

    @Test func anItemPastItsTimeoutFailsTheStepAndNothingWaitsForever() async throws {
        let engine = Engine()
        let probe = Probe(output: engine.output)
        let job = Self.job(probe, hangOn: 321, timeout: .milliseconds(300))
        let execution = try await engine.launcher.run(job, parameters: ["batch": .string("d")])
        #expect(execution.status == .failed)
        #expect(execution.exitStatus.exitDescription.contains("longer than its timeout"))
        #expect(probe.written.withLock { $0 } == Self.expected(1...300))
    }

    @Test func anInterruptionCancelsTheItemsInFlight() async throws {
        let inFlight = Locked<(now: Int, most: Int)>((0, 0))
        let interrupted = Locked(false)
        // The step's thread waits on its own thread, never the cooperative pool.
        let results = try await onDedicatedThread {
            let processor = AwaitingProcessor(poison: PoisonSwitch(), inFlight: inFlight, hangOn: 3).inChunks(maxInFlight: 4)
            let context = ChunkContext(
                transaction: BareTransaction(), stepName: "load", parameters: JobParameters(), stepContext: ExecutionContext(),
                interruption: { interrupted.withLock { $0 } })
            let thread = Thread {
                while inFlight.withLock({ $0.now }) == 0 { usleep(1_000) }
                interrupted.withLock { $0 = true }
            }
            thread.start()
            return processor.processChunk(Array(1...10), in: context)!
        }
        #expect(results.count == 10)
        // The hanging item was cancelled, not awaited for an hour.
        #expect(throws: CancellationError.self) { try results[2].get() }
        #expect(inFlight.withLock { $0.now } == 0)
    }
}
