import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The row-level security of `sql/roles.sql`: two worker logins, a launcher login and a
/// dashboard login on one repository. Each worker changes only the claims it holds and reads
/// only what they need; what must fail fails with SQLSTATE 42501 where PostgreSQL raises, and
/// where row-level security filters silently the attempt changes or sees no row and the
/// worker's own save path refuses (SB001, the claim is lost).
@Suite("Row-level security for worker logins (sql/roles.sql)", .serialized, .timeLimit(.minutes(2)))
struct WorkerRowSecurityTests {
    /// Login users made for one test; roles belong to the server, so each test drops its own.
    struct Logins {
        let suffix = UInt32.random(in: 0...UInt32.max)
        var workerA: String { "sb_rls_worker_a_\(suffix)" }
        var workerB: String { "sb_rls_worker_b_\(suffix)" }
        var launcher: String { "sb_rls_launcher_\(suffix)" }
        var dashboard: String { "sb_rls_dashboard_\(suffix)" }
        var all: [String] { [workerA, workerB, launcher, dashboard] }

        func url(_ base: String, user: String) throws -> String {
            var target = try ConnectionString(base)
            target["user"] = user
            target["password"] = nil
            return target.conninfo
        }

        /// Runs `sql/roles.sql` on the repository at `url` and makes the four logins.
        func create(on url: String) async throws {
            let script = try String(contentsOfFile: RepositoryRolesTests.rolesScript, encoding: .utf8)
            try await TestDatabase.query(url) { db in
                try db.unsafeExecuteScript(script)
                try db.execute("CREATE ROLE \(identifier: workerA) LOGIN IN ROLE swiftbatch_worker")
                try db.execute("CREATE ROLE \(identifier: workerB) LOGIN IN ROLE swiftbatch_worker")
                try db.execute("CREATE ROLE \(identifier: launcher) LOGIN IN ROLE swiftbatch_launcher")
                try db.execute("CREATE ROLE \(identifier: dashboard) LOGIN IN ROLE swiftbatch_dashboard")
            }
        }

        func drop() async throws {
            let admin = try await PostgresSession.connect(to: TestDatabase.serverURL, name: "test-admin")
            for user in all { try await admin.run { try $0.execute("DROP ROLE IF EXISTS \(identifier: user)") } }
            await admin.close()
        }
    }

    /// A fresh repository with the roles and the logins, dropped after `body`.
    static func withLogins(seedRows: Int? = nil, _ body: (String, Logins) async throws -> Void) async throws {
        let logins = Logins()
        do {
            try await TestDatabase.withFreshDatabase { url in
                if let seedRows {
                    let binary = try SwiftBatchBinary()
                    #expect(try await binary.run(["migrate"], environment: ["DATABASE_URL": url]).exitCode == 0)
                    let seeded = try await binary.run(["launch", "ledger-seed", "rows=\(seedRows)"], environment: ["DATABASE_URL": url])
                    #expect(seeded.exitCode == 0, "\(seeded.standardError)")
                } else {
                    _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
                }
                try await logins.create(on: url)
                try await body(url, logins)
            }
        } catch {
            try? await logins.drop()
            throw error
        }
        try await logins.drop()
    }

