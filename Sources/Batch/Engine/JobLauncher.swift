import Foundation
import Logging

/// Launches jobs: validates parameters, creates or refuses the execution, runs it to its end.
///
/// Jobs run on a thread of their own (steps block on I/O); the launcher's caller just awaits.
public struct JobLauncher: Sendable {
    public let repository: any JobRepository
    public let logger: Logger
    /// How long this launcher may stay silent before a later launch of the same instance may
    /// take its running execution over (it heartbeats every third of this).
    public let lease: Duration

    public init(repository: any JobRepository, logger: Logger = Logger(label: ApplicationName.current), lease: Duration = .seconds(30)) {
        precondition(lease > .zero)
        self.repository = repository
        self.logger = logger
        self.lease = lease
    }

    /// Runs `job` for `parameters` and returns its finished execution (COMPLETED, FAILED or
    /// STOPPED: a failed job is a result, not an error).
    ///
    /// When the instance is running but its launcher died (its lease ran out), this launch takes
    /// it over: it attaches to an execution that awaits partitions (workers carry on, nothing
    /// runs twice) and waits for it, or fails and restarts one that died with its launcher.
    ///
    /// - Parameters:
    ///   - job: the job to run; a badly defined one (see ``Job/definitionProblems``) is refused
    ///     before anything is written.
    ///   - parameters: checked and completed against the job's parameter specifications
    ///     (defaults added, values converted); the identifying ones name the job instance.
    ///   - next: start a new instance by incrementing `run.id` past the job's last execution.
    ///   - started: called (on the job's thread) once the execution exists, before its steps
    ///     run, with this launcher's identity (what a progress display or a detaching launcher
    ///     needs).
    /// - Throws: ``JobLaunchError`` when the parameters are invalid (nothing is written) or
    ///   the instance's history refuses the launch (already complete, running with a live
    ///   launcher, not restartable, abandoned); repository errors as they come.
    public func run(
        _ job: Job, parameters: JobParameters, next: Bool = false,
        started: @escaping @Sendable (JobExecution, LauncherIdentity) -> Void = { _, _ in }
    ) async throws -> JobExecution {
        let resolved = try job.resolveParameters(parameters)
        let repository = self.repository
        let logger = self.logger
        let identity = LauncherIdentity.current(lease: lease)
        return try await onOwnThread(name: "job-\(job.name)") {
            let session = try repository.openSession()
            defer { session.close() }
            var launchParameters = resolved
            if next {
                let last = try session.lastParameters(jobName: job.name)
                let previous = last?.long(JobParameters.runIDName) ?? 0
                launchParameters = launchParameters.adding(
                    JobParameters.runIDName, JobParameter(.long(previous + 1), identifying: true))
            }
            let grant: LaunchGrant
            switch try session.createJobExecution(
                jobName: job.name, parameters: launchParameters, restartable: job.restartable, launcher: identity)
            {
            case .success(let value): grant = value
            case .failure(let refusal): throw JobLaunchError.refused(refusal, jobName: job.name)
            }
            var execution = grant.execution
            let heartbeat = try repository.startHeartbeat(jobExecutionID: execution.id, launcher: identity, logger: logger)
            defer { heartbeat.stop() }
            if let previous = grant.attachedFrom {
                logger.notice(
                    "attached to the running execution: its launcher stopped heartbeating, the workers carry on",
                    metadata: ["batch.job.execution_id": "\(execution.id)", "batch.launcher.previous": "\(previous)"])
            }
            started(execution, identity)
            try JobRunner(job: job, session: session, logger: logger, repository: repository).run(&execution, attached: grant.isAttach)
            return execution
        }
    }
}

/// Runs blocking work on a new thread and awaits its result, keeping the cooperative pool free.
func onOwnThread<Result: Sendable>(
    name: String, _ body: @escaping @Sendable () throws -> Result
) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}
