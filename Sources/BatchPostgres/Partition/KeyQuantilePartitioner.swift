import Batch
import PostgresClient

/// Splits a table by a key of any kind, of one column or several, into ranges holding about
/// the same number of rows: the key's `gridSize`-quantiles, from `ntile` over the key in key
/// order (over every row up to `sampleAbove` rows, over a TABLESAMPLE of about 100,000 rows
/// above), become the partitions' boundaries.
///
/// The partitions are `Partition.keys(_:index:of:)` ranges that tile the whole key
/// space: the first is open below, the last open above, and each boundary is the upper bound
/// (excluded) of one partition and the lower bound (included) of the next. So every row is in
/// exactly one partition, including rows added after the split; a
/// ``PostgresKeysetReader`` given the range (`Partition.keys(in:)`) reads them. An
/// empty table gives no partition; a key with fewer distinct values than the grid gives fewer
/// partitions. Rows with a NULL key are in none (the reader refuses them).
///
/// The key columns may be a prefix of the reader's key: splitting a `(day, name)` table by
/// `["day"]` keeps each day in one partition.
public struct KeyQuantilePartitioner: Partitioner {
    public let table: String
    public let schema: String?
    public let keyColumns: [String]
    public let condition: PostgresQuery?
    /// Above this estimated row count, quantiles come from a sample of about 100,000 rows.
    public let sampleAbove: Int64

    /// - Parameters:
    ///   - table: The table split; quoted as an identifier.
    ///   - schema: Its schema, or nil for the search path.
    ///   - keyColumns: The key's columns, most significant first.
    ///   - condition: Only rows matching it count (the reader's own condition); its values are bound.
    ///   - sampleAbove: The row estimate above which the quantiles are sampled.
    public init(
        table: String, schema: String? = nil, keyColumns: [String], where condition: PostgresQuery? = nil,
        sampleAbove: Int64 = 2_000_000
    ) {
        precondition(!keyColumns.isEmpty, "a key partitioner needs at least one key column")
        self.table = table
        self.schema = schema
        self.keyColumns = keyColumns
        self.condition = condition
        self.sampleAbove = sampleAbove
    }

    public func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
        let boundaries = try PartitionerSupport.explainingMissingTable(table, schema) {
            try self.boundaries(gridSize: max(1, gridSize), PartitionerSupport.connection(scope))
        }
        guard let boundaries else { return [] }
        return try KeyBoundaryPartitioner(boundaries).partitions(gridSize: gridSize, in: scope)
    }

    /// The first keys of the 2nd...`grid`-th quantiles, deduplicated; nil for an empty table.
    func boundaries(gridSize grid: Int, _ connection: PostgresConnection) throws -> [RowKey]? {
        let qualified = PartitionerSupport.qualified(table, schema)
        let keys = keyColumns.map(PostgresQuery.quoteIdentifier).joined(separator: ", ")
        let notNull = keyColumns.map { PostgresQuery.quoteIdentifier($0) + " IS NOT NULL" }.joined(separator: " AND ")
        let filter = (condition.map { "(" + $0.sql + ") AND " } ?? "") + notNull
        var bindings = condition?.bindings ?? PostgresBindings()
        let any = try connection.query(PostgresQuery(unsafeSQL: "SELECT 1 FROM \(qualified) WHERE \(filter) LIMIT 1", bindings: bindings))
        guard !any.isEmpty else { return nil }
        guard grid > 1 else { return [] }
        let estimate = try connection.query(
            "SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(\(qualified))"
        ).first?.decode(Int64?.self, column: 0) ?? nil
        var source = qualified
        if let estimate, estimate > sampleAbove {
            let percent = min(100.0, max(0.01, 100_000.0 / Double(estimate) * 100.0))
            source += " TABLESAMPLE SYSTEM (\(percent))"
        }
        bindings.append(Int32(clamping: grid))
        let tiles = try connection.query(PostgresQuery(
            unsafeSQL: """
                SELECT DISTINCT ON (swiftbatch_tile) \(keys) FROM (
                    SELECT \(keys), ntile($\(bindings.count)) OVER (ORDER BY \(keys)) AS swiftbatch_tile
                    FROM \(source) WHERE \(filter)) s
                ORDER BY swiftbatch_tile, \(keys)
                """,
            bindings: bindings))
        let columns = Array(0..<keyColumns.count)
        var boundaries: [RowKey] = []
        for index in tiles.indices.dropFirst() {
            let key = try RowKey(tiles[index], columns: columns, stream: "partitioner")
            if key != boundaries.last { boundaries.append(key) }
        }
        return boundaries
    }
}
