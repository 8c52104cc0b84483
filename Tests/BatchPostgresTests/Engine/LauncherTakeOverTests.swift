import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

/// What a launch does about a running execution of its instance, decided by the launcher's
/// heartbeat: refuse while it lives, attach or fail-and-restart once it died.
@Suite("Launcher heartbeat and take-over", .timeLimit(.minutes(2)))
struct LauncherTakeOverTests {
    static let parameters: JobParameters = ["day": .string("2026-11-25")]

    static func launch(_ session: PostgresJobRepositorySession, as launcher: LauncherIdentity) throws
        -> Result<LaunchGrant, LaunchRefusal>
    {
        try session.createJobExecution(jobName: "takeover", parameters: parameters, restartable: true, launcher: launcher)
    }

    static func expireLease(_ db: PostgresConnection, _ executionID: Int64) throws {
        try db.execute("""
            UPDATE batch_job_launcher SET lease_expires_at = now() - interval '1 second'
            WHERE job_execution_id = \(executionID)
            """)
    }

    /// A first launch by `first`, running a step (`partitioned`: a manager with one partition).
    static func running(
        _ session: PostgresJobRepositorySession, as first: LauncherIdentity, partitioned: Bool
    ) throws -> (JobExecution, StepExecution) {
        var execution = try launch(session, as: first).get().execution
        execution.status = .started
        try session.update(&execution)
        var step = try session.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
        step.status = .started
        try session.update(&step)
        if partitioned {
            _ = try session.preparePartitions(
                manager: step, jobExecution: execution, workerStep: "takeover/work", maxAttempts: 3
            ) { [Partition(name: "p0", context: [:])] }
        }
        return (execution, step)
    }

    @Test func aLiveLauncherIsNeverDisplaced() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let first = LauncherIdentity.current(lease: .seconds(30))
            let (execution, _) = try Self.running(session, as: first, partitioned: true)

            let second = try Self.launch(session, as: .current(lease: .seconds(30)))
            guard case .failure(.alreadyRunning(let id, let launcher)) = second else {
                Issue.record("expected a refusal, got \(second)")
                return
            }
            #expect(id == execution.id)
            #expect(launcher?.contains("pid \(first.pid) on \(first.host)") == true, "\(launcher ?? "nil")")
            let owner = try db.query("SELECT owner FROM batch_job_launcher WHERE job_execution_id = \(execution.id)")
                .single().decode(String.self, column: 0)
            #expect(owner == first.owner)
        }
    }

    @Test func aLaunchAttachesToAnExecutionAwaitingPartitionsOnceItsLauncherDied() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let first = LauncherIdentity.current(lease: .seconds(30))
            let (execution, manager) = try Self.running(session, as: first, partitioned: true)
            try Self.expireLease(db, execution.id)

            let second = LauncherIdentity.current(lease: .seconds(30))
            let grant = try Self.launch(session, as: second).get()
            #expect(grant.execution.id == execution.id && grant.attachedFrom == first.owner)
            // Only one of two late launchers attaches: the first renewed the lease.
            guard case .failure(.alreadyRunning) = try Self.launch(session, as: .current(lease: .seconds(30))) else {
                Issue.record("a second launch displaced the attached one")
                return
            }
            // The partitions are the dead launcher's; preparing them again creates nothing.
            let count = try session.preparePartitions(
                manager: manager, jobExecution: grant.execution, workerStep: "takeover/work", maxAttempts: 3
            ) { Issue.record("the partitioner ran again"); return [] }
            let (owner, attachments, partitions) = try db.query("""
                SELECT l.owner, l.attachments, (SELECT count(*) FROM batch_partition)
                FROM batch_job_launcher l WHERE job_execution_id = \(execution.id)
                """).single().decode((String, Int32, Int64).self)
            #expect(count == 1 && partitions == 1)
            #expect(owner == second.owner && attachments == 1)
        }
    }

    @Test func anExecutionThatDiedWithItsLauncherIsFailedAndRestarted() async throws {
        try await TestDatabase.withConnection { db, _ in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let first = LauncherIdentity.current(lease: .seconds(30))
            let (execution, step) = try Self.running(session, as: first, partitioned: false)
            try Self.expireLease(db, execution.id)

            let grant = try Self.launch(session, as: .current(lease: .seconds(30))).get()
            #expect(grant.execution.id != execution.id && grant.attachedFrom == nil)
            let old = try #require(try session.jobExecution(id: execution.id))
            #expect(old.status == .failed)
            #expect(old.exitStatus.exitDescription.contains("its launcher (pid \(first.pid) on \(first.host)) stopped heartbeating"))
            let oldStep = try #require(try session.stepExecutions(jobExecutionID: execution.id).first { $0.id == step.id })
            #expect(oldStep.status == .failed)
        }
    }

    @Test func theHeartbeatRenewsTheLeaseUntilStopped() async throws {
        try await TestDatabase.withConnection { db, url in
            try SchemaMigrations.migrate(on: db)
            let session = PostgresJobRepositorySession(connection: db)
            let launcher = LauncherIdentity.current(lease: .seconds(1))
            let execution = try Self.launch(session, as: launcher).get().execution
            func beat() throws -> Date {
                try db.query("SELECT heartbeat_at FROM batch_job_launcher WHERE job_execution_id = \(execution.id)")
                    .single().decode(Date.self, column: 0)
            }
            let before = try beat()
            let heartbeat = try PostgresJobRepository(connectionString: url).startHeartbeat(
                jobExecutionID: execution.id, launcher: launcher, logger: Logger(label: "test"))
            // It beats every third of a second; wait for two beats (bounded).
            var beats = Set([before])
            let deadline = Date(timeIntervalSinceNow: 20)
            while beats.count < 3, Date() < deadline {
                beats.insert(try beat())
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(beats.count >= 3)
            heartbeat.stop()
            heartbeat.stop()
            // After stop it stays silent: the lease runs out.
            let expired = Date(timeIntervalSinceNow: 20)
            var lapsed = false
            while !lapsed, Date() < expired {
                lapsed = try db.query("SELECT lease_expires_at < now() FROM batch_job_launcher WHERE job_execution_id = \(execution.id)")
                    .single().decode(Bool.self, column: 0)
                Thread.sleep(forTimeInterval: 0.05)
            }
            #expect(lapsed)
        }
    }
}
