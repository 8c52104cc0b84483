/// Where a ``MultiThreadedChunkStep`` reads: items ordered by a unique 64-bit key, planned into
/// pages (one chunk each) by key range, then fetched a page at a time.
///
/// Planning is serialized: the step calls ``pageEnds(in:every:pages:in:)`` under its hand-out
/// lock, so the pages tile the key space in order and none is handed out twice. Fetching is not:
/// each thread calls ``fetch(_:in:)`` for its own page, at the same time as the others, through
/// its own chunk transaction. A source therefore needs no lock of its own, but must be
/// `Sendable`: keep its configuration immutable.
///
/// - Important: keys must be unique and stable while the step runs (a primary key), and the
///   rows selected must not change underneath the step: a row whose key falls in a range that
///   was already read is never read again.
public protocol KeyedPageSource<Item>: Sendable {
    associatedtype Item
    associatedtype Page: KeyedPage<Item>

    /// The prefix of the step's checkpoint keys in the context; unique within the step.
    var name: String { get }

    /// The keys read, both ends included (a partition's range), or nil for all of them.
    var keys: ClosedRange<Int64>? { get }

    /// Where pages of `limit` rows end: the keys of the `limit`-th, `2 * limit`-th, ... rows
    /// whose keys lie in `keys`, in key order, at most `pages` of them. Fewer than `pages` means
    /// the rows in `keys` run out before (the rows after the last end make a shorter page).
    ///
    /// - Parameters:
    ///   - keys: the keys still to plan (a gap between ranges already handed out or committed,
    ///     inside the source's own ``keys``); every end returned must lie in it.
    ///   - limit: the rows a page holds: the step's commit interval.
    ///   - pages: the most ends to return; the step plans this many pages at a time.
    ///   - chunk: the calling thread's chunk; a source of the repository's own database
    ///     reads through its transaction.
    func pageEnds(in keys: ClosedRange<Int64>, every limit: Int, pages: Int, in chunk: ChunkContext) throws -> [Int64]

    /// Every row whose key lies in `keys`, in key order.
    func fetch(_ keys: ClosedRange<Int64>, in chunk: ChunkContext) throws -> Page
}

/// One page of a ``KeyedPageSource``, in key order; used by the thread that fetched it.
///
/// Items are made from their rows one at a time, so a row that cannot be turned into an item is
/// a read error of that item alone (which a skip policy may skip).
public protocol KeyedPage<Item> {
    associatedtype Item
    /// How many rows the page holds.
    var count: Int { get }
    /// The key of the row at `position`.
    func key(at position: Int) throws -> Int64
    /// The item of the row at `position`.
    func item(at position: Int) throws -> Item
}
