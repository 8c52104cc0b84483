import BatchTestSupport
import PostgresClient
import Testing

@Suite("COPY and streaming", .timeLimit(.minutes(3)))
struct BulkAndStreamingTests {
    @Test func copyFromWritesEveryRowExactly() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE out (id bigint PRIMARY KEY, memo text, amount numeric, flag boolean, note text)")
            let rows = 100_000
            let stored = try db.copyFrom("COPY out (id, memo, amount, flag, note) FROM STDIN") { writer in
                for id in 1...rows {
                    let memo = id % 1000 == 0 ? "tab\there\\back\nline\r" : "payment \(id)"
                    writer.appendField(Int64(id))
                    writer.appendField(memo)
                    writer.appendField(Int64(id) * 3)
                    writer.appendField(id % 2 == 0)
                    writer.appendField(id % 3 == 0 ? nil : "n\(id)")
                    try writer.endRow()
                }
            }
            #expect(stored == rows)
            let totals = try db.query(
                "SELECT count(*), sum(id), count(*) FILTER (WHERE flag), count(note), sum(amount) FROM out"
            ).single()
            #expect(try totals.decode((Int64, Int64, Int64, Int64, Int64).self)
                == (Int64(rows), Int64(rows * (rows + 1) / 2), Int64(rows / 2), Int64(rows - rows / 3), Int64(3 * rows * (rows + 1) / 2)))
            let special = try db.query("SELECT memo FROM out WHERE id = 5000").single().decode(String.self, column: 0)
            #expect(special == "tab\there\\back\nline\r")
        }
    }

    @Test func failedCopyKeepsNothingAndTheSessionWorks() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE out (id bigint PRIMARY KEY)")
            struct Stop: Error {}
            #expect(throws: Stop.self) {
                try db.copyFrom("COPY out FROM STDIN") { writer in
                    for id in 1...10_000 { try writer.writeRow(Int64(id)) }
                    throw Stop()
                }
            }
            // A row the server refuses (duplicate key) fails the whole COPY with its SQLSTATE.
            let duplicate = #expect(throws: PostgresError.self) {
                try db.copyFrom("COPY out FROM STDIN") { writer in
                    try writer.writeRow(Int64(1))
                    try writer.writeRow(Int64(1))
                }
            }
            #expect(duplicate?.sqlState == .uniqueViolation)
            #expect(try db.query("SELECT count(*) FROM out").single().decode(Int64.self, column: 0) == 0)
            let notCopy = #expect(throws: PostgresError.self) { try db.copyFrom("SELECT 1") { _ in } }
            #expect(notCopy?.kind == .usage)
            #expect(try db.query("SELECT 1").single().decode(Int.self, column: 0) == 1)
        }
    }

    @Test func streamingHandsOverOneRowAtATime() async throws {
        try await TestDatabase.withConnection { db, _ in
            var count = 0
            var sum: Int64 = 0
            let total = try db.stream("SELECT g, repeat('x', 100) FROM generate_series(1, \(Int64(1_000_000))) g") { row in
                sum += try row.decode(Int64.self, column: 0)
                count += 1
            }
            #expect(total == 1_000_000)
            #expect(count == 1_000_000)
            #expect(sum == 500_000_500_000)
        }
    }

    @Test func stoppingAStreamEarlyLeavesTheSessionUsable() async throws {
        try await TestDatabase.withConnection { db, _ in
            struct Enough: Error {}
            var seen = 0
            #expect(throws: Enough.self) {
                try db.stream("SELECT g FROM generate_series(1, 2000000) g") { _ in
                    seen += 1
                    if seen == 10 { throw Enough() }
                }
            }
            #expect(seen == 10)
            let answer = try db.query("SELECT 42").single().decode(Int.self, column: 0)
            #expect(answer == 42)
            let bad = #expect(throws: PostgresError.self) { try db.stream("SELECT 1/0") { _ in } }
            #expect(bad?.sqlState == "22012")
        }
    }

    @Test func preparedStatementsAreReused() async throws {
        try await TestDatabase.withConnection { db, _ in
            for value: Int64 in 1...50 {
                #expect(try db.query("SELECT \(value) * 2", prepared: true).single().decode(Int64.self, column: 0) == value * 2)
            }
            let prepared = try db.query("SELECT count(*) FROM pg_prepared_statements").single().decode(Int64.self, column: 0)
            #expect(prepared == 1)
        }
    }
}
