import BatchSupport
import Foundation

/// Reads a JSON lines file (one JSON document per line) and decodes each line as an item;
/// restartable.
///
/// Lines may end in LF or CRLF; the last one may lack its line break. Blank lines are skipped,
/// and a UTF-8 byte order mark at the start is ignored. A line that is not valid UTF-8, not
/// valid JSON, JSON that does not decode as `Item`, or longer than ``maximumRecordBytes``
/// throws a ``FlatFileParseError`` naming its file and line; the reader is then past it, so a
/// skip policy can go on with the next line.
///
/// Context keys (prefixed by ``name``): `.offset`, the byte offset of the next line, where a
/// restart seeks straight to; `.line`, the lines before it.
///
/// - Important: a restart needs the same file, unchanged: the saved offset is only a position
///   in it. Give each reader in a step its own ``name``.
public final class JSONLinesItemReader<Item: Decodable>: ItemReader {
    /// The prefix of the reader's context keys.
    public let name: String
    /// The file read.
    public let path: String
    /// The most bytes one line may hold; a longer one is never held in memory whole: it is
    /// reported (``FlatFileParseError/Code/recordTooLong``) and reading goes on after it.
    public let maximumRecordBytes: Int

    private let decoder: JSONDecoder
    private let offsetKey: String
    private let lineKey: String
    private var file: BufferedFileReader?
    private var scanner = LineScanner()
    private var linesRead = 0

    /// Creates a reader; nothing is opened until ``open(_:)``.
    ///
    /// - Parameters:
    ///   - path: The JSON lines file.
    ///   - name: The prefix of the context keys; unique within the step.
    ///   - decoder: Decodes each line (set its date and key strategies here).
    ///   - maximumRecordBytes: The most bytes one line may hold (at least 1); ``FlatFileRecordLimit/defaultBytes`` by default.
    public init(
        path: String, name: String = "jsonLinesReader", decoder: JSONDecoder = JSONDecoder(),
        maximumRecordBytes: Int = FlatFileRecordLimit.defaultBytes
    ) {
        precondition(maximumRecordBytes > 0, "a JSON lines reader's maximumRecordBytes must be positive")
        self.maximumRecordBytes = maximumRecordBytes
        self.path = path
        self.name = name
        self.decoder = decoder
        self.offsetKey = name + ".offset"
        self.lineKey = name + ".line"
    }

    /// Opens the file, and seeks to the saved position if there is one.
    ///
    /// - Throws: ``ItemStreamError`` when the file cannot be read or the saved offset does not
    ///   fit it.
    public func open(_ context: ExecutionContext) throws {
        try close()
        let file = try BufferedFileReader(path: path, stream: name)
        try file.skipByteOrderMark()
        linesRead = 0
        if let lines = try file.resume(from: context, offsetKey: offsetKey, lineKey: lineKey) {
            linesRead = lines
        }
        self.file = file
    }

    /// Returns the next line's item, or nil at the end of the file.
    public func read(in chunk: ChunkContext) throws -> Item? {
        guard let file else {
            throw ItemStreamError(code: .notOpen, stream: name, message: "read called before open")
        }
        while true {
            let found: UnsafeBufferPointer<UInt8>?
            do {
                found = try file.nextRecord(&scanner, limit: maximumRecordBytes)
            } catch let tooLong as RecordTooLong {
                linesRead += 1
                throw FlatFileParseError(
                    code: .recordTooLong, path: path, line: linesRead,
                    rawText: String(decoding: tooLong.opening, as: UTF8.self),
                    message: "line \(linesRead) is longer than \(maximumRecordBytes) bytes, the reader's "
                        + "maximumRecordBytes; check that the file has one JSON document per line, or raise "
                        + "maximumRecordBytes if lines this long are expected")
            }
            guard let content = found else { return nil }
            linesRead += 1
            if content.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let line = linesRead
            func failure(_ code: FlatFileParseError.Code, _ message: String, _ underlying: (any Error)? = nil)
                -> FlatFileParseError
            {
                FlatFileParseError(
                    code: code, path: path, line: line,
                    rawText: String(decoding: content.prefix(FlatFileParseError.rawTextLimit * 4), as: UTF8.self),
                    message: "line \(line): \(message)", underlying: underlying)
            }
            if content.contains(where: { $0 >= 0x80 }), String(validating: content, as: UTF8.self) == nil {
                throw failure(.invalidUTF8, "the bytes are not valid UTF-8; re-encode the file as UTF-8")
            }
            do {
                return try decoder.decode(Item.self, from: Data(content))
            } catch let error as DecodingError {
                if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
                    // Foundation says only that the JSON is invalid; our parser says where and why.
                    var reason = context.debugDescription
                    do {
                        _ = try JSONValue(jsonText: String(decoding: content, as: UTF8.self))
                    } catch let parsing {
                        reason = "column \(parsing.column): \(parsing.message)"
                    }
                    throw failure(
                        .invalidJSON, "not a valid JSON document (\(reason)); each line must hold one whole document",
                        error)
                }
                throw failure(.mappingFailed, "the JSON does not decode as \(Item.self): \(Self.explain(error))", error)
            } catch {
                throw failure(.mappingFailed, "the JSON does not decode as \(Item.self): \(error)", error)
            }
        }
    }

    /// Saves the offset and line of the next line.
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

    /// A decoding error in a sentence: what was expected, and at which path.
    private static func explain(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "the top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "no key \"\(key.stringValue)\" at \(path(context.codingPath))"
        case .typeMismatch(let type, let context):
            return "expected \(type) at \(path(context.codingPath)): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            return "expected \(type) at \(path(context.codingPath)), found null"
        case .dataCorrupted(let context):
            return "bad value at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
