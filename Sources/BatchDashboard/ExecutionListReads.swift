import Batch
import Foundation
import PostgresClient

/// What the executions page shows: filters from the query string, one page of the history.
struct ExecutionFilter: Sendable, Equatable {
    var job: String?
    var status: BatchStatus?
    /// Created at or after.
    var from: Date?
    /// Created before.
    var until: Date?
    /// Keyset cursor: only executions with a smaller id (the next page).
    var before: Int64?
    var limit = 50
}

/// One page of the history.
struct ExecutionPageRows: Sendable {
    var rows: [ExecutionRow]
    /// The cursor of the next page; nil on the last one.
    var next: Int64?
    /// True when the page stopped at the scan budget before it was full: older executions may
    /// still match (`next` goes on from where it stopped).
    var exhausted: Bool
}

/// One line of the history.
struct ExecutionRow: Sendable {
    var id: Int64
    var jobName: String
    var status: BatchStatus
    var exitCode: String
    var createTime: Date
    var startTime: Date?
    var endTime: Date?
    var read: Int64
    var written: Int64
}

extension ExecutionRow {
    static let columns = """
        e.job_execution_id, i.job_name, e.status, e.exit_code, e.create_time, e.start_time, e.end_time,
        coalesce(t.read, 0)::bigint, coalesce(t.written, 0)::bigint
        """
    /// Totals of the top-level steps (a manager already holds its partitions' sums once it
    /// ended; while it runs, its partitions' sums so far, as `swiftbatch status` shows them).
    static let totals = """
        LEFT JOIN LATERAL (
            SELECT sum(coalesce(p.read, s.read_count)) AS read, sum(coalesce(p.written, s.write_count)) AS written
            FROM batch_step_execution s
            LEFT JOIN LATERAL (
                SELECT sum(ps.read_count) AS read, sum(ps.write_count) AS written
                FROM batch_partition bp JOIN batch_step_execution ps ON ps.step_execution_id = bp.step_execution_id
                -- The outer condition gates the subquery: only running steps pay for it.
                WHERE bp.manager_step_execution_id = s.step_execution_id AND s.end_time IS NULL
                HAVING count(*) > 0
            ) p ON true
            WHERE s.job_execution_id = e.job_execution_id AND strpos(s.step_name, ':') = 0
        ) t ON true
        """

    init(row: PostgresRow) throws {
        self.init(
            id: try row.decode(Int64.self, column: 0),
            jobName: try row.decode(String.self, column: 1),
            status: BatchStatus(rawValue: try row.decode(String?.self, column: 2) ?? "") ?? .unknown,
            exitCode: try row.decode(String?.self, column: 3) ?? "",
            createTime: try row.decode(Date.self, column: 4),
            startTime: try row.decode(Date?.self, column: 5),
            endTime: try row.decode(Date?.self, column: 6),
            read: try row.decode(Int64.self, column: 7),
            written: try row.decode(Int64.self, column: 8))
    }
}

enum ExecutionListReads {
    /// How many executions one page may examine when it filters by job: the job's name lives in
    /// batch_job_instance, so no index orders a job's executions by id; a page whose matches are
    /// rare stops after this many and offers to go on (``ExecutionPage/exhausted``).
    static let jobScanBudget = 4000

