import BatchTestSupport
import PostgresClient

extension WorkerFaultTests.Cluster {
    /// The rows of `query`, decoded on a connection's own thread and handed back, so that the
    /// test's expectations run on its own task (an #expect on another thread is not counted
    /// against the test that made it).
    func rows<each T: PostgresDecodable & Sendable>(
        _ query: PostgresQuery, as types: (repeat each T).Type
    ) async throws -> [(repeat each T)] {
        try await self.query { db in try db.query(query).map { try $0.decode(types) } }
    }

    /// The one row of `query`.
    func row<each T: PostgresDecodable & Sendable>(
        _ query: PostgresQuery, as types: (repeat each T).Type
    ) async throws -> (repeat each T) {
        try await self.query { db in try db.query(query).single().decode(types) }
    }

    /// Runs each statement as `url`'s user and returns the SQLSTATE each failed with (nil: it
    /// succeeded).
    static func sqlStates(_ statements: [String], as url: String) async throws -> [SQLState?] {
        try await onDedicatedThread {
            let db = try PostgresConnection(connectionString: url)
            defer { db.close() }
            return statements.map { statement in
                do {
                    try db.execute(PostgresQuery(unsafeSQL: statement))
                    return nil
                } catch let error as PostgresError {
                    return error.sqlState ?? "?????"
                } catch {
                    return "?????"
                }
            }
        }
    }
}
