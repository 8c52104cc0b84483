#!/usr/bin/env bash
# A fault campaign: ledger-etl under injected faults, every record checked after every round.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/chaos.sh [--rounds R] [--rows N] [--seed S] [--workers W] [--bin PATH] [--keep]
                        [--network] [--kinds K1,K2...] [--round-timeout S] [--blackhole-seconds S]
                        [--failover async|sync]

Runs R rounds of the ledger-etl job (uniform keys on even rounds; skewed keys split by the
balanced partitioner on odd ones) on a PostgreSQL server of its own, with W worker processes,
while a fault injector driven by the seed does, at random moments:
  kill-worker      SIGKILL a worker mid-chunk (another takes its partitions over after the lease)
  pause-worker     SIGSTOP a worker past its lease, then SIGCONT it (it must be fenced out)
  term-worker      SIGTERM a worker (it hands its partitions back and exits 0)
  kill-launcher    SIGKILL the launcher, then launch the same instance again (it attaches)
  drop-connection  pg_terminate_backend on a random client connection
  restart-fast     pg_ctl restart -m fast
  restart-crash    pg_ctl restart -m immediate (a crash, then recovery)
Dead workers are replaced, so W stay alive. After each round: the job ends COMPLETED (an
execution that faults made FAILED is restarted, as an operator would), bench_txn_out equals
the reference aggregates with no id twice, nothing is left STARTED/STARTING/STOPPING or
READY/CLAIMED, and an audit trail of every partition claim and commit (recorded by a trigger)
shows that no partition was ever committed by anyone but its current holder.

With --network, the campaign runs on a test bed (scripts/testbed.sh, root only): PostgreSQL,
the launcher and each worker in network namespaces of their own, over TCP (the workers through
their host's delay proxy, at 0 ms until a latency spike), and the injector also does:
  blackhole-worker    drop every packet of a worker's host, silently, for --blackhole-seconds
                      (default 3 leases), then heal (the others must take its partitions over)
  blackhole-launcher  the same to the launcher's host
  link-flap           take a worker host's link down for 1 to 4 s, then up
  latency-spike       50 to 300 ms each way on a worker host's connections for 3 to 6 s
Network faults last a while: other faults (on other hosts too) happen meanwhile, and the
ones still in force when a round's job completes are ended then (the round says so). The
bed is always taken down at exit (--keep leaves it up); TESTBED_URL_PARAMS adds libpq
parameters to the hosts' URLs (e.g. "keepalives_idle=2&tcp_user_timeout=6000").

With --failover MODE, the campaign runs on a primary and a streaming standby
(scripts/replica.sh; MODE sync sets synchronous_standby_names), every client connecting with
one multi-host URL (target_session_attrs=read-write), and the one fault of each round is:
  failover            once some partitions committed: promote the standby, stop the old
                      primary (immediate) a second later; every process must reconnect to the
                      new primary by itself
It prints each failover's timeline (promotion, old primary stopped, every worker and the
launcher connected to the new primary, job end). After the round the old primary is made a
standby again, and one more failover follows the launcher's COMPLETED at once: in sync mode
the execution must still be COMPLETED on the promoted standby (a loss is counted); in async
mode what it finds is reported. Rounds are at most 3 in this mode.

Every wait is bounded: a round that does not complete within --round-timeout fails with a
line naming what hung (the launcher, partitions and their holders, sessions and what they
wait on; in full in the work directory), and workers that ignore SIGTERM at the end are
killed after 30 s.

It ends with one line:  rounds R, faults F, records lost L, duplicated D, stuck S
(after a line with the faults by kind) and exits 1 on any loss, duplicate, stuck execution or
audit violation (2 on bad usage).

