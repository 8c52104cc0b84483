#!/usr/bin/env bash
# A PostgreSQL primary and a streaming standby on this machine, for failover tests.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/replica.sh COMMAND [options]

A primary and a streaming standby of PostgreSQL 15, on 127.0.0.1 at free ports from 26432 up,
with their state under $REPLICA_ROOT (default <repo>/.pg-replica): nodes a/ and b/ (data,
log), which one is the primary (role), the ports, and url (the multi-host URL).

Commands:
  start [--sync]   initdb the primary, create database "swiftbatch", pg_basebackup the
                   standby (-R: it streams from the primary) and start both. With --sync the
                   primary has synchronous_standby_names = '*': a commit made with
                   synchronous_commit on returns only once the standby has flushed it.
  url              print the URL every client uses: both hosts, target_session_attrs=read-write,
                   so libpq connects to whichever of them accepts writes
  primary-url      print the URL of the current primary alone
  failover [S]     promote the standby (pg_ctl promote -w), leave the old primary running S
                   seconds more (default 1: clients still connected to it go on there, as in
                   a real failover whose old primary is fenced late), then stop it in
                   immediate mode (a crash). The promoted node becomes the primary, with
                   synchronous_standby_names emptied (it has no standby to wait for until
                   `rebuild`). Prints the times of the three events as epoch seconds.
  rebuild          make the stopped old primary a standby of the new one again (fresh
                   pg_basebackup; restores synchronous_standby_names in --sync mode)
  status           print the role, port and state of each node
  stop             stop both nodes (fast)

Run as root, the servers run as the "postgres" user (created if missing) in directories this
script owns. Authentication is trust on 127.0.0.1: a test setup. PostgreSQL 15 and libpq are
installed with apt-get when missing (scripts/postgres.sh install).
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
RR="${REPLICA_ROOT:-$ROOT/.pg-replica}"
PORT_BASE="${REPLICA_PORT_BASE:-26432}"

log() { printf 'replica.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$RR" && runuser -u postgres -- "$@")
    else
        (cd "$RR" && "$@")
    fi
}

port_free() { [[ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]]; }
pick_port() {
    local port
    for ((port = PORT_BASE; port < PORT_BASE + 200; port++)); do
        [[ " ${*:-} " == *" $port "* ]] && continue
        port_free "$port" && { printf '%s' "$port"; return 0; }
    done
    die "no free TCP port from $PORT_BASE"
}

