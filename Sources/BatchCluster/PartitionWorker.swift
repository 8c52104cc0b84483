import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient
import Synchronization

/// The worker daemon: registers itself, claims partitions (and remote chunks) of the steps it
/// serves, runs up to `concurrency` of them at once under lease, and heartbeats. On ``shutdown()`` it stops
/// claiming, lets each running partition finish its chunk and hands it back (ready again, its
/// checkpoint kept), then returns from ``run()``.
///
/// Every partition runs on a thread and connection of its own; nothing here blocks the
/// cooperative pool.
public final class PartitionWorker: Sendable {
    public let configuration: WorkerConfiguration
    private let logger: Logger
    /// Partitioned steps by worker-step key (`job/step`).
    private let steps: [String: PartitionStep]
    /// Remote chunk steps by worker-step key (`job/step`): their chunks are claimed into the
    /// same slots as partitions.
    private let remoteSteps: [String: any RemoteChunkWorkerStep]
    private let state = Mutex(State())
    private let slotFreed = NSCondition()
    private let sessions: SlotSessions
    /// Job executions of recent claims, by execution and partitioned step: parameters never
    /// change, the job's context does not while one step's partitions run, and the status comes
    /// with each claim; so each is loaded once per step rather than once per partition.
    private let jobExecutions = Mutex<[String: JobExecution]>([:])

    private struct State {
        var shuttingDown = false
        var busy: [Bool] = []
        /// The claim each slot is running, whose lease the heartbeat renews.
        var held: [PartitionFence?] = []
        /// The remote chunk each slot is processing, whose lease the heartbeat renews.
        var heldChunks: [RemoteChunkFence?] = []
    }

