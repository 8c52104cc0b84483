import Batch
import Foundation
import Logging
import Synchronization

/// Runs readers and writers under the real ``ChunkStep``, one step execution per `run`, on a
/// repository session (the in-memory repository unless a test gives another, e.g. PostgreSQL's
/// for its readers and writers), so chunks commit, roll back and restart as in a job.
///
/// A run after a failed or stopped one resumes from the checkpoint its last committed chunk
/// saved, as a job's restart does. Synchronous: call it from a thread of its own in async tests
/// when the session blocks (PostgreSQL's).
public final class ChunkHarness {
    /// The failure a test injects.
    public struct Crash: Error, CustomStringConvertible {
        public var description: String { "the test's injected crash" }
    }

    /// Where in a chunk the injected crash strikes (the chunk then rolls back, the step fails).
    public enum Failure: Sendable {
        /// In chunk n, after the writer's update (its output is on disk) but before the commit.
        case afterUpdate(chunk: Int)
        /// In chunk n, after the write but before any update.
        case afterWrite(chunk: Int)
    }

    public let session: any JobRepositorySession
    private let jobName = "chunk-harness-\(UUID().uuidString)"
    private let parameters: JobParameters
    private var last: StepExecution?

    /// A job of its own in `session` (default: a fresh in-memory repository); each run is an
    /// execution of it, a restart of the one before (so a run after one that completed is
    /// refused, as a launch of a completed instance is).
    public init(session: (any JobRepositorySession)? = nil, parameters: JobParameters = JobParameters()) throws {
        self.session = try session ?? InMemoryJobRepository().openSession()
        self.parameters = parameters
    }

    /// The context the last committed chunk saved (empty before any run).
    public var saved: ExecutionContext {
        get throws {
            guard let last else { return ExecutionContext() }
            return try session.stepExecutions(jobExecutionID: last.jobExecutionID).first { $0.id == last.id }?.context
                ?? ExecutionContext()
        }
    }

    /// The step execution of the last run, as the repository has it.
    public var lastExecution: StepExecution? {
        get throws {
            guard let last else { return nil }
            return try session.stepExecutions(jobExecutionID: last.jobExecutionID).first { $0.id == last.id }
        }
    }

    /// Runs a ``ChunkStep`` over `reader`, `process` and `writer` until the reader is exhausted,
    /// `failure` strikes, or `stopAfter` chunks committed in this run. `afterEachCommit` runs
    /// after each chunk's commit, before the next chunk reads.
    ///
    /// - Returns: true when the reader was exhausted (the step COMPLETED).
    /// - Throws: what failed the step (``Crash`` for the injected failure).
    @discardableResult
    public func run<Reader: ItemReader, Writer: ItemWriter>(
        _ reader: Reader, _ writer: Writer, commitInterval: Int, skipPolicy: SkipPolicy = .never,
        failure: Failure? = nil, stopAfter: Int? = nil, afterEachCommit: (@Sendable () -> Void)? = nil,
        process: @escaping (Reader.Item) throws -> Writer.Item?
    ) throws -> Bool where Reader: SendableMetatype, Writer: SendableMetatype {
        let components = Unchecked((reader, ClosureProcessor(body: process), CrashingWriter(base: writer, failure: failure)))
        let step = ChunkStep("harness", commitInterval: commitInterval, skipPolicy: skipPolicy) { _ in components.value }
        // A launch of the job: a restart after a failed or stopped run (a new job execution, as
        // a step runs once per job execution), from the last run's checkpoint.
        var jobExecution = try session.createJobExecution(
            jobName: jobName, parameters: parameters, restartable: true, launcher: .current()
        ).get().execution
        jobExecution.status = .started
        try session.update(&jobExecution)
        var resumeFrom = ExecutionContext()
        if let previous = try lastExecution, previous.status != .completed { resumeFrom = previous.context }
        var execution = try session.createStepExecution(
            jobExecutionID: jobExecution.id, stepName: "harness", context: resumeFrom)
        last = execution
        execution.status = .started
        execution.startTime = Date()
        try session.update(&execution)
        var interruption: (@Sendable () -> Bool)?
        if stopAfter != nil || afterEachCommit != nil {
            // Asked after every commit of this run.
            let commits = Unchecked(Mutex(0))
            interruption = {
                afterEachCommit?()
                return commits.value.withLock { count in
                    count += 1
                    return stopAfter.map { count >= $0 } ?? false
                }
            }
        }
        let scope = StepScope(
            session: session, jobExecution: jobExecution, logger: Logger(label: "chunk-harness"),
            stepContext: execution.context, interruption: interruption)
        var failure: (any Error)?
        do {
            try step.run(&execution, in: scope)
        } catch {
            failure = error
            execution.status = .failed
            execution.exitStatus = .failed.adding(description: "\(error)")
        }
        execution.endTime = Date()
        try session.update(&execution)
        last = execution
        jobExecution.status = execution.status
        jobExecution.exitStatus = execution.exitStatus
        jobExecution.endTime = Date()
        try session.update(&jobExecution)
        if let failure { throw failure }
        return execution.status == .completed
    }

