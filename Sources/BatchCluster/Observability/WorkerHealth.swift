/// A worker's (or launcher's) health as an operator's probe sees it: ready means connected to
/// the repository, registered, and its heartbeat current.
public struct WorkerHealth: Sendable, Equatable {
    /// The control connection is up (false from a failed statement until the next connect).
    public var connected = false
    /// The worker is registered in `batch_worker` on its current connection.
    public var registered = false
    /// Time since the last heartbeat that succeeded; nil before the first.
    public var heartbeatAge: Duration?
    /// The longest heartbeat age still called current (a lease: beyond it the worker's claims
    /// may already be another's).
    public var heartbeatLimit: Duration
    /// The worker was asked to stop (it is handing its partitions back).
    public var shuttingDown = false

    public init(heartbeatLimit: Duration) {
        self.heartbeatLimit = heartbeatLimit
    }

    /// Connected, registered, heartbeat current and not stopping.
    public var isReady: Bool {
        guard let heartbeatAge else { return false }
        return connected && registered && !shuttingDown && heartbeatAge <= heartbeatLimit
    }

    /// The checks by name, for a probe's body.
    public var checks: [String: String] {
        var checks = [
            "connected": "\(connected)", "registered": "\(registered)", "shutting_down": "\(shuttingDown)",
            "heartbeat_limit_seconds": Self.seconds(heartbeatLimit),
        ]
        checks["heartbeat_age_seconds"] = heartbeatAge.map(Self.seconds) ?? "never"
        return checks
    }

    private static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return String(Double(Int(value * 1000)) / 1000)
    }
}
