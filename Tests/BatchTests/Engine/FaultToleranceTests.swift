import Batch
import BatchTestSupport
import Testing

@Suite("Skip and retry in chunk steps", .timeLimit(.minutes(2)))
struct FaultToleranceTests {
    static let skipPoisonAndChecks = SkipPolicy(limit: 3) { error in
        error is PoisonedItem || error is RefusedItem
    }

    @Test func processFailuresAndARefusedWriteAreSkippedAndRecorded() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            poison.poison(1_234, 5_555)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, output: engine.output, skipPolicy: Self.skipPoisonAndChecks, refuse7777: true)
            let execution = try await launcher.run(job, parameters: ["batch": .string("skips")])
            #expect(execution.status == .completed)
            let load = try #require(try engine.steps(execution.id).last)
            // 7777 is refused by the output: its chunk is re-written item by item and only it is skipped.
            #expect(load.counts == StepCounts(read: 10_050, write: 9_042, filter: 1_005, processSkip: 2, writeSkip: 1, commit: 11))
            let output = try engine.outputCheck()
            #expect(output.count == 9_042 && output.distinct == 9_042)
            let records = engine.skipped(execution.id)
            #expect(records.count == 3)
            #expect(records.contains("process 1234: item 1234 is poisoned"))
            #expect(records.contains("process 5555: item 5555 is poisoned"))
            #expect(records.contains("write 7777: item 7777 is refused by the output"))
        }
    }

    @Test func onePoisonTooManyFailsTheStepNamingTheRecord() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let poison = PoisonSwitch()
            poison.poison(1_501, 2_501, 3_501, 4_501)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, output: engine.output, skipPolicy: Self.skipPoisonAndChecks, refuse7777: true)
            let failed = try await launcher.run(job, parameters: ["batch": .string("limit")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("skip limit 3 exceeded at process: item 4501 is poisoned"))
            let load = try #require(try engine.steps(failed.id).last)
            #expect(load.counts.processSkip == 3)
            #expect(load.counts.commit == 4)
            // The three committed skips are recorded; the failed chunk left none behind.
            #expect(engine.skipped(failed.id).count == 3)

            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("limit")])
            #expect(restarted.status == .completed)
            let output = try engine.outputCheck()
            // Everything but the filtered, the three skipped and the refused 7777.
            #expect(output.count == 9_045 - 3 - 1)
            #expect(output.count == output.distinct)
        }
    }

    @Test func aTransientFailureRetriesTheChunkWithTheSameItems() async throws {
        do {
            let engine = Engine()
            let launcher = engine.launcher
            let output = engine.output
            let job = EngineTestJobs.numbers(count: 5_000, commitInterval: 1000, poison: PoisonSwitch(), output: output) {
                HiccupWriter(output, item: 2_345)
            }
            let execution = try await launcher.run(job, parameters: ["batch": .string("retry")])
            #expect(execution.status == .completed)
            let load = try #require(try engine.steps(execution.id).last)
            #expect(load.counts == StepCounts(read: 5_000, write: 4_500, filter: 500, commit: 6, rollback: 1))
            let written = try engine.outputCheck()
            #expect(written.count == 4_500 && written.distinct == 4_500)
        }
    }
}
