import Batch
import BatchTestSupport
import Foundation
import Logging
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

/// CheckingProcessor that asks for the job to stop (through a session of its own, as an
/// operator's `swiftbatch stop` would) when it meets `item`.
struct StoppingProcessor: ItemProcessor {
    let base: CheckingProcessor
    let engine: Engine
    let jobExecutionID: Int64
    let item: Int64

    func process(_ item: Int64) throws -> Int64? {
        if item == self.item {
            _ = try engine.requestStop(jobExecutionID)
        }
        return try base.process(item)
    }
}

/// CheckingProcessor whose items above `holdAbove` wait until a poisoned item has failed.
struct HoldingProcessor: ItemProcessor {
    let base: CheckingProcessor
    let poisoned: Gate
    let holdAbove: Int64

    func process(_ item: Int64) throws -> Int64? {
        if item > holdAbove { poisoned.wait(timeout: 30) }
        return try base.process(item)
    }
}

/// Opens `gate` when the step logs that a page failed: by then the step has recorded the
/// failure, so a thread let through can only finish the page in hand.
struct FailureGateLogHandler: LogHandler {
    let gate: Gate
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if event.message.description.hasPrefix("page failed") { gate.open() }
    }
}

@Suite("Multi-threaded chunk step: counts, faults and exact restarts", .timeLimit(.minutes(3)))
struct MultiThreadedChunkStepTests {
    static let count: Int64 = 10_050
    /// Multiples of ten are filtered.
    static let expectedSum = (1...count).filter { $0 % 10 != 0 }.reduce(0, +)

    /// prepare -> load (multi-threaded, 100 a page, 1...count into `output`).
    static func job(
        _ output: OutputTable, threads: Int, chunk: Int = 100, poison: PoisonSwitch = PoisonSwitch(), skipPolicy: SkipPolicy = .never,
        hiccupAt: Int64? = nil,
        worker: (@Sendable (StepScope) -> (any ItemProcessor<Int64, Int64>, NumberWriter))? = nil
    ) -> Job {
        Job("mt-numbers", parameters: [.required("batch", .string)]) {
            TaskletStep("prepare") { _, _ in .finished }
            MultiThreadedChunkStep("load", threads: threads, commitInterval: chunk, skipPolicy: skipPolicy) { _ in
                HiccupSource(base: NumberPageSource(numbers: 1...count, name: "numbers"), key: hiccupAt)
            } worker: { scope in
                if let worker {
                    let (processor, writer) = worker(scope)
                    return (AnyNumberProcessor(processor), writer)
                }
                return (AnyNumberProcessor(CheckingProcessor(poison: poison)), NumberWriter(output))
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

    static func output(_ engine: Engine) throws -> [Int64] {
        engine.output.values.sorted()
    }

    @Test(arguments: [1, 2, 4])
    func countsAreExactWithAnyNumberOfThreads(threads: Int) async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let rendezvous = threads > 1 ? Rendezvous(parties: threads) : nil
            // The first item of each of the first `threads` pages.
            let meetAt = Set((0..<Int64(threads)).map { $0 * 100 + 1 })
            let poison = PoisonSwitch()
            let job = Self.job(engine.output, threads: threads) { _ in
                (MeetingProcessor(base: CheckingProcessor(poison: poison), rendezvous: rendezvous, meetAt: meetAt), NumberWriter(engine.output))
            }
            let execution = try await launcher.run(job, parameters: ["batch": .string("t\(threads)")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.status == .completed)
            // 100 pages of 100 and one of 50: one commit each.
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101))
            // The last page, being short, covers every key after it.
            #expect(load.context.int("numbers.done_through") == Int64.max)
            #expect(load.context["numbers.committed_above"] == nil)
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aFailureInOneThreadStopsTheOthersAndARestartWritesEveryItemOnce() async throws {
        do {
            let engine = Engine()
            let poison = PoisonSwitch()
            poison.poison(5_555)
            // Pages after 7000 wait until the poison has failed its page (the step has recorded
            // the failure): the threads that hold them must then stop after the page in hand,
            // and take no more.
            let failedPoison = Gate()
            let launcher = JobLauncher(
                repository: engine.repository, logger: Logger(label: "test") { _ in FailureGateLogHandler(gate: failedPoison) })
            let job = Self.job(engine.output, threads: 4, poison: poison) { _ in
                (HoldingProcessor(base: CheckingProcessor(poison: poison), poisoned: failedPoison, holdAbove: 7_000),
                 NumberWriter(engine.output))
            }
            let failed = try await launcher.run(job, parameters: ["batch": .string("f")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("item 5555 is poisoned"))
            let first = try #require(try engine.steps(failed.id).last)
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
            #expect(try Self.output(engine) == Self.expectedOutput(done))

            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("f")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try engine.steps(restarted.id).last)
            // Across both executions, every item was read, written or filtered once.
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005)
            #expect(total.commit == 101)
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func skipsAreCountedOnceAcrossThreadsAndTheLimitHoldsForTheStep() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            poison.poison(55, 5_555)
            let skipping = Self.job(engine.output, threads: 4, poison: poison, skipPolicy: .skip([PoisonedItem.self], limit: 3))
            let execution = try await launcher.run(skipping, parameters: ["batch": .string("s")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_043, filter: 1_005, processSkip: 2, commit: 101))
            let skipped = engine.repository.skippedItems(jobExecutionID: execution.id).map(\.itemKey).sorted()
            #expect(skipped == ["55", "5555"])
            #expect(try engine.outputCheck().count == 9_043)

            // Four bad items in four pages, two allowed: the step fails, and what committed never
            // holds more than two skips, each recorded once.
            engine.output.clear()
            poison.poison(1_055, 3_055, 6_055, 9_055)
            let limited = Self.job(engine.output, threads: 4, poison: poison, skipPolicy: .skip([PoisonedItem.self], limit: 2))
            let failed = try await launcher.run(limited, parameters: ["batch": .string("l")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("skip limit 2 exceeded"))
            let step = try #require(try engine.steps(failed.id).last)
            #expect(step.counts.processSkip <= 2)
            let recorded = Int64(engine.repository.skippedItems(jobExecutionID: failed.id).count)
            #expect(recorded == step.counts.processSkip)
            #expect(try engine.outputCheck().count == step.counts.write)
        }
    }

    @Test func aTransientFailureRetriesOnlyItsPage() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            let job = Self.job(engine.output, threads: 4) { _ in (CheckingProcessor(poison: poison), HiccupWriter(engine.output, item: 5_555)) }
            let execution = try await launcher.run(job, parameters: ["batch": .string("r")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101, rollback: 1))
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aPageWhoseFetchFailsIsFetchedAgainNotLost() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let execution = try await launcher.run(Self.job(engine.output, threads: 4, hiccupAt: 5_555), parameters: ["batch": .string("h")])
            #expect(execution.status == .completed, "\(execution.exitStatus)")
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 10_050, write: 9_045, filter: 1_005, commit: 101, rollback: 1))
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aRestartWithOtherThreadsAndChunkReadsOnlyWhatDidNotCommit() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            poison.poison(5_555)
            let failed = try await launcher.run(Self.job(engine.output, threads: 4, poison: poison), parameters: ["batch": .string("c")])
            #expect(failed.status == .failed)
            let first = try #require(try engine.steps(failed.id).last)

