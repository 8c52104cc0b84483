import Foundation
import Logging

/// A chunk-oriented step whose processing and writing run on worker daemons (remote chunking).
///
/// The manager (this step, in the launching process) reads items with its reader and sends
/// them, `commitInterval` at a time, as durable chunk rows: each chunk is inserted in the same
/// transaction as the manager's checkpoint (the reader's position after it), so a restarted
/// manager neither loses nor re-sends a chunk. At most `maxInFlight` chunks wait or run at once.
/// Workers (`swiftbatch worker`) claim chunks, decode and process the items, and write the
/// outputs in one transaction with their reply (counts) and the chunk's end, fenced by their
/// claim: a chunk is written exactly once, even when its worker dies or is paused past its lease
/// and the chunk is claimed again.
///
/// The step's counts are summed from the chunks' replies, so they are exact across worker
/// deaths and manager restarts. An item whose processing throws an error the `skipPolicy`
/// accepts is skipped: recorded (``SkippedItem``, phase process) and counted with its chunk's
/// reply, as long as the step's skips, summed over its chunks, stay within the limit. Any other
/// processing error, or one skip too many, FAILS the chunk, and the step fails naming it once
/// the chunks in flight have ended. Writes skip as in ``ChunkStep``: a write the policy accepts
/// is redone item by item under savepoints, and the items that fail again are skipped. A restart sends the failed chunk again,
/// its items read afresh from where the chunk started (same position, same count), so a source
/// row fixed after the failure is sent fixed; rows inserted into or deleted from a failed
/// chunk's range meanwhile would shift it, and are not supported.
/// Items travel through the repository as text written by a ``RemoteChunkCodec``: JSON for
/// `Codable` items by default, or a ``DelimitedChunkCodec`` (several times cheaper).
public struct RemoteChunkStep<Reader: ItemReader, Processor: ItemProcessor, Writer: ItemWriter>: RemoteChunkWorkerStep
where Processor.Input == Reader.Item, Processor.Output == Writer.Item {
    public let name: String
    public let commitInterval: Int
    /// A long job parameter that, when given, replaces `commitInterval` (e.g. `chunk`).
    public let commitIntervalParameter: String?
    /// Chunks waiting or running at once; the manager reads ahead no further.
    public let maxInFlight: Int
    /// A long job parameter that, when given, replaces `maxInFlight`.
    public let maxInFlightParameter: String?
    /// Claims of one chunk before it is FAILED (a worker that dies or loses its lease counts as one).
    public let maxAttempts: Int
    public let allowStartIfComplete: Bool
    /// Which processing failures skip an item instead of failing its chunk, and how many may
    /// for the whole step (the sum over its chunks, checked when each chunk commits).
    public let skipPolicy: SkipPolicy
    /// A long job parameter that, when given, replaces the skip policy's limit (e.g. `skip-limit`).
    public let skipLimitParameter: String?
    private let codec: any RemoteChunkCodec<Reader.Item>
    private let makeReader: @Sendable (StepScope) throws -> Reader
    private let makeWorker: @Sendable (RemoteChunkScope) throws -> (Processor, Writer)

    /// - Parameters:
    ///   - name: the step's name in the repository: a restart finds the step's last execution
    ///     by it, and workers serve the step as `<job>/<name>` (``workerStepKey(job:step:)``),
    ///     so it must be unique in the job and the same in the manager's and workers' builds.
    ///   - commitInterval: items per chunk: one chunk row, processed and written in one worker
    ///     transaction.
    ///   - commitIntervalParameter: a long job parameter that overrides `commitInterval`.
    ///   - maxInFlight: chunks waiting or running at once; the manager reads no further ahead.
    ///   - maxInFlightParameter: a long job parameter (1 to 10,000) that overrides `maxInFlight`.
    ///   - maxAttempts: claims of one chunk before it is FAILED; a worker that dies or loses its
    ///     lease uses one up.
    ///   - allowStartIfComplete: run the step again on a restart even when it COMPLETED in an
    ///     earlier execution of the instance (it then starts afresh, not from a checkpoint).
    ///   - skipPolicy: which processing and write failures skip an item instead of failing its
    ///     chunk; its limit holds for the step's skips summed over all its chunks.
    ///   - skipLimitParameter: a long job parameter that overrides the skip policy's limit.
    ///   - codec: how items travel through the repository.
    ///   - reader: builds the manager's reader; it is opened with the step's saved context.
    ///   - worker: builds a worker's processor and writer, once per chunk. The writer should
    ///     write through the chunk's transaction (`ChunkContext`): that is what makes the output
    ///     exactly-once. Writers are neither opened with a context nor asked to update one.
    public init(
        _ name: String, commitInterval: Int, commitIntervalParameter: String? = nil, maxInFlight: Int = 8,
        maxInFlightParameter: String? = nil, maxAttempts: Int = 3, allowStartIfComplete: Bool = false,
        skipPolicy: SkipPolicy = .never, skipLimitParameter: String? = nil,
        codec: some RemoteChunkCodec<Reader.Item>,
        reader: @escaping @Sendable (StepScope) throws -> Reader,
        worker: @escaping @Sendable (RemoteChunkScope) throws -> (Processor, Writer)
    ) {
        precondition(commitInterval > 0 && maxInFlight > 0 && maxAttempts > 0)
        self.name = name
        self.commitInterval = commitInterval
        self.commitIntervalParameter = commitIntervalParameter
        self.maxInFlight = maxInFlight
        self.maxInFlightParameter = maxInFlightParameter
        self.maxAttempts = maxAttempts
        self.allowStartIfComplete = allowStartIfComplete
        self.skipPolicy = skipPolicy
        self.skipLimitParameter = skipLimitParameter
        self.codec = codec
        self.makeReader = reader
        self.makeWorker = worker
    }

    /// The name workers use for this step: `<job>/<step>`.
    public static func workerStepKey(job: String, step: String) -> String { "\(job)/\(step)" }

    /// The commit interval in force for this execution.
    public func commitInterval(for parameters: JobParameters) throws -> Int {
        try ChunkStepOverrides.commitInterval(commitInterval, parameter: commitIntervalParameter, in: parameters)
    }

    /// The chunks in flight allowed for this execution.
    public func maxInFlight(for parameters: JobParameters) throws -> Int {
        guard let maxInFlightParameter, let given = parameters.long(maxInFlightParameter) else { return maxInFlight }
        guard (1...10_000).contains(given) else {
            throw InvalidStepParameter(description: "parameter \(maxInFlightParameter) must be between 1 and 10000, not \(given)")
        }
        return Int(given)
    }

    /// The skip policy in force for this execution.
    public func skipPolicy(for parameters: JobParameters) throws -> SkipPolicy {
        try ChunkStepOverrides.skipPolicy(skipPolicy, parameter: skipLimitParameter, in: parameters)
    }

    public func validate(_ parameters: JobParameters) throws {
        _ = try commitInterval(for: parameters)
        _ = try maxInFlight(for: parameters)
        _ = try skipPolicy(for: parameters)
    }

    // MARK: - Manager

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        guard let channel = scope.session.remoteChunkChannel else {
            throw InvalidStepParameter(description: "step \(name) chunks remotely, but the job repository cannot carry chunks to workers: use PostgresJobRepository(connectionString:) with BatchCluster imported, as the command line does")
        }
        let interval = try commitInterval(for: scope.parameters)
        let inFlight = try maxInFlight(for: scope.parameters)
        let key = Self.workerStepKey(job: scope.jobExecution.jobName, step: name)
        let adopted = try channel.adoptRemoteChunks(manager: execution, jobExecution: scope.jobExecution, workerStep: key)
        var seq = adopted.nextSeq
        for failed in adopted.failed {
            try resend(failed, &execution, channel, scope)
        }
        var reader = try makeReader(scope)
        try reader.open(execution.context)
        defer { try? reader.close() }
        var logger = scope.logger
        logger[metadataKey: "batch.remote.step"] = "\(key)"
        var warnedAboutWorkers = false
        let report = { (progress: RemoteChunkProgress) in
            if progress.liveWorkers == 0 && progress.open > 0 && !warnedAboutWorkers {
                warnedAboutWorkers = true
                logger.notice("no live worker serves this step yet: start one with `\(ApplicationName.current) worker`")
            } else if progress.liveWorkers > 0 {
                warnedAboutWorkers = false
            }
            logger.info("remote chunks", metadata: [
                "batch.remote.done": "\(progress.done)", "batch.remote.total": "\(progress.total)",
                "batch.remote.in_flight": "\(progress.open)", "batch.remote.failed": "\(progress.failed)",
            ])
        }

        var exhausted = false
        var stopping = false
        var items: [Reader.Item] = []
        items.reserveCapacity(interval)
        while !exhausted && !stopping {
            do {
                let progress = try channel.awaitRemoteChunks(
                    manager: execution, workerStep: key, maxOpen: inFlight - 1, untilFailure: true, logger: logger,
                    progress: report)
                if progress.failed > 0 { break }
                // One transaction: read the chunk, insert it, save the reader's position after it.
                // The reader moves on in memory, so a chunk whose transaction failed is never
                // retried as it is: the reader is reopened at the last committed checkpoint.
                let jobStatus = try scope.inChunkTransaction(&execution) { transaction, working in
                    items.removeAll(keepingCapacity: true)
                    let context = ChunkContext(
                        transaction: transaction, stepName: working.stepName, parameters: scope.parameters,
                        stepContext: working.context)
                    while items.count < interval {
                        guard let item = try reader.read(in: context) else {
                            exhausted = true
                            break
                        }
                        items.append(item)
                    }
                    if !items.isEmpty {
                        let payload = try codec.encode(items)
                        try channel.sendRemoteChunk(
                            in: transaction, manager: working, workerStep: key, seq: seq, items: payload,
                            itemCount: items.count, startContext: working.context, maxAttempts: maxAttempts)
                        working.counts.read += Int64(items.count)
                    }
                    var checkpoint = working.context
                    try reader.update(&checkpoint)
                    working.context = checkpoint
                    working.counts.commit += 1
                }.jobStatus
                if !items.isEmpty { seq += 1 }
                if (jobStatus == .stopping || scope.isInterrupted) && !exhausted { stopping = true }
            } catch {
                // The database went away (a restart, a network cut): once reconnected, go on
                // from the last committed chunk with a reader reopened at its checkpoint.
                // Anything else is rethrown and fails the step (a restart resumes from there).
                (execution, seq) = try channel.resumeRemoteChunks(after: error, manager: execution, logger: logger)
                try? reader.close()
                reader = try makeReader(scope)
                try reader.open(execution.context)
                exhausted = false
            }
        }

        // Every chunk sent must end before the step does: its counts are their replies.
        var progress: RemoteChunkProgress
        while true {
            do {
                progress = try channel.awaitRemoteChunks(
                    manager: execution, workerStep: key, maxOpen: 0, untilFailure: false, logger: logger, progress: report)
                break
            } catch {
                (execution, seq) = try channel.resumeRemoteChunks(after: error, manager: execution, logger: logger)
            }
        }
        let commits = execution.counts.commit
        execution.counts = try channel.remoteChunkCounts(manager: execution)
        execution.counts.commit += commits
        if progress.failed > 0 {
            execution.status = .failed
            execution.exitStatus = .failed.adding(
                description: "\(progress.failed) of \(progress.total) remote chunks failed: \(progress.failures.joined(separator: "; "))")
        } else if stopping {
            execution.status = .stopped
            execution.exitStatus = .stopped.adding(description: "stopped by request after \(progress.total) chunks")
        } else {
            execution.status = .completed
            execution.exitStatus = .completed
        }
    }

    /// Reads a failed chunk's items again from where it started, with a reader of its own,
    /// and sends them in place of the old ones. The step's own checkpoint does not move.
    private func resend(
        _ failed: FailedRemoteChunk, _ execution: inout StepExecution, _ channel: any RemoteChunkChannel,
        _ scope: StepScope
    ) throws {
        let reader = try makeReader(scope)
        try reader.open(failed.startContext)
        defer { try? reader.close() }
        _ = try scope.inChunkTransaction(&execution) { transaction, working in
            let context = ChunkContext(
                transaction: transaction, stepName: working.stepName, parameters: scope.parameters,
                stepContext: failed.startContext)
            var items: [Reader.Item] = []
            while items.count < failed.itemCount, let item = try reader.read(in: context) { items.append(item) }
            let payload = try codec.encode(items)
            try channel.resendRemoteChunk(
                in: transaction, manager: working, seq: failed.seq, items: payload, itemCount: items.count)
            working.counts.commit += 1
        }
        scope.logger.notice("failed remote chunk sent again", metadata: [
            "batch.remote.chunk": "\(failed.seq)", "batch.remote.items": "\(failed.itemCount)",
        ])
    }

    // MARK: - Worker

    public func process(_ scope: RemoteChunkScope) throws -> ProcessedRemoteChunk {
        let items = try codec.decode(scope.request.items, count: scope.request.itemCount)
        let policy = try skipPolicy(for: scope.parameters)
        let (processor, writer) = try makeWorker(scope)
        var outputs: [Writer.Item] = []
        outputs.reserveCapacity(items.count)
        var skipped: [RemoteChunkSkip] = []
        let filtered = try ChunkItems.process(items, with: processor, into: &outputs) { item, error in
            let key = itemKey(of: item)
            guard policy.isSkippable(error) else { throw RemoteChunkItemError(itemKey: key, underlying: "\(error)") }
            // This chunk alone is over the limit: no need to write it to find out.
            guard skipped.count < policy.limit else {
                throw SkipLimitExceeded(limit: policy.limit, phase: .process, itemKey: key, reason: "\(error)")
            }
            skipped.append(RemoteChunkSkip(phase: .process, itemKey: key, reason: "\(error)"))
        }
        let processSkips = skipped.count
        return ProcessedRemoteChunk(
            written: outputs.count, filtered: filtered, skipped: skipped, skipLimit: policy.limit
        ) { context in
            try writer.open(ExecutionContext())
            defer { try? writer.close() }
            var writeSkips: [RemoteChunkSkip] = []
            _ = try ChunkItems.write(outputs, with: writer, in: context, policy: policy) { output, error in
                guard processSkips + writeSkips.count < policy.limit else {
                    throw SkipLimitExceeded(limit: policy.limit, phase: .write, itemKey: itemKey(of: output), reason: "\(error)")
                }
                writeSkips.append(RemoteChunkSkip(phase: .write, itemKey: itemKey(of: output), reason: "\(error)"))
            }
            return writeSkips
        }
    }
}

extension RemoteChunkStep where Reader.Item: Codable {
    /// A remote chunk step whose items travel as JSON.
    public init(
        _ name: String, commitInterval: Int, commitIntervalParameter: String? = nil, maxInFlight: Int = 8,
        maxInFlightParameter: String? = nil, maxAttempts: Int = 3, allowStartIfComplete: Bool = false,
        skipPolicy: SkipPolicy = .never, skipLimitParameter: String? = nil,
        reader: @escaping @Sendable (StepScope) throws -> Reader,
        worker: @escaping @Sendable (RemoteChunkScope) throws -> (Processor, Writer)
    ) {
        self.init(
            name, commitInterval: commitInterval, commitIntervalParameter: commitIntervalParameter,
            maxInFlight: maxInFlight, maxInFlightParameter: maxInFlightParameter, maxAttempts: maxAttempts,
            allowStartIfComplete: allowStartIfComplete, skipPolicy: skipPolicy, skipLimitParameter: skipLimitParameter,
            codec: JSONChunkCodec<Reader.Item>(), reader: reader, worker: worker)
    }
}
