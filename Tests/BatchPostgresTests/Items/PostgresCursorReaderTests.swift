import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

@Suite("PostgreSQL cursor reader", .timeLimit(.minutes(2)))
struct PostgresCursorReaderTests {
    static func reader(_ connection: PostgresConnection, fetchSize: Int = 6) -> PostgresCursorReader<Row> {
        let step: Int64 = 2
        return PostgresCursorReader(
            connection: connection,
            query: "SELECT id, name FROM source WHERE id % \(step) = 0 ORDER BY id",
            fetchSize: fetchSize, name: "evens"
        ) { row in
            let (id, name) = try row.decode((Int64, String?).self)
            return Row(id: id, name: name)
        }
    }

    static func insertWriter() -> PostgresInsertItemWriter<Row> {
        PostgresInsertItemWriter(table: "copied", columns: ["id", "name"]) { row, values in
            values.append(row.id)
            values.append(row.name)
        }
    }

    @Test func failingMidwayAndRestartingLosesAndRepeatsNothing() async throws {
        try await TestDatabase.withConnection { db, url in
            try db.execute("CREATE TABLE source (id bigint PRIMARY KEY, name text)")
            try db.execute("INSERT INTO source SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 503) g")
            try db.execute("CREATE TABLE copied (id bigint PRIMARY KEY, name text)")
            let harness = try ChunkHarness.onPostgres(db)
            let cursorConnection = try PostgresConnection(connectionString: url)
            defer { cursorConnection.close() }

            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(Self.reader(cursorConnection), Self.insertWriter(), commitInterval: 10, failure: .afterUpdate(chunk: 4)) { $0 }
            }
            #expect(try harness.saved == ["evens.read_count": 30])
            #expect(!(try harness.run(Self.reader(cursorConnection), Self.insertWriter(), commitInterval: 10, stopAfter: 2) { $0 }))
            #expect(try harness.run(Self.reader(cursorConnection), Self.insertWriter(), commitInterval: 10) { $0 })

            let same = try db.query("""
                SELECT count(*), count(*) FILTER (WHERE c.name IS NOT DISTINCT FROM s.name)
                FROM (SELECT * FROM source WHERE id % 2 = 0) s FULL JOIN copied c USING (id)
                """).single().decode((Int64, Int64).self)
            #expect(same == (251, 251))
            #expect(try harness.saved == ["evens.read_count": 251])
            // Every cursor was closed; the connection is idle and reusable.
            #expect(try cursorConnection.query("SELECT count(*) FROM pg_cursors WHERE name = 'swiftbatch.evens'").single().decode(Int64.self, column: 0) == 0)
        }
    }

    /// A cursor held across transactions needs a server session of its own: through a
    /// transaction-mode pooler the reader refuses at open, naming the keyset reader.
    @Test func aConnectionThroughATransactionPoolerIsRefused() async throws {
        try await TestDatabase.withConnection { db, url in
            try db.execute("CREATE TABLE source (id bigint PRIMARY KEY, name text)")
            let pooled = try PostgresConnection(connectionString: url, pooling: .transaction)
            defer { pooled.close() }
            let refused = #expect(throws: PostgresError.self) { try Self.reader(pooled).open(ExecutionContext()) }
            #expect(refused?.kind == .usage)
            #expect(refused?.message.contains("PostgresKeysetReader") == true)
            // The same connection works for single statements, with no session state.
            #expect(try pooled.query("SELECT count(*) FROM source", prepared: true).single().decode(Int64.self, column: 0) == 0)
            let listen = #expect(throws: PostgresError.self) { try pooled.listen("anything") }
            #expect(listen?.kind == .usage)
        }
    }

    @Test func aRestartPastTheEndOfChangedInputIsRefused() async throws {
        try await TestDatabase.withConnection { db, url in
            try db.execute("CREATE TABLE source (id bigint PRIMARY KEY, name text)")
            try db.execute("INSERT INTO source SELECT g, NULL FROM generate_series(1, 20) g")
            let connection = try PostgresConnection(connectionString: url)
            defer { connection.close() }

            let exact = Self.reader(connection, fetchSize: 5)
            try exact.open(["evens.read_count": 10])
            #expect(try exact.read(in: ChunkHarness.chunk(db)) == nil)
            try exact.close()

            let resumed = Self.reader(connection, fetchSize: 5)
            try resumed.open(["evens.read_count": 7])
            #expect(try ChunkHarness.readAll(resumed, db).map(\.id) == [16, 18, 20])
            try resumed.close()

            let error = #expect(throws: ItemStreamError.self) {
                try Self.reader(connection).open(["evens.read_count": 11])
            }
            #expect(error?.code == .badCheckpoint)
            #expect(error?.description.contains("returns 10 rows, but the last run had read 11") == true)
        }
    }
}

