/// The keys from ``lower`` (included) up to ``upper`` (excluded), either end open: what a
/// partition of a keyed input reads.
///
/// Half-open ranges tile a key space with no gap and no overlap whatever the key's type
/// (`[a, b)`, `[b, c)`, ...), so partitions of text, dates, timestamps or composite keys never
/// lose or share a row: there is no "next key after b" to compute. A bound may be a prefix of
/// the key (see ``RowKey``): `[.date("2026-03-01")] ..< [.date("2026-03-08")]` holds every
/// `(day, name)` key of that week.
public struct KeyRange: Sendable, Hashable, CustomStringConvertible {
    /// The first keys read (included); nil reads from the first key.
    public var lower: RowKey?
    /// The keys at and above this one are not read (excluded); nil reads through the last key.
    public var upper: RowKey?

    /// - Parameters:
    ///   - lower: keys at or after it; nil for no lower bound.
    ///   - upper: keys before it; nil for no upper bound.
    public init(from lower: RowKey? = nil, below upper: RowKey? = nil) {
        self.lower = lower
        self.upper = upper
    }

    /// Every key.
    public static let all = KeyRange()

    /// The bigint keys of a closed range: `[lower, upper + 1)` (open above at `Int64.max`).
    public init(_ keys: ClosedRange<Int64>) {
        self.init(
            from: [.bigint(keys.lowerBound)],
            below: keys.upperBound == .max ? nil : [.bigint(keys.upperBound + 1)])
    }

    /// `[(date 2026-03-01), (date 2026-03-08))`; an open end is `…`.
    public var description: String {
        "[" + (lower?.description ?? "…") + ", " + (upper?.description ?? "…") + ")"
    }
}
