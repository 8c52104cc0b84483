import BatchTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Statements queued in a transaction and queries sent ahead", .timeLimit(.minutes(2)))
struct QueuedStatementTests {
    static func count(_ db: PostgresConnection, _ table: String = "t") throws -> Int64 {
        try db.query("SELECT count(*) FROM \(identifier: table)").single().decode(Int64.self, column: 0)
    }

    @Test func aQueuedStatementNeedsATransactionAndGoesWithTheFinalStatement() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            let outside = #expect(throws: PostgresError.self) { try db.queue("INSERT INTO t VALUES (1)") }
            #expect(outside?.kind == .usage)
            #expect(try Self.count(db) == 0)

            try db.withDeferredTransaction { transaction in
                try transaction.connection.queue("INSERT INTO t VALUES (\(Int64(1)))")
                try transaction.connection.queue("INSERT INTO t VALUES (\(Int64(2)))")
                try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (3)")
            }
            #expect(try Self.count(db) == 3)
            #expect(!db.isInTransaction)

            // A queued statement the server refuses fails the statement that carries it, with
            // its own error, and nothing of the transaction commits.
            let refused = #expect(throws: PostgresError.self) {
                try db.withDeferredTransaction { transaction in
                    try transaction.connection.queue("INSERT INTO t VALUES (\(Int64(4)))")
                    try transaction.connection.queue("INSERT INTO t VALUES (\(Int64(1)))")
                    try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (5)")
                }
            }
            #expect(refused?.sqlState == .uniqueViolation)
            #expect(try Self.count(db) == 3)
            #expect(!db.isInTransaction)

            // Rolled back before anything went out: the queued statements are dropped unsent.
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.withTransaction { tx in
                    try tx.queue("INSERT INTO t VALUES (\(Int64(6)))")
                    throw Boom()
                }
            }
            try db.execute("INSERT INTO t VALUES (7)")
            #expect(try Self.count(db) == 4)
        }
    }

    @Test func anArrayInsertWritesWhatCopyWrites() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.unsafeExecuteScript("""
                CREATE TYPE mood AS ENUM ('calm', 'odd "one"');
                CREATE TABLE via_copy (id bigint, label text, amount numeric(12,2), day date, flag boolean,
                                       at timestamptz, mood mood, note varchar(40), fixed text DEFAULT 'kept');
                CREATE TABLE via_insert (LIKE via_copy INCLUDING DEFAULTS)
                """)
            let labels = [
                "plain", "comma, and {braces}", "quote \" and back\\slash", "tab\tnew\nline", "NULL", "", "ünï 🎉",
            ]
            let columns = ["id", "label", "amount", "day", "flag", "at", "mood", "note"]
            func encode(_ row: inout PostgresCopyWriter) throws {
                for (index, label) in labels.enumerated() {
                    row.appendField(Int64(index))
                    row.appendField(label)
                    row.appendField("\(index).25")
                    row.appendField("2026-12-0\(index + 1)")
                    row.appendField(index % 2 == 0)
                    row.appendField(Date(timeIntervalSince1970: 1_800_000_000 + Double(index) * 0.000_001))
                    row.appendField(index == 3 ? "odd \"one\"" : "calm")
                    if index == 4 { row.appendNull() } else { row.appendField(label) }
                    try row.endRow()
                }
            }
            try db.withTransaction { tx in
                try tx.copyFrom("COPY via_copy (id, label, amount, day, flag, at, mood, note) FROM STDIN", encode)
            }
            let types = try db.columnTypes(of: "via_insert", columns: columns)
            #expect(types == ["bigint", "text", "numeric(12,2)", "date", "boolean", "timestamp with time zone", "mood", "character varying(40)"])
            let insert = PostgresArrayInsert(table: "via_insert", columns: columns, types: types)
            let queued = try db.withTransaction { tx in try tx.queueInsert(insert, encode) }
            #expect(queued == labels.count)

            let difference = try db.query("""
                SELECT count(*) FROM ((TABLE via_copy EXCEPT ALL TABLE via_insert) UNION ALL (TABLE via_insert EXCEPT ALL TABLE via_copy)) d
                """).single().decode(Int64.self, column: 0)
            #expect(difference == 0)
            #expect(try Self.count(db, "via_insert") == Int64(labels.count))
            #expect(try db.query("SELECT count(*) FROM via_insert WHERE note IS NULL AND fixed = 'kept'").single().decode(Int64.self, column: 0) == 1)
        }
    }

    @Test func anArrayInsertRefusesBadRowsAndTablesItCannotWrite() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint, tags text[])")
            #expect(throws: ArrayInsertUnsuitable.self) { try db.columnTypes(of: "t", columns: ["id", "tags"]) }
            let missing = #expect(throws: PostgresError.self) { try db.columnTypes(of: "t", columns: ["id", "nope"]) }
            #expect(missing?.message.contains("\"nope\"") == true)

            let insert = PostgresArrayInsert(table: "t", columns: ["id"], types: ["bigint"])
            let short = #expect(throws: PostgresError.self) {
                try db.withTransaction { tx in
                    try tx.queueInsert(insert) { row in
                        row.appendField(Int64(1))
                        row.appendField(Int64(2))
                        try row.endRow()
                    }
                }
            }
            #expect(short?.message.contains("row 1 has 2 fields, but the insert has 1 columns") == true)
            let nul = #expect(throws: PostgresError.self) {
                try db.withTransaction { tx in
                    try tx.queueInsert(PostgresArrayInsert(table: "t", columns: ["tags"], types: ["text"])) { row in
                        row.appendField("a\u{0}b")
                        try row.endRow()
                    }
                }
            }
            #expect(nul?.message.contains("U+0000") == true)
            #expect(try Self.count(db) == 0)
        }
    }

    @Test func aQuerySentAheadGoesWithTheNextCommitAndNeverHarmsTheTransaction() async throws {
        try await TestDatabase.withConnection { db, url in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            let other = try PostgresConnection(connectionString: url)
            defer { other.close() }

            // Sent ahead, it travels after the transaction's final statement (and COMMIT): it
            // sees the row committed with it, and not one committed after that round trip.
            let ahead = db.prefetch("SELECT count(*) FROM t", prepared: true)
            try db.withDeferredTransaction { transaction in
                try transaction.connection.queue("INSERT INTO t VALUES (\(Int64(1)))")
                try transaction.finalStatementConnection.execute("INSERT INTO t VALUES (2)")
            }
            try other.execute("INSERT INTO t VALUES (3)")
            #expect(try db.result(of: ahead).single().decode(Int64.self, column: 0) == 2)

            // Inside an open transaction it waits: one that fails must not abort the
            // transaction. It then runs when asked for, and its error shows there.
            let failing = db.prefetch("SELECT 1 / (SELECT count(*) - count(*) FROM t)")
            try db.withTransaction { tx in
                try tx.execute("INSERT INTO t VALUES (4)")
                try tx.execute("INSERT INTO t VALUES (5)")
            }
            #expect(try Self.count(db) == 5)
            let division = #expect(throws: PostgresError.self) { try db.result(of: failing) }
            #expect(division?.sqlState?.rawValue == "22012")

            // Never sent (withdrawn): asked for anyway, it runs then.
            let withdrawn = db.prefetch("SELECT count(*) FROM t")
            db.cancel(withdrawn)
            try db.execute("INSERT INTO t VALUES (6)")
            #expect(try db.result(of: withdrawn).single().decode(Int64.self, column: 0) == 6)
            #expect(db.fastestRoundTrip != nil)
        }
    }

    /// A COPY the server refuses at its end (a duplicate key) leaves the session ready for the
    /// transaction's ROLLBACK, even when a query sent ahead makes it go out in a pipeline: the
    /// COPY's error is the one reported, and the session is outside any transaction after.
    @Test func aRefusedCopyRollsBackCleanlyWithAQuerySentAhead() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            try db.execute("INSERT INTO t VALUES (1)")
            for _ in 0..<2 {
                let ahead = db.prefetch("SELECT count(*) FROM t", prepared: true)
                let refused = #expect(throws: PostgresError.self) {
                    try db.withTransaction { tx in
                        try tx.copyFrom("COPY t (id) FROM STDIN") { writer in
                            for id in [Int64(2), 1] { try writer.writeRow(id) }
                        }
                    }
                }
                #expect(refused?.sqlState?.rawValue == "23505", "\(String(describing: refused))")
                #expect(!db.isInTransaction)
                #expect(try db.result(of: ahead).single().decode(Int64.self, column: 0) == 1)
                #expect(try Self.count(db) == 1)
            }
            // A COPY refused at its start (no such table) likewise.
            let ahead = db.prefetch("SELECT count(*) FROM t", prepared: true)
            #expect(throws: PostgresError.self) {
                try db.withTransaction { tx in
                    try tx.copyFrom("COPY missing_table (id) FROM STDIN") { writer in try writer.writeRow(Int64(1)) }
                }
            }
            #expect(!db.isInTransaction)
            #expect(try db.result(of: ahead).single().decode(Int64.self, column: 0) == 1)
        }
    }
}
