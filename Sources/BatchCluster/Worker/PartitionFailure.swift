import BatchPostgres
import PostgresClient

/// What a slot does when running a claimed partition threw: the one place that decides, from
/// the error alone, whether the partition is dropped, resumed or left to its lease.
enum PartitionFailure: Equatable {
    /// The claim was lost (another worker may own the partition now): drop it, write nothing.
    case leaseLost
    /// The database restarted or the network broke: the claim is still the worker's while the
    /// heartbeat renews it, so reconnect and resume from the last committed chunk (a takeover
    /// meanwhile shows at the first fenced save).
    case resumeAfterReconnect
    /// As `resumeAfterReconnect`, but the worker is shutting down: the partition is left to
    /// its lease and runs again elsewhere from its checkpoint.
    case leaveToLease
    /// The repository refused: stop renewing the claim; the lease runs out and the partition
    /// is claimed again, from its last checkpoint.
    case abandon

    init(_ error: any Error, shuttingDown: Bool) {
        if error is PartitionLeaseLost {
            self = .leaseLost
        } else if (error as? PostgresError)?.isConnectionLost == true {
            self = shuttingDown ? .leaveToLease : .resumeAfterReconnect
        } else {
            self = .abandon
        }
    }
}
