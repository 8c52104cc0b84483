import BatchPostgres

/// One repository session per slot, reused from partition to partition.
final class SlotSessions: Sendable {
    private let boxes: [Box]

    /// Sendable rule: a box is only touched on its slot's own thread (a DedicatedThread runs its
    /// jobs one at a time); the array of boxes never changes after init.
    private final class Box: @unchecked Sendable {
        var session: PostgresJobRepositorySession?
    }

    init(count: Int) { boxes = (0..<count).map { _ in Box() } }

    func get(_ slot: Int) -> PostgresJobRepositorySession? { boxes[slot].session }

    /// Closes the slot's session, if any, and keeps `session` instead.
    func replace(_ slot: Int, with session: PostgresJobRepositorySession?) {
        boxes[slot].session?.close()
        boxes[slot].session = session
    }
}
