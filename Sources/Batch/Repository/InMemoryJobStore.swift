import Foundation
import Synchronization

/// The tables of an ``InMemoryJobRepository``, behind one lock: every operation is atomic, as
/// one PostgreSQL transaction is. Shared by all the repository's sessions.
final class InMemoryJobStore: Sendable {
    struct Lease {
        var owner: String
        var host: String
        var pid: Int32
        var heartbeatAt: Date
        var expiresAt: Date
    }

    struct State {
        var lastID: Int64 = 0
        var instances: [Int64: JobInstance] = [:]
        /// Instance ids by job name, then job key.
        var instanceIDs: [String: [String: Int64]] = [:]
        var executions: [Int64: JobExecution] = [:]
        /// Execution ids of each instance, oldest first.
        var executionIDs: [Int64: [Int64]] = [:]
        var steps: [Int64: StepExecution] = [:]
        /// Step execution ids of each job execution, oldest first.
        var stepIDs: [Int64: [Int64]] = [:]
        var leases: [Int64: Lease] = [:]
        var skipped: [SkippedItem] = []
        /// Chunk commits to fail, in order: a step's name (nil: any step) and the error.
        var commitFailures: [(step: String?, error: any Error & Sendable)] = []

        mutating func nextID() -> Int64 {
            lastID += 1
            return lastID
        }

        func execution(_ id: Int64) throws -> JobExecution {
            guard let execution = executions[id] else {
                throw InMemoryJobRepositoryError(message: "job execution \(id) does not exist")
            }
            return execution
        }
    }

    let state = Mutex(State())

    // MARK: - Launch

    func createJobExecution(
        jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity
    ) -> Result<LaunchGrant, LaunchRefusal> {
        let key = parameters.jobKey
        let now = Date()
        return state.withLock { state in
            let instanceID: Int64
            if let existing = state.instanceIDs[jobName]?[key] {
                instanceID = existing
            } else {
                instanceID = state.nextID()
                state.instances[instanceID] = JobInstance(id: instanceID, jobName: jobName, jobKey: key)
                state.instanceIDs[jobName, default: [:]][key] = instanceID
            }
            let instance = state.instances[instanceID]!
            var restartFrom: JobExecution?
            if let lastID = state.executionIDs[instanceID]?.last, var last = state.executions[lastID] {
                if last.status.isRunning {
                    guard let lease = state.leases[lastID] else {
                        return .failure(.alreadyRunning(executionID: lastID))
                    }
                    guard lease.expiresAt < now else {
                        let left = Int(lease.expiresAt.timeIntervalSince(now).rounded(.up))
                        let silent = Int(now.timeIntervalSince(lease.heartbeatAt))
                        return .failure(.alreadyRunning(
                            executionID: lastID,
                            launcher: "pid \(lease.pid) on \(lease.host), heard from \(silent) s ago; if that process is gone, "
                                + "a launch after its lease runs out (in \(left) s) takes the execution over"))
                    }
                    // Nothing here awaits partitions: the orphan died with its launcher.
                    let reason = "its launcher (pid \(lease.pid) on \(lease.host)) stopped heartbeating before a new launch"
                    Self.failRunning(&state, lastID, reason: reason, now: now)
                    last = state.executions[lastID]!
                }
                if last.status == .completed { return .failure(.alreadyComplete(executionID: lastID)) }
                if last.status == .abandoned { return .failure(.abandoned(executionID: lastID)) }
                if !restartable { return .failure(.notRestartable(executionID: lastID)) }
                restartFrom = last
            }
            let execution = JobExecution(
                id: state.nextID(), instance: instance, parameters: parameters, status: .starting,
                exitStatus: .unknown, createTime: now, lastUpdated: now,
                context: restartFrom?.context ?? ExecutionContext())
            state.executions[execution.id] = execution
            state.executionIDs[instanceID, default: []].append(execution.id)
            state.leases[execution.id] = Lease(
                owner: launcher.owner, host: launcher.host, pid: launcher.pid, heartbeatAt: now,
                expiresAt: now.addingTimeInterval(TimeInterval(launcher.leaseSeconds)))
            return .success(LaunchGrant(execution: execution))
        }
    }

    /// Marks a running execution and its running steps FAILED; the steps' versions move on, so
    /// a chunk still in flight can no longer commit.
    private static func failRunning(_ state: inout State, _ executionID: Int64, reason: String, now: Date) {
        for stepID in state.stepIDs[executionID] ?? [] where state.steps[stepID]!.status.isRunning {
            state.steps[stepID]!.status = .failed
            state.steps[stepID]!.exitStatus = .failed.adding(description: reason)
            state.steps[stepID]!.endTime = now
            state.steps[stepID]!.lastUpdated = now
            state.steps[stepID]!.version += 1
        }
        state.executions[executionID]!.status = .failed
        state.executions[executionID]!.exitStatus = .failed.adding(description: reason)
        state.executions[executionID]!.endTime = now
        state.executions[executionID]!.lastUpdated = now
        state.executions[executionID]!.version += 1
    }

    /// Renews `launcher`'s lease; false when another launcher owns the execution now.
    func renewLease(jobExecutionID: Int64, launcher: LauncherIdentity) -> Bool {
        let now = Date()
        return state.withLock { state in
            guard state.leases[jobExecutionID]?.owner == launcher.owner else { return false }
            state.leases[jobExecutionID]!.heartbeatAt = now
            state.leases[jobExecutionID]!.expiresAt = now.addingTimeInterval(TimeInterval(launcher.leaseSeconds))
            return true
        }
    }

