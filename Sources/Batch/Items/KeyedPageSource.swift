/// Where a ``MultiThreadedChunkStep`` reads: items ordered by a unique 64-bit key, fetched a
/// page (one chunk) at a time by key range.
///
/// The step calls ``fetch(_:limit:in:)`` from several threads, one at a time (it hands pages out
/// under a lock, so the pages tile the key space in order); each call goes through the calling
/// thread's own chunk transaction. A source therefore needs no lock of its own, but must be
/// `Sendable`: keep its configuration immutable.
///
/// - Important: keys must be unique and stable while the step runs (a primary key), and the
///   rows selected must not change underneath the step: a row whose key falls in a range that
///   already committed is never read again.
public protocol KeyedPageSource<Item>: Sendable {
    associatedtype Item
    associatedtype Page: KeyedPage<Item>

    /// The prefix of the step's checkpoint keys in the context; unique within the step.
    var name: String { get }

    /// The keys read, both ends included (a partition's range), or nil for all of them.
    var keys: ClosedRange<Int64>? { get }

    /// The first `limit` items whose keys lie in `keys`, in key order.
    ///
    /// - Parameter chunk: the calling thread's chunk; a source of the repository's own database
    ///   reads through its transaction.
    func fetch(_ keys: ClosedRange<Int64>, limit: Int, in chunk: ChunkContext) throws -> Page
}

/// One page of a ``KeyedPageSource``, in key order; used by the thread that fetched it.
///
/// Items are made from their rows one at a time, outside the step's hand-out lock, so a row that
/// cannot be turned into an item is a read error of that item alone (which a skip policy may
/// skip).
public protocol KeyedPage<Item> {
    associatedtype Item
    /// How many rows the page holds.
    var count: Int { get }
    /// The key of the row at `position`.
    func key(at position: Int) throws -> Int64
    /// The item of the row at `position`.
    func item(at position: Int) throws -> Item
}
