/// What each of a worker's slots is doing: the state the control loop, the slots' threads and
/// the heartbeat share (behind one lock). Plain values: every decision about slots is a
/// mutation here, testable without a database.
struct WorkerSlots: Sendable {
    /// One slot's work.
    enum Slot: Sendable, Equatable {
        case free
        /// Running a claimed partition; the heartbeat renews this claim.
        case partition(PartitionFence)
        /// Processing a claimed remote chunk; the heartbeat renews this claim.
        case remoteChunk(RemoteChunkFence)
    }

    private(set) var slots: [Slot]
    /// Once set, nothing new is claimed and running work is handed back after its commit.
    private(set) var shuttingDown = false

    init(count: Int) {
        slots = Array(repeating: .free, count: count)
    }

    /// The slots with nothing to do, in order.
    var free: [Int] { slots.indices.filter { slots[$0] == .free } }

    /// Whether any slot is free (or the worker is leaving, so nobody should wait for one).
    var hasFreeSlotOrShuttingDown: Bool { shuttingDown || slots.contains(.free) }

    /// Whether every slot is free.
    var isIdle: Bool { slots.allSatisfy { $0 == .free } }

    /// The partition claims in hand, for the heartbeat to renew.
    var heldPartitions: [PartitionFence] {
        slots.compactMap { if case .partition(let fence) = $0 { fence } else { nil } }
    }

    /// The remote chunk claims in hand, for the heartbeat to renew.
    var heldChunks: [RemoteChunkFence] {
        slots.compactMap { if case .remoteChunk(let fence) = $0 { fence } else { nil } }
    }

    /// `slot` runs `work` now (a fresh claim, or the next partition a slot claimed itself).
    mutating func assign(_ work: Slot, to slot: Int) {
        slots[slot] = work
    }

    /// `slot` is done: the heartbeat stops renewing what it held.
    mutating func release(_ slot: Int) {
        slots[slot] = .free
    }

    mutating func shutDown() {
        shuttingDown = true
    }
}
