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

    /// A statement prepared for the first time is parsed in the same round trip as its first
    /// execution; the statement outlives a transaction that rolls back, and one whose Parse an
    /// earlier failure skipped is prepared again at its next use.
    @Test func aStatementIsPreparedInTheRoundTripOfItsFirstUse() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            var before = db.roundTrips
            #expect(try db.query("SELECT count(*) FROM t WHERE id > \(Int64(0))", prepared: true).single().decode(Int64.self, column: 0) == 0)
            #expect(db.roundTrips - before == 1)
            before = db.roundTrips
            _ = try db.query("SELECT count(*) FROM t WHERE id > \(Int64(0))", prepared: true)
            #expect(db.roundTrips - before == 1)

            // Prepared inside a transaction that rolls back: still there after.
            struct Abandon: Error {}
            #expect(throws: Abandon.self) {
                try db.withTransaction { tx in
                    try tx.execute("INSERT INTO t VALUES (\(Int64(1)))", prepared: true)
                    throw Abandon()
                }
            }
            try db.execute("INSERT INTO t VALUES (\(Int64(2)))", prepared: true)

            // Its Parse skipped: a queued statement before it failed. Its next use prepares it.
            #expect(throws: PostgresError.self) {
                try db.withTransaction { tx in
                    try tx.queue("INSERT INTO t VALUES (\(Int64(2)))")
                    _ = try tx.query("SELECT max(id) FROM t WHERE id < \(Int64(100))", prepared: true)
                }
            }
            #expect(try db.query("SELECT max(id) FROM t WHERE id < \(Int64(100))", prepared: true).single().decode(Int64.self, column: 0) == 2)

            // A statement the server cannot parse: its error, and the session goes on.
            let refused = #expect(throws: PostgresError.self) { try db.execute("SELEC 1", prepared: true) }
            #expect(refused?.sqlState?.rawValue == "42601")
            #expect(throws: PostgresError.self) { try db.execute("SELEC 1", prepared: true) }
            #expect(try db.query("SELECT 7", prepared: true).single().decode(Int32.self, column: 0) == 7)
        }
    }
}
