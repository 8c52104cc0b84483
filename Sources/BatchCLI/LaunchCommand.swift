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
            stopped, a running one is refused while its launcher lives.

            The launcher heartbeats its execution. If it dies (kill -9, lost host) the workers \
            carry on; launching the same instance again once its lease has run out attaches to \
            the running execution and waits for it: no partition is created or run twice. An \
            execution that was running a step inside the dead launcher is failed and restarted \
            from its checkpoint instead.

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

    @OptionGroup var options: LaunchOptions

    func run() async throws {
        let job = try JobRegistry.job(named: job)
        let given: JobParameters
        do {
            given = try JobParameters(parsing: parameters)
        } catch {
            throw CommandFailure(error.description, exitCode: ExitCodes.usage)
        }
        try await Self.launch(job, given, next: next, options: options, database: database)
    }

    /// Launches `job` (validating the parameters before touching the database), reports the
    /// execution, and throws the exit code its status calls for. `restart` comes here too.
    static func launch(
        _ job: Job, _ given: JobParameters, next: Bool, options: LaunchOptions, database: DatabaseOptions
    ) async throws {
        let localWorkers = options.localWorkers
        do {
            _ = try job.resolveParameters(given)
        } catch let error as JobLaunchError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        let session = try await database.connectChecked(name: "launch")
        await session.close()

        let launcher = JobLauncher(
            repository: PostgresJobRepository(connectionString: database.resolvedURL),
            logger: CLILogging.logger, leaseSeconds: options.leaseSeconds)
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

/// How a launch runs: shared by `launch` and `restart`.
struct LaunchOptions: ParsableArguments {
    @Option(
        name: .customLong("local-workers"),
        help: "Also run partitions in this process, on N threads (0: leave them to `swiftbatch worker` daemons).")
    var localWorkers: Int = 0

    @Option(
        name: .customLong("lease-seconds"),
        help: """
            How long this launcher may be silent before a later launch of the same instance may \
            attach to its execution (it heartbeats every third of this).
            """)
    var leaseSeconds: Int = 30

    func validate() throws {
        guard (0...256).contains(localWorkers) else { throw ValidationError("--local-workers must be between 0 and 256") }
        guard (1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be between 1 and 3600") }
    }
}
