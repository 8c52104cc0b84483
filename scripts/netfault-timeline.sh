#!/usr/bin/env bash
# Black-hole timelines on a network test bed: how long each step of recovering from a silent
# peer takes, measured, with PASS/FAIL against targets. Run with --help for usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/netfault-timeline.sh [--lease L] [--rows N] [--grid G] [--chunk C]
                                    [--concurrency K] [--blackhole-seconds B]
                                    [--only worker|launcher] [--timeout S] [--bin PATH] [--keep]

Measures, on a test bed of its own (scripts/testbed.sh: PostgreSQL, a launcher host and 3
worker hosts h1..h3 in network namespaces, everything over TCP, straight to the server), what
happens when a host goes silent (its packets dropped, no RST), with ledger-etl on N seeded rows.

Worker black hole: a worker on each of h1..h3, the launch on the launcher host. Once h1's
worker holds a CLAIMED partition, h1 is black-holed (t0). Measured: t0 -> the takeover of each
partition h1 held (its owner changes or its attempt rises), t0 -> the job's end (COMPLETED),
which must happen while the black hole lasts (it lasts max(job end, 2 leases) + 3 s); then h1
is healed (t_heal): t_heal -> h1's worker heartbeats again (batch_worker.heartbeat_at moves),
t_heal -> it claims again (small noop-partitions jobs are launched until it does). The first
log line of each h1 thread after t0 ("a slot's claim was not renewed for a lease; breaking off its database call",
"repository unreachable") says how long it was blocked on the silent peer.
Launcher black hole: a fresh run; mid-job the launcher host is black-holed for B seconds
(default 3 leases), then healed. Measured: t0 -> every partition COMPLETED (the workers),
t0 -> the launcher logs its lost connection, t_heal -> the job's end.
Both runs must produce exactly the reference output (every row once, with PostgreSQL's own
values), and an audit trigger (as in scripts/chaos.sh) records who committed each partition:
nobody may commit under a claim it no longer holds.

Targets (PASS/FAIL each):
  takeover of every partition h1 held      within lease + 10 s of t0
  the job completes during the black hole  (worker black hole)
  h1 fenced                                no commit of h1 after t0 on a partition it lost
  h1 heartbeats and claims again           within lease + 10 s of the heal
  no h1 thread blocked on the dead peer    more than lease + 10 s
  the launcher's job ends                  within lease + 10 s of the launcher's heal
  output exact                             both runs
Prints a table per scenario and exits 1 when a target is missed (2: bad usage; 3: the bed
could not start). Every wait is bounded by --timeout; the bed is always taken down at exit.

Options:
  --lease L              workers' and launcher's --lease-seconds (default 10)
  --rows N               rows seeded (default 400000)
  --grid G               partitions (default 24)
  --chunk C              chunk size (default 1000)
  --concurrency K        slots per worker (default 2)
  --blackhole-seconds B  the launcher's black hole (default 3 leases)
  --only worker|launcher one scenario only
  --timeout S            bound of any one wait (default 600)
  --bin PATH             swiftbatch (default .build/debug/swiftbatch, built if missing)
  --keep                 keep the work directory (logs, timelines) and print it
Root only (network namespaces).
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
lease=10 rows=400000 grid=24 chunk=1000 concurrency=2 blackhole_seconds="" only="" timeout_s=600 bin="" keep=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --lease) lease="${2:-}"; shift 2 || true ;;
        --rows) rows="${2:-}"; shift 2 || true ;;
        --grid) grid="${2:-}"; shift 2 || true ;;
        --chunk) chunk="${2:-}"; shift 2 || true ;;
        --concurrency) concurrency="${2:-}"; shift 2 || true ;;
        --blackhole-seconds) blackhole_seconds="${2:-}"; shift 2 || true ;;
        --only) only="${2:-}"; shift 2 || true ;;
        --timeout) timeout_s="${2:-}"; shift 2 || true ;;
        --bin) bin="${2:-}"; shift 2 || true ;;
        --keep) keep=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "netfault-timeline.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