@Suite("PostgreSQL cursor reader through the step's connection", .timeLimit(.minutes(2)))
struct PostgresStepCursorReaderTests {
    static func reader(fetchSize: Int = 6) -> PostgresCursorReader<Row> {
        let step: Int64 = 2
        return PostgresCursorReader(
            query: "SELECT id, name FROM source WHERE id % \(step) = 0 ORDER BY id", fetchSize: fetchSize, name: "evens"
        ) { row in
            let (id, name) = try row.decode((Int64, String?).self)
            return Row(id: id, name: name)
        }
    }

    @Test func failingMidwayAndRestartingLosesAndRepeatsNothing() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE source (id bigint PRIMARY KEY, name text)")
            try db.execute("INSERT INTO source SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'n' || g END FROM generate_series(1, 503) g")
            try db.execute("CREATE TABLE copied (id bigint PRIMARY KEY, name text)")
            let harness = try ChunkHarness.onPostgres(db)

            // The crash rolls back chunk 4 (and, had it declared the cursor, the cursor with it).
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(Self.reader(), PostgresCursorReaderTests.insertWriter(), commitInterval: 10, failure: .afterUpdate(chunk: 4)) { $0 }
            }
            #expect(try harness.saved == ["evens.read_count": 30])
            #expect(!(try harness.run(Self.reader(), PostgresCursorReaderTests.insertWriter(), commitInterval: 10, stopAfter: 2) { $0 }))
            #expect(try harness.saved == ["evens.read_count": 50])
            #expect(try harness.run(Self.reader(fetchSize: 7), PostgresCursorReaderTests.insertWriter(), commitInterval: 10) { $0 })

            let same = try db.query("""
                SELECT count(*), count(*) FILTER (WHERE c.name IS NOT DISTINCT FROM s.name)
                FROM (SELECT * FROM source WHERE id % 2 = 0) s FULL JOIN copied c USING (id)
                """).single().decode((Int64, Int64).self)
            #expect(same == (251, 251))
            // The step closed its cursor; the connection is left as it was.
            #expect(try db.query("SELECT count(*) FROM pg_cursors WHERE name LIKE 'swiftbatch.%'").single().decode(Int64.self, column: 0) == 0)
        }
    }

    @Test func aCursorLostWithItsChunkFailsTheReadAndALeftoverOneIsReplaced() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE source (id bigint PRIMARY KEY, name text)")
            try db.execute("INSERT INTO source SELECT g, NULL FROM generate_series(1, 40) g")
            // Declared inside a transaction that rolls back: gone at the next fetch.
            let reader = Self.reader(fetchSize: 4)
            try reader.open([:])
            try db.execute("BEGIN")
            #expect(try reader.read(in: ChunkHarness.chunk(db))?.id == 2)
            try db.execute("ROLLBACK")
            for _ in 0..<3 { _ = try reader.read(in: ChunkHarness.chunk(db)) }
            let lost = #expect(throws: ItemStreamError.self) { try reader.read(in: ChunkHarness.chunk(db)) }
            #expect(lost?.description.contains("the cursor is gone") == true)

            // One left declared by an earlier run (never closed) is replaced, not an error.
            try db.execute("DECLARE \"swiftbatch.evens\" NO SCROLL CURSOR WITH HOLD FOR SELECT 1")
            let again = Self.reader(fetchSize: 4)
            try again.open(["evens.read_count": 17])
            #expect(try ChunkHarness.readAll(again, db).map(\.id) == [36, 38, 40])
            try again.close()
            #expect(try db.query("SELECT count(*) FROM pg_cursors WHERE name LIKE 'swiftbatch.%'").single().decode(Int64.self, column: 0) == 0)
        }
    }
}
