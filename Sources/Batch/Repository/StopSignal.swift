import Foundation

/// A one-way stop signal for a thread that works at intervals (a heartbeat): another thread
/// calls ``stop()``; the worker's ``wait(_:)`` returns early, and true, once it was called.
public final class StopSignal: Sendable {
    // Sendable rule: `stopped` is only touched with `condition` locked.
    private let condition = NSCondition()
    private nonisolated(unsafe) var stopped = false

    public init() {}

    /// Stops the worker: its current and every later ``wait(_:)`` returns true at once.
    /// Idempotent.
    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits up to `interval`; true when stopped meanwhile (or before).
    public func wait(_ interval: Duration) -> Bool {
        let deadline = Date(timeIntervalSinceNow: interval.inSeconds)
        condition.lock()
        defer { condition.unlock() }
        while !stopped, condition.wait(until: deadline) {}
        return stopped
    }
}
