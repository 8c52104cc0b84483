import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Synchronization
import Testing

/// A launcher whose repository fails over to a standby that lacks its latest writes (a step's
/// end, the job's) reads the execution back and awaits what is unfinished there, instead of
/// exiting with the execution left running for a relaunch.
@Suite("A run that loses the repository's latest writes resumes", .timeLimit(.minutes(2)))
struct LostWritesResumeTests {
    /// Which tasklets ran, in order.
    final class Calls: Sendable {
        let names = Mutex<[String]>([])

        /// Records `name`; true the first time it is recorded.
        func record(_ name: String) -> Bool {
            names.withLock { names in
                names.append(name)
                return names.filter { $0 == name }.count == 1
            }
        }

        var all: [String] { names.withLock { $0 } }
    }

    @Test func aLostSessionAndALostStepEndAreAwaitedAgainAndTheJobCompletes() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let launcher = try await JobEngineTests.migrated(url)
            let calls = Calls()
            let job = Job("lost-writes") {
                TaskletStep("first") { _, _ in
                    _ = calls.record("first")
                    return .finished
                }
                TaskletStep("second") { _, chunk in
                    if calls.record("second") {
                        // What a failover to an asynchronous standby does: the first step's end
                        // (committed, acknowledged) is not on the new primary, and the launcher's
                        // session is gone.
                        let session = try chunk.postgresConnection()
                        let admin = try PostgresConnection(connectionString: url)
                        defer { admin.close() }
                        try admin.execute("""
                            UPDATE batch_step_execution SET status = 'STARTED', exit_code = 'EXECUTING', end_time = NULL
                            WHERE step_name = 'first'
                            """)
                        try admin.execute("SELECT pg_terminate_backend(\(session.backendPID))")
                    }
                    return .finished
                }
            }
            let execution = try await launcher.run(job, parameters: ["run": .string("1")])
            #expect(execution.status == .completed)
            // The first step was awaited again (its end was lost: it ran again from its
            // checkpoint), and the second, whose commit met the lost session, too.
            #expect(calls.all == ["first", "second", "first", "second"])
            let steps = try await JobEngineTests.steps(url, execution.id)
            #expect(steps.map(\.stepName) == ["first", "second"])
            #expect(steps.allSatisfy { $0.status == .completed }, "\(steps.map(\.status))")
            let stored = try await JobEngineTests.query(url) {
                try $0.query("SELECT status FROM batch_job_execution WHERE job_execution_id = \(execution.id)")
                    .single().decode(String.self, column: 0)
            }
            #expect(stored == "COMPLETED")
        }
    }

    /// Only a lost session resumes a run (a step's own failure is the run's), and the session is
    /// connected again for it.
    @Test func onlyALostSessionResumesARunAndItIsConnectedAgain() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            #expect(session.reconnectForResume(after: JobRepositoryError(message: "a step failed")) == false)
            #expect(session.reconnectForResume(after: PostgresError(kind: .connectionLost, message: "gone")))
            #expect(db.isConnected)
        }
    }
}
