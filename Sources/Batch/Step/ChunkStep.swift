import BatchSupport
import Foundation
import Logging

/// A chunk-oriented step: read up to `commitInterval` items, process them, write the results,
/// and commit output, checkpoint and counts in one transaction; repeat until the reader is
/// exhausted.
///
/// Faults: a failure the ``SkipPolicy`` accepts skips the item (a failed write is isolated by
/// re-writing the chunk item by item under savepoints, so only the bad item is skipped, in the
/// same transaction); a failure the ``RetryPolicy`` accepts rolls the chunk back and runs it
/// again from the items already read; anything else fails the step, keeping every chunk that
/// committed before it and the checkpoint a restart resumes from.
///
/// Generic over its reader, processor and writer, so the per-item loop is specialised: no
/// existential or dictionary work per item.
public struct ChunkStep<Reader: ItemReader, Processor: ItemProcessor, Writer: ItemWriter>: Step
where Processor.Input == Reader.Item, Processor.Output == Writer.Item {
    public let name: String
    public let commitInterval: Int
    /// A long job parameter that, when given, replaces `commitInterval` (e.g. `chunk`).
    public let commitIntervalParameter: String?
    /// A long job parameter that, when given, replaces the skip policy's limit.
    public let skipLimitParameter: String?
    public let allowStartIfComplete: Bool
    public let skipPolicy: SkipPolicy
    public let retryPolicy: RetryPolicy
    public let listeners: [any StepListener]
    private let makeComponents: @Sendable (StepScope) throws -> (Reader, Processor, Writer)

    /// - Parameters:
    ///   - name: the step's name in the repository: a restart finds the step's last execution
    ///     by it, so it must be unique in the job and stay the same between releases.
    ///   - commitInterval: items per chunk (per transaction).
    ///   - commitIntervalParameter: a long job parameter that overrides `commitInterval`.
    ///   - skipPolicy: which failures skip an item; by default none does.
    ///   - skipLimitParameter: a long job parameter that overrides the skip policy's limit.
    ///   - retryPolicy: which failures retry the chunk; by default transient database errors.
    ///   - allowStartIfComplete: run the step again on a restart even when it COMPLETED in an
    ///     earlier execution of the instance (it then starts afresh, not from a checkpoint).
    ///   - listeners: called around the step, each chunk (after it commits or rolls back) and
    ///     each item read, processed, written or skipped, on the step's thread.
    ///   - components: builds the reader, processor and writer for one execution; they are
    ///     made fresh on every run and opened with the step's saved context.
    public init(
        _ name: String, commitInterval: Int, commitIntervalParameter: String? = nil,
        skipPolicy: SkipPolicy = .never, skipLimitParameter: String? = nil,
        retryPolicy: RetryPolicy = .transientErrors, allowStartIfComplete: Bool = false,
        listeners: [any StepListener] = [],
        components: @escaping @Sendable (StepScope) throws -> (Reader, Processor, Writer)
    ) {
        precondition(commitInterval > 0, "commit interval must be positive")
        self.name = name
        self.listeners = listeners
        self.commitInterval = commitInterval
        self.commitIntervalParameter = commitIntervalParameter
        self.skipLimitParameter = skipLimitParameter
        self.skipPolicy = skipPolicy
        self.retryPolicy = retryPolicy
        self.allowStartIfComplete = allowStartIfComplete
        self.makeComponents = components
    }

    /// The commit interval in force for this execution.
    public func commitInterval(for parameters: JobParameters) throws -> Int {
        try ChunkStepOverrides.commitInterval(commitInterval, parameter: commitIntervalParameter, in: parameters)
    }

    /// The skip policy in force for this execution.
    public func skipPolicy(for parameters: JobParameters) throws -> SkipPolicy {
        try ChunkStepOverrides.skipPolicy(skipPolicy, parameter: skipLimitParameter, in: parameters)
    }

    public func validate(_ parameters: JobParameters) throws {
        _ = try commitInterval(for: parameters)
        _ = try skipPolicy(for: parameters)
    }

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        let commitInterval = try commitInterval(for: scope.parameters)
        let skipPolicy = try skipPolicy(for: scope.parameters)
        let (reader, processor, writer) = try makeComponents(scope)
        try reader.open(execution.context)
        defer { try? reader.close() }
        let writerIsReader = (writer as AnyObject) === (reader as AnyObject)
        if !writerIsReader { try writer.open(execution.context) }
        defer { if !writerIsReader { try? writer.close() } }

        var chunk = ChunkBuffers<Reader.Item, Writer.Item>(capacity: commitInterval)
        while !chunk.exhausted {
            chunk.startNext()
            var attempt = 0
            var jobStatus = BatchStatus.started
            while true {
                attempt += 1
                do {
                    jobStatus = try scope.inChunkTransaction(&execution) { transaction, working in
                        try runChunk(
                            &chunk, commitInterval, skipPolicy, transaction, &working, reader, processor, writer,
                            writerIsReader, scope)
                    }.jobStatus
                    if let context = chunk.context, !listeners.isEmpty {
                        for listener in listeners {
                            listener.afterChunk(context)
                            for skipped in chunk.committedSkips { listener.onSkip(skipped) }
                        }
                    }
                    break
                } catch is CancellationError where scope.isInterrupted {
                    // Awaited processing was cancelled by an interruption: the chunk in hand is
                    // dropped and the step stops at its last commit.
                    execution.status = .stopped
                    execution.exitStatus = .stopped.adding(
                        description: "interrupted after \(execution.counts.read) items; the chunk in progress was not committed")
                    return
                } catch {
                    execution.counts.rollback += 1
                    if let context = chunk.context {
                        for listener in listeners { listener.afterChunkError(context, error) }
                    }
                    guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                    let wait = retryPolicy.backoff(afterAttempt: attempt)
                    scope.logger.warning(
                        "chunk rolled back; retrying",
                        metadata: ["batch.attempt": "\(attempt)", "batch.error": "\(error)", "batch.backoff": "\(wait)"])
                    Thread.sleep(forTimeInterval: wait.inSeconds)
                }
            }
            if (jobStatus == .stopping || scope.isInterrupted) && !chunk.exhausted {
                execution.status = .stopped
                execution.exitStatus = .stopped.adding(
                    description: "stopped by request after \(execution.counts.read) items")
                return
            }
        }
        execution.status = .completed
        execution.exitStatus = .completed
    }

    /// One attempt at a chunk, inside its transaction. Items are read only on the first
    /// attempt; a retry works on the same items.
    private func runChunk(
        _ chunk: inout ChunkBuffers<Reader.Item, Writer.Item>, _ commitInterval: Int,
        _ skipPolicy: SkipPolicy, _ transaction: any StepTransaction,
        _ working: inout StepExecution, _ reader: Reader, _ processor: Processor, _ writer: Writer,
        _ writerIsReader: Bool, _ scope: StepScope
    ) throws {
        let context = ChunkContext(
            transaction: transaction, stepName: working.stepName, parameters: scope.parameters,
            stepContext: working.context, interruption: scope.interruption)
        let session = scope.session
        let current = working
        var skips = Skips(policy: skipPolicy, alreadySkipped: working.counts.skip, execution: working) {
            try session.skipsElsewhereInStep(of: current)
        }
        let notify = !listeners.isEmpty
        chunk.context = context
        chunk.committedSkips.removeAll()
        if notify { for listener in listeners { listener.beforeChunk(context) } }

        // Reading and processing hold no transaction open: the repository's transaction begins
        // with the first write. Items are read only on the first attempt, and processed again
        // only when processing is what failed.
        try transaction.outsideTransaction {
            if !chunk.hasRead {
                // On locals, as in `process`: no type metadata looked up per item.
                var items: [Reader.Item] = []
                swap(&items, &chunk.items)
                defer { swap(&items, &chunk.items) }
                var exhausted = false
                while items.count < commitInterval {
                    do {
                        guard let item = try reader.read(in: context) else {
                            exhausted = true
                            break
                        }
                        items.append(item)
                        if notify { for listener in listeners { listener.afterRead(item) } }
                    } catch {
                        if notify { for listener in listeners { listener.onReadError(error) } }
                        guard skipPolicy.isSkippable(error) else { throw error }
                        let key = (error as? any ItemKeyed)?.itemKey ?? "item after \(working.counts.read + Int64(items.count)) read"
                        chunk.readSkips.append(try skips.skip(.read, key: key, error))
                    }
                }
                if exhausted { chunk.exhausted = true }
                chunk.hasRead = true
            }
            skips.count(chunk.readSkips)
            if chunk.hasProcessed {
                skips.count(chunk.processSkips)
            } else {
                try process(&chunk, &skips, processor, skipPolicy, notify, context)
            }
        }

        var written = chunk.outputs.count
        var writeSkips: [SkippedItem] = []
        if notify && !chunk.outputs.isEmpty {
            let items = chunk.outputs.map { $0 as Any }
            for listener in listeners { listener.beforeWrite(items) }
        }
        do {
            written = try ChunkItems.write(chunk.outputs, with: writer, in: context, policy: skipPolicy) { output, error in
                writeSkips.append(try skips.skip(.write, key: itemKey(of: output), error))
            }
        } catch {
            if notify {
                let items = chunk.outputs.map { $0 as Any }
                for listener in listeners { listener.onWriteError(items, error) }
            }
            throw error
        }
        if notify && !chunk.outputs.isEmpty {
            let items = chunk.outputs.map { $0 as Any }
            for listener in listeners { listener.afterWrite(items) }
        }

        let allSkips = chunk.readSkips + chunk.processSkips + writeSkips
        for skipped in allSkips {
            try transaction.recordSkip(skipped)
            scope.logger.notice(
                "item skipped",
                metadata: [
                    "batch.skip.phase": "\(skipped.phase.rawValue)", "batch.skip.item": "\(skipped.itemKey)",
                    "batch.skip.reason": "\(skipped.reason)",
                ])
        }
        var stepContext = working.context
        try reader.update(&stepContext)
        if !writerIsReader { try writer.update(&stepContext) }
        working.context = stepContext
        working.counts.read += Int64(chunk.items.count)
        working.counts.readSkip += Int64(chunk.readSkips.count)
        working.counts.processSkip += Int64(chunk.processSkips.count)
        working.counts.writeSkip += Int64(writeSkips.count)
        working.counts.filter += chunk.filtered
        working.counts.write += Int64(written)
        working.counts.commit += 1
        chunk.committedSkips = allSkips
    }

    /// Processes the chunk's items into its outputs, once: a retry of the chunk's transaction
    /// writes the same outputs again.
    private func process(
        _ chunk: inout ChunkBuffers<Reader.Item, Writer.Item>, _ skips: inout Skips, _ processor: Processor,
        _ skipPolicy: SkipPolicy, _ notify: Bool, _ context: ChunkContext
    ) throws {
        chunk.outputs.removeAll(keepingCapacity: true)
        chunk.filtered = 0
        chunk.processSkips.removeAll()
        // A concurrent processor has done the whole chunk already; its results are taken in
        // the items' order, so outputs, skips and listeners see what a sequential one gives.
        let items = chunk.items
        let processed = processor.processChunk(items, in: context)
        // The loop works on locals: this code is generic and unspecialized (steps are called
        // through `any Step`), and every access to a field of the generic `chunk`, or to an
        // enumerated sequence's iterator, would look up type metadata for every item.
        var outputs: [Writer.Item] = []
        swap(&outputs, &chunk.outputs)
        defer { swap(&outputs, &chunk.outputs) }
        var filtered: Int64 = 0
        defer { chunk.filtered += filtered }
        for position in 0..<items.count {
            let item = items[position]
            do {
                let output: Writer.Item?
                if let processed {
                    output = try processed[position].get()
                } else {
                    output = try processor.process(item)
                }
                if notify { for listener in listeners { listener.afterProcess(item, result: output) } }
                if let output {
                    outputs.append(output)
                } else {
                    filtered += 1
                }
            } catch let error as CancellationError {
                // Interrupted (a worker shutting down): the chunk is not committed.
                throw error
            } catch {
                if notify { for listener in listeners { listener.onProcessError(item, error) } }
                guard skipPolicy.isSkippable(error) else { throw error }
                chunk.processSkips.append(try skips.skip(.process, key: itemKey(of: item), error))
            }
        }
        chunk.hasProcessed = true
    }
}

