import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Synchronization
import Testing

@Suite("PostgresJobRepository.withSession", .timeLimit(.minutes(2)))
struct RepositorySessionTests {
    @Test("a database without the schema is a SchemaError, and the body never runs")
    func missingSchema() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let ran = Counter()
            let error = await #expect(throws: SchemaError.self) {
                try await PostgresJobRepository(connectionString: url).withSession { _ in ran.add() }
            }
            #expect(error?.code == .missing)
            #expect(ran.value == 0)
        }
    }

    @Test("the body has the repository's commit setting, and the session is closed after")
    func commitSettingAndClose() async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            let (asynchronous, pid) = try await PostgresJobRepository(connectionString: url).withSession { session in
                let setting = try session.connection.query("SHOW synchronous_commit").single().decode(String.self, column: 0)
                return (setting, session.connection.backendPID)
            }
            #expect(asynchronous == "off")
            let synchronous = try await PostgresJobRepository(connectionString: url, synchronousCommit: true).withSession {
                try $0.connection.query("SHOW synchronous_commit").single().decode(String.self, column: 0)
            }
            #expect(synchronous == "on")
            // The backend ends once the client closed; give it a moment to leave pg_stat_activity.
            var alive = true
            for _ in 0..<50 where alive {
                alive = try await TestDatabase.query(url) {
                    try $0.query("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)").single().decode(Int64.self, column: 0) > 0
                }
                if alive { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!alive)
        }
    }

    @Test("bodies block threads of their own, not the cooperative pool")
    func offTheCooperativePool() async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            // More bodies than the pool has threads, each blocking until all have arrived: on the
            // pool the last ones could never start, so the first ones would give up waiting.
            let bodies = ProcessInfo.processInfo.activeProcessorCount + 2
            let barrier = Barrier(parties: bodies)
            let arrivals = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<bodies {
                    group.addTask {
                        try await PostgresJobRepository(connectionString: url).withSession { _ in
                            barrier.arriveAndWait(timeout: 60)
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(arrivals == Array(repeating: true, count: bodies))
        }
    }

    @Test("cancelling the task cancels the statement the body is running")
    func cancellation() async throws {
        try await TestDatabase.withFreshDatabase { url in
            _ = try await TestDatabase.query(url) { try SchemaMigrations.migrate(on: $0) }
            let backend = Shared<Int32?>(nil)
            let started = Date()
            let task = Task {
                try await PostgresJobRepository(connectionString: url).withSession { session in
                    backend.value = session.connection.backendPID
                    _ = try session.connection.execute("SELECT pg_sleep(60)")
                }
            }
            // Cancel only once the sleep runs: a cancel while the session opens is another case
            // (CancellationError before the body), and one between statements cancels nothing.
            var sleeping = false
            while !sleeping, Date().timeIntervalSince(started) < 30 {
                try await Task.sleep(for: .milliseconds(50))
                guard let pid = backend.value else { continue }
                sleeping = try await TestDatabase.query(url) {
                    try $0.query("""
                        SELECT count(*) FROM pg_stat_activity
                        WHERE pid = \(pid) AND state = 'active' AND query LIKE '%pg_sleep%'
                        """).single().decode(Int64.self, column: 0) == 1
                }
            }
            #expect(sleeping)
            task.cancel()
            let error = await #expect(throws: PostgresError.self) { try await task.value }
            #expect(error?.sqlState == .queryCanceled, "\(String(describing: error))")
            #expect(Date().timeIntervalSince(started) < 45)
        }
    }
}

/// A count shared with a `@Sendable` body.
private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// A value a `@Sendable` body sets and a test reads.
private final class Shared<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value {
        get { storage.withLock { $0 } }
        set { storage.withLock { $0 = newValue } }
    }
}

/// Threads that wait for each other.
private final class Barrier: @unchecked Sendable {
    // Sendable rule: `arrived` is only touched with `condition` locked.
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0

    init(parties: Int) { self.parties = parties }

    /// Blocks until all parties arrived (true) or `timeout` seconds passed (false).
    func arriveAndWait(timeout: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        condition.broadcast()
        while arrived < parties {
            if !condition.wait(until: deadline) { return arrived >= parties }
        }
        return true
    }
}
