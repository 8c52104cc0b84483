/// Partitions between fixed boundaries of any key: `n` boundaries make `n + 1` partitions,
/// `[…, b1)`, `[b1, b2)`, ..., `[bn, …)`, so every key, however small or large, is in exactly
/// one (see ``KeyRange``). For a key whose split is known in advance: regions, letters,
/// months. The grid size is not used.
///
/// ```swift
/// KeyBoundaryPartitioner([[.text("g")], [.text("n")], [.text("t")]])   // 4 partitions by name
/// ```
public struct KeyBoundaryPartitioner: Partitioner {
    /// The boundaries, in key order (each is the first key of the partition it starts).
    public let boundaries: [RowKey]

    /// - Parameter boundaries: in the key's order, as the database orders them; none makes one
    ///   partition of every key.
    public init(_ boundaries: [RowKey]) {
        self.boundaries = boundaries
    }

    public func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
        let bounds: [RowKey?] = [nil] + boundaries.map { $0 } + [nil]
        let count = boundaries.count + 1
        return (0..<count).map { Partition.keys(KeyRange(from: bounds[$0], below: bounds[$0 + 1]), index: $0, of: count) }
    }
}
