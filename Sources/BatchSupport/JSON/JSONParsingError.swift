/// Text that is not valid JSON, or not the JSON that was expected.
///
/// ``description`` says where (line, column) and what was found instead of what was expected.
/// Branch on ``code``, never on the text.
public struct JSONParsingError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of problem it is. Compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case unexpectedEnd
            case unexpectedCharacter
            case invalidNumber
            case invalidString
            case duplicateKey
            case tooDeep
            case notAnObject
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The text ended in the middle of a value (often a truncated short context).
        public static let unexpectedEnd = Code(.unexpectedEnd)
        /// A character that cannot start or continue a value here.
        public static let unexpectedCharacter = Code(.unexpectedCharacter)
        /// A malformed number, or one too large for a double.
        public static let invalidNumber = Code(.invalidNumber)
        /// A bad escape, a raw control character or a lone surrogate in a string.
        public static let invalidString = Code(.invalidString)
        /// An object names the same key twice, so which value is meant is ambiguous.
        public static let duplicateKey = Code(.duplicateKey)
        /// Arrays and objects nested deeper than ``JSONValue/maximumDepth``.
        public static let tooDeep = Code(.tooDeep)
        /// Valid JSON, but not an object where one was required.
        public static let notAnObject = Code(.notAnObject)

        public var description: String { base.rawValue }
    }

    /// What kind of problem it is.
    public let code: Code
    /// What is wrong, e.g. `expected ':' after an object key, found '}'`.
    public let message: String
    /// The 1-based line of the problem.
    public let line: Int
    /// The 1-based column (in Unicode scalars) of the problem.
    public let column: Int
    /// The 0-based offset of the problem in the text's UTF-8 bytes.
    public let byteOffset: Int

    /// Creates an error.
    public init(code: Code, message: String, line: Int, column: Int, byteOffset: Int) {
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.byteOffset = byteOffset
    }

    public var description: String {
        "invalid JSON at line \(line), column \(column): \(message)"
    }

    public var debugDescription: String {
        "JSONParsingError(code: \(code), line: \(line), column: \(column), byteOffset: \(byteOffset), "
            + "message: \(String(reflecting: message)))"
    }
}
