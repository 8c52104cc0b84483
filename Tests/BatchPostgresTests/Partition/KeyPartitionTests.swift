import Batch
import BatchCluster
import BatchPostgres
import BatchTestSupport
import Foundation
import Logging
import PostgresClient
import Synchronization
import Testing

/// Partitioned reading of a table keyed by `(day, shop)`: by date ranges from job parameters,
/// and by the key's quantiles; the keyset reader takes each partition's range.
@Suite("Partitions of keys of any kind", .timeLimit(.minutes(2)))
struct KeyPartitionTests {
    /// 12 days (2026-02-27 ... 2026-03-10) × 25 shops; the amount is exact to 20 decimals.
    static func createSales(_ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE sales (day date NOT NULL, shop text NOT NULL, amount numeric NOT NULL, PRIMARY KEY (day, shop))
            """)
        try db.execute("""
            INSERT INTO sales SELECT DATE '2026-02-27' + d, 'shop ' || s, d * 1000 + s + 0.00000000000000000001 * s
            FROM generate_series(0, 11) d, generate_series(1, 25) s
            """)
        try db.execute("CREATE TABLE sales_out (day date, shop text, amount numeric, PRIMARY KEY (day, shop))")
        try db.execute("ANALYZE sales")
    }

    struct Sale: Sendable, Equatable {
        var day: String
        var shop: String
        var amount: String
    }

    static func reader(_ range: KeyRange?) -> PostgresKeysetReader<Sale> {
        PostgresKeysetReader(
            table: "sales", columns: ["day", "shop", "amount"], keyColumns: ["day", "shop"], range: range, pageSize: 4, name: "sales"
        ) { row in
            let (day, shop, amount) = try row.decode((String, String, String).self)
            return Sale(day: day, shop: shop, amount: amount)
        }
    }

    struct InjectedFailure: Error {}

    /// Fails on one sale while `armed` is set.
    struct FailOnce: ItemProcessor {
        let armed: Locked<Bool>
        func process(_ sale: Sale) throws -> Sale? {
            if sale.day == "2026-03-05", sale.shop == "shop 17", armed.withLock({ $0 }) { throw InjectedFailure() }
            return sale
        }
    }

    @Test func aDateRangePartitionedJobFailsAndResumesEachPartitionExactly() async throws {
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.query(url) { db in
                try SchemaMigrations.migrate(on: db)
                try Self.createSales(db)
            }
            let armed = Locked(true)
            let copy = ChunkStep("copy", commitInterval: 5) { scope in
                (
                    Self.reader(try Partition.keys(in: scope.stepContext)), FailOnce(armed: armed),
                    PostgresInsertItemWriter<Sale>(table: "sales_out", columns: ["day", "shop", "amount"]) { sale, values in
                        values.append(sale.day)
                        values.append(sale.shop)
                        values.append(sale.amount)
                    }
                )
            }
            let job = Job("sales-copy") {
                PartitionStep(
                    "copy", maxAttempts: 1, partitioner: DateRangePartitioner(from: "from", to: "to", days: 3), workerStep: copy)
            }
            let worker = try PartitionWorker(
                jobs: [job], configuration: WorkerConfiguration(connectionString: url, concurrency: 2, lease: .seconds(5)),
                logger: Logger(label: "test"))
            let running = Task { try await worker.run() }
            let launcher = JobLauncher(repository: PostgresJobRepository(connectionString: url))
            // The first and last days of the table are outside the period.
            let parameters: JobParameters = ["from": .string("2026-02-28"), "to": .string("2026-03-09")]
            let failed = try await launcher.run(job, parameters: parameters)
            #expect(failed.status == .failed)
            armed.withLock { $0 = false }
            let restarted = try await launcher.run(job, parameters: parameters)
            worker.shutdown()
            try await running.value
            #expect(restarted.status == .completed)

            let (partitions, resumed, same, outside) = try await TestDatabase.query(url) { db in
                let partitions = try db.query("""
                    SELECT step_name || ' ' || read_count || ' ' || status FROM batch_step_execution
                    WHERE step_name LIKE 'copy:%' ORDER BY step_execution_id
                    """).map { try $0.decode(String.self, column: 0) }
                // The failed partition (2026-03-03 ... 2026-03-05: 75 rows) had committed 2026-03-03,
                // 2026-03-04 and 2026-03-05's shops before shop 17 ("shop 1", "shop 10" ... "shop 16"),
                // 58 rows read, 55 of them in whole chunks of 5; its restart read only the other 20.
                let resumed = try db.query("""
                    SELECT read_count FROM batch_step_execution WHERE step_name = 'copy:p1' ORDER BY step_execution_id
                    """).map { try $0.decode(Int64.self, column: 0) }
                let same = try db.query("""
                    SELECT count(*), count(o.amount) FILTER (WHERE o.amount = s.amount AND o.amount::text = s.amount::text)
                    FROM (SELECT * FROM sales WHERE day BETWEEN '2026-02-28' AND '2026-03-09') s FULL JOIN sales_out o USING (day, shop)
                    """).single().decode((Int64, Int64).self)
                let outside = try db.query("SELECT count(*) FROM sales_out WHERE day NOT BETWEEN '2026-02-28' AND '2026-03-09'")
                    .single().decode(Int64.self, column: 0)
                return (partitions, resumed, same, outside)
            }
            #expect(partitions.count == 5, "\(partitions)")
            #expect(partitions.filter { $0.hasSuffix("COMPLETED") }.count == 4, "\(partitions)")
            #expect(resumed == [55, 20], "\(partitions)")
            #expect(same == (250, 250))
            #expect(outside == 0)
        }
    }

    @Test func quantilesOfACompositeKeySplitItEvenlyAndTheReadersCoverEveryRowOnce() async throws {
        try await TestDatabase.withConnection { db, _ in
            try Self.createSales(db)
            let scope = PartitionerTests.scope(db)
            let everything = try db.query("SELECT day::text || '|' || shop FROM sales ORDER BY day, shop")
                .map { try $0.decode(String.self, column: 0) }
            for partitioner in [
                KeyQuantilePartitioner(table: "sales", keyColumns: ["day", "shop"]),
                KeyQuantilePartitioner(table: "sales", keyColumns: ["day", "shop"], sampleAbove: 0),  // the sampled path
            ] {
                let partitions = try partitioner.partitions(gridSize: 4, in: scope)
                #expect(partitions.count == 4)
                var read: [[String]] = []
                for partition in partitions {
                    let reader = Self.reader(try Partition.keys(in: partition.context))
                    try reader.open([:])
                    read.append(try ChunkHarness.readAll(reader, db).map { "\($0.day)|\($0.shop)" })
                }
                #expect(Array(read.joined()) == everything)
                if partitioner.sampleAbove > 0 {
                    #expect(read.allSatisfy { $0.count == 75 }, "\(read.map(\.count))")
                }
            }
            // By the day alone: whole days per partition.
            let byDay = try KeyQuantilePartitioner(table: "sales", keyColumns: ["day"]).partitions(gridSize: 5, in: scope)
            #expect(try byDay.compactMap { try Partition.keys(in: $0.context)?.lower } == [
                [.date("2026-03-01")], [.date("2026-03-03")], [.date("2026-03-06")], [.date("2026-03-08")],
            ])
            #expect(try KeyQuantilePartitioner(table: "sales", keyColumns: ["day"], where: "shop = \("nobody")")
                .partitions(gridSize: 4, in: scope).isEmpty)
            let missing = #expect(throws: PostgresError.self) {
                try KeyQuantilePartitioner(table: "nothing", keyColumns: ["day"]).partitions(gridSize: 4, in: scope)
            }
            #expect(missing?.message.contains("reads table nothing, which does not exist") == true)
        }
    }
}
