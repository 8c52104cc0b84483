import Foundation

/// An error that may go away when the same work is simply tried again (a serialization
/// failure, a deadlock). Store-specific errors conform in their own modules.
public protocol TransientFailure: Error {
    var isTransient: Bool { get }
}

/// Where in a chunk an item was skipped.
public enum SkipPhase: String, Sendable {
    case read, process, write
}

/// An item a step skipped, as recorded with the chunk that skipped it.
public struct SkippedItem: Sendable {
    public var jobExecutionID: Int64
    public var stepExecutionID: Int64
    public var stepName: String
    public var phase: SkipPhase
    /// What identifies the item to a person: its key when it has one, else a description.
    public var itemKey: String
    public var reason: String

    public init(
        jobExecutionID: Int64, stepExecutionID: Int64, stepName: String, phase: SkipPhase, itemKey: String, reason: String
    ) {
        self.jobExecutionID = jobExecutionID
        self.stepExecutionID = stepExecutionID
        self.stepName = stepName
        self.phase = phase
        self.itemKey = itemKey
        self.reason = reason
    }
}

/// An item that can name itself in skip records and error messages (a primary key, a line).
public protocol ItemKeyed {
    var itemKey: String { get }
}

/// What identifies an item to a person in skip records and errors: its key when it has one,
/// else a description.
func itemKey(of item: some Any) -> String {
    if let keyed = item as? any ItemKeyed { return keyed.itemKey }
    return String(String(describing: item).prefix(200))
}

/// Which failures skip an item instead of failing the step, and how many may.
public struct SkipPolicy: Sendable {
    /// Skips allowed per step execution, across read, process and write.
    public var limit: Int
    public var isSkippable: @Sendable (any Error) -> Bool

    public init(limit: Int, skippable isSkippable: @escaping @Sendable (any Error) -> Bool) {
        self.limit = limit
        self.isSkippable = isSkippable
    }

    /// Nothing is skipped: the first failure fails the step.
    public static let never = SkipPolicy(limit: 0) { _ in false }

    /// Skips errors of the given types, up to `limit`.
    public static func skip(_ types: [any Error.Type], limit: Int) -> SkipPolicy {
        let names = types.map { ObjectIdentifier($0) }
        return SkipPolicy(limit: limit) { error in names.contains(ObjectIdentifier(type(of: error))) }
    }
}

/// Which failures are tried again, how often, and how long to wait between tries.
public struct RetryPolicy: Sendable {
    /// Attempts of one chunk in all (1 means no retry).
    public var maxAttempts: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration
    public var isRetryable: @Sendable (any Error) -> Bool

    public init(
        maxAttempts: Int, initialBackoff: Duration = .milliseconds(50), maxBackoff: Duration = .seconds(2),
        retryable isRetryable: @escaping @Sendable (any Error) -> Bool
    ) {
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.isRetryable = isRetryable
    }

    /// Retries transient database errors (serialization failures, deadlocks) up to 5 attempts.
    public static let transientErrors = RetryPolicy(maxAttempts: 5) { error in
        (error as? any TransientFailure)?.isTransient == true
    }

    /// No retry.
    public static let never = RetryPolicy(maxAttempts: 1) { _ in false }

    /// The wait before attempt `attempt + 1` (exponential, capped).
    func backoff(afterAttempt attempt: Int) -> Duration {
        var wait = initialBackoff
        for _ in 1..<max(1, attempt) where wait < maxBackoff { wait = wait * 2 }
        return min(wait, maxBackoff)
    }
}

/// A step that skipped more items than its policy allows; names the item that was one too many.
public struct SkipLimitExceeded: Error, CustomStringConvertible {
    public var limit: Int
    public var phase: SkipPhase
    public var itemKey: String
    public var reason: String

    public init(limit: Int, phase: SkipPhase, itemKey: String, reason: String) {
        self.limit = limit
        self.phase = phase
        self.itemKey = itemKey
        self.reason = reason
    }

    public var description: String {
        // A reason that names the item already (most do) is not prefixed with it again.
        reason.contains(itemKey)
            ? "skip limit \(limit) exceeded at \(phase): \(reason)"
            : "skip limit \(limit) exceeded at \(phase) of item \(itemKey): \(reason)"
    }
}

extension StepTransaction {
    /// For stores without savepoints: a failed write is not isolated (the chunk then fails).
    public func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result { try body() }
    /// For stores that cannot record skips: the skip is counted but not recorded.
    public func recordSkip(_ item: SkippedItem) throws {}
}
