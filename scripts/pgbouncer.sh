#!/usr/bin/env bash
# A private PgBouncer in front of a PostgreSQL server, for tests and trials. --help for usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/pgbouncer.sh start SERVER_URL [--mode transaction|session] [--pool-size N] | stop | url | --help

Runs Debian's PgBouncer (installed with apt-get when missing and run as root) in front of the
PostgreSQL server at SERVER_URL (postgres://USER@HOST:PORT/DB, trust authentication, as
scripts/postgres.sh starts it), with all its state in <repo>/.pgbouncer/ (or $PGBOUNCER_ROOT):
config, auth file, log, pid and the port it listens on (127.0.0.1, the first free one from
26432 up). One pool for the URL's user and database, default_pool_size N (default 4), mode
transaction (default) or session.

  start    Start it (stopping one this directory left running first). The last line of stdout
           is the URL to give clients: postgres://USER@127.0.0.1:PORT/DB.
  stop     Stop it, if running.
  url      Print the URL of the running one (exit 3 if none).

PgBouncer refuses to run as root: as root it runs as the "postgres" user.
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
DIR="${PGBOUNCER_ROOT:-$ROOT/.pgbouncer}"
PORT_BASE=26432

log() { printf 'pgbouncer.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

running_pid() {
    [[ -f "$DIR/pgbouncer.pid" ]] || return 1
    local pid
    pid="$(cat "$DIR/pgbouncer.pid" 2>/dev/null)" || return 1
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && { echo "$pid"; return 0; }
    return 1
}

stop() {
    local pid
    if pid="$(running_pid)"; then
        kill -INT "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        log "stopped (pid $pid)"
    fi
    rm -f "$DIR/pgbouncer.pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
    local server="$1" mode="$2" pool="$3"
    [[ "$mode" == transaction || "$mode" == session ]] || die "--mode takes transaction or session, not '$mode'"
    [[ "$pool" =~ ^[1-9][0-9]*$ ]] || die "--pool-size takes a positive number, not '$pool'"
    # postgres://USER@HOST:PORT/DB, or a conninfo with user, host, port and dbname (no password:
    # trust, as the private servers run).
    local user host port db
    if [[ "$server" =~ ^postgres(ql)?://([^@:/]+)@([^:/]+):([0-9]+)/([^?]+)$ ]]; then
        user="${BASH_REMATCH[2]}" host="${BASH_REMATCH[3]}" port="${BASH_REMATCH[4]}" db="${BASH_REMATCH[5]}"
    else
        conninfo() { sed -nE "s/.*(^|[[:space:]])$1='?([^' ]*)'?.*/\2/p" <<<"$server"; }
        user="$(conninfo user)" host="$(conninfo host)" port="$(conninfo port)" db="$(conninfo dbname)"
        [[ -n "$user" && -n "$host" && "$port" =~ ^[0-9]+$ && -n "$db" ]] \
            || die "SERVER_URL must look like postgres://USER@HOST:PORT/DB or name user, host, port and dbname, not '$server'"
    fi
    if ! command -v pgbouncer >/dev/null && [[ ! -x /usr/sbin/pgbouncer ]]; then
        [[ $EUID -eq 0 ]] || die "pgbouncer is not installed; run as root to install it (apt-get install pgbouncer)"
        log "installing pgbouncer"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >/dev/null
    fi
    local bin
    bin="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"
    stop
    mkdir -p "$DIR"
    local listen=$PORT_BASE
    until port_free "$listen"; do
        listen=$((listen + 1))
        ((listen < PORT_BASE + 200)) || die "no free port from $PORT_BASE"
    done
    printf '"%s" ""\n' "$user" >"$DIR/userlist.txt"
    cat >"$DIR/pgbouncer.ini" <<INI
[databases]
$db = host=$host port=$port dbname=$db user=$user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $listen
unix_socket_dir =
auth_type = trust
auth_file = $DIR/userlist.txt
pool_mode = $mode
default_pool_size = $pool
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 500
max_db_connections = $pool
ignore_startup_parameters = extra_float_digits
idle_transaction_timeout = 120
logfile = $DIR/pgbouncer.log
pidfile = $DIR/pgbouncer.pid
INI
    : >"$DIR/pgbouncer.log"
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown -R postgres "$DIR"
        runuser -u postgres -- "$bin" -d "$DIR/pgbouncer.ini" >/dev/null
    else
        "$bin" -d "$DIR/pgbouncer.ini" >/dev/null
    fi
    for _ in $(seq 100); do
        running_pid >/dev/null && ! port_free "$listen" && break
        sleep 0.1
    done
    running_pid >/dev/null || { tail -n 20 "$DIR/pgbouncer.log" >&2; die "pgbouncer did not start"; }
    echo "$listen" >"$DIR/port"
    echo "postgres://$user@127.0.0.1:$listen/$db" >"$DIR/url"
    log "running: $mode mode, pool $pool, in front of $host:$port/$db (state in $DIR)"
    cat "$DIR/url"
}

command="${1:-}"
case "$command" in
    start)
        shift
        [[ $# -ge 1 ]] || { usage >&2; exit 2; }
        server="$1"; shift
        mode=transaction pool=4
        while [[ $# -gt 0 ]]; do
            case "$1" in
                --mode) mode="${2:-}"; shift 2 ;;
                --pool-size) pool="${2:-}"; shift 2 ;;
                *) usage >&2; exit 2 ;;
            esac
        done
        start "$server" "$mode" "$pool"
        ;;
    stop) stop ;;
    url) running_pid >/dev/null && cat "$DIR/url" || exit 3 ;;
    -h|--help) usage ;;
    *) usage >&2; exit 2 ;;
esac
