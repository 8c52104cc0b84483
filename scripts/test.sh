#!/usr/bin/env bash
# The project's one test command: build everything, then run all tests against PostgreSQL.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/test.sh [swift test arguments...]

Builds the package with its tests and runs `swift test` against a real PostgreSQL:
  1. finds the Swift toolchain (swift on PATH, else /opt/swift/usr/bin);
  2. gets a database from `scripts/postgres.sh start`: DATABASE_URL from the environment
     when it is set and reachable, otherwise the project's private server in .pg/
     (started if needed, reused if already running);
  3. exports DATABASE_URL, runs `swift build --build-tests`, builds the example package
     Examples/billing and Examples/embedded-worker (their binaries are run by tests), then `swift test "$@"`;
  4. without arguments, a short fault campaign: scripts/chaos.sh --rounds 4.
  5. without arguments, two failover rounds on a primary and a streaming standby
     (scripts/chaos.sh --failover sync, then async: a standby promoted mid-run and the old
     primary stopped; then one promoted right after the launcher's COMPLETED).
     Then scripts/tls-check.sh: sslmode=verify-full against a server with its own certificate.
  6. without arguments, after it, the network test bed's check (scripts/testbed.sh selftest)
     and a short network campaign (scripts/chaos.sh --network --rounds 2): root only (network
     namespaces); skipped with a message otherwise.
Exits with swift test's exit code (or swift build's, if the build fails).

Arguments go to `swift test` only, e.g. scripts/test.sh --filter PartitionTests
Swift Testing runs tests in parallel by itself: no --parallel needed.

Environment:
  DATABASE_URL     use this database if reachable instead of the private server
  STOP_POSTGRES=1  stop the private server at exit, if this run started it (CI sets this);
                   by default it is left running for fast reruns (scripts/postgres.sh stop)
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

say() { printf '==> test.sh: %s\n' "$*" >&2; }
redact() { sed -E -e 's#(://[^:/@]*):[^@/]*@#\1:***@#' -e 's#(password=)[^&]*#\1***#g' <<<"$1"; }

case "${1:-}" in
    -h | --help)
        usage
        exit 0
        ;;
esac

# 1. Toolchain.
if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        export PATH="/opt/swift/usr/bin:$PATH"
    else
        say "error: Swift toolchain not found: no 'swift' on PATH and no /opt/swift/usr/bin/swift."
        say "Install Swift 6 (https://www.swift.org/install/linux/) and put its usr/bin on PATH."
        exit 127
    fi
fi
say "toolchain: $(command -v swift) ($(swift --version 2>/dev/null | head -n 1))"

# libpq headers for the CLibPQ system library target, even when DATABASE_URL is external.
if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libpq; }; then
    bash "$ROOT/scripts/postgres.sh" install
fi

# The web dashboard's browser test drives Debian's chromium; as root it is installed when
# missing (otherwise that one test skips itself, saying so).
if [[ $EUID -eq 0 ]] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium for the dashboard's browser test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2 \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2; } \
        || say "warning: chromium could not be installed; the dashboard's browser test will skip"
fi

# The transaction-mode pooler test drives Debian's PgBouncer; as root it is installed when
# missing (otherwise that test skips itself, saying so).
if [[ $EUID -eq 0 ]] && ! command -v pgbouncer >/dev/null 2>&1 && [[ ! -x /usr/sbin/pgbouncer ]] && command -v apt-get >/dev/null 2>&1; then
    say "installing pgbouncer for the transaction-mode pooler test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >&2 \
        || { DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >&2; } \
        || say "warning: pgbouncer could not be installed; the transaction-mode pooler test will skip"
    # Debian's package starts a service of its own on port 6432: this project never uses it.
    systemctl disable --now pgbouncer >/dev/null 2>&1 || service pgbouncer stop >/dev/null 2>&1 || true
fi

# 2. Database.
state_file="$(mktemp)"
started_here=0
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    rm -f "$state_file"
    if [[ "$started_here" == 1 ]]; then
        say "stopping the private PostgreSQL this run started (STOP_POSTGRES=1)"
        bash "$ROOT/scripts/postgres.sh" stop || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if ! pg_out="$(POSTGRES_SH_STATE_FILE="$state_file" bash "$ROOT/scripts/postgres.sh" start)"; then
    say "error: could not get a PostgreSQL database (see messages above)"
    exit 1
fi
pg_state="$(cat "$state_file" 2>/dev/null || true)"
if [[ "${STOP_POSTGRES:-0}" == 1 && "$pg_state" == started ]]; then
    started_here=1
