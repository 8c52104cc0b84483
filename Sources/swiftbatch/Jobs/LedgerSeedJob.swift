import Batch
import BatchPostgres
import PostgresClient

/// `ledger-seed rows=N [skew=1]`: creates and fills `bench_txn` and an empty `bench_txn_out`, exactly as
/// the benchmark's sql/bench/ledger-etl-setup.sql does, in restartable slices of 250,000 rows.
enum LedgerSeedJob {
    static let sliceRows: Int64 = 250_000

    static let job = Job(
        "ledger-seed",
        summary: "Create bench_txn with N ledger rows and an empty bench_txn_out (the ledger-etl benchmark data).",
        parameters: [
            .required("rows", .long, help: "how many rows (ids 1..N)"),
            .optional(
                "skew", .long, default: .long(0), identifying: false,
                help: "1: skewed ids (every tenth row's id times 1000), for the balanced partitioner"),
        ]
    ) {
        TaskletStep("create-tables") { _, chunk in
            let db = try chunk.postgresConnection()
            try db.unsafeExecuteScript("""
                DROP TABLE IF EXISTS bench_txn, bench_txn_out;
                CREATE TABLE bench_txn(
                    id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_cents bigint NOT NULL,
                    currency char(3) NOT NULL, created_at timestamptz NOT NULL, memo text NOT NULL);
                CREATE TABLE bench_txn_out(
                    id bigint PRIMARY KEY, account_id bigint NOT NULL, amount_eur_cents bigint NOT NULL,
                    fee_cents bigint NOT NULL, flagged boolean NOT NULL, memo text NOT NULL);
                """)
            return .finished
        }
        TaskletStep("fill") { contribution, chunk in
            guard let rows = chunk.parameters.long("rows"), rows >= 0 else {
                throw JobLaunchError(code: .invalidParameters, jobName: "ledger-seed", message: "rows must be 0 or more")
            }
            let done = contribution.context.int("filled") ?? 0
            let upTo = min(rows, done + sliceRows)
            if upTo > done {
                // Skewed: 90% of the rows keep ids 1..N, the other tenth spread up to 1000 N
                // (no collision: those ids are multiples of 10000, the kept ones are not of 10).
                let skewed = chunk.parameters.long("skew") == 1
                try chunk.postgresConnection().execute("""
                    INSERT INTO bench_txn
                    SELECT CASE WHEN \(skewed) AND g % 10 = 0 THEN g * 1000 ELSE g END, (g * 7919) % 100000, ((g * 104729) % 5000000) - 100000,
                           (ARRAY['EUR','USD','GBP','JPY'])[1 + (g % 4)],
                           timestamptz '2026-01-01' + (g % 31536000) * interval '1 second',
                           CASE WHEN g % 97 = 0 THEN 'refund ' || g ELSE 'payment ' || g END
                    FROM generate_series(\(done + 1), \(upTo)) g
                    """)
            }
            contribution.context["filled"] = .int(upTo)
            contribution.counts.write += upTo - done
            return upTo >= rows ? .finished : .continuable
        }
        TaskletStep("analyze") { _, chunk in
            try chunk.postgresConnection().execute("ANALYZE bench_txn")
            return .finished
        }
    }
}
