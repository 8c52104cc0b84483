import Foundation
import Logging
import Synchronization

/// How a flow ended, and where a restart of it resumes.
struct FlowOutcome: Sendable {
    var status: BatchStatus
    var exitStatus: ExitStatus
    /// The element a restart resumes at; nil when the flow completed.
    var restartAt: String?
}

/// Where a flow resumes on restart, as recorded in the job execution's context.
struct RestartPoint: Sendable, Equatable {
    var element: String
    /// The job execution that recorded it: a step named here runs again on restart even if it
    /// completed, unless it completed in a later execution.
    var recordedBy: Int64

    /// The keys of the job execution's context that hold a flow's restart point.
    static func keys(_ flow: String) -> (element: String, recordedBy: String) {
        ("flow.\(flow).restart-at", "flow.\(flow).recorded-by")
    }

    init(element: String, recordedBy: Int64) {
        self.element = element
        self.recordedBy = recordedBy
    }

    init?(flow: String, in context: ExecutionContext) {
        let keys = Self.keys(flow)
        guard let element = context.string(keys.element) else { return nil }
        self.init(element: element, recordedBy: context.int(keys.recordedBy) ?? 0)
    }

    /// Writes `point` into `context` for `flow`, or removes the flow's point when nil.
    static func save(_ point: RestartPoint?, flow: String, in context: inout ExecutionContext) {
        let keys = Self.keys(flow)
        context[keys.element] = point.map { .string($0.element) }
        context[keys.recordedBy] = point.map { .int($0.recordedBy) }
    }
}

/// Runs a job's flow: its elements one after another as the transitions say, its splits' flows
/// on threads (and repository sessions) of their own.
///
/// Restart, as Spring Batch does it: every flow is walked again from its start. A step that
/// completed in an earlier execution of the instance is not run again (unless it allows a start
/// when complete) and its recorded exit status chooses the way on, so the walk retraces the
/// path taken before; a failed or stopped step runs again from its checkpoint; deciders decide
/// again. Each flow also records a restart point (`flow.<name>.restart-at` in the job
/// execution's context, carried to the next execution): the element it ended at. When the walk
/// reaches that element it runs it even if it is a completed step (the element a `fail` left),
/// and a `stop(restartAt: x)` recorded as x is passed through to x instead of stopping again.
struct FlowExecutor: Sendable {
    let job: Job
    let repository: (any JobRepository)?
    let jobExecution: JobExecution
    let attached: Bool
    let logger: Logger
    private let restartPoints: [String: RestartPoint]
    private let recorded = Locked<[String: RestartPoint?]>([:])

    init(job: Job, repository: (any JobRepository)?, jobExecution: JobExecution, attached: Bool, logger: Logger) {
        self.job = job
        self.repository = repository
        self.jobExecution = jobExecution
        self.attached = attached
        self.logger = logger
        var points: [String: RestartPoint] = [:]
        for name in Self.flowNames(job.flow) {
            points[name] = RestartPoint(flow: name, in: jobExecution.context)
        }
        self.restartPoints = points
    }

    private static func flowNames(_ flow: Flow?) -> [String] {
        guard let flow else { return [] }
        return [flow.name] + flow.elements.flatMap { element -> [String] in
            if case .split(let split) = element.node { return split.flows.flatMap { flowNames($0) } }
            return []
        }
    }

    /// Runs the job's flow on the calling thread and records the restart points in `context`
    /// (saved with the job execution).
    func runJob(_ flow: Flow, session: any JobRepositorySession, context: inout ExecutionContext) throws
        -> (BatchStatus, ExitStatus)
    {
        let outcome = try run(flow, session: session, logger: logger)
        for (name, point) in recorded.withLock({ $0 }) {
            RestartPoint.save(point, flow: name, in: &context)
        }
        return (outcome.status, outcome.exitStatus)
    }

