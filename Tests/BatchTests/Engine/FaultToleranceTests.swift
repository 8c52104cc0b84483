import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

@Suite("Skip and retry in chunk steps", .timeLimit(.minutes(2)))
struct FaultToleranceTests {
    typealias T = JobEngineTests

    static func skipped(_ url: String) async throws -> [String] {
        try await T.query(url) {
            try $0.query("SELECT phase || ' ' || item_key || ': ' || reason FROM batch_skipped_item ORDER BY skipped_item_id")
                .map { try $0.decode(String.self, column: 0) }
        }
    }

    static let skipPoisonAndChecks = SkipPolicy(limit: 3) { error in
        error is PoisonedItem || (error as? PostgresError)?.sqlState == .checkViolation
    }

    @Test func processFailuresAndARefusedWriteAreSkippedAndRecorded() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await T.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(1_234, 5_555)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, skipPolicy: Self.skipPoisonAndChecks, refuse7777: true)
            let execution = try await launcher.run(job, parameters: ["batch": .string("skips")])
            #expect(execution.status == .completed)
            let load = try #require(try await T.steps(url, execution.id).last)
            // 7777 is refused by the database: its chunk is re-written item by item and only it is skipped.
            #expect(load.counts == StepCounts(read: 10_050, write: 9_042, filter: 1_005, processSkip: 2, writeSkip: 1, commit: 11))
            let output = try await T.outputCheck(url)
            #expect(output.count == 9_042 && output.distinct == 9_042)
            let records = try await Self.skipped(url)
            #expect(records.count == 3)
            #expect(records.contains("process 1234: item 1234 is poisoned"))
            #expect(records.contains("process 5555: item 5555 is poisoned"))
            #expect(records.contains { $0.hasPrefix("write 7777: ") && $0.contains("23514") })
        }
    }

    @Test func onePoisonTooManyFailsTheStepNamingTheRecord() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await T.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(1_501, 2_501, 3_501, 4_501)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, skipPolicy: Self.skipPoisonAndChecks, refuse7777: true)
            let failed = try await launcher.run(job, parameters: ["batch": .string("limit")])
            #expect(failed.status == .failed)
            #expect(failed.exitStatus.exitDescription.contains("skip limit 3 exceeded at process: item 4501 is poisoned"))
            let load = try #require(try await T.steps(url, failed.id).last)
            #expect(load.counts.processSkip == 3)
            #expect(load.counts.commit == 4)
            // The three committed skips are recorded; the failed chunk left none behind.
            #expect(try await Self.skipped(url).count == 3)

            poison.cure()
            let restarted = try await launcher.run(job, parameters: ["batch": .string("limit")])
            #expect(restarted.status == .completed)
            let output = try await T.outputCheck(url)
            // Everything but the filtered, the three skipped and the refused 7777.
            #expect(output.count == 9_045 - 3 - 1)
            #expect(output.count == output.distinct)
        }
    }

    @Test func aTransientFailureRetriesTheChunkWithTheSameItems() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await T.migrated(url)
            let job = EngineTestJobs.numbers(count: 5_000, commitInterval: 1000, poison: PoisonSwitch()) {
                HiccupWriter(item: 2_345)
            }
            let execution = try await launcher.run(job, parameters: ["batch": .string("retry")])
            #expect(execution.status == .completed)
            let load = try #require(try await T.steps(url, execution.id).last)
            #expect(load.counts == StepCounts(read: 5_000, write: 4_500, filter: 500, commit: 6, rollback: 1))
            let output = try await T.outputCheck(url)
            #expect(output.count == 4_500 && output.distinct == 4_500)
        }
    }
}
