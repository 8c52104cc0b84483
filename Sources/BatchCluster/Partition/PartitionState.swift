import Batch

/// Where a partition stands, as `batch_partition.state` records it.
///
///     READY --claim--> CLAIMED --finish--> COMPLETED | FAILED | STOPPED
///       ^                 |  \
///       +-- hand back ----+   lease runs out: claimable again while attempts are left,
///                             FAILED by a sweep on the last one
public enum PartitionState: String, Sendable, CaseIterable {
    /// Waiting for a worker (new, handed back, or made ready again by a restart).
    case ready = "READY"
    /// Held by a worker under lease: `owner` and `attempt` name the claim.
    case claimed = "CLAIMED"
    case completed = "COMPLETED"
    case failed = "FAILED"
    case stopped = "STOPPED"
}

/// How a worker leaves a partition.
public enum PartitionOutcome: Sendable, Equatable {
    case completed
    case failed(String)
    case stopped
    /// Graceful shutdown: ready again for any worker, its checkpoint kept, the attempt not counted.
    case handedBack

    /// How a partition whose step returned with `status` ends: a step STOPPED because its
    /// worker is shutting down (and not because the job is stopping) is handed back.
    public static func after(
        status: BatchStatus, exitDescription: String, workerShuttingDown: Bool, jobStopping: Bool
    ) -> PartitionOutcome {
        switch status {
        case .completed: .completed
        case .stopped: workerShuttingDown && !jobStopping ? .handedBack : .stopped
        default: .failed(exitDescription)
        }
    }
}

/// How a partition's last save ends it: its new state, the error to record, and whom to wake.
public struct PartitionFinish: Sendable, Equatable {
    public var state: PartitionState
    public var error: String?
    /// The channel notified: the managers' for an end, the workers' for a hand-back.
    public var channel: String
    public var payload: String

    /// The longest error message kept with a partition.
    public static let maxErrorLength = 2500

    /// A partition that completes wakes its manager only once fewer than this many partitions
    /// of its step wait after it: before that, the manager's own polls see the progress, and a
    /// NOTIFY per partition would wake every listening session.
    public static let notifyBelowWaiting = 10

    public init(outcome: PartitionOutcome, workerStep: String) {
        payload = workerStep
        channel = ClusterChannels.partitionDone
        error = nil
        switch outcome {
        case .completed:
            state = .completed
        case .failed(let message):
            state = .failed
            error = String(message.prefix(Self.maxErrorLength))
        case .stopped:
            state = .stopped
        case .handedBack:
            state = .ready
            channel = ClusterChannels.work
        }
    }

    /// Whether the statement that ends the partition may claim the worker's next one: not when
    /// it is handed back (the worker is leaving).
    public var claimsNext: Bool { state != .ready }
}
