/// Reads the records of a CSV file (RFC 4180) and maps each to an item; restartable.
///
/// Fields may be quoted, and a quoted field may hold delimiters, doubled quotes (`""`) and line
/// breaks. Lines may end in LF or CRLF; the last one may lack its line break. Empty lines are
/// skipped, and a UTF-8 byte order mark at the start is ignored. With a header, the first
/// record names the columns (look fields up by name in ``CSVRecord``) and every record must have
/// as many fields.
///
/// A record that cannot be read (a misplaced or unclosed quote, the wrong number of fields,
/// bytes that are not UTF-8, more than ``maximumRecordBytes`` bytes, or an error from `map`)
/// throws a ``FlatFileParseError`` naming its file and line; the reader is then past it, so a
/// skip policy can go on with the next record.
///
/// Context keys (prefixed by ``name``): `.offset`, the byte offset of the next record, where a
/// restart seeks straight to; `.line`, the lines before it, so line numbers stay true.
///
/// - Important: a restart needs the same file, unchanged: the saved offset is only a position
///   in it. Give each reader in a step its own ``name``.
public final class CSVItemReader<Item>: ItemReader {
    /// The prefix of the reader's context keys.
    public let name: String
    /// The file read.
    public let path: String
    /// Whether the first record is a header.
    public let hasHeader: Bool
    /// The most bytes one record may hold. A longer record is never held in memory whole: it
    /// is reported (``FlatFileParseError/Code/recordTooLong``) and reading goes on from the
    /// line after its first `maximumRecordBytes` bytes. A quoted field still open after this
    /// many bytes is reported as unterminated at its first line break instead (and reading
    /// goes on from the next line), so one stray quote cannot swallow the file.
    public let maximumRecordBytes: Int

    private let delimiter: UInt8
    private let map: (CSVRecord) throws -> Item
    private let offsetKey: String
    private let lineKey: String
    private var file: BufferedFileReader?
    private var scanner: CSVRecordScanner
    private var header: CSVHeader?
    /// Lines before the next record.
    private var linesRead = 0

    /// Creates a reader; nothing is opened until ``open(_:)``.
    ///
    /// - Parameters:
    ///   - path: The CSV file.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - delimiter: The field separator, an ASCII character other than a quote or line break
    ///     (`;` and tab are common).
    ///   - hasHeader: Whether the first record names the columns.
    ///   - maximumRecordBytes: The most bytes one record may hold (at least 1); see
    ///     ``maximumRecordBytes``. ``FlatFileRecordLimit/defaultBytes`` by default.
    ///   - map: Turns a record into an item; what it throws becomes a ``FlatFileParseError``
    ///     with code ``FlatFileParseError/Code/mappingFailed``.
    public init(
        path: String, name: String = "csvReader", delimiter: Character = ",", hasHeader: Bool = true,
        maximumRecordBytes: Int = FlatFileRecordLimit.defaultBytes,
        map: @escaping (CSVRecord) throws -> Item
    ) {
        precondition(
            CSVRecordScanner.isValidDelimiter(delimiter),
            "a CSV delimiter must be one ASCII character other than a quote or a line break")
        precondition(maximumRecordBytes > 0, "a CSV reader's maximumRecordBytes must be positive")
        self.maximumRecordBytes = maximumRecordBytes
        self.path = path
        self.name = name
        self.hasHeader = hasHeader
        self.delimiter = delimiter.asciiValue!
        self.map = map
        self.offsetKey = name + ".offset"
        self.lineKey = name + ".line"
        self.scanner = CSVRecordScanner(delimiter: self.delimiter, quotedLimit: maximumRecordBytes)
    }

    /// Opens the file, reads its header, and seeks to the saved position if there is one.
    ///
    /// - Throws: ``ItemStreamError`` when the file cannot be read or the saved offset does not
    ///   fit it; ``FlatFileParseError`` when the header is malformed.
    public func open(_ context: ExecutionContext) throws {
        try close()
        let file = try BufferedFileReader(path: path, stream: name)
        try file.skipByteOrderMark()
        linesRead = 0
        header = nil
        if hasHeader, let record = try nextRecord(in: file) {
            header = CSVHeader(try parse(record.content, line: record.line))
        }
        if let lines = try file.resume(from: context, offsetKey: offsetKey, lineKey: lineKey) {
            linesRead = lines
        }
        self.file = file
    }

