import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient

extension ChunkHarness {
    /// A harness whose chunks are PostgreSQL transactions on `connection` (whose database gets
    /// the repository's schema), so what a reader or writer does commits with the checkpoint.
    static func onPostgres(_ connection: PostgresConnection) throws -> ChunkHarness {
        _ = try SchemaMigrations.migrate(on: connection)
        return try ChunkHarness(session: PostgresJobRepositorySession(connection: connection))
    }

    /// A chunk context over `connection`, for calling a reader or writer directly.
    static func chunk(_ connection: PostgresConnection) -> ChunkContext {
        chunk(PostgresStepTransaction(connection: connection))
    }

    /// Reads everything the reader has left, over `connection`.
    static func readAll<Reader: ItemReader>(_ reader: Reader, _ connection: PostgresConnection) throws -> [Reader.Item] {
        try readAll(reader, in: chunk(connection))
    }
}

/// A source row.
struct Row: Equatable {
    var id: Int64
    var name: String?
}