Options:
  --rounds R   rounds (default 5)          --rows N     rows per round (default 50000)
  --seed S     fault seed (default: the time; printed, so a failure can be replayed)
  --workers W  worker processes (default 3)
  --bin PATH   the swiftbatch executable (default: .build/debug/swiftbatch, built if missing)
  --keep       leave the campaign's PostgreSQL and logs in place (printed) for inspection
  --network    run on a network test bed, with network faults too (see above)
  --kinds LIST only these fault kinds, comma-separated (default: all of the mode's kinds)
  --round-timeout S      a round's bound in seconds (default 600)
  --blackhole-seconds S  how long a black hole lasts (default 3 leases: 9)
  --failover MODE        async or sync: failover rounds on a primary and a standby (see above)
For a release check: scripts/chaos.sh --rounds 20 --rows 200000
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
rounds=5
rows=50000
seed="$(date +%s)"
workers_wanted=3
bin=""
keep=0
network=0
only_kinds=""
round_timeout=600
blackhole_seconds=""
failover=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="${2:-}"; shift 2 ;;
        --rows) rows="${2:-}"; shift 2 ;;
        --seed) seed="${2:-}"; shift 2 ;;
        --workers) workers_wanted="${2:-}"; shift 2 ;;
        --bin) bin="${2:-}"; shift 2 ;;
        --keep) keep=1; shift ;;
        --network) network=1; shift ;;
        --kinds) only_kinds="${2:-}"; shift 2 ;;
        --round-timeout) round_timeout="${2:-}"; shift 2 ;;
        --blackhole-seconds) blackhole_seconds="${2:-}"; shift 2 ;;
        --failover) failover="${2:-}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "chaos.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for pair in "rounds:$rounds" "rows:$rows" "seed:$seed" "workers:$workers_wanted" "round-timeout:$round_timeout" "blackhole-seconds:${blackhole_seconds:-9}"; do
    [[ "${pair#*:}" =~ ^[0-9]+$ ]] || { echo "chaos.sh: --${pair%%:*} takes a whole number, not '${pair#*:}'" >&2; exit 2; }
done
((rounds >= 1 && rows >= 1000 && workers_wanted >= 1)) || { echo "chaos.sh: need --rounds >= 1, --rows >= 1000, --workers >= 1" >&2; exit 2; }
((round_timeout >= 10)) || { echo "chaos.sh: need --round-timeout >= 10" >&2; exit 2; }
((network == 0 || workers_wanted <= 200)) || { echo "chaos.sh: --network takes at most 200 workers (one host each)" >&2; exit 2; }
[[ -z "$failover" || "$failover" == async || "$failover" == sync ]] || { echo "chaos.sh: --failover takes async or sync, not '$failover'" >&2; exit 2; }
[[ -z "$failover" ]] || ((network == 0 && rounds <= 3)) || { echo "chaos.sh: --failover takes at most 3 rounds and no --network" >&2; exit 2; }
keep_requested=$keep

say() { printf '==> chaos.sh: %s\n' "$*" >&2; }
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
if [[ -z "$bin" ]]; then
    bin="$ROOT/.build/debug/swiftbatch"
    [[ -x "$bin" ]] || { say "building swiftbatch"; (cd "$ROOT" && swift build --product swiftbatch >&2); }
fi
[[ -x "$bin" ]] || { echo "chaos.sh: no executable at $bin" >&2; exit 2; }
PG_BIN=/usr/lib/postgresql/15/bin

# A server of the campaign's own: restarting it must not disturb anyone else's.
work="$(mktemp -d /tmp/swiftbatch-chaos.XXXXXX)"
chmod 755 "$work"
export SWIFTBATCH_PG_ROOT="$work/pg"
mkdir -p "$SWIFTBATCH_PG_ROOT"
workers=()
launcher=""
declare -A worker_host=()
# The network test bed (--network): its state under the work directory; its namespaces are
# named after this checkout and this process (sbtb-chaos-<checkout>-<PID>-*), so campaigns
# can run side by side, and the beds of campaigns whose process is gone (a crash, a SIGKILL)
# are taken down by the next one.
tb() { bash "$ROOT/scripts/testbed.sh" "$@"; }
# A fault's test bed command, logged; a failure says so (and ends the campaign, as a failed
# restart does).
tbq() { tb "$@" >>"$work/testbed.log" 2>&1 || { say "error: testbed.sh $* failed (see $work/testbed.log)"; return 1; }; }
if [[ "$network" == 1 ]]; then
    export TESTBED_DIR="$work/testbed"
    bed_prefix="sbtb-chaos-$(printf '%s' "$ROOT" | md5sum | cut -c1-6)"
    export TESTBED_NAME="$bed_prefix-$$"
    for old_pid in $(ip netns list 2>/dev/null | sed -nE "s/^$bed_prefix-([0-9]+)-[a-z0-9]+( .*)?$/\1/p" | sort -u); do
        # Alive: a campaign process that is not a zombie (this machine's init reaps lazily).
        if [[ -r "/proc/$old_pid/stat" && "$(sed -E 's/^.*\) //' "/proc/$old_pid/stat" | cut -d' ' -f1)" != [ZX] ]] \
            && tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -q chaos.sh; then
            continue
        fi
        say "taking down the test bed of an earlier campaign (PID $old_pid, gone)"
        TESTBED_DIR="$work/old-$old_pid" TESTBED_NAME="$bed_prefix-$old_pid" tb down >>"$work/testbed.log" 2>&1 || true
        rm -rf "$work/old-$old_pid"
    done
