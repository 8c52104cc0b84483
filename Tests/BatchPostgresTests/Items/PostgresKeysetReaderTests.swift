import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Synchronization
import Testing

@Suite("PostgreSQL keyset reader", .timeLimit(.minutes(2)))
struct PostgresKeysetReaderTests {
    /// 1000 rows with ids 3, 6, ..., 3000 (gaps everywhere), names NULL for every 7th.
    static func createSource(_ db: PostgresConnection) throws {
        try db.execute("CREATE TABLE \"Source Rows\" (id bigint PRIMARY KEY, name text, flag boolean NOT NULL)")
        try db.execute("""
            INSERT INTO "Source Rows" SELECT g * 3, CASE WHEN g % 7 = 0 THEN NULL ELSE 'n' || g END, g % 2 = 0
            FROM generate_series(1, 1000) g
            """)
    }

    static func reader(
        keys: ClosedRange<Int64>? = nil, where condition: PostgresQuery? = nil, connection: PostgresConnection? = nil
    ) -> PostgresKeysetReader<Row> {
        PostgresKeysetReader(
            table: "Source Rows", columns: ["name", "id"], key: "id", keys: keys, where: condition, pageSize: 7,
            name: "source", connection: connection
        ) { row in
            Row(id: try row.decode(Int64.self, column: 1), name: try row.decode(String?.self, column: 0))
        }
    }

    static func copyWriter() -> PostgresCopyItemWriter<Row> {
        PostgresCopyItemWriter(table: "copied", columns: ["id", "name"]) { row, copy in
            copy.appendField(row.id)
            copy.appendField(row.name)
        }
    }

