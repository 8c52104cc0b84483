#!/usr/bin/env bash
# SwiftBatch benchmarks, each beside its peer measured in the same run, repeated: every figure
# is printed as median [min-max] over the repeats, every ratio as the median of per-repeat ratios.
set -euo pipefail

usage() {
    cat <<'TXT'
Usage: scripts/bench.sh [--quick] [--repeats N] [--rows N[,N...]] [--workers N[,N...]]
                        [--only client|ledger|remote|coordination|mt|latency|metrics] [--no-nio]
                        [--worker-concurrency C] [--latency] [--latency-hosts H]
                        [--latency-grid G] [--latency-delays MS,MS...]

Builds in release mode, starts (or reuses) the private PostgreSQL, makes a fresh database
swiftbatch_bench on it (dropped and made again each run), and measures in ONE run, each
figure R times (--repeats) in rounds: a round measures a figure's peer and then the figure,
so every ratio is taken between two measurements made a few seconds apart.
  client              PostgresClient (Sources/swiftbatch-bench) beside postgres-nio
                      (bench/peers/postgres-nio-peer, built on demand; --no-nio skips it) and
                      PostgreSQL's own tools, same server, same queries:
                      round trip: p50 of `SELECT 1`, unprepared and prepared, against pgbench
                      (-M extended and -M prepared, p50 from its per-transaction log);
                      read: 1,000,000 (--quick: 200,000) generated narrow rows (bigint, bigint,
                      text) decoded, streamed row by row and fetched whole, against
                      postgres-nio's row sequence; COPY: as many narrow rows through COPY FROM
                      STDIN, against psql's COPY reading the same rows from a file and
                      postgres-nio's copyFrom
  ledger              for each size of --rows: seed the ledger, then per round the two peers
                      (the COPY pipe: psql COPY TO STDOUT | psql COPY FROM STDIN, and
                      INSERT ... SELECT) and ledger-etl grid 8 chunk 1000 with each count of
                      `swiftbatch worker` processes of --workers (concurrency C each); at the
                      first size also ledger-etl-remote (chunk 1000, in-flight 8) with 1 and 2
                      workers; every run checked against the reference aggregates; worker
                      peak RSS (VmHWM); the scaling table: rows/s and microseconds per row by
                      size and worker count, beside the COPY pipe's
  coordination        noop-partitions partitions=P (10000; 2000 with --quick) with each count
                      of --workers, and with 2 workers run with --synchronous-commit, after a
                      VACUUM and a CHECKPOINT; ms per partition; await latency (last partition
                      to job end, p50 and p99 per round); a claim with 1M (200,000 with --quick)
                      finished partitions in history; launch overhead (a one-tasklet job)
  multi-threaded      (only with --only mt, instead of all the above) ledger-etl-mt threads=1, 2
                      and 4, chunk 1000, and ledger-etl --local-workers 4, against the same peers
  metrics             (only with --only metrics) ledger-etl on 2 workers with their Prometheus
                      endpoint off, then on (--metrics-port 0), at chunk 1000 and 100 in each
                      round: rows/s and the ratio on/off (the cost of metrics on the hot path)
  latency             (with --latency, or alone with --only latency; root only) ledger-etl on a
                      network test bed (scripts/testbed.sh): PostgreSQL, the launcher and H
                      worker hosts (default 2, concurrency C each) in network namespaces, all over
                      TCP; grid G (default 8), chunk 1000. Run straight to the server ("direct"),
                      then through each host's delay proxy at 0, 1 and 5 ms one way
                      (--latency-delays): rows/s and the ratio to the proxy at 0 ms; the peak
                      count of server connections (pg_stat_activity, sampled every 0.2 s)
Times are wall times of the whole `swiftbatch launch` process (workers already running).
Prints Markdown tables, writes every sample and summary as JSON under bench-results/ and
prints the JSON file's path as the last line.

Options:
  --quick                 smaller sizes (ledger 200,000 rows, one size; client 200,000 rows;
                          P 2000; 5,000 round trips; history 200,000): under three minutes on
                          a 2-core machine once built
  --repeats N             rounds per figure (default 3, also with --quick)
  --rows N[,N...]         ledger sizes (default 1000000,10000000; --quick: 200000); the first
                          size is the one of the main table, every size is in the scaling table
  --workers N[,N...]      worker process counts (default 1,2,4)
  --only WHAT             client; ledger (ledger and coordination); remote (ledger only);
                          coordination; mt; latency
  --no-nio                do not build nor run the postgres-nio peer
  --worker-concurrency C  slots per worker process (default 2, the worker's own default)
  --latency, --latency-hosts H (1 to 32, default 2), --latency-grid G (default 8),
  --latency-delays LIST (one-way ms, comma-separated, default 0,1,5; 0 is always run)
For instance: scripts/bench.sh --quick; scripts/bench.sh --only client --repeats 5;
scripts/bench.sh --only remote --rows 1000000,4000000 --workers 1,2;
scripts/bench.sh --quick --only latency --latency-hosts 8 --latency-grid 32 --latency-delays 0
TXT
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
rows=""
repeats=3
quick=0
only=""
nio=1
worker_counts=1,2,4
worker_concurrency=2
latency=0
latency_hosts=2
latency_grid=8
latency_delays=0,1,5
need() { [[ $# -ge 2 ]] || { echo "bench.sh: $1 needs a value (see --help)" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) need "$@"; rows="$2"; shift 2 ;;
        --repeats) need "$@"; repeats="$2"; shift 2 ;;
        --workers) need "$@"; worker_counts="$2"; shift 2 ;;
        --quick) quick=1; shift ;;
        --only) need "$@"; only="$2"; shift 2 ;;
        --no-nio) nio=0; shift ;;
        --worker-concurrency) need "$@"; worker_concurrency="$2"; shift 2 ;;
        --latency) latency=1; shift ;;
        --latency-hosts) need "$@"; latency_hosts="$2"; shift 2 ;;
        --latency-grid) need "$@"; latency_grid="$2"; shift 2 ;;
        --latency-delays) need "$@"; latency_delays="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "$rows" ]] || rows=$([[ $quick == 1 ]] && echo 200000 || echo 1000000,10000000)
