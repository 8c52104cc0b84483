import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient
import Synchronization
import Tracing

/// A slot running partitions, on the slot's own thread and session.
extension PartitionWorker {
    /// Runs `first`, then keeps the slot busy with partitions it claims itself, on its own
    /// connection, for as long as there are any: the statement that ends a partition claims the
    /// next one (one commit per short partition), or else the slot claims on its own, without
    /// a hand-off to the control thread and back. The slot returns when nothing is left to
    /// claim (the control loop then waits for work) or on shutdown.
    func runSlot(from first: ClaimedPartition, claimedAt: ContinuousClock.Instant, slot: Int) {
        var next: (ClaimedPartition, ContinuousClock.Instant)? = (first, claimedAt)
        while let (partition, claimedAt) = next {
            let fence = fence(for: partition)
            slots.withLock { $0.assign(fence, to: slot, renewedAt: claimedAt, lease: configuration.lease) }
            let claimedWithFinish = runPartition(partition, fence: fence, slot: slot)
            next = nil
            if isShuttingDown {
                if let claimedWithFinish { handBack(claimedWithFinish.partition, slot: slot) }
                break
            }
            if let claimedWithFinish {
                observation.claimed([claimedWithFinish.partition], took: nil)
                next = (claimedWithFinish.partition, claimedWithFinish.at)
            } else {
                let started = ContinuousClock.now
                guard let claimed = claimNext(slot: slot) else { break }
                observation.claimed([claimed], took: started.duration(to: .now))
                next = (claimed, started)
            }
        }
    }

    /// The slot's trust in the claim it holds: lost once the heartbeat or the watchdog says so;
    /// renewed by each of its own saves.
    private func trust(slot: Int) -> ClaimTrust {
        let lease = configuration.lease
        return ClaimTrust(
            isLost: { [self] in slots.withLock { $0.isLost(slot) } },
            renewed: { [self] at in
                slots.withLock { slots in
                    if case .partition(let held) = slots.slots[slot] { slots.renewed(held.fence.partitionID, at: at, lease: lease) }
                }
            })
    }

    /// Returns a partition claimed but not started (the worker is shutting down) to the ready
    /// ones at once; if that fails its lease runs out and it is claimed again anyway.
    private func handBack(_ claimed: ClaimedPartition, slot: Int) {
        var execution = claimed.execution
        do {
            try slotSession(slot).finishPartition(claimed, execution: &execution, outcome: .handedBack, fence: fence(for: claimed))
        } catch {
            logger.warning("could not hand back a partition claimed during shutdown; it is left to its lease",
                metadata: ["batch.partition": "\(claimed.workerStep):\(claimed.partitionName)", "batch.error": "\(error)"])
        }
    }

    /// What a partition's end claims next for this slot: nothing once the worker is leaving.
    private var claimRequest: ClaimRequest? {
        isShuttingDown ? nil
            : ClaimRequest(workerID: configuration.workerID, steps: steps.partitionedKeys, leaseSeconds: configuration.leaseSeconds)
    }

    private func claimNext(slot: Int) -> ClaimedPartition? {
        do {
            return try slotSession(slot).claimPartitions(
                workerID: configuration.workerID, steps: steps.partitionedKeys, limit: 1,
                leaseSeconds: configuration.leaseSeconds
            ).first
        } catch {
            // The control loop claims again once the slot is free, on a fresh session.
            logger.debug("a slot's own claim failed", metadata: ["batch.error": "\(error)"])
            sessions.replace(slot, with: nil)
            return nil
        }
    }

