import Batch
import BatchTestSupport
import Synchronization

/// The output table of the in-memory engine tests: rows appear when the chunk that wrote them
/// commits (``InMemoryStepTransaction/onCommit(_:)``), never otherwise.
final class OutputTable: Sendable {
    private let rows = Mutex<[Int64]>([])

    var values: [Int64] { rows.withLock { $0 } }
    func clear() { rows.withLock { $0 = [] } }
    func append(_ items: [Int64]) { rows.withLock { $0 += items } }

    /// Rows, distinct rows, and their sum.
    var check: (count: Int64, distinct: Int64, sum: Int64) {
        let values = self.values
        return (Int64(values.count), Int64(Set(values).count), values.reduce(0, +))
    }
}

/// What the writer refuses, as a database's constraint would.
struct RefusedItem: Error, CustomStringConvertible {
    var item: Int64
    var description: String { "item \(item) is refused by the output" }
}

/// Writes numbers into an ``OutputTable`` with the chunk; refuses the numbers in `refused`.
class NumberWriter: ItemWriter {
    let table: OutputTable
    let refused: Set<Int64>

    init(_ table: OutputTable, refusing refused: Set<Int64> = []) {
        self.table = table
        self.refused = refused
    }

    func write(_ items: [Int64], in chunk: ChunkContext) throws {
        if let bad = items.first(where: refused.contains) { throw RefusedItem(item: bad) }
        let table = self.table
        try chunk.inMemoryTransaction().onCommit { table.append(items) }
    }
}

/// Fails once, transiently, when asked to write a chunk holding `item`.
final class HiccupWriter: NumberWriter, @unchecked Sendable {
    // Only used on the step's thread.
    private var failed = false
    private let item: Int64
    init(_ table: OutputTable, item: Int64) {
        self.item = item
        super.init(table)
    }
    override func write(_ items: [Int64], in chunk: ChunkContext) throws {
        if !failed && items.contains(item) {
            failed = true
            throw Hiccup()
        }
        try super.write(items, in: chunk)
    }
}

/// An in-memory repository, a launcher on it, and the output table its jobs write to.
struct Engine {
    let repository = InMemoryJobRepository()
    let output = OutputTable()
    var launcher: JobLauncher { JobLauncher(repository: repository) }

    func steps(_ jobExecutionID: Int64) throws -> [StepExecution] {
        try repository.openSession().stepExecutions(jobExecutionID: jobExecutionID)
    }

    func outputCheck() throws -> (count: Int64, distinct: Int64, sum: Int64) { output.check }

    /// Asks a running execution to stop, as an operator would from another session.
    func requestStop(_ jobExecutionID: Int64) throws -> BatchStatus? {
        try repository.openSession().requestStop(jobExecutionID: jobExecutionID)
    }

    /// The newest execution of the job.
    func newestExecution(_ jobName: String) -> JobExecution? {
        repository.jobExecutions(jobName: jobName).last
    }

    /// The skips recorded for a job execution, as `phase key: reason`.
    func skipped(_ jobExecutionID: Int64) -> [String] {
        repository.skippedItems(jobExecutionID: jobExecutionID).map { "\($0.phase.rawValue) \($0.itemKey): \($0.reason)" }
    }
}

enum EngineTestJobs {
    /// prepare (tasklet) -> load (chunk: 1...count through the processor into `output`).
    static func numbers(
        count: Int64, commitInterval: Int, poison: PoisonSwitch, output: OutputTable, skipPolicy: SkipPolicy = .never,
        refuse7777: Bool = false, writer: (@Sendable () -> NumberWriter)? = nil
    ) -> Job {
        Job("numbers", parameters: [.required("batch", .string), .optional("note", .string, identifying: false)]) {
            TaskletStep("prepare") { _, _ in .finished }
            ChunkStep("load", commitInterval: commitInterval, skipPolicy: skipPolicy) { _ in
                (NumberReader(count: count), CheckingProcessor(poison: poison),
                 writer?() ?? NumberWriter(output, refusing: refuse7777 ? [7777] : []))
            }
        }
    }
}
