#!/usr/bin/env bash
# The README's first command: SwiftBatch end to end on a private PostgreSQL.
set -euo pipefail

case "${1:-}" in
    -h|--help)
        cat <<'TXT'
Usage: scripts/demo.sh [--rows N]

On a fresh machine: installs PostgreSQL 15 and libpq-dev if missing, starts the project's
private PostgreSQL (scripts/postgres.sh; state in .pg/), builds swiftbatch in release mode,
creates the job repository (swiftbatch migrate), seeds N ledger rows (default 1,000,000),
starts two worker daemons, runs the partitioned ledger-etl on them (grid 8, chunk 1000) with
live progress, prints a summary from the SQL dashboard views, checks the output against
PostgreSQL's own transformation (exit 1 on any difference), and stops the workers.
Leaves the private server running; stop it with scripts/postgres.sh stop.
TXT
        exit 0 ;;
esac

rows=1000000
if [[ "${1:-}" == "--rows" ]]; then
    rows="${2:?--rows takes a number}"
    [[ "$rows" =~ ^[0-9]+$ ]] || { echo "demo.sh: --rows takes a whole number" >&2; exit 2; }
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
say() { printf '\n==> %s\n' "$*"; }

say "PostgreSQL"
bash scripts/postgres.sh install
url="$(bash scripts/postgres.sh start | tail -n 1)"
export DATABASE_URL="${url#DATABASE_URL=}"
echo "DATABASE_URL=$DATABASE_URL"

say "Building swiftbatch (release)"
swift build -c release --product swiftbatch
bin="$(swift build -c release --show-bin-path)/swiftbatch"

say "swiftbatch migrate"
"$bin" migrate
"$bin" migrate --check

say "The job repository"
/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -P pager=off -c \
    "SELECT version, name, applied_at FROM swiftbatch_schema_version ORDER BY version"

say "swiftbatch launch ledger-seed rows=$rows --next"
"$bin" launch ledger-seed "rows=$rows" --next

say "Two worker daemons (swiftbatch worker --concurrency 2), logs in .pg/log/worker-*.log"
mkdir -p .pg/log
workers=()
stop_workers() {
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_workers EXIT
for n in 1 2; do
    "$bin" worker --concurrency 2 >".pg/log/worker-$n.log" 2>&1 &
    workers+=("$!")
done

say "swiftbatch launch ledger-etl grid=8 chunk=1000 --next"
"$bin" launch ledger-etl grid=8 chunk=1000 --next
execution="$(/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -qAt -c \
    "SELECT max(job_execution_id) FROM batch_job_execution JOIN batch_job_instance USING (job_instance_id) WHERE job_name = 'ledger-etl'")"

say "Dashboards (sql/migrations/0006_dashboards.sql; see docs/DASHBOARDS.md)"
psql_view() { /usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -P pager=off -c "$1"; }
psql_view "SELECT job_name, status, duration_seconds, read_count, write_count, executions
           FROM batch_dashboard_jobs WHERE job_execution_id = $execution"
psql_view "SELECT partition_name, status, owner, attempt, write_count, elapsed_seconds, round(write_per_second) AS rows_per_s
           FROM batch_dashboard_steps WHERE job_execution_id = $execution AND kind = 'partition' ORDER BY partition_name"
pids="$(IFS=,; echo "${workers[*]}")"
psql_view "SELECT worker_id, health, concurrency, partitions_held, heartbeat_age_seconds FROM batch_dashboard_workers
           WHERE pid = ANY ('{$pids}'::int[])"

say "Correctness: bench_txn_out against PostgreSQL's own transformation of bench_txn"
check="$(/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -P pager=off -c "
WITH expected AS (
    SELECT count(*) AS n, sum(a) AS eur, sum(greatest(25, round(abs(a) * 0.0125))::bigint) AS fees,
           count(*) FILTER (WHERE abs(a) > 1000000 OR memo LIKE 'refund%') AS flagged
    FROM (SELECT memo, round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                            WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a
          FROM bench_txn) s),
actual AS (
    SELECT count(*) AS n, sum(amount_eur_cents) AS eur, sum(fee_cents) AS fees,
           count(*) FILTER (WHERE flagged) AS flagged, count(DISTINCT id) AS ids
    FROM bench_txn_out)
SELECT actual.n AS rows, actual.eur AS sum_eur_cents, actual.fees AS sum_fee_cents, actual.flagged,
       CASE WHEN (actual.n, actual.eur, actual.fees, actual.flagged) = (expected.n, expected.eur, expected.fees, expected.flagged)
                 AND actual.ids = actual.n THEN 'exact, no id twice' ELSE 'MISMATCH' END AS check
FROM actual, expected")"
echo "$check"

say "Recent executions"
"$bin" status --limit 5

if ! grep -q "exact, no id twice" <<<"$check"; then
    echo "demo.sh: the output does not match PostgreSQL's own transformation" >&2
    exit 1
fi

cat <<TXT

Done. The repository is at $DATABASE_URL
Try: $bin status, $bin jobs, or see the README for a failure and a restart.
Stop the private PostgreSQL with: scripts/postgres.sh stop
TXT
