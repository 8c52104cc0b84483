#!/usr/bin/env bash
# Project-private PostgreSQL for SwiftBatch's tests and demos. Run with --help for usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/postgres.sh [start|stop|restart [fast|immediate]|status|url|env|install|--help]

Runs a private PostgreSQL 15 server for this checkout, with all its state in <repo>/.pg/:
  .pg/data   data directory           .pg/log/postgres.log  server log
  .pg/run    unix socket directory    .pg/port              TCP port in use
  .pg/env    sourceable file: export DATABASE_URL=postgres://postgres@127.0.0.1:PORT/swiftbatch

Commands:
  start    (default) If DATABASE_URL is set and reachable, print it and do nothing else.
           Otherwise install postgresql-15/libpq-dev if missing, initdb .pg/data if needed,
           start the server on 127.0.0.1 at the first free port from 25432 up (or reuse the
           server already running on .pg/data), create database "swiftbatch", write .pg/env.
           The last line of stdout is DATABASE_URL=<url>; progress goes to stderr.
  stop     Stop the private server (pg_ctl stop -m fast) if it is running.
  restart  Restart the running private server in place (pg_ctl restart -m fast, or -m
           immediate: a crash and recovery), same port. For fault tests.
  status   Print "running <url>" (exit 0) or "stopped" (exit 3) for the private server.
  url      Print the private server's URL if it is running (exit 3 if not).
  env      Like start, but print only `export DATABASE_URL=...`, for
           eval "$(scripts/postgres.sh env)".
  install  Only install postgresql-15 and libpq-dev if they are missing.

Authentication is "trust" and the server listens on 127.0.0.1 only: a test database.
When run as root, initdb/pg_ctl run as the "postgres" user (created if missing).
The Debian "main" cluster (port 5432) is never used nor touched.

Environment: DATABASE_URL (see start), PG_BIN (default /usr/lib/postgresql/15/bin),
SWIFTBATCH_PG_ROOT (default <repo>/.pg: a second private server lives in another directory),
PG_PORT_BASE (default 25432: below the ephemeral range 32768-60999, so no client connection can hold it).
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_ROOT="${SWIFTBATCH_PG_ROOT:-$ROOT/.pg}"
DATA_DIR="$PG_ROOT/data"
RUN_DIR="$PG_ROOT/run"
LOG_DIR="$PG_ROOT/log"
LOG_FILE="$LOG_DIR/postgres.log"
PORT_FILE="$PG_ROOT/port"
ENV_FILE="$PG_ROOT/env"
LOCK_FILE="$PG_ROOT/lock"
DB_NAME="swiftbatch"
DB_USER="postgres"
PORT_BASE="${PG_PORT_BASE:-25432}"
PORT_TRIES=200

log() { printf 'postgres.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Hide a password in a URL before showing it.
redact() { sed -E -e 's#(://[^:/@]*):[^@/]*@#\1:***@#' -e 's#(password=)[^&]*#\1***#g' <<<"$1"; }

url_for_port() { printf 'postgres://%s@127.0.0.1:%s/%s' "$DB_USER" "$1" "$DB_NAME"; }

as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        die "need root to run: $*"
    fi
}

# Run a server-side command (initdb, pg_ctl) as the user that owns the cluster.
# PostgreSQL refuses to run as root, so root delegates to "postgres". The lock's fd 9 is
# closed so that a server started here does not hold the lock for its whole life.
as_pg() {
    if [[ $EUID -eq 0 ]]; then
        (cd "$PG_ROOT" && runuser -u postgres -- "$@") 9>&-
    else
        (cd "$PG_ROOT" && "$@") 9>&-
    fi
}

psql_bin() {
    if [[ -x "$PG_BIN/psql" ]]; then
        printf '%s' "$PG_BIN/psql"
    else
        command -v psql || true
    fi
}

