import Batch
import BatchPostgres
import PostgresClient
import Synchronization

/// A switch a test flips to make one item fail, and flips back to "fix the data".
final class PoisonSwitch: Sendable {
    private let poisoned = Mutex<Set<Int64>>([])
    func poison(_ items: Int64...) { poisoned.withLock { $0 = Set(items) } }
    func cure() { poisoned.withLock { $0 = [] } }
    func isPoisoned(_ item: Int64) -> Bool { poisoned.withLock { $0.contains(item) } }
}

struct PoisonedItem: Error, CustomStringConvertible {
    var item: Int64
    var description: String { "item \(item) is poisoned" }
}

/// Hands out 1...count, checkpointing the next number to read.
final class NumberReader: ItemReader {
    let count: Int64
    private var next: Int64 = 1
    init(count: Int64) { self.count = count }
    func open(_ context: ExecutionContext) throws { next = context.int("numbers.next") ?? 1 }
    func update(_ context: inout ExecutionContext) throws { context["numbers.next"] = .int(next) }
    func read(in chunk: ChunkContext) throws -> Int64? {
        guard next <= count else { return nil }
        defer { next += 1 }
        return next
    }
}

/// Filters multiples of ten; throws on the poisoned item.
struct CheckingProcessor: ItemProcessor {
    let poison: PoisonSwitch
    func process(_ item: Int64) throws -> Int64? {
        if poison.isPoisoned(item) { throw PoisonedItem(item: item) }
        return item % 10 == 0 ? nil : item
    }
}

/// COPYs numbers into `engine_out` through the chunk's transaction.
class NumberWriter: ItemWriter {
    func write(_ items: [Int64], in chunk: ChunkContext) throws {
        try chunk.postgresConnection().copyFrom("COPY engine_out (n) FROM STDIN") { writer in
            for item in items { try writer.writeRow(item) }
        }
    }
}

enum EngineTestJobs {
    /// prepare (tasklet: creates engine_out) -> load (chunk: 1...count through the processor).
    static func numbers(
        count: Int64, commitInterval: Int, poison: PoisonSwitch, skipPolicy: SkipPolicy = .never,
        refuse7777: Bool = false, writer: @escaping @Sendable () -> NumberWriter = { NumberWriter() }
    ) -> Job {
        Job("numbers", parameters: [.required("batch", .string), .optional("note", .string, identifying: false)]) {
            TaskletStep("prepare") { _, chunk in
                // With refuse7777, the CHECK gives the writer a record the database refuses.
                try chunk.postgresConnection().execute(
                    "CREATE TABLE IF NOT EXISTS engine_out (n bigint PRIMARY KEY CHECK (n <> 7777 OR \(unsafeRaw: refuse7777 ? "false" : "true")))")
                return .finished
            }
            ChunkStep("load", commitInterval: commitInterval, skipPolicy: skipPolicy) { _ in
                (NumberReader(count: count), CheckingProcessor(poison: poison), writer())
            }
        }
    }
}

struct Hiccup: TransientFailure, CustomStringConvertible {
    var isTransient: Bool { true }
    var description: String { "a transient hiccup" }
}

/// Fails once, transiently, when asked to write a chunk holding `item`.
final class HiccupWriter: NumberWriter, @unchecked Sendable {
    // Only used on the step's thread.
    private var failed = false
    private let item: Int64
    init(item: Int64) { self.item = item }
    override func write(_ items: [Int64], in chunk: ChunkContext) throws {
        if !failed && items.contains(item) {
            failed = true
            throw Hiccup()
        }
        try super.write(items, in: chunk)
    }
}
