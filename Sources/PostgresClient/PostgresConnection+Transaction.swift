/// Where a transaction was when it failed.
public struct TransactionPhase: Hashable, Sendable, CustomStringConvertible {
    private enum Base: Hashable, Sendable { case begin, commit, rollback }
    private let base: Base
    private init(_ base: Base) { self.base = base }

    public static let begin = TransactionPhase(.begin)
    public static let commit = TransactionPhase(.commit)
    public static let rollback = TransactionPhase(.rollback)

    public var description: String {
        switch base {
        case .begin: "BEGIN"
        case .commit: "COMMIT"
        case .rollback: "ROLLBACK"
        }
    }
}

/// The isolation level of a transaction.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// A failure of BEGIN, COMMIT or ROLLBACK themselves (not of the work inside).
public struct PostgresTransactionError: Error, Sendable, CustomStringConvertible {
    public var phase: TransactionPhase
    public var underlying: PostgresError
    /// The error that made the transaction roll back, when `phase` is `.rollback`.
    public var cause: String?

    /// True when running the whole transaction again may succeed (serialization failure,
    /// deadlock).
    public var isTransient: Bool { underlying.isTransient }
    /// True when the session is gone and must be reconnected.
    public var isConnectionLost: Bool { underlying.isConnectionLost }

    public var description: String {
        var text = "\(phase) failed: \(underlying)"
        if let cause { text += " (rolling back after: \(cause))" }
        return text
    }
}

extension PostgresConnection {
    /// Runs `body` in a transaction: COMMIT when it returns, ROLLBACK when it throws.
    ///
    /// An error thrown by `body` is rethrown as it is once the rollback succeeded. A failure of
    /// BEGIN, COMMIT or ROLLBACK themselves is a ``PostgresTransactionError`` naming the phase;
    /// a COMMIT that the server turned into a rollback (because a statement inside failed and
    /// the error was swallowed) is reported as a failed COMMIT, never as success.
    ///
    /// - Important: do not start a transaction inside another one on the same connection.
    @discardableResult
    public func withTransaction<Result>(
        isolation: IsolationLevel? = nil,
        readOnly: Bool = false,
        _ body: (PostgresConnection) throws -> Result
    ) throws -> Result {
        var begin = "BEGIN"
        if let isolation { begin += " ISOLATION LEVEL \(isolation.rawValue)" }
        if readOnly { begin += " READ ONLY" }
        beginTransaction(PostgresQuery(unsafeSQL: begin))
        let value: Result
        do {
            value = try body(self)
        } catch {
            try rollbackTransaction(after: error)
            throw error
        }
        try commitTransaction()
        return value
    }

    /// Runs `body` with a transaction that begins only when `body` first asks for its
    /// connection (``DeferredTransaction/connection``), then commits or rolls back as
    /// ``withTransaction(isolation:readOnly:_:)`` does.
    ///
    /// A unit of work whose only write is one final statement (a checkpoint, say) then costs one
    /// round trip instead of three: that statement runs on
    /// ``DeferredTransaction/finalStatementConnection``, inside the transaction when it began and
    /// on its own (atomic by itself) when it did not. When the transaction began, COMMIT goes
    /// out in the same round trip as that final statement, so it commits only if the statement
    /// succeeds: a final statement that must refuse the commit raises an error.
    @discardableResult
    public func withDeferredTransaction<Result>(_ body: (DeferredTransaction) throws -> Result) throws -> Result {
        let transaction = DeferredTransaction(self)
        let value: Result
        do {
            value = try body(transaction)
        } catch {
            if transaction.hasBegun { try rollbackTransaction(after: error) }
            throw error
        }
        if transaction.hasBegun && !transaction.committedWithFinalStatement { try commitTransaction() }
        return value
    }

    /// Opens a transaction. BEGIN costs no round trip of its own: it is queued and goes out
    /// with the transaction's first statement (or its COMMIT), in one pipeline.
    func beginTransaction(_ begin: PostgresQuery = "BEGIN") {
        var statement = PipelinedStatement(begin, prepared: true)
        statement.opensTransaction = true
        enqueue(statement)
        for setting in transactionSettings {
            var local = PipelinedStatement(PostgresQuery(unsafeSQL: setting), prepared: true)
            local.opensTransaction = true
            enqueue(local)
        }
    }

    /// Whether the transaction's BEGIN is still queued: nothing of it has reached the server.
    private var transactionUnsent: Bool {
        queued.contains(where: \.opensTransaction)
    }

    private func rollbackTransaction(after error: any Error) throws {
        commitsAfterNextStatement = false
        // What is queued belongs to the transaction: it is dropped, and ROLLBACK is needed only
        // when something of the transaction reached the server.
        let unsent = transactionUnsent
        discardQueued()
        if unsent { return }
        do {
            try execute("ROLLBACK", prepared: true)
        } catch let rollbackError as PostgresError {
            throw PostgresTransactionError(phase: .rollback, underlying: rollbackError, cause: "\(error)")
        }
    }

    private func commitTransaction() throws {
        commitsAfterNextStatement = false
        if !queued.isEmpty && queued.allSatisfy(\.opensTransaction) {
            // Nothing ran in it: there is nothing to commit.
            discardQueued()
            return
        }
        do {
            let result = try query("COMMIT", prepared: true)
            // After an error inside the transaction the server answers COMMIT with ROLLBACK.
            if result.commandStatus == "ROLLBACK" {
                throw PostgresError(
                    kind: .server, sqlState: "25P02",
                    message: "the transaction was rolled back because a statement in it failed")
            }
        } catch let error as PostgresError {
            throw PostgresTransactionError(phase: .commit, underlying: error)
        }
    }
}

/// A transaction that sends BEGIN only when its connection is first asked for; see
/// ``PostgresConnection/withDeferredTransaction(_:)``. Use it on the connection's own thread.
public final class DeferredTransaction {
    private let raw: PostgresConnection
    /// True once BEGIN was queued: statements since then commit or roll back together.
    public private(set) var hasBegun = false

    init(_ connection: PostgresConnection) { raw = connection }

    /// The connection inside the transaction. BEGIN is queued the first time and goes out with
    /// the first statement run on it.
    public var connection: PostgresConnection {
        get throws {
            if !hasBegun {
                raw.beginTransaction()
                hasBegun = true
            }
            return raw
        }
    }

    /// The connection for statements before the unit's first write (reads): they run on their
    /// own while the transaction has not begun, inside it once it has.
    public var connectionBeforeWrites: PostgresConnection { raw }

    /// Whether COMMIT went out with the final statement.
    var committedWithFinalStatement: Bool { finalStatementSent && !raw.commitsAfterNextStatement }
    private var finalStatementSent = false

    /// The connection for the unit's last statement, which must be atomic on its own: inside
    /// the transaction when it began (COMMIT then follows it in the same round trip, and runs
    /// only if it succeeds), alone otherwise. Nothing may run on it afterwards.
    public var finalStatementConnection: PostgresConnection {
        if hasBegun {
            raw.commitsAfterNextStatement = true
            finalStatementSent = true
        }
        return raw
    }
}
