import ArgumentParser
import Batch
import BatchPostgres
import PostgresClient

struct StopCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Ask a running execution to stop at its next chunk commit.",
        discussion: """
            The execution becomes STOPPING; its steps finish the chunk in hand, save their \
            checkpoint and end STOPPED. Restart it later with `swiftbatch restart`.

            Example:
              swiftbatch stop 42
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64

    func run() async throws {
        let id = execution
        let status = try await database.withSession(name: "stop") { session in
            try await session.run { try PostgresJobRepositorySession(connection: $0).requestStop(jobExecutionID: id) }
        }
        guard let status else { throw CommandFailure("no job execution \(id)", exitCode: ExitCodes.usage) }
        guard status == .stopping else {
            throw CommandFailure(
                "execution \(id) is \(status.rawValue), not running: nothing to stop", exitCode: ExitCodes.refused)
        }
        print("Execution \(id) is STOPPING: its steps stop at their next commit.")
    }
}

struct AbandonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abandon",
        abstract: "Mark a failed or stopped execution ABANDONED, so it is never restarted.",
        discussion: """
            Example:
              swiftbatch abandon 42
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64

    func run() async throws {
        let id = execution
        let status = try await database.withSession(name: "abandon") { session in
            try await session.run { try PostgresJobRepositorySession(connection: $0).abandon(jobExecutionID: id) }
        }
        guard let status else { throw CommandFailure("no job execution \(id)", exitCode: ExitCodes.usage) }
        guard status == .abandoned else {
            throw CommandFailure(
                "execution \(id) is \(status.rawValue); only FAILED, STOPPED or UNKNOWN executions can be abandoned",
                exitCode: ExitCodes.refused)
        }
        print("Execution \(id) is ABANDONED.")
    }
}

struct RestartCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Run a FAILED or STOPPED execution's instance again, from where it stopped.",
        discussion: """
            Completed steps are skipped; the step that failed resumes from its last committed \
            chunk. Same as launching the job again with the same parameters.

            Example:
              swiftbatch restart 42

            \(ExitCodes.helpText)
            """)

    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The job execution id.") var execution: Int64

    func run() async throws {
        let id = execution
        let found = try await database.withSession(name: "restart") { session in
            try await session.run { try PostgresJobRepositorySession(connection: $0).jobExecution(id: id) }
        }
        guard let found else { throw CommandFailure("no job execution \(id)", exitCode: ExitCodes.usage) }
        guard found.status == .failed || found.status == .stopped else {
            throw CommandFailure(
                "execution \(id) is \(found.status.rawValue); only FAILED or STOPPED executions restart",
                exitCode: ExitCodes.refused)
        }
        var launch = LaunchCommand()
        launch.database = database
        launch.job = found.jobName
        launch.parameters = found.parameters.map { $0.parameter.commandLineArgument(name: $0.name) }
        try await launch.run()
    }
}
