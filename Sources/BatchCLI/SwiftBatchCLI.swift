import ArgumentParser
import Batch
import BatchPostgres
import Foundation
import PostgresClient

#if canImport(Glibc)
import Glibc
#endif

/// The `swiftbatch` command line, ready for any executable to run.
public enum SwiftBatchCLI {
    /// Turns `jobs` into the full command line: parses the process's arguments, runs the
    /// command, and exits with a documented code. Call it from your executable's entry point.
    ///
    /// - Parameters:
    ///   - name: The application's name, used in usage, help, hints, errors and log labels
    ///     (`billing migrate`). By default the executable's file name (`argv[0]`'s last part).
    ///   - jobs: The jobs the executable offers.
    ///   - migrations: The application's own schema migrations, applied by `migrate` after the
    ///     framework's (see `ApplicationMigrations`); every other command then also checks
    ///     that they are applied.
    ///   - arguments: The arguments to parse instead of the process's (without `argv[0]`).
    public static func main(
        name: String? = nil, jobs: [Job], migrations: ApplicationMigrations? = nil, arguments: [String]? = nil
    ) async -> Never {
        ApplicationName.set(name ?? executableName())
        ApplicationMigrations.register(migrations)
        JobRegistry.register(jobs)
        do {
            var command = try RootCommand.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            exit(0)
        } catch let failure as CommandFailure {
            printError("error: \(failure.message)")
            exit(failure.exitCode.rawValue)
        } catch let error as SchemaError {
            printError("error: \(error.message)")
            exit(ExitCodes.unavailable.rawValue)
        } catch let error as PostgresError {
            // Anything a command did not translate: still one line, never a stack trace.
            printError("error: \(error)")
            exit(error.isConnectionLost ? ExitCodes.unavailable.rawValue : ExitCodes.failed.rawValue)
        } catch {
            let code = RootCommand.exitCode(for: error)
            let message = RootCommand.fullMessage(for: error)
            if code == .success {
                print(message)
                exit(0)
            }
            printError(message)
            // ArgumentParser reports bad usage as 64 (EX_USAGE); ours is 2.
            exit(code == .validationFailure ? ExitCodes.usage.rawValue : code.rawValue)
        }
    }

    /// The executable's file name, as the user typed it (`argv[0]` without its directory).
    static func executableName() -> String {
        let path = CommandLine.arguments.first ?? ""
        let base = path.split(separator: "/").last.map(String.init) ?? ""
        return base.isEmpty ? "swiftbatch" : base
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}

struct RootCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: ApplicationName.current,
            abstract: "Batch jobs in Swift, with a PostgreSQL job repository.",
            discussion: """
                The job repository is found through --database-url, else --database-url-file, else \
                $DATABASE_URL, else the file $DATABASE_URL_FILE names, else libpq's PG* variables. \
                Daemons should take it from a file or the environment: a command line shows in `ps`. \
                Passwords (password, sslpassword) are never printed.

                Example:
                  export DATABASE_URL=postgres://batch@localhost/jobs
                  \(ApplicationName.current) migrate

                \(ExitCodes.helpText)
                """,
            subcommands: [
                MigrateCommand.self, JobsCommand.self, LaunchCommand.self, WorkerCommand.self, StatusCommand.self,
                StopCommand.self, RestartCommand.self, AbandonCommand.self, RecoverCommand.self, PruneCommand.self,
                DashboardCommand.self,
            ])
    }
}
