import Logging

/// Where a remote chunk step's chunks stand, from the manager's one progress query.
public struct RemoteChunkProgress: Sendable, Equatable {
    /// Chunks of the step (this attempt's and the ones adopted from earlier attempts).
    public var total = 0
    /// Waiting for a worker or held by one (READY or CLAIMED): the chunks in flight.
    public var open = 0
    /// Held by a worker right now.
    public var claimed = 0
    public var done = 0
    public var failed = 0
    /// What the first failed chunks said (`chunk <seq> ...: <error>`), for the step's exit message.
    public var failures: [String] = []
    /// Workers whose heartbeat is fresh and that serve this step.
    public var liveWorkers = 0

    public init() {}
}

/// The repository side of remote chunking: chunks as durable rows that worker daemons claim,
/// process and write in their own transactions, replying with their counts. The PostgreSQL
/// repository implements it with `batch_remote_chunk`.
public protocol RemoteChunkChannel: AnyObject {
    /// Takes over the chunks that earlier attempts of this step (in the same job instance)
    /// sent: they belong to `manager` from now on, so the step's counts sum them. Held ones
    /// stay with their holder; FAILED ones stay FAILED until
    /// ``resendRemoteChunk(in:manager:seq:items:itemCount:)`` sends them again.
    ///
    /// - Returns: the sequence number of the next chunk to send, and the FAILED chunks.
    func adoptRemoteChunks(manager: StepExecution, jobExecution: JobExecution, workerStep: String) throws
        -> (nextSeq: Int, failed: [FailedRemoteChunk])

    /// Makes a FAILED chunk ready again with freshly read items, inside the manager's
    /// transaction, and wakes the workers at commit.
    func resendRemoteChunk(
        in transaction: any StepTransaction, manager: StepExecution, seq: Int, items: String, itemCount: Int
    ) throws

    /// Puts a chunk's encoded items in the repository inside `transaction`, the manager's chunk
    /// transaction: the chunk becomes visible to workers exactly when the manager's checkpoint
    /// (the reader's position after it) commits.
    func sendRemoteChunk(
        in transaction: any StepTransaction, manager: StepExecution, workerStep: String, seq: Int,
        items: String, itemCount: Int, startContext: ExecutionContext, maxAttempts: Int
    ) throws

    /// Waits until at most `maxOpen` of the manager's chunks are in flight, calling `progress`
    /// when the picture changes. Returns early when a chunk FAILED and `untilFailure` is set.
    /// Chunks whose lease expired on their last attempt are failed meanwhile.
    func awaitRemoteChunks(
        manager: StepExecution, workerStep: String, maxOpen: Int, untilFailure: Bool, logger: Logger,
        progress: (RemoteChunkProgress) -> Void
    ) throws -> RemoteChunkProgress

    /// After `error`, thrown by this channel or by a chunk transaction of the manager: when it
    /// means the repository's connection was lost, reconnects (with backoff, for a few minutes)
    /// and returns the manager's step execution as its last commit left it and the sequence
    /// number of the next chunk to send, so the manager resumes from its last committed chunk;
    /// otherwise rethrows `error`.
    func resumeRemoteChunks(after error: any Error, manager: StepExecution, logger: Logger) throws
        -> (execution: StepExecution, nextSeq: Int)

    /// The step's counts, summed from its chunks' replies: read is every item sent; write,
    /// filter and skips are the DONE chunks' replies; commit is the DONE chunks.
    func remoteChunkCounts(manager: StepExecution) throws -> StepCounts
}

extension JobRepositorySession {
    /// None, unless the repository says otherwise: remote chunks need a repository that
    /// workers in other processes share.
    public var remoteChunkChannel: (any RemoteChunkChannel)? { nil }
}

/// A chunk that failed in an earlier attempt of the step: where its items start in the input.
public struct FailedRemoteChunk: Sendable {
    public var seq: Int
    public var itemCount: Int
    /// The manager's step context just before it read the chunk.
    public var startContext: ExecutionContext

    public init(seq: Int, itemCount: Int, startContext: ExecutionContext) {
        self.seq = seq
        self.itemCount = itemCount
        self.startContext = startContext
    }
}

/// A chunk a worker claimed, as the step sees it.
public struct RemoteChunkRequest: Sendable {
    /// The chunk's place in the step's input, from 0.
    public var seq: Int
    /// Which claim of the chunk this is (1 the first; more after a worker died or was fenced).
    public var attempt: Int
    /// The items, as the manager encoded them.
    public var items: String
    public var itemCount: Int

    public init(seq: Int, attempt: Int, items: String, itemCount: Int) {
        self.seq = seq
        self.attempt = attempt
        self.items = items
        self.itemCount = itemCount
    }
}

/// What a worker needs to build a chunk's processor and writer.
public struct RemoteChunkScope: Sendable {
    public var parameters: JobParameters
    public var request: RemoteChunkRequest
    public var logger: Logger

    public init(parameters: JobParameters, request: RemoteChunkRequest, logger: Logger) {
        self.parameters = parameters
        self.request = request
        self.logger = logger
    }
}

/// A chunk a worker processed and has yet to write: `write` runs inside the worker's chunk
/// transaction, which also records the reply (`written`, `filtered`, the skips) and ends the chunk.
public struct ProcessedRemoteChunk {
    /// Outputs handed to the writer (those it then skips are taken off the reply).
    public var written: Int
    public var filtered: Int
    /// Items the step's skip policy let through while processing, in input order.
    public var skipped: [RemoteChunkSkip]
    /// The step's skip limit: the skips of all its chunks together may not pass it.
    public var skipLimit: Int
    /// Writes the outputs through the chunk's transaction; returns the outputs it skipped.
    public var write: (ChunkContext) throws -> [RemoteChunkSkip]

    public init(
        written: Int, filtered: Int, skipped: [RemoteChunkSkip] = [], skipLimit: Int = 0,
        write: @escaping (ChunkContext) throws -> [RemoteChunkSkip]
    ) {
        self.written = written
        self.filtered = filtered
        self.skipped = skipped
        self.skipLimit = skipLimit
        self.write = write
    }
}

/// An item of a remote chunk that its worker skipped, processing or writing it.
public struct RemoteChunkSkip: Sendable {
    public var phase: SkipPhase
    /// What identifies the item to a person: its key (``ItemKeyed``), else a description.
    public var itemKey: String
    public var reason: String

    public init(phase: SkipPhase, itemKey: String, reason: String) {
        self.phase = phase
        self.itemKey = itemKey
        self.reason = reason
    }
}

/// The worker's half of a remote chunk step: decode a chunk's items and process them.
public protocol RemoteChunkWorkerStep: Step {
    /// Decodes and processes a chunk. What it throws fails the chunk (and so the step), with the
    /// error as the reason: it should name the item.
    func process(_ scope: RemoteChunkScope) throws -> ProcessedRemoteChunk
}

/// A remote chunk failed for a reason that a retry cannot fix.
public struct RemoteChunkItemError: Error, CustomStringConvertible {
    public var itemKey: String
    public var underlying: String

    public var description: String {
        underlying.contains(itemKey) ? underlying : "item \(itemKey): \(underlying)"
    }
}
