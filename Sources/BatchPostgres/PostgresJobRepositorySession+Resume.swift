import Batch
import Foundation
import PostgresClient

/// After a reconnect, the repository holds steps of the execution still running whose end this
/// process wrote before: the server it reaches now (a promoted standby) never received them.
struct StepEndsLost: Error, CustomStringConvertible {
    var executionID: Int64
    var running: Int64

    var description: String {
        "after a reconnect the job repository holds \(running) step executions of job execution \(executionID) still running (it failed over to a standby that had not received their end): the execution stays running; a launch of the same instance attaches to it and finishes it"
    }
}

extension PostgresJobRepositorySession {
    /// How long a launcher keeps trying to reach the repository again before its run ends with
    /// the error that lost it.
    static let resumeReconnectLimit = Duration.seconds(120)

    /// A run that lost its connection (a failover, a restart of the server) or whose job end met
    /// a server lacking its steps' ends may resume: reconnects with backoff (within
    /// ``resumeReconnectLimit``), restoring the session's commit setting.
    public func reconnectForResume(after error: any Error) -> Bool {
        if error is StepEndsLost, connection.isConnected {
            standbysToConfirm = streamingStandbys()
            return true
        }
        guard Self.isConnectionLost(error) else { return false }
        let clock = ContinuousClock()
        let giveUp = clock.now + Self.resumeReconnectLimit
        var backoff = Duration.milliseconds(100)
        while true {
            do {
                try connection.reconnect()
                // Through a transaction-mode pooler the setting goes with each transaction already.
                if commitsAsynchronously, connection.pooling == .session {
                    try connection.execute("SET synchronous_commit = off")
                }
                // Another server now, maybe without standbys: a job end waits for its own.
                standbysToConfirm = streamingStandbys()
                return true
            } catch {
                guard Self.isConnectionLost(error), clock.now + backoff < giveUp else { return false }
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
