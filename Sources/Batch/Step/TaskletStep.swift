import Foundation
/// Whether a tasklet wants to be called again.
public enum RepeatStatus: Sendable {
    case continuable
    case finished
}

/// What one tasklet call did: counts to add to the step, and the step's context to save.
public struct StepContribution {
    public var counts = StepCounts()
    /// The step's context; what the tasklet stores here is saved with the call's transaction.
    public var context: ExecutionContext
    /// The exit status the step ends with when this call finishes it (COMPLETED when nil):
    /// a flow routes on its code, e.g. `ExitStatus(exitCode: "NEEDS REPAIR")`.
    public var exitStatus: ExitStatus?

    public init(context: ExecutionContext) {
        self.context = context
    }
}

/// A unit of work called until it says it is finished, each call in its own transaction.
public protocol Tasklet: AnyObject {
    func execute(_ contribution: inout StepContribution, _ chunk: ChunkContext) throws -> RepeatStatus
}

/// A step that calls a ``Tasklet`` repeatedly; each call commits with the step's context.
public struct TaskletStep: Step {
    public let name: String
    public let allowStartIfComplete: Bool
    public let listeners: [any StepListener]
    private let makeTasklet: @Sendable (StepScope) throws -> any Tasklet

    /// - Parameters:
    ///   - name: the step's name in the repository: a restart finds the step's last execution
    ///     by it, so it must be unique in the job and stay the same between releases.
    ///   - allowStartIfComplete: run the step again on a restart even when it COMPLETED in an
    ///     earlier execution of the instance (it then starts afresh, not from a checkpoint).
    ///   - listeners: called before and after the step (a tasklet step reports no chunks or
    ///     items to them).
    ///   - makeTasklet: builds the tasklet for one execution (fresh on every run).
    public init(
        _ name: String, allowStartIfComplete: Bool = false, listeners: [any StepListener] = [],
        tasklet makeTasklet: @escaping @Sendable (StepScope) throws -> any Tasklet
    ) {
        self.name = name
        self.listeners = listeners
        self.allowStartIfComplete = allowStartIfComplete
        self.makeTasklet = makeTasklet
    }

    /// A step whose tasklet is a closure.
    public init(
        _ name: String, allowStartIfComplete: Bool = false, listeners: [any StepListener] = [],
        _ body: @escaping @Sendable (inout StepContribution, ChunkContext) throws -> RepeatStatus
    ) {
        self.init(name, allowStartIfComplete: allowStartIfComplete, listeners: listeners) { _ in ClosureTasklet(body) }
    }

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        let tasklet = try makeTasklet(scope)
        let stream = tasklet as? any ItemStream
        try stream?.open(execution.context)
        defer { try? stream?.close() }
        while true {
            let outcome: ((RepeatStatus, ExitStatus?), jobStatus: BatchStatus)
            do {
                outcome = try scope.inChunkTransaction(&execution) { transaction, working in
                let chunk = ChunkContext(
                    transaction: transaction, stepName: working.stepName,
                    parameters: scope.parameters, stepContext: working.context)
                var contribution = StepContribution(context: working.context)
                let status = try tasklet.execute(&contribution, chunk)
                try stream?.update(&contribution.context)
                working.counts += contribution.counts
                working.counts.commit += 1
                working.context = contribution.context
                if status == .finished {
                    // The last commit records the step COMPLETED with its work: no later write
                    // is needed to know it finished (a partition ends in this same commit).
                    working.status = .completed
                    working.exitStatus = contribution.exitStatus ?? .completed
                    working.endTime = Date()
                }
                return (status, contribution.exitStatus)
            }
            } catch {
                execution.counts.rollback += 1
                throw error
            }
            let ((status, exitStatus), jobStatus) = outcome
            if status == .finished {
                execution.status = .completed
                execution.exitStatus = exitStatus ?? .completed
                if execution.endTime == nil { execution.endTime = Date() }
                return
            }
            if jobStatus == .stopping || scope.isInterrupted {
                execution.status = .stopped
                execution.exitStatus = .stopped.adding(description: "stopped by request after commit \(execution.counts.commit)")
                return
            }
        }
    }
}

private final class ClosureTasklet: Tasklet {
    let body: (inout StepContribution, ChunkContext) throws -> RepeatStatus
    init(_ body: @escaping (inout StepContribution, ChunkContext) throws -> RepeatStatus) { self.body = body }
    func execute(_ contribution: inout StepContribution, _ chunk: ChunkContext) throws -> RepeatStatus {
        try body(&contribution, chunk)
    }
}
