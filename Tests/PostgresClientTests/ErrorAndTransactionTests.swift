import BatchTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Errors and transactions", .timeLimit(.minutes(2)))
struct ErrorAndTransactionTests {
    @Test func serverErrorsCarrySQLState() async throws {
        try await TestDatabase.withConnection { db, _ in
            let syntax = #expect(throws: PostgresError.self) { try db.execute("SELEC 1") }
            #expect(syntax?.sqlState == .syntaxError)
            #expect(syntax?.kind == .server)
            #expect(syntax?.isConnectionLost == false)

            let missing = #expect(throws: PostgresError.self) { try db.query("SELECT * FROM nowhere") }
            #expect(missing?.sqlState == "42P01")

            try db.execute("CREATE TABLE t (id bigint CONSTRAINT t_pk PRIMARY KEY)")
            try db.execute("INSERT INTO t VALUES (1)")
            let duplicate = #expect(throws: PostgresError.self) { try db.execute("INSERT INTO t VALUES (\(Int64(1)))") }
            #expect(duplicate?.sqlState == .uniqueViolation)
            #expect(duplicate?.constraint == "t_pk")
            #expect(duplicate?.detail?.contains("(id)=(1)") == true)
            #expect(duplicate?.debugDescription.contains("INSERT INTO t") == true)
            // The session is still usable after an error.
            #expect(try db.query("SELECT count(*) FROM t").single().decode(Int64.self, column: 0) == 1)
        }
    }

    @Test func connectionErrorsNeverPrintThePassword() async throws {
        try await onDedicatedThread {
            let url = "postgres://batch:s3cret-pa55@127.0.0.1:1/none?connect_timeout=2"
            let error = #expect(throws: PostgresError.self) { try PostgresConnection(connectionString: url) }
            #expect(error?.kind == .connectionFailed)
            #expect(error?.isConnectionLost == true)
            #expect(error.map { "\($0)" }?.contains("s3cret") == false)
            #expect(error.map { String(reflecting: $0) }?.contains("s3cret") == false)
            #expect(ConnectionString.redacted(url).contains("s3cret") == false)
            #expect(ConnectionString.redacted(url).contains("127.0.0.1"))

            // The key file's passphrase too, whichever form names it.
            for withKey in [
                "postgres://batch@127.0.0.1:1/none?connect_timeout=2&sslmode=require&sslpassword=s3cret-key&password=s3cret-pa55",
                "host=127.0.0.1 port=1 dbname=none connect_timeout=2 sslpassword='s3cret-key' password=s3cret-pa55",
            ] {
                let failed = #expect(throws: PostgresError.self) { try PostgresConnection(connectionString: withKey) }
                #expect(failed.map { String(reflecting: $0) }?.contains("s3cret") == false)
                #expect(ConnectionString.redacted(withKey).contains("s3cret") == false)
                #expect(ConnectionString.redacted(withKey).contains("sslpassword='********'"))
            }

            let malformed = #expect(throws: PostgresError.self) { try ConnectionString("postgres://a:s3cret@host/x?no_such_option=1") }
            #expect(malformed?.message.contains("no_such_option") == true)
            #expect(malformed.map { String(reflecting: $0) }?.contains("s3cret") == false)
        }
    }

    @Test func transactionsCommitOrRollBack() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            try db.withTransaction { try $0.execute("INSERT INTO t VALUES (1)") }

            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.withTransaction { tx in
                    try tx.execute("INSERT INTO t VALUES (2)")
                    throw Boom()
                }
            }
            // A statement that failed inside, with its error swallowed: COMMIT must not pretend.
            let swallowed = #expect(throws: PostgresTransactionError.self) {
                try db.withTransaction { tx in
                    try tx.execute("INSERT INTO t VALUES (3)")
                    _ = try? tx.execute("INSERT INTO t VALUES (1)")
                }
            }
            #expect(swallowed?.phase == .commit)
            let ids = try db.query("SELECT id FROM t ORDER BY id").map { try $0.decode(Int64.self, column: 0) }
            #expect(ids == [1])
        }
    }

    @Test func aDeferredTransactionBeginsOnlyWhenItsConnectionIsUsed() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE d (id bigint PRIMARY KEY, xid bigint)")
            // SAVEPOINT works only inside a transaction block.
            func inTransaction(_ c: PostgresConnection) -> Bool { (try? c.execute("SAVEPOINT probe")) != nil }
            // Untouched: no BEGIN; the final statement runs, and commits, on its own.
            let untouched = try db.withDeferredTransaction { tx in
                try tx.finalStatementConnection.execute("INSERT INTO d VALUES (1, txid_current())")
                return tx.hasBegun
            }
            #expect(untouched == false)

            // Used: BEGIN first; what ran and the final statement commit as one transaction.
            try db.withDeferredTransaction { tx in
                try tx.connection.execute("INSERT INTO d VALUES (2, txid_current())")
                #expect(tx.hasBegun && inTransaction(db))
                try tx.finalStatementConnection.execute("INSERT INTO d VALUES (3, txid_current())")
            }
            let xids = try db.query("SELECT id, xid FROM d ORDER BY id").map { try $0.decode((Int64, Int64).self) }
            #expect(xids.map(\.0) == [1, 2, 3])
            #expect(xids[1].1 == xids[2].1 && xids[0].1 != xids[1].1)

            // Used, then failed: rolled back, and the connection is out of the transaction.
            struct Boom: Error {}
            #expect(throws: Boom.self) {
                try db.withDeferredTransaction { tx in
                    try tx.connection.execute("INSERT INTO d VALUES (4, 0)")
                    throw Boom()
                }
            }
            #expect(try db.query("SELECT count(*) FROM d WHERE id = 4").single().decode(Int64.self, column: 0) == 0)
            #expect(inTransaction(db) == false)
        }
    }

    @Test func serializationFailuresAreTransient() async throws {
        try await TestDatabase.withConnection { first, url in
            try first.execute("CREATE TABLE c (id int PRIMARY KEY, n int)")
            try first.execute("INSERT INTO c VALUES (1, 0)")
            let second = try PostgresConnection(connectionString: url)
            defer { second.close() }
            try first.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            _ = try first.query("SELECT n FROM c WHERE id = 1")
            try second.execute("UPDATE c SET n = n + 1 WHERE id = 1")
            let conflict = #expect(throws: PostgresError.self) { try first.execute("UPDATE c SET n = n + 1 WHERE id = 1") }
            #expect(conflict?.sqlState == .serializationFailure)
            #expect(conflict?.isTransient == true)
            try first.execute("ROLLBACK")
        }
    }
}