blackhole_seconds="${blackhole_seconds:-$((lease * 3))}"
for pair in "lease:$lease" "rows:$rows" "grid:$grid" "chunk:$chunk" "concurrency:$concurrency" \
    "blackhole-seconds:$blackhole_seconds" "timeout:$timeout_s"; do
    [[ "${pair#*:}" =~ ^[1-9][0-9]*$ ]] || { echo "netfault-timeline.sh: --${pair%%:*} takes a positive whole number, not '${pair#*:}'" >&2; exit 2; }
done
[[ -z "$only" || "$only" == worker || "$only" == launcher ]] || { echo "netfault-timeline.sh: --only takes worker or launcher" >&2; exit 2; }
((lease >= 2 && lease <= 300 && rows >= 1000 && timeout_s >= 30)) || { echo "netfault-timeline.sh: need 2 <= --lease <= 300, --rows >= 1000, --timeout >= 30" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "netfault-timeline.sh: must run as root (the test bed's network namespaces)" >&2; exit 3; }

say() { printf '==> netfault-timeline.sh: %s\n' "$*" >&2; }
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
if [[ -z "$bin" ]]; then
    bin="$ROOT/.build/debug/swiftbatch"
    [[ -x "$bin" ]] || { say "building swiftbatch (debug)"; (cd "$ROOT" && swift build --product swiftbatch >&2); }
fi
[[ -x "$bin" ]] || { echo "netfault-timeline.sh: no executable at $bin" >&2; exit 2; }
PG_BIN=/usr/lib/postgresql/15/bin
target=$((lease + 10))

work="$(mktemp -d /tmp/swiftbatch-timeline.XXXXXX)"
chmod 755 "$work"
export TESTBED_DIR="$work/testbed"
TESTBED_NAME="sbtb-tl-$(printf '%s' "$ROOT" | md5sum | cut -c1-6)-$$"
export TESTBED_NAME
procs=()  # PIDs this script started (workers, launchers, the feeder)
tb() { bash "$ROOT/scripts/testbed.sh" "$@"; }
tbq() { tb "$@" >>"$work/testbed.log" 2>&1 || { say "error: testbed.sh $* failed (see $work/testbed.log)"; return 1; }; }
cleanup() {
    local rc=$? pid
    trap - EXIT
    touch "$work/stop-feeder" 2>/dev/null || true
    for pid in "${procs[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${procs[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    tb down >>"$work/testbed.log" 2>&1 || say "warning: testbed.sh down failed (see $work/testbed.log)"
    if [[ "$keep" == 1 ]]; then say "kept: logs and timelines in $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { printf '%s' "$EPOCHREALTIME"; }
# Prefixes each line with the time it was read (the process's own lines carry seconds only).
stamp() { local line; while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print ""; else printf "%.1f", a - b }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && a + 0 <= b + 0) }'; }

say "starting a test bed of 3 worker hosts (work directory $work)"
tb up --hosts 3 >>"$work/testbed.log" 2>&1 || { tail -n 20 "$work/testbed.log" >&2; say "error: testbed.sh up failed"; exit 3; }
url="$(tb url control)"
export DATABASE_URL="$url"
sql() { timeout 90 env PGOPTIONS="-c lock_timeout=20s -c statement_timeout=60s" "$PG_BIN/psql" "$url" -qAtX -v ON_ERROR_STOP=1 "$@"; }
"$bin" migrate >/dev/null
# The audit trail of scripts/chaos.sh: every write of a partition row under a claim, with the
# session (application_name "swiftbatch worker <id>") that made it.
sql <"$ROOT/scripts/lib/partition-audit.sql"
say "seeding $rows rows"
"$bin" launch ledger-seed "rows=$rows" "run.id=1,long" >"$work/seed.log" 2>&1 || { tail "$work/seed.log" >&2; say "error: seeding failed"; exit 1; }

REFERENCE="SELECT id, a AS amount_eur_cents, greatest(25, round(abs(a) * 0.0125))::bigint AS fee_cents,
       abs(a) > 1000000 OR memo LIKE 'refund%' AS flagged
FROM (SELECT id, memo, round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                                WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a FROM bench_txn) s"
# "lost duplicated wrong", each 0 when the output is exact.
output_check() {
    sql -F ' ' -c "
        SELECT (SELECT count(*) FROM bench_txn t WHERE NOT EXISTS (SELECT 1 FROM bench_txn_out o WHERE o.id = t.id)),
               (SELECT count(*) - count(DISTINCT id) FROM bench_txn_out),
               (SELECT count(*) FROM ($REFERENCE) r JOIN bench_txn_out o USING (id)
                WHERE (r.amount_eur_cents, r.fee_cents, r.flagged) IS DISTINCT FROM (o.amount_eur_cents, o.fee_cents, o.flagged))"
}

