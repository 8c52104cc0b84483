import BatchTestSupport
import Foundation
import PostgresClient
import Testing

@Suite("Types round-trip through PostgreSQL", .timeLimit(.minutes(2)))
struct TypeRoundTripTests {
    @Test func integers() async throws {
        try await TestDatabase.withConnection { db, _ in
            for value: Int64 in [0, 1, -1, 42, Int64.max, Int64.min] {
                let row = try db.query("SELECT \(value)::bigint, \(value)::text").single()
                #expect(try row.decode(Int64.self, column: 0) == value)
                #expect(try row.decode(String.self, column: 1) == String(value))
            }
            let small = try db.query("SELECT 2147483647::int, (-32768)::smallint").single()
            #expect(try small.decode((Int32, Int16).self) == (Int32.max, Int16.min))
            // A bigint that does not fit is refused, never truncated.
            let big = try db.query("SELECT 9223372036854775807::bigint").single()
            #expect(throws: PostgresError.self) { try big.decode(Int32.self, column: 0) }
        }
    }

    @Test func doublesAreExact() async throws {
        try await TestDatabase.withConnection { db, _ in
            for value in [0.1, -0.0, 1e300, Double.leastNonzeroMagnitude, Double.pi, 123456789.125] {
                let back = try db.query("SELECT \(value)::float8").single().decode(Double.self, column: 0)
                #expect(back == value)
            }
            let special = try db.query("SELECT 'NaN'::float8, 'Infinity'::float8, \(-Double.infinity)::float8").single()
            #expect(try special.decode(Double.self, column: 0).isNaN)
            #expect(try special.decode(Double.self, column: 1) == .infinity)
            #expect(try special.decode(Double.self, column: 2) == -.infinity)
        }
    }

    @Test func numericIsExactDecimal() async throws {
        try await TestDatabase.withConnection { db, _ in
            let row = try db.query(
                "SELECT 12345678901234567890.123456789::numeric, round(0.0061 * 123457, 0), -0.5::numeric"
            ).single()
            #expect(try row.decode(Decimal.self, column: 0) == Decimal(string: "12345678901234567890.123456789"))
            #expect(try row.decode(Decimal.self, column: 1) == Decimal(753))
            #expect(try row.decode(Decimal.self, column: 2) == Decimal(string: "-0.5"))
            let bound = Decimal(string: "0.92")!
            #expect(try db.query("SELECT \(bound) * 100").single().decode(Decimal.self, column: 0) == 92)
            // More digits than Decimal holds: refused rather than rounded.
            let huge = try db.query("SELECT repeat('9', 50)::numeric").single()
            #expect(throws: PostgresError.self) { try huge.decode(Decimal.self, column: 0) }
            #expect(try huge.decode(String.self, column: 0) == String(repeating: "9", count: 50))
        }
    }

    @Test func textKeepsEveryCharacter() async throws {
        try await TestDatabase.withConnection { db, _ in
            for value in ["", "plain", "it's \"quoted\"", "back\\slash", "tab\tnew\nline\r", "ünïcødé 🚀 漢字",
                          "'; DROP TABLE users; --"]
            {
                let back = try db.query("SELECT \(value)::text").single().decode(String.self, column: 0)
                #expect(back == value)
            }
        }
    }

    @Test func booleansTimestampsBytesAndJSON() async throws {
        try await TestDatabase.withConnection { db, _ in
            let flags = try db.query("SELECT \(true), \(false)").single()
            #expect(try flags.decode((Bool, Bool).self) == (true, false))

            let instant = Date(timeIntervalSince1970: 1_767_225_600.123456)  // 2026-01-01 00:00:00.123456 UTC
            let row = try db.query(
                "SELECT \(instant)::timestamptz, \(instant)::timestamptz::text, '2026-03-04'::date, '2026-03-04 05:06:07'::timestamp, '2026-03-04 05:06:07+02:30'::timestamptz"
            ).single()
            let back = try row.decode(Date.self, column: 0)
            #expect(abs(back.timeIntervalSince1970 - instant.timeIntervalSince1970) < 0.000_001)
            #expect(try row.decode(String.self, column: 1) == "2026-01-01 00:00:00.123456+00")
            #expect(try row.decode(Date.self, column: 2) == Date(timeIntervalSince1970: 1_772_582_400))
            #expect(try row.decode(Date.self, column: 3) == Date(timeIntervalSince1970: 1_772_600_767))
            #expect(try row.decode(Date.self, column: 4) == Date(timeIntervalSince1970: 1_772_600_767 - 9000))

            let bytes = PostgresBytes((0...255).map { UInt8($0) })
            #expect(try db.query("SELECT \(bytes)::bytea").single().decode(PostgresBytes.self, column: 0) == bytes)
            #expect(try db.query("SELECT length(\(bytes)::bytea)").single().decode(Int.self, column: 0) == 256)

            struct Payload: Codable, Equatable { var id: Int; var name: String }
            let json = try PostgresJSON(encoding: Payload(id: 7, name: "x\"y"))
            let decoded = try db.query("SELECT \(json)::jsonb").single().decode(PostgresJSON.self, column: 0)
            #expect(try decoded.decode(Payload.self) == Payload(id: 7, name: "x\"y"))
        }
    }

    @Test func nullsDecodeOnlyIntoOptionals() async throws {
        try await TestDatabase.withConnection { db, _ in
            let none: Int64? = nil
            let row = try db.query("SELECT \(none)::bigint AS missing, 5::bigint").single()
            #expect(row[0].isNull)
            #expect(try row.decode(Int64?.self, column: 0) == nil)
            #expect(try row.decode(Int64?.self, column: 1) == 5)
            let error = #expect(throws: PostgresError.self) { try row.decode(Int64.self, column: 0) }
            #expect(error?.kind == .decoding)
            #expect(error?.message.contains("missing") == true)
        }
    }

    @Test func identifiersAreQuoted() async throws {
        try await TestDatabase.withConnection { db, _ in
            let table = "odd \"table\" name"
            try db.execute("CREATE TABLE \(identifier: table) (id bigint)")
            try db.execute("INSERT INTO \(identifier: table) VALUES (\(Int64(3)))")
            #expect(try db.query("SELECT id FROM \(identifier: table)").single().decode(Int64.self, column: 0) == 3)
        }
    }
}