    /// Returns the next record's item, or nil at the end of the file.
    public func read(in chunk: ChunkContext) throws -> Item? {
        guard let file else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
        }
        // `content` stays valid until the file is read again, so errors can quote it.
        guard let (content, line) = try nextRecord(in: file) else { return nil }
        let fields = try parse(content, line: line)
        let header = self.header
        if let header, fields.count != header.names.count {
            throw FlatFileParseError(
                code: .wrongFieldCount, path: path, line: line, rawText: Self.rawText(content),
                message: "line \(line) has \(fields.count) fields, but the header names \(header.names.count)")
        }
        do {
            return try map(CSVRecord(fields: fields, header: header, line: line))
        } catch {
            throw FlatFileParseError(
                code: .mappingFailed, path: path, line: line, rawText: Self.rawText(content),
                message: "the record on line \(line) could not be mapped: \(error)", underlying: error)
        }
    }

    /// Saves the offset and line of the next record.
    public func update(_ context: inout ExecutionContext) throws {
        guard let file else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "update called before open")
        }
        context[offsetKey] = .int(file.offset)
        context[lineKey] = .int(Int64(linesRead))
    }

    public func close() throws {
        file?.close()
        file = nil
    }

    // MARK: Parsing

    /// Reads the next non-empty record: its bytes (valid until the file is read again) and the
    /// line it starts on.
    private func nextRecord(in file: BufferedFileReader) throws -> (content: UnsafeBufferPointer<UInt8>, line: Int)? {
        while true {
            let recordStart = file.offset
            let line = linesRead + 1
            let found: UnsafeBufferPointer<UInt8>?
            do {
                found = try file.nextRecord(&scanner, limit: maximumRecordBytes)
            } catch let tooLong as RecordTooLong {
                linesRead += tooLong.lineFeeds
                throw FlatFileParseError(
                    code: .recordTooLong, path: path, line: line,
                    rawText: String(decoding: tooLong.opening, as: UTF8.self),
                    message: "the record on line \(line) is longer than \(maximumRecordBytes) bytes, the "
                        + "reader's maximumRecordBytes; check that the file is CSV with this delimiter and "
                        + "line breaks, or raise maximumRecordBytes if records this long are expected")
            }
            guard let content = found else { return nil }
            let terminated = file.offset - recordStart > Int64(content.count)
            linesRead += content.count(where: { $0 == CSVRecordScanner.lineFeed }) + (terminated ? 1 : 0)
            if content.isEmpty { continue }
            if scanner.gaveUp || scanner.isInsideQuotes {
                throw try unterminated(content, line: line, recordStart: recordStart, in: file)
            }
            return (content, line)
        }
    }

    /// The start of a record as text, for an error.
    private static func rawText(_ content: UnsafeBufferPointer<UInt8>) -> String {
        // Enough bytes for the error's character limit even if every character takes four.
        String(decoding: content.prefix(FlatFileParseError.rawTextLimit * 4), as: UTF8.self)
    }

    /// The error for a record whose quote never closed; reading resumes on the line after the
    /// one the quote opened on.
    private func unterminated(
        _ content: UnsafeBufferPointer<UInt8>, line: Int, recordStart: Int64, in file: BufferedFileReader
    ) throws -> FlatFileParseError {
        var firstLine = content.count
        if let newline = scanner.newlineInsideQuotes {
            firstLine = newline > 0 && content[newline - 1] == CSVRecordScanner.carriageReturn ? newline - 1 : newline
            if !scanner.gaveUp {
                // Cut at the end of the file: go back to the line after the quote's line.
                try file.seek(to: recordStart + Int64(newline + 1))
                linesRead = line
            }
        }
        let raw = UnsafeBufferPointer(rebasing: content[..<firstLine])
        let reason = scanner.gaveUp
            ? "is still open after \(maximumRecordBytes) bytes (the reader's maximumRecordBytes)"
            : "is never closed before the end of the file"
        return FlatFileParseError(
            code: .unterminatedQuote, path: path, line: line, rawText: Self.rawText(raw),
            message: "the quoted field that starts on line \(line) \(reason); "
                + "close it, or double a quote that is part of the value (\"\")")
    }

    /// Splits a record into unquoted, validated fields.
    private func parse(_ content: UnsafeBufferPointer<UInt8>, line: Int) throws -> [String] {
        let quote = CSVRecordScanner.quote
        let count = content.count
        var fields: [String] = []
        fields.reserveCapacity(header?.names.count ?? 8)
        var index = 0
        func failure(_ code: FlatFileParseError.Code, _ message: String) -> FlatFileParseError {
            FlatFileParseError(
                code: code, path: path, line: line, rawText: Self.rawText(content),
                message: "line \(line), field \(fields.count + 1): \(message)")
        }
        func append(_ bytes: UnsafeBufferPointer<UInt8>) throws {
            guard let field = String(validating: bytes, as: UTF8.self) else {
                throw failure(.invalidUTF8, "the bytes are not valid UTF-8; re-encode the file as UTF-8")
            }
            fields.append(field)
        }
        while true {
            if index < count, content[index] == quote {
                var start = index + 1
                // Filled only when the value holds doubled quotes: each run is appended once,
                // so un-escaping is linear in the field's length.
                var unescaped: [UInt8] = []
                var hasEscapes = false
                while true {
                    guard let base = content.baseAddress,
                        let close = CSVRecordScanner.find(quote, in: base, from: start, to: count)
                    else {
                        throw failure(.unterminatedQuote, "the quoted value is never closed")
                    }
                    if close + 1 < count, content[close + 1] == quote {
                        hasEscapes = true
                        unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: content[start...close]))
                        start = close + 2
                        continue
                    }
                    if hasEscapes {
                        unescaped.append(contentsOf: UnsafeBufferPointer(rebasing: content[start..<close]))
                        try unescaped.withUnsafeBufferPointer { try append($0) }
                    } else {
                        try append(UnsafeBufferPointer(rebasing: content[start..<close]))
                    }
                    index = close + 1
                    break
                }
                if index == count { break }
                guard content[index] == delimiter else {
                    throw failure(
                        .misplacedQuote, "text follows the closing quote; quote the whole value and double "
                            + "the quotes inside it (\"\")")
                }
                index += 1
            } else {
                let end = content.baseAddress.flatMap { CSVRecordScanner.find(delimiter, in: $0, from: index, to: count) } ?? count
                if content.baseAddress.flatMap({ CSVRecordScanner.find(quote, in: $0, from: index, to: end) }) != nil {
                    throw failure(
                        .misplacedQuote, "a quote inside an unquoted value; quote the whole value and double "
                            + "the quotes inside it (\"\")")
                }
                try append(UnsafeBufferPointer(rebasing: content[index..<end]))
                if end == count { break }
                index = end + 1
            }
            if index == count {
                fields.append("")  // a delimiter at the end of the line: one more, empty field
                break
            }
        }
        return fields
    }
}
