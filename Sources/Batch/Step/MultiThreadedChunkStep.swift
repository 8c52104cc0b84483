import BatchSupport
import Foundation
import Logging

/// A chunk-oriented step run by several threads at once: each thread takes the next page of the
/// input (one chunk, a range of keys), processes it, writes it and commits it in a transaction of
/// its own, on a repository session of its own.
///
///     MultiThreadedChunkStep("convert", threads: 4, commitInterval: 1000) { scope in
///         PostgresKeysetPageSource(table: "bench_txn", columns: [...], key: "id", name: "bench_txn") { row in ... }
///     } worker: { _ in
///         (LedgerProcessor(), ledgerWriter())
///     }
///
/// Unlike Spring Batch's multi-threaded step, it stays restartable, and exactly so:
///
/// - Pages are planned and handed out under a lock, in key order, so they tile the key space
///   (each thread then fetches its own page, outside the lock). Each commit
///   saves, in the same transaction as the page's output, the step's counts and a
///   ``KeyRangeCheckpoint``: the keys below which every page committed (a low-water mark) and the
///   ranges of the pages above it that committed while an earlier one was still in flight.
/// - Commits of the step execution are serialized (the step's output is written in parallel; only
///   the save of counts and checkpoint and the COMMIT itself take turns), and each starts from
///   the counts and checkpoint of the last commit. The checkpoint never claims a page that did not
///   commit, and no commit loses another's counts. The step execution's optimistic version still
///   guards every save, so a process that lost the execution (its launcher was declared dead)
///   cannot commit.
/// - A restart reads only the keys the checkpoint does not cover. So with a writer that writes
///   through the chunk's transaction (the repository's database), every item is written exactly
///   once across failures, kills and restarts, and read, write, filter and skip counts summed over
///   the executions are those of one uninterrupted run. A writer to anything else is
///   at-least-once, for the pages in flight when the step died.
///
/// Faults: the skip policy works per page as in ``ChunkStep``, and its limit holds for the step
/// as a whole (a commit that would exceed it fails). A retryable failure rolls back and retries
/// that page only. Any other failure, in any thread, ends the step: the other threads finish the
/// page in hand, commit it, and take no more; the step fails with the first failure, keeping
/// every page that committed.
///
/// Threads: the step's own thread and `threads - 1` threads started for the execution and
/// joined before ``run(_:in:)`` returns (libpq blocks, so never Swift's cooperative pool). Each
/// makes its own processor and writer (`worker`), so they need not be thread-safe; the source is
/// shared: it plans pages under the hand-out lock and fetches them from several threads at once
/// (see ``KeyedPageSource``). Only step-level listeners are called.
///
/// What is not guaranteed: the order in which pages are written (page by page, each in key order,
/// but pages interleave), and the reading of rows inserted or changed behind the hand-out point
/// while the step runs (as with any keyset reader).
public struct MultiThreadedChunkStep<Source: KeyedPageSource, Processor: ItemProcessor, Writer: ItemWriter>: Step
where
    Processor.Input == Source.Item, Processor.Output == Writer.Item,
    // Each thread makes its own processor and writer: their types cross threads, never their values.
    Processor: SendableMetatype, Writer: SendableMetatype
{
    public let name: String
    /// Threads that take pages, the step's own included.
    public let threads: Int
    /// A long job parameter that, when given, replaces `threads` (1 to 64).
    public let threadsParameter: String?
    /// Items per page, and so per transaction.
    public let commitInterval: Int
    /// A long job parameter that, when given, replaces `commitInterval`.
    public let commitIntervalParameter: String?
    /// A long job parameter that, when given, replaces the skip policy's limit.
    public let skipLimitParameter: String?
    public let allowStartIfComplete: Bool
    public let skipPolicy: SkipPolicy
    public let retryPolicy: RetryPolicy
    private let makeSource: @Sendable (StepScope) throws -> Source
    private let makeWorker: @Sendable (StepScope) throws -> (Processor, Writer)

    /// - Parameters:
    ///   - name: the step's name in the repository: a restart finds the step's last execution
    ///     by it, so it must be unique in the job and stay the same between releases.
    ///   - threads: threads taking pages (the step's own thread is one of them).
    ///   - threadsParameter: a long job parameter that overrides `threads`.
    ///   - commitInterval: items per page (per transaction).
    ///   - commitIntervalParameter: a long job parameter that overrides `commitInterval`.
    ///   - skipPolicy: which failures skip an item; by default none does.
    ///   - skipLimitParameter: a long job parameter that overrides the skip policy's limit.
    ///   - retryPolicy: which failures retry a page; by default transient database errors.
    ///   - allowStartIfComplete: run the step again on a restart even when it COMPLETED in an
    ///     earlier execution of the instance (it then starts afresh, not from a checkpoint).
    ///   - source: builds the shared source of pages, once per execution.
    ///   - worker: builds one thread's processor and writer, on that thread, with that thread's
    ///     scope (its own repository session). Writers should write through the chunk's
    ///     transaction: their `update` is called, but one context is shared by all threads.
    public init(
        _ name: String, threads: Int, threadsParameter: String? = nil, commitInterval: Int,
        commitIntervalParameter: String? = nil, skipPolicy: SkipPolicy = .never, skipLimitParameter: String? = nil,
        retryPolicy: RetryPolicy = .transientErrors, allowStartIfComplete: Bool = false,
        source: @escaping @Sendable (StepScope) throws -> Source,
        worker: @escaping @Sendable (StepScope) throws -> (Processor, Writer)
    ) {
        precondition((1...Self.maxThreads).contains(threads), "threads must be between 1 and \(Self.maxThreads)")
        precondition(commitInterval > 0, "commit interval must be positive")
        self.name = name
        self.threads = threads
        self.threadsParameter = threadsParameter
        self.commitInterval = commitInterval
        self.commitIntervalParameter = commitIntervalParameter
        self.skipPolicy = skipPolicy
        self.skipLimitParameter = skipLimitParameter
        self.retryPolicy = retryPolicy
        self.allowStartIfComplete = allowStartIfComplete
        self.makeSource = source
        self.makeWorker = worker
    }

    /// The most threads a step may run (each holds a database connection).
    public static var maxThreads: Int { 64 }

    /// The threads in force for this execution.
    public func threads(for parameters: JobParameters) throws -> Int {
        guard let threadsParameter, let value = parameters.long(threadsParameter) else { return threads }
        guard value >= 1, value <= Int64(Self.maxThreads) else {
            throw InvalidStepParameter(
                description: "parameter \(threadsParameter) must be between 1 and \(Self.maxThreads), not \(value)")
        }
        return Int(value)
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
        _ = try threads(for: parameters)
        _ = try commitInterval(for: parameters)
        _ = try skipPolicy(for: parameters)
    }

    public func run(_ execution: inout StepExecution, in scope: StepScope) throws {
        let threads = try threads(for: scope.parameters)
        let settings = PageSettings(limit: try commitInterval(for: scope.parameters), skipPolicy: try skipPolicy(for: scope.parameters))
        let source = try makeSource(scope)
        let keys = source.keys ?? Int64.min...Int64.max
        let checkpoint = try KeyRangeCheckpoint(execution.context, prefix: source.name, start: keys.lowerBound)
        if !checkpoint.ranges.isEmpty {
            scope.logger.info("resuming from the checkpoint", metadata: ["batch.step.checkpoint": "\(checkpoint)"])
        }
        let shared = SharedPages(execution: execution, checkpoint: checkpoint, keys: keys, prefix: source.name)

        // The other threads' sessions are opened here, so that a refusal fails the step before
        // any page is taken; each is then used by its thread alone.
        var sessions: [SessionHandoff] = []
        do {
            for _ in 1..<threads { sessions.append(SessionHandoff(try scope.session.openSibling())) }
        } catch {
            for handoff in sessions { handoff.take()?.close() }
            throw error
        }
        let group = DispatchGroup()
        let (jobExecution, stepContext, observation) = (scope.jobExecution, scope.stepContext, scope.observation)
        for (index, handoff) in sessions.enumerated() {
            var logger = scope.logger
            logger[metadataKey: "batch.step.thread"] = "\(index + 1)"
            let threadLogger = logger
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                guard let session = handoff.take() else { return }
                defer { session.close() }
                let threadScope = StepScope(
                    session: session, jobExecution: jobExecution, logger: threadLogger, stepContext: stepContext,
                    observation: observation)
                work(threadScope, shared, source, settings)
            }
            thread.name = "\(name)-\(index + 1)"
            thread.start()
        }
        work(scope, shared, source, settings)
        group.wait()

        let outcome = shared.outcome()
        execution = outcome.execution
        if let failure = outcome.failure { throw failure }
        if outcome.allHandedOut {
            execution.status = .completed
            execution.exitStatus = .completed
        } else {
            execution.status = .stopped
            execution.exitStatus = .stopped.adding(
                description: "stopped by request after \(execution.counts.read) items")
        }
    }

    /// One thread's loop: pages until none is left, the step is stopping, or something failed.
    private func work(_ scope: StepScope, _ shared: SharedPages, _ source: Source, _ settings: PageSettings) {
        do {
            let (processor, writer) = try makeWorker(scope)
            try writer.open(scope.stepContext)
            defer { try? writer.close() }
            while try runPage(scope, shared, source, settings, processor, writer) {
                if scope.isInterrupted { shared.stop() }
            }
        } catch {
            shared.fail(error)
            scope.logger.error("page failed; the other threads finish their pages and stop", metadata: ["batch.error": "\(error)"])
        }
    }

    /// Takes, processes, writes and commits one page, retrying it as the retry policy says.
    /// Returns false when there was no page to take.
    private func runPage(
        _ scope: StepScope, _ shared: SharedPages, _ source: Source, _ settings: PageSettings,
        _ processor: Processor, _ writer: Writer
    ) throws -> Bool {
        var page = PageInHand<Source.Item>()
        var attempt = 0
        while true {
            attempt += 1
            var saved = shared.execution
            var holdsCommitTurn = false
            do {
                let (checkpoint, jobStatus) = try scope.inChunkTransaction(&saved) { transaction, working in
                    let context = ChunkContext(
                        transaction: transaction, stepName: working.stepName, parameters: scope.parameters,
                        stepContext: working.context)
                    var skips = Skips(policy: settings.skipPolicy, alreadySkipped: shared.execution.counts.skip, execution: working)
                    if !page.isRead {
                        guard try read(&page, &skips, shared, source, settings, context) else { throw NoPageLeft() }
                    } else {
                        skips.count(page.readSkips)
                    }
                    let result = try processAndWrite(page, &skips, settings.skipPolicy, context, processor, writer)
                    for skipped in result.skips {
                        try transaction.recordSkip(skipped)
                        scope.logger.notice(
                            "item skipped",
                            metadata: [
                                "batch.skip.phase": "\(skipped.phase.rawValue)", "batch.skip.item": "\(skipped.itemKey)",
                                "batch.skip.reason": "\(skipped.reason)",
                            ])
                    }
                    // From here to the end of the COMMIT, this thread alone saves the step.
                    shared.beginCommit()
                    holdsCommitTurn = true
                    var (next, checkpoint) = try shared.commitCandidate(
                        page: page.range!, counts: result.counts, skips: result.skips, limit: settings.skipPolicy.limit)
                    try writer.update(&next.context)
                    working = next
                    return checkpoint
                }
                shared.endCommit(saved, checkpoint)
                holdsCommitTurn = false
                if jobStatus == .stopping { shared.stop() }
                return true
            } catch is NoPageLeft {
                return false
            } catch {
                if holdsCommitTurn { shared.abandonCommit() }
                shared.countRollback()
                guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(error) else { throw error }
                let wait = retryPolicy.backoff(afterAttempt: attempt)
                scope.logger.warning(
                    "page rolled back; retrying",
                    metadata: ["batch.attempt": "\(attempt)", "batch.error": "\(error)", "batch.backoff": "\(wait)"])
                Thread.sleep(forTimeInterval: wait.inSeconds)
            }
        }
    }

    /// Takes the next page (unless a failed attempt took one already), fetches it and makes its
    /// items; false when no page is left to take (or the step is ending). A page that holds no
    /// rows is marked done and the next one taken.
    private func read(
        _ page: inout PageInHand<Source.Item>, _ skips: inout Skips, _ shared: SharedPages, _ source: Source,
        _ settings: PageSettings, _ context: ChunkContext
    ) throws -> Bool {
        while true {
            if page.range == nil {
                // Kept across attempts from here: a page taken is this thread's until it commits
                // or the step fails, never lost by a retry.
                guard let range = try shared.takeRange(source, limit: settings.limit, in: context) else { return false }
                page.range = range
            }
            let range = page.range!
            let rows = try source.fetch(range, in: context)
            if rows.count == 0 {
                shared.markEmpty(range)
                page.range = nil
                continue
            }
            page.items.removeAll(keepingCapacity: true)
            page.readSkips.removeAll()
            page.items.reserveCapacity(rows.count)
            for position in 0..<rows.count {
                do {
                    page.items.append(try rows.item(at: position))
                } catch {
                    guard settings.skipPolicy.isSkippable(error) else { throw error }
                    let key = (error as? any ItemKeyed)?.itemKey ?? (try? rows.key(at: position)).map { "key \($0)" } ?? "row \(position) of its page"
                    page.readSkips.append(try skips.skip(.read, key: key, error))
                }
            }
            page.isRead = true
            return true
        }
    }

    /// Processes and writes a page's items in the page's transaction; returns its counts (read,
    /// filter, write and skips; no commit) and its skips.
    private func processAndWrite(
        _ page: PageInHand<Source.Item>, _ skips: inout Skips, _ skipPolicy: SkipPolicy,
        _ context: ChunkContext, _ processor: Processor, _ writer: Writer
    ) throws -> (counts: StepCounts, skips: [SkippedItem]) {
        var outputs: [Writer.Item] = []
        outputs.reserveCapacity(page.items.count)
        var processSkips: [SkippedItem] = []
        let filtered = try ChunkItems.process(page.items, with: processor, into: &outputs) { item, error in
            guard skipPolicy.isSkippable(error) else { throw error }
            processSkips.append(try skips.skip(.process, key: itemKey(of: item), error))
        }
        var writeSkips: [SkippedItem] = []
        let written = try ChunkItems.write(outputs, with: writer, in: context, policy: skipPolicy) { output, error in
            writeSkips.append(try skips.skip(.write, key: itemKey(of: output), error))
        }
        let counts = StepCounts(
            read: Int64(page.items.count), write: Int64(written), filter: Int64(filtered),
            readSkip: Int64(page.readSkips.count), processSkip: Int64(processSkips.count),
            writeSkip: Int64(writeSkips.count))
        return (counts, page.readSkips + processSkips + writeSkips)
    }
}

/// What every page of one execution works with.
private struct PageSettings: Sendable {
    var limit: Int
    var skipPolicy: SkipPolicy
}

/// The page a thread works on, kept across retries of its transaction.
private struct PageInHand<Item> {
    /// The keys the page covers; nil until it is taken.
    var range: ClosedRange<Int64>?
    /// Whether its items were fetched and made (then a retry works on the same items).
    var isRead = false
    var items: [Item] = []
    var readSkips: [SkippedItem] = []
}

/// Thrown inside a page's transaction when no page is left: it rolls back an empty transaction.
private struct NoPageLeft: Error {}

/// A repository session opened on the step's thread for another thread, which alone uses it.
private final class SessionHandoff: @unchecked Sendable {
    // Sendable rule: the session is stored before the thread that takes it starts (Thread.start
    // orders the two), and from then on only that thread touches it.
    private var session: (any JobRepositorySession)?

    init(_ session: any JobRepositorySession) {
        self.session = session
    }

    func take() -> (any JobRepositorySession)? {
        defer { session = nil }
        return session
    }
}
