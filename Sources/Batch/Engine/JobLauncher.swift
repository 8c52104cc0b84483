import Foundation
import Logging

/// Launches jobs: validates parameters, creates or refuses the execution, runs it to its end.
///
/// Jobs run on a thread of their own (steps block on I/O); the launcher's caller just awaits.
public struct JobLauncher: Sendable {
    public let repository: any JobRepository
    public let logger: Logger

    public init(repository: any JobRepository, logger: Logger = Logger(label: "swiftbatch")) {
        self.repository = repository
        self.logger = logger
    }

    /// Runs `job` for `parameters` and returns its finished execution (COMPLETED, FAILED or
    /// STOPPED: a failed job is a result, not an error).
    ///
    /// - Parameters:
    ///   - next: start a new instance by incrementing `run.id` past the job's last execution.
    /// - Throws: ``JobLaunchError`` when the parameters are invalid (nothing is written) or
    ///   the instance's history refuses the launch (already complete, already running, not
    ///   restartable, abandoned); repository errors as they come.
    public func run(_ job: Job, parameters: JobParameters, next: Bool = false) async throws -> JobExecution {
        let resolved = try job.resolveParameters(parameters)
        let repository = self.repository
        let logger = self.logger
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
            let created = try session.createJobExecution(
                jobName: job.name, parameters: launchParameters, restartable: job.restartable)
            var execution: JobExecution
            switch created {
            case .success(let value): execution = value
            case .failure(let refusal): throw JobLaunchError.refused(refusal, jobName: job.name)
            }
            try JobRunner(job: job, session: session, logger: logger).run(&execution)
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
