import Batch
import PostgresClient

/// Splits a table's bigint key into contiguous ranges of equal width between its minimum and
/// maximum: Spring Batch's ColumnRangePartitioner. An empty table gives no partition (the step
/// then completes at once); ids with gaps are fine.
///
/// With skewed keys equal widths mean unequal work; ``BalancedPartitioner`` splits by row count.
public struct ColumnRangePartitioner: KeyRangePartitioner {
    public let table: String
    public let schema: String?
    public let column: String

    public init(table: String, schema: String? = nil, column: String) {
        self.table = table
        self.schema = schema
        self.column = column
    }

    public func keyRanges(gridSize: Int, in scope: StepScope) throws -> [ClosedRange<Int64>] {
        try PartitionerSupport.explainingMissingTable(table, schema) { try split(gridSize: gridSize, scope) }
    }

    private func split(gridSize: Int, _ scope: StepScope) throws -> [ClosedRange<Int64>] {
        let connection = try PartitionerSupport.connection(scope)
        let row = try connection.query("""
            SELECT min(\(identifier: column))::bigint, max(\(identifier: column))::bigint
            FROM \(unsafeRaw: PartitionerSupport.qualified(table, schema))
            """).single()
        guard let minimum = try row.decode(Int64?.self, column: 0), let maximum = try row.decode(Int64?.self, column: 1) else {
            return []
        }
        return contiguousRanges(from: minimum, to: maximum, count: max(1, gridSize))
    }
}

/// Splits a table's bigint key into ranges holding about the same number of rows, from the
/// key's quantiles (exact on tables up to `sampleAbove` rows, from a TABLESAMPLE above), so a
/// skewed key does not leave one partition with most of the work. Spring Batch has no such
/// partitioner.
public struct BalancedPartitioner: KeyRangePartitioner {
    public let table: String
    public let schema: String?
    public let column: String
    /// Above this estimated row count, quantiles come from a sample of about 100,000 rows.
    public let sampleAbove: Int64

    public init(table: String, schema: String? = nil, column: String, sampleAbove: Int64 = 2_000_000) {
        self.table = table
        self.schema = schema
        self.column = column
        self.sampleAbove = sampleAbove
    }

    public func keyRanges(gridSize: Int, in scope: StepScope) throws -> [ClosedRange<Int64>] {
        try PartitionerSupport.explainingMissingTable(table, schema) { try split(gridSize: gridSize, scope) }
    }

    private func split(gridSize: Int, _ scope: StepScope) throws -> [ClosedRange<Int64>] {
        let connection = try PartitionerSupport.connection(scope)
        let qualified = PartitionerSupport.qualified(table, schema)
        let bounds = try connection.query("""
            SELECT min(\(identifier: column))::bigint, max(\(identifier: column))::bigint
            FROM \(unsafeRaw: qualified)
            """).single()
        guard let minimum = try bounds.decode(Int64?.self, column: 0), let maximum = try bounds.decode(Int64?.self, column: 1) else {
            return []
        }
        let grid = max(1, gridSize)
        guard grid > 1, minimum < maximum else { return [minimum...maximum] }
        let estimate = try connection.query(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(\(qualified))"
        ).first?.decode(Int64?.self, column: 0) ?? nil
        let source: String
        if let estimate, estimate > sampleAbove {
            let percent = min(100.0, max(0.01, 100_000.0 / Double(estimate) * 100.0))
            source = "\(qualified) TABLESAMPLE SYSTEM (\(percent))"
        } else {
            source = qualified
        }
        // The upper quantiles 1/grid ... (grid-1)/grid; each becomes the last key of a range.
        var fractions = PostgresBindings()
        let list = (1..<grid).map { Double($0) / Double(grid) }
        fractions.append("{" + list.map { String($0) }.joined(separator: ",") + "}")
        let cuts = try connection.query(PostgresQuery(
            unsafeSQL: """
                SELECT unnest(percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY \(PostgresQuery.quoteIdentifier(column))))::bigint
                FROM \(source)
                """,
            bindings: fractions)).map { try $0.decode(Int64?.self, column: 0) }.compactMap { $0 }
        var ranges: [ClosedRange<Int64>] = []
        var start = minimum
        for cut in cuts.sorted() where cut >= start && cut < maximum {
            ranges.append(start...cut)
            start = cut + 1
        }
        ranges.append(start...maximum)
        return ranges
    }
}

enum PartitionerSupport {
    static func connection(_ scope: StepScope) throws -> PostgresConnection {
        guard let session = scope.session as? PostgresJobRepositorySession else {
            throw PostgresError(kind: .usage, message: "this partitioner needs the PostgreSQL job repository")
        }
        return session.connection
    }

    /// Turns "relation does not exist" into a sentence that says which table the partitioner
    /// reads and what to do.
    static func explainingMissingTable<T>(_ table: String, _ schema: String?, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as PostgresError where error.sqlState == .undefinedTable {
            let name = (schema.map { "\($0)." } ?? "") + table
            error.message = "the partitioner reads table \(name), which does not exist: create or load it first, then restart"
            throw error
        }
    }

    static func qualified(_ table: String, _ schema: String?) -> String {
        (schema.map { PostgresQuery.quoteIdentifier($0) + "." } ?? "") + PostgresQuery.quoteIdentifier(table)
    }
}
