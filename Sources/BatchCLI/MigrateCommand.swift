import ArgumentParser
import Batch
import BatchPostgres
import PostgresClient

struct MigrateCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        let app = ApplicationName.current
        return CommandConfiguration(
            commandName: "migrate",
            abstract: "Create or upgrade the job repository's schema, then the application's own.",
            discussion: """
                Applies the framework's migrations this binary carries that the database lacks, then \
                the application's own migrations (given to SwiftBatchCLI.main), in order, all in one \
                transaction: a failure keeps nothing of the run. Running it again changes nothing; \
                several processes may run it at once (they take turns on an advisory lock). An \
                application migration already applied must never change: migrate refuses when its SQL \
                differs from what was applied. Other commands refuse to run on a database whose schema \
                (or application migrations) is missing or of another version, and say to run this.

                Example:
                  \(app) migrate --database-url postgres://batch@db.internal/jobs
                  \(app) migrate --check     # exit 0 if current, 5 if not; changes nothing

                \(ExitCodes.helpText)
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Flag(
        help: """
            Only report the schema version and the application's migrations, and check that the applied \
            ones are unchanged; change nothing (exit 5 when a migration is due or one changed).
            """)
    var check = false

    func run() async throws {
        try await database.withSession(name: "migrate", checked: false) { session in
            try await migrate(session)
        }
    }

    private func migrate(_ session: PostgresSession) async throws {
        let application = ApplicationMigrations.registered
        if check {
            try await report(session, application)
            return
        }
        let report: MigrationReport
        do {
            report = try await session.run { try SchemaMigrations.migrate(on: $0, application: application) }
        } catch let error as SchemaError {
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        }
        if report.applied.isEmpty {
            print("The job repository's schema is current (version \(report.version)); nothing to do.")
        } else {
            let list = report.applied.map(String.init).joined(separator: ", ")
            print("Migrated the job repository to version \(report.version) (applied \(list)).")
        }
        if let done = report.application {
            if done.applied.isEmpty {
                print("The migrations of \(done.namespace) are current (\(done.version)); nothing to do.")
            } else {
                let list = done.applied.map(String.init).joined(separator: ", ")
                print("Applied the migrations of \(done.namespace) to \(done.version) (applied \(list)).")
            }
        }
    }

    /// `--check`: what is installed, and whether anything is due or changed.
    private func report(_ session: PostgresSession, _ application: ApplicationMigrations?) async throws {
        let app = ApplicationName.current
        let latest = SchemaMigrations.latestVersion
        let installed = try await session.run { try SchemaMigrations.installedVersion(on: $0) }
        guard let installed else {
            throw CommandFailure(
                "no SwiftBatch schema in this database (this binary needs version \(latest)): run `\(app) migrate`",
                exitCode: ExitCodes.unavailable)
        }
        guard installed == latest else {
            throw CommandFailure(
                "schema version \(installed), this binary needs \(latest): run `\(app) migrate`",
                exitCode: ExitCodes.unavailable)
        }
        print("The job repository's schema is current (version \(installed)).")
        guard let application else { return }
        let applied: Int
        do {
            applied = try await session.run { try SchemaMigrations.verifyApplication(application, $0) }
        } catch let error as SchemaError {
            throw CommandFailure(error.message, exitCode: ExitCodes.unavailable)
        }
        for (index, migration) in application.migrations.enumerated() {
            print("  \(application.namespace) \(index + 1) \(migration.name): \(index < applied ? "applied" : "pending")")
        }
        guard applied == application.latestVersion else {
            throw CommandFailure(
                "\(application.latestVersion - applied) of the \(application.latestVersion) migrations of "
                    + "\(application.namespace) are pending: run `\(app) migrate`",
                exitCode: ExitCodes.unavailable)
        }
        print("The migrations of \(application.namespace) are current (\(applied)).")
    }
}
