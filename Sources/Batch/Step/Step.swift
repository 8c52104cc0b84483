import Logging

/// One step of a job. The engine creates its ``StepExecution`` and calls ``run(_:in:)`` on a
/// thread of the job's own, so steps may block.
public protocol Step: Sendable {
    var name: String { get }
    /// Run again on restart even when it COMPLETED in an earlier execution of the instance.
    var allowStartIfComplete: Bool { get }
    /// Listeners of the step's execution, chunks, items and skips.
    var listeners: [any StepListener] { get }

    /// Does the step's work, saving progress through `scope.session`, and sets `execution`'s
    /// status to COMPLETED, STOPPED or FAILED (or throws, which the engine records as FAILED).
    func run(_ execution: inout StepExecution, in scope: StepScope) throws

    /// Checks the job's parameters as this step will read them, before anything is written.
    /// Throws a description of the problem.
    func validate(_ parameters: JobParameters) throws
}

extension Step {
    public var allowStartIfComplete: Bool { false }
    public var listeners: [any StepListener] { [] }
    public func validate(_ parameters: JobParameters) throws {}
}

/// What a running step can reach: the repository session, the job's execution, a logger.
public final class StepScope {
    /// The repository session of the thread running the step.
    public let session: any JobRepositorySession
    public let jobExecution: JobExecution
    public let logger: Logger
    /// The step's context as the step starts: a partition's range, or a restart's checkpoint.
    public let stepContext: ExecutionContext
    /// The step's metrics and trace: ``inChunkTransaction(_:_:)`` records each chunk in it.
    public let observation: StepObservation
    let interruption: (@Sendable () -> Bool)?

    /// - Parameters:
    ///   - session: the repository session the step commits its chunks through; only the
    ///     thread that runs the step may use it (a session serves one thread at a time).
    ///   - jobExecution: the execution of the job the step runs in; its parameters are the ones
    ///     the step reads.
    ///   - logger: where the step logs (the engine's logger already names the step and its
    ///     execution in its metadata).
    ///   - stepContext: the step's context as it starts: empty on a first run, a partition's
    ///     range, or the checkpoint a restart resumes from.
    ///   - interruption: asked after every commit; when it says true the step ends
    ///     STOPPED at once, its checkpoint saved (a worker shutting down hands its partition back).
    ///   - observation: the step's metrics and trace, shared by every thread of the step
    ///     (default: metrics tagged with the job's name and no step name, no parent span).
    public init(
        session: any JobRepositorySession, jobExecution: JobExecution, logger: Logger,
        stepContext: ExecutionContext = ExecutionContext(), observation: StepObservation? = nil,
        interruption: (@Sendable () -> Bool)? = nil
    ) {
        self.observation = observation ?? StepObservation(jobName: jobExecution.jobName, stepName: "")
        self.session = session
        self.stepContext = stepContext
        self.jobExecution = jobExecution
        self.logger = logger
        self.interruption = interruption
    }

    /// True when whoever runs the step wants it to end after the commit in hand.
    public var isInterrupted: Bool { interruption?() ?? false }

    /// The job's parameters.
    public var parameters: JobParameters { jobExecution.parameters }
}