/// A job parameter a step (or its partitioner) cannot work with; refused at launch.
public struct InvalidStepParameter: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// The items of the chunk in hand, kept across retries of its transaction.
struct ChunkBuffers<Item, Output> {
    var items: [Item] = []
    var outputs: [Output] = []
    var readSkips: [SkippedItem] = []
    var processSkips: [SkippedItem] = []
    var filtered: Int64 = 0
    /// The skips of the last chunk that committed, for listeners.
    var committedSkips: [SkippedItem] = []
    /// The context of the chunk in hand, for listeners.
    var context: ChunkContext?
    var hasRead = false
    var hasProcessed = false
    var exhausted = false

    init(capacity: Int) {
        items.reserveCapacity(capacity)
        outputs.reserveCapacity(capacity)
    }

    mutating func startNext() {
        items.removeAll(keepingCapacity: true)
        readSkips.removeAll()
        processSkips.removeAll()
        outputs.removeAll(keepingCapacity: true)
        filtered = 0
        hasRead = false
        hasProcessed = false
    }
}

/// Counts skips against the policy's limit and builds their records.
struct Skips {
    let policy: SkipPolicy
    var total: Int64
    let execution: StepExecution
    /// The skips the step's other parts committed (a partitioned step's other partitions),
    /// asked once, at the first skip.
    private var elsewhere: (() throws -> Int64)?

