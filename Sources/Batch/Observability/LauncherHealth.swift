import Synchronization

/// The heartbeat of the launcher running in this process, as its readiness probe reads it:
/// the repository's heartbeat thread reports each renewal here.
public final class LauncherHealth: Sendable {
    /// The process's one launcher heartbeat record.
    public static let shared = LauncherHealth()

    private struct State {
        var lastSuccess: ContinuousClock.Instant?
        var failing = false
    }

    private let state = Mutex(State())

    /// A renewal succeeded (`ok`) or failed.
    public func beat(ok: Bool) {
        state.withLock { state in
            state.failing = !ok
            if ok { state.lastSuccess = .now }
        }
    }

    /// False once a renewal failed, until one succeeds again.
    public var isHealthy: Bool { !state.withLock { $0.failing } }

    /// Time since the last successful renewal; nil before the first.
    public var age: Duration? { state.withLock { $0.lastSuccess.map { $0.duration(to: .now) } } }
}