declare -A worker_pid=()
start_worker() { # host
    local host="$1"
    bash "$ROOT/scripts/testbed.sh" exec "$host" -- "$bin" worker --concurrency "$concurrency" --lease-seconds "$lease" \
        > >(stamp >>"$work/worker-$host.log") 2>&1 &
    worker_pid[$host]=$!
    procs+=("$!")
}
worker_id_of() { sql -c "SELECT worker_id FROM batch_worker WHERE pid = $1 ORDER BY started_at DESC LIMIT 1"; }
# Bounded poll: until CMD succeeds or S seconds pass (1 then).
wait_for() { # seconds cmd...
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        (( $(date +%s) < deadline )) || return 1
        sleep 0.2
    done
}
job_execution() { # run.id -> the latest execution id of ledger-etl with that run.id
    sql -c "SELECT coalesce(max(e.job_execution_id), 0) FROM batch_job_execution e JOIN batch_job_instance i USING (job_instance_id)
        JOIN batch_job_execution_params p ON p.job_execution_id = e.job_execution_id AND p.parameter_name = 'run.id'
        WHERE i.job_name = 'ledger-etl' AND p.parameter_value = '$1'"
}
job_status() { sql -c "SELECT status FROM batch_job_execution WHERE job_execution_id = $1"; }
job_end_epoch() { sql -c "SELECT extract(epoch FROM end_time) FROM batch_job_execution WHERE job_execution_id = $1"; }
launch_etl() { # run.id
    bash "$ROOT/scripts/testbed.sh" exec launcher -- "$bin" launch ledger-etl "grid=$grid" "chunk=$chunk" "run.id=$1,long" --lease-seconds "$lease" \
        > >(stamp >>"$work/launcher-$1.log") 2>&1 &
    launcher_pid=$!
    procs+=("$!")
}
wait_pid() { # pid seconds: 1 if still running after that
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    return 1
}
# The first line of FILE after time T matching REGEX: its time.
first_after() { awk -v t="$2" -v re="$3" '$1 + 0 > t + 0 && $0 ~ re { print $1; exit }' "$1"; }

failures=0
rows_out=()
row() { # measure value target verdict
    rows_out+=("$(printf '| %s | %s | %s | %s |' "$1" "$2" "$3" "$4")")
    [[ "$4" != FAIL ]] || failures=$((failures + 1))
}
verdict() { if "$@"; then echo PASS; else echo FAIL; fi; }
print_table() { # title
    printf '\n%s (lease %s s, %s rows, grid %s, chunk %s, 3 worker hosts x %s)\n\n' "$1" "$lease" "$rows" "$grid" "$chunk" "$concurrency"
    printf '| measure | seconds / value | target | verdict |\n|---|---|---|---|\n'
    printf '%s\n' "${rows_out[@]}"
    rows_out=()
}

for host in h1 h2 h3; do start_worker "$host"; done
workers_registered() { [[ "$(sql -c "SELECT count(*) FROM batch_worker WHERE state = 'RUNNING'")" -ge 3 ]]; }
wait_for 60 workers_registered \
    || { say "error: the 3 workers did not register within 60 s (see $work/worker-h*.log)"; keep=1; exit 1; }
h1_id="$(worker_id_of "${worker_pid[h1]}")"
[[ -n "$h1_id" ]] || { say "error: no batch_worker row for h1's worker (PID ${worker_pid[h1]})"; keep=1; exit 1; }
say "workers up; h1's worker is $h1_id"

# ---- worker black hole ------------------------------------------------------------------