    /// Runs `flow` to its end and records where a restart of it would start.
    func run(_ flow: Flow, session: any JobRepositorySession, logger: Logger) throws -> FlowOutcome {
        let outcome = try walk(flow, session: session, logger: logger)
        let point = outcome.restartAt.map { RestartPoint(element: $0, recordedBy: jobExecution.id) }
        recorded.withLock { $0[flow.name] = point }
        logger.info(
            "flow ended",
            metadata: [
                "batch.flow": "\(flow.name)", "batch.flow.status": "\(outcome.status.rawValue)",
                "batch.flow.restart_at": "\(outcome.restartAt ?? "-")",
            ])
        return outcome
    }

    /// What one element came to.
    private struct ElementResult {
        var status: BatchStatus
        var exitStatus: ExitStatus
        var stepExecution: StepExecution?
    }

    private func walk(_ flow: Flow, session: any JobRepositorySession, logger: Logger) throws -> FlowOutcome {
        // The restart point, until the walk reaches it (once).
        var pending = restartPoints[flow.name]
        if let pending, flow.index[pending.element] == nil {
            logger.warning(
                "the flow's restart point is not an element of it (the job changed?); ignored",
                metadata: ["batch.flow": "\(flow.name)", "batch.flow.restart_at": "\(pending.element)"])
        }
        var position = 0
        var previous: ElementResult?
        var previousStep: StepExecution?
        while true {
            let element = flow.elements[position]
            var rerunUnlessCompletedAfter: Int64?
            if let point = pending, point.element == element.name {
                rerunUnlessCompletedAfter = point.recordedBy
                pending = nil
            }
            let result: ElementResult
            switch element.node {
            case .step(let step):
                let visit = try JobRunner.visit(
                    step, jobExecution, session: session, logger: logger, attached: attached,
                    rerunUnlessCompletedAfter: rerunUnlessCompletedAfter)
                switch visit {
                case .stopRequested:
                    return FlowOutcome(
                        status: .stopped, exitStatus: .stopped.adding(description: "stopped by request before step \(step.name)"),
                        restartAt: step.name)
                case .alreadyComplete(let stepExecution), .ran(let stepExecution):
                    result = ElementResult(status: stepExecution.status, exitStatus: stepExecution.exitStatus, stepExecution: stepExecution)
                }
            case .decider(let decider):
                result = decide(decider, previous?.exitStatus, previousStep, session: session, logger: logger)
            case .split(let split):
                result = runSplit(split, logger: logger)
            }
            if let stepExecution = result.stepExecution { previousStep = stepExecution }
            previous = result

            if result.status == .stopped {
                // An operator's stop, or a stopped split: never routed, so a restart finishes it.
                return FlowOutcome(
                    status: .stopped, exitStatus: .stopped.adding(description: "stopped in \(element.name)"),
                    restartAt: element.name)
            }
            let code = result.exitStatus.exitCode
            if let transition = element.transitionsBySpecificity.first(where: { $0.pattern.matches(code) }) {
                var target = transition.target
                if case .stop(let restartAt) = target, let point = pending, point.element == restartAt {
                    // The stop this restart is the restart of: go on where it said.
                    logger.info("restarting where the flow stopped", metadata: ["batch.flow": "\(flow.name)", "batch.flow.restart_at": "\(restartAt)"])
                    target = .element(restartAt)
                }
                switch target {
                case .element(let name):
                    guard let next = flow.index[name] else {
                        throw JobLaunchError(code: .invalidDefinition, jobName: job.name, message: "flow \(flow.name) has no element \(name)")
                    }
                    logger.info("transition", metadata: ["batch.flow": "\(flow.name)", "batch.flow.from": "\(element.name)", "batch.flow.exit_code": "\(code)", "batch.flow.to": "\(name)"])
                    position = next
                    continue
                case .end(let exitCode):
                    return FlowOutcome(status: .completed, exitStatus: ExitStatus(exitCode: exitCode), restartAt: nil)
                case .fail(let exitCode):
                    var exit = ExitStatus(exitCode: exitCode, exitDescription: "\(element.name) ended \(code): the flow fails here")
                    if result.status == .failed { exit = exit.adding(description: result.exitStatus.exitDescription) }
                    return FlowOutcome(status: .failed, exitStatus: exit, restartAt: element.name)
                case .stop(let restartAt):
                    return FlowOutcome(
                        status: .stopped,
                        exitStatus: .stopped.adding(description: "\(element.name) ended \(code): stopped; a restart resumes at \(restartAt)"),
                        restartAt: restartAt)
                }
            }
            if result.status != .completed {
                return FlowOutcome(
                    status: .failed,
                    exitStatus: .failed.adding(description: "\(element.name) failed: \(result.exitStatus.exitDescription)"),
                    restartAt: element.name)
            }
            if !element.transitions.isEmpty {
                let patterns = element.transitions.map { "\"\($0.pattern)\"" }.joined(separator: ", ")
                return FlowOutcome(
                    status: .failed,
                    exitStatus: .failed.adding(
                        description: "\(element.name) ended with exit code \(code), which none of its transitions (\(patterns)) matches"),
                    restartAt: element.name)
            }
            guard position + 1 < flow.elements.count else {
                return FlowOutcome(status: .completed, exitStatus: .completed, restartAt: nil)
            }
            position += 1
        }
    }