    /// A chunk context for calling a reader or writer directly, outside any step.
    public static func chunk(_ transaction: any StepTransaction = NoTransaction()) -> ChunkContext {
        ChunkContext(transaction: transaction, stepName: "test", parameters: JobParameters(), stepContext: [:])
    }

    /// Reads everything the reader has left.
    public static func readAll<Reader: ItemReader>(_ reader: Reader, in chunk: ChunkContext = chunk()) throws -> [Reader.Item] {
        var items: [Reader.Item] = []
        while let item = try reader.read(in: chunk) { items.append(item) }
        return items
    }
}

/// The transaction of a reader or writer called outside any step.
public final class NoTransaction: StepTransaction {
    public init() {}
}

/// A value the harness hands to the step's `@Sendable` component factory: the step runs on
/// the harness's calling thread, so it never crosses threads.
private final class Unchecked<Value: ~Copyable>: @unchecked Sendable {
    let value: Value
    init(_ value: consuming Value) { self.value = value }
}

private struct ClosureProcessor<Input, Output>: ItemProcessor {
    let body: (Input) throws -> Output?
    func process(_ item: Input) throws -> Output? { try body(item) }
}

/// The test's writer, crashing where the test says; chunks are counted by the updates.
private final class CrashingWriter<Base: ItemWriter>: ItemWriter {
    let base: Base
    let failure: ChunkHarness.Failure?
    private var updates = 0

    init(base: Base, failure: ChunkHarness.Failure?) {
        self.base = base
        self.failure = failure
    }

    func open(_ context: ExecutionContext) throws { try base.open(context) }
    func close() throws { try base.close() }

    func write(_ items: [Base.Item], in chunk: ChunkContext) throws {
        try base.write(items, in: chunk)
        if case .afterWrite(updates + 1) = failure { throw ChunkHarness.Crash() }
    }

    func update(_ context: inout ExecutionContext) throws {
        try base.update(&context)
        updates += 1
        if case .afterUpdate(updates) = failure { throw ChunkHarness.Crash() }
    }
}

/// Hands out `items` in order, checkpointing how many it handed out (`array.next`).
public final class ArrayReader<Item>: ItemReader {
    private let items: [Item]
    private var next = 0

    public init(_ items: [Item]) {
        self.items = items
    }

    public func open(_ context: ExecutionContext) throws { next = Int(context.int("array.next") ?? 0) }
    public func update(_ context: inout ExecutionContext) throws { context["array.next"] = .int(Int64(next)) }

    public func read(in chunk: ChunkContext) throws -> Item? {
        guard next < items.count else { return nil }
        defer { next += 1 }
        return items[next]
    }
}