    /// - Throws: when `configuration.steps` names a step the jobs do not have.
    public init(jobs: [Job], configuration: WorkerConfiguration, logger: Logger) throws {
        precondition(configuration.concurrency > 0 && configuration.leaseSeconds > 0)
        var available: [String: PartitionStep] = [:]
        var remote: [String: any RemoteChunkWorkerStep] = [:]
        for job in jobs {
            for case let step as PartitionStep in job.steps {
                available[PartitionStep.workerStepKey(job: job.name, step: step.name)] = step
            }
            for case let step as any RemoteChunkWorkerStep in job.steps {
                remote[PartitionStep.workerStepKey(job: job.name, step: step.name)] = step
            }
        }
        if let wanted = configuration.steps {
            var served: [String: PartitionStep] = [:]
            var servedRemote: [String: any RemoteChunkWorkerStep] = [:]
            for name in wanted {
                let matches = available.filter { $0.key == name || $0.key.hasPrefix(name + "/") }
                let remoteMatches = remote.filter { $0.key == name || $0.key.hasPrefix(name + "/") }
                guard !matches.isEmpty || !remoteMatches.isEmpty else {
                    let known = (Array(available.keys) + Array(remote.keys)).sorted().joined(separator: ", ")
                    throw WorkerError(message: "no partitioned or remote chunk step \"\(name)\" here; those steps are: \(known.isEmpty ? "(none)" : known)")
                }
                served.merge(matches) { a, _ in a }
                servedRemote.merge(remoteMatches) { a, _ in a }
            }
            available = served
            remote = servedRemote
        }
        self.steps = available
        self.remoteSteps = remote
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "batch.worker.id"] = "\(configuration.workerID)"
        self.logger = logger
        self.sessions = SlotSessions(count: configuration.concurrency)
        state.withLock {
            $0.busy = Array(repeating: false, count: configuration.concurrency)
            $0.held = Array(repeating: nil, count: configuration.concurrency)
            $0.heldChunks = Array(repeating: nil, count: configuration.concurrency)
        }
    }

    /// The worker-step keys this worker serves (partitioned and remote chunk steps).
    public var servedSteps: [String] { (Array(steps.keys) + Array(remoteSteps.keys)).sorted() }

    /// The partitioned steps this worker serves.
    private var partitionSteps: [String] { steps.keys.sorted() }

    /// The remote chunk steps this worker serves.
    private var remoteChunkSteps: [String] { remoteSteps.keys.sorted() }

    /// Asks the worker to stop: no new claims; running partitions end after their current chunk
    /// and are handed back. ``run()`` returns once they have.
    public func shutdown() {
        state.withLock { $0.shuttingDown = true }
        slotFreed.lock()
        slotFreed.broadcast()
        slotFreed.unlock()
    }

    public var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// Runs until ``shutdown()``; survives lost connections (reconnecting with backoff).
    public func run() async throws {
        let control = DedicatedThread(name: "worker-control")
        defer { control.shutdown() }
        try await control.run { [self] in try controlLoop() }
    }

    // MARK: - Control loop (its own thread)

    private func controlLoop() throws {
        let slots = (0..<configuration.concurrency).map { DedicatedThread(name: "worker-slot-\($0)") }
        defer { slots.forEach { $0.shutdown() } }
        var backoff = Duration.milliseconds(200)
        logger.notice("worker started", metadata: ["batch.worker.steps": "\(servedSteps.joined(separator: ","))", "batch.worker.concurrency": "\(configuration.concurrency)"])
        while !isShuttingDown {
            do {
                // Claims, heartbeats and sweeps never wait for their WAL flush (whatever
                // synchronousCommit says): a server crash that lost one leaves the claim to be
                // made again, and every write under a claim is fenced. One fsync per claim fewer.
                let session = try connect(synchronousCommit: false)
                defer { session.close() }
                try session.registerWorker(
                    id: configuration.workerID, host: ProcessInfo.processInfo.hostName, pid: getpid(),
                    concurrency: configuration.concurrency, steps: servedSteps)
                try session.connection.listen(ClusterChannels.work)
                backoff = .milliseconds(200)
                try claimLoop(session, slots)
            } catch {
                if isShuttingDown { break }
                logger.warning("repository unreachable; retrying", metadata: ["batch.error": "\(error)", "batch.backoff": "\(backoff)"])
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(10))
            }
        }
        waitForSlots()
        // Synchronous: flushing this record flushes every earlier commit of the slots too.
        if let session = try? connect(synchronousCommit: true) {
            try? session.stopWorker(id: configuration.workerID)
            session.close()
        }
        logger.notice("worker stopped")
    }

    private func claimLoop(_ session: PostgresJobRepositorySession, _ slots: [DedicatedThread]) throws {
        let clock = ContinuousClock()
        var lastHeartbeat = clock.now - .seconds(3600)
        let heartbeatEvery = Duration.seconds(configuration.leaseSeconds / 3)
        while !isShuttingDown {
            if clock.now - lastHeartbeat >= heartbeatEvery {
                let (held, heldChunks) = state.withLock { ($0.held.compactMap { $0 }, $0.heldChunks.compactMap { $0 }) }
                try session.heartbeat(workerID: configuration.workerID, leaseSeconds: configuration.leaseSeconds, held: held)
                try session.renewRemoteChunkLeases(
                    workerID: configuration.workerID, leaseSeconds: configuration.leaseSeconds, held: heldChunks)
                try session.sweepExpiredPartitions()
                if !remoteSteps.isEmpty { try session.sweepExpiredRemoteChunks() }
                lastHeartbeat = clock.now
            }
            let free = state.withLock { state in state.busy.indices.filter { !state.busy[$0] } }
            if free.isEmpty {
                waitForFreeSlot(upTo: heartbeatEvery)
                continue
            }
            let claimed = try session.claimPartitions(
                workerID: configuration.workerID, steps: partitionSteps, limit: free.count,
                leaseSeconds: configuration.leaseSeconds)
            for (partition, slot) in zip(claimed, free) {
                let fence = fence(for: partition)
                state.withLock {
                    $0.busy[slot] = true
                    $0.held[slot] = fence
                }
                slots[slot].submit { [self] in
                    runSlot(from: partition, fence: fence, slot: slot)
                    state.withLock {
                        $0.busy[slot] = false
                        $0.held[slot] = nil
                    }
                    slotFreed.lock()
                    slotFreed.broadcast()
                    slotFreed.unlock()
                }
            }
            // Slots no partition took serve remote chunks.
            let freeForChunks = Array(free.dropFirst(claimed.count))
            let chunks = try session.claimRemoteChunks(
                workerID: configuration.workerID, steps: remoteChunkSteps, limit: freeForChunks.count,
                leaseSeconds: configuration.leaseSeconds)
            for (chunk, slot) in zip(chunks, freeForChunks) {
                let fence = RemoteChunkFence(
                    chunkID: chunk.chunkID, owner: configuration.workerID, attempt: chunk.request.attempt,
                    seq: chunk.request.seq, workerStep: chunk.workerStep)
                state.withLock {
                    $0.busy[slot] = true
                    $0.heldChunks[slot] = fence
                }
                slots[slot].submit { [self] in
                    runRemoteChunk(chunk, fence: fence, slot: slot)
                    state.withLock {
                        $0.busy[slot] = false
                        $0.heldChunks[slot] = nil
                    }
                    slotFreed.lock()
                    slotFreed.broadcast()
                    slotFreed.unlock()
                }
            }
            if claimed.count + chunks.count < free.count {
                // Nothing more to claim now: wait for a NOTIFY of new work, or poll. The wait is
                // sliced so a shutdown is seen within 200 ms without any extra query.
                let deadline = clock.now + min(configuration.pollInterval, heartbeatEvery)
                while !isShuttingDown && clock.now < deadline {
                    if try session.connection.nextNotification(timeout: min(.milliseconds(200), clock.now.duration(to: deadline))) != nil {
                        while try session.connection.nextNotification(timeout: .zero) != nil {}
                        break
                    }
                }
            }
        }
    }

    private func waitForFreeSlot(upTo limit: Duration) {
        slotFreed.lock()
        defer { slotFreed.unlock() }
        let anyFree = { self.state.withLock { $0.busy.contains(false) || $0.shuttingDown } }
        if !anyFree() { _ = slotFreed.wait(until: Date().addingTimeInterval(limit.inSeconds)) }
    }

    private func waitForSlots() {
        slotFreed.lock()
        defer { slotFreed.unlock() }
        while state.withLock({ $0.busy.contains(true) }) {
            _ = slotFreed.wait(until: Date().addingTimeInterval(1))
        }
    }

    // MARK: - One partition (a slot's thread)

    private func fence(for claimed: ClaimedPartition) -> PartitionFence {
        PartitionFence(
            partitionID: claimed.partitionID, owner: configuration.workerID, attempt: claimed.attempt,
            leaseSeconds: configuration.leaseSeconds, workerStep: claimed.workerStep)
    }

    /// Runs `first`, then keeps the slot busy with partitions it claims itself, on its own
    /// connection, for as long as there are any: the statement that ends a partition claims the
    /// next one (one commit per short partition), or else the slot claims on its own, without
    /// a hand-off to the control thread and back. The slot returns when nothing is left to
    /// claim (the control loop then waits for work) or on shutdown.
    private func runSlot(from first: ClaimedPartition, fence: PartitionFence, slot: Int) {
        var next: (ClaimedPartition, PartitionFence)? = (first, fence)
        while let (partition, fence) = next {
            state.withLock { $0.held[slot] = fence }
            let claimedWithFinish = runPartition(partition, fence: fence, slot: slot)
            next = nil
            if isShuttingDown {
                if let claimedWithFinish { handBack(claimedWithFinish, slot: slot) }
                break
            }
            guard let claimed = claimedWithFinish ?? claimNext(slot: slot) else { break }
            next = (claimed, self.fence(for: claimed))
        }
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

    private var claimRequest: ClaimRequest {
        ClaimRequest(workerID: configuration.workerID, steps: partitionSteps, leaseSeconds: configuration.leaseSeconds)
    }

    private func claimNext(slot: Int) -> ClaimedPartition? {
        do {
            return try slotSession(slot).claimPartitions(
                workerID: configuration.workerID, steps: partitionSteps, limit: 1,
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
    /// partition when the statement that ended this one claimed it.
    private func runPartition(_ claimed: ClaimedPartition, fence: PartitionFence, slot: Int) -> ClaimedPartition? {
        var logger = self.logger
        logger[metadataKey: "batch.partition"] = "\(claimed.workerStep):\(claimed.partitionName)"
        logger[metadataKey: "batch.partition.attempt"] = "\(claimed.attempt)"
        var backoff = Duration.milliseconds(200)
        // The claim brought the step execution; after a lost connection it is loaded again, as
        // chunks may have committed since.
        var claimedExecution: StepExecution? = claimed.execution
        while true {
            do {
                let session = try slotSession(slot)
                session.fence = fence
                session.claimWithFinish = isShuttingDown ? nil : claimRequest
                session.nextClaim = nil
                defer {
                    session.fence = nil
                    session.claimWithFinish = nil
                    session.nextClaim = nil
                }
                let known = claimedExecution
                claimedExecution = nil
                try execute(claimed, execution: known, fence: fence, session: session, logger: logger)
                return session.nextClaim
            } catch let lost as PartitionLeaseLost {
                logger.warning("partition dropped", metadata: ["batch.error": "\(lost)"])
                return nil
            } catch let error as PostgresError where error.isConnectionLost {
                // The database restarted or the network broke. The claim is still ours while
                // the heartbeat renews it: reconnect and resume from the last committed chunk.
                // Had another worker taken it over meanwhile, the first fenced save says so.
                sessions.replace(slot, with: nil)
                if isShuttingDown {
                    logger.warning("partition left to its lease: the repository went away during shutdown", metadata: ["batch.error": "\(error)"])
                    return nil
                }
                logger.warning("repository unreachable mid-partition; resuming from its last checkpoint once reconnected",
                    metadata: ["batch.error": "\(error)", "batch.backoff": "\(backoff)"])
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(5))
            } catch {
                // The repository refused: drop the session and stop renewing the claim; the
                // lease expires and the partition is claimed again, from its last checkpoint.
                logger.error("partition abandoned", metadata: ["batch.error": "\(error)"])
                sessions.replace(slot, with: nil)
                return nil
            }
        }
    }

    private func execute(
        _ claimed: ClaimedPartition, execution known: StepExecution?, fence: PartitionFence,
        session: PostgresJobRepositorySession, logger: Logger
    ) throws {
        guard var job = try jobExecution(of: claimed, session: session),
            var execution = try known ?? session.stepExecution(id: claimed.stepExecutionID)
        else {
            throw WorkerError(message: "partition \(claimed.partitionID) names an execution that does not exist")
        }
        job.status = claimed.jobStatus
        guard let step = steps[claimed.workerStep] else {
            try session.finishPartition(
                claimed, execution: &execution, outcome: .failed("worker has no step \(claimed.workerStep)"), fence: fence)
            return
        }
        if job.status == .stopping {
            execution.status = .stopped
            execution.exitStatus = .stopped.adding(description: "stopped by request before it started")
            try session.finishPartition(claimed, execution: &execution, outcome: .stopped, fence: fence)
            return
        }
        // STARTED is saved by the first chunk commit (fenced like every other): no round trip of its own.
        execution.status = .started
        if execution.startTime == nil { execution.startTime = Date() }
        logger.info("partition started")
        let scope = StepScope(session: session, jobExecution: job, logger: logger, stepContext: execution.context) {
            [self] in isShuttingDown
        }
        do {
            session.partitionEnded = false
            try step.workerStep.run(&execution, in: scope)
            if session.partitionEnded {
                // A tasklet's last commit saved it COMPLETED and ended the partition with it.
                logger.info("partition ended", metadata: ["batch.partition.outcome": "completed", "batch.step.read": "\(execution.counts.read)"])
                return
            }
        } catch let lost as PartitionLeaseLost {
            throw lost
        } catch let error as PostgresError where error.isConnectionLost {
            throw error
        } catch {
            execution.status = .failed
            execution.exitStatus = .failed.adding(description: "\(error)")
        }
        let outcome: PartitionOutcome
        switch execution.status {
        case .completed: outcome = .completed
        case .stopped:
            let jobStopping = try session.jobExecution(id: job.id)?.status == .stopping
            outcome = isShuttingDown && !jobStopping ? .handedBack : .stopped
        default: outcome = .failed(execution.exitStatus.exitDescription)
        }
        if case .handedBack = outcome {} else { execution.endTime = Date() }
        try session.finishPartition(claimed, execution: &execution, outcome: outcome, fence: fence)
        logger.info("partition ended", metadata: ["batch.partition.outcome": "\(outcome)", "batch.step.read": "\(execution.counts.read)"])
    }

    // MARK: - One remote chunk (a slot's thread)

    private func runRemoteChunk(_ chunk: ClaimedRemoteChunk, fence: RemoteChunkFence, slot: Int) {
        var logger = self.logger
        logger[metadataKey: "batch.remote.step"] = "\(chunk.workerStep)"
        logger[metadataKey: "batch.remote.chunk"] = "\(chunk.request.seq)"
        logger[metadataKey: "batch.remote.attempt"] = "\(chunk.request.attempt)"
        do {
            let session = try slotSession(slot)
            guard let step = remoteSteps[chunk.workerStep] else {
                try session.failRemoteChunk(fence: fence, reason: "worker has no step \(chunk.workerStep)")
                return
            }
            guard let job = try jobExecution(id: chunk.jobExecutionID, step: chunk.workerStep, session: session) else {
                throw WorkerError(message: "remote chunk \(chunk.chunkID) names an execution that does not exist")
            }
            // Processing runs outside any transaction; only the writes and the reply hold the
            // chunk's row, so a worker paused while processing holds no lock.
            let processed: ProcessedRemoteChunk
            do {
                processed = try step.process(RemoteChunkScope(parameters: job.parameters, request: chunk.request, logger: logger))
            } catch {
                logger.error("remote chunk failed", metadata: ["batch.error": "\(error)"])
                try session.failRemoteChunk(fence: fence, reason: "\(error)")
                return
            }
            var attempt = 1
            while true {
                do {
                    try session.completeRemoteChunk(processed, fence: fence, stepName: step.name, parameters: job.parameters)
                    break
                } catch let lost as RemoteChunkLeaseLost {
                    throw lost
                } catch let tooMany as SkipLimitExceeded {
                    // With the skips the step's other chunks committed, this one is over the limit.
                    logger.error("remote chunk failed", metadata: ["batch.error": "\(tooMany)"])
                    try session.failRemoteChunk(fence: fence, reason: "\(tooMany)")
                    return
                } catch let error where PostgresError.isConnectionLost(error) {
                    throw error
                } catch let error where attempt < Self.chunkWriteAttempts && RetryPolicy.transientErrors.isRetryable(error) {
                    // A deadlock or serialization failure: the same outputs, written again.
                    logger.warning("remote chunk rolled back; retrying", metadata: ["batch.error": "\(error)", "batch.attempt": "\(attempt)"])
                    Thread.sleep(forTimeInterval: 0.05 * Double(1 << attempt))
                    attempt += 1
                } catch {
                    // The writer refused the chunk (a constraint, bad data): retrying cannot help.
                    logger.error("remote chunk failed", metadata: ["batch.error": "\(error)"])
                    try session.failRemoteChunk(fence: fence, reason: "write failed: \(error)")
                    return
                }
            }
            logger.debug("remote chunk done", metadata: ["batch.remote.written": "\(processed.written)"])
        } catch let lost as RemoteChunkLeaseLost {
            logger.warning("remote chunk dropped", metadata: ["batch.error": "\(lost)"])
        } catch {
            // The repository went away or refused: drop the session and the claim; the lease
            // expires and the chunk is claimed again (by any worker) with its items.
            logger.error("remote chunk abandoned to its lease", metadata: ["batch.error": "\(error)"])
            sessions.replace(slot, with: nil)
        }
    }

    /// Writes of one remote chunk tried in all when they fail transiently (deadlock, serialization).
    private static let chunkWriteAttempts = 5

    private func jobExecution(id: Int64, step: String, session: PostgresJobRepositorySession) throws -> JobExecution? {
        let key = "\(id)/\(step)"
        if let cached = jobExecutions.withLock({ $0[key] }) { return cached }
        guard let loaded = try session.jobExecution(id: id) else { return nil }
        jobExecutions.withLock { cache in
            if cache.count >= 64 { cache.removeAll() }
            cache[key] = loaded
        }
        return loaded
    }

    private func jobExecution(of claimed: ClaimedPartition, session: PostgresJobRepositorySession) throws -> JobExecution? {
        let key = "\(claimed.jobExecutionID)/\(claimed.workerStep)"
        if let cached = jobExecutions.withLock({ $0[key] }) { return cached }
        guard let loaded = try session.jobExecution(id: claimed.jobExecutionID) else { return nil }
        jobExecutions.withLock { cache in
            if cache.count >= 64 { cache.removeAll() }
            cache[key] = loaded
        }
        return loaded
    }

    private func slotSession(_ slot: Int) throws -> PostgresJobRepositorySession {
        if let session = sessions.get(slot) { return session }
        let session = try connect(synchronousCommit: configuration.synchronousCommit)
        sessions.replace(slot, with: session)
        return session
    }

    /// A repository session for the control loop or a slot; see
    /// ``WorkerConfiguration/synchronousCommit`` for why a slot's commits may skip the flush.
    private func connect(synchronousCommit: Bool) throws -> PostgresJobRepositorySession {
        let connection = try PostgresConnection(connectionString: configuration.connectionString)
        try SchemaMigrations.check(on: connection)
        // A worker paused inside a transaction (SIGSTOP, a stall, a cut network) would keep its
        // partition's row locked, and others skip locked rows: the server ends such a session
        // after twice the lease, releasing its locks so the partition can be taken over.
        // The session is named after the worker, so pg_stat_activity (and an audit) shows whose
        // it is; PostgreSQL keeps the first 63 bytes.
        let milliseconds = Int64(configuration.leaseSeconds * 2000)
        try connection.execute("""
            SELECT set_config('idle_in_transaction_session_timeout', \(String(milliseconds)), false),
                   set_config('application_name', \("swiftbatch worker " + configuration.workerID), false),
                   set_config('synchronous_commit', \(synchronousCommit ? "on" : "off"), false)
            """)
        return PostgresJobRepositorySession(connection: connection)
    }

}

/// One repository session per slot, reused from partition to partition.
private final class SlotSessions: Sendable {
    private let boxes: [Box]

    /// Sendable rule: a box is only touched on its slot's own thread (a DedicatedThread runs its
    /// jobs one at a time); the array of boxes never changes after init.
    private final class Box: @unchecked Sendable {
        var session: PostgresJobRepositorySession?
    }

    init(count: Int) { boxes = (0..<count).map { _ in Box() } }

    func get(_ slot: Int) -> PostgresJobRepositorySession? { boxes[slot].session }

    func replace(_ slot: Int, with session: PostgresJobRepositorySession?) {
        boxes[slot].session?.close()
        boxes[slot].session = session
    }
}

/// A worker cannot start or go on; the message says why.
public struct WorkerError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