    @Test func failingMidwayAndRestartingLosesAndRepeatsNothing() async throws {
        try await TestDatabase.withConnection { db, _ in
            try Self.createSource(db)
            try db.execute("CREATE TABLE copied (id bigint PRIMARY KEY, name text)")
            let harness = try ChunkHarness.onPostgres(db)

            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(Self.reader(), Self.copyWriter(), commitInterval: 10, failure: .afterUpdate(chunk: 5)) { $0 }
            }
            #expect(try harness.saved == ["source.last_key": 120])
            #expect(try db.query("SELECT count(*) FROM copied").single().decode(Int64.self, column: 0) == 40)
            #expect(!(try harness.run(Self.reader(), Self.copyWriter(), commitInterval: 10, stopAfter: 3) { $0 }))
            #expect(try harness.saved == ["source.last_key": 210])
            #expect(try harness.run(Self.reader(), Self.copyWriter(), commitInterval: 10) { $0 })

            let same = try db.query("""
                SELECT count(*), count(*) FILTER (WHERE c.name IS NOT DISTINCT FROM s.name)
                FROM "Source Rows" s FULL JOIN copied c USING (id)
                """).single().decode((Int64, Int64).self)
            #expect(same == (1000, 1000))
            #expect(try harness.saved == ["source.last_key": 3000])
        }
    }

    /// The next page is read with the previous chunk's commit, in the same round trip: a row
    /// that appears inside it only after that commit is not seen (and a row that is there by
    /// then is, as with any keyset read).
    @Test func theNextPageIsReadWithTheChunksCommit() async throws {
        try await TestDatabase.withConnection { db, url in
            try db.execute("CREATE TABLE \"Source Rows\" (id bigint PRIMARY KEY, name text, flag boolean NOT NULL)")
            // Page 1 is 3..21 (7 rows); page 2 starts after 21 at 27: 24 is missing for now.
            try db.execute("INSERT INTO \"Source Rows\" SELECT g * 3, 'n', true FROM generate_series(1, 40) g WHERE g <> 8")
            try db.execute("CREATE TABLE copied (id bigint PRIMARY KEY, name text)")
            let other = LateInsert(try PostgresConnection(connectionString: url))
            defer { other.connection.close() }
            let harness = try ChunkHarness.onPostgres(db)
            #expect(try harness.run(Self.reader(), Self.copyWriter(), commitInterval: 7, afterEachCommit: {
                other.once { _ = try? $0.execute("INSERT INTO \"Source Rows\" VALUES (24, 'late', true)") }
            }) { $0 })
            #expect(other.done.withLock { $0 })
            let copied = try db.query("SELECT count(*), count(*) FILTER (WHERE id = 24) FROM copied").single().decode((Int64, Int64).self)
            #expect(copied == (39, 0))
        }
    }

    @Test func rangesConditionsAndASeparateConnection() async throws {
        try await TestDatabase.withConnection { db, url in
            try Self.createSource(db)
            let chunk = ChunkHarness.chunk(db)

            let partition = Self.reader(keys: 30...90)
            try partition.open([:])
            #expect(try ChunkHarness.readAll(partition, db).map(\.id) == Array(stride(from: 30, through: 90, by: 3)))

            let restarted = Self.reader(keys: 30...90)
            try restarted.open(["source.last_key": 60])
            #expect(try ChunkHarness.readAll(restarted, db).map(\.id) == Array(stride(from: 63, through: 90, by: 3)))

            let empty = Self.reader(keys: 3001...5000)
            try empty.open([:])
            #expect(try empty.read(in: chunk) == nil)
            var context = ExecutionContext()
            try empty.update(&context)
            #expect(context.isEmpty)

            let between = Self.reader(keys: 4...5)
            try between.open([:])
            #expect(try between.read(in: chunk) == nil)

            let minimum: Int64 = 12
            let filtered = Self.reader(where: "flag AND id >= \(minimum) AND name IS NOT NULL")
            try filtered.open([:])
            let ids = try ChunkHarness.readAll(filtered, db).map(\.id)
            #expect(ids.count == 1000 / 2 - 1000 / 14 - 1)
            #expect(ids.first == 12 && ids.allSatisfy { $0 % 6 == 0 && $0 % 42 != 0 })

            let source = try PostgresConnection(connectionString: url)
            defer { source.close() }
            try db.execute("BEGIN")
            try db.execute("DELETE FROM \"Source Rows\" WHERE id > 30")
            let outside = Self.reader(connection: source)
            try outside.open([:])
            #expect(try ChunkHarness.readAll(outside, db).count == 1000)  // the delete is not committed
            try db.execute("ROLLBACK")
        }
    }

    @Test func theWholeBigintRangeAndBadCheckpoints() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE extremes (k bigint PRIMARY KEY)")
            try db.execute("INSERT INTO extremes VALUES (\(Int64.min)), (-1), (0), (\(Int64.max))")
            func reader() -> PostgresKeysetReader<Int64> {
                PostgresKeysetReader(table: "extremes", schema: "public", columns: ["k"], key: "k", pageSize: 2) {
                    try $0.decode(Int64.self, column: 0)
                }
            }
            let all = reader()
            try all.open([:])
            #expect(try ChunkHarness.readAll(all, db) == [Int64.min, -1, 0, Int64.max])
            var context = ExecutionContext()
            try all.update(&context)
            #expect(context == ["keysetReader.last_key": .int(Int64.max)])

            let done = reader()
            try done.open(context)
            #expect(try done.read(in: ChunkHarness.chunk(db)) == nil)

            let bad = #expect(throws: ItemStreamError.self) { try reader().open(["keysetReader.last_key": "12"]) }
            #expect(bad?.code == .badCheckpoint)
            let unopened = #expect(throws: ItemStreamError.self) { try reader().read(in: ChunkHarness.chunk(db)) }
            #expect(unopened?.code == .notOpen)
        }
    }
}

/// A connection of another session, used once from the step's thread (after a commit).
private final class LateInsert: @unchecked Sendable {
    let connection: PostgresConnection
    let done = Mutex(false)
    init(_ connection: PostgresConnection) { self.connection = connection }

    func once(_ body: (PostgresConnection) -> Void) {
        guard done.withLock({ done in defer { done = true }; return !done }) else { return }
        body(connection)
    }
}
