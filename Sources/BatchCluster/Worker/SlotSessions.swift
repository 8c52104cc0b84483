import BatchPostgres
import PostgresClient
import Synchronization

/// One repository session per slot, reused from partition to partition.
final class SlotSessions: Sendable {
    private let boxes: [Box]
    /// Each slot's connection, for the watchdog on another thread: it only calls the
    /// connection's thread-safe members (`PostgresConnection.abort()`,
    /// `PostgresConnection.currentCallDuration`).
    private let connections: Mutex<[PostgresConnection?]>

    /// Sendable rule: a box is only touched on its slot's own thread (a DedicatedThread runs its
    /// jobs one at a time); the array of boxes never changes after init.
    private final class Box: @unchecked Sendable {
        var session: PostgresJobRepositorySession?
    }

    init(count: Int) {
        boxes = (0..<count).map { _ in Box() }
        connections = Mutex(Array(repeating: nil, count: count))
    }

    /// The slot's session; only on the slot's own thread.
    func get(_ slot: Int) -> PostgresJobRepositorySession? { boxes[slot].session }

    /// Closes the slot's session, if any, and keeps `session` instead; only on the slot's own
    /// thread.
    func replace(_ slot: Int, with session: PostgresJobRepositorySession?) {
        connections.withLock { $0[slot] = session?.connection }
        boxes[slot].session?.close()
        boxes[slot].session = session
    }

    /// Breaks off whatever the slot's connection is waiting for; from any thread.
    func abort(_ slot: Int) {
        connections.withLock { $0[slot]?.abort() }
    }

    /// How long the slot has been waiting for the database in one call, or nil when it is not
    /// waiting (it runs the step's own code, or is idle); from any thread.
    func currentCallDuration(_ slot: Int) -> Duration? {
        connections.withLock { $0[slot]?.currentCallDuration }
    }
}
