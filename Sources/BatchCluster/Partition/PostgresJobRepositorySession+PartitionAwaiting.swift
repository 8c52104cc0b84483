import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient

/// The manager's wait for its partitions, and what it reads and fails while it waits.
extension PostgresJobRepositorySession {
    public func awaitPartitions(
        manager: StepExecution, workerStep: String, expected: Int, timeout: Duration?, reportEvery: Duration,
        logger: Logger, progress: (PartitionProgress) -> Void
    ) throws -> PartitionProgress {
        let clock = ContinuousClock()
        let deadline = timeout.map { clock.now.advanced(by: $0) }
        try listenUnlessPooled(ClusterChannels.partitionDone)
        // The session stays subscribed until it closes (a launch's session ends with the launch):
        // an UNLISTEN here would be one more round trip between the last completion and the
        // step's end. A notice that arrives later wakes the session's next wait once, which polls.
        var last: PartitionProgress?
        var lastReport = clock.now
        // The first sweep a second into the wait: the partitions were just made ready (or made
        // ready again by a restart), and workers sweep too.
        var lastSweep = clock.now
        var lastPoll = clock.now - .seconds(60)
        var total: Int?
        var pollCost = Duration.zero
        var firstPoll: (at: ContinuousClock.Instant, finished: Int)?
        while true {
            let current: PartitionProgress
            do {
                if clock.now - lastSweep >= .seconds(1) {
                    try failExpiredPartitions(manager: manager.id)
                    lastSweep = clock.now
                }
                // Completions arrive in bursts; one poll answers a whole burst. Polls are at
                // least 25 ms apart, and ten times their own cost apart, so the manager never
                // takes more than a tenth of a database core from the workers however many
                // partitions are open; and a twentieth of the time the rest should take at the
                // rate seen so far, so a long step is not polled 40 times a second. With only a
                // few left, each completion is answered at once: the last one is what the
                // whole job waits for.
                let sincePoll = clock.now - lastPoll
                let fewLeft = last.map { $0.total - $0.finished <= 8 } ?? false
                var spacing = max(.milliseconds(25), pollCost * 10)
                if let last, let firstPoll, last.finished > firstPoll.finished {
                    let perPartition = (lastPoll - firstPoll.at) / (last.finished - firstPoll.finished)
                    spacing = max(spacing, perPartition * (last.total - last.finished) / 20)
                }
                spacing = min(spacing, .seconds(1))
                if sincePoll < spacing && !fewLeft {
                    Thread.sleep(forTimeInterval: (spacing - sincePoll).inSeconds)
                }
                lastPoll = clock.now
                if let total {
                    current = try partitionProgress(manager: manager.id, workerStep: workerStep, total: total)
                } else {
                    // Counted again after every reconnect: a promoted standby may lack them. The
                    // same read says whether they have all finished already (a short step, whose
                    // workers were quicker than this wait): then it is all the wait reads.
                    let counted = try finishedPartitions(manager: manager.id)
                    guard counted.total == expected else {
                        throw PartitionsLost(step: manager.stepName, expected: expected, found: counted.total)
                    }
                    total = counted.total
                    current = counted.isFinished
                        ? counted : try partitionProgress(manager: manager.id, workerStep: workerStep, total: counted.total)
                }
                guard current.total == expected else {
                    throw PartitionsLost(step: manager.stepName, expected: expected, found: current.total)
                }
                pollCost = clock.now - lastPoll
                if firstPoll == nil { firstPoll = (lastPoll, current.finished) }
            } catch let error as PostgresError where error.isConnectionLost {
                // The workers ride out a database restart; so does the manager. Nothing is lost
                // meanwhile: completions are rows, and the first poll after reconnecting sees them.
                try reconnectToAwait(after: error, deadline: deadline, logger: logger)
                total = nil
                continue
            }
            if current != last || clock.now - lastReport >= reportEvery {
                progress(current)
                last = current
                lastReport = clock.now
            }
            if current.isFinished { return current }
            if let deadline, clock.now >= deadline {
                // The step fails now; partitions nobody claimed yet must not run under a failed
                // execution (a restart makes them ready again). Claimed ones end at their next
                // commit or lease, as for any failed job.
                try failUnclaimedPartitions(manager: manager.id, reason: "not run: step \(manager.stepName) timed out first")
                throw PartitionTimeout(step: manager.stepName, progress: current)
            }
            // A notice wakes the manager at once; without one it polls every second (every 50 ms
            // through a transaction-mode pooler, where no notice comes).
            var wait = noticeWait(.seconds(1))
            if let deadline { wait = min(wait, max(.milliseconds(1), clock.now.duration(to: deadline))) }
            do {
                if try connection.nextNotification(timeout: wait) != nil {
                    while try connection.nextNotification(timeout: .zero) != nil {}
                }
            } catch let error as PostgresError where error.isConnectionLost {
                try reconnectToAwait(after: error, deadline: deadline, logger: logger)
                total = nil
            }
        }
    }

