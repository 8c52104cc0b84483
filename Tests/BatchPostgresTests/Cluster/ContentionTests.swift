import BatchTestSupport
import Foundation
import PostgresClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Many processes at once on one repository: the real executable, as many copies as a busy
/// cluster would start.
@Suite("Contention: many processes at once", .timeLimit(.minutes(3)))
struct ContentionTests {
    @Test func sixteenMigrationsAtOnceMakeOneSchema() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            let outcomes = try await withThrowingTaskGroup(of: SwiftBatchBinary.Outcome.self) { group in
                for _ in 0..<16 { group.addTask { try await binary.run(["migrate"], environment: env) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.allSatisfy { $0.exitCode == 0 }, "\(outcomes.map(\.standardError))")
            // Exactly one of them applied the migrations; the others found them done.
            #expect(outcomes.filter { $0.standardOutput.contains("Migrated") }.count == 1, "\(outcomes.map(\.standardOutput))")
            let (versions, distinct) = try await Self.query(url) { db in
                try db.query("SELECT count(*), count(DISTINCT version) FROM swiftbatch_schema_version")
                    .single().decode((Int64, Int64).self)
            }
            #expect(versions == distinct && versions >= 6)
            #expect(try await binary.run(["migrate", "--check"], environment: env).exitCode == 0)
        }
    }

    @Test func eightWorkersOfFourShareTwoThousandPartitionsFairlyAndWithinTheirConnections() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let workers = try (0..<8).map { _ in try binary.start(["worker", "--concurrency", "4"], environment: env) }
            // Every worker registered before the work appears, so each can get its share.
            try await waitFor("8 workers RUNNING", timeout: .seconds(60), poll: .milliseconds(50)) {
                try await Self.query(url) { db in
                    try db.query("SELECT count(*) FROM batch_worker WHERE state = 'RUNNING'").single().decode(Int64.self, column: 0)
                } >= 8
            }

            let launcher = try binary.start(["launch", "noop-partitions", "partitions=2000"], environment: env)
            // Each worker stays within what the README promises: 1 + concurrency connections
            // (workers name their sessions "swiftbatch worker <id>").
            var peak: Int64 = 0
            while launcher.isRunning {
                let now = try await Self.query(url) { db in
                    try db.query("""
                        SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM pg_stat_activity
                        WHERE datname = current_database() AND application_name LIKE 'swiftbatch worker %'
                        GROUP BY application_name) per_worker
                        """).single().decode(Int64.self, column: 0)
                }
                peak = max(peak, now)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await launcher.wait() == 0, "\(launcher.output)")
            #expect(peak >= 2 && peak <= 1 + 4, "a worker held \(peak) connections at once")

            let (completed, claimedOnce, owners, fewest) = try await Self.query(url) { db in
                try db.query("""
                    SELECT count(*) FILTER (WHERE state = 'COMPLETED'), count(*) FILTER (WHERE attempt = 1),
                           count(DISTINCT owner),
                           (SELECT min(n) FROM (SELECT count(*) AS n FROM batch_partition GROUP BY owner) per_worker)
                    FROM batch_partition
                    """).single().decode((Int64, Int64, Int64, Int64).self)
            }
            #expect(completed == 2000)
            // No partition was claimed twice (nothing failed, so a second claim would mean two
            // workers had it), and no worker was starved.
            #expect(claimedOnce == 2000)
            #expect(owners == 8)
            #expect(fewest >= 20, "the least busy worker ran \(fewest) partitions")
            for worker in workers { worker.send(SIGTERM) }
            for worker in workers { #expect(try await worker.wait() == 0) }
        }
    }

    static func query<T: Sendable>(_ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await TestDatabase.query(url, body)
    }
}
