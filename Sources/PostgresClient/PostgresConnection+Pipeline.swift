import CLibPQ

/// A statement sent in a pipeline: several statements in one round trip (libpq's pipeline
/// mode), their results read afterwards in order.
public struct PipelinedStatement: Sendable {
    public var query: PostgresQuery
    /// Prepare the statement once per session and reuse it (see ``PostgresConnection/query(_:prepared:)``).
    public var prepared: Bool
    /// Whether this is a transaction's queued BEGIN (its failure is the transaction's).
    var opensTransaction = false

    public init(_ query: PostgresQuery, prepared: Bool = false) {
        self.query = query
        self.prepared = prepared
    }
}

/// A statement of a pipeline failed: which one, and why. Statements after it did not run.
struct PipelineFailure: Error {
    var index: Int
    var error: PostgresError
}

extension PostgresConnection {
    /// Runs `statements` in one round trip and returns their results in order.
    ///
    /// They are sent together, with one synchronisation point after the last: outside a
    /// transaction block they run as one implicit transaction (all or nothing). When one fails,
    /// the ones after it do not run and its error is thrown; inside a transaction block that
    /// the statements opened or continued, the block is then aborted and the caller rolls it
    /// back.
    ///
    /// - Important: statements whose results are large go last: the results are read only once
    ///   everything is sent.
    public func pipeline(_ statements: [PipelinedStatement]) throws -> [PostgresResult] {
        try flushQueued()
        do {
            return try runPipeline(statements)
        } catch let failure as PipelineFailure {
            throw failure.error
        }
    }

    /// Queues `statement` to go out in the same round trip as the next statement (its result
    /// is read and dropped; an error of it is thrown by that next call). BEGIN, for instance:
    /// a transaction then costs no round trip of its own.
    func enqueue(_ statement: PipelinedStatement) {
        queued.append(statement)
    }

    /// Queues a statement of the open transaction to go out with the transaction's next
    /// statement (or its COMMIT) in the same round trip, instead of a round trip of its own: a
    /// writer's INSERT, say, then travels with the chunk's checkpoint and COMMIT.
    ///
    /// Its result is read and dropped. If the server refuses it, the statement that carried it
    /// throws its error (and nothing after it in the transaction runs); a ROLLBACK drops it
    /// unsent.
    ///
    /// - Throws: ``PostgresError`` (`.usage`) outside a transaction (where nothing would be sure
    ///   to carry it), or when a bound value holds U+0000.
    public func queue(_ query: PostgresQuery, prepared: Bool = false) throws {
        try query.bindings.validate(sql: query.sql)
        guard isInTransaction else {
            throw PostgresError(
                kind: .usage,
                message: "queue(_:) needs an open transaction to carry the statement; run it with execute(_:) instead",
                query: query.sql)
        }
        queued.append(PipelinedStatement(query, prepared: prepared))
    }

