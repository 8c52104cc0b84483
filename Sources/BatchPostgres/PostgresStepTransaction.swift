import Batch
import PostgresClient

/// The PostgreSQL job repository's transaction for one chunk or tasklet call.
///
/// Readers and writers of the repository's database use `connection`: what they write commits
/// together with the chunk's checkpoint and counts, or not at all.
public final class PostgresStepTransaction: StepTransaction {
    private enum Source {
        case open(PostgresConnection)
        case deferred(DeferredTransaction)
    }
    private let source: Source
    private var savepoints = 0
    /// Whether the chunk is reading and processing: statements then run outside the
    /// transaction until it begins.
    private var beforeWrites = false

    /// For a connection already inside an open transaction.
    public init(connection: PostgresConnection) {
        source = .open(connection)
    }

    /// For a transaction that begins when a reader or writer first asks for the connection: a
    /// tasklet call that does not touch the database commits its checkpoint in one statement.
    init(deferred: DeferredTransaction) {
        source = .deferred(deferred)
    }

    /// The connection, inside an open transaction. Do not COMMIT or ROLLBACK it yourself.
    public var connection: PostgresConnection {
        get throws {
            switch source {
            case .open(let connection): connection
            case .deferred(let transaction):
                beforeWrites ? transaction.connectionBeforeWrites : try transaction.connection
            }
        }
    }

    /// Runs the chunk's reading and processing with no transaction open: a reader's queries run
    /// on their own (in autocommit), so slow processing never holds a transaction idle. The
    /// transaction begins with the chunk's first write, in the same round trip.
    public func outsideTransaction<Result>(_ body: () throws -> Result) rethrows -> Result {
        let outer = beforeWrites
        beforeWrites = true
        defer { beforeWrites = outer }
        return try body()
    }

    public func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result {
        savepoints += 1
        defer { savepoints -= 1 }
        let name = "swiftbatch_sp\(savepoints)"
        let connection = try self.connection
        try connection.execute("SAVEPOINT \(identifier: name)")
        do {
            let result = try body()
            try connection.execute("RELEASE SAVEPOINT \(identifier: name)")
            return result
        } catch {
            try connection.execute("ROLLBACK TO SAVEPOINT \(identifier: name)")
            try connection.execute("RELEASE SAVEPOINT \(identifier: name)")
            throw error
        }
    }

    public func recordSkip(_ item: SkippedItem) throws {
        try connection.execute("""
            INSERT INTO batch_skipped_item (job_execution_id, step_execution_id, step_name, phase, item_key, reason)
            VALUES (\(item.jobExecutionID), \(item.stepExecutionID), \(item.stepName), \(item.phase.rawValue),
                    \(String(item.itemKey.prefix(2500))), \(String(item.reason.prefix(2500))))
            """, prepared: true)
    }
}

extension ChunkContext {
    /// The chunk's PostgreSQL connection, when the job repository is PostgreSQL.
    ///
    /// - Throws: when the step runs on another kind of repository.
    public func postgresConnection() throws -> PostgresConnection {
        guard let transaction = transaction as? PostgresStepTransaction else {
            throw PostgresError(
                kind: .usage,
                message: "this reader or writer needs the PostgreSQL job repository's transaction")
        }
        return try transaction.connection
    }
}

extension PostgresError: TransientFailure {}
extension PostgresTransactionError: TransientFailure {}