    /// Runs a claimed partition to its end (or until its lease is lost). Returns the next
    /// partition, and when the statement that claimed it started, when the statement that
    /// ended this one claimed it.
    private func runPartition(_ claimed: ClaimedPartition, fence: PartitionFence, slot: Int)
        -> (partition: ClaimedPartition, at: ContinuousClock.Instant)?
    {
        var logger = self.logger
        logger[metadataKey: "batch.partition"] = "\(claimed.workerStep):\(claimed.partitionName)"
        logger[metadataKey: "batch.partition.attempt"] = "\(claimed.attempt)"
        var backoff = ReconnectBackoff(initial: .milliseconds(200), maximum: .seconds(5))
        // The claim brought the step execution; after a lost connection it is loaded again, as
        // chunks may have committed since.
        var claimedExecution: StepExecution? = claimed.execution
        // Sessions lost in a row with no chunk committed in between: past a few, the partition
        // is given up (see `giveUp`), so a chunk that always loses its session cannot loop.
        var lostInARow = 0
        var commitsAtLastLoss: Int64?
        while true {
            do {
                let session = PartitionRunSession(
                    base: try slotSession(slot), fence: fence, claimNext: claimRequest, trust: trust(slot: slot))
                var known = claimedExecution
                claimedExecution = nil
                if known == nil, let reloaded = try session.base.stepExecution(id: claimed.stepExecutionID) {
                    if let before = commitsAtLastLoss, reloaded.counts.commit > before { lostInARow = 0 }
                    commitsAtLastLoss = reloaded.counts.commit
                    known = reloaded
                }
                return try execute(claimed, execution: known, session: session, logger: logger)
            } catch {
                // A claim known lost ends the attempt whatever the error (the watchdog broke
                // the slot's connection off): nothing more is written.
                let lost = slots.withLock { $0.isLost(slot) }
                if lost { sessions.replace(slot, with: nil) }
                switch lost ? .leaseLost : PartitionFailure(error, shuttingDown: isShuttingDown) {
                case .leaseLost:
                    observation.lost(1)
                    if error is PartitionLeaseLost { observation.fencedCommit() }
                    logger.warning("partition dropped", metadata: ["batch.error": "\(error)"])
                    return nil
                case .leaveToLease:
                    sessions.replace(slot, with: nil)
                    logger.warning("partition left to its lease: the repository went away during shutdown", metadata: ["batch.error": "\(error)"])
                    return nil
                case .resumeAfterReconnect:
                    sessions.replace(slot, with: nil)
                    lostInARow += 1
                    if lostInARow > Self.sessionLossesBeforeGivingUp {
                        giveUp(claimed, fence: fence, slot: slot, after: lostInARow, error: error, logger: logger)
                        return nil
                    }
                    let wait = backoff.next()
                    logger.warning("repository unreachable mid-partition; resuming from its last checkpoint once reconnected",
                        metadata: ["batch.error": "\(error)", "batch.backoff": "\(wait)"])
                    pause(wait)
                case .abandon:
                    logger.error("partition abandoned", metadata: ["batch.error": "\(error)"])
                    sessions.replace(slot, with: nil)
                    return nil
                }
            }
        }
    }

    /// How many times in a row a partition may lose its session with no chunk committed
    /// before its worker gives it up.
    static var sessionLossesBeforeGivingUp: Int { 3 }

    /// Gives a partition up after its session was lost `losses` times in a row with no commit:
    /// records why on the partition (best effort) and stops renewing its claim. Its lease then
    /// runs out and it is claimed again as its next attempt, from its last checkpoint; on its
    /// last attempt the lease's end fails it with this reason, so nothing loops forever.
    private func giveUp(
        _ claimed: ClaimedPartition, fence: PartitionFence, slot: Int, after losses: Int, error: any Error, logger: Logger
    ) {
        let reason = "its session with the repository was lost \(losses) times in a row before a chunk committed "
            + "(last: \(error)); a connection ended by the server or the network mid-chunk (statement_timeout, "
            + "idle_in_transaction_session_timeout, a proxy's idle limit) is the usual cause"
        logger.error("partition given up; it runs again as its next attempt once its lease runs out",
            metadata: ["batch.error": "\(reason)"])
        do {
            try slotSession(slot).recordPartitionError(claimed.partitionID, fence: fence, error: String(reason.prefix(2500)))
        } catch {
            sessions.replace(slot, with: nil)
        }
    }

