import Batch
import BatchPostgres
import BatchTestSupport
import PostgresClient
import Testing

@Suite("Date parameters in SQL", .timeLimit(.minutes(2)))
struct JobParameterDateBindingTests {
    @Test func eachKindBindsAsItsPostgreSQLTypeAndReadsBack() async throws {
        try await TestDatabase.withConnection { db, _ in
            let day = try JobParameterDate(parsing: "2024-02-29")
            let local = try JobParameterDate(parsing: "2026-01-31T10:15:30.25")
            let instant = try JobParameterDate(parsing: "2026-01-31T12:15:30.125+02:00")
            // No cast in the SQL: the type announced with each value is what the server sees.
            let row = try db.query(
                "SELECT pg_typeof(\(day))::text, pg_typeof(\(local))::text, pg_typeof(\(instant))::text, \(day) + 1, \(day), \(local), \(instant)"
            ).single()
            #expect(try row.decode(String.self, column: 0) == "date")
            #expect(try row.decode(String.self, column: 1) == "timestamp without time zone")
            #expect(try row.decode(String.self, column: 2) == "timestamp with time zone")
            #expect(try row.decode(JobParameterDate.self, column: 3) == (try JobParameterDate(parsing: "2024-03-01")))
            #expect(try row.decode(JobParameterDate.self, column: 4) == day)
            #expect(try row.decode(JobParameterDate.self, column: 5) == local)
            #expect(try row.decode(JobParameterDate.self, column: 6) == (try JobParameterDate(parsing: "2026-01-31T10:15:30.125Z")))
        }
    }

    @Test func aJobsDateParameterSelectsItsDayAndTheDaysOfARange() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE booking (id bigint, booked_on date)")
            try db.execute("INSERT INTO booking SELECT g, DATE '2026-02-25' + (g % 6) FROM generate_series(1, 60) g")
            let parameters = try JobParameters(parsing: ["day=2026-02-27,date", "until=2026-03-02,date"])
            let day = try #require(parameters.date("day"))
            let count = try db.query("SELECT count(*) FROM booking WHERE booked_on = \(day)").single().decode(Int64.self, column: 0)
            #expect(count == 10)
            // The range by day arithmetic, each day bound as a date.
            let until = try #require(parameters.date("until"))
            var perDay: [String: Int64] = [:]
            for date in day.dates(through: until) {
                perDay[date.description] = try db.query("SELECT count(*) FROM booking WHERE booked_on = \(date)")
                    .single().decode(Int64.self, column: 0)
            }
            #expect(perDay == ["2026-02-27": 10, "2026-02-28": 10, "2026-03-01": 10, "2026-03-02": 10])
            let next = try #require(day.adding(days: day.days(to: until) + 1))
            #expect(try db.query("SELECT count(*) FROM booking WHERE booked_on >= \(next)").single().decode(Int64.self, column: 0) == 0)
            // A missing optional date binds as NULL.
            let missing: JobParameterDate? = parameters.date("nope")
            #expect(try db.query("SELECT count(*) FROM booking WHERE booked_on = \(missing)").single().decode(Int64.self, column: 0) == 0)
            // A column of another type is refused, not misread.
            #expect(throws: PostgresError.self) { try db.query("SELECT 42").single().decode(JobParameterDate.self, column: 0) }
        }
    }
}