fi
cleanup() {
    local pid
    for pid in "${workers[@]}" $launcher; do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ "$network" == 1 ]]; then
        if [[ "$keep_requested" == 1 ]]; then
            say "kept: the test bed is up (TESTBED_DIR=$TESTBED_DIR TESTBED_NAME=$TESTBED_NAME scripts/testbed.sh status; ... down)"
        else
            tb down >>"$work/testbed.log" 2>&1 || say "warning: testbed.sh down failed (see $work/testbed.log)"
        fi
        [[ "$keep" == 1 ]] && say "kept: logs in $work (the bed's own in $work/testbed/log)"
        [[ "$keep" == 1 ]] || rm -rf "$work"
        return 0
    fi
    if [[ -n "$failover" ]]; then
        [[ "$keep" == 1 ]] && { say "kept: logs and servers in $work (REPLICA_ROOT=$REPLICA_ROOT scripts/replica.sh status|stop)"; return 0; }
        bash "$ROOT/scripts/replica.sh" stop >/dev/null 2>&1 || true
        rm -rf "$work"
        return 0
    fi
    if [[ "$keep" == 1 ]]; then
        say "kept: logs and server in $work (DATABASE_URL=$url); stop with SWIFTBATCH_PG_ROOT=$SWIFTBATCH_PG_ROOT scripts/postgres.sh stop"
    else
        bash "$ROOT/scripts/postgres.sh" stop >/dev/null 2>&1 || true
        rm -rf "$work"
    fi
}
url=""
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

sql_options=""
if [[ "$network" == 1 ]]; then
    say "starting the network test bed ($workers_wanted worker hosts)"
    tb up --hosts "$workers_wanted" >>"$work/testbed.log" 2>&1 \
        || { rc=$?; tail -n 20 "$work/testbed.log" >&2; say "error: could not start the test bed (testbed.sh up exited $rc)"; exit 1; }
    # The campaign's own checks go over the server's Unix socket: no network fault reaches them.
    url="$(tb url control)"
    # Every worker host's connections go through its delay proxy (0 ms until a latency spike).
    for i in $(seq "$workers_wanted"); do tbq delay "h$i" 0 || exit 1; done
    # A check must not wait forever on a lock held by a cut-off session.
    sql_options="-c lock_timeout=20s -c statement_timeout=60s"
elif [[ -n "$failover" ]]; then
    export REPLICA_ROOT="$work/replica"
    say "starting a primary and a streaming standby ($failover replication)"
    url="$(bash "$ROOT/scripts/replica.sh" start $([[ "$failover" == sync ]] && echo --sync) 2>"$work/replica.log" | tail -n 1)" \
        || { tail -n 20 "$work/replica.log" >&2; say "error: could not start the primary and standby"; exit 1; }
else
    url="$(DATABASE_URL='' bash "$ROOT/scripts/postgres.sh" start 2>"$work/postgres-start.log" | tail -n 1)"
    url="${url#DATABASE_URL=}"
    [[ -n "$url" ]] || { cat "$work/postgres-start.log" >&2; say "error: could not start PostgreSQL"; exit 1; }