    /// One page, newest first, and the cursor of the next page (nil on the last one).
    ///
    /// Keyset paging on the primary key: every page costs the same whatever its depth in the
    /// history. Every value is a bound parameter; the unnamed statement is planned with them, so
    /// an absent filter costs nothing.
    static func page(_ filter: ExecutionFilter, on db: PostgresConnection) throws -> ExecutionPageRows {
        let status = filter.status?.rawValue
        let (lowest, highest) = try idRange(from: filter.from, until: filter.until, on: db)
        if let lowest, let highest, lowest > highest { return ExecutionPageRows(rows: [], next: nil, exhausted: false) }
        // Without a job filter the budget is the page itself; with one, the candidates the
        // other filters (indexed) give, newest first, at most jobScanBudget of them.
        let budget = filter.job == nil ? filter.limit + 1 : jobScanBudget
        let candidates = """
            SELECT e.job_execution_id, e.job_instance_id
            FROM batch_job_execution e
            WHERE ($1::text IS NULL OR e.status = $1)
              AND ($2::bigint IS NULL OR e.job_execution_id < $2)
              AND ($3::bigint IS NULL OR e.job_execution_id >= $3)
              AND ($4::bigint IS NULL OR e.job_execution_id <= $4)
              AND ($5::timestamptz IS NULL OR e.create_time >= ($5::timestamptz AT TIME ZONE 'UTC'))
              AND ($6::timestamptz IS NULL OR e.create_time < ($6::timestamptz AT TIME ZONE 'UTC'))
            ORDER BY e.job_execution_id DESC
            LIMIT $7
            """
        var bindings = PostgresBindings()
        bindings.append(status)
        bindings.append(filter.before)
        bindings.append(lowest)
        bindings.append(highest)
        bindings.append(filter.from)
        bindings.append(filter.until)
        bindings.append(budget)
        var pageBindings = bindings
        pageBindings.append(filter.job)
        pageBindings.append(filter.limit + 1)
        // Rows are pulled lazily in id order: the scan stops as soon as the page is full.
        let rows = try db.query(PostgresQuery(
            unsafeSQL: """
                SELECT \(ExecutionRow.columns)
                FROM (\(candidates)) c
                JOIN batch_job_instance i ON i.job_instance_id = c.job_instance_id
                JOIN batch_job_execution e ON e.job_execution_id = c.job_execution_id
                \(ExecutionRow.totals)
                WHERE $8::text IS NULL OR i.job_name = $8
                ORDER BY c.job_execution_id DESC
                LIMIT $9
                """,
            bindings: pageBindings)).map(ExecutionRow.init(row:))
        if rows.count > filter.limit {
            let page = Array(rows.prefix(filter.limit))
            return ExecutionPageRows(rows: page, next: page.last?.id, exhausted: false)
        }
        guard filter.job != nil else { return ExecutionPageRows(rows: rows, next: nil, exhausted: false) }
        // A short page of a job: did it stop at the budget? (An index-only count, no join.)
        let examined = try db.query(PostgresQuery(
            unsafeSQL: "SELECT count(*), min(job_execution_id) FROM (\(candidates)) c", bindings: bindings)).single()
        if try examined.decode(Int.self, column: 0) >= budget, let oldest = try examined.decode(Int64?.self, column: 1) {
            return ExecutionPageRows(rows: rows, next: oldest, exhausted: true)
        }
        return ExecutionPageRows(rows: rows, next: nil, exhausted: false)
    }

    /// The ids a time filter can match, found through the create_time index, so that paging by
    /// id does not walk the history outside the time range. Execution ids come from a sequence
    /// as executions are created, so they grow with `create_time` (give or take concurrent
    /// launches, which the hour of margin covers); the exact time condition still applies.
    static func idRange(from: Date?, until: Date?, on db: PostgresConnection) throws -> (Int64?, Int64?) {
        guard from != nil || until != nil else { return (nil, nil) }
        let row = try db.query("""
            SELECT CASE WHEN \(from)::timestamptz IS NULL THEN NULL ELSE coalesce(
                       (SELECT min(job_execution_id) FROM batch_job_execution
                        WHERE create_time >= (\(from)::timestamptz AT TIME ZONE 'UTC')
                          AND create_time < (\(from)::timestamptz AT TIME ZONE 'UTC') + interval '1 hour'),
                       (SELECT job_execution_id FROM batch_job_execution
                        WHERE create_time >= (\(from)::timestamptz AT TIME ZONE 'UTC') ORDER BY create_time LIMIT 1),
                       9223372036854775807) END,
                   CASE WHEN \(until)::timestamptz IS NULL THEN NULL ELSE coalesce(
                       (SELECT max(job_execution_id) FROM batch_job_execution
                        WHERE create_time < (\(until)::timestamptz AT TIME ZONE 'UTC')
                          AND create_time >= (\(until)::timestamptz AT TIME ZONE 'UTC') - interval '1 hour'),
                       (SELECT job_execution_id FROM batch_job_execution
                        WHERE create_time < (\(until)::timestamptz AT TIME ZONE 'UTC') ORDER BY create_time DESC LIMIT 1),
                       0) END
            """).single()
        return (try row.decode(Int64?.self, column: 0), try row.decode(Int64?.self, column: 1))
    }

    /// Every running execution (STARTING, STARTED, STOPPING), newest first; a partial index
    /// holds only these, so the cost does not grow with the history.
    static func running(on db: PostgresConnection) throws -> [ExecutionRow] {
        try db.query("""
            SELECT \(unsafeRaw: ExecutionRow.columns)
            FROM batch_job_execution e
            JOIN batch_job_instance i ON i.job_instance_id = e.job_instance_id
            \(unsafeRaw: ExecutionRow.totals)
            WHERE e.status IN ('STARTING', 'STARTED', 'STOPPING')
            ORDER BY e.job_execution_id DESC
            LIMIT 200
            """).map(ExecutionRow.init(row:))
    }

    /// The job names in the history, for the filter's choices.
    static func jobNames(on db: PostgresConnection) throws -> [String] {
        // A loose index scan over batch_job_instance_name_idx: one probe per distinct name.
        try db.query("""
            WITH RECURSIVE names(name) AS (
                (SELECT job_name FROM batch_job_instance ORDER BY job_name LIMIT 1)
                UNION ALL
                SELECT (SELECT job_name FROM batch_job_instance WHERE job_name > names.name ORDER BY job_name LIMIT 1)
                FROM names WHERE names.name IS NOT NULL)
            SELECT name FROM names WHERE name IS NOT NULL LIMIT 500
            """).map { try $0.decode(String.self, column: 0) }
    }
}
