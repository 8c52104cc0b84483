import BatchTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Pipelines: several statements in one round trip", .timeLimit(.minutes(2)))
struct PipelineTests {
    @Test func resultsComeBackInOrderAndAFailureStopsTheRest() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            let results = try db.pipeline([
                PipelinedStatement("INSERT INTO t VALUES (\(Int64(1))), (\(Int64(2)))"),
                PipelinedStatement("SELECT count(*) FROM t", prepared: true),
                PipelinedStatement("SELECT id FROM t WHERE id > \(Int64(1))"),
            ])
            #expect(results.count == 3)
            #expect(results[0].affectedRows == 2)
            #expect(try results[1].single().decode(Int64.self, column: 0) == 2)
            #expect(try results[2].single().decode(Int64.self, column: 0) == 2)

            // Outside a transaction block a pipeline is one implicit transaction: the duplicate
            // fails it, so neither insert stays and the statement after it does not run.
            let duplicate = #expect(throws: PostgresError.self) {
                try db.pipeline([
                    PipelinedStatement("INSERT INTO t VALUES (\(Int64(3)))"),
                    PipelinedStatement("INSERT INTO t VALUES (\(Int64(1)))"),
                    PipelinedStatement("INSERT INTO t VALUES (\(Int64(4)))"),
                ])
            }
            #expect(duplicate?.sqlState == .uniqueViolation)
            #expect(try db.query("SELECT array_agg(id ORDER BY id)::text FROM t").single().decode(String.self, column: 0) == "{1,2}")
        }
    }

    @Test func aTransactionsBeginGoesOutWithItsFirstStatementAndAnEmptyOneSendsNothing() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            // Nothing ran inside: no BEGIN or COMMIT reaches the server, and the session is
            // left outside any transaction block.
            try db.withTransaction { _ in }
            #expect(try Self.outsideAnyTransaction(db))

            let xids = try db.withTransaction { tx in
                try tx.execute("INSERT INTO t VALUES (1)")
                // Both statements see one transaction: BEGIN went out with the first.
                return (
                    try tx.query("SELECT txid_current()").single().decode(Int64.self, column: 0),
                    try tx.query("SELECT txid_current()").single().decode(Int64.self, column: 0))
            }
            #expect(xids.0 == xids.1)
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.withTransaction { tx in
                    try tx.execute("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 1)
        }
    }

    @Test func aFinalStatementThatFailsKeepsItsTransactionFromCommitting() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            try db.execute("INSERT INTO t VALUES (100)")
            // The final statement fails: the COMMIT sent with it must not commit the insert.
            let refused = #expect(throws: PostgresError.self) {
                try db.withDeferredTransaction { transaction in
                    try transaction.connection.execute("INSERT INTO t VALUES (1)")
                    try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (100)")
                }
            }
            #expect(refused?.sqlState == .uniqueViolation)
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 1)

            // It succeeds: one round trip commits both.
            try db.withDeferredTransaction { transaction in
                try transaction.connection.execute("INSERT INTO t VALUES (1)")
                try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (2)")
            }
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 3)
            // The session is outside any transaction block again.
            #expect(try Self.outsideAnyTransaction(db))

            // No transaction began: the final statement runs alone, atomic by itself.
            try db.withDeferredTransaction { transaction in
                try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (3)")
            }
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 4)
        }
    }

    /// Two statements in a row get two transaction ids only outside a transaction block.
    static func outsideAnyTransaction(_ db: PostgresConnection) throws -> Bool {
        let first = try db.query("SELECT txid_current()").single().decode(Int64.self, column: 0)
        return try db.query("SELECT txid_current()").single().decode(Int64.self, column: 0) != first
    }

    @Test func copyAfterAQueuedBeginStaysInTheTransaction() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.withTransaction { tx in
                    try tx.copyFrom("COPY t (id) FROM STDIN") { writer in try writer.writeRow(Int64(1)) }
                    throw Boom()
                }
            }
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 0)
        }
    }
}