fi
export DATABASE_URL="$url"
sql() { PGOPTIONS="$sql_options" "$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 "$@"; }
# Statements that may meet a restarting server are retried for a while.
sql_retry() {
    local try
    for try in $(seq 60); do
        if out="$(sql "$@" 2>/dev/null)"; then printf '%s\n' "$out"; return 0; fi
        sleep 0.5
    done
    sql "$@"
}

"$bin" migrate >/dev/null
# The audit trail: every write of a partition row made under a claim (a chunk's save renews
# the lease and sets updated_at, a finish ends it, a hand-back makes it ready), with the name
# of the session that made it (workers name theirs "swiftbatch worker <id>"). Claims, lease
# sweeps and restarts are other writers and are not commits.
sql <"$ROOT/scripts/lib/partition-audit.sql"

RANDOM=$seed
lease=3
kinds=(kill-worker pause-worker term-worker kill-launcher drop-connection restart-fast restart-crash)
[[ "$network" == 1 ]] && kinds+=(blackhole-worker blackhole-launcher link-flap latency-spike)
[[ -n "$failover" ]] && kinds=(failover)
blackhole_seconds="${blackhole_seconds:-$((lease * 3))}"
all_kinds=("${kinds[@]}")
if [[ -n "$only_kinds" ]]; then
    IFS=, read -r -a kinds <<<"$only_kinds"
    for kind in "${kinds[@]}"; do
        [[ " ${all_kinds[*]} " == *" $kind "* ]] || { echo "chaos.sh: unknown fault kind '$kind' (kinds: ${all_kinds[*]})" >&2; exit 2; }
    done
fi
declare -A injected=()
for kind in "${kinds[@]}"; do injected[$kind]=0; done
faults=0 lost=0 duplicated=0 stuck=0 violations=0 relaunches=0

start_worker() {
    if [[ "$network" == 1 ]]; then
        # One worker a host: the first host without a live one.
        local i host="" pid
        for i in $(seq "$workers_wanted"); do
            host="h$i"
            for pid in "${workers[@]}"; do [[ "${worker_host[$pid]:-}" == "$host" ]] && host=""; done
            [[ -n "$host" ]] && break
        done
        [[ -n "$host" ]] || host="h$((RANDOM % workers_wanted + 1))"
        # testbed.sh exec replaces itself with the worker: $! is the worker's PID.
        bash "$ROOT/scripts/testbed.sh" exec "$host" -- "$bin" worker --concurrency 2 --lease-seconds "$lease" >>"$work/workers.log" 2>&1 &
        worker_host[$!]=$host
    else
        "$bin" worker --concurrency 2 --lease-seconds "$lease" >>"$work/workers.log" 2>&1 &
    fi
    workers+=("$!")
}
live_workers() { # prunes exited workers from the list
    local pid alive=()
    for pid in "${workers[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); else wait "$pid" 2>/dev/null || true; unset "worker_host[$pid]"; fi
    done
    workers=("${alive[@]}")
}
# Waits up to $2 seconds for PID $1 to exit; 1 if it is still running.
wait_bounded() {
    local pid="$1" i
    for ((i = 0; i < $2 * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    return 1
}
random_worker() { live_workers; ((${#workers[@]} > 0)) && echo "${workers[RANDOM % ${#workers[@]}]}"; }

# Launches (or attaches to, or restarts) the round's instance in the background.
launch() {
    local on=()
    [[ "$network" == 1 ]] && on=(bash "$ROOT/scripts/testbed.sh" exec launcher --)
    "${on[@]}" "$bin" launch ledger-etl "grid=8" "chunk=100" "partitioner=$partitioner" "run.id=$round,long" \
        --lease-seconds "$lease" >>"$work/launcher-$round.log" 2>&1 &
    launcher=$!
}

# The failover fault (--failover): promotes the standby, stops the old primary, then follows
# every process onto the new primary and prints the timeline.
failed_over=""
failover_note=""
failover_now() {
    local times t0 t1 t2 t3="" pids pid seen i
    times="$(bash "$ROOT/scripts/replica.sh" failover 1 2>>"$work/replica.log")" || { say "error: failover failed (see $work/replica.log)"; exit 1; }
    eval "$times" # promote_start, promoted, old_primary_stopped
    t0=$promote_start t1=$promoted t2=$old_primary_stopped
    failed_over=$t0
    # Every live worker (its id holds its PID) and the launcher connected to the new primary.
    for ((i = 0; i < 600; i++)); do
        live_workers
        seen="$(sql -c "SELECT string_agg(application_name, '|') FROM pg_stat_activity
                        WHERE backend_type = 'client backend' AND application_name LIKE 'swiftbatch%'" 2>/dev/null || true)"
        pids=1
        for pid in "${workers[@]}"; do [[ "$seen" == *":$pid:"* ]] || pids=0; done
        if [[ -n "$launcher" ]] && kill -0 "$launcher" 2>/dev/null; then [[ "|$seen|" == *"|swiftbatch|"* ]] || pids=0; fi
        ((pids == 1)) && { t3="$(date +%s.%N)"; break; }
        sleep 0.1
    done
    failover_note="$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="${t3:-0}" 'BEGIN {
        printf "promoted in %.2f s; old primary stopped at +%.2f s; every process on the new primary at %s", b - a, c - a,
            (d > 0 ? sprintf("+%.2f s", d - a) : "never within 60 s") }')"
}

inject() {
    local kind="${kinds[RANDOM % ${#kinds[@]}]}" pid="" host="" seconds="" ms note=""
    case "$kind" in
        kill-worker)
            pid="$(random_worker)" || return 0
            kill -KILL "$pid" 2>/dev/null || return 0
            wait "$pid" 2>/dev/null || true
            ;;
        pause-worker)
            pid="$(random_worker)" || return 0
            kill -STOP "$pid" 2>/dev/null || return 0
            sleep $((lease * 2 + 1))
            kill -CONT "$pid" 2>/dev/null || true
            ;;
        term-worker) pid="$(random_worker)" || return 0; kill -TERM "$pid" 2>/dev/null || return 0 ;;
        kill-launcher)
            [[ -n "$launcher" ]] && kill -0 "$launcher" 2>/dev/null || return 0
            kill -KILL "$launcher"; wait "$launcher" 2>/dev/null || true
            launcher=""
            ;;
        drop-connection)
            sql_retry -c "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
                ORDER BY random() LIMIT 1) victim" >/dev/null || return 0
            ;;
        restart-fast | restart-crash)
            local mode=fast
            [[ "$kind" == restart-crash ]] && mode=immediate
            if [[ "$network" == 1 ]]; then
                tbq pg-restart "$mode"
            else
                bash "$ROOT/scripts/postgres.sh" restart "$mode" >/dev/null 2>&1
            fi
            ;;
        failover)
            # Once some partition commits were made, and only once a round.
            (($(sql_retry -c "SELECT count(*) FROM chaos_audit") >= 4)) && [[ -z "$failed_over" ]] || return 0
            failover_now
            note="$failover_note"
            ;;
        blackhole-worker | link-flap | latency-spike)
            # A worker on a host with no network fault in force.
            live_workers
            local candidates=()
            for pid in "${workers[@]}"; do [[ -z "${net_fault[${worker_host[$pid]:-}]:-}" ]] && candidates+=("$pid"); done
            ((${#candidates[@]} > 0)) || return 0
            pid="${candidates[RANDOM % ${#candidates[@]}]}"
            host="${worker_host[$pid]}"
            ;;&
        blackhole-launcher) [[ -z "${net_fault[launcher]:-}" ]] || return 0; pid="$launcher" host=launcher ;;&
        blackhole-worker | blackhole-launcher)
            seconds="$blackhole_seconds"
            net_fault_mark[$host]="$(sql_retry -c "SELECT coalesce(max(seq), 0) FROM chaos_audit")"
            net_fault_pid[$host]="${pid:-none}"
            tbq blackhole "$host"
            note="$host (PID ${pid:-none}) for ${seconds}s"
            ;;
        link-flap)
            seconds=$((1 + RANDOM % 4))
            tbq link-down "$host"
            note="$host down for ${seconds}s"
            ;;
        latency-spike)
            ms=$((50 + RANDOM % 251)) seconds=$((3 + RANDOM % 4))
            tbq delay "$host" "$ms"
            note="$host +${ms}ms each way for ${seconds}s"
            ;;
    esac
    injected[$kind]=$((injected[$kind] + 1))
    faults=$((faults + 1))
    printf '%s round %d: %s%s\n' "$(date +%T.%N | cut -c1-12)" "$round" "$kind" "${note:+ $note}" >>"$work/faults.log"
    [[ -z "$note" ]] || say "round $round: $kind $note"
    # Network faults last a while; the main loop ends them when due (heal_network).
    if [[ -n "$seconds" && -n "$host" ]]; then
        net_fault[$host]="$kind"
        net_fault_due[$host]=$((SECONDS + seconds))
        net_fault_since[$host]=$SECONDS
    fi
}

