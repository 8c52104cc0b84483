import BatchTestSupport
import PostgresClient
import Testing

/// `swiftbatch migrate` run as a user would: the real executable, in its own process.
@Suite("swiftbatch migrate (the executable)", .timeLimit(.minutes(2)))
struct MigrateCommandTests {
    @Test func migrateCheckAndRepeat() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let before = try await binary.run(["migrate", "--check", "--database-url", url])
            #expect(before.exitCode == 5)
            #expect(before.standardError.contains("run `swiftbatch migrate`"))

            let first = try await binary.run(["migrate", "--database-url", url])
            #expect(first.exitCode == 0, "\(first.standardError)")
            #expect(first.standardOutput.contains("Migrated the job repository to version"))
            #expect(first.standardError.isEmpty, "no server notices leak: \(first.standardError)")

            // Twice at once, then again: nothing changes, nothing fails.
            async let a = binary.run(["migrate", "--database-url", url])
            async let b = binary.run(["migrate", "--database-url", url])
            let (x, y) = try await (a, b)
            #expect(x.exitCode == 0 && y.exitCode == 0)
            #expect(x.standardOutput.contains("nothing to do") && y.standardOutput.contains("nothing to do"))

            let check = try await binary.run(["migrate", "--check"], environment: ["DATABASE_URL": url])
            #expect(check.exitCode == 0)
        }
    }

    @Test func libpqEnvironmentIsUsedWhenNoURLIsGiven() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let parts = try ConnectionString(url)
            let outcome = try await binary.run(["migrate"], environment: [
                "DATABASE_URL": nil,
                "PGHOST": parts["host"] ?? parts["hostaddr"], "PGPORT": parts["port"],
                "PGUSER": parts["user"], "PGDATABASE": parts["dbname"],
            ])
            #expect(outcome.exitCode == 0, "\(outcome.standardError)")
            #expect(outcome.standardOutput.contains("Migrated"))
        }
    }

    @Test func badInputGetsAClearErrorAndDocumentedCode() async throws {
        let binary = try SwiftBatchBinary()
        let unreachable = try await binary.run(["migrate", "--database-url", "postgres://batch:hunter2@127.0.0.1:1/jobs?connect_timeout=3"])
        #expect(unreachable.exitCode == 5)
        #expect(unreachable.standardError.contains("cannot connect to the job repository"))
        #expect(!unreachable.standardError.contains("hunter2"))

        let malformed = try await binary.run(["migrate", "--database-url", "postgres://x/y?nonsense=1"])
        #expect(malformed.exitCode == 2)
        #expect(malformed.standardError.contains("malformed"))

        let unknownCommand = try await binary.run(["frobnicate"])
        #expect(unknownCommand.exitCode == 2)
        let unknownOption = try await binary.run(["migrate", "--frobnicate"])
        #expect(unknownOption.exitCode == 2)
        #expect(unknownOption.standardError.contains("--frobnicate"))

        let help = try await binary.run(["migrate", "--help"])
        #expect(help.exitCode == 0)
        #expect(help.standardOutput.contains("Example:"))
    }
}
