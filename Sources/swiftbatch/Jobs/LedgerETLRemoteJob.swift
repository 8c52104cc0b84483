import Batch
import BatchPostgres
import Foundation
import PostgresClient

/// `ledger-etl-remote [chunk=1000] [in-flight=8] [skip-limit=0]`: ledger-etl by remote chunking.
/// The launching process reads bench_txn by id and sends each chunk of rows as a durable row of
/// `batch_remote_chunk` (at most `in-flight` waiting or running at once); `swiftbatch worker`
/// daemons claim the chunks, convert the rows and COPY them into `bench_txn_out` in one
/// transaction with their reply: exactly once, whichever worker dies or is paused. A row that
/// cannot be converted is skipped and recorded, up to `skip-limit` for the whole step; one
/// more fails its chunk and the step.
///
/// `stall-id` and `stall-seconds` are for fault-injection tests: the first attempt at the chunk
/// holding that id sleeps before converting it, so a test can kill or pause the worker mid-chunk.
enum LedgerETLRemoteJob {
    static let job = Job(
        "ledger-etl-remote",
        summary: "Convert bench_txn into bench_txn_out by remote chunking; needs `swiftbatch worker` processes.",
        parameters: [
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "rows per chunk"),
            .optional("in-flight", .long, default: .long(8), identifying: false, help: "chunks waiting or being processed at once"),
            .optional("skip-limit", .long, default: .long(0), identifying: false, help: "rows with bad data to skip"),
            .optional("stall-id", .long, default: .long(0), identifying: false, help: "testing: stall the chunk holding this id (first attempt)"),
            .optional("stall-seconds", .long, default: .long(0), identifying: false, help: "testing: how long it stalls"),
        ]
    ) {
        LedgerETLJob.clearOutput
        RemoteChunkStep(
            "transform", commitInterval: 1000, commitIntervalParameter: "chunk", maxInFlight: 8,
            maxInFlightParameter: "in-flight",
            skipPolicy: .skip([LedgerError.self], limit: 0), skipLimitParameter: "skip-limit", codec: codec,
            reader: { scope in LedgerETLJob.reader(scope) },
            worker: { scope in
                var stall: (id: Int64, seconds: Int64)?
                if scope.request.attempt == 1, let id = scope.parameters.long("stall-id"), id > 0 {
                    stall = (id, scope.parameters.long("stall-seconds") ?? 0)
                }
                return (StallingProcessor(stall: stall), LedgerETLJob.writer())
            })
    }

    /// Rows as tab-separated lines: a fifth of JSON's cost to encode and decode.
    static let codec = DelimitedChunkCodec<LedgerTransaction>(
        fields: { row, fields in
            fields.append(row.id)
            fields.append(row.accountID)
            fields.append(row.amountCents)
            fields.append(row.currency)
            fields.append(row.memo)
        },
        item: { fields in
            guard fields.count == 5, let id = Int64(fields[0]), let account = Int64(fields[1]),
                let amount = Int64(fields[2])
            else { throw RemoteChunkDecodingError("not a bench_txn row: \(fields.joined(separator: " | ").prefix(200))") }
            return LedgerTransaction(
                id: id, accountID: account, amountCents: amount, currency: String(fields[3]), memo: String(fields[4]))
        })

    /// The ledger-etl processor, stalling on one item when a test asks it to.
    struct StallingProcessor: ItemProcessor {
        var stall: (id: Int64, seconds: Int64)?

        func process(_ row: LedgerTransaction) throws -> LedgerEntry? {
            if let stall, row.id == stall.id { Thread.sleep(forTimeInterval: Double(stall.seconds)) }
            return try LedgerProcessor().process(row)
        }
    }
}
