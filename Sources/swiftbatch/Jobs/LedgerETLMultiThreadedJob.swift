import Batch
import BatchPostgres
import PostgresClient

/// `ledger-etl-mt [threads=4] [chunk=1000] [skip-limit=0]`: ledger-etl in one multi-threaded
/// chunk step, without partitions or workers: `threads` threads each take the next `chunk` rows
/// of bench_txn by id, convert them and COPY them into bench_txn_out in a transaction of their
/// own, which also saves the step's counts and its checkpoint (the ids below which every page
/// committed, and the pages above them that did). A row that cannot be converted is skipped (up
/// to `skip-limit`) or fails the step; a restart then converts exactly the rows no committed
/// page holds, so every row is written once.
enum LedgerETLMultiThreadedJob {
    static let job = Job(
        "ledger-etl-mt",
        summary: "Convert bench_txn into bench_txn_out in one step, several threads each committing pages of it.",
        parameters: [
            .optional("threads", .long, default: .long(4), identifying: false, help: "threads taking pages (1 to 64)"),
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "rows per page (commit interval)"),
            .optional("skip-limit", .long, default: .long(0), identifying: false, help: "rows with bad data to skip"),
        ]
    ) {
        LedgerETLJob.clearOutput
        MultiThreadedChunkStep(
            "convert", threads: 4, threadsParameter: "threads", commitInterval: 1000, commitIntervalParameter: "chunk",
            skipPolicy: .skip([LedgerError.self], limit: 0), skipLimitParameter: "skip-limit"
        ) { _ in
            PostgresKeysetPageSource<LedgerTransaction>(
                table: "bench_txn", columns: ["id", "account_id", "amount_cents", "currency", "memo"], key: "id",
                name: "bench_txn"
            ) { row in
                let (id, account, amount, currency, memo) = try row.decode((Int64, Int64, Int64, String, String).self)
                return LedgerTransaction(id: id, accountID: account, amountCents: amount, currency: currency, memo: memo)
            }
        } worker: { _ in
            (LedgerProcessor(), LedgerETLJob.writer())
        }
    }
}
