import CLibPQ

extension PostgresConnection {
    /// Runs a query and hands its rows to `body` one at a time as they arrive, so a result of
    /// any size is never held in memory at once (libpq's single-row mode).
    ///
    /// If `body` throws, the query is cancelled on the server, the rest of the rows are
    /// discarded, and the error is rethrown; the session stays usable.
    ///
    /// - Returns: the number of rows handed to `body`.
    @discardableResult
    public func stream(_ query: PostgresQuery, _ body: (PostgresRow) throws -> Void) throws -> Int {
        try query.bindings.validate(sql: query.sql)
        try flushQueued()
        let handle = try liveHandle()
        let sent = query.bindings.withCArrays { types, values in
            PQsendQueryParams(
                handle, query.sql, Int32(query.bindings.count), types, values, nil, nil, 0)
        }
        guard sent == 1 else { throw connectionError(query: query.sql) }
        guard PQsetSingleRowMode(handle) == 1 else {
            _ = drainResults(handle)
            throw PostgresError(kind: .usage, message: "single-row mode refused", query: query.sql)
        }
        var rows = 0
        var failure: (any Error)?
        while let raw = waitingForServer({ PQgetResult(handle) }) {
            if failure != nil {
                PQclear(raw)
                continue
            }
            switch PQresultStatus(raw) {
            case PGRES_SINGLE_TUPLE:
                let result = PostgresResult(handle: raw)
                do {
                    try body(result[0])
                    rows += 1
                } catch {
                    failure = error
                    requestCancel()
                }
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK:
                PQclear(raw)
            default:
                failure = serverError(from: raw, query: query.sql)
                PQclear(raw)
            }
        }
        if let failure {
            // A cancelled query leaves the session idle but, inside a transaction, aborted:
            // that is the caller's transaction to roll back.
            throw failure
        }
        if PQstatus(handle) != CONNECTION_OK { throw connectionError(query: query.sql) }
        return rows
    }
}
