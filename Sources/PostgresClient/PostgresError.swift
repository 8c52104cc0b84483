/// An error from PostgreSQL or from talking to it.
///
/// The `kind` says what went wrong at our level (could not connect, lost the connection, the
/// server refused a statement, a value could not be decoded); `sqlState` carries the server's own
/// code when there is one, so callers can tell a unique violation (`23505`) from a serialization
/// failure (`40001`) or an administrator shutdown (`57P01`).
///
/// `description` is short and never contains connection secrets; `debugDescription` adds the
/// server's detail, hint and the statement text.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, at the client's level.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case connectionFailed, connectionLost, server, decoding, usage, timeout
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The connection could not be opened (bad address, authentication, missing database).
        public static let connectionFailed = Kind(.connectionFailed)
        /// The connection broke while in use; reconnect and retry the unit of work.
        public static let connectionLost = Kind(.connectionLost)
        /// The server rejected a statement; `sqlState` says why.
        public static let server = Kind(.server)
        /// A column's value could not be turned into the requested Swift type.
        public static let decoding = Kind(.decoding)
        /// The client was used in a way it does not support (wrong result shape, bad COPY state).
        public static let usage = Kind(.usage)
        /// A wait ran out of time.
        public static let timeout = Kind(.timeout)

        public var description: String {
            switch base {
            case .connectionFailed: "connection failed"
            case .connectionLost: "connection lost"
            case .server: "server error"
            case .decoding: "decoding error"
            case .usage: "usage error"
            case .timeout: "timeout"
            }
        }
    }

    public var kind: Kind
    /// The SQLSTATE the server sent, if any.
    public var sqlState: SQLState?
    /// The primary message, as the server or libpq phrased it.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The constraint the error is about, for integrity violations.
    public var constraint: String?
    /// The statement that failed; only shown by `debugDescription`.
    public var query: String?

    public init(
        kind: Kind, sqlState: SQLState? = nil, message: String, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, query: String? = nil
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.query = query
    }

    /// True when the connection itself is gone (as opposed to one statement failing): the caller
    /// should reconnect before doing anything else.
    public var isConnectionLost: Bool {
        kind == .connectionLost || kind == .connectionFailed
            || sqlState?.isConnectionClass == true
    }

    /// True when `error` says the connection is gone, whether a statement or BEGIN, COMMIT or
    /// ROLLBACK (``PostgresTransactionError``) found out.
    public static func isConnectionLost(_ error: any Error) -> Bool {
        (error as? PostgresError)?.isConnectionLost == true
            || (error as? PostgresTransactionError)?.isConnectionLost == true
    }

    /// True for errors that succeed when the transaction is simply run again.
    public var isTransient: Bool {
        sqlState == .serializationFailure || sqlState == .deadlockDetected
    }

    public var description: String {
        var text = "\(kind): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState.rawValue))" }
        return text
    }

    public var debugDescription: String {
        var text = description
        if let detail { text += "\n  detail: \(detail)" }
        if let hint { text += "\n  hint: \(hint)" }
        if let constraint { text += "\n  constraint: \(constraint)" }
        if let query { text += "\n  query: \(query)" }
        return text
    }
}

/// A five-character SQLSTATE code, open for any value the server sends.
///
/// Compare against the named constants or a literal: `error.sqlState == "23505"`.
public struct SQLState: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public var description: String { rawValue }
    /// The two-character class, e.g. `23` for integrity constraint violations.
    public var errorClass: Substring { rawValue.prefix(2) }

    /// Class 08 (connection exception) and the 57P0x shutdown codes all mean the session is gone.
    var isConnectionClass: Bool {
        errorClass == "08" || self == .adminShutdown || self == .crashShutdown
            || self == .cannotConnectNow
    }

    public static let uniqueViolation: SQLState = "23505"
    public static let foreignKeyViolation: SQLState = "23503"
    public static let notNullViolation: SQLState = "23502"
    public static let checkViolation: SQLState = "23514"
    public static let serializationFailure: SQLState = "40001"
    public static let deadlockDetected: SQLState = "40P01"
    public static let divisionByZero: SQLState = "22012"
    public static let queryCanceled: SQLState = "57014"
    public static let adminShutdown: SQLState = "57P01"
    public static let crashShutdown: SQLState = "57P02"
    public static let cannotConnectNow: SQLState = "57P03"
    public static let undefinedTable: SQLState = "42P01"
    public static let undefinedColumn: SQLState = "42703"
    public static let undefinedFunction: SQLState = "42883"
    public static let syntaxError: SQLState = "42601"
    public static let invalidPassword: SQLState = "28P01"
    public static let invalidAuthorization: SQLState = "28000"
    public static let invalidCatalogName: SQLState = "3D000"
    public static let insufficientPrivilege: SQLState = "42501"
    public static let invalidTextRepresentation: SQLState = "22P02"
    public static let lockNotAvailable: SQLState = "55P03"
    public static let duplicateDatabase: SQLState = "42P04"
    public static let duplicateTable: SQLState = "42P07"
    public static let duplicateObject: SQLState = "42710"
}