# Ends the network faults that are due (all of them with "all"), and says how the cluster
# fared during a black hole.
declare -A net_fault=() net_fault_due=() net_fault_since=() net_fault_mark=() net_fault_pid=()
heal_network() {
    local host kind others line
    for host in "${!net_fault[@]}"; do
        [[ "${1:-}" == all ]] || ((SECONDS >= net_fault_due[$host])) || continue
        kind="${net_fault[$host]}"
        case "$kind" in
            blackhole-*)
                # Partition commits during the black hole by anyone but the cut-off process.
                others="$(sql_retry -c "SELECT count(*) FROM chaos_audit WHERE seq > ${net_fault_mark[$host]} AND session NOT LIKE '%:${net_fault_pid[$host]}:%'")"
                tbq heal "$host"
                line="heal $host after $((SECONDS - net_fault_since[$host]))s; $others partition commits by others meanwhile"
                ;;
            link-flap) tbq link-up "$host"; line="link-up $host after $((SECONDS - net_fault_since[$host]))s" ;;
            latency-spike) tbq delay "$host" 0; line="delay $host 0 after $((SECONDS - net_fault_since[$host]))s" ;;
        esac
        [[ "${1:-}" == all ]] && line+=" (still in force when the round ended: $2)"
        printf '%s round %d: %s\n' "$(date +%T.%N | cut -c1-12)" "$round" "$line" >>"$work/faults.log"
        say "round $round: $line"
        unset "net_fault[$host]" "net_fault_due[$host]" "net_fault_since[$host]" "net_fault_mark[$host]" "net_fault_pid[$host]"
    done
}

