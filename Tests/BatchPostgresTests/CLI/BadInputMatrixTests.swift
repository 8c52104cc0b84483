import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import PostgresClient
import Testing

/// Every bad input a user can give the executable: a clear message naming the problem, the
/// documented exit code, no stack trace, and a repository left as it was.
@Suite("Bad input, one case at a time", .timeLimit(.minutes(2)))
struct BadInputMatrixTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var exitCode: Int32
        var message: String
        var testDescription: String { name }
    }

    static let refusedBeforeAnything: [Case] = [
        Case(name: "unknown job", arguments: ["launch", "no-such-job"], exitCode: 2, message: "ledger-etl"),
        Case(name: "unknown subcommand", arguments: ["frobnicate"], exitCode: 2, message: "Unexpected argument 'frobnicate'"),
        Case(name: "unknown option", arguments: ["launch", "--frob", "ledger-seed", "rows=1"], exitCode: 2, message: "Unknown option '--frob'"),
        Case(name: "bad type", arguments: ["launch", "ledger-seed", "rows=many"], exitCode: 2, message: "\"many\" is not a whole number"),
        Case(
            name: "bad date", arguments: ["launch", "csv-import", "file=x", "day=2026-13-45,date"], exitCode: 2,
            message: "month 13 does not exist"),
        Case(
            name: "duplicate name", arguments: ["launch", "ledger-seed", "rows=1", "rows=2"], exitCode: 2,
            message: "\"rows\" is already given by \"rows=1\""),
        Case(name: "empty name", arguments: ["launch", "ledger-seed", "=5"], exitCode: 2, message: "=5"),
        Case(name: "missing required", arguments: ["launch", "ledger-seed"], exitCode: 2, message: "missing required parameter rows"),
        Case(
            name: "unknown parameter", arguments: ["launch", "ledger-seed", "rows=1", "rowz=2"], exitCode: 2,
            message: "takes no parameter rowz"),
        Case(
            name: "value out of range", arguments: ["launch", "ledger-etl", "chunk=0"], exitCode: 2,
            message: "chunk must be between 1 and 1000000"),
        Case(
            name: "unknown choice", arguments: ["launch", "ledger-etl", "partitioner=random"], exitCode: 2,
            message: "partitioner must be range or balanced, not \"random\""),
        Case(
            name: "a 100 kB parameter", arguments: ["launch", "csv-import", "file=" + String(repeating: "a", count: 100_000)],
            exitCode: 2, message: "the repository keeps at most 2500"),
        Case(name: "unknown execution", arguments: ["status", "424242"], exitCode: 2, message: "424242"),
        Case(name: "restart of an unknown execution", arguments: ["restart", "424242"], exitCode: 2, message: "424242"),
        Case(name: "negative concurrency", arguments: ["worker", "--concurrency", "0"], exitCode: 2, message: "--concurrency"),
    ]

    @Test(arguments: refusedBeforeAnything)
    func refusedBeforeAnythingIsWritten(_ bad: Case) async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let before = try await Self.repositoryRows(url)
            let outcome = try await binary.run(bad.arguments, environment: env)
            #expect(outcome.exitCode == bad.exitCode, "\(outcome.standardError)")
            #expect(outcome.standardError.contains(bad.message), "\(outcome.standardError.prefix(600))")
            Self.expectNoCrash(outcome)
            #expect(try await Self.repositoryRows(url) == before)
        }
    }

    @Test func theDatabaseUnreachableOrTheUserUnknownIsExit5() async throws {
        let binary = try SwiftBatchBinary()
        let unreachable = try await binary.run(["status"], environment: ["DATABASE_URL": "postgres://postgres@127.0.0.1:1/x"])
        #expect(unreachable.exitCode == 5)
        #expect(unreachable.standardError.contains("Connection refused"))
        #expect(unreachable.standardError.contains("hint: check --database-url"))
        Self.expectNoCrash(unreachable)
        let malformed = try await binary.run(["status"], environment: ["DATABASE_URL": "postgres://[::1"])
        #expect(malformed.exitCode == 5 || malformed.exitCode == 2, "\(malformed.standardError)")
        Self.expectNoCrash(malformed)
        try await TestDatabase.withFreshDatabase { url in
            // Same server, a role that does not exist (the private server trusts local users, so a
            // wrong password cannot be shown here; libpq reports it the same way).
            var stranger = try ConnectionString(url)
            stranger["user"] = "nobody"
            stranger["password"] = "not-a-secret"
            let outcome = try await binary.run(["status"], environment: ["DATABASE_URL": stranger.conninfo])
            #expect(outcome.exitCode == 5)
            #expect(outcome.standardError.contains("role \"nobody\" does not exist"), "\(outcome.standardError)")
            #expect(!outcome.standardError.contains("not-a-secret"))
            Self.expectNoCrash(outcome)
        }
    }

    @Test func aSchemaOlderThanTheBinaryIsExit5AndSaysToMigrate() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            try await Self.execute(url, "DELETE FROM swiftbatch_schema_version WHERE version = (SELECT max(version) FROM swiftbatch_schema_version)")
            for arguments in [["launch", "ledger-seed", "rows=1"], ["status"], ["worker"], ["migrate", "--check"]] {
                let outcome = try await binary.run(arguments, environment: env)
                #expect(outcome.exitCode == 5, "\(arguments): \(outcome.standardError)")
                #expect(outcome.standardError.contains("swiftbatch migrate"), "\(arguments): \(outcome.standardError)")
                Self.expectNoCrash(outcome)
            }
            #expect(try await Self.repositoryRows(url) == 0)
        }
    }

    @Test func finishedExecutionsRefuseRestartStopAndAbandonWithExit4() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            #expect(try await binary.run(["launch", "ledger-seed", "rows=10"], environment: env).exitCode == 0)
            let before = try await Self.repositoryRows(url)
            for (arguments, message) in [
                (["launch", "ledger-seed", "rows=10"], "already complete"),
                (["restart", "1"], "only FAILED or STOPPED executions restart"),
                (["stop", "1"], "nothing to stop"),
                (["abandon", "1"], "can be abandoned"),
            ] {
                let outcome = try await binary.run(arguments, environment: env)
                #expect(outcome.exitCode == 4, "\(arguments): \(outcome.standardError)")
                #expect(outcome.standardError.contains(message), "\(arguments): \(outcome.standardError)")
                Self.expectNoCrash(outcome)
            }
            #expect(try await Self.repositoryRows(url) == before)
        }
    }

    @Test func parametersThatLookLikeSQLAreStoredVerbatimAndNeverRun() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            let hostile = "x'); DROP TABLE batch_job_instance; --\"; SELECT pg_sleep(10)"
            let outcome = try await binary.run(["launch", "csv-import", "file=\(hostile)"], environment: env)
            #expect(outcome.exitCode == 1)  // no such file: the step fails, saying so
            #expect(outcome.standardError.contains("check the file= parameter"))
            Self.expectNoCrash(outcome)
            let stored = try await Self.query(url) { db in
                try db.query("SELECT parameter_value FROM batch_job_execution_params WHERE parameter_name = 'file'")
                    .single().decode(String.self, column: 0)
            }
            #expect(stored == hostile)
            #expect(try await Self.repositoryRows(url) > 0)  // batch_job_instance is still there
        }
    }

    @Test func aOneMegabyteParameterIsRefusedByTheLauncherToo() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await Self.execute(url, nil)
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))
            let job = Job("big-parameter", parameters: [.required("note", .string)]) {
                TaskletStep("nothing") { _, _ in .finished }
            }
            let error = await #expect(throws: JobLaunchError.self) {
                try await launcher.run(job, parameters: ["note": .string(String(repeating: "é", count: 1 << 20))])
            }
            #expect(error?.message.contains("parameter note has 1048576 characters") == true, "\(String(describing: error))")
            #expect(try await Self.repositoryRows(url) == 0)
        }
    }

    @Test func aCSVWithMalformedLinesBadBytesAndATruncatedEndIsLoadedExceptThoseLines() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let env: [String: String?] = ["DATABASE_URL": url]
            #expect(try await binary.run(["migrate"], environment: env).exitCode == 0)
            var bytes = Data("id,account_id,amount_cents,currency,created_at,memo\n".utf8)
            bytes += Data("1,10,100,EUR,2026-01-01T00:00:00Z,first\n".utf8)
            bytes += Data("2,10,not-a-number,EUR,2026-01-01T00:00:00Z,bad amount\n".utf8)
            bytes += Data("3,10,300,EUR,2026-01-01T00:00:00Z,bad bytes ".utf8) + Data([0xFF, 0xFE]) + Data("\n".utf8)
            bytes += Data("4,10,400,USD,2026-01-01T00:00:00Z,fourth\n".utf8)
            bytes += Data("5,10,500,GBP,2026-01-01T00:00:00Z,\"unterminated".utf8)  // the file ends mid-line
            let path = NSTemporaryDirectory() + "bad-input-\(UUID().uuidString).csv"
            try bytes.write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }

            let outcome = try await binary.run(["launch", "csv-import", "file=\(path)"], environment: env)
            #expect(outcome.exitCode == 0, "\(outcome.standardError)")
            Self.expectNoCrash(outcome)
            let (loaded, skipped) = try await Self.query(url) { db in
                let loaded = try db.query("SELECT id FROM csv_import ORDER BY id").map { try $0.decode(Int64.self, column: 0) }
                let skipped = try db.query("SELECT item_key FROM batch_skipped_item ORDER BY item_key")
                    .map { try $0.decode(String.self, column: 0) }
                return (loaded, skipped)
            }
            #expect(loaded == [1, 4])
            #expect(skipped.count == 3, "\(skipped)")
            #expect(skipped.contains { $0.contains("line 6") }, "\(skipped)")  // the truncated last line
        }
    }

    // MARK: - Helpers

    static func expectNoCrash(_ outcome: SwiftBatchBinary.Outcome, sourceLocation: SourceLocation = #_sourceLocation) {
        for sign in ["Fatal error", "Stack dump", "Current stack trace", "SIGSEGV", "SIGILL"] {
            #expect(!outcome.standardError.contains(sign), "\(outcome.standardError)", sourceLocation: sourceLocation)
        }
    }

    /// Rows in the repository's tables of instances and executions (0 when never written).
    static func repositoryRows(_ url: String) async throws -> Int64 {
        try await query(url) { db in
            try db.query("""
                SELECT (SELECT count(*) FROM batch_job_instance) + (SELECT count(*) FROM batch_job_execution)
                     + (SELECT count(*) FROM batch_step_execution) + (SELECT count(*) FROM batch_partition)
                """).single().decode(Int64.self, column: 0)
        }
    }

    /// Migrates, then runs `sql` when given.
    static func execute(_ url: String, _ sql: String?) async throws {
        try await query(url) { db in
            try SchemaMigrations.migrate(on: db)
            if let sql { try db.execute(PostgresQuery(unsafeSQL: sql)) }
        }
    }

    static func query<T: Sendable>(_ url: String, _ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await TestDatabase.query(url, body)
    }
}
