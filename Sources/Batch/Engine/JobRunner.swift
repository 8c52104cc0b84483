import Foundation
import Logging
import Tracing

/// Runs one job execution, step after step (or as its flow says), on the calling thread (which
/// blocks); a flow's splits run their flows on threads of their own.
struct JobRunner {
    let job: Job
    let session: any JobRepositorySession
    let logger: Logger
    /// Where a split's flows open sessions of their own (nil: a job with a split cannot run).
    var repository: (any JobRepository)? = nil

    /// Runs the execution's steps in order.
    ///
    /// - Parameter attached: the execution was started by a launcher that died; steps it
    ///   completed are skipped and the step it was awaiting is resumed, not created again.
    func run(_ execution: inout JobExecution, attached: Bool = false) throws {
        let observed = RunObservation.job(job.name, executionID: execution.id, parent: ServiceContext.current ?? .topLevel)
        do {
            // The job's span is the parent of its steps' (read back on this thread by runStep).
            try ServiceContext.withValue(observed.serviceContext) { try run(&execution, attached: attached, observed.serviceContext) }
            observed.end(status: execution.status.rawValue, success: execution.status == .completed)
        } catch {
            observed.end(status: BatchStatus.failed.rawValue, success: false, error: error)
            throw error
        }
    }

    /// How many times one run reads its execution back and awaits its unfinished steps again
    /// after the repository lost its latest writes (see ``JobRepositorySession/reconnectForResume(after:)``).
    static let resumesAfterLostWrites = 3

    private func run(_ execution: inout JobExecution, attached: Bool, _ serviceContext: ServiceContext) throws {
        var logger = TraceCarrier.logger(logger, in: serviceContext)
        logger[metadataKey: "batch.job.name"] = "\(job.name)"
        logger[metadataKey: "batch.job.execution_id"] = "\(execution.id)"
        var attached = attached
        var resumes = 0
        while true {
            do {
                return try runOnce(&execution, attached: attached, logger: logger)
            } catch {
                // A failover to a standby that lacks the latest writes (a step's end, the job's,
                // partitions) ends the run with a lost connection, or with a job end the new
                // primary refuses: the execution is read back and its steps visited again as
                // by a launch that attaches (ended ones skipped, running ones awaited again,
                // lost ones run or prepared again), rather than leaving it to a relaunch.
                guard resumes < Self.resumesAfterLostWrites, session.reconnectForResume(after: error),
                    let reloaded = try? session.jobExecution(id: execution.id), reloaded.status.isRunning
                else { throw error }
                resumes += 1
                logger.warning(
                    "the job repository lost this execution's latest writes (a failover?); awaiting its unfinished steps again",
                    metadata: ["batch.error": "\(error)", "batch.job.resume": "\(resumes)"])
                execution = reloaded
                attached = true
            }
        }
    }

    private func runOnce(_ execution: inout JobExecution, attached: Bool, logger: Logger) throws {
        if !attached {
            execution.status = .started
            execution.startTime = Date()
            try session.update(&execution)
            logger.info("job started")
            for listener in job.listeners { listener.beforeJob(execution) }
        }

        let outcome: (BatchStatus, ExitStatus)
        if let flow = job.flow {
            outcome = try FlowExecutor(
                job: job, repository: repository, jobExecution: execution, attached: attached, logger: logger
            ).runJob(flow, session: session, context: &execution.context)
        } else {
            outcome = try runSequence(execution, attached: attached, logger: logger)
        }
        execution.status = outcome.0
        execution.exitStatus = outcome.1
        execution.endTime = Date()
        try session.update(&execution)
        for listener in job.listeners { listener.afterJob(execution) }
        logger.info("job ended", metadata: ["batch.job.status": "\(execution.status.rawValue)"])
    }

    /// Runs the job's steps in order, to the first that fails or stops.
    private func runSequence(_ execution: JobExecution, attached: Bool, logger: Logger) throws -> (BatchStatus, ExitStatus) {
        for step in job.steps {
            switch try Self.visit(step, execution, session: session, logger: logger, attached: attached) {
            case .alreadyComplete:
                continue
            case .stopRequested:
                return (.stopped, .stopped.adding(description: "stopped by request before step \(step.name)"))
            case .ran(let stepExecution):
                if let stop = Self.outcome(of: stepExecution, step) { return stop }
            }
        }
        return (.completed, .completed)
    }

    /// What visiting a step came to.
    enum StepVisit {
        /// It completed before (in an earlier execution of the instance, or earlier in this
        /// one) and is not run again: its last execution.
        case alreadyComplete(StepExecution)
        /// It ran (or, attached, was awaited again) to this end.
        case ran(StepExecution)
        /// The job is STOPPING: the step was not started.
        case stopRequested
    }