    init(
        policy: SkipPolicy, alreadySkipped: Int64, execution: StepExecution,
        elsewhere: (() throws -> Int64)? = nil
    ) {
        self.policy = policy
        self.total = alreadySkipped
        self.execution = execution
        self.elsewhere = elsewhere
    }

    /// Skips made in an earlier attempt of this chunk, still to be counted.
    mutating func count(_ earlier: [SkippedItem]) {
        total += Int64(earlier.count)
    }

    mutating func skip(_ phase: SkipPhase, key: String, _ error: any Error) throws -> SkippedItem {
        if let others = elsewhere {
            elsewhere = nil
            total += try others()
        }
        guard total < Int64(policy.limit) else {
            throw SkipLimitExceeded(limit: policy.limit, phase: phase, itemKey: key, reason: "\(error)")
        }
        total += 1
        return SkippedItem(
            jobExecutionID: execution.jobExecutionID, stepExecutionID: execution.id,
            stepName: execution.stepName, phase: phase, itemKey: key, reason: "\(error)")
    }
}

/// A processor that hands items on unchanged, for steps without processing.
public struct PassThroughProcessor<Item>: ItemProcessor {
    public init() {}
    public func process(_ item: Item) -> Item? { item }
}

extension ChunkStep
where Processor == PassThroughProcessor<Reader.Item>, Reader: SendableMetatype, Writer: SendableMetatype {
    /// A chunk step without a processor.
    public init(
        _ name: String, commitInterval: Int, commitIntervalParameter: String? = nil,
        skipPolicy: SkipPolicy = .never, skipLimitParameter: String? = nil,
        retryPolicy: RetryPolicy = .transientErrors, allowStartIfComplete: Bool = false,
        listeners: [any StepListener] = [],
        components: @escaping @Sendable (StepScope) throws -> (Reader, Writer)
    ) {
        self.init(
            name, commitInterval: commitInterval, commitIntervalParameter: commitIntervalParameter,
            skipPolicy: skipPolicy, skipLimitParameter: skipLimitParameter, retryPolicy: retryPolicy,
            allowStartIfComplete: allowStartIfComplete, listeners: listeners
        ) { scope in
            let (reader, writer) = try components(scope)
            return (reader, PassThroughProcessor(), writer)
        }
    }
}