[[ "$rows" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "bench.sh: --rows takes positive whole numbers, comma-separated (e.g. 1000000,10000000), not '$rows'" >&2; exit 2; }
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --repeats takes a positive whole number, not '$repeats'" >&2; exit 2; }
[[ "$worker_counts" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || { echo "bench.sh: --workers takes positive process counts, comma-separated (e.g. 1,2,4), not '$worker_counts'" >&2; exit 2; }
[[ "$worker_concurrency" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --worker-concurrency takes a positive number" >&2; exit 2; }
case "$only" in ""|client|ledger|remote|coordination|mt|latency|metrics) ;; *) echo "bench.sh: --only takes client, ledger, remote, coordination, mt, latency or metrics, not '$only'" >&2; exit 2 ;; esac
[[ "$only" != latency ]] || latency=1
if ! [[ "$latency_hosts" =~ ^[1-9][0-9]*$ ]] || ((latency_hosts > 32)); then echo "bench.sh: --latency-hosts takes 1 to 32" >&2; exit 2; fi
[[ "$latency_grid" =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: --latency-grid takes a positive number" >&2; exit 2; }
[[ "$latency_delays" =~ ^[0-9]+(\.[0-9]+)?(,[0-9]+(\.[0-9]+)?)*$ ]] || { echo "bench.sh: --latency-delays takes milliseconds, comma-separated (e.g. 0,1,5)" >&2; exit 2; }
if [[ "$latency" == 1 && $EUID -ne 0 ]]; then echo "bench.sh: --latency needs root (the test bed's network namespaces)" >&2; exit 2; fi
IFS=, read -r -a sizes <<<"$rows"
IFS=, read -r -a wcounts <<<"$worker_counts"
main_rows=${sizes[0]}
do_client=0; do_ledger=0; do_coord=0; do_mt=0; do_metrics=0
case "$only" in
    "") do_client=1; do_ledger=1; do_coord=1 ;;
    client) do_client=1 ;;
    ledger) do_ledger=1; do_coord=1 ;;
    remote) do_ledger=1 ;;
    coordination) do_coord=1 ;;
    mt) do_mt=1 ;;
    metrics) do_metrics=1 ;;
esac
# Sizes that depend on --quick.
if [[ $quick == 1 ]]; then
    rt_iterations=5000; client_rows=200000; partitions=2000; await_jobs=10; history=200000; claim_seconds=2; launches=5
else
    rt_iterations=20000; client_rows=1000000; partitions=10000; await_jobs=20; history=1000000; claim_seconds=5; launches=10
fi