packages_present() {
    [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" ]] \
        && command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libpq
}

ensure_packages() {
    packages_present && return 0
    log "installing postgresql-15 and libpq-dev (missing: $PG_BIN/initdb or pkg-config libpq)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 \
        || die "apt-get update failed"
    # --no-upgrade: never upgrade an installed package (and restart servers) as a side effect.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-upgrade \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        postgresql-15 libpq-dev pkg-config >&2 \
        || die "apt-get install postgresql-15 libpq-dev failed"
    packages_present || die "still missing after install: $PG_BIN/initdb or pkg-config libpq"
}

# True when a connection to $1 answers `select 1` within a few seconds.
url_reachable() {
    local psql out
    psql="$(psql_bin)"
    [[ -n "$psql" ]] || return 1
    out="$(PGCONNECT_TIMEOUT=3 timeout 15 "$psql" -X -w -Atq -v ON_ERROR_STOP=1 \
        -d "$1" -c 'select 1' </dev/null 2>/dev/null)" || return 1
    [[ "$out" == "1" ]]
}

ensure_pg_user() {
    [[ $EUID -eq 0 ]] || return 0
    if ! id -u postgres >/dev/null 2>&1; then
        log "creating system user postgres"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    fi
}

ensure_dirs() {
    mkdir -p "$PG_ROOT" "$RUN_DIR" "$LOG_DIR"
    if [[ $EUID -eq 0 ]]; then
        ensure_pg_user
        chown postgres: "$PG_ROOT" "$RUN_DIR" "$LOG_DIR"
        [[ -e "$LOG_FILE" ]] && chown postgres: "$LOG_FILE"
        if [[ -d "$DATA_DIR" && "$(stat -c %U "$DATA_DIR")" != postgres ]]; then
            chown -R postgres: "$DATA_DIR"
        fi
        runuser -u postgres -- test -w "$PG_ROOT" \
            || die "user postgres cannot reach $PG_ROOT: every parent directory needs o+x"
    fi
    chmod 0755 "$PG_ROOT" "$LOG_DIR"
    chmod 0775 "$RUN_DIR"
}

# Take the lock that serialises start/stop between concurrent callers.
lock() {
    mkdir -p "$PG_ROOT"
    exec 9>>"$LOCK_FILE"
    if command -v flock >/dev/null 2>&1; then
        flock -w 180 9 || die "timed out waiting for $LOCK_FILE"
    fi
}

# 0 when the server on $DATA_DIR is running (per pg_ctl status, and its PID is a live
# postgres: pg_ctl counts a zombie or a reused PID as running).
server_running() {
    local pid
    [[ -f "$DATA_DIR/PG_VERSION" && -x "$PG_BIN/pg_ctl" ]] || return 1
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" status >/dev/null 2>&1 || return 1
    pid="$(sed -n 1p "$DATA_DIR/postmaster.pid" 2>/dev/null | tr -dc 0-9)"
    [[ -n "$pid" ]] && pid_is_live_postgres "$pid"
}

# Port of the running server: line 4 of postmaster.pid, else .pg/port.
running_port() {
    local port=""
    if [[ -r "$DATA_DIR/postmaster.pid" ]]; then
        port="$(sed -n 4p "$DATA_DIR/postmaster.pid" 2>/dev/null || true)"
    fi
    if [[ ! "$port" =~ ^[0-9]+$ && -r "$PORT_FILE" ]]; then
        port="$(tr -dc 0-9 <"$PORT_FILE")"
    fi
    [[ "$port" =~ ^[0-9]+$ ]] || return 1
    printf '%s' "$port"
}

server_answers() {
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$1" -U "$DB_USER" -d postgres -t "${2:-5}" >/dev/null 2>&1
}

# Ports a start attempt of this run failed to bind; never picked again.
FAILED_PORTS=" "

port_in_use() {
    local port="$1"
    [[ "$FAILED_PORTS" == *" $port "* ]] && return 0
    if command -v ss >/dev/null 2>&1; then
        # Any TCP socket on the port counts, not only listeners: a client connection's
        # ephemeral port (the range includes ours) also makes the server's bind fail.
        [[ -n "$(ss -Htan "sport = :$port" 2>/dev/null)" ]] && return 0
        return 1
    fi
    # Fallback: something accepts connections there.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

pick_port() {
    local port
    # Prefer the port this checkout used last, so the URL stays the same across restarts.
    if [[ -r "$PORT_FILE" ]]; then
        port="$(tr -dc 0-9 <"$PORT_FILE")"
        if [[ -n "$port" ]] && ! port_in_use "$port"; then
            printf '%s' "$port"
            return 0
        fi
    fi
    for ((port = PORT_BASE; port < PORT_BASE + PORT_TRIES; port++)); do
        if ! port_in_use "$port"; then
            printf '%s' "$port"
            return 0
        fi
    done
    die "no free TCP port in $PORT_BASE..$((PORT_BASE + PORT_TRIES - 1))"
}

init_cluster() {
    [[ -f "$DATA_DIR/PG_VERSION" ]] && return 0
    if [[ -d "$DATA_DIR" ]] && [[ -n "$(ls -A "$DATA_DIR")" ]]; then
        local aside
        aside="$DATA_DIR.broken.$(date +%Y%m%d%H%M%S)"
        log "$DATA_DIR has no PG_VERSION (half-made cluster): moving it to $aside"
        mv "$DATA_DIR" "$aside"
    fi
    mkdir -p "$DATA_DIR"
    chmod 0700 "$DATA_DIR"
    [[ $EUID -eq 0 ]] && chown postgres: "$DATA_DIR"
    log "initdb $DATA_DIR"
    local common=(-D "$DATA_DIR" -U "$DB_USER" --auth=trust --encoding=UTF8)
    if ! as_pg "$PG_BIN/initdb" "${common[@]}" --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1; then
        log "initdb with locale C.UTF-8 failed (see $LOG_DIR/initdb.log); retrying with --no-locale"
        find "$DATA_DIR" -mindepth 1 -delete
        as_pg "$PG_BIN/initdb" "${common[@]}" --no-locale >>"$LOG_DIR/initdb.log" 2>&1 || {
            tail -n 20 "$LOG_DIR/initdb.log" >&2
            die "initdb failed; see $LOG_DIR/initdb.log"
        }
    fi
}

# 0 when PID $1 is a live (not zombie) postgres process.
pid_is_live_postgres() {
    local pid="$1" state
    [[ -r "/proc/$pid/stat" ]] || return 1
    state="$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q postgres
}

# Lock files left by a killed server whose PID is now gone, a zombie (this machine's init
# reaps lazily) or reused by another program make pg_ctl and postgres believe a server
# still runs. Remove those; never touch the files of a live postgres process.
clear_stale_locks() {
    local f pid
    for f in "$DATA_DIR/postmaster.pid" "$RUN_DIR"/.s.PGSQL.*.lock; do
        [[ -f "$f" ]] || continue
        pid="$(sed -n 1p "$f" 2>/dev/null | tr -dc 0-9)"
        [[ -n "$pid" ]] || continue
        pid_is_live_postgres "$pid" && continue
        log "removing stale $f (PID $pid is not a running postgres)"
        rm -f "$f"
        [[ "$f" == *.lock ]] && rm -f "${f%.lock}"
    done
    return 0
}

start_server() {
    local port opts attempt
    if [[ $EUID -eq 0 ]]; then ensure_pg_user; fi
    local socket_dir="$RUN_DIR"
    for ((attempt = 1; attempt <= 5; attempt++)); do
        port="$(pick_port)"
        socket_dir="$RUN_DIR"
        # Unix socket paths are limited to ~107 bytes; TCP is what the URL uses anyway.
        if ((${#RUN_DIR} + 20 > 100)); then
            log "socket path under $RUN_DIR is too long: unix sockets disabled"
            socket_dir=""
        fi
        opts="-p $port -k '$socket_dir' -c listen_addresses=127.0.0.1 -c max_connections=500"
        opts+=" -c fsync=on -c shared_buffers=256MB"
        log "starting PostgreSQL on 127.0.0.1:$port (data $DATA_DIR, log $LOG_FILE)"
        if as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" -w -t 60 -o "$opts" start >&2; then
            printf '%s\n' "$port" >"$PORT_FILE"
            printf '%s' "$port"
            return 0
        fi
        if server_running; then
            # pg_ctl timed out but the server is up (e.g. a long crash recovery): wait more.
            if server_answers "$port" 120; then
                printf '%s\n' "$port" >"$PORT_FILE"
                printf '%s' "$port"
                return 0
            fi
            die "server started but does not answer on port $port; see $LOG_FILE"
        fi
        log "start attempt $attempt failed; last lines of $LOG_FILE:"
        tail -n 8 "$LOG_FILE" >&2 || true
        # A port taken between our check and the bind: forget it and try the next one.
        rm -f "$PORT_FILE"
        FAILED_PORTS+="$port "
        clear_stale_locks
        sleep "$attempt"
    done
    die "could not start PostgreSQL; see $LOG_FILE"
}

ensure_database() {
    local port="$1" psql exists
    psql="$(psql_bin)"
    local conn="host=127.0.0.1 port=$port user=$DB_USER dbname=postgres connect_timeout=10"
    exists="$("$psql" -X -w -Atq -d "$conn" \
        -c "select 1 from pg_database where datname = '$DB_NAME'" </dev/null)" \
        || die "cannot query the server on port $port"
    if [[ "$exists" != "1" ]]; then
        log "creating database $DB_NAME"
        "$psql" -X -w -q -v ON_ERROR_STOP=1 -d "$conn" \
            -c "create database $DB_NAME" </dev/null >&2 \
            || die "create database $DB_NAME failed"
    fi
}

write_env() {
    local url="$1" tmp
    tmp="$ENV_FILE.tmp.$$"
    printf 'export DATABASE_URL=%q\n' "$url" >"$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$ENV_FILE"
}

# Start (or reuse) the private server; sets URL and STATE (started|reused|external).
do_start() {
    if [[ -n "${DATABASE_URL:-}" ]]; then
        [[ -n "$(psql_bin)" ]] || ensure_packages
        if url_reachable "$DATABASE_URL"; then
            log "DATABASE_URL is set and reachable: using it ($(redact "$DATABASE_URL"))"
            URL="$DATABASE_URL"
            STATE=external
            return 0
        fi
        log "DATABASE_URL=$(redact "$DATABASE_URL") is not reachable: starting the private server instead"
    fi
    ensure_packages
    lock
    ensure_dirs
    init_cluster
    local port=""
    STATE=started
    clear_stale_locks
    if server_running; then
        port="$(running_port)" || die "server on $DATA_DIR runs but its port is unknown"
        if server_answers "$port" 30; then
            log "reusing the private server already running on port $port"
            STATE=reused
        else
            die "server on $DATA_DIR runs but does not answer on port $port; try: $0 stop"
        fi
    else
        port="$(start_server)"
        server_answers "$port" 30 || die "server started but does not answer on port $port"
    fi
    printf '%s\n' "$port" >"$PORT_FILE"
    ensure_database "$port"
    URL="$(url_for_port "$port")"
    write_env "$URL"
    log "ready: $URL"
}

do_stop() {
    lock
    if server_running; then
        log "stopping the private server on $DATA_DIR"
        as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" stop -m fast -w -t 60 >&2
    else
        log "private server is not running"
    fi
}

do_restart() {
    local mode="${1:-fast}"
    [[ "$mode" == fast || "$mode" == immediate ]] || die "restart mode must be fast or immediate, not $mode"
    lock
    server_running || die "the private server on $DATA_DIR is not running"
    log "restarting the private server on $DATA_DIR (-m $mode)"
    as_pg "$PG_BIN/pg_ctl" -D "$DATA_DIR" -l "$LOG_FILE" restart -m "$mode" -w -t 120 >&2 \
        || die "restart failed; see $LOG_FILE"
}

main() {
    local cmd="${1:-start}"
    URL=""
    STATE=""
    case "$cmd" in
        -h | --help | help)
            usage
            ;;
        start)
            do_start
            if [[ -n "${POSTGRES_SH_STATE_FILE:-}" ]]; then
                printf '%s\n' "$STATE" >"$POSTGRES_SH_STATE_FILE"
            fi
            printf 'DATABASE_URL=%s\n' "$URL"
            ;;
        env)
            do_start
            printf 'export DATABASE_URL=%q\n' "$URL"
            ;;
        stop)
            do_stop
            ;;
        restart)
            do_restart "${2:-fast}"
            ;;
        status)
            local port
            if server_running && port="$(running_port)" && server_answers "$port" 3; then
                printf 'running %s\n' "$(url_for_port "$port")"
            else
                printf 'stopped\n'
                exit 3
            fi
            ;;
        url)
            local port
            if server_running && port="$(running_port)"; then
                url_for_port "$port"
                printf '\n'
            else
                log "private server is not running (start it with: $0 start)"
                exit 3
            fi
            ;;
        install)
            ensure_packages
            ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
