import Batch
import BatchDashboard
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import ServiceLifecycle
import PostgresClient
import Synchronization

/// A fresh repository with a short generated history, and a dashboard over it.
enum DashboardHarness {
    static let operatorAuth = basic("alice", "alice-secret-123")
    static let viewerAuth = basic("vic", "viewer-secret-123")
    static let users = try! DashboardUsers(
        parsing: "alice:alice-secret-123:operator\nvic:viewer-secret-123:viewer\n", source: "test users")

    static func basic(_ user: String, _ secret: String) -> String {
        "Basic " + Data("\(user):\(secret)".utf8).base64EncodedString()
    }

    /// The repository's root in the source tree (for sql/bench).
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Migrates `url` and appends `executions` generated executions (plus one running partitioned one).
    static func seed(_ url: String, executions: Int) async throws {
        let script = try String(contentsOf: root.appendingPathComponent("sql/bench/dashboard-history.sql"), encoding: .utf8)
        try await TestDatabase.query(url) { db in
            try SchemaMigrations.migrate(on: db)
            try db.unsafeExecuteScript(script)
            try db.query("SELECT pg_temp.generate_history(\(Int64(executions)))")
        }
    }

    /// A job that ticks every 50 ms (one chunk, 10 items, a tick) until it did `ticks` or is stopped.
    static let slowJob = Job(
        "slow", summary: "Ticks until stopped (tests).",
        parameters: [.optional("ticks", .long, default: .long(400), help: "how many ticks")]
    ) {
        TaskletStep("tick") { contribution, chunk in
            let done = (contribution.context.int("ticks.done") ?? 0) + 1
            contribution.context["ticks.done"] = .int(done)
            contribution.counts.read += 10
            contribution.counts.write += 10
            Thread.sleep(forTimeInterval: 0.05)
            return done >= (chunk.parameters.long("ticks") ?? 400) ? .finished : .continuable
        }
    }

    static func configuration(_ url: String, openRead: Bool = false) -> DashboardConfiguration {
        DashboardConfiguration(host: "127.0.0.1", port: 0, databaseURL: url, users: users, openRead: openRead, jobs: [slowJob])
    }

    /// Runs `body` with a dashboard serving a fresh, seeded repository on a free port.
    static func withDashboard(
        executions: Int = 100, openRead: Bool = false,
        _ body: @escaping @Sendable (String, TestHTTPClient) async throws -> Void
    ) async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await seed(url, executions: executions)
            try await serve(configuration(url, openRead: openRead)) { client in try await body(url, client) }
        }
    }

    /// Runs the dashboard as a service under a ServiceGroup (as `swiftbatch dashboard` does)
    /// while `body` runs, then shuts it down gracefully.
    static func serve(_ configuration: DashboardConfiguration, _ body: (TestHTTPClient) async throws -> Void) async throws {
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let service = DashboardService(configuration: configuration) { port in sink.yield(port) }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [service], logger: Logger(label: "test")))
        let server = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await server.value
            throw HarnessError("the dashboard did not start")
        }
        do {
            try await body(TestHTTPClient(port: port))
        } catch {
            await group.triggerGracefulShutdown()
            _ = await server.result
            throw error
        }
        await group.triggerGracefulShutdown()
        try await server.value
    }

    /// The newest execution whose status is `status`.
    static func execution(_ url: String, status: String) async throws -> Int64 {
        try await TestDatabase.query(url) { db in
            try db.query("SELECT max(job_execution_id) FROM batch_job_execution WHERE status = \(status)").single()
                .decode(Int64.self, column: 0)
        }
    }

    static func status(_ url: String, _ id: Int64) async throws -> String {
        try await TestDatabase.query(url) { db in
            try db.query("SELECT status FROM batch_job_execution WHERE job_execution_id = \(id)").single().decode(String.self, column: 0)
        }
    }

    static func audit(_ url: String) async throws -> [(actor: String, action: String, execution: Int64?, outcome: String)] {
        try await TestDatabase.query(url) { db in
            try db.query("SELECT actor, action, job_execution_id, outcome FROM batch_operator_action ORDER BY action_id").map {
                (try $0.decode(String.self, column: 0), try $0.decode(String.self, column: 1),
                 try $0.decode(Int64?.self, column: 2), try $0.decode(String.self, column: 3))
            }
        }
    }
}

