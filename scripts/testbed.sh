#!/usr/bin/env bash
# A cluster test bed on one machine: PostgreSQL and worker "hosts" in network namespaces of
# their own, joined by a bridge, with faults a real network has (black holes, links down,
# latency). Run with --help for usage.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/testbed.sh COMMAND [ARGS]

A cluster on one Linux machine (root needed): a PostgreSQL server and N worker hosts, each in
a network namespace of its own, joined over TCP by a bridge in a "switch" namespace. Every
address comes from one private /24 the bed owns (default 10.231.0.0/24); nothing is routed
anywhere else, and the root namespace gets no address nor interface of the bed.

  SUBNET.2   db        PostgreSQL 15 (port 5432; trust auth; its own data directory)
  SUBNET.3   launcher  a host for `swiftbatch launch`
  SUBNET.11  h1 ... SUBNET.(10+N) hN   worker hosts
Neighbour (ARP) entries are static, so a host that is black-holed is silent: no RST, no
ICMP, no ARP failure; a TCP connection to or from it hangs.

Commands:
  up --hosts N        Start the bed (first cleaning up any leftover of an earlier run of
                      this bed: namespaces, processes). N from 1 to 200, default 2.
  down                Kill every process in the bed's namespaces (PostgreSQL, proxies,
                      anything started with exec), delete its namespaces, veths and bridge.
                      Idempotent; safe after a crash.
  status              Hosts, addresses, faults in force, processes per namespace.
  exec HOST [--direct] -- CMD...
                      Run CMD inside HOST's namespace with DATABASE_URL (and PGHOST, PGPORT,
                      PGUSER, PGDATABASE) for PostgreSQL over TCP: through the host's delay
                      proxy when it has one (see delay), else straight (or with --direct).
                      CMD replaces this script (same PID), so signals reach it directly.
  url HOST [--direct] Print the DATABASE_URL exec would give HOST. `url control` prints the
                      Unix-socket URL for the root namespace (checks, not subject to faults).
  blackhole HOST      Silently drop every packet to and from HOST (its bridge port stops
                      forwarding: `bridge link set dev v-HOST state 0`).
  heal HOST           Forward HOST's packets again.
  link-down HOST      `ip link set eth0 down` in HOST: its packets are lost, the interface
                      and its route are gone (new connections fail at once, open ones hang).
  link-up HOST        Bring it back (a black hole in force stays in force).
  delay HOST MS       Route HOST's connections through a delay proxy of the bed
                      (scripts/testbed/delay_proxy.py in the db namespace, port 6400+i) that
                      adds MS milliseconds each way to every chunk. The proxy stays, and
                      `exec HOST` uses it, until `delay HOST off`; changing MS applies at
                      once, also to open connections (MS 0 keeps the proxy, with no delay).
  delay HOST off      Stop HOST's proxy (connections through it are cut).
  pg-restart MODE     pg_ctl restart -m fast|immediate, inside the db namespace.
  selftest            Check the bed itself (a bed of its own in .testbed-selftest/): TCP from
                      the hosts, blackhole hangs, heal, link-down/up, delay, clean down.
                      Ends with "testbed selftest: P passed, F failed".
HOST is launcher or h1..hN (blackhole/heal/link-down/link-up also take db).

Exit codes: 0 ok; 1 an operation or a selftest check failed; 2 bad usage; 3 the bed is not
up; 4 this machine cannot run the bed (not root, no network namespaces, veth or bridge in
the kernel, packages missing and not installable). exec exits with CMD's status.

State, logs and PostgreSQL's data live in TESTBED_DIR (default <repo>/.testbed; the logs stay
after down). Missing packages (iproute2, postgresql-15, python3) are installed with apt-get.

Environment:
  TESTBED_DIR         state directory (default <repo>/.testbed; selftest: <repo>/.testbed-selftest)
  TESTBED_NAME        prefix of the bed's namespaces (default sbtb-<hash of TESTBED_DIR>);
                      down deletes exactly the namespaces named TESTBED_NAME-*
  TESTBED_SUBNET      first three octets of the bed's /24 (default 10.231.0; private only)
  TESTBED_URL_PARAMS  query string added to every TCP DATABASE_URL, e.g.
                      "keepalives_idle=2&keepalives_interval=1&keepalives_count=3&tcp_user_timeout=6000"
  TESTBED_PG_OPTIONS  extra postgres options, e.g. "-c tcp_keepalives_idle=5"
  PG_BIN              PostgreSQL binaries (default /usr/lib/postgresql/15/bin)
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PROXY_PY="$ROOT/scripts/testbed/delay_proxy.py"
PG_PORT=5432
PROXY_PORT_BASE=6400
DB_NAME=swiftbatch
DB_USER=postgres