# What a round that did not complete is waiting for: a one-line summary on stdout, the
# details in $work/hung-round-N.txt.
diagnose() {
    local file="$work/hung-round-$round.txt" pid parts
    {
        echo "launcher: ${launcher:-none}$([[ -n "$launcher" ]] && kill -0 "$launcher" 2>/dev/null && echo ' (alive)')"
        for pid in "${workers[@]}"; do echo "worker $pid ${worker_host[$pid]:-}$(kill -0 "$pid" 2>/dev/null && echo ' (alive)')"; done
        echo "-- partitions not COMPLETED"
        sql -c "SELECT partition_id, state, owner, attempt, now() - updated_at AS since FROM batch_partition WHERE state <> 'COMPLETED' ORDER BY partition_id" 2>&1 || true
        echo "-- sessions"
        sql -c "SELECT pid, application_name, client_addr, state, wait_event_type || ':' || wait_event, now() - xact_start AS xact, left(query, 80)
                FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() ORDER BY pid" 2>&1 || true
        [[ "$network" == 1 ]] && { echo "-- test bed"; tb status 2>&1 || true; }
    } >"$file"
    parts="$(sql -c "SELECT string_agg(n || ' ' || state || coalesce(' held by ' || owner, ''), ', ') FROM (
        SELECT state, owner, count(*) AS n FROM batch_partition WHERE state <> 'COMPLETED' GROUP BY 1, 2) s" 2>/dev/null || echo '?')"
    printf 'launcher %s; partitions not completed: %s; sessions waiting: %s (details: %s)' \
        "$([[ -n "$launcher" ]] && kill -0 "$launcher" 2>/dev/null && echo "PID $launcher still running" || echo "not running")" \
        "${parts:-none}" \
        "$(sql -c "SELECT coalesce(string_agg(format('%s from %s %s for %s s (%s)', application_name, client_addr, state,
                       extract(epoch FROM now() - coalesce(xact_start, state_change))::int,
                       CASE WHEN wait_event_type = 'Lock' THEN 'waiting for a lock' ELSE left(query, 40) END), '; '), 'none')
                   FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                   AND (state LIKE 'idle in%' OR wait_event_type = 'Lock')" 2>/dev/null || echo '?')" \
        "$file"
}

