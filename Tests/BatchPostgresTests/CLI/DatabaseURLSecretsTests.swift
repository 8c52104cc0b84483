import BatchTestSupport
import Foundation
import Testing

/// Where the command line takes the repository's URL from, and that no secret in it is ever
/// printed.
@Suite("Database URL: files and secrets", .timeLimit(.minutes(2)))
struct DatabaseURLSecretsTests {
    /// A server that cannot be reached, with a password and a key passphrase: the failure
    /// names the server, never either secret.
    @Test func anUnreachableRepositoryIsNamedWithoutItsSecrets() async throws {
        let binary = try SwiftBatchBinary()
        for url in [
            "postgres://batch:s3cret-pa55@127.0.0.1:1/jobs?connect_timeout=2&sslpassword=s3cret-key",
            "host=127.0.0.1 port=1 dbname=jobs connect_timeout=2 password=s3cret-pa55 sslpassword=s3cret-key",
        ] {
            let outcome = try await binary.run(["status"], environment: ["DATABASE_URL": url])
            #expect(outcome.exitCode == 5)
            #expect(outcome.standardError.contains("127.0.0.1"), "\(outcome.standardError)")
            #expect(!outcome.standardError.contains("s3cret") && !outcome.standardOutput.contains("s3cret"), "\(outcome.standardError)")
        }
    }

    /// `--database-url-file` (and `DATABASE_URL_FILE`) keep the URL off the command line; a
    /// missing file is a usage error naming it.
    @Test func theURLCanComeFromAFile() async throws {
        let binary = try SwiftBatchBinary()
        try await TestDatabase.withFreshDatabase { url in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("swiftbatch-url-\(UUID().uuidString)")
            try (url + "\n").write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            // Without the file the commands would try port 1, refused at once. No PGCONNECT_TIMEOUT
            // here: it would also bound the real connection, which a loaded CI machine may take
            // longer than 2 s to accept.
            let noURL: [String: String?] = ["DATABASE_URL": nil, "PGHOST": "127.0.0.1", "PGPORT": "1"]
            let migrated = try await binary.run(["migrate", "--database-url-file", file.path], environment: noURL)
            #expect(migrated.exitCode == 0, "\(migrated.standardError)")
            var fromEnvironment = noURL
            fromEnvironment["DATABASE_URL_FILE"] = file.path
            let status = try await binary.run(["status"], environment: fromEnvironment)
            #expect(status.exitCode == 0, "\(status.standardError)")

            let missing = try await binary.run(["status", "--database-url-file", "/nonexistent/url"], environment: noURL)
            #expect(missing.exitCode == 2)
            #expect(missing.standardError.contains("/nonexistent/url"), "\(missing.standardError)")
        }
    }
}
