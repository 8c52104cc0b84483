#!/usr/bin/env bash
# SwiftBatch benchmarks, each beside its PostgreSQL-native peer measured in the same run.
set -euo pipefail

usage() {
    cat <<'TXT'
Usage: scripts/bench.sh [--rows N] [--quick]

Builds in release mode, starts (or reuses) the private PostgreSQL, and measures:
  client round trip   `SELECT 1` through PostgresClient, unprepared and prepared,
                      against pgbench running the same query (-M simple and -M prepared)
  COPY throughput     N narrow rows (bigint, bigint, text) through PostgresClient's COPY,
                      against psql's own COPY FROM STDIN reading the same rows from a file
Each figure is the median of 3 runs (1 with --quick). Prints a Markdown table, writes the
same as JSON and prints the JSON file's path as the last line.

Options: --rows N (default 1000000; --quick: 200000), --quick.
TXT
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
rows=""
repeats=3
quick=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rows) rows="$2"; shift 2 ;;
        --quick) quick=1; repeats=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
[[ -n "$rows" ]] || rows=$([[ $quick == 1 ]] && echo 200000 || echo 1000000)
[[ "$rows" =~ ^[0-9]+$ ]] || { echo "bench.sh: --rows takes a whole number" >&2; exit 2; }

command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
PG_BIN=/usr/lib/postgresql/15/bin
url="$(bash scripts/postgres.sh start | tail -n 1)"
url="${url#DATABASE_URL=}"
say() { printf '==> bench.sh: %s\n' "$*" >&2; }

say "building (release)"
swift build -c release --product swiftbatch-bench >&2
bin="$(swift build -c release --show-bin-path)/swiftbatch-bench"

"$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 -c "DROP TABLE IF EXISTS bench_copy" \
    -c "CREATE TABLE bench_copy (id bigint, account_id bigint, memo text)" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
json_field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read())['$1'])"; }

say "client round trip"
rt=$("$bin" roundtrip "$url" 20000)
swift_rt_simple=$(sed -n 1p <<<"$rt" | json_field p50_us)
swift_rt_prepared=$(sed -n 2p <<<"$rt" | json_field p50_us)
echo "SELECT 1;" >"$work/select1.sql"
pgbench_latency() {
    # pgbench reports the mean latency of its transactions in ms; one client, one thread.
    "$PG_BIN/pgbench" -n -c 1 -j 1 -T 5 -M "$1" -f "$work/select1.sql" "$url" 2>/dev/null \
        | awk -F'= ' '/latency average/ {split($2, a, " "); print a[1] * 1000}'
}
pg_rt_simple=$(pgbench_latency simple)
pg_rt_prepared=$(pgbench_latency prepared)

say "COPY of $rows rows"
"$PG_BIN/psql" "$url" -qAt -c "COPY (SELECT g, g % 100000, 'payment ' || g FROM generate_series(1, $rows) g) TO STDOUT" >"$work/rows.tsv"
swift_copy=()
psql_copy=()
for _ in $(seq "$repeats"); do
    swift_copy+=("$("$bin" copy "$url" "$rows" | json_field rows_per_s)")
    "$PG_BIN/psql" "$url" -qAt -c "TRUNCATE bench_copy" >/dev/null
    start=$(date +%s.%N)
    "$PG_BIN/psql" "$url" -qAt -c "COPY bench_copy (id, account_id, memo) FROM STDIN" <"$work/rows.tsv" >/dev/null
    end=$(date +%s.%N)
    psql_copy+=("$(awk -v r="$rows" -v s="$start" -v e="$end" 'BEGIN {print r / (e - s)}')")
done
swift_copy_med=$(printf '%s\n' "${swift_copy[@]}" | median)
psql_copy_med=$(printf '%s\n' "${psql_copy[@]}" | median)
"$PG_BIN/psql" "$url" -qAt -c "DROP TABLE bench_copy" >/dev/null

mkdir -p bench-results
out="$ROOT/bench-results/bench-$(date -u +%Y%m%dT%H%M%SZ).json"
python3 - "$out" <<PY
import json, sys
r = {
  "rows": $rows, "repeats": $repeats,
  "client_roundtrip_us_p50": $swift_rt_simple,
  "client_roundtrip_prepared_us_p50": $swift_rt_prepared,
  "pgbench_roundtrip_us_mean": $pg_rt_simple,
  "pgbench_roundtrip_prepared_us_mean": $pg_rt_prepared,
  "client_copy_rows_per_s": $swift_copy_med,
  "psql_copy_rows_per_s": $psql_copy_med,
}
r["client_copy_ratio_to_psql"] = r["client_copy_rows_per_s"] / r["psql_copy_rows_per_s"]
json.dump(r, open(sys.argv[1], "w"), indent=2)
print("| figure | SwiftBatch | peer (same run) | ratio |")
print("|---|---|---|---|")
print(f"| round trip, SELECT 1 (us) | {r['client_roundtrip_us_p50']:.1f} (p50) | pgbench -M simple {r['pgbench_roundtrip_us_mean']:.1f} (mean) | {r['client_roundtrip_us_p50']/r['pgbench_roundtrip_us_mean']:.2f}x |")
print(f"| round trip, prepared (us) | {r['client_roundtrip_prepared_us_p50']:.1f} (p50) | pgbench -M prepared {r['pgbench_roundtrip_prepared_us_mean']:.1f} (mean) | {r['client_roundtrip_prepared_us_p50']/r['pgbench_roundtrip_prepared_us_mean']:.2f}x |")
print(f"| COPY {$rows:,} narrow rows (rows/s) | {r['client_copy_rows_per_s']:,.0f} | psql COPY FROM STDIN {r['psql_copy_rows_per_s']:,.0f} | {r['client_copy_ratio_to_psql']:.2f}x |")
PY
echo "$out"
