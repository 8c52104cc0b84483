import Batch
import BatchPostgres
import PostgresClient

/// `ledger-etl-async [threads=4] [chunk=1000] [skip-limit=0]`: ledger-etl in one chunk step,
/// without partitions, its processor run on `threads` items of each chunk at once
/// (`LedgerProcessor().concurrent(maxConcurrent:)`). The writer gets each chunk in id order;
/// a row that cannot be converted is skipped (up to `skip-limit`) and recorded under its own
/// id, or fails the step, and a restart resumes from the last committed chunk.
enum LedgerETLAsyncJob {
    static let job = Job(
        "ledger-etl-async",
        summary: "Convert bench_txn into bench_txn_out in one step, processing each chunk's rows on several threads.",
        parameters: [
            .optional("threads", .long, default: .long(4), identifying: false, help: "rows processed at once (1 to 64)"),
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "items per chunk (commit interval)"),
            .optional("skip-limit", .long, default: .long(0), identifying: false, help: "rows with bad data to skip"),
        ]
    ) {
        LedgerETLJob.clearOutput
        ChunkStep(
            "convert", commitInterval: 1000, commitIntervalParameter: "chunk",
            skipPolicy: .skip([LedgerError.self], limit: 0), skipLimitParameter: "skip-limit"
        ) { scope in
            let threads = scope.parameters.long("threads") ?? 4
            guard (1...64).contains(threads) else {
                throw VerificationFailed(description: "parameter threads must be between 1 and 64, not \(threads)")
            }
            return (LedgerETLJob.reader(scope), LedgerProcessor().concurrent(maxConcurrent: Int(threads)), LedgerETLJob.writer())
        }
    }
}