say() { printf '==> testbed.sh: %s\n' "$*" >&2; }
die() { say "error: $1"; exit "${2:-1}"; }
usage_error() { say "error: $1 (see --help)"; exit 2; }

# Sets BED_DIR, NAME, SUBNET and the paths under BED_DIR. $1: default directory.
configure() {
    BED_DIR="${TESTBED_DIR:-$1}"
    mkdir -p "$BED_DIR"
    BED_DIR="$(cd "$BED_DIR" && pwd -P)"
    NAME="${TESTBED_NAME:-sbtb-$(printf '%s' "$BED_DIR" | md5sum | cut -c1-8)}"
    [[ "$NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,40}$ ]] || usage_error "TESTBED_NAME '$NAME' is not a plain name"
    SUBNET="${TESTBED_SUBNET:-10.231.0}"
    local a b c
    IFS=. read -r a b c <<<"$SUBNET"
    # shellcheck disable=SC2015  # usage_error exits: A && B || C is "unless A and B"
    [[ "$SUBNET" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] \
        && ((a == 10 && b <= 255 && c <= 255 || a == 192 && b == 168 && c <= 255 || a == 172 && b >= 16 && b <= 31 && c <= 255)) \
        || usage_error "TESTBED_SUBNET '$SUBNET' must be the first three octets of a private /24 (10.x.y, 172.16-31.y, 192.168.y)"
    STATE_DIR="$BED_DIR/state"
    LOG_DIR="$BED_DIR/log"
    PG_ROOT="$BED_DIR/pg"
    PG_DATA="$PG_ROOT/data"
    PG_RUN="$PG_ROOT/run"
    DB_ADDR="$SUBNET.2"
}

ns() { printf '%s-%s' "$NAME" "$1"; }
nhosts() { cat "$STATE_DIR/nhosts" 2>/dev/null || echo 0; }
hosts() { # every host of the bed, db first
    local i
    printf '%s\n' db launcher
    for ((i = 1; i <= $(nhosts); i++)); do printf 'h%d\n' "$i"; done
}
host_octet() {
    case "$1" in
        db) echo 2 ;;
        launcher) echo 3 ;;
        h[0-9]*) echo $((10 + ${1#h})) ;;
    esac
}
host_addr() { printf '%s.%s' "$SUBNET" "$(host_octet "$1")"; }
host_mac() { printf '02:5b:%02x:00:00:%02x' "$(($(printf '%s' "$NAME" | cksum | cut -d' ' -f1) % 256))" "$(host_octet "$1")"; }
proxy_port() { if [[ "$1" == launcher ]]; then echo "$PROXY_PORT_BASE"; else echo $((PROXY_PORT_BASE + ${1#h})); fi; }
our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -F -- "$NAME-" | grep -E "^${NAME//./\\.}-[a-z0-9]+$" || true; }
is_up() { [[ -f "$STATE_DIR/up" ]] && ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF -- "$(ns db)"; }
require_up() { is_up || die "the bed ($BED_DIR) is not up: run scripts/testbed.sh up --hosts N" 3; }

# $1: a host name; $2: what the command accepts (hosts | hosts+db).
check_host() {
    local host="$1" n
    require_up
    n="$(nhosts)"
    case "$host" in
        launcher) return 0 ;;
        db) [[ "${2:-hosts}" == hosts+db ]] && return 0 ;;
        h[0-9]*) [[ "${host#h}" =~ ^[1-9][0-9]*$ ]] && ((${host#h} <= n)) && return 0 ;;
    esac
    usage_error "unknown host '$host': the bed has launcher and h1..h$n$([[ "${2:-}" == hosts+db ]] && echo ' (and db here)')"
}

# Serialises commands that change the bed. Children must not inherit fd 9 (see spawn sites).
lock() {
    mkdir -p "$BED_DIR"
    exec 9>>"$BED_DIR/lock"
    flock -w 120 9 || die "timed out waiting for $BED_DIR/lock"
}

as_pg() { (cd "$PG_ROOT" && runuser -u postgres -- "$@") 9>&-; }
in_ns() { local host="$1"; shift; ip netns exec "$(ns "$host")" "$@"; }

check_machine() {
    [[ $EUID -eq 0 ]] || die "must run as root (network namespaces, veth pairs, a bridge)" 4
    [[ -e /proc/self/ns/net ]] || die "this kernel has no network namespaces (CONFIG_NET_NS): the bed cannot run here" 4
    ensure_packages
    local probe="$NAME-probe"
    ip netns del "$probe" 2>/dev/null || true
    ip netns add "$probe" 2>/dev/null || die "cannot create a network namespace (ip netns add failed): no CONFIG_NET_NS or no permission" 4
    local fail=""
    if ! ip -n "$probe" link add tbp0 type veth peer name tbp1 2>/dev/null; then
        fail="cannot create a veth pair (kernel without CONFIG_VETH?)"
    elif ! ip -n "$probe" link add br0 type bridge 2>/dev/null; then
        fail="cannot create a bridge (kernel without CONFIG_BRIDGE?)"
    elif ! { ip -n "$probe" link set tbp0 master br0 && ip -n "$probe" link set br0 up \
        && ip -n "$probe" link set tbp0 up && ip -n "$probe" link set tbp1 up \
        && ip netns exec "$probe" bridge link set dev tbp0 state 0; } 2>/dev/null; then
        fail="cannot set a bridge port's state (bridge link set dev X state 0): the black hole needs it"
    fi
    ip netns del "$probe" 2>/dev/null || true
    [[ -z "$fail" ]] || die "$fail" 4
}

packages_present() {
    command -v ip >/dev/null && command -v bridge >/dev/null && command -v ss >/dev/null \
        && command -v python3 >/dev/null && command -v runuser >/dev/null && command -v flock >/dev/null \
        && [[ -x "$PG_BIN/initdb" && -x "$PG_BIN/pg_ctl" && -x "$PG_BIN/psql" && -x "$PG_BIN/pg_isready" ]]
}

ensure_packages() {
    packages_present && return 0
    command -v apt-get >/dev/null || die "missing tools (ip, bridge, ss, python3, runuser, flock or PostgreSQL 15 in $PG_BIN) and no apt-get to install them" 4
    say "installing iproute2, postgresql-15, python3 (something is missing)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed" 4
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-upgrade \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        iproute2 postgresql-15 python3 util-linux >&2 || die "apt-get install failed" 4
    packages_present || die "still missing after apt-get: ip, bridge, ss, python3, runuser, flock or $PG_BIN/{initdb,pg_ctl,psql,pg_isready}" 4
}

# ---- down -------------------------------------------------------------------------------

kill_namespace_processes() { # $1: namespace
    local nsname="$1" pids
    pids="$(ip netns pids "$nsname" 2>/dev/null | tr '\n' ' ')"
    [[ -n "${pids// /}" ]] || return 0
    # shellcheck disable=SC2086  # a list of PIDs
    kill -CONT $pids 2>/dev/null || true
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for _ in $(seq 50); do
        [[ -z "$(ip netns pids "$nsname" 2>/dev/null)" ]] && return 0
        sleep 0.1
    done
    pids="$(ip netns pids "$nsname" 2>/dev/null | tr '\n' ' ')"
    say "killing what is left in $nsname: $pids"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    for _ in $(seq 50); do
        [[ -z "$(ip netns pids "$nsname" 2>/dev/null)" ]] && return 0
        sleep 0.1
    done
    say "warning: processes still in $nsname after SIGKILL: $(ip netns pids "$nsname" | tr '\n' ' ')"
}

do_down() {
    local nsname list
    list="$(our_namespaces)"
    # PostgreSQL first, cleanly if it can (immediate: nothing to keep).
    if [[ -f "$PG_DATA/postmaster.pid" ]] && grep -qxF -- "$(ns db)" <<<"$list"; then
        timeout 20 ip netns exec "$(ns db)" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" stop -m immediate -w -t 15 >/dev/null 2>&1 9>&- || true
    fi
    # Hosts before the database, so clients go first; the switch last.
    for nsname in $(grep -v -e '-db$' -e '-sw$' <<<"$list") $(grep -e '-db$' <<<"$list") $(grep -e '-sw$' <<<"$list"); do
        kill_namespace_processes "$nsname"
        ip netns del "$nsname" 2>/dev/null || say "warning: could not delete namespace $nsname"
    done
    [[ -n "$list" ]] && say "down: deleted namespaces $(tr '\n' ' ' <<<"$list")"
    rm -rf "$STATE_DIR" "$PG_ROOT"
    return 0
}

# ---- up ---------------------------------------------------------------------------------

start_postgres() {
    id -u postgres >/dev/null 2>&1 || useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
    mkdir -p "$PG_DATA" "$PG_RUN" "$LOG_DIR"
    chown postgres: "$PG_ROOT" "$PG_DATA" "$PG_RUN"
    chmod 0700 "$PG_DATA"
    chmod 0755 "$PG_ROOT" "$PG_RUN"
    runuser -u postgres -- test -w "$PG_ROOT" || die "user postgres cannot reach $PG_ROOT: every parent directory needs o+x"
    (( ${#PG_RUN} + 20 < 100 )) || die "$PG_RUN is too long for a Unix socket path: set TESTBED_DIR to a shorter directory"
    local common=(-D "$PG_DATA" -U "$DB_USER" --auth=trust --encoding=UTF8)
    if ! as_pg "$PG_BIN/initdb" "${common[@]}" --locale=C.UTF-8 >"$LOG_DIR/initdb.log" 2>&1; then
        find "$PG_DATA" -mindepth 1 -delete
        as_pg "$PG_BIN/initdb" "${common[@]}" --no-locale >>"$LOG_DIR/initdb.log" 2>&1 \
            || { tail -n 20 "$LOG_DIR/initdb.log" >&2; die "initdb failed; see $LOG_DIR/initdb.log"; }
    fi
    printf 'host all all %s.0/24 trust\n' "$SUBNET" >>"$PG_DATA/pg_hba.conf"
    : >"$LOG_DIR/postgres.log"
    chown postgres: "$LOG_DIR/postgres.log"
    local opts="-p $PG_PORT -k '$PG_RUN' -c listen_addresses=$DB_ADDR -c max_connections=300 ${TESTBED_PG_OPTIONS:-}"
    ip netns exec "$(ns db)" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" \
        -w -t 60 -o "$opts" start >"$LOG_DIR/pg_ctl.log" 2>&1 9>&- \
        || { tail -n 20 "$LOG_DIR/postgres.log" >&2; die "PostgreSQL did not start; see $LOG_DIR/postgres.log"; }
    "$PG_BIN/psql" -X -w -q -v ON_ERROR_STOP=1 -d "host=$PG_RUN port=$PG_PORT user=$DB_USER dbname=postgres" \
        -c "CREATE DATABASE $DB_NAME" </dev/null >/dev/null || die "CREATE DATABASE $DB_NAME failed"
}

do_up() {
    local n="$1" host nsname addr other
    lock
    check_machine
    do_down
    mkdir -p "$STATE_DIR" "$LOG_DIR"
    printf '%s\n' "$n" >"$STATE_DIR/nhosts"
    local sw
    sw="$(ns sw)"
    say "up: $n hosts on $SUBNET.0/24, namespaces $NAME-*, state in $BED_DIR"
    ip netns add "$sw"
    ip -n "$sw" link set lo up
    ip -n "$sw" link add br0 type bridge
    ip -n "$sw" link set br0 up
    for host in $(hosts); do
        nsname="$(ns "$host")"
        ip netns add "$nsname"
        ip -n "$nsname" link set lo up
        # Both ends are created straight in their namespaces: nothing appears in the root one.
        ip link add "v-$host" netns "$sw" type veth peer name eth0 netns "$nsname"
        ip -n "$sw" link set "v-$host" master br0
        ip -n "$sw" link set "v-$host" up
        ip netns exec "$nsname" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
        ip -n "$nsname" link set eth0 address "$(host_mac "$host")"
        ip -n "$nsname" addr add "$(host_addr "$host")/24" dev eth0
        ip -n "$nsname" link set eth0 up
    done
    # Static neighbours: a silent peer stays silent (no ARP failure turning into EHOSTUNREACH).
    for host in $(hosts); do
        for other in $(hosts); do
            [[ "$other" == "$host" ]] && continue
            ip -n "$(ns "$host")" neigh replace "$(host_addr "$other")" lladdr "$(host_mac "$other")" dev eth0 nud permanent
        done
    done
    start_postgres
    for host in $(hosts); do
        [[ "$host" == db ]] && continue
        addr="$(host_addr "$host")"
        in_ns "$host" "$PG_BIN/pg_isready" -q -h "$DB_ADDR" -p "$PG_PORT" -t 10 \
            || die "host $host ($addr) cannot reach PostgreSQL at $DB_ADDR:$PG_PORT"
    done
    date +%s >"$STATE_DIR/up"
    say "up: PostgreSQL at $DB_ADDR:$PG_PORT (control: $(control_url)); hosts launcher h1..h$n"
}

# ---- urls and exec ----------------------------------------------------------------------

with_params() { if [[ -n "${TESTBED_URL_PARAMS:-}" ]]; then printf '%s?%s' "$1" "$TESTBED_URL_PARAMS"; else printf '%s' "$1"; fi; }
control_url() { printf 'postgresql://%s@/%s?host=%s&port=%s' "$DB_USER" "$DB_NAME" "$PG_RUN" "$PG_PORT"; }
proxy_running() { local pid; pid="$(cat "$STATE_DIR/$1.proxy.pid" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null; }
# Sets URL_HOST and URL_PORT for $1 ($2 = --direct to skip its proxy).
endpoint() {
    URL_HOST="$DB_ADDR" URL_PORT="$PG_PORT"
    if [[ "${2:-}" != --direct ]] && proxy_running "$1"; then URL_PORT="$(proxy_port "$1")"; fi
}
host_url() {
    endpoint "$@"
    with_params "postgres://$DB_USER@$URL_HOST:$URL_PORT/$DB_NAME"
}

do_exec() {
    local host="$1" direct=""
    shift
    check_host "$host" hosts+db
    [[ "${1:-}" == --direct ]] && { direct=--direct; shift; }
    [[ "${1:-}" == -- ]] && shift
    [[ $# -gt 0 ]] || usage_error "exec $host: no command given"
    require_up
    endpoint "$host" "$direct"
    exec ip netns exec "$(ns "$host")" env TESTBED_HOST="$host" DATABASE_URL="$(host_url "$host" "$direct")" \
        PGHOST="$URL_HOST" PGPORT="$URL_PORT" PGUSER="$DB_USER" PGDATABASE="$DB_NAME" "$@"
}

# ---- faults -----------------------------------------------------------------------------

port_state() { ip netns exec "$(ns sw)" bridge link show dev "v-$1" 2>/dev/null | sed -nE 's/.* state ([a-z]+) .*/\1/p'; }

do_blackhole() {
    local host="$1"
    lock
    require_up
    touch "$STATE_DIR/$host.blackholed"
    ip netns exec "$(ns sw)" bridge link set dev "v-$host" state 0 || die "could not disable bridge port v-$host"
    [[ "$(port_state "$host")" == disabled ]] || die "bridge port v-$host is '$(port_state "$host")', not disabled"
    say "blackhole $host: every packet to and from $(host_addr "$host") is dropped silently"
}

do_heal() {
    local host="$1"
    lock
    require_up
    rm -f "$STATE_DIR/$host.blackholed"
    if [[ -f "$STATE_DIR/$host.linkdown" ]]; then
        say "heal $host: black hole lifted; its link is still down (link-up $host)"
        return 0
    fi
    ip netns exec "$(ns sw)" bridge link set dev "v-$host" state 3 || die "could not enable bridge port v-$host"
    [[ "$(port_state "$host")" == forwarding ]] || die "bridge port v-$host is '$(port_state "$host")', not forwarding"
    say "heal $host: forwarding again"
}

do_link() { # $1: host, $2: up|down
    local host="$1"
    lock
    require_up
    if [[ "$2" == down ]]; then
        touch "$STATE_DIR/$host.linkdown"
        ip -n "$(ns "$host")" link set eth0 down
        say "link-down $host: eth0 is down"
        return 0
    fi
    ip -n "$(ns "$host")" link set eth0 up
    rm -f "$STATE_DIR/$host.linkdown"
    # The bridge port follows the carrier back to forwarding; a black hole in force is re-applied.
    for _ in $(seq 50); do
        [[ "$(port_state "$host")" == forwarding ]] && break
        sleep 0.1
    done
    if [[ -f "$STATE_DIR/$host.blackholed" ]]; then
        ip netns exec "$(ns sw)" bridge link set dev "v-$host" state 0
        say "link-up $host: eth0 is up (still black-holed)"
    else
        [[ "$(port_state "$host")" == forwarding ]] || die "bridge port v-$host is '$(port_state "$host")' after link-up"
        say "link-up $host: eth0 is up"
    fi
}

do_delay() { # $1: host, $2: ms | off
    local host="$1" ms="$2" pidfile port pid
    [[ "$host" != db ]] || usage_error "delay applies to a host's connections to db, not to db"
    [[ "$ms" == off || "$ms" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "delay takes milliseconds (a number) or off, not '$ms'"
    lock
    require_up
    pidfile="$STATE_DIR/$host.proxy.pid"
    port="$(proxy_port "$host")"
    if [[ "$ms" == off ]]; then
        if proxy_running "$host"; then
            pid="$(cat "$pidfile")"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$pidfile" "$STATE_DIR/$host.delay"
        say "delay $host off: its connections go straight to $DB_ADDR:$PG_PORT"
        return 0
    fi
    printf '%s\n' "$ms" >"$STATE_DIR/$host.delay"
    if proxy_running "$host"; then
        kill -HUP "$(cat "$pidfile")"
    else
        rm -f "$pidfile"
        ip netns exec "$(ns db)" setsid python3 "$PROXY_PY" --listen "$DB_ADDR:$port" --target "$DB_ADDR:$PG_PORT" \
            --delay-file "$STATE_DIR/$host.delay" --pid-file "$pidfile" \
            </dev/null >>"$LOG_DIR/proxy-$host.log" 2>&1 9>&- &
        for _ in $(seq 100); do
            [[ -s "$pidfile" ]] && in_ns db ss -Hltn "sport = :$port" 2>/dev/null | grep -q . && break
            sleep 0.1
        done
        proxy_running "$host" || { tail -n 5 "$LOG_DIR/proxy-$host.log" >&2; die "the delay proxy for $host did not start; see $LOG_DIR/proxy-$host.log"; }
    fi
    say "delay $host: ${ms} ms each way via $DB_ADDR:$port (exec $host uses it)"
}

do_pg_restart() {
    local mode="$1"
    [[ "$mode" == fast || "$mode" == immediate ]] || usage_error "pg-restart takes fast or immediate, not '$mode'"
    lock
    require_up
    ip netns exec "$(ns db)" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG_DIR/postgres.log" \
        restart -m "$mode" -w -t 120 >>"$LOG_DIR/pg_ctl.log" 2>&1 9>&- || die "pg_ctl restart -m $mode failed; see $LOG_DIR/postgres.log"
}

do_status() {
    local host faults
    if ! is_up; then
        printf 'testbed %s: down (state in %s)\n' "$NAME" "$BED_DIR"
        local left
        left="$(our_namespaces | tr '\n' ' ')"
        [[ -n "$left" ]] && printf 'leftover namespaces: %s(scripts/testbed.sh down removes them)\n' "$left"
        exit 3
    fi
    printf 'testbed %s: up since %s, %s hosts, subnet %s.0/24, state in %s\n' "$NAME" \
        "$(date -d "@$(cat "$STATE_DIR/up")" +%T)" "$(nhosts)" "$SUBNET" "$BED_DIR"
    printf 'control URL (root namespace, Unix socket): %s\n' "$(control_url)"
    printf '%-9s %-14s %-18s %-6s %s\n' HOST ADDRESS SWITCH-PORT PIDS FAULTS
    for host in $(hosts); do
        faults=""
        [[ -f "$STATE_DIR/$host.blackholed" ]] && faults+="blackholed "
        [[ -f "$STATE_DIR/$host.linkdown" ]] && faults+="link-down "
        [[ "$host" != db ]] && proxy_running "$host" && faults+="delay $(cat "$STATE_DIR/$host.delay")ms (proxy :$(proxy_port "$host")) "
        printf '%-9s %-14s %-18s %-6s %s\n' "$host" "$(host_addr "$host")" "$(port_state "$host")" \
            "$(ip netns pids "$(ns "$host")" 2>/dev/null | wc -l)" "${faults:-none}"
    done
}

# ---- selftest ---------------------------------------------------------------------------

ST_PASS=0
ST_FAIL=0
check() { # $1: description, $2: 0 for pass
    if [[ "$2" == 0 ]]; then
        ST_PASS=$((ST_PASS + 1)); printf 'ok   %s\n' "$1"
    else
        ST_FAIL=$((ST_FAIL + 1)); printf 'FAIL %s\n' "$1"
    fi
}
self() { bash "$ROOT/scripts/testbed.sh" "$@"; }
# psql from a host, bounded by `timeout $1`; prints the output, returns psql's (or timeout's) status.
host_psql() { local t="$1" host="$2"; shift 2; timeout "$t" bash "$ROOT/scripts/testbed.sh" exec "$host" -- env PGCONNECT_TIMEOUT=30 "$PG_BIN/psql" -X -w -At "$@" </dev/null 2>&1; }
# The smallest "Time: X ms" of 8 `SELECT 1` on one connection from $1 ($2: --direct or empty).
min_rtt() {
    local args=(-c '\timing on') i
    for i in $(seq 8); do args+=(-c 'SELECT 1'); done
    timeout 30 bash "$ROOT/scripts/testbed.sh" exec "$1" ${2:+"$2"} -- "$PG_BIN/psql" -X -w -At "${args[@]}" </dev/null 2>/dev/null \
        | sed -nE 's/^Time: ([0-9.]+) ms.*/\1/p' | sort -g | head -n 1
}

do_selftest() {
    local out rc t0 elapsed direct delayed left ok
    check_machine
    # shellcheck disable=SC2317  # runs from the EXIT trap
    trap 'self down >/dev/null 2>&1 || true' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    export TESTBED_DIR="$BED_DIR" TESTBED_NAME="$NAME"

    say "selftest: a bed of its own in $BED_DIR (namespaces $NAME-*)"
    if self up --hosts 2; then
        out="$(host_psql 10 h1 -c "SELECT inet_client_addr() || ' -> ' || inet_server_addr() || ':' || inet_server_port()")" && rc=0 || rc=$?
        local out2
        out2="$(host_psql 10 h2 -c 'SELECT 1')" || true
        ok=0; [[ $rc == 0 && "$out" == "$(host_addr h1)/32 -> $DB_ADDR/32:$PG_PORT" && "$out2" == 1 ]] || ok=1
        check "up --hosts 2: psql over TCP from h1 ($out) and h2" $ok
    else
        check "up --hosts 2" 1
        printf 'testbed selftest: %d passed, %d failed\n' "$ST_PASS" "$ST_FAIL"
        exit 1
    fi

    self blackhole h1 || true
    t0=$SECONDS
    out="$(host_psql 3 h1 -c 'SELECT 1')" && rc=0 || rc=$?
    out2="$(host_psql 3 h2 -c 'SELECT 1')" || true
    ok=0; [[ $rc == 124 && "$out2" == 1 ]] || ok=1
    check "blackhole h1: psql from h1 hangs (timeout 3 -> $rc after $((SECONDS - t0)) s), h2 still answers ($out2)" $?

    self heal h1 || true
    out="$(host_psql 10 h1 -c 'SELECT 1')" || true
    ok=0; [[ "$out" == 1 ]] || ok=1
    check "heal h1: psql from h1 answers again ($out)" $ok

    # An open connection: the query's answer is sent while h2 is black-holed, and lost.
    host_psql 6 h2 -c 'SELECT pg_sleep(1.5)' -c 'SELECT 2' >"$BED_DIR/selftest-open.out" &
    local bg=$!
    sleep 0.8
    self blackhole h2 || true
    t0=$SECONDS
    wait "$bg" && rc=0 || rc=$?
    self heal h2 || true
    out="$(host_psql 10 h2 -c 'SELECT 1')" || true
    ok=0; [[ $rc == 124 && "$out" == 1 ]] || ok=1
    check "blackhole h2 mid-query: the open connection hangs (timeout 6 -> $rc, $((SECONDS - t0)) s after the black hole), answers after heal ($out)" $ok

    self link-down h1 || true
    t0=$(date +%s%N)
    out="$(host_psql 3 h1 -c 'SELECT 1')" && rc=0 || rc=$?
    elapsed=$((($(date +%s%N) - t0) / 1000000))
    out2="$(host_psql 3 h2 -c 'SELECT 1')" || true
    self link-up h1 || true
    local back
    back="$(host_psql 10 h1 -c 'SELECT 1')" || true
    ok=0; [[ $rc != 0 && "$out2" == 1 && "$back" == 1 ]] || ok=1
    check "link-down h1: psql from h1 fails (rc $rc in ${elapsed} ms: $(head -n 1 <<<"$out" | sed -E 's/.*failed: //' | cut -c1-60)), h2 answers; link-up: h1 answers ($back)" $?

    direct="$(min_rtt h1 --direct)"
    self delay h1 5 || true
    delayed="$(min_rtt h1)"
    self delay h1 0 || true
    local zero
    zero="$(min_rtt h1)"
    self delay h1 off || true
    ok=0
    [[ -n "$direct" && -n "$delayed" && -n "$zero" ]] \
        && awk -v d="$direct" -v x="$delayed" -v z="$zero" 'BEGIN { exit !(x >= 10 && d < 5 && z < 5) }' || ok=1
    check "delay h1 5: SELECT 1 round trip ${delayed:-?} ms via the proxy (>= 10), ${zero:-?} ms at delay 0, ${direct:-?} ms direct" $?

    self down >/dev/null 2>&1 && self down >/dev/null 2>&1 && rc=0 || rc=$?
    left="$( { our_namespaces; ip -o link show | grep -E -- "v-(db|launcher|h[0-9]+)[@:]" || true; } | tr '\n' ' ')"
    local procs=""
    [[ -f "$PG_DATA/postmaster.pid" ]] && procs="postmaster.pid left"
    ok=0; [[ $rc == 0 && -z "${left// /}" && -z "$procs" ]] || ok=1
    check "down (twice): no namespace, interface or process of the bed left${left:+: $left}${procs:+ $procs}" $?

    printf 'testbed selftest: %d passed, %d failed\n' "$ST_PASS" "$ST_FAIL"
    ((ST_FAIL == 0))
}

# ---- main -------------------------------------------------------------------------------

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        -h | --help | help) usage; exit 0 ;;
        "") usage >&2; exit 2 ;;
        selftest) configure "$ROOT/.testbed-selftest" ;;
        up | down | status | exec | url | blackhole | heal | link-down | link-up | delay | pg-restart) configure "$ROOT/.testbed" ;;
        *) usage_error "unknown command '$cmd'" ;;
    esac
    case "$cmd" in
        up)
            local n=2
            while [[ $# -gt 0 ]]; do
                case "$1" in
                    --hosts) n="${2:-}"; shift 2 || usage_error "--hosts takes a number" ;;
                    *) usage_error "up: unknown option '$1'" ;;
                esac
            done
            { [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 1 && n <= 200)); } || usage_error "--hosts takes a number from 1 to 200, not '$n'"
            do_up "$n"
            ;;
        down)
            [[ $EUID -eq 0 ]] || die "must run as root" 4
            lock
            do_down
            ;;
        status) do_status ;;
        exec) [[ $# -gt 0 ]] || usage_error "exec takes HOST -- CMD..."; do_exec "$@" ;;
        url)
            [[ $# -gt 0 ]] || usage_error "url takes HOST or control"
            if [[ "$1" == control ]]; then control_url; else check_host "$1"; require_up; host_url "$1" "${2:-}"; fi
            printf '\n'
            ;;
        blackhole | heal | link-down | link-up)
            [[ $# -eq 1 ]] || usage_error "$cmd takes one HOST"
            check_host "$1" hosts+db
            case "$cmd" in
                blackhole) do_blackhole "$1" ;;
                heal) do_heal "$1" ;;
                link-down) do_link "$1" down ;;
                link-up) do_link "$1" up ;;
            esac
            ;;
        delay)
            [[ $# -eq 2 ]] || usage_error "delay takes HOST MS (or HOST off)"
            check_host "$1"
            do_delay "$1" "$2"
            ;;
        pg-restart) [[ $# -eq 1 ]] || usage_error "pg-restart takes fast or immediate"; do_pg_restart "$1" ;;
        selftest) [[ $# -eq 0 ]] || usage_error "selftest takes no arguments"; do_selftest ;;
    esac
}

main "$@"