worker_scenario() {
    local run=11 exec_id t0 t_heal deadline held pid_att p a cur status="" t_end="" hold_until
    sql -c "TRUNCATE bench_txn_out" >/dev/null
    say "worker black hole: launching ledger-etl (run.id=$run)"
    launch_etl "$run"
    # Once h1's worker holds a claim.
    deadline=$(( $(date +%s) + timeout_s ))
    until [[ "$(sql -c "SELECT count(*) FROM batch_partition WHERE state = 'CLAIMED' AND owner = '$h1_id'")" -ge 1 ]]; do
        (( $(date +%s) < deadline )) || { say "error: h1's worker claimed nothing within $timeout_s s"; return 1; }
        sleep 0.2
    done
    exec_id="$(job_execution "$run")"
    tbq blackhole h1
    t0="$(now)"
    # What h1 held when it went silent (a commit in flight before the cut is in here already).
    held="$(sql -F : -c "SELECT partition_id, attempt FROM batch_partition WHERE state = 'CLAIMED' AND owner = '$h1_id' ORDER BY 1")"
    local mark
    mark="$(sql -c "SELECT coalesce(max(seq), 0) FROM chaos_audit")"
    say "t0: h1 black-holed holding partitions $(tr '\n' ' ' <<<"$held")"
    declare -A took=()
    deadline=$(awk -v t="$t0" -v s="$timeout_s" 'BEGIN { print int(t + s) }')
    while true; do
        local pending=0
        for pid_att in $held; do
            p="${pid_att%%:*}" a="${pid_att##*:}"
            [[ -n "${took[$p]:-}" ]] && continue
            cur="$(sql -c "SELECT (owner IS DISTINCT FROM '$h1_id' OR attempt > $a)::int FROM batch_partition WHERE partition_id = $p")"
            if [[ "$cur" == 1 ]]; then
                took[$p]="$(sub "$(now)" "$t0")"
            else
                pending=1
            fi
        done
        status="$(job_status "$exec_id")"
        [[ "$status" == COMPLETED && -z "$t_end" ]] && t_end="$(sub "$(job_end_epoch "$exec_id")" "$t0")"
        [[ "$status" =~ ^(FAILED|STOPPED|ABANDONED)$ ]] && break
        ((pending == 0)) && [[ -n "$t_end" ]] && break
        (( $(date +%s) < deadline )) || break
        sleep 0.25
    done
    # Keep the black hole for max(job end, 2 leases) + 3 s.
    hold_until=$(awk -v t="$t0" -v e="${t_end:-0}" -v l="$lease" 'BEGIN { m = (e > 2 * l ? e : 2 * l); printf "%.3f", t + m + 3 }')
    while awk -v h="$hold_until" -v n="$(now)" 'BEGIN { exit !(n < h) }'; do sleep 0.2; done
    # Commits by h1 after t0 on a partition it held then (with the attempt it held): none allowed.
    local stale=0
    for pid_att in $held; do
        p="${pid_att%%:*}" a="${pid_att##*:}"
        stale=$((stale + $(sql -c "SELECT count(*) FROM chaos_audit WHERE seq > $mark AND partition_id = $p AND attempt = $a
            AND session = left('swiftbatch worker $h1_id', 63) AND at > to_timestamp($t0)")))
    done
    local violations
    violations="$(sql -c "SELECT count(*) FROM chaos_audit WHERE session <> left('swiftbatch worker ' || holder, 63)")"
    local hb_before
    hb_before="$(sql -c "SELECT extract(epoch FROM heartbeat_at) FROM batch_worker WHERE worker_id = '$h1_id'")"
    tbq heal h1
    t_heal="$(now)"
    say "t_heal: h1 healed after $(sub "$t_heal" "$t0") s; job status then ${status:-?}"
    # The launcher ends with the job (it was never cut off).
    wait_pid "$launcher_pid" 60 || say "warning: the launcher of run $run still runs 60 s after the job's end"
    # h1 heartbeats again; then claims again (small jobs are launched until it does).
    local t_hb="" t_claim="" feeder
    rm -f "$work/stop-feeder"
    (
        n=0
        while [[ ! -f "$work/stop-feeder" ]] && ((n < 200)); do
            n=$((n + 1))
            timeout 120 bash "$ROOT/scripts/testbed.sh" exec launcher -- "$bin" launch noop-partitions partitions=64 --next \
                --lease-seconds "$lease" >>"$work/feeder.log" 2>&1 || sleep 0.5
        done
    ) &
    feeder=$!
    procs+=("$feeder")
    deadline=$(( $(date +%s) + timeout_s ))
    while [[ -z "$t_hb" || -z "$t_claim" ]] && (( $(date +%s) < deadline )); do
        if [[ -z "$t_hb" ]]; then
            local hb
            hb="$(sql -c "SELECT extract(epoch FROM heartbeat_at) FROM batch_worker WHERE worker_id = '$h1_id'")"
            if [[ -n "$hb" ]] && awk -v a="$hb" -v b="${hb_before:-0}" -v h="$t_heal" 'BEGIN { exit !(a > b && a >= h) }'; then t_hb="$(sub "$hb" "$t_heal")"; fi
        fi
        if [[ -z "$t_claim" ]]; then
            local c
            c="$(sql -c "SELECT extract(epoch FROM min(s.start_time)) FROM batch_partition p JOIN batch_step_execution s USING (step_execution_id)
                WHERE p.owner = '$h1_id' AND p.job_execution_id > $exec_id")"
            [[ -n "$c" ]] && t_claim="$(sub "$c" "$t_heal")"
        fi
        sleep 0.25
    done
    touch "$work/stop-feeder"
    wait_pid "$feeder" 150 || { kill -TERM "$feeder" 2>/dev/null || true; }

    # How long h1's threads were blocked: the first line of each kind after t0.
    local log="$work/worker-h1.log" t_slot t_repo
    t_slot="$(first_after "$log" "$t0" "lost a partition's claim|breaking off its database call")"
    t_repo="$(first_after "$log" "$t0" "repository unreachable")"
    grep -E "lost a partition's claim|breaking off its database call|repository unreachable|heartbeat" "$log" | awk -v t="$t0" '$1 + 0 > t + 0' >"$work/h1-after-t0.log" || true

    local out lost dup wrong
    out="$(output_check)"
    read -r lost dup wrong <<<"$out"

    for pid_att in $held; do
        p="${pid_att%%:*}"
        row "takeover of partition $p (h1 held attempt ${pid_att##*:})" "${took[$p]:-never}" "<= $target" "$(verdict le "${took[$p]:-}" "$target")"
    done
    [[ -n "$held" ]] || row "takeover" "h1 held nothing at t0" "-" FAIL
    row "job end (COMPLETED), from t0" "${t_end:-not by $(sub "$hold_until" "$t0")}" "during the black hole" "$([[ -n "$t_end" ]] && echo PASS || echo FAIL)"
    row "black hole lasted" "$(sub "$t_heal" "$t0")" "max(job end, 2 leases) + 3" "-"
    row "h1 commits after t0 on a partition it lost; audit violations" "$stale; $violations" "0; 0" "$([[ "$stale" == 0 && "$violations" == 0 ]] && echo PASS || echo FAIL)"
    row "h1 slot stopped (its call broken off, or its claim lost), from t0" "$(sub "$t_slot" "$t0")" "<= $target" "$(verdict le "$(sub "$t_slot" "$t0")" "$target")"
    row "h1 control loop failed (first \"repository unreachable\"), from t0" "$(sub "$t_repo" "$t0")" "<= $target" "$(verdict le "$(sub "$t_repo" "$t0")" "$target")"
    row "h1 heartbeats again, from the heal" "${t_hb:-never}" "<= $target" "$(verdict le "${t_hb:-}" "$target")"
    row "h1 claims again, from the heal" "${t_claim:-never}" "<= $target" "$(verdict le "${t_claim:-}" "$target")"
    row "output: lost, duplicated, wrong" "$lost, $dup, $wrong" "0, 0, 0" "$([[ "$out" == "0 0 0" ]] && echo PASS || echo FAIL)"
    print_table "Worker black hole (h1)"
}

# ---- launcher black hole ----------------------------------------------------------------

launcher_scenario() {
    local run=12 exec_id t0 t_heal deadline t_done="" t_lost t_hb_fail t_end="" total done_n status
    sql -c "TRUNCATE bench_txn_out" >/dev/null
    say "launcher black hole: launching ledger-etl (run.id=$run)"
    launch_etl "$run"
    # Mid-job: a sixth of the partitions completed.
    deadline=$(( $(date +%s) + timeout_s ))
    while true; do
        exec_id="$(job_execution "$run")"
        if [[ "$exec_id" != 0 ]]; then
            read -r total done_n < <(sql -F ' ' -c "SELECT count(*), count(*) FILTER (WHERE state = 'COMPLETED') FROM batch_partition WHERE job_execution_id = $exec_id")
            ((total > 0 && done_n * 6 >= total)) && break
        fi
        (( $(date +%s) < deadline )) || { say "error: run $run did not get going within $timeout_s s"; return 1; }
        sleep 0.2
    done
    tbq blackhole launcher
    t0="$(now)"
    say "t0: launcher black-holed with $done_n of $total partitions completed; heal in $blackhole_seconds s"
    local heal_at
    heal_at=$(awk -v t="$t0" -v b="$blackhole_seconds" 'BEGIN { printf "%.3f", t + b }')
    while awk -v h="$heal_at" -v n="$(now)" 'BEGIN { exit !(n < h) }'; do
        if [[ -z "$t_done" && "$(sql -c "SELECT count(*) FROM batch_partition WHERE job_execution_id = $exec_id AND state <> 'COMPLETED'")" == 0 ]]; then
            t_done="$(sub "$(sql -c "SELECT extract(epoch FROM max(updated_at)) FROM batch_partition WHERE job_execution_id = $exec_id")" "$t0")"
        fi
        sleep 0.25
    done
    tbq heal launcher
    t_heal="$(now)"
    deadline=$(( $(date +%s) + timeout_s ))
    while true; do
        if [[ -z "$t_done" && "$(sql -c "SELECT count(*) FROM batch_partition WHERE job_execution_id = $exec_id AND state <> 'COMPLETED'")" == 0 ]]; then
            t_done="$(sub "$(sql -c "SELECT extract(epoch FROM max(updated_at)) FROM batch_partition WHERE job_execution_id = $exec_id")" "$t0")"
        fi
        status="$(job_status "$exec_id")"
        if [[ "$status" =~ ^(COMPLETED|FAILED|STOPPED|ABANDONED)$ ]]; then
            t_end="$(sub "$(job_end_epoch "$exec_id")" "$t_heal")"
            break
        fi
        (( $(date +%s) < deadline )) || break
        sleep 0.25
    done
    wait_pid "$launcher_pid" 60 || say "warning: the launcher of run $run still runs 60 s after the job's end"
    local log="$work/launcher-$run.log"
    t_lost="$(first_after "$log" "$t0" "lost the repository connection")"
    t_hb_fail="$(first_after "$log" "$t0" "launcher heartbeat failed")"
    grep -vE '^\S+ $' "$log" | awk -v t="$t0" '$1 + 0 > t + 0' | grep -E 'warning|error|notice' >"$work/launcher-after-t0.log" || true
    local out lost dup wrong
    out="$(output_check)"
    read -r lost dup wrong <<<"$out"
    row "partitions completed when black-holed" "$done_n of $total" "-" "-"
    row "workers finished every partition, from t0" "${t_done:-never}" "-" "-"
    row "launcher awaiting: first \"lost the repository connection\", from t0" "$(sub "$t_lost" "$t0")" "<= $target" "$(verdict le "$(sub "$t_lost" "$t0")" "$target")"
    row "launcher heartbeat: first \"launcher heartbeat failed\", from t0" "$(sub "$t_hb_fail" "$t0")" "<= $target" "$(verdict le "$(sub "$t_hb_fail" "$t0")" "$target")"
    row "black hole lasted" "$(sub "$t_heal" "$t0")" "$blackhole_seconds" "-"
    row "job end ($status), from the heal" "${t_end:-not within $timeout_s}" "<= $target" "$([[ "$status" == COMPLETED ]] && le "${t_end:-}" "$target" && echo PASS || echo FAIL)"
    row "output: lost, duplicated, wrong" "$lost, $dup, $wrong" "0, 0, 0" "$([[ "$out" == "0 0 0" ]] && echo PASS || echo FAIL)"
    print_table "Launcher black hole"
}

started="$(date -u +%FT%TZ)"
if [[ "$only" != launcher ]]; then worker_scenario || { failures=$((failures + 1)); keep=1; }; fi
if [[ "$only" != worker ]]; then launcher_scenario || { failures=$((failures + 1)); keep=1; }; fi
printf '\nnetfault-timeline: started %s, lease %s s, %s target(s) missed\n' "$started" "$lease" "$failures"
((failures == 0)) || { keep=1; exit 1; }
