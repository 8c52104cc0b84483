import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

/// The keyset reader over keys of every kind: each test table has its key columns and a
/// `label` (the key as text), and the reader must hand out the labels in the database's own key
/// order, once each, across a failure and restart.
@Suite("PostgreSQL keyset reader over keys of any kind", .timeLimit(.minutes(2)))
struct TypedKeysetReaderTests {
    /// A source table per kind of key: the CREATE, the INSERT (filling `label`), the key columns.
    struct Source: CustomTestStringConvertible, Sendable {
        var kind: String
        var create: String
        var insert: String
        var keys: [String]
        var testDescription: String { kind }
    }

    static let sources: [Source] = [
        Source(
            kind: "text", create: "k text COLLATE \"C\" PRIMARY KEY",
            insert: """
                SELECT md5(g::text) || CASE WHEN g % 3 = 0 THEN ' Zürich' ELSE '' END FROM generate_series(1, 200) g
                UNION ALL VALUES (''), (' '), ('a'), ('A'), ('é'), ('ä b'), (E'line\\nbreak'), ('"quoted"')
                """, keys: ["k"]),
        Source(
            kind: "varchar with the database's collation", create: "k varchar(40) PRIMARY KEY",
            insert: "SELECT 'Name ' || g || CASE WHEN g % 2 = 0 THEN 'b' ELSE 'B' END FROM generate_series(1, 150) g",
            keys: ["k"]),
        Source(
            kind: "uuid", create: "k uuid PRIMARY KEY",
            insert: "SELECT md5(g::text)::uuid FROM generate_series(1, 200) g", keys: ["k"]),
        Source(
            kind: "date", create: "k date PRIMARY KEY",
            insert: "SELECT DATE '1999-12-01' + g * 3 FROM generate_series(-100, 100) g", keys: ["k"]),
        Source(
            kind: "timestamp", create: "k timestamp PRIMARY KEY",
            // Microseconds apart, and a leap day.
            insert: "SELECT TIMESTAMP '2028-02-29 23:59:59.999' + interval '1 microsecond' * (g * 10 + g % 7) FROM generate_series(1, 200) g",
            keys: ["k"]),
        Source(
            kind: "timestamptz", create: "k timestamptz PRIMARY KEY",
            insert: "SELECT TIMESTAMPTZ '2026-03-29 00:59:59.999990+00' + g * interval '1 microsecond' FROM generate_series(1, 200) g",
            keys: ["k"]),
        Source(
            kind: "numeric", create: "k numeric PRIMARY KEY",
            // Keys that differ only past the 38th significant digit, and negative ones.
            insert: """
                SELECT 12345678901234567890.123456789012345678900000 + g * 0.000000000000000000000000000001 FROM generate_series(1, 100) g
                UNION ALL SELECT -g / 7.0 FROM generate_series(1, 100) g
                """, keys: ["k"]),
        Source(
            kind: "int4", create: "k integer PRIMARY KEY",
            insert: "SELECT g * 17 - 1000 FROM generate_series(1, 200) g", keys: ["k"]),
        Source(
            kind: "composite (date, text)", create: "day date NOT NULL, name text NOT NULL, PRIMARY KEY (day, name)",
            insert: "SELECT DATE '2026-03-01' + g % 10, 'shop ' || (g * 7919 % 1000) FROM generate_series(1, 400) g",
            keys: ["day", "name"]),
    ]

    /// Creates `source` (`k`... and `label`); returns the labels in key order.
    static func create(_ source: Source, _ db: PostgresConnection) throws -> [String] {
        try db.execute(PostgresQuery(unsafeSQL: "CREATE TABLE source (\(source.create), label text)"))
        let columns = source.keys.map { "\"\($0)\"" }.joined(separator: ", ")
        try db.execute(PostgresQuery(unsafeSQL: "INSERT INTO source (\(columns)) \(source.insert)"))
        let label = source.keys.map { "\"\($0)\"::text" }.joined(separator: " || '|' || ")
        try db.execute(PostgresQuery(unsafeSQL: "UPDATE source SET label = \(label)"))
        try db.execute("ANALYZE source")
        return try db.query(PostgresQuery(unsafeSQL: "SELECT label FROM source ORDER BY \(columns)"))
            .map { try $0.decode(String.self, column: 0) }
    }

    static func reader(_ source: Source, range: KeyRange? = nil, pageSize: Int = 7) -> PostgresKeysetReader<String> {
        PostgresKeysetReader(table: "source", columns: ["label"], keyColumns: source.keys, range: range, pageSize: pageSize, name: "src") {
            try $0.decode(String.self, column: 0)
        }
    }

