import Foundation

/// Writes items as JSON lines (one compact JSON document per line) to a file; restartable,
/// each committed item once.
///
/// A chunk's lines reach the file just before the chunk commits (written and synced in
/// ``update(_:)``), so a chunk that rolls back writes nothing, and a
/// chunk retried after its commit failed (a deadlock, a serialization failure) first cuts the
/// file back to the end of the last committed chunk, so its lines are never written twice.
///
/// Context key (prefixed by ``name``): `.offset`, the file's length after the last committed
/// chunk. On a restart ``open(_:)`` cuts the file back to it, so lines written after the last
/// commit (by a run that crashed before committing) are not duplicated.
///
/// - Important: a fresh start (no saved offset) empties an existing file. A restart needs the
///   file as the failed run left it; if it is gone or shorter, ``open(_:)`` refuses.
public final class JSONLinesItemWriter<Item: Encodable>: ItemWriter {
    /// The prefix of the writer's context keys.
    public let name: String
    /// The file written.
    public var path: String { output.path }

    private let encoder: JSONEncoder
    private let output: FlatFileOutput

    /// Creates a writer; nothing is opened until ``open(_:)``.
    ///
    /// - Parameters:
    ///   - path: The file, created or emptied on a fresh start.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - encoder: Encodes each item; it must not pretty-print (a document must fit one line).
    public init(path: String, name: String = "jsonLinesWriter", encoder: JSONEncoder = JSONEncoder()) {
        precondition(
            !encoder.outputFormatting.contains(.prettyPrinted),
            "JSON lines need one document per line: do not use a pretty-printing encoder")
        self.name = name
        self.encoder = encoder
        self.output = FlatFileOutput(path: path, stream: name)
    }

    /// Creates or empties the file, or on a restart cuts it back to the saved offset.
    ///
    /// - Throws: ``ItemStreamError`` when the file cannot be opened, or does not fit the saved
    ///   offset.
    public func open(_ context: ExecutionContext) throws {
        try output.open(context, header: [])
    }

    /// Adds the items' lines to the chunk's output.
    ///
    /// - Throws: `EncodingError` from the encoder; the chunk's output so far is then dropped
    ///   with the chunk.
    public func write(_ items: [Item], in chunk: ChunkContext) throws {
        try output.append(for: chunk) { buffer in
            for item in items {
                buffer.append(contentsOf: try encoder.encode(item))
                buffer.append(0x0A)
            }
        }
    }

    /// Writes and syncs the chunk's lines, and saves the file's new length.
    public func update(_ context: inout ExecutionContext) throws {
        try output.update(&context)
    }

    public func close() throws {
        output.close()
    }
}