    /// Runs `step` unless it already completed: a restart skips COMPLETED steps (unless they
    /// allow a start when complete) and resumes the others from their last checkpoint.
    ///
    /// - Parameter rerunUnlessCompletedAfter: run the step even if it completed, unless it
    ///   completed in an execution after this one (a flow's restart point).
    static func visit(
        _ step: any Step, _ execution: JobExecution, session: any JobRepositorySession, logger: Logger,
        attached: Bool, rerunUnlessCompletedAfter: Int64? = nil
    ) throws -> StepVisit {
        let last = try session.lastStepExecution(jobInstanceID: execution.instance.id, stepName: step.name)
        let ranInThisExecution = last?.jobExecutionID == execution.id
        if let last, last.status == .completed {
            let rerun = rerunUnlessCompletedAfter.map { last.jobExecutionID <= $0 } ?? false
            if ranInThisExecution || !(step.allowStartIfComplete || rerun) {
                logger.info("step already complete; skipped", metadata: ["batch.step.name": "\(step.name)"])
                return .alreadyComplete(last)
            }
        }
        if attached, var resumed = last, ranInThisExecution, resumed.status.isRunning {
            // The dead launcher's step: await it again (even when STOPPING, so its
            // partitions' outcome is what the step records).
            logger.info("resuming the step the previous launcher was running", metadata: ["batch.step.name": "\(step.name)"])
            try runStep(step, &resumed, execution, session: session, logger: logger, resuming: true)
            return .ran(resumed)
        }
        if let current = try session.jobExecution(id: execution.id), current.status == .stopping {
            return .stopRequested
        }
        // A restart resumes from the context the last attempt committed; a step that completed
        // and runs again starts afresh.
        let resumeFrom = last.flatMap { $0.status == .completed ? nil : $0.context } ?? ExecutionContext()
        var stepExecution = try session.createStepExecution(
            jobExecutionID: execution.id, stepName: step.name, context: resumeFrom)
        try runStep(step, &stepExecution, execution, session: session, logger: logger)
        return .ran(stepExecution)
    }

    /// The job's outcome when `stepExecution` ends the job (stopped or failed); nil to go on.
    static func outcome(of stepExecution: StepExecution, _ step: any Step) -> (BatchStatus, ExitStatus)? {
        switch stepExecution.status {
        case .completed:
            nil
        case .stopped:
            (.stopped, .stopped.adding(description: "stopped in step \(step.name)"))
        default:
            (.failed, .failed.adding(description: "step \(step.name) failed: \(stepExecution.exitStatus.exitDescription)"))
        }
    }

    private static func runStep(
        _ step: any Step, _ stepExecution: inout StepExecution, _ jobExecution: JobExecution,
        session: any JobRepositorySession, logger: Logger, resuming: Bool = false
    ) throws {
        let observed = RunObservation.step(
            step.name, job: jobExecution.jobName, executionID: stepExecution.id, parent: ServiceContext.current ?? .topLevel)
        var logger = TraceCarrier.logger(logger, in: observed.serviceContext)
        logger[metadataKey: "batch.step.name"] = "\(step.name)"
        logger[metadataKey: "batch.step.execution_id"] = "\(stepExecution.id)"
        if !resuming {
            stepExecution.status = .started
            stepExecution.startTime = Date()
            try session.update(&stepExecution)
        }
        let scope = StepScope(
            session: session, jobExecution: jobExecution, logger: logger, stepContext: stepExecution.context,
            observation: StepObservation(jobName: jobExecution.jobName, stepName: step.name, serviceContext: observed.serviceContext))
        for listener in step.listeners { listener.beforeStep(stepExecution) }
        do {
            try step.run(&stepExecution, in: scope)
        } catch {
            // The chunk in progress was rolled back; what committed before stays, and so does the
            // checkpoint a restart resumes from.
            stepExecution.status = .failed
            stepExecution.exitStatus = .failed.adding(description: "\(error)")
            logger.error("step failed", metadata: ["batch.error": "\(error)"])
        }
        for listener in step.listeners {
            if let exitStatus = listener.afterStep(stepExecution) { stepExecution.exitStatus = exitStatus }
        }
        stepExecution.endTime = Date()
        try session.update(&stepExecution)
        observed.end(status: stepExecution.status.rawValue, success: stepExecution.status == .completed)
        logger.info(
            "step ended",
            metadata: [
                "batch.step.status": "\(stepExecution.status.rawValue)",
                "batch.step.read": "\(stepExecution.counts.read)",
                "batch.step.write": "\(stepExecution.counts.write)",
                "batch.step.commits": "\(stepExecution.counts.commit)",
            ])
    }
}
