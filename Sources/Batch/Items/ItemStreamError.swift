/// A reader or writer that cannot start or go on: its file cannot be opened or written, its
/// saved checkpoint does not fit its input, or it was used before ``ItemStream/open(_:)``.
///
/// Not a problem with one item (that is ``FlatFileParseError``): a skip policy should not skip
/// these. ``description`` names the stream and says what to do. Branch on ``code``.
public struct ItemStreamError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What kind of problem it is. Compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case notOpen
            case fileSystem
            case badCheckpoint
            case badKey
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// `read`, `write` or `update` was called before `open` (or after `close`).
        public static let notOpen = Code(.notOpen)
        /// A file could not be opened, read, written or synced; ``errno`` says why.
        public static let fileSystem = Code(.fileSystem)
        /// The saved context does not match the input or output (a file shorter than the saved
        /// offset, a missing file, a value of the wrong type): the file was changed or replaced
        /// between runs.
        public static let badCheckpoint = Code(.badCheckpoint)
        /// The input's key cannot order it: a row has a NULL key, or two rows share a key that
        /// a keyset reader needs unique. Fix the key (make it NOT NULL, add a unique column),
        /// not the item.
        public static let badKey = Code(.badKey)

        public var description: String { base.rawValue }
    }

    /// What kind of problem it is.
    public let code: Code
    /// The stream's name (the prefix of its context keys).
    public let stream: String
    /// What is wrong and what to do, e.g. `cannot open "/data/in.csv": No such file or directory`.
    public let message: String
    /// The system error number, for ``Code/fileSystem``.
    public let errno: Int32?

    /// Creates an error.
    public init(code: Code, stream: String, message: String, errno: Int32? = nil) {
        self.code = code
        self.stream = stream
        self.message = message
        self.errno = errno
    }

    public var description: String {
        "\(stream): \(message)"
    }

    public var debugDescription: String {
        var text = "ItemStreamError(code: \(code), stream: \(String(reflecting: stream)), message: \(String(reflecting: message))"
        if let errno { text += ", errno: \(errno)" }
        return text + ")"
    }
}
