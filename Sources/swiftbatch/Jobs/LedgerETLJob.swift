import Batch
import BatchPostgres
import PostgresClient

extension LedgerTransaction: ItemKeyed {
    var itemKey: String { "bench_txn id \(id)" }
}

/// `ledger-etl [chunk=1000]`: the benchmark's transformation as a chunk step: pages of
/// `bench_txn` by id, converted in Swift, COPYed into `bench_txn_out` in the chunk's
/// transaction (output, checkpoint and counts commit together: exactly once).
enum LedgerETLJob {
    static let job = Job(
        "ledger-etl",
        summary: "Convert bench_txn into bench_txn_out (EUR amounts, fees, flags); run ledger-seed first.",
        parameters: [
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "items per chunk (commit interval)")
        ]
    ) {
        ChunkStep("transform", commitInterval: 1000, commitIntervalParameter: "chunk") { scope in
            let pageSize = Int(scope.parameters.long("chunk") ?? 1000)
            let reader = PostgresKeysetReader<LedgerTransaction>(
                table: "bench_txn", columns: ["id", "account_id", "amount_cents", "currency", "memo"],
                key: "id", pageSize: pageSize, name: "bench_txn"
            ) { row in
                let (id, account, amount, currency, memo) = try row.decode((Int64, Int64, Int64, String, String).self)
                return LedgerTransaction(id: id, accountID: account, amountCents: amount, currency: currency, memo: memo)
            }
            let writer = PostgresCopyItemWriter<LedgerEntry>(
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
            return (reader, LedgerProcessor(), writer)
        }
    }
}
