import Batch
import BatchPostgres
import Foundation
import Logging
import PostgresClient

extension PostgresJobRepositorySession {
    /// How long a manager keeps trying to reach a database that went away before its step fails.
    static let managerReconnectLimit = Duration.seconds(300)

    /// Reconnects with backoff, for at most ``managerReconnectLimit`` (or until `deadline`),
    /// then runs `resume` on the new session; a connection lost again meanwhile is retried.
    ///
    /// - Throws: a ``JobRepositoryError`` naming what the manager was `doing` when it gives up.
    func reconnectAsManager<Result>(
        until deadline: ContinuousClock.Instant? = nil, doing: String, resume: () throws -> Result
    ) throws -> Result {
        let clock = ContinuousClock()
        let giveUp = min(deadline ?? clock.now + Self.managerReconnectLimit, clock.now + Self.managerReconnectLimit)
        var backoff = Duration.milliseconds(100)
        while true {
            do {
                try connection.reconnect()
                return try resume()
            } catch let retry as PostgresError where retry.isConnectionLost {
                guard clock.now + backoff < giveUp else {
                    throw JobRepositoryError(
                        message: "lost the repository while \(doing) and could not reconnect: \(retry)")
                }
                Thread.sleep(forTimeInterval: backoff.inSeconds)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

}
