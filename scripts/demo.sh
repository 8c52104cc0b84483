#!/usr/bin/env bash
# The README's first command: SwiftBatch end to end on a private PostgreSQL.
set -euo pipefail

case "${1:-}" in
    -h|--help)
        cat <<'TXT'
Usage: scripts/demo.sh

On a fresh machine: installs PostgreSQL 15 and libpq-dev if missing, starts the project's
private PostgreSQL (scripts/postgres.sh; state in .pg/), builds swiftbatch in release mode,
creates the job repository (swiftbatch migrate), and shows what it made.
Leaves the private server running; stop it with scripts/postgres.sh stop.
TXT
        exit 0 ;;
esac

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

say "The job repository (Spring Batch 5 tables, plus SwiftBatch's integrity rules)"
/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -P pager=off -c "
SELECT c.relname AS object,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'S' THEN 'sequence' END AS kind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'S') ORDER BY kind DESC, object"
/usr/lib/postgresql/15/bin/psql "$DATABASE_URL" -P pager=off -c \
    "SELECT version, name, applied_at FROM swiftbatch_schema_version ORDER BY version"

cat <<TXT

The repository is ready at $DATABASE_URL
Jobs, steps and the launcher come next (see the README's roadmap).
Stop the private PostgreSQL with: scripts/postgres.sh stop
TXT
