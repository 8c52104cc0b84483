/// Hands out the items of a step one at a time; nil means there are no more.
///
/// Readers run on the step's own thread (blocking I/O is fine here) and are called by one
/// thread at a time unless they say otherwise.
public protocol ItemReader<Item>: ItemStream {
    associatedtype Item
    /// Returns the next item, or nil at the end of the input.
    ///
    /// - Parameter chunk: the chunk being read; a reader of the repository's own database
    ///   may read through `chunk.transaction`.
    func read(in chunk: ChunkContext) throws -> Item?
}

/// Turns an item into another, or filters it out by returning nil (counted as filtered).
///
/// Processors should be pure: on a retry or a skip scan, an item may be processed again.
public protocol ItemProcessor<Input, Output> {
    associatedtype Input
    associatedtype Output
    func process(_ item: Input) throws -> Output?

    /// Processes all the items of a chunk at once (concurrently, say), each result at its
    /// item's position, or returns nil (the default) to have the chunk step call
    /// ``process(_:)`` item by item. See ``ConcurrentItemProcessor``.
    func processChunk(_ items: [Input]) -> [Result<Output?, any Error>]?

    /// ``processChunk(_:)`` with the chunk at hand, for processors that can stop early when
    /// ``ChunkContext/isInterrupted`` (see ``AsyncChunkProcessor``). The default calls
    /// ``processChunk(_:)``.
    func processChunk(_ items: [Input], in chunk: ChunkContext) -> [Result<Output?, any Error>]?
}

extension ItemProcessor {
    public func processChunk(_ items: [Input]) -> [Result<Output?, any Error>]? { nil }
    public func processChunk(_ items: [Input], in chunk: ChunkContext) -> [Result<Output?, any Error>]? {
        processChunk(items)
    }
}

/// Writes a chunk's items.
///
/// A writer of the repository's database writes through `chunk.transaction`, so its output,
/// the step's checkpoint and its counts commit together (exactly once across crashes). Any
/// other writer is at-least-once unless it undoes a rolled-back chunk's output: it should
/// truncate to its checkpoint on restart, and, since ``ItemStream/update(_:)`` runs before the
/// commit, treat an `update` whose context is behind what it wrote as a retry of a chunk whose
/// commit failed (as ``CSVItemWriter`` does).
public protocol ItemWriter<Item>: ItemStream {
    associatedtype Item
    func write(_ items: [Item], in chunk: ChunkContext) throws
}
