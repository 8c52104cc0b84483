import Foundation

/// The process launching a job, as recorded with its execution: it heartbeats the execution
/// while the job runs, so that once it is gone for good a later launch of the same instance can
/// attach instead of being refused forever.
public struct LauncherIdentity: Sendable, Equatable {
    /// `host:pid:random`, unique per launching process.
    public var owner: String
    public var host: String
    public var pid: Int32
    /// How long the launcher may stay silent before a later launch may take its execution over.
    /// It heartbeats every third of this.
    public var lease: Duration

    public init(owner: String, host: String, pid: Int32, lease: Duration) {
        precondition(lease > .zero)
        self.owner = owner
        self.host = host
        self.pid = pid
        self.lease = lease
    }

    /// This process.
    public static func current(lease: Duration = .seconds(30)) -> LauncherIdentity {
        let host = ProcessInfo.processInfo.hostName
        let pid = ProcessInfo.processInfo.processIdentifier
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return LauncherIdentity(owner: "\(host):\(pid):\(suffix)", host: host, pid: pid, lease: lease)
    }

    /// How often the launcher renews its lease.
    public var heartbeatInterval: Duration { lease / 3 }

    /// The lease in seconds, as the repository's statements take it.
    public var leaseSeconds: Double { lease.inSeconds }
}

/// What a launch was granted: a new execution (first run or restart), or a running one whose
/// launcher died, to attach to.
public struct LaunchGrant: Sendable {
    public var execution: JobExecution
    /// The launcher this one took over from, when attaching; nil for a new execution.
    public var attachedFrom: String?

    public init(execution: JobExecution, attachedFrom: String? = nil) {
        self.execution = execution
        self.attachedFrom = attachedFrom
    }

    public var isAttach: Bool { attachedFrom != nil }
}

/// A launcher's heartbeat, running on a connection and thread of its own until stopped.
public protocol LauncherHeartbeat: Sendable {
    /// Stops renewing (the job has ended). Idempotent.
    func stop()
}