    /// Reconnects with backoff (up to ``managerReconnectLimit``, or the step's deadline) and
    /// listens again.
    private func reconnectToAwait(after error: PostgresError, deadline: ContinuousClock.Instant?, logger: Logger) throws {
        logger.warning("lost the repository connection while awaiting partitions; reconnecting", metadata: ["batch.error": "\(error)"])
        try reconnectAsManager(until: deadline, doing: "awaiting partitions") {
            try listenUnlessPooled(ClusterChannels.partitionDone)
        }
        logger.notice("reconnected to the repository; awaiting partitions again")
    }

    /// Where the manager's partitions stand. A poll reads only the unfinished partitions
    /// (through the claimable partial index) and the failed or stopped ones, so it costs the
    /// same at the end of 100,000 partitions as of 10; `total` is the count read at the start
    /// of the wait (or since the last reconnect). When nothing is open any more, the finished
    /// ones are counted by state, from the rows that exist: the step ends on what the
    /// repository holds, never on `total` minus what is open (a promoted standby that lost
    /// partition rows has none open, and would look complete).
    func partitionProgress(manager: Int64, workerStep: String, total: Int) throws -> PartitionProgress {
        let row = try connection.query("""
            SELECT (SELECT count(*) FROM batch_partition
                    WHERE worker_step = \(workerStep) AND state IN ('READY', 'CLAIMED') AND manager_step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_partition
                    WHERE worker_step = \(workerStep) AND state = 'CLAIMED' AND manager_step_execution_id = \(manager)),
                   (SELECT count(*) FROM batch_partition WHERE manager_step_execution_id = \(manager) AND state = 'STOPPED'),
                   (SELECT coalesce(array_to_string(array_agg(partition_name ORDER BY partition_name), ', '), '')
                    FROM batch_partition WHERE manager_step_execution_id = \(manager) AND state = 'FAILED'),
                   (SELECT count(*) FROM batch_worker w
                    WHERE w.state = 'RUNNING' AND w.heartbeat_at > now() - make_interval(secs => w.lease_seconds)
                      AND (w.steps = '*' OR \(workerStep) = ANY (string_to_array(w.steps, ','))
                           OR split_part(\(workerStep), '/', 1) = ANY (string_to_array(w.steps, ','))))
            """, prepared: true).single()
        var progress = PartitionProgress()
        progress.total = total
        let open = Int(try row.decode(Int64.self, column: 0))
        progress.running = Int(try row.decode(Int64.self, column: 1))
        progress.stopped = Int(try row.decode(Int64.self, column: 2))
        let names = try row.decode(String.self, column: 3)
        progress.failedNames = names.isEmpty ? [] : names.components(separatedBy: ", ")
        progress.failed = progress.failedNames.count
        progress.liveWorkers = Int(try row.decode(Int64.self, column: 4))
        // An estimate for progress reports while partitions are open; never what the step ends on.
        progress.completed = max(0, total - open - progress.failed - progress.stopped)
        if open == 0 {
            // Counted from the rows, with the sums the manager step ends with.
            let finished = try finishedPartitions(manager: manager)
            progress.total = finished.total
            progress.completed = finished.completed
            progress.failed = finished.failed
            progress.stopped = finished.stopped
            progress.failedNames = finished.failedNames
            progress.counts = finished.counts
        }
        return progress
    }

