import Batch
import BatchPostgres
import PostgresClient
import Synchronization

/// A switch a test flips to make one item fail, and flips back to "fix the data".
final class PoisonSwitch: Sendable {
    private let poisoned = Mutex<Int64?>(nil)
    func poison(_ item: Int64?) { poisoned.withLock { $0 = item } }
    func isPoisoned(_ item: Int64) -> Bool { poisoned.withLock { $0 == item } }
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
final class NumberWriter: ItemWriter {
    func write(_ items: [Int64], in chunk: ChunkContext) throws {
        try chunk.postgresConnection().copyFrom("COPY engine_out (n) FROM STDIN") { writer in
            for item in items { try writer.writeRow(item) }
        }
    }
}

enum EngineTestJobs {
    /// prepare (tasklet: creates engine_out) -> load (chunk: 1...count through the processor).
    static func numbers(count: Int64, commitInterval: Int, poison: PoisonSwitch) -> Job {
        Job("numbers", parameters: [.required("batch", .string), .optional("note", .string, identifying: false)]) {
            TaskletStep("prepare") { _, chunk in
                try chunk.postgresConnection().execute("CREATE TABLE IF NOT EXISTS engine_out (n bigint PRIMARY KEY)")
                return .finished
            }
            ChunkStep("load", commitInterval: commitInterval) { _ in
                (NumberReader(count: count), CheckingProcessor(poison: poison), NumberWriter())
            }
        }
    }
}