    /// Worker B against worker A's claims, and every login against what it may not do: each
    /// attempt fails with 42501 or changes (and sees) nothing, and A's work goes on untouched.
    @Test func aWorkerLoginChangesOnlyItsOwnClaimsAndReadsOnlyTheJobsItHolds() async throws {
        try await Self.withLogins { url, logins in
            let urls = (
                a: try logins.url(url, user: logins.workerA), b: try logins.url(url, user: logins.workerB),
                launcher: try logins.url(url, user: logins.launcher), dashboard: try logins.url(url, user: logins.dashboard))
            try await onDedicatedThread {
                let owner = try PostgresConnection(connectionString: url)
                let launcherDB = try PostgresConnection(connectionString: urls.launcher)
                let aDB = try PostgresConnection(connectionString: urls.a)
                let bDB = try PostgresConnection(connectionString: urls.b)
                let dashboardDB = try PostgresConnection(connectionString: urls.dashboard)
                defer { for db in [owner, launcherDB, aDB, bDB, dashboardDB] { db.close() } }
                let launcher = PostgresJobRepositorySession(connection: launcherDB)
                let a = PostgresJobRepositorySession(connection: aDB)
                let b = PostgresJobRepositorySession(connection: bDB)

                // The launcher login creates two jobs, with partitions, a remote chunk and parameters.
                func job(_ name: String, secret: String, partitions: Int) throws -> (JobExecution, StepExecution) {
                    let execution = try launcher.createJobExecution(
                        jobName: name, parameters: ["secret": .string(secret)], restartable: true, launcher: .current()
                    ).get().execution
                    let manager = try launcher.createStepExecution(jobExecutionID: execution.id, stepName: "work", context: [:])
                    let count = try launcher.preparePartitions(
                        manager: manager, jobExecution: execution, workerStep: "\(name)/work", maxAttempts: 2
                    ) { each in
                        for index in 0..<partitions { try each(Partition(name: "p\(index)", context: ["i": .int(Int64(index))])) }
                    }
                    #expect(count == partitions)
                    return (execution, manager)
                }
                let (one, oneManager) = try job("rls-one", secret: "one", partitions: 2)
                let (two, _) = try job("rls-two", secret: "two", partitions: 1)
                try launcherDB.execute("""
                    INSERT INTO batch_remote_chunk (step_execution_id, job_execution_id, seq, worker_step, items, item_count, start_context)
                    VALUES (\(oneManager.id), \(one.id), 0, 'rls-one/remote', 'business data', 1, '{}')
                    """)

                // A holds a partition and the remote chunk of job one; B a partition of job two.
                try a.registerWorker(id: "worker-a", host: "host-a", pid: 1, concurrency: 1, steps: ["rls-one"], leaseSeconds: 30)
                try b.registerWorker(id: "worker-b", host: "host-b", pid: 2, concurrency: 1, steps: ["rls-two"], leaseSeconds: 30)
                let held = try #require(try a.claimPartitions(workerID: "worker-a", steps: ["rls-one/work"], limit: 1, leaseSeconds: 30).first)
                let chunk = try #require(try a.claimRemoteChunks(workerID: "worker-a", steps: ["rls-one/remote"], limit: 1, leaseSeconds: 30).first)
                let heldByB = try #require(try b.claimPartitions(workerID: "worker-b", steps: ["rls-two/work"], limit: 1, leaseSeconds: 30).first)
                let waiting = try owner.query("""
                    SELECT partition_id FROM batch_partition WHERE job_execution_id = \(one.id) AND state = 'READY'
                    """).single().decode(Int64.self, column: 0)
                let dbRoles = try owner.query("SELECT string_agg(db_role::text, ',' ORDER BY worker_id) FROM batch_worker")
                    .single().decode(String.self, column: 0)
                #expect(dbRoles == "\(logins.workerA),\(logins.workerB)")

                func rows(_ db: PostgresConnection, _ sql: String) throws -> Int { try db.query(PostgresQuery(unsafeSQL: sql)).count }
                func changed(_ db: PostgresConnection, _ sql: String) throws -> Int { try db.execute(PostgresQuery(unsafeSQL: sql)) }
                func sqlState(_ db: PostgresConnection, _ sql: String) -> SQLState? {
                    do {
                        try db.execute(PostgresQuery(unsafeSQL: sql))
                        return nil
                    } catch let error as PostgresError {
                        return error.sqlState ?? "?????"
                    } catch {
                        return "?????"
                    }
                }

                // A reads what its claims need: job one's parameters and context, not job two's.
                #expect(try a.jobExecution(id: one.id)?.parameters.string("secret") == "one")
                #expect(try rows(aDB, "SELECT * FROM batch_job_execution_params WHERE job_execution_id = \(two.id)") == 0)
                #expect(try rows(aDB, "SELECT * FROM batch_job_execution_context WHERE job_execution_id = \(two.id)") == 0)
                #expect(try rows(aDB, "SELECT * FROM batch_step_execution_context WHERE step_execution_id = \(heldByB.stepExecutionID)") == 0)

                // B against A's partition, step execution and remote chunk: nothing changes...
                #expect(try changed(bDB, "UPDATE batch_partition SET owner = 'worker-b', attempt = attempt + 1 WHERE partition_id = \(held.partitionID)") == 0)
                #expect(try changed(bDB, "UPDATE batch_partition SET lease_expires_at = now() WHERE partition_id = \(held.partitionID)") == 0)
                #expect(try changed(bDB, "UPDATE batch_step_execution SET write_count = 999 WHERE step_execution_id = \(held.stepExecutionID)") == 0)
                #expect(try changed(bDB, "UPDATE batch_step_execution_context SET short_context = '{}' WHERE step_execution_id = \(held.stepExecutionID)") == 0)
                #expect(try changed(bDB, "UPDATE batch_remote_chunk SET state = 'DONE' WHERE chunk_id = \(chunk.chunkID)") == 0)
                #expect(try changed(bDB, "UPDATE batch_worker SET state = 'STOPPED' WHERE worker_id = 'worker-a'") == 0)
                // ...nothing of job one can be read...
                #expect(try rows(bDB, "SELECT * FROM batch_job_execution_params WHERE job_execution_id = \(one.id)") == 0)
                #expect(try rows(bDB, "SELECT * FROM batch_job_execution_context WHERE job_execution_id = \(one.id)") == 0)
                #expect(try rows(bDB, "SELECT * FROM batch_step_execution WHERE step_execution_id = \(held.stepExecutionID)") == 0)
                #expect(try rows(bDB, "SELECT * FROM batch_step_execution_context WHERE step_execution_id = \(held.stepExecutionID)") == 0)
                #expect(try rows(bDB, "SELECT items FROM batch_remote_chunk WHERE chunk_id = \(chunk.chunkID)") == 0)
                #expect(try b.jobExecution(id: one.id)?.parameters.string("secret") == nil)
                // ...and the save path refuses, whether B names its own worker or A's.
                for claimant in ["worker-b", "worker-a"] {
                    let fence = PartitionFence(
                        partitionID: held.partitionID, owner: claimant, attempt: held.attempt, leaseSeconds: 30, workerStep: held.workerStep)
                    var execution = held.execution
                    execution.status = .completed
                    #expect(throws: PartitionLeaseLost.self) {
                        try b.finishPartition(held, execution: &execution, outcome: .completed, fence: fence)
                    }
                    #expect(throws: PartitionLeaseLost.self) {
                        try b.update(&execution, guardedBy: PartitionCommitGuard(fence: fence, end: .renew))
                    }
                    let chunkFence = RemoteChunkFence(
                        chunkID: chunk.chunkID, owner: claimant, attempt: chunk.request.attempt, seq: 0, workerStep: chunk.workerStep)
                    #expect(throws: RemoteChunkLeaseLost.self) { try b.failRemoteChunk(fence: chunkFence, reason: "stolen") }
                }

                // What PostgreSQL refuses outright: 42501.
                let refused: [(PostgresConnection, String)] = [
                    // A claim made in another login's name, or a claim pointed at A's step.
                    (bDB, "UPDATE batch_partition SET state = 'CLAIMED', owner = 'worker-a', attempt = attempt + 1 WHERE partition_id = \(waiting)"),
                    (bDB, "UPDATE batch_partition SET owner = 'worker-a' WHERE partition_id = \(heldByB.partitionID)"),
                    (bDB, "UPDATE batch_partition SET step_execution_id = \(held.stepExecutionID) WHERE partition_id = \(heldByB.partitionID)"),
                    (bDB, "UPDATE batch_partition SET owner_role = '\(logins.workerA)' WHERE partition_id = \(heldByB.partitionID)"),
                    (bDB, "UPDATE batch_remote_chunk SET owner_role = current_user WHERE chunk_id = \(chunk.chunkID)"),
                    // A worker registered as another login, or A's worker id taken over.
                    (bDB, "INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps, db_role) VALUES ('worker-x', 'h', 3, 1, '*', '\(logins.workerA)')"),
                    (bDB, "INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps) VALUES ('worker-a', 'h', 3, 1, '*') ON CONFLICT (worker_id) DO UPDATE SET pid = 3"),
                    (bDB, "UPDATE batch_worker SET db_role = '\(logins.workerA)' WHERE worker_id = 'worker-b'"),
                    // Skipped items under A's step.
                    (bDB, """
                        INSERT INTO batch_skipped_item (job_execution_id, step_execution_id, step_name, phase, item_key, reason)
                        VALUES (\(one.id), \(held.stepExecutionID), 'x', 'read', 'k', 'r')
                        """),
                    // Job instances and executions are the launcher's.
                    (bDB, "INSERT INTO batch_job_instance VALUES (100, 0, 'x', 'x')"),
                    (aDB, "INSERT INTO batch_job_execution_params VALUES (\(one.id), 'x', 'STRING', 'x', 'N')"),
                    (aDB, "UPDATE batch_job_execution SET status = 'ABANDONED' WHERE job_execution_id = \(one.id)"),
                    // Dashboards only read.
                    (dashboardDB, "UPDATE batch_partition SET state = 'READY' WHERE partition_id = \(held.partitionID)"),
                    (dashboardDB, "UPDATE batch_step_execution SET write_count = 0"),
                    (dashboardDB, "INSERT INTO batch_worker (worker_id, host, pid, concurrency, steps) VALUES ('d', 'h', 1, 1, '*')"),
                    (dashboardDB, "SELECT * FROM batch_job_execution_params"),
                    // Launchers never delete.
                    (launcherDB, "DELETE FROM batch_partition WHERE partition_id = \(held.partitionID)"),
                    (launcherDB, "DELETE FROM batch_job_execution_params"),
                    (launcherDB, "DELETE FROM batch_worker"),
                    (launcherDB, "TRUNCATE batch_remote_chunk"),
                ]
                for (db, statement) in refused {
                    #expect(sqlState(db, statement) == .insufficientPrivilege, "\(statement)")
                }
                #expect(throws: PostgresError.self) {
                    try b.claimPartitions(workerID: "worker-a", steps: ["rls-one/work"], limit: 1, leaseSeconds: 30)
                }
                let takeOver = #expect(throws: PostgresError.self) {
                    try b.registerWorker(id: "worker-a", host: "host-b", pid: 9, concurrency: 1, steps: ["*"], leaseSeconds: 30)
                }
                #expect(takeOver?.sqlState == .insufficientPrivilege)

                // Launchers and dashboards see every row (dashboards not the parameters).
                #expect(try rows(launcherDB, "SELECT * FROM batch_job_execution_params") == 2)
                #expect(try rows(dashboardDB, "SELECT * FROM batch_partition") == 3)
                #expect(try rows(dashboardDB, "SELECT * FROM batch_step_execution") == 5)

                // A's claim went on untouched: its end saves.
                var execution = held.execution
                execution.status = .completed
                execution.exitStatus = .completed
                execution.endTime = Date()
                try a.finishPartition(
                    held, execution: &execution, outcome: .completed,
                    fence: PartitionFence(
                        partitionID: held.partitionID, owner: "worker-a", attempt: held.attempt, leaseSeconds: 30,
                        workerStep: held.workerStep))
                try a.failRemoteChunk(
                    fence: RemoteChunkFence(
                        chunkID: chunk.chunkID, owner: "worker-a", attempt: chunk.request.attempt, seq: 0, workerStep: chunk.workerStep),
                    reason: "given up by its own worker")
                let after = try owner.query("""
                    SELECT p.state, p.owner, s.status, s.write_count, s.version,
                           (SELECT state || ':' || owner FROM batch_remote_chunk WHERE chunk_id = \(chunk.chunkID)),
                           (SELECT state FROM batch_worker WHERE worker_id = 'worker-a')
                    FROM batch_partition p JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
                    WHERE p.partition_id = \(held.partitionID)
                    """).single().decode((String, String, String, Int64, Int64, String, String).self)
                #expect(after.0 == "COMPLETED" && after.1 == "worker-a" && after.2 == "COMPLETED" && after.3 == 0)
                #expect(after.4 == held.execution.version + 1)
                #expect(after.5 == "FAILED:worker-a" && after.6 == "RUNNING")
                // A finished claim is no longer held: not even A may reopen it.
                #expect(try changed(aDB, "UPDATE batch_partition SET state = 'READY', owner = NULL WHERE partition_id = \(held.partitionID)") == 0)
                // No longer holding anything of job one, A reads its parameters no more.
                #expect(try rows(aDB, "SELECT * FROM batch_job_execution_params WHERE job_execution_id = \(one.id)") == 0)

                // A claim of A's that ran out on its last attempt: B's sweep fails it, through
                // the owner's function, though B may not write A's rows itself.
                let last = try #require(try a.claimPartitions(workerID: "worker-a", steps: ["rls-one/work"], limit: 1, leaseSeconds: 30).first)
                try owner.execute("""
                    UPDATE batch_partition SET lease_expires_at = now() - interval '1 second', attempt = max_attempts
                    WHERE partition_id = \(last.partitionID)
                    """)
                #expect(try changed(bDB, "UPDATE batch_partition SET state = 'FAILED' WHERE partition_id = \(last.partitionID)") == 0)
                try b.sweepExpiredPartitions()
                let swept = try owner.query("""
                    SELECT p.state, s.status, p.last_error FROM batch_partition p
                    JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id WHERE p.partition_id = \(last.partitionID)
                    """).single().decode((String, String, String).self)
                #expect(swept.0 == "FAILED" && swept.1 == "FAILED" && swept.2.hasPrefix("its worker (worker-a) stopped renewing"))
            }
        }
    }
    /// The whole flow under the roles: worker processes logged in as two worker logins run a
    /// partitioned job and a remote chunk job that a launcher login launches, every row exactly
    /// once, each claim recorded under the login that held it.
    @Test func workersOfTwoLoginsRunPartitionsAndRemoteChunksOfALauncherLogin() async throws {
        let rows = 3_000
        try await Self.withLogins(seedRows: rows) { url, logins in
            let binary = try SwiftBatchBinary()
            // Business tables are granted per job: the launcher empties and partitions, workers
            // read and write.
            try await TestDatabase.query(url) { db in
                try db.execute("GRANT SELECT, TRUNCATE ON bench_txn, bench_txn_out TO \(identifier: logins.launcher)")
                for worker in [logins.workerA, logins.workerB] {
                    try db.execute("GRANT SELECT ON bench_txn TO \(identifier: worker)")
                    try db.execute("GRANT INSERT ON bench_txn_out TO \(identifier: worker)")
                }
            }
            let workers = try [logins.workerA, logins.workerB].map { user in
                try binary.start(
                    ["worker", "--concurrency", "2", "--lease-seconds", "10"],
                    environment: ["DATABASE_URL": try logins.url(url, user: user)])
            }
            let launcherEnv = ["DATABASE_URL": try logins.url(url, user: logins.launcher)]
            let owner = WorkerFaultTests.Cluster(binary: binary, url: url)

            let partitioned = try await binary.run(["launch", "ledger-etl", "grid=8", "chunk=100"], environment: launcherEnv)
            #expect(partitioned.exitCode == 0, "\(partitioned.standardOutput)\(partitioned.standardError)\(workers.map(\.output))")
            try await owner.checkExactOutput(rows: Int64(rows))
            let claims = try await owner.query { db in
                try db.query("""
                    SELECT count(*) FILTER (WHERE p.state = 'COMPLETED'), count(*),
                           count(*) FILTER (WHERE w.db_role::text IN (\(logins.workerA), \(logins.workerB)))
                    FROM batch_partition p LEFT JOIN batch_worker w ON w.worker_id = p.owner
                    """).single().decode((Int64, Int64, Int64).self)
            }
            #expect(claims == (8, 8, 8))

            let remote = try await binary.run(
                ["launch", "ledger-etl-remote", "chunk=250", "in-flight=4"], environment: launcherEnv)
            #expect(remote.exitCode == 0, "\(remote.standardOutput)\(remote.standardError)\(workers.map(\.output))")
            #expect(remote.standardOutput.contains("read \(rows), written \(rows)"), "\(remote.standardOutput)")
            try await owner.checkExactOutput(rows: Int64(rows))
            let chunks = try await owner.query { db in
                try db.query("""
                    SELECT count(*) FILTER (WHERE r.state = 'DONE'), count(*),
                           count(*) FILTER (WHERE w.db_role::text IN (\(logins.workerA), \(logins.workerB)))
                    FROM batch_remote_chunk r LEFT JOIN batch_worker w ON w.worker_id = r.owner
                    """).single().decode((Int64, Int64, Int64).self)
            }
            #expect(chunks == (12, 12, 12))

            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(try await worker.wait() == 0, "\(worker.output)") }
            // Each worker row is its login's, stopped.
            let registered = try await owner.query { db in
                try db.query("SELECT string_agg(db_role::text || ':' || state, ',' ORDER BY db_role) FROM batch_worker")
                    .single().decode(String.self, column: 0)
            }
            #expect(registered == "\(logins.workerA):STOPPED,\(logins.workerB):STOPPED")
        }
    }
}
