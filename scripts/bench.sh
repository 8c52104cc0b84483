#!/usr/bin/env bash
# SwiftBatch benchmarks, each beside its PostgreSQL-native peer measured in the same run.
set -euo pipefail

usage() {
    cat <<'TXT'
Usage: scripts/bench.sh [--rows N] [--quick] [--only client|ledger|mt|remote|latency|metrics] [--worker-concurrency C]
                        [--latency] [--latency-hosts H] [--latency-grid G] [--latency-delays MS,MS...]

Builds in release mode, starts (or reuses) the private PostgreSQL, makes a fresh database
swiftbatch_bench on it (dropped and made again each run), and measures in ONE run:
  client round trip   `SELECT 1` through PostgresClient, unprepared and prepared,
                      against pgbench running the same query (-M simple and -M prepared)
  COPY throughput     N narrow rows (bigint, bigint, text) through PostgresClient's COPY,
                      against psql's own COPY FROM STDIN reading the same rows from a file
  ledger-etl          the benchmark workload (docs/BENCHMARKS.md) on N seeded rows,
                      grid 8, chunk 1000, with 1 and then 2 `swiftbatch worker` processes
                      (concurrency C each, default 2 as `worker`), against its two PostgreSQL peers:
                      INSERT ... SELECT, and the COPY pipe (psql COPY TO STDOUT | psql COPY
                      FROM STDIN); every run is checked against the reference aggregates
  ledger-etl-remote   the same workload by remote chunking (chunk 1000, in-flight 8): the
                      launcher reads and sends chunks, 1 and then 2 workers process and write
                      them; checked against the same reference
  coordination        noop-partitions partitions=10000 (2000 with --quick) with 2 workers, as
                      they run by default and with --synchronous-commit (each commit waits for
                      its fsync), after a VACUUM of the ledger's tables and a CHECKPOINT, so
                      what the ledger runs left pending does not land in it; await latency over small jobs; a claim with 1M (200,000
                      with --quick) finished partitions in history; launch overhead
  multi-threaded      (only with --only mt, instead of all the above) ledger-etl-mt threads=1, 2
                      and 4, chunk 1000, and ledger-etl --local-workers 4, against the same peers
  metrics             (only with --only metrics, instead of all the above) the cost of metrics:
                      ledger-etl with 2 worker processes, chunk 1000 and then chunk 100, the
                      workers started without and then with --metrics-port 0 (Prometheus
                      registry installed, every metric recorded), alternately, each run
                      checked against the reference; reports rows/s and the ratio on/off
  latency             (with --latency, or alone with --only latency; root only) ledger-etl on a
                      network test bed (scripts/testbed.sh): PostgreSQL, the launcher and H
                      worker hosts (default 2, concurrency C each) in network namespaces, all over
                      TCP; grid G (default 8), chunk 1000. Run straight to the server ("direct", for
                      reference), then through each host's delay proxy at 0, 1 and 5 ms one way
                      (--latency-delays): rows/s and the ratio to the proxy at 0 ms (the proxy's
                      own cost is in both), every run checked against the reference; the peak
                      count of server connections (pg_stat_activity, sampled every 0.2 s)
Each figure is the median of 3 runs (1 with --quick). Times are wall times of the whole
`swiftbatch launch` process (workers already running). Prints a Markdown table, writes the
same as JSON under bench-results/ and prints the JSON file's path as the last line.

Options: --rows N (default 1000000; --quick: 200000), --quick, --only client|ledger|mt|remote|latency
(remote: the ledger peers, ledger-etl and ledger-etl-remote only; latency: the latency figures only),
--worker-concurrency C (default 2, the worker's own default), --latency (add the latency
figures), --latency-hosts H (1 to 32, default 2), --latency-grid G (default 8),
--latency-delays LIST (one-way ms, comma-separated, default 0,1,5; 0 is the baseline and is
always run). For instance: scripts/bench.sh --quick --only latency, or
scripts/bench.sh --quick --only latency --latency-hosts 8 --latency-grid 32 --latency-delays 0
TXT
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
rows=""
repeats=3
quick=0
only=""
worker_concurrency=2
latency=0
latency_hosts=2
latency_grid=8
latency_delays=0,1,5
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) rows="$2"; shift 2 ;;
        --quick) quick=1; repeats=1; shift ;;
        --only) only="$2"; shift 2 ;;
        --worker-concurrency) worker_concurrency="$2"; shift 2 ;;
        --latency) latency=1; shift ;;
        --latency-hosts) latency_hosts="$2"; shift 2 ;;
        --latency-grid) latency_grid="$2"; shift 2 ;;
        --latency-delays) latency_delays="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "$rows" ]] || rows=$([[ $quick == 1 ]] && echo 200000 || echo 1000000)
