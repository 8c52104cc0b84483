import Foundation

/// What a ``waitFor(_:timeout:poll:_:)`` waited for in vain.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public var what: String
    public var timeout: Duration
    public var description: String { "timed out after \(timeout) waiting for \(what)" }
}

/// Polls `condition` every `poll` until it holds; throws ``WaitTimedOut`` naming `what` once
/// `timeout` has passed (or the task's cancellation error). For conditions no event signals
/// (another process's output, a row another session commits); where an event exists, wait on
/// the event instead. The condition must not block the cooperative pool: run blocking checks
/// (libpq) on a thread of their own.
public func waitFor(
    _ what: String, timeout: Duration = .seconds(30), poll: Duration = .milliseconds(20),
    _ condition: () async throws -> Bool
) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while try await !condition() {
        guard clock.now < deadline else { throw WaitTimedOut(what: what, timeout: timeout) }
        try await Task.sleep(for: poll)
    }
}

/// Polls `value` every `poll` until it gives one, and returns it; throws ``WaitTimedOut``
/// naming `what` once `timeout` has passed. As ``waitFor(_:timeout:poll:_:)``, for a wait
/// whose end also tells what it found.
public func waitFor<Value>(
    _ what: String, timeout: Duration = .seconds(30), poll: Duration = .milliseconds(20),
    value: () async throws -> Value?
) async throws -> Value {
    var found: Value?
    try await waitFor(what, timeout: timeout, poll: poll) {
        found = try await value()
        return found != nil
    }
    return found!
}
