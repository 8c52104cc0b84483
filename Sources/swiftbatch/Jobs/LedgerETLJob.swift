import Batch
import BatchPostgres
import PostgresClient

extension LedgerTransaction: ItemKeyed {
    var itemKey: String { "bench_txn id \(id)" }
}

/// `ledger-etl [grid=8] [chunk=1000] [partitioner=range|balanced]`: the benchmark's job (docs/BENCHMARKS.md). A
/// column-range partitioner splits `bench_txn`'s ids into `grid` ranges; each partition pages its
/// range by id, converts rows in Swift and COPYs them into `bench_txn_out` in the chunk's
/// transaction (output, checkpoint, counts and lease commit together: exactly once).
/// Partitions run on `swiftbatch worker` daemons, or in the launcher with `--local-workers N`.
enum LedgerETLJob {
    static let job = Job(
        "ledger-etl",
        summary: "Convert bench_txn into bench_txn_out, partitioned; needs workers (or --local-workers N).",
        parameters: [
            .optional("grid", .long, default: .long(8), identifying: false, help: "partitions (key ranges)"),
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "items per chunk (commit interval)"),
            .optional(
                "partitioner", .string, default: .string("range"), identifying: false,
                help: "range (equal id widths) or balanced (equal row counts, for skewed ids)"),
        ]
    ) {
        PartitionStep("transform", gridParameter: "grid", partitioner: ChosenPartitioner(), workerStep: transformRange)
    }

    /// `partitioner=range` or `partitioner=balanced`, over bench_txn's ids.
    struct ChosenPartitioner: Partitioner {
        static let choices: [String: any Partitioner] = [
            "range": ColumnRangePartitioner(table: "bench_txn", column: "id"),
            "balanced": BalancedPartitioner(table: "bench_txn", column: "id"),
        ]

        func chosen(_ parameters: JobParameters) throws -> any Partitioner {
            let name = parameters.string("partitioner") ?? "range"
            guard let partitioner = Self.choices[name] else {
                throw InvalidStepParameter(description: "partitioner must be range or balanced, not \"\(name)\"")
            }
            return partitioner
        }

        func validate(_ parameters: JobParameters) throws { _ = try chosen(parameters) }

        func partitions(gridSize: Int, in scope: StepScope) throws -> [Partition] {
            try chosen(scope.parameters).partitions(gridSize: gridSize, in: scope)
        }
    }

    /// One partition: a key range of bench_txn.
    static let transformRange = ChunkStep("transform-range", commitInterval: 1000, commitIntervalParameter: "chunk") {
        scope in
            (reader(scope, keys: Partition.keyRange(in: scope.stepContext)), LedgerProcessor(), writer())
    }

    /// Pages bench_txn by id (`chunk` rows a page), within `keys` and `condition` when given.
    static func reader(
        _ scope: StepScope, keys: ClosedRange<Int64>? = nil, where condition: PostgresQuery? = nil
    ) -> PostgresKeysetReader<LedgerTransaction> {
        PostgresKeysetReader<LedgerTransaction>(
            table: "bench_txn", columns: ["id", "account_id", "amount_cents", "currency", "memo"],
            key: "id", keys: keys, where: condition, pageSize: Int(scope.parameters.long("chunk") ?? 1000), name: "bench_txn"
        ) { row in
            let (id, account, amount, currency, memo) = try row.decode((Int64, Int64, Int64, String, String).self)
            return LedgerTransaction(id: id, accountID: account, amountCents: amount, currency: currency, memo: memo)
        }
    }

    /// COPYs entries into bench_txn_out in the chunk's transaction (exactly once).
    static func writer() -> PostgresCopyItemWriter<LedgerEntry> {
        PostgresCopyItemWriter<LedgerEntry>(
            table: "bench_txn_out",
            columns: ["id", "account_id", "amount_eur_cents", "fee_cents", "flagged", "memo"]
        ) { entry, row in
            row.appendField(entry.id)
            row.appendField(entry.accountID)
            row.appendField(entry.amountEURCents)
            row.appendField(entry.feeCents)
            row.appendField(entry.flagged)
            row.appendField(entry.memo)
        }
    }

    /// Empties bench_txn_out: the first step of the jobs that fill it in one process (a
    /// restart skips it, as it completed, and keeps what the chunks committed).
    static let clearOutput = TaskletStep("clear") { _, chunk in
        try chunk.postgresConnection().execute("TRUNCATE bench_txn_out")
        return .finished
    }
}