status_of_round() {
    sql_retry -c "SELECT coalesce((SELECT e.status FROM batch_job_execution e JOIN batch_job_instance i USING (job_instance_id)
        JOIN batch_job_execution_params p ON p.job_execution_id = e.job_execution_id AND p.parameter_name = 'run.id'
        WHERE i.job_name = 'ledger-etl' AND p.parameter_value = '$round' ORDER BY e.job_execution_id DESC LIMIT 1), 'NONE')"
}

AGGREGATES="SELECT count(*), coalesce(sum(amount_eur_cents), 0), coalesce(sum(fee_cents), 0), count(*) FILTER (WHERE flagged) FROM"
REFERENCE="SELECT id, a AS amount_eur_cents, greatest(25, round(abs(a) * 0.0125))::bigint AS fee_cents,
       abs(a) > 1000000 OR memo LIKE 'refund%' AS flagged
FROM (SELECT id, memo, round(amount_cents * CASE currency WHEN 'EUR' THEN 1.0 WHEN 'USD' THEN 0.92
                                                WHEN 'GBP' THEN 1.17 ELSE 0.0061 END)::bigint AS a FROM bench_txn) s"

say "seed $seed, $rounds rounds of $rows rows, $workers_wanted workers, lease ${lease}s; logs in $work"
for round in $(seq 1 "$rounds"); do
    skew=$((round % 2 == 0 ? 1 : 0))
    partitioner=$([[ $skew == 1 ]] && echo balanced || echo range)
    "$bin" launch ledger-seed "rows=$rows" "skew=$skew" "run.id=$round,long" >/dev/null 2>&1 \
        || { say "error: seeding round $round failed"; exit 1; }
    while live_workers; ((${#workers[@]} < workers_wanted)); do start_worker; done
    launch
    failed_over=""
    round_faults=$faults
    round_start=$SECONDS
    deadline=$((SECONDS + round_timeout))
    while true; do
        # Faults at random moments while the job runs: the first within 0.3 s of the launch,
        # then one every 0.1 to 0.9 s, at most 6 a round.
        if ((faults - round_faults < 6)); then
            sleep "0.$((faults == round_faults ? RANDOM % 3 : 1 + RANDOM % 9))"
            [[ "$(status_of_round)" =~ ^(COMPLETED)$ ]] || inject
        else
            sleep 0.5
        fi
        [[ "$network" == 1 ]] && heal_network
        while live_workers; ((${#workers[@]} < workers_wanted)); do start_worker; done
        # The launcher died (a fault) or ended: see where the instance stands.
        if [[ -z "$launcher" ]] || ! kill -0 "$launcher" 2>/dev/null; then
            [[ -n "$launcher" ]] && { wait "$launcher" 2>/dev/null || true; }
            launcher=""
            state="$(status_of_round)"
            [[ "$state" == COMPLETED ]] && break
            # Running under a dead launcher (attach once its lease ran out), FAILED or STOPPED
            # (restart): either way, launch the same instance again, as an operator would.
            relaunches=$((relaunches + 1))
            sleep 1
            launch
        fi
        if ((SECONDS >= deadline)); then
            say "error: round $round did not complete in $round_timeout s; hung: $(diagnose) (see $work)"
            stuck=$((stuck + 1)); keep=1
            # A launcher that hung would never return: end it so the checks can run.
            [[ -n "$launcher" ]] && { kill -KILL "$launcher" 2>/dev/null || true; }
            break
        fi
    done
    [[ -n "$launcher" ]] && { wait "$launcher" 2>/dev/null || true; launcher=""; }
    if [[ "$network" == 1 ]]; then
        heal_network all "$(status_of_round)"
        say "round $round: $(status_of_round) after $((SECONDS - round_start)) s, $relaunches relaunches so far"
    fi

    if [[ -n "$failover" ]]; then
        ended="$(date +%s.%N)"
        [[ -n "$failed_over" ]] && say "round $round: job COMPLETED +$(awk -v a="$failed_over" -v b="$ended" 'BEGIN { printf "%.2f", b - a }') s after the promotion began ($relaunches relaunches so far)"
        [[ -n "$failed_over" ]] || say "round $round: the job completed before any failover"
        # The launcher printed COMPLETED: fail over at once, and see whether it still is.
        bash "$ROOT/scripts/replica.sh" rebuild 2>>"$work/replica.log" || { say "error: rebuild failed (see $work/replica.log)"; exit 1; }
        bash "$ROOT/scripts/replica.sh" failover 0 >/dev/null 2>>"$work/replica.log" || { say "error: failover failed"; exit 1; }
        after="$(status_of_round)"
        say "round $round: failover right after COMPLETED: the promoted standby has the execution $after"
        if [[ "$after" != COMPLETED ]]; then
            if [[ "$failover" == sync ]]; then
                stuck=$((stuck + 1)); say "error: a COMPLETED execution was lost with synchronous replication"
            else
                # Asynchronous replication promises no more: launch the instance again, as an operator would.
                say "round $round: launching the instance again"
                launch; wait "$launcher" 2>/dev/null || true; launcher=""
            fi
        fi
        ((round < rounds)) && { bash "$ROOT/scripts/replica.sh" rebuild 2>>"$work/replica.log" || { say "error: rebuild failed"; exit 1; }; }
    fi
    # Every record, exactly once, with the reference values.
    read -r got_lost got_dup got_wrong < <(sql_retry -F ' ' -c "
        SELECT (SELECT count(*) FROM bench_txn t WHERE NOT EXISTS (SELECT 1 FROM bench_txn_out o WHERE o.id = t.id)),
               (SELECT count(*) - count(DISTINCT id) FROM bench_txn_out),
               (SELECT count(*) FROM ($REFERENCE) r JOIN bench_txn_out o USING (id)
                WHERE (r.amount_eur_cents, r.fee_cents, r.flagged) IS DISTINCT FROM (o.amount_eur_cents, o.fee_cents, o.flagged))")
    lost=$((lost + got_lost + got_wrong))
    duplicated=$((duplicated + got_dup))
    # Nothing left running or claimable.
    got_stuck="$(sql_retry -c "
        SELECT (SELECT count(*) FROM batch_job_execution WHERE status IN ('STARTING', 'STARTED', 'STOPPING'))
             + (SELECT count(*) FROM batch_step_execution WHERE status IN ('STARTING', 'STARTED', 'STOPPING'))
             + (SELECT count(*) FROM batch_partition WHERE state IN ('READY', 'CLAIMED'))")"
    stuck=$((stuck + got_stuck))
    # Fencing: every commit under a claim was made by the claim's holder, never by a worker
    # that had lost it (a paused or cut-off one) nor by anyone else.
    got_violations="$(sql_retry -c "
        SELECT count(*) FROM chaos_audit WHERE session <> left('swiftbatch worker ' || holder, 63)")"
    violations=$((violations + got_violations))
    commits="$(sql -c "SELECT count(*) FROM chaos_audit")"
    printf 'round %d (%s keys): %d faults, %d partition commits audited; lost %d, duplicated %d, wrong %d, stuck %d, fencing violations %d\n' \
        "$round" "$([[ $skew == 1 ]] && echo skewed || echo uniform)" $((faults - round_faults)) "$commits" \
        "$got_lost" "$got_dup" "$got_wrong" "$got_stuck" "$got_violations"
    sql -c "TRUNCATE chaos_audit" >/dev/null
done

for pid in "${workers[@]}"; do kill -CONT "$pid" 2>/dev/null || true; kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${workers[@]}"; do
    wait_bounded "$pid" 30 && continue
    say "error: worker $pid${worker_host[$pid]:+ on ${worker_host[$pid]}} did not exit within 30 s of SIGTERM: killed"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    stuck=$((stuck + 1))
done
workers=()
summary=""
for kind in "${kinds[@]}"; do summary+="$kind ${injected[$kind]}, "; done
say "faults by kind: ${summary%, }; relaunches $relaunches; seed $seed"
echo "rounds $rounds, faults $faults, records lost $lost, duplicated $duplicated, stuck $stuck"
if ((lost + duplicated + stuck + violations > 0)); then
    ((violations == 0)) || say "error: $violations commits by a partition's former holder (fencing violated)"
    keep=1
    exit 1
fi