    static func writer() -> PostgresCopyItemWriter<String> {
        PostgresCopyItemWriter(table: "copied", columns: ["label"]) { label, row in row.appendField(label) }
    }

    @Test(arguments: sources)
    func readsInKeyOrderAndRestartsExactlyAfterTheLastCommittedKey(_ source: Source) async throws {
        try await TestDatabase.withConnection { db, _ in
            let ordered = try Self.create(source, db)
            let all = Self.reader(source)
            try all.open([:])
            #expect(try ChunkHarness.readAll(all, db) == ordered)

            try db.execute("CREATE TABLE copied (label text PRIMARY KEY, at serial)")
            let harness = try ChunkHarness.onPostgres(db)
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(Self.reader(source), Self.writer(), commitInterval: 10, failure: .afterUpdate(chunk: 4)) { $0 }
            }
            // The checkpoint holds the 30th key exactly, in its own type.
            let saved = try #require(try harness.saved["src.last_key"])
            let thirtieth = try db.query(PostgresQuery(unsafeSQL: """
                SELECT \(source.keys.map { "\"\($0)\"::text" }.joined(separator: ", ")) FROM source WHERE label = $1
                """, bindings: { var b = PostgresBindings(); b.append(ordered[29]); return b }())).single()
            let key = try #require(RowKey(json: saved))
            #expect(try key.values.map(\.text) == (0..<source.keys.count).map { try thirtieth.decode(String.self, column: $0) })
            #expect(!(try harness.run(Self.reader(source), Self.writer(), commitInterval: 10, stopAfter: 2) { $0 }))
            #expect(try harness.run(Self.reader(source), Self.writer(), commitInterval: 10) { $0 })

            // Every row once (the primary key refuses a second), in key order.
            let copied = try db.query("SELECT label FROM copied ORDER BY at").map { try $0.decode(String.self, column: 0) }
            #expect(copied == ordered)
        }
    }

    static let composite = sources.last!

    @Test func rangesWithPrefixBoundsAndRangesOfFullKeys() async throws {
        try await TestDatabase.withConnection { db, _ in
            let ordered = try Self.create(Self.composite, db)
            func read(_ range: KeyRange, resumeAfter saved: ExecutionContext = [:]) throws -> [String] {
                let reader = Self.reader(Self.composite, range: range, pageSize: 5)
                try reader.open(saved)
                return try ChunkHarness.readAll(reader, db)
            }
            let week = try read(KeyRange(from: [.date("2026-03-03")], below: [.date("2026-03-05")]))
            #expect(week == ordered.filter { $0.hasPrefix("2026-03-03|") || $0.hasPrefix("2026-03-04|") })
            let fromMiddle = try read(KeyRange(from: [.date("2026-03-03"), .text("shop 5")], below: [.date("2026-03-04"), .text("shop 5")]))
            #expect(fromMiddle == ordered.filter { $0 >= "2026-03-03|shop 5" && $0 < "2026-03-04|shop 5" })
            #expect(try read(KeyRange(below: [.date("2026-03-02")])) == ordered.filter { $0.hasPrefix("2026-03-01|") })
            #expect(try read(KeyRange(from: [.date("2026-04-01")])).isEmpty)
            // A restart inside a range goes on after the saved key.
            let saved: ExecutionContext = ["src.last_key": RowKey([.date("2026-03-03"), .text(String(week[9].dropFirst(11)))]).json]
            #expect(try read(KeyRange(from: [.date("2026-03-03")], below: [.date("2026-03-05")]), resumeAfter: saved) == Array(week.dropFirst(10)))

            let tooLong = #expect(throws: ItemStreamError.self) {
                try Self.reader(Self.composite, range: KeyRange(from: [.date("2026-03-03"), .text("a"), .text("b")])).open([:])
            }
            #expect(tooLong?.code == .badCheckpoint)
            let badSaved = #expect(throws: ItemStreamError.self) { try Self.reader(Self.composite).open(["src.last_key": 7]) }
            #expect(badSaved?.description.contains("not a key of the 2 columns day, name") == true)
        }
    }

    @Test func everyPageOfACompositeKeyIsAnIndexScan() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE source (day date NOT NULL, name text NOT NULL, label text, PRIMARY KEY (day, name))")
            try db.execute("""
                INSERT INTO source SELECT DATE '2026-01-01' + g % 100, 'n' || g, 'x' || g FROM generate_series(1, 30000) g
                """)
            try db.execute("ANALYZE source")
            func scans() throws -> (sequential: Int64, index: Int64) {
                _ = try db.query("SELECT pg_stat_force_next_flush()")
                _ = try db.query("SELECT pg_stat_clear_snapshot()")
                return try db.query("SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE relname = 'source'")
                    .single().decode((Int64, Int64).self)
            }
            let before = try scans()
            let reader = Self.reader(Self.composite, range: KeyRange(from: [.date("2026-01-11")]), pageSize: 250)
            try reader.open([:])
            #expect(try ChunkHarness.readAll(reader, db).count == 27_000)
            let after = try scans()
            #expect(after.sequential == before.sequential, "a page scanned the whole table")
            #expect(after.index - before.index >= 108, "\(before) -> \(after)")
        }
    }

    @Test func anyQueryReadsByKeyThroughTheStepsConnection() async throws {
        try await TestDatabase.withConnection { db, _ in
            let ordered = try Self.create(Self.composite, db)
            try db.execute("CREATE TABLE shops (name text PRIMARY KEY, region text NOT NULL)")
            try db.execute("INSERT INTO shops SELECT DISTINCT name, CASE WHEN length(name) % 2 = 0 THEN 'north' ELSE 'south' END FROM source")
            let region = "north"
            func reader() -> PostgresKeysetReader<String> {
                PostgresKeysetReader(
                    query: "SELECT s.day, s.name, s.label, h.region FROM source s JOIN shops h USING (name) WHERE h.region = \(region)",
                    keyColumns: ["day", "name"], pageSize: 6, name: "joined"
                ) { row in try row.decode(String.self, column: 2) + " " + row.decode(String.self, column: 3) }
            }
            let north = try db.query("""
                SELECT label FROM source s JOIN shops h USING (name) WHERE region = 'north' ORDER BY day, name
                """).map { try $0.decode(String.self, column: 0) + " north" }
            #expect(!north.isEmpty && north.count < ordered.count)

            try db.execute("CREATE TABLE copied (label text PRIMARY KEY, at serial)")
            let harness = try ChunkHarness.onPostgres(db)
            #expect(throws: ChunkHarness.Crash.self) {
                try harness.run(reader(), Self.writer(), commitInterval: 8, failure: .afterWrite(chunk: 3)) { $0 }
            }
            #expect(try harness.run(reader(), Self.writer(), commitInterval: 8) { $0 })
            #expect(try db.query("SELECT label FROM copied ORDER BY at").map { try $0.decode(String.self, column: 0) } == north)

            let missing = PostgresKeysetReader<String>(query: "SELECT day FROM source", keyColumns: ["Day"]) { _ in "" }
            try missing.open([:])
            let error = #expect(throws: ItemStreamError.self) { try missing.read(in: ChunkHarness.chunk(db)) }
            #expect(error?.code == .badKey)
            #expect(error?.description.contains(#"key columns "Day" are not all columns of the query: column "Day" does not exist"#) == true,
                "\(error?.description ?? "")")
        }
    }

    @Test func emptyInputsNullKeysAndDuplicateKeys() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE source (day date NOT NULL, name text, label text)")
            let empty = Self.reader(Self.composite)
            try empty.open([:])
            #expect(try empty.read(in: ChunkHarness.chunk(db)) == nil)
            var context = ExecutionContext()
            try empty.update(&context)
            #expect(context.isEmpty)

            // A NULL in a nullable key column is refused at the first read, wherever the row is.
            try db.execute("INSERT INTO source SELECT DATE '2026-03-01' + g, 'n' || g, 'x' FROM generate_series(1, 50) g")
            try db.execute("INSERT INTO source VALUES (DATE '2026-03-10', NULL, 'null name')")
            let nulls = Self.reader(Self.composite)
            try nulls.open([:])
            let null = #expect(throws: ItemStreamError.self) { try nulls.read(in: ChunkHarness.chunk(db)) }
            #expect(null?.code == .badKey)
            #expect(null?.description.contains("NULL in key column name:") == true, "\(null?.description ?? "")")

            // A key that is not unique: twice within a page, or across a page boundary.
            try db.execute("DELETE FROM source WHERE name IS NULL")
            for (duplicate, pageSize) in [("n5", 20), ("n4", 4), ("n3", 3)] {
                try db.execute("INSERT INTO source VALUES (DATE '2026-03-01' + \(Int32(duplicate.dropFirst())!), \(duplicate), 'again')")
                let reader = Self.reader(Self.composite, pageSize: pageSize)
                try reader.open([:])
                let twice = #expect(throws: ItemStreamError.self) { try ChunkHarness.readAll(reader, db) }
                #expect(twice?.code == .badKey)
                let day = Int(duplicate.dropFirst())! + 1
                #expect(twice?.description.contains("two rows have the key (date 2026-03-0\(day), text \"\(duplicate)\")") == true,
                    "\(twice?.description ?? "")")
                try db.execute("DELETE FROM source WHERE label = 'again'")
            }
        }
    }
}