            poison.cure()
            let restarted = try await launcher.run(Self.job(engine.output, threads: 3, chunk: 37), parameters: ["batch": .string("c")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try engine.steps(restarted.id).last)
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005)
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }

    @Test func aStopRequestEndsTheStepStoppedAndARestartFinishesItExactly() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            let stopping = Self.job(engine.output, threads: 4) { scope in
                (StoppingProcessor(base: CheckingProcessor(poison: poison), engine: engine, jobExecutionID: scope.jobExecution.id, item: 3_000),
                 NumberWriter(engine.output))
            }
            let stopped = try await launcher.run(stopping, parameters: ["batch": .string("p")])
            #expect(stopped.status == .stopped, "\(stopped.exitStatus)")
            let first = try #require(try engine.steps(stopped.id).last)
            #expect(first.status == .stopped)
            #expect(first.counts.read < 10_050)
            let done = try Self.done(first)
            #expect(done.contains { $0.contains(3_000) })
            #expect(try Self.output(engine) == Self.expectedOutput(done))

            let restarted = try await launcher.run(Self.job(engine.output, threads: 4), parameters: ["batch": .string("p")])
            #expect(restarted.status == .completed, "\(restarted.exitStatus)")
            let second = try #require(try engine.steps(restarted.id).last)
            let total = first.counts + second.counts
            #expect(total.read == 10_050 && total.write == 9_045 && total.filter == 1_005 && total.commit == 101)
            let output = try engine.outputCheck()
            #expect(output.count == 9_045 && output.distinct == 9_045 && output.sum == Self.expectedSum)
        }
    }
}

/// A page source whose fetch of the page holding `key` fails once, transiently.
struct HiccupSource: KeyedPageSource {
    let base: NumberPageSource
    let key: Int64?
    let failed = Locked(false)

    var name: String { base.name }
    var keys: ClosedRange<Int64>? { base.keys }

    func pageEnds(in keys: ClosedRange<Int64>, every limit: Int, pages: Int, in chunk: ChunkContext) throws -> [Int64] {
        try base.pageEnds(in: keys, every: limit, pages: pages, in: chunk)
    }

    func fetch(_ keys: ClosedRange<Int64>, in chunk: ChunkContext) throws -> NumberPageSource.Page {
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

/// The numbers in `numbers` as a keyed page source (each number its own key).
struct NumberPageSource: KeyedPageSource {
    struct Page: KeyedPage {
        let numbers: [Int64]
        var count: Int { numbers.count }
        func key(at position: Int) throws -> Int64 { numbers[position] }
        func item(at position: Int) throws -> Int64 { numbers[position] }
    }

    let numbers: ClosedRange<Int64>
    let name: String
    var keys: ClosedRange<Int64>? { nil }

    private func numbers(in keys: ClosedRange<Int64>) -> ClosedRange<Int64>? {
        let lower = max(keys.lowerBound, numbers.lowerBound)
        let upper = min(keys.upperBound, numbers.upperBound)
        return lower <= upper ? lower...upper : nil
    }

    func pageEnds(in keys: ClosedRange<Int64>, every limit: Int, pages: Int, in chunk: ChunkContext) throws -> [Int64] {
        guard let range = numbers(in: keys) else { return [] }
        var ends: [Int64] = []
        var end = range.lowerBound + Int64(limit) - 1
        while end <= range.upperBound && ends.count < pages {
            ends.append(end)
            end += Int64(limit)
        }
        return ends
    }

    func fetch(_ keys: ClosedRange<Int64>, in chunk: ChunkContext) throws -> Page {
        Page(numbers: numbers(in: keys).map(Array.init) ?? [])
    }
}
