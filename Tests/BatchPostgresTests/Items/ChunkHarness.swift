import Batch
import BatchPostgres
import PostgresClient

/// Drives a reader and a writer chunk by chunk the way the step engine does: one transaction
/// per chunk holding the writes and the step's context (kept in `test_step_context`), so a
/// chunk that fails leaves neither its rows nor its checkpoint.
enum ChunkHarness {
    /// The failure a test injects.
    struct Crash: Error {}

    static func createContextTable(_ connection: PostgresConnection) throws {
        try connection.execute("CREATE TABLE test_step_context (id int PRIMARY KEY, context text NOT NULL)")
        try connection.execute("INSERT INTO test_step_context VALUES (1, '{}')")
    }

    /// The context of the last committed chunk.
    static func savedContext(_ connection: PostgresConnection) throws -> ExecutionContext {
        let text = try connection.query("SELECT context FROM test_step_context WHERE id = 1").single()
            .decode(String.self, column: 0)
        return try ExecutionContext(jsonText: text)
    }

    /// Runs from the saved context until the reader is exhausted, chunk `failIn` throws after its
    /// writes and updates (so it rolls back), or `stopAfter` chunks committed.
    ///
    /// - Returns: true when the reader was exhausted.
    @discardableResult
    static func run<Reader: ItemReader, Writer: ItemWriter>(
        _ connection: PostgresConnection, _ reader: Reader, _ writer: Writer, commitInterval: Int,
        failIn: Int? = nil, stopAfter: Int? = nil, process: (Reader.Item) throws -> Writer.Item
    ) throws -> Bool {
        let start = try savedContext(connection)
        try reader.open(start)
        try writer.open(start)
        defer {
            try? reader.close()
            try? writer.close()
        }
        var number = 0
        while true {
            number += 1
            let exhausted = try connection.withTransaction { connection in
                let saved = try savedContext(connection)
                let chunk = ChunkContext(
                    transaction: PostgresStepTransaction(connection: connection), stepName: "test",
                    parameters: JobParameters(), stepContext: saved)
                var items: [Writer.Item] = []
                var exhausted = false
                while items.count < commitInterval {
                    guard let item = try reader.read(in: chunk) else {
                        exhausted = true
                        break
                    }
                    items.append(try process(item))
                }
                if !items.isEmpty { try writer.write(items, in: chunk) }
                var context = saved
                try reader.update(&context)
                try writer.update(&context)
                try connection.execute("UPDATE test_step_context SET context = \(context.jsonText) WHERE id = 1")
                if number == failIn { throw Crash() }
                return exhausted
            }
            if exhausted { return true }
            if let stopAfter, number >= stopAfter { return false }
        }
    }

    /// A chunk context over `connection`, for calling a reader or writer directly.
    static func chunk(_ connection: PostgresConnection) -> ChunkContext {
        ChunkContext(
            transaction: PostgresStepTransaction(connection: connection), stepName: "test",
            parameters: JobParameters(), stepContext: [:])
    }

    /// Reads everything the reader has left.
    static func readAll<Reader: ItemReader>(_ reader: Reader, _ connection: PostgresConnection) throws -> [Reader.Item] {
        let chunk = chunk(connection)
        var items: [Reader.Item] = []
        while let item = try reader.read(in: chunk) { items.append(item) }
        return items
    }
}

/// A source row.
struct Row: Equatable {
    var id: Int64
    var name: String?
}
