import BatchTestSupport
import PostgresClient
import Testing

/// PostgreSQL text cannot hold U+0000, and libpq reads bound values as C strings: a value with a
/// NUL would arrive cut at it. It must be refused, naming the value, never stored shortened.
@Suite("Text holding U+0000 is refused, never cut", .timeLimit(.minutes(2)))
struct NULCharacterTests {
    @Test func aBoundValueWithANULIsRefusedNamingTheParameter() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TEMP TABLE memo (id bigint, note text)")
            let poisoned = "before\u{0}after"
            let error = try #require(throws: PostgresError.self) {
                try db.execute("INSERT INTO memo VALUES (\(Int64(1)), \(poisoned))")
            }
            #expect(error.kind == .usage)
            #expect(error.message.contains("parameter $2"))
            #expect(error.message.contains("U+0000"))
            #expect(error.message.contains("byte 6"))
            #expect(error.message.contains("PostgreSQL text cannot store"))
            #expect(error.message.contains("replace"))
            // Nothing was stored, not even "before"; the session is still usable.
            #expect(try db.query("SELECT count(*) FROM memo").single().decode(Int64.self, column: 0) == 0)

            // The same through a fragment spliced into a statement, prepared, and streamed.
            let condition: PostgresQuery.Fragment = "note = \(poisoned)"
            let spliced = try #require(throws: PostgresError.self) {
                try db.query("SELECT id FROM memo WHERE id = \(Int64(1)) AND \(condition)")
            }
            #expect(spliced.message.contains("parameter $2"))
            #expect(throws: PostgresError.self) {
                try db.query("SELECT \(poisoned)::text", prepared: true)
            }
            #expect(throws: PostgresError.self) {
                try db.stream("SELECT \(poisoned)::text") { _ in }
            }
            // Text without a NUL still binds exactly.
            try db.execute("INSERT INTO memo VALUES (\(Int64(2)), \("before\u{1}after"))")
            #expect(try db.query("SELECT note FROM memo").single().decode(String.self, column: 0) == "before\u{1}after")
        }
    }

    @Test func aCOPYRowWithANULIsRefusedNamingTheFieldAndRow() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TEMP TABLE memo (id bigint, note text)")
            let error = try #require(throws: PostgresError.self) {
                try db.copyFrom("COPY memo (id, note) FROM STDIN") { writer in
                    try writer.writeRow(Int64(1), "fine")
                    try writer.writeRow(Int64(2), "cut\u{0}here")
                }
            }
            #expect(error.kind == .usage)
            #expect(error.message.contains("field 2 of row 2"))
            #expect(error.message.contains("U+0000"))
            // The COPY was aborted as a whole.
            #expect(try db.query("SELECT count(*) FROM memo").single().decode(Int64.self, column: 0) == 0)
        }
    }
}
