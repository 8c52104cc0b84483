/// The transaction a chunk (or a tasklet call) runs in, as the job repository opened it.
///
/// Batch knows nothing of SQL: store-specific readers and writers downcast this to their
/// repository's type (for PostgreSQL, `PostgresStepTransaction`, which holds the connection).
public protocol StepTransaction: AnyObject {
    /// Runs `body` so that, if it throws, only its own changes are undone and the transaction
    /// goes on (a savepoint). The chunk step uses it to isolate a failed write.
    func withSavepoint<Result>(_ body: () throws -> Result) throws -> Result
    /// Records a skipped item; it commits with the chunk.
    func recordSkip(_ item: SkippedItem) throws

    /// Runs `body`, the part of a chunk before its writes (reading and processing), so that it
    /// holds no transaction open: a repository whose transaction begins at its first write
    /// runs `body`'s statements on their own. The default runs `body` as it is.
    ///
    /// - Important: what runs in `body` does not commit with the chunk: readers only read.
    func outsideTransaction<Result>(_ body: () throws -> Result) rethrows -> Result
}

extension StepTransaction {
    public func outsideTransaction<Result>(_ body: () throws -> Result) rethrows -> Result {
        try body()
    }
}

/// What a reader or writer may know about the chunk it works on.
public final class ChunkContext {
    /// The repository's transaction for this chunk; everything written through it commits with
    /// the chunk's checkpoint.
    public let transaction: any StepTransaction
    /// The step's name (for a partition, `<step>:<partition>`).
    public let stepName: String
    /// The job's parameters.
    public let parameters: JobParameters
    /// The step's context as of the start of the chunk (read-only here; streams write to it in
    /// `update`).
    public let stepContext: ExecutionContext
    private let interruption: (@Sendable () -> Bool)?

    public init(
        transaction: any StepTransaction, stepName: String, parameters: JobParameters,
        stepContext: ExecutionContext, interruption: (@Sendable () -> Bool)? = nil
    ) {
        self.transaction = transaction
        self.stepName = stepName
        self.parameters = parameters
        self.stepContext = stepContext
        self.interruption = interruption
    }

    /// True when whoever runs the step wants it to end (a worker shutting down): long work
    /// inside the chunk (awaited processing) should stop; the chunk is then not committed.
    public var isInterrupted: Bool { interruption?() ?? false }
}