[[ "$rows" =~ ^[0-9]+$ ]] || { echo "bench.sh: --rows takes a whole number" >&2; exit 2; }
[[ "$worker_concurrency" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --worker-concurrency takes a positive number" >&2; exit 2; }
[[ -z "$only" || "$only" == client || "$only" == ledger || "$only" == mt || "$only" == remote || "$only" == latency || "$only" == metrics ]] || { echo "bench.sh: --only takes client, ledger, mt, remote, latency or metrics" >&2; exit 2; }
[[ "$only" != latency ]] || latency=1
if ! [[ "$latency_hosts" =~ ^[1-9][0-9]*$ ]] || ((latency_hosts > 32)); then echo "bench.sh: --latency-hosts takes 1 to 32" >&2; exit 2; fi
[[ "$latency_grid" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --latency-grid takes a positive number" >&2; exit 2; }
[[ "$latency_delays" =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] || { echo "bench.sh: --latency-delays takes milliseconds, comma-separated (e.g. 0,1,5)" >&2; exit 2; }
if [[ "$latency" == 1 && $EUID -ne 0 ]]; then echo "bench.sh: --latency needs root (the test bed's network namespaces)" >&2; exit 2; fi

command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
PG_BIN=/usr/lib/postgresql/15/bin
url=""
if [[ "$only" != latency ]]; then
server_url="$(bash scripts/postgres.sh start | tail -n 1)"
server_url="${server_url#DATABASE_URL=}"
# A database of the run's own, made afresh: figures must not depend on the history (and the
# bloat) that earlier runs, tests or demos left in the server's main database.
"$PG_BIN/psql" "$server_url" -qAt -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS swiftbatch_bench" \
    -c "CREATE DATABASE swiftbatch_bench" >/dev/null
url="$(python3 -c '
import sys, urllib.parse as u
given = sys.argv[1]
if given.startswith(("postgres://", "postgresql://")):
    print(u.urlunsplit(u.urlsplit(given)._replace(path="/swiftbatch_bench")))
else:  # a conninfo string: a later dbname wins
    print(given + " dbname=swiftbatch_bench")
' "$server_url")"
fi
say() { printf '==> bench.sh: %s\n' "$*" >&2; }

say "building (release)"
[[ "$only" == latency ]] || swift build -c release --product swiftbatch-bench >&2
swift build -c release --product swiftbatch >&2
bindir="$(swift build -c release --show-bin-path)"
bin="$bindir/swiftbatch-bench"
swiftbatch="$bindir/swiftbatch"
work="$(mktemp -d)"
chmod 755 "$work"
workers=()
bed_up=0
cleanup() {
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do
        for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "$bed_up" == 1 ]]; then
        bash "$ROOT/scripts/testbed.sh" down >>"$work/testbed.log" 2>&1 || say "warning: testbed.sh down failed"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
json_field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
sql() { "$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN {print n / (e - s)}'; }
results="$work/results.txt"   # name=value lines, read by the report
: >"$results"
put() { echo "$1=$2" >>"$results"; }

client_bench() {
    sql -c "DROP TABLE IF EXISTS bench_copy" -c "CREATE TABLE bench_copy (id bigint, account_id bigint, memo text)" >/dev/null
    say "client round trip"
    local rt
    rt=$("$bin" roundtrip "$url" 20000)
    put client_roundtrip_us_p50 "$(sed -n 1p <<<"$rt" | json_field p50_us)"
    put client_roundtrip_prepared_us_p50 "$(sed -n 2p <<<"$rt" | json_field p50_us)"
    echo "SELECT 1;" >"$work/select1.sql"
    pgbench_latency() {
        # pgbench reports the mean latency of its transactions in ms; one client, one thread.
        "$PG_BIN/pgbench" -n -c 1 -j 1 -T 5 -M "$1" -f "$work/select1.sql" "$url" 2>/dev/null \
            | awk -F'= ' '/latency average/ {split($2, a, " "); print a[1] * 1000}'
    }
    put pgbench_roundtrip_us_mean "$(pgbench_latency simple)"
    put pgbench_roundtrip_prepared_us_mean "$(pgbench_latency prepared)"

    say "COPY of $rows rows"
    sql -c "COPY (SELECT g, g % 100000, 'payment ' || g FROM generate_series(1, $rows) g) TO STDOUT" >"$work/rows.tsv"
    local swift_copy=() psql_copy=() start end
    for _ in $(seq "$repeats"); do
        swift_copy+=("$("$bin" copy "$url" "$rows" | json_field rows_per_s)")
        sql -c "TRUNCATE bench_copy" >/dev/null
        start=$(now)
        sql -c "COPY bench_copy (id, account_id, memo) FROM STDIN" <"$work/rows.tsv" >/dev/null
        end=$(now)
        psql_copy+=("$(rate "$rows" "$start" "$end")")
    done
    put client_copy_rows_per_s "$(printf '%s\n' "${swift_copy[@]}" | median)"
    put psql_copy_rows_per_s "$(printf '%s\n' "${psql_copy[@]}" | median)"
    sql -c "DROP TABLE bench_copy" >/dev/null
    rm -f "$work/rows.tsv"
}

# The ledger-etl transformation in SQL (sql/bench/ledger-etl-reference.sql).
TRANSFORM="SELECT id, account_id, a, greatest(25, round(abs(a) * 0.0125))::bigint,
       abs(a) > 1000000 OR memo LIKE 'refund%', upper(memo)
FROM (SELECT id, account_id, memo,
             round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                                WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a
      FROM bench_txn) s"
AGGREGATES="SELECT count(*), sum(amount_eur_cents), sum(fee_cents), count(*) FILTER (WHERE flagged),
       count(*) - count(DISTINCT id) FROM bench_txn_out"

start_workers() { # count [worker options...]
    local i count=$1
    shift
    for i in $(seq "$count"); do
        DATABASE_URL="$url" "$swiftbatch" worker --concurrency "$worker_concurrency" "$@" >>"$work/workers.log" 2>&1 &
        workers+=("$!")
    done
    # Wait until they have registered, so no launch waits for a worker to come up.
    local deadline=$((SECONDS + 60))
    until [[ "$(sql -c "SELECT count(*) FROM batch_worker WHERE state = 'RUNNING' AND heartbeat_at > now() - interval '10 seconds'")" -ge "$count" ]]; do
        ((SECONDS < deadline)) || { say "error: workers did not register; see $work/workers.log"; cat "$work/workers.log" >&2; exit 1; }
        sleep 0.1
    done
}

stop_workers() {
    local pid
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
    workers=()
    sql -c "DELETE FROM batch_worker" >/dev/null
}

launch_timed() { # job params... ; prints seconds; fails loudly
    local start end
    start=$(now)
    if ! DATABASE_URL="$url" "$swiftbatch" launch "$@" --next >"$work/launch.log" 2>&1; then
        say "error: swiftbatch launch $* failed:"; cat "$work/launch.log" >&2; exit 1
    fi
    end=$(now)
    awk -v s="$start" -v e="$end" 'BEGIN {print e - s}'
}

# Seeds the ledger and measures its two peers; defines `check`, which compares bench_txn_out
# with the reference aggregates.
ledger_peers() {
    DATABASE_URL="$url" "$swiftbatch" migrate >/dev/null
    sql -c "DELETE FROM batch_worker" >/dev/null
    say "seeding $rows ledger rows"
    DATABASE_URL="$url" "$swiftbatch" launch ledger-seed rows="$rows" --next >/dev/null 2>&1

    local insert_select=() pipe=() start end got
    for _ in $(seq "$repeats"); do
        sql -c "TRUNCATE bench_txn_out" >/dev/null
        start=$(now)
        sql -c "INSERT INTO bench_txn_out $TRANSFORM" >/dev/null
        end=$(now)
        insert_select+=("$(rate "$rows" "$start" "$end")")
    done
    reference="$(sql -c "$AGGREGATES")"
    say "reference aggregates: $reference"
    check() { # what
        got="$(sql -c "$AGGREGATES")"
        [[ "$got" == "$reference" ]] || { say "error: $1 produced $got, the reference is $reference"; exit 1; }
    }
    for _ in $(seq "$repeats"); do
        sql -c "TRUNCATE bench_txn_out" >/dev/null
        start=$(now)
        sql -c "COPY ($TRANSFORM) TO STDOUT" | sql -c "COPY bench_txn_out FROM STDIN" >/dev/null
        end=$(now)
        check "the COPY pipe"
        pipe+=("$(rate "$rows" "$start" "$end")")
    done
    put insert_select_rows_per_s "$(printf '%s\n' "${insert_select[@]}" | median)"
    put copy_pipe_rows_per_s "$(printf '%s\n' "${pipe[@]}" | median)"
}

# ledger-etl-mt in the launcher, by threads; the step's own time would flatter it, so as for
# ledger-etl it is the wall time of the whole launch (its clear step included).
mt_bench() {
    ledger_peers
    local n runs seconds
    for n in 1 2 4; do
        say "ledger-etl-mt threads=$n"
        runs=()
        for _ in $(seq "$repeats"); do
            seconds=$(launch_timed ledger-etl-mt threads="$n" chunk=1000)
            check "ledger-etl-mt threads=$n"
            runs+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')")
        done
        put "ledger_etl_mt_${n}_rows_per_s" "$(printf '%s\n' "${runs[@]}" | median)"
    done
    # The partitioned step with as many threads, in the same run, for comparison.
    say "ledger-etl --local-workers 4"
    runs=()
    for _ in $(seq "$repeats"); do
        sql -c "TRUNCATE bench_txn_out" >/dev/null
        seconds=$(launch_timed ledger-etl grid=8 chunk=1000 --local-workers 4)
        check "ledger-etl --local-workers 4"
        runs+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')")
    done
    put ledger_etl_local_4_rows_per_s "$(printf '%s\n' "${runs[@]}" | median)"
}

ledger_bench() {
    ledger_peers
    local n runs seconds start end
    for n in 1 2; do
        say "ledger-etl with $n worker process(es), concurrency $worker_concurrency"
        start_workers "$n"
        runs=()
        for _ in $(seq "$repeats"); do
            sql -c "TRUNCATE bench_txn_out" >/dev/null
            seconds=$(launch_timed ledger-etl grid=8 chunk=1000)
            check "ledger-etl ($n workers)"
            runs+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')")
        done
        if [[ $n == 2 ]]; then
            local pid rss=0 hwm
            for pid in "${workers[@]}"; do
                hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
                ((hwm > rss)) && rss=$hwm
            done
            put worker_peak_rss_mib "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
        fi
        stop_workers
        put "ledger_etl_${n}_worker_rows_per_s" "$(printf '%s\n' "${runs[@]}" | median)"
    done

    for n in 1 2; do
        say "ledger-etl-remote with $n worker process(es), concurrency $worker_concurrency"
        start_workers "$n"
        runs=()
        for _ in $(seq "$repeats"); do
            seconds=$(launch_timed ledger-etl-remote chunk=1000 in-flight=8)
            check "ledger-etl-remote ($n workers)"
            runs+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')")
        done
        stop_workers
        put "ledger_etl_remote_${n}_worker_rows_per_s" "$(printf '%s\n' "${runs[@]}" | median)"
    done
    [[ "$only" != remote ]] || return 0

    local partitions=$([[ $quick == 1 ]] && echo 2000 || echo 10000)
    # The ledger runs above wrote gigabytes of WAL and millions of rows: without a vacuum of
    # their tables and a checkpoint here, the autovacuum and checkpoint they leave pending would
    # land in the middle of this measurement.
    sql -c "VACUUM ANALYZE bench_txn, bench_txn_out, batch_partition, batch_step_execution, batch_step_execution_context, batch_remote_chunk" \
        -c "CHECKPOINT" >/dev/null
    say "noop-partitions partitions=$partitions with 2 workers, then 2 with --synchronous-commit"
    local mode
    for mode in default synchronous; do
        if [[ $mode == default ]]; then start_workers 2; else start_workers 2 --synchronous-commit; fi
        runs=()
        for _ in $(seq "$repeats"); do
            seconds=$(launch_timed noop-partitions partitions="$partitions")
            runs+=("$(awk -v n="$partitions" -v s="$seconds" 'BEGIN {print n / s}')")
        done
        stop_workers
        if [[ $mode == default ]]; then
            put noop_partitions_per_s "$(printf '%s\n' "${runs[@]}" | median)"
        else
            put noop_partitions_synchronous_commit_per_s "$(printf '%s\n' "${runs[@]}" | median)"
        fi
    done
    put noop_partitions "$partitions"
    start_workers 2

    # Await latency: from the last partition's completion to the job's end, over small jobs.
    local jobs=$([[ $quick == 1 ]] && echo 20 || echo 40) first
    say "await latency over $jobs jobs of 4 partitions"
    first=$(sql -c "SELECT coalesce(max(job_execution_id), 0) FROM batch_job_execution")
    for _ in $(seq "$jobs"); do launch_timed noop-partitions partitions=4 >/dev/null; done
    sql -c "SELECT extract(epoch FROM e.end_time - max(s.end_time)) * 1000
            FROM batch_job_execution e JOIN batch_step_execution s ON s.job_execution_id = e.job_execution_id
            WHERE e.job_execution_id > $first AND strpos(s.step_name, ':') > 0
            GROUP BY e.job_execution_id, e.end_time" >"$work/await.txt"
    put await_latency_ms_p50 "$(sort -g "$work/await.txt" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    put await_latency_ms_p99 "$(sort -g "$work/await.txt" | awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); if (i>NR) i=NR; print a[i]}')"
    stop_workers

    # Launch overhead: a whole `swiftbatch launch` of a job with one do-nothing tasklet.
    runs=()
    for _ in $(seq 10); do runs+=("$(launch_timed noop)"); done
    put launch_overhead_ms "$(printf '%s\n' "${runs[@]}" | median | awk '{print $1 * 1000}')"

    # Claim latency with a million finished partitions in the history tables: the workers'
    # claim statement (prepared, as they run it), rolled back so every try finds the same row.
    local history=$([[ $quick == 1 ]] && echo 200000 || echo 1000000)
    say "claim latency with $history finished partitions in history"
    sql >/dev/null <<SQL
WITH e AS (SELECT max(job_execution_id) AS id FROM batch_job_execution),
     m AS (SELECT max(step_execution_id) AS id FROM batch_step_execution),
     steps AS (
         INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time,
                                           status, exit_code, last_updated)
         SELECT nextval('batch_step_execution_seq'), 1, 'history:p' || g, e.id, now(), 'COMPLETED', 'COMPLETED', now()
         FROM e, generate_series(1, $history) g
         RETURNING step_execution_id, job_execution_id)
INSERT INTO batch_partition (job_execution_id, manager_step_execution_id, step_execution_id, job_name, worker_step,
                             partition_name, state, attempt)
SELECT steps.job_execution_id, m.id, steps.step_execution_id, 'history', 'history/work', 'p' || steps.step_execution_id,
       'COMPLETED', 1
FROM steps, m;
WITH e AS (SELECT max(job_execution_id) AS id FROM batch_job_execution),
     m AS (SELECT max(step_execution_id) AS id FROM batch_step_execution WHERE step_name NOT LIKE 'history:%'),
     step AS (
         INSERT INTO batch_step_execution (step_execution_id, version, step_name, job_execution_id, create_time, status, exit_code, last_updated)
         SELECT nextval('batch_step_execution_seq'), 0, 'claim:p0', e.id, now(), 'STARTING', 'EXECUTING', now() FROM e
         RETURNING step_execution_id, job_execution_id)
INSERT INTO batch_partition (job_execution_id, manager_step_execution_id, step_execution_id, job_name, worker_step, partition_name)
SELECT step.job_execution_id, m.id, step.step_execution_id, 'claim', 'claim/work', 'p0' FROM step, m;
VACUUM ANALYZE batch_partition;
SQL
    cat >"$work/claim.sql" <<'SQL'
BEGIN;
WITH candidates AS MATERIALIZED (
    SELECT c.partition_id
    FROM unnest(string_to_array('claim/work', ',')) AS served(step)
    CROSS JOIN LATERAL (
        SELECT partition_id FROM batch_partition
        WHERE worker_step = served.step AND state IN ('READY', 'CLAIMED')
          AND (state = 'READY' OR (lease_expires_at < now() AND attempt < max_attempts))
        ORDER BY worker_step, state, partition_id LIMIT 4 FOR UPDATE SKIP LOCKED) c
    LIMIT 4)
UPDATE batch_partition p SET state = 'CLAIMED', owner = 'bench', attempt = p.attempt + 1,
    lease_expires_at = now() + make_interval(secs => 30), updated_at = now()
FROM candidates c WHERE p.partition_id = c.partition_id
RETURNING p.partition_id, p.step_execution_id, p.job_execution_id, p.job_name, p.worker_step, p.partition_name,
          p.attempt, p.max_attempts, (SELECT e.status FROM batch_job_execution e WHERE e.job_execution_id = p.job_execution_id);
ROLLBACK;
SQL
    (cd "$work" && "$PG_BIN/pgbench" -n -c 1 -j 1 -T 5 -M prepared -f claim.sql --log --log-prefix=claim "$url" >/dev/null 2>&1)
    # pgbench's log: one line per transaction, latency in microseconds in the third column.
    put claim_history "$history"
    put claim_latency_ms_p50 "$(cat "$work"/claim.* | awk '{print $3 / 1000}' | median)"
    sql -c "DELETE FROM batch_partition WHERE job_name IN ('history', 'claim')" \
        -c "DELETE FROM batch_step_execution WHERE step_name LIKE 'history:%' OR step_name = 'claim:p0'" >/dev/null
}

# ledger-etl on a network test bed: the launcher and the workers on hosts of their own, over
# TCP, straight to the server and then through each host's delay proxy at each delay.
latency_bench() {
    local tb=(bash "$ROOT/scripts/testbed.sh") hosts=() host i mode runs seconds start end bed_url ref got
    export TESTBED_DIR="$work/testbed"
    TESTBED_NAME="sbtb-bench-$(printf '%s' "$ROOT" | md5sum | cut -c1-6)-$$"
    export TESTBED_NAME
    for ((i = 1; i <= latency_hosts; i++)); do hosts+=("h$i"); done
    say "latency: a test bed of $latency_hosts worker hosts"
    bed_up=1
    "${tb[@]}" up --hosts "$latency_hosts" >>"$work/testbed.log" 2>&1 || { tail -n 20 "$work/testbed.log" >&2; say "error: testbed.sh up failed"; exit 1; }
    bed_url="$("${tb[@]}" url control)"
    bsql() { timeout 300 "$PG_BIN/psql" "$bed_url" -qAtX -v ON_ERROR_STOP=1 "$@"; }
    DATABASE_URL="$bed_url" "$swiftbatch" migrate >/dev/null
    say "latency: seeding $rows ledger rows on the bed"
    DATABASE_URL="$bed_url" "$swiftbatch" launch ledger-seed rows="$rows" --next >/dev/null 2>&1
    bsql -c "INSERT INTO bench_txn_out $TRANSFORM" >/dev/null
    ref="$(bsql -c "$AGGREGATES")"
    # Server connections, sampled while the runs go on; the peak is kept.
    (
        peak=0
        while [[ ! -f "$work/stop-sampler" ]]; do
            n="$(timeout 10 "$PG_BIN/psql" "$bed_url" -qAtX -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()" 2>/dev/null || echo 0)"
            ((n > peak)) && { peak=$n; echo "$peak" >"$work/peak-connections"; }
            sleep 0.2
        done
    ) &
    local sampler=$!
    bed_workers() { # start a worker on every host (through its proxy when it has one)
        local h deadline=$((SECONDS + 120))
        for h in "${hosts[@]}"; do
            "${tb[@]}" exec "$h" -- "$swiftbatch" worker --concurrency "$worker_concurrency" >>"$work/bed-workers.log" 2>&1 &
            workers+=("$!")
        done
        until [[ "$(bsql -c "SELECT count(*) FROM batch_worker WHERE state = 'RUNNING' AND heartbeat_at > now() - interval '10 seconds'")" -ge "$latency_hosts" ]]; do
            ((SECONDS < deadline)) || { say "error: the bed's workers did not register; see $work/bed-workers.log"; tail -n 20 "$work/bed-workers.log" >&2; exit 1; }
            sleep 0.2
        done
    }
    bed_stop_workers() {
        local pid
        for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
        for pid in "${workers[@]}"; do
            for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
            wait "$pid" 2>/dev/null || true
        done
        workers=()
        bsql -c "DELETE FROM batch_worker" >/dev/null
    }
    for mode in direct $(tr ',' '\n' <<<"0,$latency_delays" | awk '!seen[$0 + 0]++'); do
        if [[ "$mode" == direct ]]; then
            say "latency: ledger-etl, $latency_hosts worker hosts, grid $latency_grid, straight to the server"
            bed_workers
        else
            say "latency: ledger-etl, $latency_hosts worker hosts, grid $latency_grid, through the proxies at $mode ms one way"
            for host in launcher "${hosts[@]}"; do "${tb[@]}" delay "$host" "$mode" >>"$work/testbed.log" 2>&1 || { say "error: testbed.sh delay $host $mode failed"; exit 1; }; done
            # Workers started after the proxies connect through them; a delay change applies at once.
            ((${#workers[@]} > 0)) || bed_workers
        fi
        runs=()
        for _ in $(seq "$repeats"); do
            bsql -c "TRUNCATE bench_txn_out" >/dev/null
            start=$(now)
            if ! timeout 1800 "${tb[@]}" exec launcher -- "$swiftbatch" launch ledger-etl grid="$latency_grid" chunk=1000 --next >"$work/launch.log" 2>&1; then
                say "error: ledger-etl on the bed ($mode) failed:"; cat "$work/launch.log" >&2; exit 1
            fi
            end=$(now)
            got="$(bsql -c "$AGGREGATES")"
            [[ "$got" == "$ref" ]] || { say "error: ledger-etl on the bed ($mode) produced $got, the reference is $ref"; exit 1; }
            runs+=("$(rate "$rows" "$start" "$end")")
        done
        [[ "$mode" == direct ]] && bed_stop_workers
        put "latency_${mode//./_}_rows_per_s" "$(printf '%s\n' "${runs[@]}" | median)"
    done
    bed_stop_workers
    touch "$work/stop-sampler"
    wait "$sampler" 2>/dev/null || true
    put latency_hosts "$latency_hosts"
    put latency_grid "$latency_grid"
    put latency_peak_connections "$(cat "$work/peak-connections" 2>/dev/null || echo 0)"
    say "latency: reference aggregates $ref matched by every run; peak server connections $(cat "$work/peak-connections" 2>/dev/null || echo 0)"
    "${tb[@]}" down >>"$work/testbed.log" 2>&1 || say "warning: testbed.sh down failed"
    bed_up=0
}

# The cost of metrics: the same ledger-etl runs with the workers' metrics off and on,
# alternating so that drift in the machine's speed falls on both alike.
metrics_bench() {
    ledger_peers
    local chunk mode runs_off runs_on seconds
    for chunk in 1000 100; do
        runs_off=() runs_on=()
        for _ in $(seq "$repeats"); do
            for mode in off on; do
                say "ledger-etl chunk=$chunk, 2 workers, metrics $mode"
                if [[ $mode == on ]]; then start_workers 2 --metrics-port 0; else start_workers 2; fi
                sql -c "TRUNCATE bench_txn_out" >/dev/null
                seconds=$(launch_timed ledger-etl grid=8 chunk="$chunk")
                check "ledger-etl chunk=$chunk metrics $mode"
                stop_workers
                if [[ $mode == on ]]; then runs_on+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')")
                else runs_off+=("$(awk -v n="$rows" -v s="$seconds" 'BEGIN {print n / s}')"); fi
            done
        done
        put "metrics_off_chunk_${chunk}_rows_per_s" "$(printf '%s\n' "${runs_off[@]}" | median)"
        put "metrics_on_chunk_${chunk}_rows_per_s" "$(printf '%s\n' "${runs_on[@]}" | median)"
    done
}

if [[ "$only" == mt ]]; then
    mt_bench
elif [[ "$only" == metrics ]]; then
    metrics_bench
elif [[ "$only" != latency ]]; then
    [[ "$only" == ledger || "$only" == remote ]] || client_bench
    [[ "$only" == client ]] || ledger_bench
fi
[[ "$latency" == 0 ]] || latency_bench

mkdir -p bench-results
out="$ROOT/bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$out" "$results" "$rows" "$repeats" "$worker_concurrency" <<'PY'
import json, sys
out, results, rows, repeats, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = {"rows": rows, "repeats": repeats, "worker_concurrency": conc}
for line in open(results):
    k, v = line.strip().split("=", 1)
    r[k] = float(v)
if "client_copy_rows_per_s" in r:
    r["client_copy_ratio_to_psql"] = r["client_copy_rows_per_s"] / r["psql_copy_rows_per_s"]
if "ledger_etl_1_worker_rows_per_s" in r:
    for n, key in ((1, "ledger_etl_1_worker"), (2, "ledger_etl_2_workers"),
                   (1, "ledger_etl_remote_1_worker"), (2, "ledger_etl_remote_2_workers")):
        kind = "ledger_etl_remote" if "remote" in key else "ledger_etl"
        r[key + "_rows_per_s"] = r.pop(f"{kind}_{n}_worker_rows_per_s")
        r[key + "_ratio_to_copy_pipe"] = r[key + "_rows_per_s"] / r["copy_pipe_rows_per_s"]
        r[key + "_ratio_to_insert_select"] = r[key + "_rows_per_s"] / r["insert_select_rows_per_s"]
json.dump(r, open(out, "w"), indent=2)
print("| figure | SwiftBatch | peer (same run) | ratio |")
print("|---|---|---|---|")
if "client_roundtrip_us_p50" in r:
    print(f"| round trip, SELECT 1 (us) | {r['client_roundtrip_us_p50']:.1f} (p50) | pgbench -M simple {r['pgbench_roundtrip_us_mean']:.1f} (mean) | {r['client_roundtrip_us_p50']/r['pgbench_roundtrip_us_mean']:.2f}x |")
    print(f"| round trip, prepared (us) | {r['client_roundtrip_prepared_us_p50']:.1f} (p50) | pgbench -M prepared {r['pgbench_roundtrip_prepared_us_mean']:.1f} (mean) | {r['client_roundtrip_prepared_us_p50']/r['pgbench_roundtrip_prepared_us_mean']:.2f}x |")
    print(f"| COPY {rows:,} narrow rows (rows/s) | {r['client_copy_rows_per_s']:,.0f} | psql COPY FROM STDIN {r['psql_copy_rows_per_s']:,.0f} | {r['client_copy_ratio_to_psql']:.2f}x |")
if "copy_pipe_rows_per_s" in r:
    pipe, ins = r["copy_pipe_rows_per_s"], r["insert_select_rows_per_s"]
    print(f"| ledger-etl peer: COPY pipe (rows/s) | - | {pipe:,.0f} | 1.00x |")
    print(f"| ledger-etl peer: INSERT ... SELECT (rows/s) | - | {ins:,.0f} | {ins/pipe:.2f}x of the pipe |")
    for n in (1, 2, 4):
        if f"ledger_etl_mt_{n}_rows_per_s" in r:
            v = r[f"ledger_etl_mt_{n}_rows_per_s"]
            print(f"| ledger-etl-mt {rows:,} rows, threads={n} (rows/s) | {v:,.0f} | COPY pipe {pipe:,.0f} | {v/pipe:.2f}x (INSERT ... SELECT: {v/ins:.2f}x) |")
    if "ledger_etl_local_4_rows_per_s" in r:
        v = r["ledger_etl_local_4_rows_per_s"]
        print(f"| ledger-etl {rows:,} rows, --local-workers 4 (rows/s) | {v:,.0f} | COPY pipe {pipe:,.0f} | {v/pipe:.2f}x (INSERT ... SELECT: {v/ins:.2f}x) |")
for chunk in (1000, 100):
    if f"metrics_off_chunk_{chunk}_rows_per_s" in r:
        off, on = r[f"metrics_off_chunk_{chunk}_rows_per_s"], r[f"metrics_on_chunk_{chunk}_rows_per_s"]
        print(f"| ledger-etl {rows:,} rows, 2 workers, chunk {chunk}, metrics on (rows/s) | {on:,.0f} | metrics off {off:,.0f} | {on/off:.3f}x |")
if "latency_0_rows_per_s" in r:
    base, hosts, grid = r["latency_0_rows_per_s"], int(r["latency_hosts"]), int(r["latency_grid"])
    delays = sorted(float(k[len("latency_"):-len("_rows_per_s")].replace("_", ".")) for k in r
                    if k.startswith("latency_") and k.endswith("_rows_per_s") and k != "latency_direct_rows_per_s")
    for d in delays:
        v = r["latency_" + f"{d:g}".replace(".", "_") + "_rows_per_s"]
        print(f"| ledger-etl {rows:,} rows on the test bed, {hosts} worker hosts x concurrency {conc}, grid {grid}, proxy at {d:g} ms one way (rows/s) | {v:,.0f} | proxy at 0 ms {base:,.0f} | {v/base:.2f}x |")
    v = r["latency_direct_rows_per_s"]
    print(f"| the same, straight to the server, no proxy (rows/s) | {v:,.0f} | proxy at 0 ms {base:,.0f} | {v/base:.2f}x |")
    print(f"| peak server connections during those runs (pg_stat_activity) | {int(r['latency_peak_connections'])} | - | - |")
if "ledger_etl_1_worker_rows_per_s" in r:
    for label, key in (("1 worker", "ledger_etl_1_worker"), ("2 workers", "ledger_etl_2_workers")):
        v = r[key + "_rows_per_s"]
        print(f"| ledger-etl {rows:,} rows, {label} x concurrency {conc} (rows/s) | {v:,.0f} | COPY pipe {pipe:,.0f} | {v/pipe:.2f}x (INSERT ... SELECT: {v/ins:.2f}x) |")
    for label, key in (("1 worker", "ledger_etl_remote_1_worker"), ("2 workers", "ledger_etl_remote_2_workers")):
        v = r[key + "_rows_per_s"]
        print(f"| ledger-etl-remote {rows:,} rows, {label} x concurrency {conc} (rows/s) | {v:,.0f} | COPY pipe {pipe:,.0f} | {v/pipe:.2f}x (INSERT ... SELECT: {v/ins:.2f}x) |")
    if "noop_partitions" not in r:
        sys.exit(0)
    print(f"| noop-partitions partitions={int(r['noop_partitions'])}, 2 workers (partitions/s) | {r['noop_partitions_per_s']:,.0f} | target 1,500 | {r['noop_partitions_per_s']/1500:.2f}x |")
    print(f"| the same, workers with --synchronous-commit (partitions/s) | {r['noop_partitions_synchronous_commit_per_s']:,.0f} | target 1,500 | {r['noop_partitions_synchronous_commit_per_s']/1500:.2f}x |")
    print(f"| await latency, last partition to job end (ms) | p50 {r['await_latency_ms_p50']:.1f}, p99 {r['await_latency_ms_p99']:.1f} | target p50 20, p99 100 | - |")
    print(f"| claim with {int(r['claim_history']):,} finished partitions in history (ms) | p50 {r['claim_latency_ms_p50']:.3f} | target 2 | - |")
    print(f"| launch overhead, a one-tasklet job (ms, whole process) | {r['launch_overhead_ms']:.0f} | - | - |")
    print(f"| worker peak RSS at chunk 1000 (MiB) | {r['worker_peak_rss_mib']:.1f} | target 64 | - |")
PY
echo "$out"
