/// What each of a worker's slots is doing: the state the control loop, the slots' threads and
/// the heartbeat share (behind one lock). Plain values: every decision about slots is a
/// mutation here, testable without a database.
struct WorkerSlots: Sendable {
    /// A partition claim in a slot's hands, and how long the slot may trust it.
    struct HeldPartition: Sendable, Equatable {
        var fence: PartitionFence
        /// Until when the claim is known to be the worker's: a full lease after the start of
        /// the last statement that renewed it (the claim itself, a heartbeat, a commit).
        var trustedUntil: ContinuousClock.Instant
        /// Set once the heartbeat found the claim gone: the slot must stop at once and write
        /// nothing more.
        var lost = false
    }

    /// One slot's work.
    enum Slot: Sendable, Equatable {
        case free
        /// Running a claimed partition; the heartbeat renews this claim.
        case partition(HeldPartition)
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

    /// The partition claims in hand and not lost, with their slots.
    var heldPartitions: [(slot: Int, fence: PartitionFence)] {
        slots.indices.compactMap { index in
            if case .partition(let held) = slots[index], !held.lost { (index, held.fence) } else { nil }
        }
    }

    /// The remote chunk claims in hand, for the heartbeat to renew.
    var heldChunks: [RemoteChunkFence] {
        slots.compactMap { if case .remoteChunk(let fence) = $0 { fence } else { nil } }
    }

    /// `slot` runs the partition `fence` claims, trusted for a lease from `renewedAt`.
    mutating func assign(_ fence: PartitionFence, to slot: Int, renewedAt: ContinuousClock.Instant, lease: Duration) {
        slots[slot] = .partition(HeldPartition(fence: fence, trustedUntil: renewedAt + lease))
    }

    /// `slot` processes the remote chunk `fence` claims.
    mutating func assign(_ fence: RemoteChunkFence, to slot: Int) {
        slots[slot] = .remoteChunk(fence)
    }

    /// A statement that started at `at` renewed the claim of the partition `partitionID` (a
    /// heartbeat, or the slot's own commit): it is trusted for a lease from then.
    mutating func renewed(_ partitionID: Int64, at: ContinuousClock.Instant, lease: Duration) {
        for index in slots.indices {
            guard case .partition(var held) = slots[index], held.fence.partitionID == partitionID, !held.lost else { continue }
            held.trustedUntil = max(held.trustedUntil, at + lease)
            slots[index] = .partition(held)
        }
    }

    /// Marks lost every held claim the heartbeat found gone (another worker holds it, or it was
    /// failed). Returns the slots newly lost: their work must be stopped at once.
    mutating func markLost(_ partitionIDs: Set<Int64>) -> [Int] {
        var newlyLost: [Int] = []
        for index in slots.indices {
            guard case .partition(var held) = slots[index], !held.lost, partitionIDs.contains(held.fence.partitionID) else {
                continue
            }
            held.lost = true
            slots[index] = .partition(held)
            newlyLost.append(index)
        }
        return newlyLost
    }

    /// The slots whose claim was not renewed for a lease before `now`: doubtful, as another
    /// worker may hold it by now. Not lost: the slot's next save asks the fence.
    func doubtful(now: ContinuousClock.Instant) -> [Int] {
        slots.indices.filter { index in
            if case .partition(let held) = slots[index] { !held.lost && held.trustedUntil < now } else { false }
        }
    }

    /// Whether the claim `slot` holds is lost (it must not write).
    func isLost(_ slot: Int) -> Bool {
        if case .partition(let held) = slots[slot] { held.lost } else { false }
    }

    /// `slot` is done: the heartbeat stops renewing what it held.
    mutating func release(_ slot: Int) {
        slots[slot] = .free
    }

    mutating func shutDown() {
        shuttingDown = true
    }
}