    // MARK: - Jobs

    func update(_ execution: inout JobExecution) throws {
        let now = Date()
        let saved = try state.withLock { state in
            var stored = try state.execution(execution.id)
            // An operator's STOPPING is not overwritten by the runner's own "still running".
            let keepStopping = stored.status == .stopping && (execution.status == .starting || execution.status == .started)
            stored.status = keepStopping ? .stopping : execution.status
            stored.exitStatus = execution.exitStatus
            stored.startTime = execution.startTime
            stored.endTime = execution.endTime
            stored.context = execution.context
            stored.lastUpdated = now
            stored.version += 1
            state.executions[execution.id] = stored
            return stored
        }
        execution.status = saved.status
        execution.version = saved.version
        execution.lastUpdated = now
    }

    func requestStop(jobExecutionID: Int64) -> BatchStatus? {
        state.withLock { state in
            guard var execution = state.executions[jobExecutionID] else { return nil }
            if execution.status == .starting || execution.status == .started {
                execution.status = .stopping
                execution.version += 1
                execution.lastUpdated = Date()
                state.executions[jobExecutionID] = execution
            }
            return execution.status
        }
    }

    func abandon(jobExecutionID: Int64) -> BatchStatus? {
        state.withLock { state in
            guard var execution = state.executions[jobExecutionID] else { return nil }
            if [.stopped, .failed, .unknown].contains(execution.status) {
                execution.status = .abandoned
                execution.version += 1
                execution.lastUpdated = Date()
                state.executions[jobExecutionID] = execution
            }
            return execution.status
        }
    }

    func lastParameters(jobName: String) -> JobParameters? {
        state.withLock { state in
            let ids = state.instanceIDs[jobName]?.values.compactMap { state.executionIDs[$0]?.last } ?? []
            return ids.max().flatMap { state.executions[$0]?.parameters }
        }
    }

    // MARK: - Steps

    func lastStepExecution(jobInstanceID: Int64, stepName: String) -> StepExecution? {
        state.withLock { state in
            // Only attempts since the instance last completed count.
            let executionIDs = state.executionIDs[jobInstanceID] ?? []
            let lastCompleted = executionIDs.last { state.executions[$0]?.status == .completed } ?? 0
            return executionIDs.filter { $0 > lastCompleted }
                .flatMap { state.stepIDs[$0] ?? [] }
                .compactMap { state.steps[$0] }
                .filter { $0.stepName == stepName }
                .max { $0.id < $1.id }
        }
    }

    func createStepExecution(jobExecutionID: Int64, stepName: String, context: ExecutionContext) throws -> StepExecution {
        let now = Date()
        return try state.withLock { state in
            _ = try state.execution(jobExecutionID)
            // As the PostgreSQL schema's unique index: a step runs at most once per job execution.
            if (state.stepIDs[jobExecutionID] ?? []).contains(where: { state.steps[$0]?.stepName == stepName }) {
                throw InMemoryJobRepositoryError(
                    message: "step \(stepName) already has an execution in job execution \(jobExecutionID)")
            }
            let step = StepExecution(
                id: state.nextID(), jobExecutionID: jobExecutionID, stepName: stepName, createTime: now,
                lastUpdated: now, context: context)
            state.steps[step.id] = step
            state.stepIDs[jobExecutionID, default: []].append(step.id)
            return step
        }
    }

    /// Saves a step execution if its version is the stored one, with what a chunk staged, and
    /// returns the job's status: one atomic commit.
    func save(_ execution: inout StepExecution, skips: [SkippedItem] = [], actions: [@Sendable () -> Void] = [])
        throws -> BatchStatus
    {
        let now = Date()
        let status = try state.withLock { state in
            guard let stored = state.steps[execution.id], stored.version == execution.version else {
                throw InMemoryJobRepositoryError(
                    message: "step execution \(execution.id) (\(execution.stepName)) was changed by another session "
                        + "(version \(execution.version) is stale); this run stops here")
            }
            var saved = execution
            saved.version += 1
            saved.lastUpdated = now
            saved.createTime = stored.createTime
            state.steps[execution.id] = saved
            state.skipped += skips
            for action in actions { action() }
            return try state.execution(execution.jobExecutionID).status
        }
        execution.version += 1
        execution.lastUpdated = now
        return status
    }

    /// The error the next chunk commit of `stepName` must fail with, if one was injected
    /// (``InMemoryJobRepository/failChunkCommits(_:step:with:)``); taken, so it fails once.
    func takeCommitFailure(stepName: String) -> (any Error)? {
        state.withLock { state in
            guard let index = state.commitFailures.firstIndex(where: { $0.step == nil || $0.step == stepName }) else {
                return nil
            }
            return state.commitFailures.remove(at: index).error
        }
    }

    // MARK: - Reading

    func jobExecution(id: Int64) -> JobExecution? {
        state.withLock { $0.executions[id] }
    }

    func stepExecutions(jobExecutionID: Int64) -> [StepExecution] {
        state.withLock { state in (state.stepIDs[jobExecutionID] ?? []).compactMap { state.steps[$0] } }
    }
}
