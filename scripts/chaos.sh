#!/usr/bin/env bash
# A fault campaign: ledger-etl under injected faults, every record checked after every round.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/chaos.sh [--rounds R] [--rows N] [--seed S] [--workers W] [--bin PATH] [--keep]

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

It ends with one line:  rounds R, faults F, records lost L, duplicated D, stuck S
and exits 1 on any loss, duplicate, stuck execution or audit violation (2 on bad usage).

Options:
  --rounds R   rounds (default 5)          --rows N     rows per round (default 50000)
  --seed S     fault seed (default: the time; printed, so a failure can be replayed)
  --workers W  worker processes (default 3)
  --bin PATH   the swiftbatch executable (default: .build/debug/swiftbatch, built if missing)
  --keep       leave the campaign's PostgreSQL and logs in place (printed) for inspection
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
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) rounds="${2:-}"; shift 2 ;;
        --rows) rows="${2:-}"; shift 2 ;;
        --seed) seed="${2:-}"; shift 2 ;;
        --workers) workers_wanted="${2:-}"; shift 2 ;;
        --bin) bin="${2:-}"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "chaos.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for pair in "rounds:$rounds" "rows:$rows" "seed:$seed" "workers:$workers_wanted"; do
    [[ "${pair#*:}" =~ ^[0-9]+$ ]] || { echo "chaos.sh: --${pair%%:*} takes a whole number, not '${pair#*:}'" >&2; exit 2; }
done
((rounds >= 1 && rows >= 1000 && workers_wanted >= 1)) || { echo "chaos.sh: need --rounds >= 1, --rows >= 1000, --workers >= 1" >&2; exit 2; }

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
cleanup() {
    local pid
    for pid in "${workers[@]}" $launcher; do kill -CONT "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
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

url="$(DATABASE_URL='' bash "$ROOT/scripts/postgres.sh" start 2>"$work/postgres-start.log" | tail -n 1)"
url="${url#DATABASE_URL=}"
[[ -n "$url" ]] || { cat "$work/postgres-start.log" >&2; say "error: could not start PostgreSQL"; exit 1; }
export DATABASE_URL="$url"
sql() { "$PG_BIN/psql" "$url" -qAt -v ON_ERROR_STOP=1 "$@"; }
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
sql <<'SQL'
CREATE TABLE chaos_audit (
    seq bigserial PRIMARY KEY, partition_id bigint, holder text, attempt int, new_state text,
    session text, at timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION chaos_audit_partition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'CLAIMED' AND NEW.updated_at IS DISTINCT FROM OLD.updated_at
       AND NEW.manager_step_execution_id = OLD.manager_step_execution_id
       AND ((NEW.owner = OLD.owner AND NEW.attempt = OLD.attempt
             AND coalesce(NEW.last_error, '') NOT LIKE 'its worker (%) stopped renewing the lease%')
            OR (NEW.state = 'READY' AND NEW.owner IS NULL AND NEW.attempt = OLD.attempt - 1)) THEN
        INSERT INTO chaos_audit (partition_id, holder, attempt, new_state, session)
        VALUES (NEW.partition_id, OLD.owner, OLD.attempt, NEW.state, current_setting('application_name'));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER chaos_audit AFTER UPDATE ON batch_partition FOR EACH ROW EXECUTE FUNCTION chaos_audit_partition();
SQL

RANDOM=$seed
lease=3
kinds=(kill-worker pause-worker term-worker kill-launcher drop-connection restart-fast restart-crash)
declare -A injected=()
for kind in "${kinds[@]}"; do injected[$kind]=0; done
faults=0 lost=0 duplicated=0 stuck=0 violations=0 relaunches=0

start_worker() {
    "$bin" worker --concurrency 2 --lease-seconds "$lease" >>"$work/workers.log" 2>&1 &
    workers+=("$!")
}
live_workers() { # prunes exited workers from the list
    local pid alive=()
    for pid in "${workers[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); else wait "$pid" 2>/dev/null || true; fi
    done
    workers=("${alive[@]}")
}
random_worker() { live_workers; ((${#workers[@]} > 0)) && echo "${workers[RANDOM % ${#workers[@]}]}"; }

# Launches (or attaches to, or restarts) the round's instance in the background.
launch() {
    "$bin" launch ledger-etl "grid=8" "chunk=100" "partitioner=$partitioner" "run.id=$round,long" \
        --lease-seconds "$lease" >>"$work/launcher-$round.log" 2>&1 &
    launcher=$!
}

inject() {
    local kind="${kinds[RANDOM % ${#kinds[@]}]}" pid
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
        restart-fast) bash "$ROOT/scripts/postgres.sh" restart fast >/dev/null 2>&1 ;;
        restart-crash) bash "$ROOT/scripts/postgres.sh" restart immediate >/dev/null 2>&1 ;;
    esac
    injected[$kind]=$((injected[$kind] + 1))
    faults=$((faults + 1))
    printf '%s round %d: %s\n' "$(date +%T.%N | cut -c1-12)" "$round" "$kind" >>"$work/faults.log"
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
    round_faults=$faults
    deadline=$((SECONDS + 600))
    while true; do
        # Faults at random moments while the job runs: the first within 0.3 s of the launch,
        # then one every 0.1 to 0.9 s, at most 6 a round.
        if ((faults - round_faults < 6)); then
            sleep "0.$((faults == round_faults ? RANDOM % 3 : 1 + RANDOM % 9))"
            [[ "$(status_of_round)" =~ ^(COMPLETED)$ ]] || inject
        else
            sleep 0.5
        fi
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
        ((SECONDS < deadline)) || { say "error: round $round did not complete in 10 minutes (see $work)"; stuck=$((stuck + 1)); keep=1; break; }
    done
    [[ -n "$launcher" ]] && { wait "$launcher" 2>/dev/null || true; launcher=""; }

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
for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
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
