import ArgumentParser
import Batch
import BatchPostgres

struct StopCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "stop",
            abstract: "Ask a running execution to stop at its next chunk commit.",
            discussion: """
                The execution becomes STOPPING; its steps finish the chunk in hand, save their \
                checkpoint and end STOPPED. Restart it later with `\(ApplicationName.current) restart`.

                Example:
                  \(ApplicationName.current) stop 42
                """)
    }

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64

    func run() async throws {
        try await changeStatus(database, execution, wanted: .stopping, refusal: "not running: nothing to stop") {
            try $0.requestStop(jobExecutionID: $1)
        }
        print("Execution \(execution) is STOPPING: its steps stop at their next commit.")
    }
}

/// Runs an operator's status change and turns "not found" and "not in that state" into the
/// documented exit codes.
private func changeStatus(
    _ database: DatabaseOptions, _ id: Int64, wanted: BatchStatus, refusal: String,
    _ change: @escaping @Sendable (PostgresJobRepositorySession, Int64) throws -> BatchStatus?
) async throws {
    let status = try await database.withRepositorySession { try change($0, id) }
    guard let status else { throw CommandFailure("no job execution \(id)", exitCode: ExitCodes.usage) }
    guard status == wanted else {
        throw CommandFailure("execution \(id) is \(status.rawValue), \(refusal)", exitCode: ExitCodes.refused)
    }
}

struct AbandonCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "abandon",
            abstract: "Mark a failed or stopped execution ABANDONED, so it is never restarted.",
            discussion: """
                Example:
                  \(ApplicationName.current) abandon 42
                """)
    }

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64

    func run() async throws {
        try await changeStatus(
            database, execution, wanted: .abandoned,
            refusal: "and only FAILED, STOPPED or UNKNOWN executions can be abandoned"
        ) { try $0.abandon(jobExecutionID: $1) }
        print("Execution \(execution) is ABANDONED.")
    }
}

struct RestartCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: "restart",
            abstract: "Run a FAILED or STOPPED execution's instance again, from where it stopped.",
            discussion: """
                Completed steps are skipped; the step that failed resumes from its last committed \
                chunk. Same as launching the job again with the same parameters. Progress and \
                Ctrl-C work as for `launch` (see `\(ApplicationName.current) launch --help`).

                Examples:
                  \(ApplicationName.current) restart 42
                  \(ApplicationName.current) restart 42 --local-workers 2

                \(ExitCodes.helpText)
                """)
    }

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64
    @OptionGroup var options: LaunchOptions

    func run() async throws {
        let id = execution
        let found = try await database.withRepositorySession { try $0.jobExecution(id: id) }
        guard let found else { throw CommandFailure("no job execution \(id)", exitCode: ExitCodes.usage) }
        guard found.status == .failed || found.status == .stopped else {
            throw CommandFailure(
                "execution \(id) is \(found.status.rawValue); only FAILED or STOPPED executions restart",
                exitCode: ExitCodes.refused)
        }
        let job = try JobRegistry.job(named: found.jobName)
        try await LaunchCommand.launch(job, found.parameters, next: false, options: options, database: database)
    }
}