fi
url="${pg_out##*$'\n'}"
url="${url#DATABASE_URL=}"
[[ -n "$url" ]] || { say "error: scripts/postgres.sh printed no DATABASE_URL"; exit 1; }
export DATABASE_URL="$url"
case "$pg_state" in
    external) origin="from the environment's DATABASE_URL" ;;
    started) origin="private server in .pg/, started by this run" ;;
    reused) origin="private server in .pg/, already running" ;;
    *) origin="$pg_state" ;;
esac
say "database: DATABASE_URL=$(redact "$DATABASE_URL") ($origin)"

# 3. Build, then test.
say "swift build --build-tests"
build_rc=0
swift build --build-tests || build_rc=$?
if [[ $build_rc -ne 0 ]]; then
    say "FAILED: swift build --build-tests exited with $build_rc"
    exit "$build_rc"
fi

# The example package (Examples/billing) uses SwiftBatch as an outside application would; a
# test runs its binary, so a change that breaks the library's public face fails here.
build_example() {
    local example="$1"
    say "swift build --package-path Examples/$example"
    # SwiftPM can miss source files added to a path dependency since its last build of the
    # example (a stale build description); a second build sees them. A fresh clone never needs it.
    if ! swift build --package-path "Examples/$example"; then
        say "building Examples/$example again (SwiftPM may have missed new source files of the package)"
        if ! swift build --package-path "Examples/$example"; then
            say "building Examples/$example from clean (its build description still lacks new files)"
            rm -rf "Examples/$example/.build"
            swift build --package-path "Examples/$example" || { build_rc=$?; say "FAILED: building Examples/$example exited with $build_rc"; exit "$build_rc"; }
        fi
    fi
}
build_example billing
# Examples/embedded-worker runs a worker in an application's own ServiceGroup; a test sends it SIGTERM.
build_example embedded-worker
export SWIFTBATCH_EMBEDDED_BIN="$ROOT/Examples/embedded-worker/.build/debug/embedded-worker"
export SWIFTBATCH_EXAMPLE_BIN="$ROOT/Examples/billing/.build/debug/billing"

say "swift test${*:+ $*}"
test_rc=0
swift test "$@" || test_rc=$?

# A short fault campaign on a PostgreSQL of its own (the long one is for release checks:
# scripts/chaos.sh --rounds 20 --rows 200000). Only with the whole suite, not with a filter.
if [[ $# -eq 0 && $test_rc -eq 0 ]]; then
    say "scripts/chaos.sh --rounds 4 --rows 50000 --seed 20261129"
    bash "$ROOT/scripts/chaos.sh" --rounds 4 --rows 50000 --seed 20261129 || test_rc=$?
fi
# Failover to a streaming standby, synchronous then asynchronous replication: every process
# follows the multi-host URL to the promoted standby; nothing lost, duplicated or stuck.
if [[ $# -eq 0 && $test_rc -eq 0 ]]; then
    say "scripts/chaos.sh --failover sync --rounds 1 --rows 50000"
    bash "$ROOT/scripts/chaos.sh" --failover sync --rounds 1 --rows 50000 --seed 20261204 || test_rc=$?
fi
if [[ $# -eq 0 && $test_rc -eq 0 ]]; then
    say "scripts/chaos.sh --failover async --rounds 1 --rows 20000"
    bash "$ROOT/scripts/chaos.sh" --failover async --rounds 1 --rows 20000 --seed 20261204 || test_rc=$?
fi
# TLS: verify-full accepted with the right CA and name, refused otherwise, secrets unprinted.
if [[ $# -eq 0 && $test_rc -eq 0 ]]; then
    say "scripts/tls-check.sh"
    bash "$ROOT/scripts/tls-check.sh" || test_rc=$?
fi
# The network test bed's own check (network namespaces, a bridge, black holes, link faults,
# a delay proxy): a separate step after the chaos campaign, with the whole suite only.
if [[ $# -eq 0 && $test_rc -eq 0 ]]; then
    if [[ $EUID -eq 0 ]]; then
        say "scripts/testbed.sh selftest"
        bash "$ROOT/scripts/testbed.sh" selftest || test_rc=$?
        # A short network campaign: workers and launcher on test-bed hosts over TCP, with black
        # holes, link flaps and latency spikes among the faults (release checks: --rounds 20).
        if [[ $test_rc -eq 0 ]]; then
            say "scripts/chaos.sh --network --rounds 2 --rows 50000 --seed 20261204"
            bash "$ROOT/scripts/chaos.sh" --network --rounds 2 --rows 50000 --seed 20261204 || test_rc=$?
        fi
    else
        say "skipping scripts/testbed.sh selftest: it needs root (network namespaces)"
    fi
fi
if [[ $test_rc -eq 0 ]]; then
    say "tests passed (database $(redact "$DATABASE_URL"))"
else
    say "FAILED: swift test exited with $test_rc (database $(redact "$DATABASE_URL"))"
fi
exit "$test_rc"
