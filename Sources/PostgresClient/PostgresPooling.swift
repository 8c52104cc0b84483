import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What sits between a connection and the server, and so what session state the connection
/// may rely on.
///
/// - ``session``: the connection has a server session of its own for as long as it lives:
///   PostgreSQL itself, or a pooler in session mode (PgBouncer `pool_mode = session`). Every
///   feature is used: named prepared statements, session settings, LISTEN, WITH HOLD cursors.
/// - ``transaction``: a pooler in transaction mode (PgBouncer `pool_mode = transaction`) gives
///   each transaction (and each statement outside one) whichever server session is free. The
///   connection then keeps no session state: statements are prepared unnamed on each use,
///   DateStyle and TimeZone travel as startup parameters (which PgBouncer tracks per client),
///   session `SET`s are not sent (settings that matter go with `SET LOCAL` inside a
///   transaction), and ``PostgresConnection/listen(_:)`` refuses, so callers poll instead.
public enum PostgresPooling: String, Sendable, CaseIterable {
    case session
    case transaction

    /// The pooling of connections opened without one: ``session`` unless the process sets
    /// another (the command line's `--pooler`, or `SWIFTBATCH_POOLER`), before it connects.
    public static var `default`: PostgresPooling {
        get { defaultStorage.load(ordering: .relaxed) == 1 ? .transaction : .session }
        set {
            // Before any thread of the process connects (the command line sets it at parse).
            if newValue == .transaction { _ = startupParameters }
            defaultStorage.store(newValue == .transaction ? 1 : 0, ordering: .relaxed)
        }
    }

    private static let defaultStorage = Atomic<Int>(0)

    /// Through a transaction-mode pooler no session SET can be trusted to stay: DateStyle and
    /// TimeZone go as startup parameters, which PgBouncer tracks per client and applies to
    /// whichever server session serves it. libpq sends them from these variables, set once per
    /// process (setenv is not safe beside other threads' getenv, so never again after that).
    static let startupParameters: Void = {
        setenv("PGDATESTYLE", "ISO", 1)
        setenv("PGTZ", "UTC", 1)
    }()
}

/// What the caller tried that a connection through a transaction-mode pooler cannot do.
extension PostgresError {
    static func needsSession(_ what: String, instead: String) -> PostgresError {
        PostgresError(
            kind: .usage,
            message: "\(what) needs a server session of its own, which a transaction-mode pooler (--pooler transaction) "
                + "does not give; \(instead)")
    }
}
