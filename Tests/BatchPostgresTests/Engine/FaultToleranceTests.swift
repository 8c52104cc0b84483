import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

/// Skips that only PostgreSQL shows: a write the database refuses, isolated under a savepoint,
/// and the skip records in batch_skipped_item. The skip and retry rules themselves are tested
/// on the in-memory repository (BatchTests/Engine/FaultToleranceTests).
@Suite("Skips in PostgreSQL: savepoints and skip records", .timeLimit(.minutes(2)))
struct FaultToleranceTests {
    static let skipPoisonAndChecks = SkipPolicy(limit: 3) { error in
        error is PoisonedItem || (error as? PostgresError)?.sqlState == .checkViolation
    }

    static func skipped(_ url: String) async throws -> [String] {
        try await JobEngineTests.query(url) {
            try $0.query("SELECT phase || ' ' || item_key || ': ' || reason FROM batch_skipped_item ORDER BY skipped_item_id")
                .map { try $0.decode(String.self, column: 0) }
        }
    }

    @Test func processFailuresAndARefusedWriteAreSkippedAndRecorded() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let poison = PoisonSwitch()
            poison.poison(1_234, 5_555)
            let job = EngineTestJobs.numbers(count: 10_050, commitInterval: 1000, poison: poison, skipPolicy: Self.skipPoisonAndChecks, refuse7777: true)
            let execution = try await launcher.run(job, parameters: ["batch": .string("skips")])
            #expect(execution.status == .completed)
            let load = try #require(try await JobEngineTests.steps(url, execution.id).last)
            // 7777 is refused by the database: its chunk is re-written item by item and only it is skipped.
            #expect(load.counts == StepCounts(read: 10_050, write: 9_042, filter: 1_005, processSkip: 2, writeSkip: 1, commit: 11))
            let output = try await JobEngineTests.outputCheck(url)
            #expect(output.count == 9_042 && output.distinct == 9_042)
            let records = try await Self.skipped(url)
            #expect(records.count == 3)
            #expect(records.contains("process 1234: item 1234 is poisoned"))
            #expect(records.contains("process 5555: item 5555 is poisoned"))
            #expect(records.contains { $0.hasPrefix("write 7777: ") && $0.contains("23514") })
        }
    }
}