    private func decide(
        _ decider: Decider, _ previousExitStatus: ExitStatus?, _ previousStep: StepExecution?,
        session: any JobRepositorySession, logger: Logger
    ) -> ElementResult {
        let decision = Decision(
            jobExecution: jobExecution, previousExitStatus: previousExitStatus, previousStep: previousStep, session: session)
        do {
            let code = try decider.decide(decision)
            logger.info("decided", metadata: ["batch.flow.decider": "\(decider.name)", "batch.flow.exit_code": "\(code)"])
            return ElementResult(status: .completed, exitStatus: ExitStatus(exitCode: code))
        } catch {
            logger.error("decider failed", metadata: ["batch.flow.decider": "\(decider.name)", "batch.error": "\(error)"])
            return ElementResult(status: .failed, exitStatus: .failed.adding(description: "decider \(decider.name): \(error)"))
        }
    }

    /// Runs the split's flows at once, each on a thread and a repository session of its own
    /// (libpq blocks), and waits for all of them.
    private func runSplit(_ split: Split, logger: Logger) -> ElementResult {
        guard let repository else {
            return ElementResult(
                status: .failed, exitStatus: .failed.adding(description: "split \(split.name) needs a job repository to open sessions"))
        }
        let outcomes = Locked<[Int: FlowOutcome]>([:])
        let group = DispatchGroup()
        for (position, flow) in split.flows.enumerated() {
            group.enter()
            var flowLogger = logger
            flowLogger[metadataKey: "batch.flow"] = "\(flow.name)"
            let branchLogger = flowLogger
            let thread = Thread {
                defer { group.leave() }
                let outcome: FlowOutcome
                do {
                    let session = try repository.openSession()
                    defer { session.close() }
                    outcome = try run(flow, session: session, logger: branchLogger)
                } catch {
                    branchLogger.error("flow failed", metadata: ["batch.error": "\(error)"])
                    outcome = FlowOutcome(status: .failed, exitStatus: .failed.adding(description: "\(error)"), restartAt: nil)
                }
                outcomes.withLock { $0[position] = outcome }
            }
            thread.name = "flow-\(flow.name)"
            thread.start()
        }
        group.wait()
        let results = outcomes.withLock { $0 }.sorted { $0.key < $1.key }
        let status = results.map(\.value.status).max() ?? .completed
        var exit = ExitStatus(exitCode: status == .completed ? ExitStatus.completed.exitCode : status.rawValue)
        for (position, outcome) in results where outcome.status != .completed {
            exit = exit.adding(
                description: "flow \(split.flows[position].name) \(outcome.status.rawValue): \(outcome.exitStatus.exitDescription)")
        }
        return ElementResult(status: status, exitStatus: exit)
    }
}

/// A value shared between threads, behind a lock.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { try body(&$0) }
    }
}
