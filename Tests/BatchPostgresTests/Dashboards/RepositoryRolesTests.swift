import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `sql/roles.sql` on a fresh repository: login users in each role do their work through the
/// real executable and are refused everything else with SQLSTATE 42501.
@Suite("Least-privilege roles (sql/roles.sql)", .timeLimit(.minutes(2)))
struct RepositoryRolesTests {
    typealias Cluster = WorkerFaultTests.Cluster

    static let rolesScript = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("sql/roles.sql").path

    /// Login users made for one test (roles belong to the server, not to the test's database).
    struct Logins {
        let suffix = UInt32.random(in: 0...UInt32.max)
        var worker: String { "sb_test_worker_\(suffix)" }
        var launcher: String { "sb_test_launcher_\(suffix)" }
        var dashboard: String { "sb_test_dashboard_\(suffix)" }
        var all: [String] { [worker, launcher, dashboard] }

        func url(_ base: String, user: String) throws -> String {
            var target = try ConnectionString(base)
            target["user"] = user
            target["password"] = nil
            return target.conninfo
        }

        func drop() async throws {
            let admin = try await PostgresSession.connect(to: TestDatabase.serverURL, name: "test-admin")
            for user in all { try await admin.run { try $0.execute("DROP ROLE IF EXISTS \(identifier: user)") } }
            await admin.close()
        }
    }

    @Test func workerLauncherAndDashboardUsersDoTheirWorkAndNothingMore() async throws {
        let binary = try SwiftBatchBinary()
        let logins = Logins()
        do {
            try await TestDatabase.withFreshDatabase { url in
                #expect(try await binary.run(["migrate"], environment: ["DATABASE_URL": url]).exitCode == 0)
                let script = try String(contentsOfFile: Self.rolesScript, encoding: .utf8)
                try await onDedicatedThread {
                    let db = try PostgresConnection(connectionString: url)
                    defer { db.close() }
                    // Twice: the second run must change nothing and fail on nothing.
                    try db.unsafeExecuteScript(script)
                    try db.unsafeExecuteScript(script)
                    try db.execute("CREATE ROLE \(identifier: logins.worker) LOGIN IN ROLE swiftbatch_worker")
                    try db.execute("CREATE ROLE \(identifier: logins.launcher) LOGIN IN ROLE swiftbatch_launcher")
                    try db.execute("CREATE ROLE \(identifier: logins.dashboard) LOGIN IN ROLE swiftbatch_dashboard")
                }
                let workerURL = try logins.url(url, user: logins.worker)
                let launcherURL = try logins.url(url, user: logins.launcher)
                let dashboardURL = try logins.url(url, user: logins.dashboard)

                // The worker user runs every partition a launcher user's launch creates.
                let worker = try binary.start(["worker", "--concurrency", "2"], environment: ["DATABASE_URL": workerURL])
                let launched = try await binary.run(
                    ["launch", "noop-partitions", "partitions=4"], environment: ["DATABASE_URL": launcherURL])
                #expect(launched.exitCode == 0, "\(launched.standardOutput)\(launched.standardError)\(worker.output)")
                worker.send(SIGTERM)
                #expect(try await worker.wait() == 0, "\(worker.output)")
                let status = try await binary.run(["status"], environment: ["DATABASE_URL": launcherURL])
                #expect(status.exitCode == 0 && status.standardOutput.contains("COMPLETED"), "\(status.standardError)")

                let dashboard = WorkerFaultTests.Cluster(binary: binary, url: dashboardURL)
                let (completed, owners) = try await dashboard.row("""
                    SELECT count(*) FILTER (WHERE partition_state = 'COMPLETED'), string_agg(DISTINCT owner, ',')
                    FROM batch_dashboard_steps WHERE kind = 'partition'
                    """, as: (Int64, String).self)
                #expect(completed == 4 && !owners.contains(",") && WorkerFaultTests.pid(of: owners) == worker.pid)
                let health = try await dashboard.row("SELECT health FROM batch_dashboard_workers", as: String.self)
                #expect(health == "stopped")
                let views = ["jobs", "steps", "stragglers", "workers", "failures", "skipped_items", "throughput"]
                    .map { "SELECT * FROM batch_dashboard_\($0)" }
                #expect(try await Cluster.sqlStates(views, as: dashboardURL) == Array(repeating: nil, count: views.count))
                // Remote chunks: workers claim and end them, launchers send them, dashboards
                // see them without their items.
                let allowed: [(user: String, statement: String)] = [
                    (workerURL, "SELECT items FROM batch_remote_chunk FOR UPDATE SKIP LOCKED"),
                    (workerURL, "UPDATE batch_remote_chunk SET state = 'DONE' WHERE false"),
                    (launcherURL, "SELECT nextval('batch_remote_chunk_chunk_id_seq')"),
                    (dashboardURL, "SELECT state, attempt, owner, last_error FROM batch_remote_chunk"),
                ]
                for (user, statement) in allowed {
                    #expect(try await Cluster.sqlStates([statement], as: user) == [nil], "\(statement)")
                }

                let refused: [(user: String, statements: [String])] = [
                    (dashboardURL, [
                        "UPDATE batch_worker SET state = 'STOPPED'",
                        "SELECT * FROM batch_job_execution_context",
                        "SELECT * FROM batch_job_execution_params",
                        "INSERT INTO batch_job_instance VALUES (100, 0, 'x', 'x')",
                        "SELECT items FROM batch_remote_chunk",
                    ]),
                    (workerURL, [
                        "INSERT INTO batch_job_instance VALUES (100, 0, 'x', 'x')",
                        "UPDATE batch_job_execution SET status = 'ABANDONED'",
                        "SELECT nextval('batch_job_execution_seq')",
                        "SELECT * FROM batch_dashboard_jobs",
                        "SELECT nextval('batch_remote_chunk_chunk_id_seq')",
                    ]),
                    (launcherURL, ["UPDATE batch_job_instance SET job_name = 'renamed'"]),
                ] + [workerURL, launcherURL, dashboardURL].map { user in
                    // Nobody but the owner drops, alters, empties or deletes.
                    (user, [
                        "DROP TABLE batch_job_execution",
                        "DELETE FROM batch_job_instance",
                        "TRUNCATE batch_partition",
                        "ALTER TABLE batch_worker ADD COLUMN extra integer",
                        "DROP VIEW batch_dashboard_jobs",
                    ])
                }
                for (user, statements) in refused {
                    let states = try await Cluster.sqlStates(statements, as: user)
                    for (statement, state) in zip(statements, states) {
                        #expect(state == .insufficientPrivilege, "\(statement)")
                    }
                }

                // The group roles themselves cannot log in.
                let groupLogin = try logins.url(url, user: "swiftbatch_worker")
                let loginError = await #expect(throws: PostgresError.self) {
                    try await onDedicatedThread { try PostgresConnection(connectionString: groupLogin).close() }
                }
                #expect(loginError?.message.contains("not permitted to log in") == true, "\(String(describing: loginError))")
            }
        } catch {
            try? await logins.drop()
            throw error
        }
        try await logins.drop()
    }
}