command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
PG_BIN=/usr/lib/postgresql/15/bin
say() { printf '==> bench.sh: %s\n' "$*" >&2; }
bench_start=$SECONDS
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

say "building (release)"
[[ $do_client == 0 ]] || swift build -c release --product swiftbatch-bench >&2
swift build -c release --product swiftbatch >&2
bindir="$(swift build -c release --show-bin-path)"
bin="$bindir/swiftbatch-bench"
swiftbatch="$bindir/swiftbatch"
work="$(mktemp -d)"
chmod 755 "$work"

# The postgres-nio peer: a package of its own, built here on demand. A build that fails (no
# copy of postgres-nio on this machine, say) skips its rows with the reason; it never fails the run.
nio_bin=""
nio_skipped=""
if [[ $do_client == 1 ]]; then
    nio_dir="$ROOT/bench/peers/postgres-nio-peer"
    if [[ $nio == 0 ]]; then
        nio_skipped="--no-nio"
    elif [[ "$url" != postgres://* && "$url" != postgresql://* ]]; then
        nio_skipped="the server's address is not a postgres:// URL, which the peer takes"
    else
        say "building the postgres-nio peer (release; the first build takes several minutes)"
        if swift build -c release --package-path "$nio_dir" --scratch-path "$nio_dir/.build" >"$work/nio-build.log" 2>&1; then
            nio_bin="$(swift build -c release --package-path "$nio_dir" --scratch-path "$nio_dir/.build" --show-bin-path)/nio-peer"
        else
            nio_skipped="its build failed: $(grep -m1 -i 'error' "$work/nio-build.log" || tail -n 1 "$work/nio-build.log")"
        fi
    fi
    [[ -z "$nio_skipped" ]] || say "postgres-nio peer skipped: $nio_skipped"
fi
build_seconds=$((SECONDS - bench_start))

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

json_field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }
sql() { "$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 "$@"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN {print n / (e - s)}'; }
p50() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p99() { sort -g | awk '{a[NR]=$1} END {i=int(NR*0.99+0.999); if (i>NR) i=NR; print a[i]}'; }
results="$work/results.txt"   # name=value lines, one per sample, in the order measured
: >"$results"
put() { # name value: one sample; a missing or non-numeric value stops the run
    [[ "$2" =~ ^-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$ ]] || { say "error: no figure for $1 (got '$2'); see the messages above"; exit 1; }
    echo "$1=$2" >>"$results"
}
# Runs a command of the postgres-nio peer into $work/nio.out. A failure (a server it cannot
# speak to, say) skips the peer's remaining rows with the reason instead of failing the run.
nio_run() {
    [[ -n "$nio_bin" ]] || return 1
    if "$nio_bin" "$@" >"$work/nio.out" 2>"$work/nio.err"; then return 0; fi
    nio_skipped="nio-peer $1 failed: $(tail -n 1 "$work/nio.err")"
    say "postgres-nio peer skipped from here on: $nio_skipped"
    nio_bin=""
    return 1
}
nio_field() { sed -n "${2:-1}p" "$work/nio.out" | json_field "$1"; }

# ---------------------------------------------------------------------------------------------
# Client figures: ours, postgres-nio's and PostgreSQL's own tools, per round.

client_bench() {
    local r rt line
    sql -c "DROP TABLE IF EXISTS bench_copy" -c "CREATE TABLE bench_copy (id bigint, account_id bigint, memo text)" >/dev/null
    echo "SELECT 1;" >"$work/select1.sql"
    pgbench_p50() { # mode: p50 latency (us) from pgbench's per-transaction log
        rm -f "$work"/rt.*
        (cd "$work" && "$PG_BIN/pgbench" -n -c 1 -j 1 -t "$rt_iterations" -M "$1" -f select1.sql --log --log-prefix=rt "$url" >/dev/null 2>&1)
        cat "$work"/rt.* | awk '{print $3}' | p50
        rm -f "$work"/rt.*
    }
    say "client round trips: $rt_iterations x SELECT 1 each, $repeats rounds"
    for r in $(seq "$repeats"); do
        put rt_pgbench_us "$(pgbench_p50 extended)"
        put rt_pgbench_prepared_us "$(pgbench_p50 prepared)"
        rt=$("$bin" roundtrip "$url" "$rt_iterations")
        put rt_swift_us "$(sed -n 1p <<<"$rt" | json_field p50_us)"
        put rt_swift_prepared_us "$(sed -n 2p <<<"$rt" | json_field p50_us)"
        if nio_run roundtrip "$url" "$rt_iterations"; then
            put rt_nio_us "$(nio_field p50_us 1)"
            put rt_nio_prepared_us "$(nio_field p50_us 2)"
        fi
    done

    say "client read: $client_rows generated rows decoded, $repeats rounds"
    for r in $(seq "$repeats"); do
        ! nio_run stream "$url" "$client_rows" || put read_nio_rows_per_s "$(nio_field rows_per_s)"
        put read_swift_stream_rows_per_s "$("$bin" stream "$url" "$client_rows" | json_field rows_per_s)"
        put read_swift_whole_rows_per_s "$("$bin" query "$url" "$client_rows" | json_field rows_per_s)"
    done

    say "client COPY of $client_rows rows, $repeats rounds"
    sql -c "COPY (SELECT g, g % 100000, 'payment ' || g FROM generate_series(1, $client_rows) g) TO STDOUT" >"$work/rows.tsv"
    local start end
    for r in $(seq "$repeats"); do
        sql -c "TRUNCATE bench_copy" >/dev/null
        start=$(now)
        sql -c "COPY bench_copy (id, account_id, memo) FROM STDIN" <"$work/rows.tsv" >/dev/null
        end=$(now)
        put copy_psql_rows_per_s "$(rate "$client_rows" "$start" "$end")"
        put copy_swift_rows_per_s "$("$bin" copy "$url" "$client_rows" | json_field rows_per_s)"
        ! nio_run copy "$url" "$client_rows" || put copy_nio_rows_per_s "$(nio_field rows_per_s)"
    done
    sql -c "DROP TABLE bench_copy" >/dev/null
    rm -f "$work/rows.tsv"
}

# ---------------------------------------------------------------------------------------------
# The ledger-etl workload.

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

# The largest peak RSS (VmHWM, MiB) of the running workers.
workers_peak_rss_mib() {
    local pid rss=0 hwm
    for pid in "${workers[@]}"; do
        hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
        ((hwm > rss)) && rss=$hwm
    done
    awk -v k="$rss" 'BEGIN {print k / 1024}'
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

# Seeds the ledger with N rows and takes its reference aggregates; defines `check`, which
# compares bench_txn_out with them.
seed_ledger() { # rows
    local n=$1
    DATABASE_URL="$url" "$swiftbatch" migrate >/dev/null
    sql -c "DELETE FROM batch_worker" >/dev/null
    say "seeding $n ledger rows"
    DATABASE_URL="$url" "$swiftbatch" launch ledger-seed rows="$n" --next >/dev/null 2>&1
    sql -c "INSERT INTO bench_txn_out $TRANSFORM" >/dev/null
    reference="$(sql -c "$AGGREGATES")"
    say "reference aggregates: $reference"
    sql -c "TRUNCATE bench_txn_out" -c "VACUUM ANALYZE bench_txn_out" -c "CHECKPOINT" >/dev/null
}
check() { # what
    local got
    got="$(sql -c "$AGGREGATES")"
    [[ "$got" == "$reference" ]] || { say "error: $1 produced $got, the reference is $reference"; exit 1; }
}

# The two peers once each, recorded under the size's names.
ledger_peer_round() { # rows
    local n=$1 start end
    sql -c "TRUNCATE bench_txn_out" >/dev/null
    start=$(now)
    sql -c "COPY ($TRANSFORM) TO STDOUT" | sql -c "COPY bench_txn_out FROM STDIN" >/dev/null
    end=$(now)
    check "the COPY pipe"
    put "pipe_${n}_rows_per_s" "$(rate "$n" "$start" "$end")"
    sql -c "TRUNCATE bench_txn_out" >/dev/null
    start=$(now)
    sql -c "INSERT INTO bench_txn_out $TRANSFORM" >/dev/null
    end=$(now)
    put "insert_${n}_rows_per_s" "$(rate "$n" "$start" "$end")"
}

# One timed launch with the workers already running, checked; prints rows/s.
ledger_run() { # rows what job params...
    local n=$1 what=$2 seconds
    shift 2
    sql -c "TRUNCATE bench_txn_out" >/dev/null
    seconds=$(launch_timed "$@")
    check "$what"
    awk -v n="$n" -v s="$seconds" 'BEGIN {print n / s}'
}

ledger_bench() {
    local n w r
    for n in "${sizes[@]}"; do
        seed_ledger "$n"
        for r in $(seq "$repeats"); do
            say "ledger $n rows, round $r of $repeats: the peers, ledger-etl with ${worker_counts} worker process(es)$([[ $n == "$main_rows" ]] && echo ", ledger-etl-remote with 1 and 2")"
            ledger_peer_round "$n"
            for w in "${wcounts[@]}"; do
                start_workers "$w"
                put "etl_${n}_w${w}_rows_per_s" "$(ledger_run "$n" "ledger-etl ($w workers)" ledger-etl grid=8 chunk=1000)"
                put "etl_${n}_w${w}_rss_mib" "$(workers_peak_rss_mib)"
                stop_workers
            done
            [[ $n == "$main_rows" ]] || continue
            for w in 1 2; do
                start_workers "$w"
                put "remote_${n}_w${w}_rows_per_s" "$(ledger_run "$n" "ledger-etl-remote ($w workers)" ledger-etl-remote chunk=1000 in-flight=8)"
                stop_workers
            done
        done
    done
}

# ledger-etl-mt in the launcher, by threads; the step's own time would flatter it, so as for
# ledger-etl it is the wall time of the whole launch (its clear step included).
mt_bench() {
    local n=$main_rows t r
    seed_ledger "$n"
    for r in $(seq "$repeats"); do
        say "multi-threaded, round $r of $repeats: the peers, ledger-etl-mt threads=1, 2, 4, ledger-etl --local-workers 4"
        ledger_peer_round "$n"
        for t in 1 2 4; do
            put "mt_${n}_t${t}_rows_per_s" "$(ledger_run "$n" "ledger-etl-mt threads=$t" ledger-etl-mt threads="$t" chunk=1000)"
        done
        put "local4_${n}_rows_per_s" "$(ledger_run "$n" "ledger-etl --local-workers 4" ledger-etl grid=8 chunk=1000 --local-workers 4)"
    done
}

# The cost of metrics: ledger-etl on 2 workers with their Prometheus endpoint off, then on
# (--metrics-port 0), in each round, at chunk 1000 and 100, so drift falls on both alike.
metrics_bench() {
    local n=$main_rows r chunk mode
    seed_ledger "$n"
    for r in $(seq "$repeats"); do
        for chunk in 1000 100; do
            say "metrics, round $r of $repeats, chunk $chunk: ledger-etl on 2 workers, metrics off then on"
            for mode in off on; do
                if [[ $mode == on ]]; then start_workers 2 --metrics-port 0; else start_workers 2; fi
                put "metrics_${mode}_${chunk}_rows_per_s" "$(ledger_run "$n" "ledger-etl chunk=$chunk metrics $mode" ledger-etl grid=8 chunk="$chunk")"
                stop_workers
            done
        done
    done
}

# ---------------------------------------------------------------------------------------------
# Coordination: the cost of partitions that do nothing, awaiting, claiming, launching.

coordination_bench() {
    local r w mode seconds
    DATABASE_URL="$url" "$swiftbatch" migrate >/dev/null
    sql -c "DELETE FROM batch_worker" >/dev/null
    # The ledger runs before wrote gigabytes of WAL and millions of rows: without a vacuum of
    # their tables and a checkpoint here, the autovacuum and checkpoint they leave pending would
    # land in the middle of these measurements.
    sql -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
    for r in $(seq "$repeats"); do
        say "noop-partitions partitions=$partitions, round $r of $repeats: ${worker_counts} workers, then 2 with --synchronous-commit"
        for w in "${wcounts[@]}"; do
            start_workers "$w"
            seconds=$(launch_timed noop-partitions partitions="$partitions")
            put "noop_w${w}_partitions_per_s" "$(awk -v n="$partitions" -v s="$seconds" 'BEGIN {print n / s}')"
            stop_workers
        done
        start_workers 2 --synchronous-commit
        seconds=$(launch_timed noop-partitions partitions="$partitions")
        put noop_sync_w2_partitions_per_s "$(awk -v n="$partitions" -v s="$seconds" 'BEGIN {print n / s}')"
        stop_workers
    done
    put noop_partitions "$partitions"

    # Await latency: from the last partition's completion to the job's end, over small jobs;
    # p50 and p99 of each round's jobs.
    start_workers 2
    local first
    for r in $(seq "$repeats"); do
        say "await latency, round $r of $repeats: $await_jobs jobs of 4 partitions"
        first=$(sql -c "SELECT coalesce(max(job_execution_id), 0) FROM batch_job_execution")
        for _ in $(seq "$await_jobs"); do launch_timed noop-partitions partitions=4 >/dev/null; done
        sql -c "SELECT extract(epoch FROM e.end_time - max(s.end_time)) * 1000
                FROM batch_job_execution e JOIN batch_step_execution s ON s.job_execution_id = e.job_execution_id
                WHERE e.job_execution_id > $first AND strpos(s.step_name, ':') > 0
                GROUP BY e.job_execution_id, e.end_time" >"$work/await.txt"
        put await_p50_ms "$(p50 <"$work/await.txt")"
        put await_p99_ms "$(p99 <"$work/await.txt")"
    done
    stop_workers

    # Launch overhead: a whole `swiftbatch launch` of a job with one do-nothing tasklet; the
    # median of a round's launches.
    local runs=()
    for r in $(seq "$repeats"); do
        runs=()
        for _ in $(seq "$launches"); do runs+=("$(launch_timed noop)"); done
        put launch_ms "$(printf '%s\n' "${runs[@]}" | p50 | awk '{print $1 * 1000}')"
    done

    # Claim latency with many finished partitions in the history tables: the workers'
    # claim statement (prepared, as they run it), rolled back so every try finds the same row.
    say "claim latency with $history finished partitions in history, $repeats rounds of ${claim_seconds}s"
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
    put claim_history "$history"
    for r in $(seq "$repeats"); do
        rm -f "$work"/claim.[0-9]*
        (cd "$work" && "$PG_BIN/pgbench" -n -c 1 -j 1 -T "$claim_seconds" -M prepared -f claim.sql --log --log-prefix=claim "$url" >/dev/null 2>&1)
        # pgbench's log: one line per transaction, latency in microseconds in the third column.
        put claim_p50_ms "$(cat "$work"/claim.[0-9]* | awk '{print $3 / 1000}' | p50)"
    done
    sql -c "DELETE FROM batch_partition WHERE job_name IN ('history', 'claim')" \
        -c "DELETE FROM batch_step_execution WHERE step_name LIKE 'history:%' OR step_name = 'claim:p0'" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# ledger-etl on a network test bed: the launcher and the workers on hosts of their own, over
# TCP, straight to the server and then through each host's delay proxy at each delay.
latency_bench() {
    local tb=(bash "$ROOT/scripts/testbed.sh") hosts=() host i mode start end bed_url ref got rows=$main_rows
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
        for _ in $(seq "$repeats"); do
            bsql -c "TRUNCATE bench_txn_out" >/dev/null
            start=$(now)
            if ! timeout 1800 "${tb[@]}" exec launcher -- "$swiftbatch" launch ledger-etl grid="$latency_grid" chunk=1000 --next >"$work/launch.log" 2>&1; then
                say "error: ledger-etl on the bed ($mode) failed:"; cat "$work/launch.log" >&2; exit 1
            fi
            end=$(now)
            got="$(bsql -c "$AGGREGATES")"
            [[ "$got" == "$ref" ]] || { say "error: ledger-etl on the bed ($mode) produced $got, the reference is $ref"; exit 1; }
            put "latency_${mode//./_}_rows_per_s" "$(rate "$rows" "$start" "$end")"
        done
        [[ "$mode" == direct ]] && bed_stop_workers
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

[[ $do_client == 0 ]] || client_bench
[[ $do_ledger == 0 ]] || ledger_bench
[[ $do_coord == 0 ]] || coordination_bench
[[ $do_mt == 0 ]] || mt_bench
[[ $do_metrics == 0 ]] || metrics_bench
[[ "$latency" == 0 ]] || latency_bench

mkdir -p bench-results
out="$ROOT/bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 "$ROOT/scripts/lib/bench-report.py" "$out" "$results" \
    --sizes "$rows" --workers "$worker_counts" --repeats "$repeats" --quick "$quick" \
    --worker-concurrency "$worker_concurrency" --client-rows "$client_rows" \
    --rt-iterations "$rt_iterations" --nio-skipped "$nio_skipped" \
    --build-seconds "$build_seconds" --total-seconds "$((SECONDS - bench_start))" \
    --latency-hosts "$latency_hosts" --latency-grid "$latency_grid"
echo "$out"
