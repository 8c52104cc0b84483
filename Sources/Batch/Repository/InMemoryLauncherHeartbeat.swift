import Foundation
import Logging

/// Renews a launcher's lease in an ``InMemoryJobRepository`` every third of the lease, on a
/// thread of its own, until stopped; a renewal that finds another owner (a later launch took
/// the execution over) is logged as an error and ends the heartbeat.
final class InMemoryLauncherHeartbeat: LauncherHeartbeat, Sendable {
    private let signal = StopSignal()

    init(store: InMemoryJobStore, jobExecutionID: Int64, launcher: LauncherIdentity, logger: Logger) {
        let thread = Thread { [self] in
            while !signal.wait(launcher.heartbeatInterval) {
                guard store.renewLease(jobExecutionID: jobExecutionID, launcher: launcher) else {
                    logger.error(
                        "another launch took this execution over while this launcher was silent; its result here may be refused",
                        metadata: ["batch.job.execution_id": "\(jobExecutionID)"])
                    return
                }
            }
        }
        thread.name = "launcher-heartbeat"
        thread.start()
    }

    func stop() {
        signal.stop()
    }
}
