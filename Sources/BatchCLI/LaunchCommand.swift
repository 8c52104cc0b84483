import ArgumentParser
import Batch
import BatchCluster
import BatchPostgres
import PostgresClient
import Foundation
import Logging

struct LaunchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run a job in this process and wait for it to end.",
        discussion: """
            Parameters are written as Spring Batch writes them: name=value[,type[,identifying]], \
            type one of string, long, double, date (or a Java class name), identifying true or \
            false. A job that declares its parameters types untyped values for you (rows=1000 \
            is a long when the job says so).

            The same identifying parameters name the same job instance: a COMPLETED instance is \
            refused (change a parameter, or use --next), a FAILED or STOPPED one restarts where it \
            stopped, a running one is refused.

            Examples:
              swiftbatch launch ledger-seed rows=100000
              swiftbatch launch ledger-etl grid=8 chunk=1000 --local-workers 2
              swiftbatch launch report day=2026-01-31,date --next

            \(ExitCodes.helpText)
            """)

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The job to run (see `swiftbatch jobs`).")
    var job: String

    @Argument(help: "Job parameters, name=value[,type[,identifying]].")
    var parameters: [String] = []

    @Flag(help: "Start a new instance: set run.id to one more than the job's last execution.")
    var next = false

    @Option(name: .customLong("local-workers"), help: "Also run partitions in this process, on N threads (0: leave them to `swiftbatch worker` daemons).")
    var localWorkers: Int = 0

    func validate() throws {
        guard (0...256).contains(localWorkers) else { throw ValidationError("--local-workers must be between 0 and 256") }
    }

    func run() async throws {
        let job = try JobRegistry.job(named: job)
        let given: JobParameters
        do {
            given = try JobParameters(parsing: parameters)
        } catch {
            throw CommandFailure(error.description, exitCode: ExitCodes.usage)
        }
        // Validate before touching the database, so bad input never writes anything.
        do {
            _ = try job.resolveParameters(given)
        } catch let error as JobLaunchError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        let session = try await database.connectChecked(name: "launch")
        await session.close()

        let launcher = JobLauncher(
            repository: PostgresJobRepository(connectionString: database.resolvedURL),
            logger: CLILogging.logger)
        var local: (worker: PartitionWorker, task: Task<Void, any Error>)?
        if localWorkers > 0 {
            let worker = try PartitionWorker(
                jobs: [job],
                configuration: WorkerConfiguration(connectionString: database.resolvedURL, concurrency: localWorkers, leaseSeconds: 15),
                logger: CLILogging.logger)
            local = (worker, Task { try await worker.run() })
        }
        let execution: JobExecution
        do {
            execution = try await launcher.run(job, parameters: given, next: next)
            if let local {
                local.worker.shutdown()
                try await local.task.value
            }
        } catch let error as JobLaunchError {
            if let local {
                local.worker.shutdown()
                _ = try? await local.task.value
            }
            throw CommandFailure(
                error.message,
                exitCode: error.code.isRefusal ? ExitCodes.refused : ExitCodes.usage)
        }
        try await ExecutionReport.print(executionID: execution.id, database: database)
        switch execution.status {
        case .completed: return
        case .stopped: throw ExitCode(ExitCodes.stopped.rawValue)
        default: throw ExitCode(ExitCodes.failed.rawValue)
        }
    }
}
