import Batch
import BatchPostgres
import PostgresClient

/// `ledger-split [chunk=1000]`: ledger-etl in one process, as a split: the even ids and the
/// odd ids of bench_txn are converted at the same time, each by a chunk step on a thread and a
/// connection of its own, then `verify` checks bench_txn_out against bench_txn.
///
///     clear -> split convert (even: convert-even | odd: convert-odd) -> verify
///
/// When one flow fails (a row ledger-etl cannot convert), the job fails after the other
/// finishes; after a fix, a restart runs only the failed flow, from its last chunk, then verify.
enum LedgerSplitJob {
    static let job = Job(
        "ledger-split",
        summary: "Convert bench_txn into bench_txn_out in two flows at once (even and odd ids), then verify.",
        parameters: [
            .optional("chunk", .long, default: .long(1000), identifying: false, help: "items per chunk (commit interval)"),
        ],
        flow: Flow {
            LedgerETLJob.clearOutput
            Split("convert") {
                Flow("even") { convert("convert-even", "id % 2 = 0") }
                Flow("odd") { convert("convert-odd", "id % 2 = 1") }
            }
            TaskletStep("verify") { contribution, chunk in
                let (input, output) = try chunk.postgresConnection().query(
                    "SELECT (SELECT count(*) FROM bench_txn), (SELECT count(*) FROM bench_txn_out)"
                ).single().decode((Int64, Int64).self)
                contribution.counts.read = output
                guard input == output else {
                    throw VerificationFailed(description: "bench_txn has \(input) rows but bench_txn_out \(output)")
                }
                return .finished
            }
        })

    static func convert(_ name: String, _ condition: String) -> some Step {
        ChunkStep(name, commitInterval: 1000, commitIntervalParameter: "chunk") { scope in
            (LedgerETLJob.reader(scope, where: PostgresQuery(unsafeSQL: condition)), LedgerProcessor(), LedgerETLJob.writer())
        }
    }
}

struct VerificationFailed: Error, CustomStringConvertible {
    var description: String
}
