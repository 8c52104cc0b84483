import Batch
import Foundation
import Logging
import PostgresClient

/// Renews a launcher's lease on its running execution every third of the lease, on a thread
/// and connection of its own (the job's own session is busy running steps). A lost connection
/// is retried at the next beat; a renewal that finds another owner means a later launch took
/// the execution over while this process was unresponsive, which is logged as an error.
final class PostgresLauncherHeartbeat: LauncherHeartbeat, Sendable {
    private let signal = StopSignal()

    init(
        connectionString: String?, jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger
    ) throws {
        let first = try PostgresConnection(connectionString: connectionString, deadPeerDetection: DeadPeerDetection(timeout: launcher.lease))
        let thread = Thread { [self] in
            beat(first, connectionString, jobExecutionID, launcher, logger)
        }
        thread.name = "launcher-heartbeat"
        thread.start()
    }

    func stop() {
        signal.stop()
    }

    private func beat(
        _ first: PostgresConnection, _ connectionString: String?, _ executionID: Int64,
        _ launcher: LauncherIdentity, _ logger: Logger
    ) {
        var connection: PostgresConnection? = first
        defer { connection?.close() }
        while !signal.wait(launcher.heartbeatInterval) {
            do {
                let db: PostgresConnection
                if let connection { db = connection } else {
                    db = try PostgresConnection(connectionString: connectionString, deadPeerDetection: DeadPeerDetection(timeout: launcher.lease))
                    connection = db
                }
                let renewed = try db.query("""
                    UPDATE batch_job_launcher SET heartbeat_at = now(),
                        lease_expires_at = now() + make_interval(secs => \(launcher.leaseSeconds))
                    WHERE job_execution_id = \(executionID) AND owner = \(launcher.owner)
                    RETURNING 1
                    """, prepared: true).first != nil
                LauncherHealth.shared.beat(ok: renewed)
                if !renewed {
                    logger.error(
                        "another launch took this execution over while this process was unresponsive; its result here may be refused",
                        metadata: ["batch.job.execution_id": "\(executionID)"])
                    return
                }
            } catch {
                LauncherHealth.shared.beat(ok: false)
                logger.warning(
                    "launcher heartbeat failed; retrying", metadata: ["batch.error": "\(error)", "batch.job.execution_id": "\(executionID)"])
                connection?.close()
                connection = nil
            }
        }
    }
}
