/// A query sent ahead of need: it rides along with the next round trip the connection makes
/// anyway, and its rows wait here until asked for. See ``PostgresConnection/prefetch(_:prepared:)``.
///
/// Use it on the connection's own thread, like the connection.
public final class PrefetchedQuery {
    let statement: PipelinedStatement
    private var result: PostgresResult?

    init(_ statement: PipelinedStatement) { self.statement = statement }

    /// The query sent ahead.
    public var query: PostgresQuery { statement.query }

    func receive(_ result: PostgresResult) { self.result = result }

    /// Forgets the query's result, if any: it is run again when asked for.
    func drop() { result = nil }

    /// Takes the result (once).
    fileprivate func take() -> PostgresResult? {
        defer { result = nil }
        return result
    }
}

extension PostgresConnection {
    /// Sends `query` ahead of need: it goes out after the next statements this connection runs
    /// that leave no transaction open (a transaction's COMMIT, or a statement on its own), in
    /// the same round trip, and its rows are kept for ``result(of:)``. A reader that knows
    /// which page it needs next reads it for the price of no round trip of its own.
    ///
    /// The query runs after those statements, whatever became of them, and must be one that
    /// may run at any time: a read, with no effect. If the server refuses it, or the
    /// connection never sent it, ``result(of:)`` runs it then, and any error shows there.
    ///
    /// - Parameters:
    ///   - query: A read.
    ///   - prepared: Prepare it once per session (see ``query(_:prepared:)``).
    /// - Returns: A handle to pass to ``result(of:)``.
    ///
    /// Through a transaction-mode pooler nothing is sent ahead (the query runs when asked for):
    /// a pooler before PgBouncer 1.21 hands the server session to another client at the first
    /// sync point, and the rows of a query sent behind it would reach that client.
    public func prefetch(_ query: PostgresQuery, prepared: Bool = false) -> PrefetchedQuery {
        let prefetch = PrefetchedQuery(PipelinedStatement(query, prepared: prepared))
        if pooling == .session { pendingPrefetches.append(prefetch) }
        return prefetch
    }

    /// The rows of a query sent ahead with ``prefetch(_:prepared:)``: those already received,
    /// or the query's own result, run now.
    ///
    /// - Throws: ``PostgresError`` from running the query now.
    public func result(of prefetch: PrefetchedQuery) throws -> PostgresResult {
        if let result = prefetch.take() { return result }
        cancel(prefetch)
        return try query(prefetch.statement.query, prepared: prefetch.statement.prepared)
    }

    /// Withdraws a query sent ahead that is no longer wanted, if it has not gone out yet.
    public func cancel(_ prefetch: PrefetchedQuery) {
        pendingPrefetches.removeAll { $0 === prefetch }
        prefetch.drop()
    }

    /// The queries waiting to go out, handed over to the pipeline that sends them.
    func takePrefetches() -> [PrefetchedQuery] {
        defer { pendingPrefetches.removeAll() }
        return pendingPrefetches
    }

    /// Forgets every query waiting to go out (the session is closing).
    func dropPrefetches() {
        pendingPrefetches.forEach { $0.drop() }
        pendingPrefetches.removeAll()
    }
}