    /// Whether a transaction is open: begun (its BEGIN maybe still queued) and not yet ended.
    public var isInTransaction: Bool {
        if queued.contains(where: \.opensTransaction) { return true }
        guard let handle = try? liveHandle() else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Sends what is queued on its own, for calls that cannot be pipelined (COPY, a streamed
    /// query, a script).
    func flushQueued() throws {
        guard !queued.isEmpty else { return }
        let statements = queued
        queued.removeAll()
        do {
            _ = try runPipeline(statements)
        } catch let failure as PipelineFailure {
            throw Self.queuedError(failure, of: statements)
        }
    }

    /// Forgets what is queued without sending it (a transaction whose BEGIN never went out,
    /// rolled back).
    func discardQueued() {
        queued.removeAll()
    }

    /// Runs `statement` after what is queued, and COMMIT after it when one is due, in one round
    /// trip; returns `statement`'s result.
    func sendWithQueued(_ statement: PipelinedStatement) throws -> PostgresResult {
        var statements = queued
        queued.removeAll()
        let position = statements.count
        statements.append(statement)
        let commits = commitsAfterNextStatement
        commitsAfterNextStatement = false
        if commits { statements.append(PipelinedStatement("COMMIT", prepared: true)) }
        // Queries sent ahead go after a pipeline that leaves no transaction open, so that one
        // of them failing can never abort a transaction of the caller's.
        let prefetches = try commits || isIdle(after: statements) ? takePrefetches() : []
        let results: [PostgresResult]
        do {
            results = try runPipeline(statements, prefetches: prefetches)
        } catch let failure as PipelineFailure {
            if failure.index < position { throw Self.queuedError(failure, of: statements) }
            if failure.index > position { throw PostgresTransactionError(phase: .commit, underlying: failure.error) }
            throw failure.error
        }
        if commits, results[position + 1].commandStatus == "ROLLBACK" {
            // After an error inside the transaction the server answers COMMIT with ROLLBACK.
            throw PostgresTransactionError(
                phase: .commit,
                underlying: PostgresError(
                    kind: .server, sqlState: "25P02",
                    message: "the transaction was rolled back because a statement in it failed"))
        }
        return results[position]
    }

    /// The error of a queued statement: a failed BEGIN is the transaction's.
    private static func queuedError(_ failure: PipelineFailure, of statements: [PipelinedStatement]) -> any Error {
        if statements[failure.index].opensTransaction {
            return PostgresTransactionError(phase: .begin, underlying: failure.error)
        }
        return failure.error
    }

    /// Sends `statements` in pipeline mode with one sync after the last, then reads every
    /// result. Throws ``PipelineFailure`` for the first statement the server refused, or a
    /// `.connectionLost` error.
    private func runPipeline(
        _ statements: [PipelinedStatement], prefetches: [PrefetchedQuery] = []
    ) throws -> [PostgresResult] {
        var prefetchesSent = false
        defer { if !prefetchesSent { prefetches.forEach { $0.drop() } } }
        for (index, statement) in statements.enumerated() {
            do {
                try statement.query.bindings.validate(sql: statement.query.sql)
            } catch let error as PostgresError {
                throw PipelineFailure(index: index, error: error)
            }
        }
        let handle = try liveHandle()
        // Statements (and queries sent ahead) used for the first time on this session are
        // prepared in the pipeline itself, each just before its first use: Parse costs no round
        // trip of its own. A prepared statement outlives the transaction it was made in.
        var newNames: [String: String] = [:]
        func plan(_ statement: PipelinedStatement) -> (name: String?, prepares: Bool) {
            guard statement.prepared, let named = statementName(for: statement.query, alsoNew: newNames) else {
                return (nil, false)
            }
            if named.isPrepared || newNames[statement.query.sql] != nil { return (named.name, false) }
            newNames[statement.query.sql] = named.name
            return (named.name, true)
        }
        let plans = statements.map(plan)
        let prefetched = prefetches.map { ($0, plan($0.statement)) }
        guard PQenterPipelineMode(handle) == 1 else { throw connectionError(query: nil) }
        defer { _ = PQexitPipelineMode(handle) }
        for (index, statement) in statements.enumerated() {
            guard send(statement.query, plan: plans[index], on: handle) else {
                throw connectionError(query: statement.query.sql)
            }
        }
        // Sends the sync point and flushes everything to the server (blocking mode).
        guard PQpipelineSync(handle) == 1 else { throw connectionError(query: nil) }
        if !prefetched.isEmpty {
            // After their own sync point: they run whatever became of the statements above.
            for (prefetch, plan) in prefetched {
                guard send(prefetch.statement.query, plan: plan, on: handle) else {
                    throw connectionError(query: prefetch.statement.query.sql)
                }
            }
            guard PQpipelineSync(handle) == 1 else { throw connectionError(query: nil) }
            prefetchesSent = true
        }

        var results: [PostgresResult] = []
        results.reserveCapacity(statements.count)
        var failure: PipelineFailure?
        return try waitingForServer(roundTrip: true) {
            for (index, statement) in statements.enumerated() {
                if plans[index].prepares, let name = plans[index].name {
                    if let error = try receivePrepare(of: statement.query.sql, as: name, on: handle), failure == nil {
                        failure = PipelineFailure(index: index, error: error)
                    }
                }
                var result: PostgresResult?
                // Each statement's results end with a NULL; a dead session gives NULL at once.
                while let raw = PQgetResult(handle) {
                    switch PQresultStatus(raw) {
                    case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
                        result = PostgresResult(handle: raw)
                    case PGRES_PIPELINE_ABORTED:
                        PQclear(raw)
                    default:
                        if failure == nil {
                            failure = PipelineFailure(index: index, error: serverError(from: raw, query: statement.query.sql))
                        }
                        PQclear(raw)
                    }
                }
                if PQstatus(handle) != CONNECTION_OK { throw connectionError(query: statement.query.sql) }
                if let result { results.append(result) } else if failure == nil {
                    throw connectionError(query: statement.query.sql)
                }
            }
            guard let sync = PQgetResult(handle) else { throw connectionError(query: nil) }
            let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
            PQclear(sync)
            guard synced else {
                throw PostgresError(kind: .connectionLost, message: "the pipeline's results ended out of step")
            }
            if !prefetched.isEmpty { try receive(prefetched, on: handle) }
            if let failure { throw failure }
            return results
        }
    }

    /// Sends one statement of a pipeline: prepared when its plan names a statement, after its
    /// Parse when the plan says it is prepared here.
    private func send(_ query: PostgresQuery, plan: (name: String?, prepares: Bool), on handle: OpaquePointer) -> Bool {
        let count = Int32(query.bindings.count)
        return query.bindings.withCArrays { types, values in
            guard let name = plan.name else {
                return PQsendQueryParams(handle, query.sql, count, types, values, nil, nil, 0) == 1
            }
            if plan.prepares, PQsendPrepare(handle, name, query.sql, count, types) != 1 { return false }
            return PQsendQueryPrepared(handle, name, count, values, nil, nil, 0) == 1
        }
    }

    /// Reads the result of a Parse sent in the pipeline, recording the statement as prepared
    /// when it went through. Returns the server's error, if it refused it (the statement's own
    /// execution is then aborted); nil when it was prepared, or skipped because an earlier
    /// statement of the pipeline failed.
    private func receivePrepare(of sql: String, as name: String, on handle: OpaquePointer) throws -> PostgresError? {
        var error: PostgresError?
        var prepared = false
        while let raw = PQgetResult(handle) {
            switch PQresultStatus(raw) {
            case PGRES_COMMAND_OK: prepared = true
            case PGRES_PIPELINE_ABORTED: break
            default: if error == nil { error = serverError(from: raw, query: sql) }
            }
            PQclear(raw)
        }
        if PQstatus(handle) != CONNECTION_OK { throw connectionError(query: sql) }
        if prepared { recordPrepared(sql, as: name) }
        return error
    }

    /// Reads the results of queries sent ahead, up to their sync point, into their handles. A
    /// query the server refused is dropped (its owner runs it again, and meets the error then).
    private func receive(
        _ prefetches: [(PrefetchedQuery, (name: String?, prepares: Bool))], on handle: OpaquePointer
    ) throws {
        for (prefetch, plan) in prefetches {
            if plan.prepares, let name = plan.name {
                // A refused Parse shows as the query's own failure below: it is dropped.
                _ = try receivePrepare(of: prefetch.statement.query.sql, as: name, on: handle)
            }
            var result: PostgresResult?
            while let raw = PQgetResult(handle) {
                switch PQresultStatus(raw) {
                case PGRES_TUPLES_OK, PGRES_COMMAND_OK: result = PostgresResult(handle: raw)
                default: PQclear(raw)
                }
            }
            if PQstatus(handle) != CONNECTION_OK { throw connectionError(query: prefetch.statement.query.sql) }
            if let result { prefetch.receive(result) } else { prefetch.drop() }
        }
        guard let sync = PQgetResult(handle) else { throw connectionError(query: nil) }
        let synced = PQresultStatus(sync) == PGRES_PIPELINE_SYNC
        PQclear(sync)
        guard synced else {
            throw PostgresError(kind: .connectionLost, message: "the pipeline's results ended out of step")
        }
    }

    /// Whether the session is outside any transaction block, and stays so after `statements`
    /// (none of them opens a transaction).
    private func isIdle(after statements: [PipelinedStatement]) throws -> Bool {
        PQtransactionStatus(try liveHandle()) == PQTRANS_IDLE && !statements.contains(where: \.opensTransaction)
    }
}
