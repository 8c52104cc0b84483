import Batch
import BatchPostgres
import PostgresClient

/// `ledger-audit [max-repairs=100]`: a conditional flow with a decider, over bench_txn.
///
///     check  [COMPLETED -> report, NEEDS REPAIR -> triage]
///     decide triage  [REPAIR -> repair, TOO MANY -> fail TOO MANY BAD ROWS]
///     repair -> report
///
/// `check` counts the rows whose currency ledger-etl cannot convert and ends `NEEDS REPAIR`
/// when there are any; the decider sends up to `max-repairs` of them to `repair` (which moves
/// them to bench_txn_quarantine), and fails the job when there are more. Launching again with
/// a larger `max-repairs` restarts the failed audit: `check` is not run again, `triage` decides
/// again.
enum LedgerAuditJob {
    /// What LedgerProcessor converts (the SQL below spells the same list).
    static let currencies = "EUR, USD, GBP or JPY"

    static let job = Job(
        "ledger-audit",
        summary: "Check bench_txn's currencies; quarantine bad rows (up to max-repairs) or fail; report.",
        parameters: [
            .optional("max-repairs", .long, default: .long(100), identifying: false, help: "most bad rows to quarantine"),
        ],
        flow: Flow {
            TaskletStep("check") { contribution, chunk in
                let (rows, bad) = try chunk.postgresConnection().query("""
                    SELECT count(*), count(*) FILTER (WHERE currency NOT IN ('EUR', 'USD', 'GBP', 'JPY')) FROM bench_txn
                    """).single().decode((Int64, Int64).self)
                contribution.counts.read = rows
                contribution.context["bad"] = .int(bad)
                if bad > 0 {
                    contribution.exitStatus = ExitStatus(
                        exitCode: "NEEDS REPAIR", exitDescription: "\(bad) rows with a currency other than \(currencies)")
                }
                return .finished
            }
            .on("COMPLETED").to("report")
            .on("NEEDS REPAIR").to("triage")

            Decider("triage") { decision in
                let bad = try decision.stepExecution(named: "check")?.context.int("bad") ?? 0
                let limit = decision.parameters.long("max-repairs") ?? 100
                return bad <= limit ? "REPAIR" : "TOO MANY"
            }
            .on("REPAIR").to("repair")
            .on("TOO MANY").fail(exitCode: "TOO MANY BAD ROWS")

            TaskletStep("repair") { contribution, chunk in
                let db = try chunk.postgresConnection()
                try db.execute("CREATE TABLE IF NOT EXISTS bench_txn_quarantine (LIKE bench_txn)")
                contribution.counts.write = try db.query("""
                    WITH moved AS (DELETE FROM bench_txn WHERE currency NOT IN ('EUR', 'USD', 'GBP', 'JPY') RETURNING *),
                         kept AS (INSERT INTO bench_txn_quarantine SELECT * FROM moved RETURNING 1)
                    SELECT count(*) FROM kept
                    """).single().decode(Int64.self, column: 0)
                return .finished
            }

            TaskletStep("report") { contribution, chunk in
                let db = try chunk.postgresConnection()
                try db.execute("""
                    CREATE TABLE IF NOT EXISTS bench_audit (
                        audited_at timestamptz NOT NULL DEFAULT now(), currency text NOT NULL,
                        rows bigint NOT NULL, amount_cents numeric NOT NULL)
                    """)
                contribution.counts.write = try db.query("""
                    WITH report AS (
                        INSERT INTO bench_audit (currency, rows, amount_cents)
                        SELECT currency, count(*), sum(amount_cents) FROM bench_txn GROUP BY currency RETURNING 1)
                    SELECT count(*) FROM report
                    """).single().decode(Int64.self, column: 0)
                return .finished
            }
        })
}
