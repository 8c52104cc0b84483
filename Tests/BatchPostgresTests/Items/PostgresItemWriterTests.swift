import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

@Suite("PostgreSQL COPY and INSERT writers", .timeLimit(.minutes(2)))
struct PostgresItemWriterTests {
    static func count(_ db: PostgresConnection, _ table: String) throws -> Int64 {
        try db.query("SELECT count(*) FROM \(identifier: table)").single().decode(Int64.self, column: 0)
    }

    /// Both ways of the COPY writer (a COPY, or an INSERT queued with the chunk's commit) store
    /// the same rows, keep nothing of a failed chunk, and fail on the same bad row.
    @Test(arguments: [PostgresBulkWriteMode.copy, .pipelinedInsert])
    func copyWritesEveryValueAndARollbackKeepsNothing(mode: PostgresBulkWriteMode) async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE SCHEMA out")
            try db.execute("CREATE TABLE out.\"Payments\" (id bigint PRIMARY KEY, memo text, amount numeric, created timestamptz DEFAULT now())")
            let writer = PostgresCopyItemWriter<Row>(table: "Payments", schema: "out", columns: ["id", "memo", "amount"], mode: mode) { row, copy in
                copy.appendField(row.id)
                copy.appendField(row.name)
                copy.appendField(row.id * 100)
            }
            let rows = (1...2500).map { Row(id: Int64($0), name: $0 % 9 == 0 ? nil : "tab\t\\ \($0)\nline") }
            // A chunk that fails after its write keeps nothing of it.
            #expect(throws: ChunkHarness.Crash.self) {
                try ChunkHarness.onPostgres(db).run(ArrayReader(rows), writer, commitInterval: 2500, failure: .afterWrite(chunk: 1)) { $0 }
            }
            #expect(try db.query("SELECT count(*) FROM out.\"Payments\"").single().decode(Int64.self, column: 0) == 0)

            let harness = try ChunkHarness.onPostgres(db)
            #expect(try harness.run(ArrayReader(rows), writer, commitInterval: 1000) { $0 })
            #expect(try harness.lastExecution?.counts == StepCounts(read: 2500, write: 2500, commit: 3))
            let stored = try db.query("""
                SELECT count(*), count(memo), sum(amount)::bigint, count(*) FILTER (WHERE memo = 'tab' || chr(9) || '\\ 1' || chr(10) || 'line')
                FROM out."Payments"
                """).single().decode((Int64, Int64, Int64, Int64).self)
            #expect(stored == (2500, 2500 - 277, 100 * 2500 * 2501 / 2, 1))

            let duplicate = #expect(throws: PostgresError.self) {
                try ChunkHarness.onPostgres(db).run(ArrayReader([Row(id: 1, name: nil)]), writer, commitInterval: 10) { $0 }
            }
            #expect(duplicate?.sqlState == .uniqueViolation)

            // With a skip policy the chunk is written again item by item: only the bad row is
            // skipped, whichever way rows go.
            let skipping = try ChunkHarness.onPostgres(db)
            let batch = [Row(id: 3000, name: "a"), Row(id: 5, name: "dup"), Row(id: 3001, name: "b")]
            #expect(try skipping.run(ArrayReader(batch), writer, commitInterval: 10, skipPolicy: SkipPolicy(limit: 5) { ($0 as? PostgresError)?.sqlState == .uniqueViolation }) { $0 })
            #expect(try skipping.lastExecution?.counts.writeSkip == 1)
            #expect(try Self.count(db, "Payments", schema: "out") == 2502)
        }
    }

    /// The automatic mode COPYs over a connection whose round trip is under its threshold and
    /// queues the array INSERT over a slower one. A rule tells them apart: COPY fires none.
    @Test func automaticModeChoosesByTheConnectionsRoundTrip() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE t (id bigint PRIMARY KEY)")
            try db.execute("CREATE TABLE via_insert (id bigint)")
            try db.execute("CREATE RULE seen AS ON INSERT TO t DO ALSO INSERT INTO via_insert VALUES (NEW.id)")
            func writer(_ threshold: Duration) -> PostgresCopyItemWriter<Int64> {
                PostgresCopyItemWriter(table: "t", columns: ["id"], mode: .automatic(threshold: threshold)) { id, row in
                    row.appendField(id)
                }
            }
            // No connection has a round trip of a minute: COPY.
            #expect(try ChunkHarness.onPostgres(db).run(ArrayReader(Array(Int64(1)...10)), writer(.seconds(60)), commitInterval: 5) { $0 })
            #expect(try Self.count(db, "t") == 10)
            #expect(try Self.count(db, "via_insert") == 0)
            // Every connection has one of at least zero: the INSERT, queued with the commit.
            #expect(try ChunkHarness.onPostgres(db).run(ArrayReader(Array(Int64(11)...20)), writer(.zero), commitInterval: 5) { $0 })
            #expect(try Self.count(db, "t") == 20)
            #expect(try Self.count(db, "via_insert") == 10)
        }
    }

    static func count(_ db: PostgresConnection, _ table: String, schema: String) throws -> Int64 {
        try db.query("SELECT count(*) FROM \(identifier: schema).\(identifier: table)").single().decode(Int64.self, column: 0)
    }

    @Test func insertSplitsLargeChunksAndARollbackKeepsNothing() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE wide (id bigint PRIMARY KEY, a text, b bigint)")
            let writer = PostgresInsertItemWriter<Int64>(table: "wide", columns: ["id", "a", "b"]) { id, values in
                values.append(id)
                values.append(id % 4 == 0 ? nil : "a\(id)")
                values.append(-id)
            }
            // 50000 rows x 3 columns: three statements of at most 21845 rows.
            let ids = Array(Int64(1)...50_000)
            #expect(throws: ChunkHarness.Crash.self) {
                try ChunkHarness.onPostgres(db).run(ArrayReader(ids), writer, commitInterval: 50_000, failure: .afterWrite(chunk: 1)) { $0 }
            }
            #expect(try Self.count(db, "wide") == 0)

            let harness = try ChunkHarness.onPostgres(db)
            #expect(try harness.run(ArrayReader(ids), writer, commitInterval: 30_000) { $0 })
            #expect(try harness.lastExecution?.counts == StepCounts(read: 50_000, write: 50_000, commit: 2))
            let stored = try db.query("SELECT count(*), count(a), sum(b) FROM wide").single().decode((Int64, Int64, Int64).self)
            #expect(stored == (50_000, 37_500, -50_000 * 50_001 / 2))
        }
    }

    @Test func insertSuffixesAndEncodeMistakes() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE kv (k bigint PRIMARY KEY, v text NOT NULL)")
            try db.execute("INSERT INTO kv VALUES (1, 'old'), (2, 'old')")
            func writer(_ suffix: PostgresInsertSuffix) -> PostgresInsertItemWriter<(Int64, String)> {
                PostgresInsertItemWriter(table: "kv", columns: ["k", "v"], suffix: suffix) { item, values in
                    values.append(item.0)
                    values.append(item.1)
                }
            }
            func write(_ items: [(Int64, String)], _ writer: PostgresInsertItemWriter<(Int64, String)>) throws {
                try ChunkHarness.onPostgres(db).run(ArrayReader(items), writer, commitInterval: 10) { $0 }
            }
            let items: [(Int64, String)] = [(1, "new"), (3, "new")]
            let conflict = #expect(throws: PostgresError.self) {
                try write(items, writer(.none))
            }
            #expect(conflict?.sqlState == .uniqueViolation)
            try write(items, writer(.onConflictDoNothing))
            #expect(try db.query("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM kv").single().decode(String.self, column: 0)
                == "1=old,2=old,3=new")
            let upsert = writer(.unsafeSQL("ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v"))
            try write([(2, "newer"), (4, "newer")], upsert)
            try write([(2, "newest"), (5, "newest")], upsert)
            #expect(try db.query("SELECT string_agg(k || '=' || v, ',' ORDER BY k) FROM kv").single().decode(String.self, column: 0)
                == "1=old,2=newest,3=new,4=newer,5=newest")

            let short = PostgresInsertItemWriter<Int64>(table: "kv", columns: ["k", "v"]) { id, values in values.append(id) }
            let mistake = #expect(throws: PostgresError.self) {
                try ChunkHarness.onPostgres(db).run(ArrayReader([Int64(9)]), short, commitInterval: 10) { $0 }
            }
            #expect(mistake?.kind == .usage)
            #expect(mistake?.message.contains("bound 1 values for an item, but it writes 2 columns") == true)
        }
    }
}
