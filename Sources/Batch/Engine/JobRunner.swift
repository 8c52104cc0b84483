import Foundation
import Logging

/// Runs one job execution, step after step, on the calling thread (which blocks).
struct JobRunner {
    let job: Job
    let session: any JobRepositorySession
    let logger: Logger

    /// Runs the execution's steps in order.
    ///
    /// - Parameter attached: the execution was started by a launcher that died; steps it
    ///   completed are skipped and the step it was awaiting is resumed, not created again.
    func run(_ execution: inout JobExecution, attached: Bool = false) throws {
        var logger = logger
        logger[metadataKey: "batch.job.name"] = "\(job.name)"
        logger[metadataKey: "batch.job.execution_id"] = "\(execution.id)"
        if !attached {
            execution.status = .started
            execution.startTime = Date()
            try session.update(&execution)
            logger.info("job started")
            for listener in job.listeners { listener.beforeJob(execution) }
        }

        var outcome: (BatchStatus, ExitStatus) = (.completed, .completed)
        for step in job.steps {
            let last = try session.lastStepExecution(jobInstanceID: execution.instance.id, stepName: step.name)
            let ranInThisExecution = last?.jobExecutionID == execution.id
            if let last, last.status == .completed, !step.allowStartIfComplete || ranInThisExecution {
                logger.info("step already complete; skipped", metadata: ["batch.step.name": "\(step.name)"])
                continue
            }
            if attached, var resumed = last, ranInThisExecution, resumed.status.isRunning {
                // The dead launcher's step: await it again (even when STOPPING, so its
                // partitions' outcome is what the step records).
                logger.info("resuming the step the previous launcher was running", metadata: ["batch.step.name": "\(step.name)"])
                try runStep(step, &resumed, execution, logger: logger, resuming: true)
                if let stop = Self.outcome(of: resumed, step) { outcome = stop; break }
                continue
            }
            if let current = try session.jobExecution(id: execution.id), current.status == .stopping {
                outcome = (.stopped, .stopped.adding(description: "stopped by request before step \(step.name)"))
                break
            }
            // A restart resumes from the context the last attempt committed.
            let resumeFrom = last.map(\.context) ?? ExecutionContext()
            var stepExecution = try session.createStepExecution(
                jobExecutionID: execution.id, stepName: step.name, context: resumeFrom)
            try runStep(step, &stepExecution, execution, logger: logger)
            if let stop = Self.outcome(of: stepExecution, step) { outcome = stop; break }
        }
        execution.status = outcome.0
        execution.exitStatus = outcome.1
        execution.endTime = Date()
        try session.update(&execution)
        for listener in job.listeners { listener.afterJob(execution) }
        logger.info("job ended", metadata: ["batch.job.status": "\(execution.status.rawValue)"])
    }

    /// The job's outcome when `stepExecution` ends the job (stopped or failed); nil to go on.
    private static func outcome(of stepExecution: StepExecution, _ step: any Step) -> (BatchStatus, ExitStatus)? {
        switch stepExecution.status {
        case .completed:
            nil
        case .stopped:
            (.stopped, .stopped.adding(description: "stopped in step \(step.name)"))
        default:
            (.failed, .failed.adding(description: "step \(step.name) failed: \(stepExecution.exitStatus.exitDescription)"))
        }
    }

    private func runStep(
        _ step: any Step, _ stepExecution: inout StepExecution, _ jobExecution: JobExecution,
        logger: Logger, resuming: Bool = false
    ) throws {
        var logger = logger
        logger[metadataKey: "batch.step.name"] = "\(step.name)"
        logger[metadataKey: "batch.step.execution_id"] = "\(stepExecution.id)"
        if !resuming {
            stepExecution.status = .started
            stepExecution.startTime = Date()
            try session.update(&stepExecution)
        }
        let scope = StepScope(
            session: session, jobExecution: jobExecution, logger: logger, stepContext: stepExecution.context)
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