    /// Runs the partition's step through `session` and ends the partition. Returns the next
    /// partition when the statement that ended this one claimed it.
    private func execute(
        _ claimed: ClaimedPartition, execution known: StepExecution?, session: PartitionRunSession, logger: Logger
    ) throws -> (partition: ClaimedPartition, at: ContinuousClock.Instant)? {
        let fence = session.fence
        let repository = session.base
        guard var job = try jobExecution(id: claimed.jobExecutionID, workerStep: claimed.workerStep, session: repository),
            var execution = try known ?? repository.stepExecution(id: claimed.stepExecutionID)
        else {
            throw WorkerError(message: "partition \(claimed.partitionID) names an execution that does not exist")
        }
        job.status = claimed.jobStatus
        /// Ends the partition as `outcome` says, in the statement that may claim the next one.
        func finish(_ outcome: PartitionOutcome) throws -> (partition: ClaimedPartition, at: ContinuousClock.Instant)? {
            let started = ContinuousClock.now
            let next = try session.trust.renewing(fence) {
                try repository.finishPartition(claimed, execution: &execution, outcome: outcome, fence: fence, claimNext: session.claimNext)
            }
            return next.map { ($0, started) }
        }
        guard let step = steps.partitioned[claimed.workerStep] else {
            return try finish(.failed("worker has no step \(claimed.workerStep)"))
        }
        if job.status == .stopping {
            execution.status = .stopped
            execution.exitStatus = .stopped.adding(description: "stopped by request before it started")
            return try finish(.stopped)
        }
        // STARTED is saved by the first chunk commit (fenced like every other): no round trip of its own.
        execution.status = .started
        if execution.startTime == nil { execution.startTime = Date() }
        let observed = PartitionObservation(claimed, context: execution.context)
        let logger = observed.logger(logger)
        logger.info("partition started")
        let trust = session.trust
        let scope = StepScope(
            session: session, jobExecution: job, logger: logger, stepContext: execution.context, observation: observed.step
        ) { [self] in isShuttingDown || trust.isLost() }
        do {
            try step.workerStep.run(&execution, in: scope)
            if let ended = session.ended {
                // A tasklet's last commit saved it COMPLETED and ended the partition with it.
                observed.end("completed", success: true)
                logger.info("partition ended", metadata: ["batch.partition.outcome": "completed", "batch.step.read": "\(execution.counts.read)"])
                return ended.outcome.next.map { ($0, ended.at) }
            }
        } catch let lost as PartitionLeaseLost {
            observed.end("lease lost", success: false, error: lost)
            throw lost
        } catch let error as PostgresError where error.isConnectionLost {
            observed.end("connection lost", success: false, error: error)
            throw error
        } catch {
            execution.status = .failed
            execution.exitStatus = .failed.adding(description: "\(error)")
        }
        var jobStopping = false
        if execution.status == .stopped { jobStopping = try repository.jobExecution(id: job.id)?.status == .stopping }
        let outcome = PartitionOutcome.after(
            status: execution.status, exitDescription: execution.exitStatus.exitDescription,
            workerShuttingDown: isShuttingDown, jobStopping: jobStopping)
        if outcome != .handedBack { execution.endTime = Date() }
        let next: (partition: ClaimedPartition, at: ContinuousClock.Instant)?
        do {
            next = try finish(outcome)
        } catch {
            observed.end(outcome.metricStatus, success: false, error: error)
            throw error
        }
        observed.end(outcome.metricStatus, success: outcome == .completed)
        if case .failed = outcome { observation.failed(claimed) }
        logger.info("partition ended", metadata: ["batch.partition.outcome": "\(outcome)", "batch.step.read": "\(execution.counts.read)"])
        return next
    }
}
