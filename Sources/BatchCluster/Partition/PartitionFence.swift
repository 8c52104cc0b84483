/// What a worker holds while it runs a claimed partition: the claim's owner and attempt.
/// Every write of the partition is guarded by both, so a worker that lost its lease (it was
/// paused, cut off, or too slow) can never commit after another took over.
public struct PartitionFence: Sendable, Hashable {
    public var partitionID: Int64
    public var owner: String
    public var attempt: Int
    public var leaseSeconds: Double
    /// The partition's worker step (`job/step`), named in the notice that it ended.
    public var workerStep: String

    public init(partitionID: Int64, owner: String, attempt: Int, leaseSeconds: Double, workerStep: String = "") {
        self.partitionID = partitionID
        self.owner = owner
        self.attempt = attempt
        self.leaseSeconds = leaseSeconds
        self.workerStep = workerStep
    }
}

/// The partition's lease was lost: another worker may own it now. The transaction that found
/// out was rolled back; the partition must be dropped without another write.
public struct PartitionLeaseLost: Error, CustomStringConvertible {
    public var fence: PartitionFence
    public var description: String {
        "lost the lease of partition \(fence.partitionID) (attempt \(fence.attempt)): another worker owns it now; nothing more was committed"
    }
}

