import Batch
import Foundation
import PostgresClient

extension PostgresJobRepositorySession {
    // MARK: - Launch

    public func createJobExecution(
        jobName: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity
    ) throws -> Result<LaunchGrant, LaunchRefusal> {
        let key = parameters.jobKey
        let now = Date()
        do {
            return try createJobExecution(
                jobName: jobName, key: key, parameters: parameters, restartable: restartable, launcher: launcher, now: now)
        } catch let refusal as LaunchRefusal {
            return .failure(refusal)
        }
    }

    private func createJobExecution(
        jobName: String, key: String, parameters: JobParameters, restartable: Bool, launcher: LauncherIdentity,
        now: Date
    ) throws -> Result<LaunchGrant, LaunchRefusal> {
        try connection.withTransaction { db in
            // Concurrent launchers of a new instance: the loser's INSERT waits for the winner's
            // commit and then does nothing; the row lock below then serializes their checks.
            // Queued: it goes out with the SELECT below, in one round trip.
            try db.queue("""
                INSERT INTO batch_job_instance (job_instance_id, version, job_name, job_key)
                VALUES (nextval('batch_job_seq'), 0, \(jobName), \(key))
                ON CONFLICT (job_name, job_key) DO NOTHING
                """, prepared: true)
            let instanceID = try db.query("""
                SELECT job_instance_id FROM batch_job_instance
                WHERE job_name = \(jobName) AND job_key = \(key) FOR UPDATE
                """, prepared: true).single().decode(Int64.self, column: 0)
            let instance = JobInstance(id: instanceID, jobName: jobName, jobKey: key)

            let last = try db.query("""
                SELECT job_execution_id, status FROM batch_job_execution
                WHERE job_instance_id = \(instanceID) ORDER BY job_execution_id DESC LIMIT 1
                """, prepared: true).first.map { try $0.decode((Int64, String?).self) }
            var restartFrom: Int64?
            if let (lastID, lastStatus) = last {
                var status = lastStatus.flatMap(BatchStatus.init(rawValue:)) ?? .unknown
                if status.isRunning {
                    switch try Self.takeOver(db, executionID: lastID, launcher: launcher, now: now) {
                    case .refused(let refusal):
                        return .failure(refusal)
                    case .attach(let previousOwner):
                        guard let execution = try jobExecution(id: lastID) else {
                            throw JobRepositoryError(message: "execution \(lastID) vanished while attaching to it")
                        }
                        return .success(LaunchGrant(execution: execution, attachedFrom: previousOwner))
                    case .failedOrphan:
                        status = .failed
                    }
                }
                // Unlike Spring Batch, an instance without identifying parameters is no exception:
                // once complete it is refused (use --next for a new instance).
                if status == .completed { return .failure(.alreadyComplete(executionID: lastID)) }
                if status == .abandoned { return .failure(.abandoned(executionID: lastID)) }
                if !restartable { return .failure(.notRestartable(executionID: lastID)) }
                restartFrom = lastID
            }

            let executionID: Int64
            do {
                executionID = try db.query("""
                    INSERT INTO batch_job_execution
                        (job_execution_id, version, job_instance_id, create_time, status, exit_code, exit_message, last_updated)
                    VALUES (nextval('batch_job_execution_seq'), 0, \(instanceID), \(now), 'STARTING', 'UNKNOWN', '', \(now))
                    RETURNING job_execution_id
                    """, prepared: true).single().decode(Int64.self, column: 0)
            } catch let error as PostgresError where error.sqlState == .uniqueViolation {
                // Only reachable if a writer bypassed the instance lock; the index still holds.
                let running = try Self.runningExecution(db, instanceID) ?? 0
                throw LaunchRefusal.alreadyRunning(executionID: running)
            }
            // The rows below need no answer: they are queued and go out with the COMMIT.
            for (name, parameter) in parameters {
                try db.queue("""
                    INSERT INTO batch_job_execution_params
                        (job_execution_id, parameter_name, parameter_type, parameter_value, identifying)
                    VALUES (\(executionID), \(name), \(parameter.storageType), \(parameter.storageValue),
                            \(parameter.identifying ? "Y" : "N"))
                    """, prepared: true)
            }
            var context = ExecutionContext()
            if let restartFrom {
                context = try Self.jobContext(db, restartFrom) ?? ExecutionContext()
            }
            let (short, serialized) = context.storageForm()
            try db.queue("""
                INSERT INTO batch_job_execution_context (job_execution_id, short_context, serialized_context)
                VALUES (\(executionID), \(short), \(serialized))
                """, prepared: true)
            try db.queue("""
                INSERT INTO batch_job_launcher (job_execution_id, owner, host, pid, lease_expires_at)
                VALUES (\(executionID), \(launcher.owner), \(launcher.host), \(launcher.pid),
                        now() + make_interval(secs => \(launcher.leaseSeconds)))
                """, prepared: true)
            return .success(LaunchGrant(execution: JobExecution(
                id: executionID, instance: instance, parameters: parameters, status: .starting,
                exitStatus: .unknown, createTime: now, lastUpdated: now, context: context)))
        }
    }

    private enum TakeOver {
        case refused(LaunchRefusal)
        /// The execution awaits partitions that workers carry on with: attach to it.
        case attach(previousOwner: String)
        /// The execution died with its launcher (it was running a step in-process): it is now
        /// FAILED and may be restarted.
        case failedOrphan
    }