node_port() { cat "$RR/$1.port"; }
primary() { cat "$RR/role"; }
standby() { [[ "$(primary)" == a ]] && echo b || echo a; }
node_url() { printf 'postgresql://postgres@127.0.0.1:%s/swiftbatch' "$(node_port "$1")"; }
multi_url() {
    printf 'postgresql://postgres@127.0.0.1:%s,127.0.0.1:%s/swiftbatch?target_session_attrs=read-write&connect_timeout=3' \
        "$(node_port a)" "$(node_port b)"
}
psql_node() { "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -d "$(node_url "$1")" "${@:2}"; }

server_opts() {
    local port="$1"
    printf "%s" "-p $port -k '' -c listen_addresses=127.0.0.1 -c max_connections=300 -c wal_level=replica -c max_wal_senders=5 -c hot_standby=on -c wal_keep_size=256MB"
}

start_node() {
    local node="$1"
    as_pg "$PG_BIN/pg_ctl" -D "$RR/$node/data" -l "$RR/$node/log" -w -t 60 -o "$(server_opts "$(node_port "$node")")" start >&2 \
        || { tail -n 20 "$RR/$node/log" >&2; die "could not start node $node"; }
}

set_sync_names() { # node value
    psql_node "$1" -c "ALTER SYSTEM SET synchronous_standby_names = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
}

basebackup() { # standby-node
    local node="$1" from
    from="$(primary)"
    rm -rf "$RR/$node/data"
    mkdir -p "$RR/$node"
    [[ $EUID -eq 0 ]] && chown postgres: "$RR/$node"
    as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$(node_port "$from")" -U postgres -D "$RR/$node/data" -R -X stream -c fast >&2 \
        || die "pg_basebackup from node $from failed"
    # The promoted primary emptied it; a standby must not wait for anyone either way.
    sed -i '/synchronous_standby_names/d' "$RR/$node/data/postgresql.auto.conf"
    start_node "$node"
}

wait_streaming() {
    local i
    for ((i = 0; i < 100; i++)); do
        [[ "$(psql_node "$(primary)" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null)" == 1 ]] && return 0
        sleep 0.1
    done
    die "the standby did not start streaming within 10 s (see $RR/$(standby)/log)"
}

do_start() {
    local sync=0
    [[ "${1:-}" == --sync ]] && sync=1
    [[ -x "$PG_BIN/initdb" ]] || bash "$ROOT/scripts/postgres.sh" install
    if [[ -f "$RR/role" ]]; then do_stop || true; fi
    rm -rf "$RR"
    mkdir -p "$RR/a" "$RR/b"
    chmod 755 "$RR"
    if [[ $EUID -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown -R postgres: "$RR"
        runuser -u postgres -- test -w "$RR" || die "user postgres cannot reach $RR: every parent directory needs o+x"
    fi
    local pa pb
    pa="$(pick_port)"
    pb="$(pick_port "$pa")"
    echo "$pa" >"$RR/a.port"
    echo "$pb" >"$RR/b.port"
    echo a >"$RR/role"
    echo "$sync" >"$RR/sync"
    as_pg "$PG_BIN/initdb" -D "$RR/a/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$RR/a/initdb.log" 2>&1 \
        || die "initdb failed (see $RR/a/initdb.log)"
    start_node a
    "$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -d "host=127.0.0.1 port=$pa user=postgres dbname=postgres" -c "CREATE DATABASE swiftbatch" >/dev/null
    basebackup b
    wait_streaming
    [[ "$sync" == 1 ]] && set_sync_names a '*'
    log "primary a on port $pa, standby b on port $pb$([[ $sync == 1 ]] && echo ' (synchronous)')"
    multi_url >"$RR/url"
    cat "$RR/url"
    echo
}

do_failover() {
    local window="${1:-1}" old new t0 t1 t2
    old="$(primary)"
    new="$(standby)"
    t0="$(date +%s.%N)"
    as_pg "$PG_BIN/pg_ctl" -D "$RR/$new/data" promote -w -t 60 >&2 || die "promoting node $new failed"
    t1="$(date +%s.%N)"
    # No standby to wait for until `rebuild`: a synchronous primary alone would block every commit.
    set_sync_names "$new" ''
    echo "$new" >"$RR/role"
    sleep "$window"
    as_pg "$PG_BIN/pg_ctl" -D "$RR/$old/data" stop -m immediate -w -t 60 >&2 || true
    t2="$(date +%s.%N)"
    log "node $new promoted; old primary $old stopped (immediate) ${window}s later"
    printf 'promote_start=%s promoted=%s old_primary_stopped=%s\n' "$t0" "$t1" "$t2"
}

do_rebuild() {
    local node
    node="$(standby)"
    as_pg "$PG_BIN/pg_ctl" -D "$RR/$node/data" stop -m immediate -w -t 60 >/dev/null 2>&1 || true
    basebackup "$node"
    wait_streaming
    [[ "$(cat "$RR/sync")" == 1 ]] && set_sync_names "$(primary)" '*'
    log "node $node is a standby of $(primary) again"
}

do_stop() {
    local node
    for node in a b; do
        [[ -f "$RR/$node/data/PG_VERSION" ]] || continue
        as_pg "$PG_BIN/pg_ctl" -D "$RR/$node/data" stop -m fast -w -t 60 >/dev/null 2>&1 || true
    done
}

do_status() {
    local node state
    for node in a b; do
        if as_pg "$PG_BIN/pg_ctl" -D "$RR/$node/data" status >/dev/null 2>&1; then
            state="running, $(psql_node "$node" -c "SELECT CASE WHEN pg_is_in_recovery() THEN 'in recovery' ELSE 'read-write' END" 2>/dev/null || echo '?')"
        else
            state=stopped
        fi
        printf '%s port %s %s: %s\n' "$node" "$(node_port "$node")" "$([[ "$(primary)" == "$node" ]] && echo primary || echo standby)" "$state"
    done
}

case "${1:-}" in
    start) do_start "${2:-}" ;;
    url) cat "$RR/url"; echo ;;
    primary-url) node_url "$(primary)"; echo ;;
    failover) do_failover "${2:-1}" ;;
    rebuild) do_rebuild ;;
    status) do_status ;;
    stop) do_stop ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
