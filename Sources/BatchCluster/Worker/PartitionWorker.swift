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
/// cooperative pool. The files beside this one hold the rest: a slot running partitions
/// (`PartitionWorker+Partitions.swift`) and remote chunks (`PartitionWorker+RemoteChunks.swift`),
/// the slots' shared state (`WorkerSlots.swift`) and their sessions (`SlotSessions.swift`).
public final class PartitionWorker: Sendable {
    public let configuration: WorkerConfiguration
    let logger: Logger
    let steps: WorkerSteps
    let slots: Mutex<WorkerSlots>
    private let slotFreed = NSCondition()
    let sessions: SlotSessions
    /// Job executions of recent claims, by execution and worker step: parameters never change,
    /// the job's context does not while one step's partitions run, and the status comes with
    /// each claim; so each is loaded once per step rather than once per partition.
    private let jobExecutions = Mutex<[String: JobExecution]>([:])
    /// Metrics of claims, slots and leases, and what ``health`` reports.
    let observation: WorkerObservation

    /// - Throws: ``WorkerError`` when `configuration.steps` names a step the jobs do not have,
    ///   or the configuration is out of range.
    public init(jobs: [Job], configuration: WorkerConfiguration, logger: Logger) throws {
        try configuration.validate()
        self.steps = try WorkerSteps(jobs: jobs, wanted: configuration.steps)
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "batch.worker.id"] = "\(configuration.workerID)"
        self.logger = logger
        self.sessions = SlotSessions(count: configuration.concurrency)
        self.slots = Mutex(WorkerSlots(count: configuration.concurrency))
        self.observation = WorkerObservation(lease: configuration.lease, concurrency: configuration.concurrency)
    }

    /// Whether the worker is connected, registered and heartbeating (for a readiness probe).
    public var health: WorkerHealth { observation.health(shuttingDown: isShuttingDown) }

    /// The worker-step keys this worker serves (partitioned and remote chunk steps).
    public var servedSteps: [String] { steps.all }

    /// Asks the worker to stop: no new claims; running partitions end after their current chunk
    /// and are handed back. ``run()`` returns once they have.
    public func shutdown() {
        slots.withLock { $0.shutDown() }
        signalSlotFreed()
    }

    public var isShuttingDown: Bool { slots.withLock { $0.shuttingDown } }

    /// Runs until ``shutdown()``; survives lost connections (reconnecting with backoff).
    func runUntilShutdown() async throws {
        let control = DedicatedThread(name: "worker-control")
        defer { control.shutdown() }
        try await control.run { [self] in try controlLoop() }
    }

    // MARK: - Control loop (its own thread)

    private func controlLoop() throws {
        let threads = (0..<configuration.concurrency).map { DedicatedThread(name: "worker-slot-\($0)") }
        defer { threads.forEach { $0.shutdown() } }
        let watchdog = DedicatedThread(name: "worker-watchdog")
        let watching = RunningFlag()
        watchdog.submit { [self] in watchLeases(while: watching) }
        defer {
            watching.stop()
            watchdog.shutdown()
        }
        var backoff = ReconnectBackoff(initial: .milliseconds(200), maximum: .seconds(10))
        logger.notice("worker started", metadata: ["batch.worker.steps": "\(servedSteps.joined(separator: ","))", "batch.worker.concurrency": "\(configuration.concurrency)"])
        while !isShuttingDown {
            do {
                // Claims, heartbeats and sweeps never wait for their WAL flush (whatever
                // synchronousCommit says): a server crash that lost one leaves the claim to be
                // made again, and every write under a claim is fenced. One fsync per claim fewer.
                let session = try connect(synchronousCommit: false, control: true)
                defer { session.close() }
                observation.connected()
                try session.registerWorker(
                    id: configuration.workerID, host: ProcessInfo.processInfo.hostName, pid: getpid(),
                    concurrency: configuration.concurrency, steps: servedSteps, leaseSeconds: configuration.leaseSeconds)
                // Through a transaction-mode pooler there is no LISTEN: the claim loop polls.
                try session.listenUnlessPooled(ClusterChannels.work)
                observation.registered()
                backoff.reset()
                try claimLoop(session, threads)
            } catch {
                observation.disconnected()
                if isShuttingDown { break }
                let wait = backoff.next()
                logger.warning("repository unreachable; retrying", metadata: ["batch.error": "\(error)", "batch.backoff": "\(wait)"])
                pause(wait)
            }
        }
        waitForSlots()
        // Synchronous: flushing this record flushes every earlier commit of the slots too.
        if let session = try? connect(synchronousCommit: true, control: true) {
            try? session.stopWorker(id: configuration.workerID)
            session.close()
        }
        logger.notice("worker stopped")
    }

    private func claimLoop(_ session: PostgresJobRepositorySession, _ threads: [DedicatedThread]) throws {
        let clock = ContinuousClock()
        var lastHeartbeat = clock.now - .seconds(3600)
        let heartbeatEvery = configuration.heartbeatInterval
        while !isShuttingDown {
            if clock.now - lastHeartbeat >= heartbeatEvery {
                try heartbeat(session)
                lastHeartbeat = clock.now
            }
            let free = slots.withLock { $0.free }
            if free.isEmpty {
                waitForFreeSlot(upTo: heartbeatEvery)
                continue
            }
            let claimStarted = clock.now
            let claimed = try session.claimPartitions(
                workerID: configuration.workerID, steps: steps.partitionedKeys, limit: free.count,
                leaseSeconds: configuration.leaseSeconds)
            observation.claimed(claimed, took: claimStarted.duration(to: clock.now))
            for (partition, slot) in zip(claimed, free) {
                slots.withLock { $0.assign(fence(for: partition), to: slot, renewedAt: claimStarted, lease: configuration.lease) }
                threads[slot].submit { [self] in
                    runSlot(from: partition, claimedAt: claimStarted, slot: slot)
                    release(slot)
                }
            }
            // Slots no partition took serve remote chunks.
            let freeForChunks = Array(free.dropFirst(claimed.count))
            let chunks = try session.claimRemoteChunks(
                workerID: configuration.workerID, steps: steps.remoteKeys, limit: freeForChunks.count,
                leaseSeconds: configuration.leaseSeconds)
            for (chunk, slot) in zip(chunks, freeForChunks) {
                let fence = RemoteChunkFence(
                    chunkID: chunk.chunkID, owner: configuration.workerID, attempt: chunk.request.attempt,
                    seq: chunk.request.seq, workerStep: chunk.workerStep)
                slots.withLock { $0.assign(fence, to: slot) }
                threads[slot].submit { [self] in
                    runRemoteChunk(chunk, fence: fence, slot: slot)
                    release(slot)
                }
            }
            observation.slots(busy: configuration.concurrency - free.count + claimed.count + chunks.count, free: free.count - claimed.count - chunks.count)
            if claimed.count + chunks.count < free.count {
                // Nothing more to claim now: wait for a NOTIFY of new work, or poll. The wait is
                // sliced so a shutdown is seen within 200 ms without any extra query.
                // Without notices (a transaction-mode pooler) it polls at least 4 times a second.
                let deadline = clock.now + min(session.noticeWait(configuration.pollInterval, polling: .milliseconds(250)), heartbeatEvery)
                while !isShuttingDown && clock.now < deadline {
                    if try session.connection.nextNotification(timeout: min(.milliseconds(200), clock.now.duration(to: deadline))) != nil {
                        while try session.connection.nextNotification(timeout: .zero) != nil {}
                        break
                    }
                }
            }
        }
    }

    /// Marks the worker alive and renews the claims its slots hold, but only those of slots
    /// that are making progress: a slot that has waited on the database for longer than a lease
    /// in one call (a lock it cannot get, a peer gone silent) is not renewed, so its partition
    /// goes to another worker. Claims found lost are stopped at once.
    private func heartbeat(_ session: PostgresJobRepositorySession) throws {
        let started = ContinuousClock.now
        let (held, heldChunks) = slots.withLock { ($0.heldPartitions, $0.heldChunks) }
        let progressing = held.filter { (sessions.currentCallDuration($0.slot) ?? .zero) <= configuration.lease }
        if progressing.count < held.count {
            logger.warning("not renewing the claims of slots stuck on the database for over a lease", metadata: [
                "batch.worker.stuck_slots": "\(held.count - progressing.count)",
            ])
        }
        let result = try session.heartbeat(
            workerID: configuration.workerID, leaseSeconds: configuration.leaseSeconds, held: progressing.map(\.fence))
        let lost = slots.withLock { slots in
            for id in result.renewed { slots.renewed(id, at: started, lease: configuration.lease) }
            return slots.markLost(result.lost)
        }
        stop(lost, reason: "the repository says another worker holds it now")
        try session.renewRemoteChunkLeases(
            workerID: configuration.workerID, leaseSeconds: configuration.leaseSeconds, held: heldChunks)
        do {
            try session.sweepExpiredPartitions()
            if !steps.remote.isEmpty { try session.sweepExpiredRemoteChunks() }
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable {
            // A row to sweep is locked (by its late holder's last commit): the next beat sweeps it.
        }
        observation.heartbeat(liveWorkers: try? session.liveWorkerCount())
    }

    /// The watchdog's loop (its own thread): a claim not renewed for a lease may belong to
    /// another worker by now, whatever keeps this worker's heartbeat from renewing it (a database
    /// or network gone silent). A slot that has waited on the database for a heartbeat interval
    /// or more with such a claim has its call broken off at once; a slot running its step's own
    /// code, or in a call just begun, goes on, and its next save asks the fence whether the
    /// claim is still its own.
    private func watchLeases(while watching: RunningFlag) {
        let tick = min(configuration.lease / 10, .milliseconds(250))
        while watching.isRunning {
            for slot in slots.withLock({ $0.doubtful(now: ContinuousClock.now) })
            where (sessions.currentCallDuration(slot) ?? .zero) >= configuration.heartbeatInterval {
                logger.warning("a slot's claim was not renewed for a lease; breaking off its database call", metadata: [
                    "batch.worker.slot": "\(slot)",
                ])
                sessions.abort(slot)
            }
            Thread.sleep(forTimeInterval: tick.inSeconds)
        }
    }

    /// Stops the work of `lostSlots` now: a call they wait in returns at once, and they write
    /// nothing more (their claims are marked lost).
    private func stop(_ lostSlots: [Int], reason: String) {
        for slot in lostSlots {
            logger.warning("lost a partition's claim; its slot stops now", metadata: ["batch.worker.slot": "\(slot)", "batch.reason": "\(reason)"])
            sessions.abort(slot)
        }
    }

    private func release(_ slot: Int) {
        let free = slots.withLock { slots in
            slots.release(slot)
            return slots.free.count
        }
        observation.slots(busy: configuration.concurrency - free, free: free)
        signalSlotFreed()
    }

    private func signalSlotFreed() {
        slotFreed.lock()
        slotFreed.broadcast()
        slotFreed.unlock()
    }

    /// Waits `duration`, or less when the worker is asked to shut down meanwhile: a worker cut
    /// off from its database still stops at once on SIGTERM.
    func pause(_ duration: Duration) {
        let deadline = Date().addingTimeInterval(duration.inSeconds)
        slotFreed.lock()
        defer { slotFreed.unlock() }
        while !isShuttingDown && Date() < deadline { _ = slotFreed.wait(until: deadline) }
    }

    private func waitForFreeSlot(upTo limit: Duration) {
        slotFreed.lock()
        defer { slotFreed.unlock() }
        if !slots.withLock({ $0.hasFreeSlotOrShuttingDown }) {
            _ = slotFreed.wait(until: Date().addingTimeInterval(limit.inSeconds))
        }
    }

    private func waitForSlots() {
        slotFreed.lock()
        defer { slotFreed.unlock() }
        while !slots.withLock({ $0.isIdle }) {
            _ = slotFreed.wait(until: Date().addingTimeInterval(1))
        }
    }

    // MARK: - Sessions and shared loads

    func fence(for claimed: ClaimedPartition) -> PartitionFence {
        PartitionFence(
            partitionID: claimed.partitionID, owner: configuration.workerID, attempt: claimed.attempt,
            leaseSeconds: configuration.leaseSeconds, workerStep: claimed.workerStep)
    }

    /// The job execution `id` as loaded once for `workerStep` (see ``jobExecutions``).
    func jobExecution(id: Int64, workerStep: String, session: PostgresJobRepositorySession) throws -> JobExecution? {
        let key = "\(id)/\(workerStep)"
        if let cached = jobExecutions.withLock({ $0[key] }) { return cached }
        guard let loaded = try session.jobExecution(id: id) else { return nil }
        jobExecutions.withLock { cache in
            if cache.count >= 64 { cache.removeAll() }
            cache[key] = loaded
        }
        return loaded
    }

    /// The slot's session, opened when it has none (first use, or after a broken one).
    func slotSession(_ slot: Int) throws -> PostgresJobRepositorySession {
        if let session = sessions.get(slot) { return session }
        let session = try connect(synchronousCommit: configuration.synchronousCommit, control: false)
        sessions.replace(slot, with: session)
        return session
    }

    /// A repository session for the control loop or a slot; see
    /// ``WorkerConfiguration/synchronousCommit`` for why a slot's commits may skip the flush.
    /// The control loop's statements wait for no lock longer than a third of a lease, so its
    /// heartbeat never stalls behind the worker's own slots.
    private func connect(synchronousCommit: Bool, control: Bool) throws -> PostgresJobRepositorySession {
        let connection = try PostgresConnection(
            connectionString: configuration.connectionString, deadPeerDetection: configuration.deadPeerDetection)
        do {
            try SchemaMigrations.check(on: connection)
            // A worker paused inside a transaction (SIGSTOP, a stall, a cut network) would keep
            // its partition's row locked, and others skip locked rows: the server ends such a
            // session after twice the lease, releasing its locks so the partition can be taken
            // over. The session is named after the worker, so pg_stat_activity (and an audit)
            // shows whose it is; PostgreSQL keeps the first 63 bytes.
            // Through a transaction-mode pooler no session setting would stay: the pooler's own
            // idle_transaction_timeout bounds a stalled transaction, SKIP LOCKED keeps the
            // heartbeat from waiting on the slots, and synchronous_commit goes with each
            // transaction (SET LOCAL, queued after BEGIN).
            guard connection.pooling == .session else {
                if !synchronousCommit { connection.transactionSettings.append("SET LOCAL synchronous_commit = off") }
                return PostgresJobRepositorySession(connection: connection, coordination: ClusterCoordination())
            }
            let milliseconds = Int64(configuration.idleInTransactionTimeout.inSeconds * 1000)
            let lockTimeout = control ? Int64(configuration.heartbeatInterval.inSeconds * 1000) : 0
            try connection.execute("""
                SELECT set_config('idle_in_transaction_session_timeout', \(String(milliseconds)), false),
                       set_config('lock_timeout', \(String(lockTimeout)), false),
                       set_config('application_name', \("swiftbatch worker " + configuration.workerID), false),
                       set_config('synchronous_commit', \(synchronousCommit ? "on" : "off"), false)
                """)
        } catch {
            connection.close()
            throw error
        }
        return PostgresJobRepositorySession(connection: connection, coordination: ClusterCoordination())
    }
}

/// A flag one thread lowers to end another's loop.
private final class RunningFlag: Sendable {
    private let running = Atomic(true)
    var isRunning: Bool { running.load(ordering: .relaxed) }
    func stop() { running.store(false, ordering: .relaxed) }
}
