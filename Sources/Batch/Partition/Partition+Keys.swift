extension Partition {
    /// Context keys of a partition of any key (``keys(_:index:of:)``): its lower bound, included,
    /// and its upper bound, excluded, each a ``RowKey`` in its context form; a missing one is an
    /// open end.
    public static let lowerKey = "partition.lower"
    public static let upperKey = "partition.upper"

    /// A partition reading the keys of `range` (lower bound included, upper bound excluded),
    /// named `p0`, `p1`, ... (zero-padded to sort in order).
    public static func keys(_ range: KeyRange, index: Int, of count: Int) -> Partition {
        var context = ExecutionContext()
        context[lowerKey] = range.lower?.json
        context[upperKey] = range.upper?.json
        return Partition(name: indexedName(index, of: count), context: context)
    }

    /// The key range of a partition, from its context: the bounds of ``keys(_:index:of:)``, or
    /// the bigint range of ``keyRange(_:index:of:)`` (as `[min, max + 1)`); nil when the
    /// context holds neither (the step is not partitioned, or not by key).
    ///
    /// - Throws: ``ItemStreamError`` (`badCheckpoint`) when a bound is there but not a key.
    public static func keys(in context: ExecutionContext) throws -> KeyRange? {
        if let closed = keyRange(in: context) { return KeyRange(closed) }
        func bound(_ name: String) throws -> RowKey? {
            guard let saved = context[name] else { return nil }
            guard let key = RowKey(json: saved) else {
                throw ItemStreamError(
                    code: .badCheckpoint, stream: "partition",
                    message: "the partition's context holds \(name) = \(saved), not a key: expected \(RowKey.jsonFormHelp)")
            }
            return key
        }
        let lower = try bound(lowerKey)
        let upper = try bound(upperKey)
        guard lower != nil || upper != nil else { return nil }
        return KeyRange(from: lower, below: upper)
    }

    /// `p0`...`p9`, or `p00`...`p42` when there are 43: names that sort in partition order.
    static func indexedName(_ index: Int, of count: Int) -> String {
        let width = String(max(count - 1, 0)).count
        let number = String(index)
        return "p" + String(repeating: "0", count: max(0, width - number.count)) + number
    }
}
