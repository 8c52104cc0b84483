import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient

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
