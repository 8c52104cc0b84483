/// Writes items as CSV records (RFC 4180) to a file; restartable, each committed item once.
///
/// A field is quoted when it holds the delimiter, a quote or a line break, with its quotes
/// doubled. Lines end in LF. A chunk's records reach the file just before the chunk commits
/// (written and synced in ``update(_:)``), so a chunk that rolls back writes nothing, and a
/// chunk retried after its commit failed (a deadlock, a serialization failure) first cuts the
/// file back to the end of the last committed chunk, so its records are never written twice.
///
/// Context key (prefixed by ``name``): `.offset`, the file's length after the last committed
/// chunk. On a restart ``open(_:)`` cuts the file back to it, so records written after the last
/// commit (by a run that crashed before committing) are not duplicated.
///
/// - Important: a fresh start (no saved offset) empties an existing file. A restart needs the
///   file as the failed run left it; if it is gone or shorter, ``open(_:)`` refuses.
public final class CSVItemWriter<Item>: ItemWriter {
    /// The prefix of the writer's context keys.
    public let name: String
    /// The file written.
    public var path: String { output.path }

    private let header: [String]?
    private let delimiter: UInt8
    private let encode: (Item) -> [String]
    private let output: FlatFileOutput

    /// Creates a writer; nothing is opened until ``open(_:)``.
    ///
    /// - Parameters:
    ///   - path: The CSV file, created or emptied on a fresh start.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - header: The column names, written as the first line on a fresh start.
    ///   - delimiter: The field separator, an ASCII character other than a quote or line break.
    ///   - encode: The fields of an item, unquoted.
    public init(
        path: String, name: String = "csvWriter", header: [String]? = nil, delimiter: Character = ",",
        encode: @escaping (Item) -> [String]
    ) {
        precondition(
            CSVRecordScanner.isValidDelimiter(delimiter),
            "a CSV delimiter must be one ASCII character other than a quote or a line break")
        self.name = name
        self.header = header
        self.delimiter = delimiter.asciiValue!
        self.encode = encode
        self.output = FlatFileOutput(path: path, stream: name)
    }

    /// Creates or empties the file and writes the header, or on a restart cuts the file back to
    /// the saved offset.
    ///
    /// - Throws: ``ItemStreamError`` when the file cannot be opened, or does not fit the saved
    ///   offset.
    public func open(_ context: ExecutionContext) throws {
        var headerLine: [UInt8] = []
        if let header { appendRecord(header, to: &headerLine) }
        try output.open(context, header: headerLine)
    }

    /// Adds the items' records to the chunk's output.
    public func write(_ items: [Item], in chunk: ChunkContext) throws {
        try output.append(for: chunk) { buffer in
            for item in items {
                appendRecord(encode(item), to: &buffer)
            }
        }
    }

    /// Writes and syncs the chunk's records, and saves the file's new length.
    public func update(_ context: inout ExecutionContext) throws {
        try output.update(&context)
    }

    public func close() throws {
        output.close()
    }

    private func appendRecord(_ fields: [String], to buffer: inout [UInt8]) {
        if fields.count == 1, fields[0].isEmpty {
            // A lone empty field would be an empty line, which readers skip.
            buffer.append(contentsOf: [CSVRecordScanner.quote, CSVRecordScanner.quote, CSVRecordScanner.lineFeed])
            return
        }
        for (index, field) in fields.enumerated() {
            if index > 0 { buffer.append(delimiter) }
            let utf8 = field.utf8
            let needsQuotes = utf8.contains { byte in
                byte == delimiter || byte == CSVRecordScanner.quote || byte == CSVRecordScanner.lineFeed
                    || byte == CSVRecordScanner.carriageReturn
            }
            if needsQuotes {
                buffer.append(CSVRecordScanner.quote)
                for byte in utf8 {
                    if byte == CSVRecordScanner.quote { buffer.append(byte) }
                    buffer.append(byte)
                }
                buffer.append(CSVRecordScanner.quote)
            } else {
                buffer.append(contentsOf: utf8)
            }
        }
        buffer.append(CSVRecordScanner.lineFeed)
    }
}
