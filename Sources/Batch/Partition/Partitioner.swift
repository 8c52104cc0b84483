/// One slice of a partitioned step's work: a name (unique within the step) and the context its
/// worker step starts from (typically the key range to read).
public struct Partition: Sendable, Hashable {
    public var name: String
    public var context: ExecutionContext

    public init(name: String, context: ExecutionContext) {
        self.name = name
        self.context = context
    }
}

/// Splits a step's work into partitions, run independently (by worker daemons or local
/// threads), each restartable from its own checkpoint.
///
/// Called once per job instance: a restart reuses the partitions made the first time.
public protocol Partitioner: Sendable {
    /// - Parameters:
    ///   - gridSize: how many partitions are wanted (a partitioner may make fewer, e.g. zero for
    ///     an empty table).
    ///   - scope: the manager step's scope (parameters, repository session).
    func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition]

    /// Hands the partitions to `each` one at a time, in order: what the manager calls, writing
    /// them in batches as they come. A partitioner that can make them one by one implements it
    /// so that the manager's memory does not grow with their number; by default it iterates
    /// ``partitions(gridSize:in:)``.
    func forEachPartition(gridSize: Int, in scope: StepScope, _ each: (Partition) throws -> Void) throws

    /// Refuses parameters this partitioner cannot work with, before anything is written
    /// (called at launch). By default every parameter is fine.
    func validate(_ parameters: JobParameters) throws
}

extension Partitioner {
    public func validate(_ parameters: JobParameters) throws {}

    public func forEachPartition(gridSize: Int, in scope: StepScope, _ each: (Partition) throws -> Void) throws {
        for partition in try partitions(gridSize: gridSize, in: scope) { try each(partition) }
    }
}

extension Partition {
    /// Context keys of a key-range partition, read by range-aware readers.
    public static let minimumKey = "partition.min"
    public static let maximumKey = "partition.max"

    /// A partition covering the bigint keys `range`, both ends included. Partitions of other keys,
    /// or of half-open ranges, are ``keys(_:index:of:)``.
    public static func keyRange(_ range: ClosedRange<Int64>, index: Int, of count: Int) -> Partition {
        Partition(name: indexedName(index, of: count), context: [minimumKey: .int(range.lowerBound), maximumKey: .int(range.upperBound)])
    }

    /// The key range of a partition made by ``keyRange(_:index:of:)``, from its context.
    public static func keyRange(in context: ExecutionContext) -> ClosedRange<Int64>? {
        guard let low = context.int(minimumKey), let high = context.int(maximumKey), low <= high else { return nil }
        return low...high
    }
}

/// A partitioner that splits a key into ranges: it returns the ranges (16 bytes each), and its
/// partitions, made one at a time from them, are ``Partition/keyRange(_:index:of:)``.
public protocol KeyRangePartitioner: Partitioner {
    /// The ranges, in key order; empty when there is nothing to do.
    func keyRanges(gridSize: Int, in scope: StepScope) throws -> [ClosedRange<Int64>]
}

extension KeyRangePartitioner {
    public func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
        let ranges = try keyRanges(gridSize: gridSize, in: scope)
        return ranges.enumerated().map { Partition.keyRange($1, index: $0, of: ranges.count) }
    }

    public func forEachPartition(gridSize: Int, in scope: StepScope, _ each: (Partition) throws -> Void) throws {
        let ranges = try keyRanges(gridSize: gridSize, in: scope)
        for (index, range) in ranges.enumerated() {
            try each(Partition.keyRange(range, index: index, of: ranges.count))
        }
    }
}

/// Splits `[minimum, maximum]` into `count` contiguous ranges of (nearly) equal width.
///
/// Pure arithmetic, shared by the column-range partitioners; ids with gaps are fine (a range
/// may then hold fewer rows, never a row twice or none).
public func contiguousRanges(from minimum: Int64, to maximum: Int64, count: Int) -> [ClosedRange<Int64>] {
    precondition(count > 0 && minimum <= maximum)
    // Work in the unsigned distance so Int64.min...Int64.max does not overflow.
    let span = UInt64(bitPattern: maximum &- minimum)
    let parts = UInt64(min(count, span == UInt64.max ? count : Int(min(span + 1, UInt64(count)))))
    let (base, extra) = span == UInt64.max
        ? (UInt64.max / parts, UInt64.max % parts + 1)
        : ((span + 1) / parts, (span + 1) % parts)
    var ranges: [ClosedRange<Int64>] = []
    var start = minimum
    for index in 0..<parts {
        let size = base + (index < extra ? 1 : 0)
        let end = start &+ Int64(bitPattern: size &- 1)
        ranges.append(start...end)
        start = end &+ 1
    }
    return ranges
}

/// Makes a fixed number of partitions, named `p0`..., each with its index in its context
/// (`partition.index`): for work that is split by count rather than by data.
public struct CountPartitioner: Partitioner {
    public let count: Int?
    public let countParameter: String?

    /// - Parameters:
    ///   - count: how many partitions; nil uses the grid size.
    ///   - countParameter: a long job parameter that overrides `count`.
    public init(count: Int? = nil, countParameter: String? = nil) {
        self.count = count
        self.countParameter = countParameter
    }

    public func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
        var all: [Partition] = []
        try forEachPartition(gridSize: gridSize, in: scope) { all.append($0) }
        return all
    }

    public func forEachPartition(gridSize: Int, in scope: StepScope, _ each: (Partition) throws -> Void) throws {
        let n = countParameter.flatMap { scope.parameters.long($0) }.map(Int.init) ?? count ?? gridSize
        for index in 0..<max(0, n) {
            try each(Partition(name: Partition.indexedName(index, of: n), context: ["partition.index": .int(Int64(index))]))
        }
    }
}