    /// Decides what a launch does about a running execution of its instance (under the
    /// instance's row lock): refuse while its launcher lives; once the launcher's lease ran
    /// out, attach when the execution awaits partitions, or fail it so it can restart.
    private static func takeOver(
        _ db: PostgresConnection, executionID: Int64, launcher: LauncherIdentity, now: Date
    ) throws -> TakeOver {
        guard let row = try db.query("""
            SELECT owner, host, pid, lease_expires_at < now(), extract(epoch FROM now() - heartbeat_at)::bigint,
                   ceil(extract(epoch FROM lease_expires_at - now()))::bigint
            FROM batch_job_launcher WHERE job_execution_id = \(executionID) FOR UPDATE
            """, prepared: true).first
        else {
            // Launched by a binary without launcher heartbeats: never guess that it is dead.
            return .refused(.alreadyRunning(executionID: executionID))
        }
        let (owner, host, pid, expired, silentFor, leaseLeft) = try row.decode((String, String, Int32, Bool, Int64, Int64).self)
        guard expired else {
            return .refused(.alreadyRunning(
                executionID: executionID,
                launcher: "pid \(pid) on \(host), heard from \(silentFor) s ago; if that process is gone, "
                    + "a launch after its lease runs out (in \(leaseLeft) s) attaches to the execution"))
        }
        if try awaitsPartitions(db, executionID) {
            try db.execute("""
                UPDATE batch_job_launcher SET owner = \(launcher.owner), host = \(launcher.host), pid = \(launcher.pid),
                    attachments = attachments + 1, heartbeat_at = now(),
                    lease_expires_at = now() + make_interval(secs => \(launcher.leaseSeconds))
                WHERE job_execution_id = \(executionID)
                """, prepared: true)
            return .attach(previousOwner: owner)
        }
        let reason = "its launcher (pid \(pid) on \(host)) stopped heartbeating \(silentFor) s before a new launch"
        _ = try failRunning(db, executionID, reason: reason, now: now)
        return .failedOrphan
    }

    /// Whether the running execution is awaiting a partitioned step (workers can carry it on
    /// without its launcher).
    static func awaitsPartitions(_ db: PostgresConnection, _ executionID: Int64) throws -> Bool {
        try db.query("""
            SELECT EXISTS (
                SELECT 1 FROM batch_step_execution s
                WHERE s.job_execution_id = \(executionID) AND s.status IN ('STARTING', 'STARTED', 'STOPPING')
                  AND EXISTS (SELECT 1 FROM batch_partition p WHERE p.manager_step_execution_id = s.step_execution_id))
            """, prepared: true).single().decode(Bool.self, column: 0)
    }

    /// Marks a running execution and its running step executions FAILED, saying why; returns
    /// the names of the steps that were running. The step's optimistic version moves on, so a
    /// chunk still in flight in a process that was running it can no longer commit.
    static func failRunning(_ db: PostgresConnection, _ executionID: Int64, reason: String, now: Date) throws -> [String] {
        let reason = String(reason.prefix(2500))
        let steps = try db.query("""
            UPDATE batch_step_execution SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = \(now), last_updated = \(now), version = version + 1
            WHERE job_execution_id = \(executionID) AND status IN ('STARTING', 'STARTED', 'STOPPING')
            RETURNING step_name
            """, prepared: true).map { try $0.decode(String.self, column: 0) }
        try db.execute("""
            UPDATE batch_job_execution SET status = 'FAILED', exit_code = 'FAILED', exit_message = \(reason),
                end_time = \(now), last_updated = \(now), version = version + 1
            WHERE job_execution_id = \(executionID)
            """, prepared: true)
        return steps.filter { !$0.contains(":") }
    }

    private static func runningExecution(_ db: PostgresConnection, _ instanceID: Int64) throws -> Int64? {
        try db.query("""
            SELECT job_execution_id FROM batch_job_execution
            WHERE job_instance_id = \(instanceID) AND status IN ('STARTING', 'STARTED', 'STOPPING')
            """).first?.decode(Int64.self, column: 0)
    }

    private static func jobContext(_ db: PostgresConnection, _ executionID: Int64) throws -> ExecutionContext? {
        guard let row = try db.query("""
            SELECT short_context, serialized_context FROM batch_job_execution_context
            WHERE job_execution_id = \(executionID)
            """, prepared: true).first
        else { return nil }
        return try ExecutionContext(short: row.decode(String.self, column: 0), serialized: row.decode(String?.self, column: 1))
    }

    public func lastParameters(jobName: String) throws -> JobParameters? {
        guard let executionID = try connection.query("""
            SELECT max(e.job_execution_id) FROM batch_job_execution e
            JOIN batch_job_instance i USING (job_instance_id) WHERE i.job_name = \(jobName)
            """).single().decode(Int64?.self, column: 0)
        else { return nil }
        return try parameters(of: executionID)
    }

    func parameters(of executionID: Int64) throws -> JobParameters {
        var values: [String: JobParameter] = [:]
        for row in try connection.query("""
            SELECT parameter_name, parameter_type, parameter_value, identifying
            FROM batch_job_execution_params WHERE job_execution_id = \(executionID)
            """, prepared: true)
        {
            let (name, type, value, identifying) = try row.decode((String, String, String?, String).self)
            values[name] = try JobParameter(
                name: name, storageType: type, storageValue: value ?? "", identifying: identifying == "Y")
        }
        return JobParameters(values)
    }
}
