import ArgumentParser
import BatchPostgres
import PostgresClient

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Create or upgrade the job repository's schema.",
        discussion: """
            Applies the migrations this binary carries (sql/migrations) that the database lacks, \
            in one transaction. Running it again changes nothing; several processes may run it \
            at once (they take turns on an advisory lock). Other commands refuse to run on a \
            database whose schema is missing or of another version, and say to run this.

            Example:
              swiftbatch migrate --database-url postgres://batch@db.internal/jobs
              swiftbatch migrate --check     # exit 0 if current, 5 if not

            \(ExitCodes.helpText)
            """)

    @OptionGroup var database: DatabaseOptions

    @Flag(help: "Only report the schema version; change nothing (exit 5 when a migration is due).")
    var check = false

    func run() async throws {
        try await database.withSession(name: "migrate", checked: false) { session in
            try await migrate(session)
        }
    }

    private func migrate(_ session: PostgresSession) async throws {
        let latest = SchemaMigrations.latestVersion
        if check {
            let installed = try await session.run { try SchemaMigrations.installedVersion(on: $0) }
            guard let installed else {
                throw CommandFailure(
                    "no SwiftBatch schema in this database (this binary needs version \(latest)): run `swiftbatch migrate`",
                    exitCode: ExitCodes.unavailable)
            }
            guard installed == latest else {
                throw CommandFailure(
                    "schema version \(installed), this binary needs \(latest): run `swiftbatch migrate`",
                    exitCode: ExitCodes.unavailable)
            }
            print("The job repository's schema is current (version \(installed)).")
            return
        }
        let report: MigrationReport
        do {
            report = try await session.run { try SchemaMigrations.migrate(on: $0) }
        } catch let error as SchemaError {
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        }
        if report.applied.isEmpty {
            print("The job repository's schema is current (version \(report.version)); nothing to do.")
        } else {
            let list = report.applied.map(String.init).joined(separator: ", ")
            print("Migrated the job repository to version \(report.version) (applied \(list)).")
        }
    }
}
