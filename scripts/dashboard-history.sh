#!/usr/bin/env bash
# Appends N finished job executions (default 1,000,000) and one running partitioned execution
# to the job repository at $DATABASE_URL, for measuring the web dashboard on a long history
# (see docs/DASHBOARD-WEB.md). Use a scratch repository: `swiftbatch migrate` first.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rows=${1:-1000000}
[[ $rows =~ ^[0-9]+$ ]] || { echo "usage: $0 [N]   (N: how many executions, a whole number)" >&2; exit 2; }
: "${DATABASE_URL:?set DATABASE_URL (e.g. eval \"\$(scripts/postgres.sh env)\")}"
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -q -X -f "$root/sql/bench/dashboard-history.sql" \
    -c "SELECT pg_temp.generate_history($rows)" -c "ANALYZE"
