import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Examples/embedded-worker runs a PartitionWorker in the application's own ServiceGroup (no
/// SwiftBatch command line). SIGTERM shuts the group down gracefully: the worker hands the
/// partitions it holds back (READY, checkpoint kept, the attempt not counted) and the process
/// exits 0. scripts/test.sh builds it and sets SWIFTBATCH_EMBEDDED_BIN; a plain `swift test`
/// skips this suite.
@Suite(
    "The embedded worker example (Examples/embedded-worker)", .timeLimit(.minutes(2)),
    .enabled(if: ProcessInfo.processInfo.environment["SWIFTBATCH_EMBEDDED_BIN"] != nil, "run by scripts/test.sh"))
struct EmbeddedWorkerExampleTests {
    @Test func sigtermHandsThePartitionsBackAndTheNextWorkerFinishesThem() async throws {
        let binary = try SwiftBatchBinary(path: ProcessInfo.processInfo.environment["SWIFTBATCH_EMBEDDED_BIN"]!)
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            // The example migrates as it starts; done first here so the test's queries find the tables.
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            let worker = try binary.start([], environment: env)
            // Partitions of 6 s each: on a loaded machine the poll below may take seconds, and the
            // held partitions must still be running when SIGTERM comes.
            let launcher = try binary.start(["launch", "grid=4", "chunks=60", "pause-ms=100"], environment: env)
            // Both slots hold a partition that has committed chunks.
            let held = try await waitFor("two partitions in progress", timeout: .seconds(60), poll: .milliseconds(50)) {
                () -> [Int64: Int]? in
                let rows = try await TestDatabase.query(url) { db in
                    try db.query("""
                        SELECT p.partition_id, p.attempt FROM batch_partition p
                        JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                        WHERE p.state = 'CLAIMED' AND s.commit_count >= 2
                        """).map { try $0.decode((Int64, Int).self) }
                }
                return rows.count == 2 ? Dictionary(uniqueKeysWithValues: rows) : nil
            }
            worker.send(SIGTERM)
            #expect(try await worker.wait() == 0, "\(worker.output)")
            #expect(worker.output.contains("worker stopped: partitions handed back"))
            let after = try await TestDatabase.query(url) { db in
                try db.query("""
                    SELECT p.partition_id, p.state, p.attempt, s.commit_count FROM batch_partition p
                    JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                    """).map { try $0.decode((Int64, String, Int, Int64).self) }
            }
            for (id, state, attempt, commits) in after where held[id] != nil {
                #expect(state == "READY", "partition \(id) handed back")
                #expect(attempt == held[id]! - 1, "the attempt is not counted")
                #expect(commits >= 2, "its checkpoint kept")
            }
            // Another worker finishes the job from the checkpoints.
            let next = try binary.start([], environment: env)
            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            next.send(SIGTERM)
            #expect(try await next.wait() == 0)
        }
    }
}
