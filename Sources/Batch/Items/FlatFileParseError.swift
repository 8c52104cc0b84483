/// One record of a flat file (CSV, JSON lines) that could not be read.
///
/// The reader has already moved past the bad record when it throws this, so calling `read`
/// again goes on with the next one: a skip policy can skip it. ``description`` says what is
/// wrong and where (file and line); ``rawText`` holds the start of the offending record.
/// Branch on ``code``, never on the text.
public struct FlatFileParseError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of problem it is. Compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unterminatedQuote
            case misplacedQuote
            case wrongFieldCount
            case invalidUTF8
            case invalidJSON
            case mappingFailed
            case recordTooLong
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// A quoted field whose closing quote never came before the end of the file.
        public static let unterminatedQuote = Code(.unterminatedQuote)
        /// A quote inside an unquoted field, or text after a closing quote.
        public static let misplacedQuote = Code(.misplacedQuote)
        /// A record with more or fewer fields than the header names.
        public static let wrongFieldCount = Code(.wrongFieldCount)
        /// Bytes that are not UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A line that is not one valid JSON document.
        public static let invalidJSON = Code(.invalidJSON)
        /// A well-formed record that the mapping closure (or `Decodable` conformance) refused;
        /// ``FlatFileParseError/underlying`` holds its error.
        public static let mappingFailed = Code(.mappingFailed)
        /// A record longer than the reader's `maximumRecordBytes` (a file that is not what the
        /// reader expects, or a missing line break); the reader went on after its line.
        public static let recordTooLong = Code(.recordTooLong)

        public var description: String { base.rawValue }
    }

    /// The longest ``rawText`` kept, in characters.
    public static let rawTextLimit = 200

    /// What kind of problem it is.
    public let code: Code
    /// The file being read.
    public let path: String
    /// The 1-based line on which the record starts.
    public let line: Int
    /// The record as it is in the file (bad bytes replaced by U+FFFD); a longer one is cut to
    /// ``rawTextLimit`` characters followed by `...`.
    public let rawText: String
    /// What is wrong, e.g. `field 3 has a quote inside an unquoted value`.
    public let message: String
    /// The mapping closure's error, for ``Code/mappingFailed``.
    public let underlying: (any Error)?

    /// Creates an error; a `rawText` longer than ``rawTextLimit`` characters is cut.
    public init(
        code: Code, path: String, line: Int, rawText: String, message: String,
        underlying: (any Error)? = nil
    ) {
        self.code = code
        self.path = path
        self.line = line
        self.rawText = rawText.count > Self.rawTextLimit
            ? String(rawText.prefix(Self.rawTextLimit)) + "..." : rawText
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        "\(path):\(line): \(message)"
    }

    public var debugDescription: String {
        var text = "FlatFileParseError(code: \(code), path: \(String(reflecting: path)), line: \(line), "
            + "message: \(String(reflecting: message)), rawText: \(String(reflecting: rawText))"
        if let underlying { text += ", underlying: \(String(reflecting: underlying))" }
        return text + ")"
    }
}
