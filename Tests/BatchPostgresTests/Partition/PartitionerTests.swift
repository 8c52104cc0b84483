import Batch
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Testing

@Suite("Partitioners", .timeLimit(.minutes(2)))
struct PartitionerTests {
    static func scope(_ connection: PostgresConnection) -> StepScope {
        let execution = JobExecution(
            id: 0, instance: JobInstance(id: 0, jobName: "test", jobKey: ""), parameters: [:],
            status: .started, exitStatus: .executing, createTime: Date())
        return StepScope(
            session: PostgresJobRepositorySession(connection: connection), jobExecution: execution,
            logger: Logger(label: "test"))
    }

    /// Rows per partition, checking the ranges are contiguous and cover every row once.
    static func rowsPerPartition(_ partitions: [Partition], _ db: PostgresConnection) throws -> [Int64] {
        let ranges = partitions.compactMap { Partition.keyRange(in: $0.context) }
        #expect(ranges.count == partitions.count)
        for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound + 1 == b.lowerBound) }
        #expect(Set(partitions.map(\.name)).count == partitions.count)
        return try ranges.map {
            try db.query("SELECT count(*) FROM items WHERE id BETWEEN \($0.lowerBound) AND \($0.upperBound)")
                .single().decode(Int64.self, column: 0)
        }
    }

    @Test func columnRangesCoverKeysWithGaps() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE items (id bigint PRIMARY KEY)")
            try db.execute("INSERT INTO items SELECT g FROM generate_series(1, 1000) g WHERE g % 7 <> 0")
            let partitions = try ColumnRangePartitioner(table: "items", column: "id").partitions(gridSize: 8, in: Self.scope(db))
            #expect(partitions.count == 8)
            #expect(partitions.first?.name == "p0")
            let counts = try Self.rowsPerPartition(partitions, db)
            #expect(counts.reduce(0, +) == 858)
            #expect(Partition.keyRange(in: partitions[0].context)?.lowerBound == 1)
            #expect(Partition.keyRange(in: partitions[7].context)?.upperBound == 1000)
        }
    }

    @Test func anEmptyTableHasNoPartitions() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE items (id bigint PRIMARY KEY)")
            #expect(try ColumnRangePartitioner(table: "items", column: "id").partitions(gridSize: 8, in: Self.scope(db)).isEmpty)
            #expect(try BalancedPartitioner(table: "items", column: "id").partitions(gridSize: 8, in: Self.scope(db)).isEmpty)
        }
    }

    @Test func balancedPartitionsHoldEqualRowCountsOnSkewedKeys() async throws {
        try await TestDatabase.withConnection { db, _ in
            try db.execute("CREATE TABLE items (id bigint PRIMARY KEY)")
            // 9,000 dense keys, then 1,000 keys spread over a billion.
            try db.execute("INSERT INTO items SELECT g FROM generate_series(1, 9000) g")
            try db.execute("INSERT INTO items SELECT 1000000 * g FROM generate_series(1, 1000) g")
            try db.execute("ANALYZE items")
            let skewed = try Self.rowsPerPartition(
                ColumnRangePartitioner(table: "items", column: "id").partitions(gridSize: 4, in: Self.scope(db)), db)
            #expect(skewed.max()! >= 9_000, "equal widths leave one straggler: \(skewed)")

            for partitioner in [
                BalancedPartitioner(table: "items", column: "id"),
                BalancedPartitioner(table: "items", column: "id", sampleAbove: 0),  // the sampling path
            ] {
                let counts = try Self.rowsPerPartition(partitioner.partitions(gridSize: 4, in: Self.scope(db)), db)
                #expect(counts.count == 4)
                #expect(counts.reduce(0, +) == 10_000)
                #expect(counts.allSatisfy { (2_000...3_000).contains($0) }, "balanced: \(counts)")
            }
        }
    }
}
