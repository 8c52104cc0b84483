import BatchDashboard
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

/// The dashboard under `sql/roles.sql`: its pages with a login of swiftbatch_dashboard, its
/// actions with a login of swiftbatch_launcher, and no more.
@Suite(.timeLimit(.minutes(2)))
struct DashboardRolesTests {
    @Test("pages read as swiftbatch_dashboard, actions run and are recorded as swiftbatch_launcher")
    func roles() async throws {
        let suffix = UInt32.random(in: 0...UInt32.max)
        let (reader, operatorLogin) = ("sb_test_dash_reader_\(suffix)", "sb_test_dash_operator_\(suffix)")
        // Roles belong to the server: dropped once the test's database is gone, whatever happened.
        func dropLogins() async throws {
            let admin = try await PostgresSession.connect(to: TestDatabase.serverURL, name: "test-admin")
            for user in [reader, operatorLogin] { try await admin.run { try $0.execute("DROP ROLE IF EXISTS \(identifier: user)") } }
            await admin.close()
        }
        do {
            try await run(reader: reader, operatorLogin: operatorLogin)
        } catch {
            try? await dropLogins()
            throw error
        }
        try await dropLogins()
    }

    func run(reader: String, operatorLogin: String) async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await DashboardHarness.seed(url, executions: 100)
            let roles = try String(
                contentsOf: DashboardHarness.root.appendingPathComponent("sql/roles.sql"), encoding: .utf8)
            try await TestDatabase.query(url) { db in
                try db.unsafeExecuteScript(roles)
                try db.execute("CREATE ROLE \(identifier: reader) LOGIN IN ROLE swiftbatch_dashboard")
                try db.execute("CREATE ROLE \(identifier: operatorLogin) LOGIN IN ROLE swiftbatch_launcher")
            }
            func login(_ user: String) throws -> String {
                var target = try ConnectionString(url)
                target["user"] = user
                target["password"] = nil
                return target.conninfo
            }
            var configuration = DashboardHarness.configuration(try login(reader))
            configuration.operatorDatabaseURL = try login(operatorLogin)
            try await DashboardHarness.serve(configuration) { client in
                let running = try await DashboardHarness.execution(url, status: "STARTED")
                for path in ["/executions", "/executions/\(running)", "/executions/\(running)/partitions?step=transform", "/workers", "/jobs", "/audit"] {
                    #expect(try await client.get(path).status == 200, "\(path)")
                }
                let page = try await client.get("/executions/\(running)").text
                #expect(page.contains("Hidden: the dashboard"), "the dashboard role may not read job parameters")

                let stop = try await client.post("/executions/\(running)/stop", fields: ["csrf": try await client.csrfToken()])
                #expect(stop.status == 303, "\(stop.text)")
                #expect(try await DashboardHarness.status(url, running) == "STOPPING")
                let audit = try await DashboardHarness.audit(url)
                #expect(audit.count == 1 && audit.first?.action == "stop")
                #expect(try await client.get("/audit").text.contains("is STOPPING"), "the dashboard role reads the audit")
            }
            // The pages' login can write nothing, even by mistake.
            let refused: SQLState? = try await TestDatabase.query(try login(reader)) { db in
                do {
                    try db.execute("UPDATE batch_job_execution SET status = 'FAILED' WHERE job_execution_id = 1")
                    return nil
                } catch let error as PostgresError {
                    return error.sqlState
                }
            }
            #expect(refused == "42501")
        }
    }
}
