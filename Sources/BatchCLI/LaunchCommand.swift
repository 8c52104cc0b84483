import ArgumentParser
import Batch
import BatchCluster
import BatchHTTP
import BatchPostgres
import Dispatch
import Foundation
import Logging
import PostgresClient

#if canImport(Glibc)
import Glibc
#endif

struct LaunchCommand: AsyncParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
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

                Progress: on a terminal, one line on stderr redrawn every second (partitions done/total, \
                items read and written, items/s, elapsed, ETA from the partitions, failed partitions), \
                kept below the log lines; otherwise a plain `progress:` line every 5 s and when a step \
                starts or ends. \
                --progress json prints one JSON object a line; -q/--no-progress shows none. It is read \
                from the repository (one query a second on its own connection, further apart when a read is costly), so it never slows the job.

                Ctrl-C detaches, it stops nothing: local workers (--local-workers) hand their partitions \
                back (ready, checkpoint kept), and the launch exits 130 after saying how to watch \
                (`\(ApplicationName.current) status <id> --watch`), re-attach or stop (`\(ApplicationName.current) stop <id>`) the \
                execution. An execution awaiting a partitioned step goes on in the workers, and this \
                launcher releases its lease, so launching the same instance again attaches at once. A \
                step running inside this process cannot outlive it: the execution is marked FAILED at \
                once (its committed chunks kept) and `\(ApplicationName.current) restart <id>` resumes it from its last \
                commit. A second Ctrl-C exits at once (130) without any of this; the lease then runs out \
                and the next launch or `\(ApplicationName.current) recover` takes care of the execution. If the \
                execution had ended meanwhile, the launch exits with its code as usual. SIGTERM is not \
                caught: the launcher dies as with kill -9 (see above).

                --metrics-port PORT serves this launcher's Prometheus metrics (spring_batch_job, \
                spring_batch_step, and the chunks of steps it runs itself), /health and /ready (200 \
                while its heartbeat renews; see docs/OPERATIONS.md).

                Examples:
                \(HelpExamples.launch)

                \(ExitCodes.helpText)
                """)
    }

    @OptionGroup var database: DatabaseOptions

    @Argument(help: "The job to run (see `\(ApplicationName.current) jobs`).")
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
        options.metrics.bootstrapIfAsked()
        do {
            _ = try job.resolveParameters(given)
        } catch let error as JobLaunchError {
            throw CommandFailure(error.message, exitCode: ExitCodes.usage)
        }
        // Fails early, as the other commands do, when the database is unreachable or its schema is not ours.
        try await database.withRepositorySession { _ in }

        var repository = PostgresJobRepository(connectionString: database.resolvedURL, synchronousCommit: options.synchronousCommit)
        repository.deadPeerDetection = DeadPeerDetection(timeout: .seconds(options.leaseSeconds))
        let launcher = JobLauncher(
            repository: repository,
            logger: CLILogging.logger, lease: .seconds(options.leaseSeconds))
        var local: (worker: PartitionWorker, task: Task<Void, any Error>, done: DispatchSemaphore)?
        if localWorkers > 0 {
            let worker = try PartitionWorker(
                jobs: [job],
                configuration: WorkerConfiguration(
                    connectionString: database.resolvedURL, concurrency: localWorkers, lease: .seconds(options.leaseSeconds),
                    synchronousCommit: options.synchronousCommit),
                logger: CLILogging.logger)
            let done = DispatchSemaphore(value: 0)
            local = (worker, Task {
                defer { done.signal() }
                try await worker.run()
            }, done)
        }
        let localWorker = local?.worker
        let lease = Duration.seconds(options.leaseSeconds)
        let endpoint = options.metrics.endpoint(logger: CLILogging.logger) {
            LaunchReadiness.now(localWorker: localWorker?.health, lease: lease)
        }
        let endpointTask = endpoint.map { endpoint in Task { try await endpoint.runUntilCancelled() } }
        defer { endpointTask?.cancel() }
        let mode = options.progress.resolved
        let monitor = mode == .off ? nil : ProgressMonitor(connectionString: database.resolvedURL, mode: mode)
        let detacher = LaunchDetacher(
            job: job, database: database, localWorkers: localWorkers, monitor: monitor,
            local: local.map { ($0.worker, $0.done) })
        let signals = SignalHandler(
            signals: [SIGINT],
            notice: "\(ApplicationName.current): interrupted: detaching from the execution, which is not stopped (Ctrl-C again to exit at once)"
        ) { detacher.detach() }
        let execution: JobExecution
        do {
            execution = try await launcher.run(job, parameters: given, next: next) { execution, identity in
                monitor?.follow(execution.id)
                detacher.started(execution, identity)
            }
            if detacher.isDetaching { await detacher.parkUntilExit() }
            signals.cancel()
            monitor?.stop()
            if let local {
                local.worker.shutdown()
                try await local.task.value
            }
        } catch let error as JobLaunchError {
            if detacher.isDetaching { await detacher.parkUntilExit() }
            signals.cancel()
            monitor?.stop()
            if let local {
                local.worker.shutdown()
                _ = try? await local.task.value
            }
            throw CommandFailure(
                error.message,
                exitCode: error.code.isRefusal ? ExitCodes.refused : ExitCodes.usage)
        } catch {
            if detacher.isDetaching { await detacher.parkUntilExit() }
            signals.cancel()
            monitor?.stop()
            throw error
        }
        try await ExecutionReport.print(executionID: execution.id, database: database)
        let exit = ExitCodes.forExecution(execution.status)
        if exit != ExitCodes.success { throw exit }
    }
}

/// How a launch runs: shared by `launch` and `restart`.
struct LaunchOptions: ParsableArguments {
    @Option(
        name: .customLong("local-workers"),
        help: "Also run partitions in this process, on N threads (0: leave them to `\(ApplicationName.current) worker` daemons).")
    var localWorkers: Int = 0

    @Option(
        name: .customLong("lease-seconds"),
        help: """
            How long this launcher may be silent before a later launch of the same instance may \
            attach to its execution (it heartbeats every third of this); also how long a silent \
            database is waited for (TCP keepalives), and the lease of --local-workers.
            """)
    var leaseSeconds: Int = 30

    @Flag(
        name: .customLong("synchronous-commit"),
        help: """
            Make every chunk commit wait for its fsync. By default only the job's start and end \
            wait (flushing every commit before them); a server crash can then roll the last few \
            hundred milliseconds of chunks back, and the restart redoes them exactly once.
            """)
    var synchronousCommit = false

    @OptionGroup var progress: ProgressOptions

    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        guard (0...256).contains(localWorkers) else { throw ValidationError("--local-workers must be between 0 and 256") }
        guard (1...3600).contains(leaseSeconds) else { throw ValidationError("--lease-seconds must be between 1 and 3600") }
    }
}