    /// The manager's partitions counted by state from every row, and their step counts summed,
    /// in one read of all of them. Finished only if none is open: the states are exhaustive, so
    /// an open one makes the sum of the finished ones fall short of `total`.
    func finishedPartitions(manager: Int64) throws -> PartitionProgress {
        let row = try connection.query("""
            SELECT count(*), count(*) FILTER (WHERE p.state = 'COMPLETED'), count(*) FILTER (WHERE p.state = 'FAILED'),
                   count(*) FILTER (WHERE p.state = 'STOPPED'),
                   coalesce(string_agg(p.partition_name, ', ' ORDER BY p.partition_name) FILTER (WHERE p.state = 'FAILED'), ''),
                   \(unsafeRaw: Self.summedStepCounts)
            FROM batch_partition p LEFT JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
            WHERE p.manager_step_execution_id = \(manager)
            """, prepared: true).single()
        let (all, completed, failed, stopped, failedNames) = try row.decode((Int64, Int64, Int64, Int64, String).self)
        var progress = PartitionProgress()
        progress.total = Int(all)
        progress.completed = Int(completed)
        progress.failed = Int(failed)
        progress.stopped = Int(stopped)
        progress.failedNames = failedNames.isEmpty ? [] : failedNames.components(separatedBy: ", ")
        progress.counts = try Self.stepCounts(row, from: 5)
        return progress
    }

    /// Partitions whose lease ran out on their last allowed attempt are FAILED, saying why.
    /// Both managers (their own partitions) and workers (all) sweep, so nothing waits on a
    /// worker that died for good. The sweep is a function of the repository's owner (migration
    /// 13): a worker login under row-level security (sql/roles.sql) may not write another
    /// login's rows, but may have the repository fail what ran out.
    func failExpiredPartitions(manager: Int64? = nil) throws {
        try connection.execute("SELECT batch_fail_expired_partitions(\(manager))", prepared: true)
    }

    /// Fails the manager's partitions that no worker has claimed, with their step executions.
    func failUnclaimedPartitions(manager: Int64, reason: String) throws {
        try connection.execute("""
            WITH unclaimed AS (
                UPDATE batch_partition SET state = 'FAILED', updated_at = now(), last_error = \(reason)
                WHERE manager_step_execution_id = \(manager) AND state = 'READY'
                RETURNING step_execution_id
            )
            UPDATE batch_step_execution s SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = now() AT TIME ZONE 'UTC', version = s.version + 1
            FROM unclaimed WHERE s.step_execution_id = unclaimed.step_execution_id
            """)
    }

    public func partitionCounts(manager: StepExecution) throws -> StepCounts {
        let row = try connection.query("""
            SELECT \(unsafeRaw: Self.summedStepCounts)
            FROM batch_partition p JOIN batch_step_execution s ON s.step_execution_id = p.step_execution_id
            WHERE p.manager_step_execution_id = \(manager.id)
            """).single()
        return try Self.stepCounts(row, from: 0)
    }

    /// The partitions' step counts summed (`s` being their step executions), in the column order
    /// of ``stepCounts(_:from:)``.
    private static let summedStepCounts = """
        coalesce(sum(s.read_count), 0)::bigint, coalesce(sum(s.write_count), 0)::bigint,
        coalesce(sum(s.filter_count), 0)::bigint, coalesce(sum(s.read_skip_count), 0)::bigint,
        coalesce(sum(s.process_skip_count), 0)::bigint, coalesce(sum(s.write_skip_count), 0)::bigint,
        coalesce(sum(s.commit_count), 0)::bigint, coalesce(sum(s.rollback_count), 0)::bigint
        """

    private static func stepCounts(_ row: PostgresRow, from first: Int) throws -> StepCounts {
        func column(_ offset: Int) throws -> Int64 { try row.decode(Int64.self, column: first + offset) }
        return StepCounts(
            read: try column(0), write: try column(1), filter: try column(2), readSkip: try column(3),
            processSkip: try column(4), writeSkip: try column(5), commit: try column(6), rollback: try column(7))
    }
}
