import BatchSupport

/// The keys of a ``MultiThreadedChunkStep``'s input whose chunks have committed: a sorted set of
/// disjoint, non-adjacent closed ranges of 64-bit keys, and its form in the step's context.
///
/// Chunks commit out of order when several threads work, so "the last key committed" is not a
/// restart position. The checkpoint is instead a low-water mark (every key from the start of the
/// input up to `done_through` is done) plus the few ranges above it whose chunks committed while
/// an earlier chunk was still in flight (`committed_above`). A restart reads only the gaps.
///
/// Adjacent ranges merge, so the ranges above the low-water mark number at most the chunks that
/// were in flight when the step ended: the context stays small however long the step runs.
public struct KeyRangeCheckpoint: Sendable, Hashable, CustomStringConvertible {
    /// The first key of the input (a partition's lower bound, or `Int64.min`).
    public let start: Int64
    /// The done ranges, sorted, disjoint and never adjacent.
    public private(set) var ranges: [ClosedRange<Int64>] = []

    /// An empty checkpoint for an input that starts at `start`.
    public init(start: Int64 = .min) {
        self.start = start
    }

    /// Every key from ``start`` through this one is done; nil when the first chunk has not
    /// committed yet.
    public var doneThrough: Int64? {
        guard let first = ranges.first, first.lowerBound == start else { return nil }
        return first.upperBound
    }

    /// The done ranges above ``doneThrough``.
    public var committedAbove: ArraySlice<ClosedRange<Int64>> {
        doneThrough == nil ? ranges[...] : ranges.dropFirst()
    }

    public var description: String {
        let above = committedAbove.map { "\($0.lowerBound)...\($0.upperBound)" }.joined(separator: ", ")
        return "done through \(doneThrough.map(String.init) ?? "nothing"), and above it [\(above)]"
    }

    /// Marks `range` done, merging it with the ranges it touches.
    public mutating func insert(_ range: ClosedRange<Int64>) {
        var lower = range.lowerBound
        var upper = range.upperBound
        // The ranges that overlap or touch the new one are replaced by their union.
        let first = ranges.firstIndex { $0.upperBound >= lower || $0.upperBound + 1 == lower } ?? ranges.endIndex
        var end = first
        while end < ranges.endIndex, upper == .max || ranges[end].lowerBound <= upper + 1 {
            lower = min(lower, ranges[end].lowerBound)
            upper = max(upper, ranges[end].upperBound)
            end += 1
        }
        ranges.replaceSubrange(first..<end, with: [lower...upper])
    }

    /// Whether `key` is done.
    public func contains(_ key: Int64) -> Bool {
        ranges.contains { $0.contains(key) }
    }

    /// The first run of keys that are not done, from `key` through `end` at most: starts at the
    /// first key at or after `key` that is not done, ends before the next done range (or at
    /// `end`). Nil when every key from `key` through `end` is done.
    public func firstGap(from key: Int64, through end: Int64) -> ClosedRange<Int64>? {
        guard key <= end else { return nil }
        var lower = key
        for range in ranges where range.upperBound >= lower {
            if range.lowerBound > lower {
                return lower...min(end, range.lowerBound - 1)
            }
            guard range.upperBound < end else { return nil }
            lower = range.upperBound + 1
        }
        return lower <= end ? lower...end : nil
    }

    // MARK: - Context form

    /// Reads the checkpoint saved under `prefix` (`<prefix>.done_through`,
    /// `<prefix>.committed_above`); an empty one when neither is there.
    ///
    /// - Throws: ``ItemStreamError`` (`badCheckpoint`) when the saved values are not keys and
    ///   ranges of keys at or after `start`.
    public init(_ context: ExecutionContext, prefix: String, start: Int64 = .min) throws {
        self.init(start: start)
        func bad(_ what: String) -> ItemStreamError {
            ItemStreamError(code: .badCheckpoint, stream: prefix, message: "the saved context holds \(what)")
        }
        if let saved = context[prefix + ".done_through"] {
            guard case .int(let through) = saved, through >= start else {
                throw bad("\(prefix).done_through = \(saved), not a key at or after \(start)")
            }
            insert(start...through)
        }
        if let saved = context[prefix + ".committed_above"] {
            guard case .array(let pairs) = saved else { throw bad("\(prefix).committed_above = \(saved), not a list") }
            for pair in pairs {
                guard case .array(let ends) = pair, ends.count == 2, case .int(let lower) = ends[0],
                    case .int(let upper) = ends[1], start <= lower, lower <= upper
                else { throw bad("\(prefix).committed_above holding \(pair), not a [first, last] pair of keys") }
                insert(lower...upper)
            }
        }
    }

    /// Writes the checkpoint under `prefix`, replacing what was there.
    public func save(to context: inout ExecutionContext, prefix: String) {
        context[prefix + ".done_through"] = doneThrough.map(JSONValue.int)
        let above = committedAbove
        context[prefix + ".committed_above"] =
            above.isEmpty ? nil : .array(above.map { .array([.int($0.lowerBound), .int($0.upperBound)]) })
    }
}
