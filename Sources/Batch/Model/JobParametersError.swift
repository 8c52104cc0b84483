/// A job parameter that could not be parsed, read back from storage, or derived.
///
/// ``description`` is one sentence for the person who typed the argument: what is wrong, in
/// which argument, and what to write instead, e.g.
/// `parameter "rows=abc,long": "abc" is not a whole number; write rows=1000,long`.
/// Branch on ``code``, never on the text.
public struct JobParametersError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of mistake it is. Compare with the static members, e.g. `error.code == .badValue`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case emptyName
            case missingEquals
            case duplicateName
            case badType
            case badValue
            case badIdentifying
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// Nothing before the `=`.
        public static let emptyName = Code(.emptyName)
        /// No `=` at all, so there is no name/value split.
        public static let missingEquals = Code(.missingEquals)
        /// The same name given twice.
        public static let duplicateName = Code(.duplicateName)
        /// A type that is not supported, or something standing where the type should be.
        public static let badType = Code(.badType)
        /// A value that does not fit its type (not a number, not a real date, out of range).
        public static let badValue = Code(.badValue)
        /// An identifying flag other than `true` or `false`.
        public static let badIdentifying = Code(.badIdentifying)

        public var description: String { base.rawValue }
    }

    /// What kind of mistake it is.
    public let code: Code
    /// The offending text as the user (or the stored row) gave it, e.g. `rows=abc,long`.
    public let argument: String
    /// What is wrong and what to write instead, without the argument.
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of mistake.
    ///   - argument: The offending text, quoted in ``description``.
    ///   - message: What is wrong and what to do, phrased to follow the quoted argument.
    public init(code: Code, argument: String, message: String) {
        self.code = code
        self.argument = argument
        self.message = message
    }

    public var description: String {
        "parameter \"\(argument)\": \(message)"
    }

    public var debugDescription: String {
        "JobParametersError(code: \(code), argument: \(String(reflecting: argument)), message: \(String(reflecting: message)))"
    }
}
