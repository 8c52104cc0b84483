/// The status of a job or step execution, as stored in the repository's `status` columns.
///
/// The cases are declared in Spring Batch's order, and that order is meaningful: it ranks
/// statuses from best to worst so that aggregating several statuses (the steps of a job, the
/// partitions of a step) is a `max`. Only if every part is ``completed`` is the whole completed.
///
/// The raw values are the upper-case names Spring Batch stores, so SQL written for Spring Batch's
/// tables (`WHERE status = 'FAILED'`) works unchanged. A stored string this type does not know
/// parses to `nil` through `init?(rawValue:)`; never default it to a status silently.
public enum BatchStatus: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Finished, and every part of it finished successfully.
    case completed = "COMPLETED"
    /// Created and about to run; nothing has happened yet.
    case starting = "STARTING"
    /// Running.
    case started = "STARTED"
    /// Asked to stop; it stops at its next chunk boundary.
    case stopping = "STOPPING"
    /// Stopped on request; it can be restarted.
    case stopped = "STOPPED"
    /// Ended with an error; it can be restarted.
    case failed = "FAILED"
    /// Finished unsuccessfully and must be skipped on restart (an operator gave up on it).
    case abandoned = "ABANDONED"
    /// In an uncertain state, typically because the process running it died mid-update.
    case unknown = "UNKNOWN"

    /// Whether work is in progress: ``starting``, ``started`` or ``stopping``.
    ///
    /// ``stopping`` counts as running because the execution still holds its resources until it
    /// reaches a chunk boundary; launching the same instance again must still be refused.
    public var isRunning: Bool {
        switch self {
        case .starting, .started, .stopping: true
        default: false
        }
    }

    /// Whether the execution ended badly: ``failed`` or anything ranked worse.
    public var isUnsuccessful: Bool {
        self >= .failed
    }

    /// Combines this status with another the way Spring Batch's `BatchStatus.upgradeTo` does.
    ///
    /// If either status is worse than ``started``, the worse one wins. Otherwise both are among
    /// ``completed``, ``starting`` and ``started``, which are read as the stages of a run in
    /// progress, `STARTING -> STARTED -> COMPLETED`, and the later stage wins. That is why
    /// `starting.upgrade(to: .completed)` is ``completed`` even though ``completed`` ranks lowest.
    ///
    /// - Parameter other: The status to combine with this one.
    /// - Returns: The status with the higher priority.
    public func upgrade(to other: BatchStatus) -> BatchStatus {
        if self > .started || other > .started {
            return max(self, other)
        }
        if self == .completed || other == .completed {
            return .completed
        }
        return max(self, other)
    }

    /// The stored form, e.g. `FAILED`.
    public var description: String { rawValue }

    /// The position in Spring Batch's declaration order, which is the severity order.
    var ordinal: Int {
        switch self {
        case .completed: 0
        case .starting: 1
        case .started: 2
        case .stopping: 3
        case .stopped: 4
        case .failed: 5
        case .abandoned: 6
        case .unknown: 7
        }
    }
}

extension BatchStatus: Comparable {
    /// Orders statuses from best (``completed``) to worst (``unknown``), as Spring Batch does.
    public static func < (lhs: BatchStatus, rhs: BatchStatus) -> Bool {
        lhs.ordinal < rhs.ordinal
    }
}
