#!/usr/bin/env bash
# TLS with sslmode=verify-full against a server with a certificate of its own.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: scripts/tls-check.sh [--bin PATH]

Makes a certificate authority and a server certificate for "localhost" with openssl, starts a
PostgreSQL of its own (scripts/postgres.sh in a temporary directory) with ssl on and that
certificate, and checks what `swiftbatch` does with libpq's sslmode=verify-full:
  1. localhost, this CA as sslrootcert: connects (migrate, status), and the session is TLS;
  2. 127.0.0.1 (a name the certificate does not carry): refused, exit 5, naming the mismatch;
  3. another CA as sslrootcert: refused, exit 5;
  4. the refusals never print the sslpassword given in the URL.
Prints "tls checks: N ok, N failed" and exits 1 on any failure. Everything is removed at exit.
EOF
}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
bin="$ROOT/.build/debug/swiftbatch"
while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) bin="${2:-}"; shift 2 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "tls-check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
say() { printf '==> tls-check.sh: %s\n' "$*" >&2; }
command -v openssl >/dev/null 2>&1 || { say "installing openssl"; apt-get install -y -q openssl >&2; }
if [[ ! -x "$bin" ]]; then
    command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
    (cd "$ROOT" && swift build --product swiftbatch >&2)
fi
PG_BIN=/usr/lib/postgresql/15/bin

work="$(mktemp -d /tmp/swiftbatch-tls.XXXXXX)"
chmod 755 "$work"
export SWIFTBATCH_PG_ROOT="$work/pg"
mkdir -p "$SWIFTBATCH_PG_ROOT"
cleanup() {
    bash "$ROOT/scripts/postgres.sh" stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A CA, a server certificate for localhost signed by it, and an unrelated CA.
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=SwiftBatch test CA" -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Some other CA" -keyout other.key -out other.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost\n' >san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt 2>/dev/null
chmod 600 server.key
[[ $EUID -eq 0 ]] && chown postgres: server.key server.crt
chmod 644 ca.crt other.crt server.crt

url="$(DATABASE_URL='' bash "$ROOT/scripts/postgres.sh" start 2>"$work/start.log" | tail -n 1)"
url="${url#DATABASE_URL=}"
port="$(cat "$SWIFTBATCH_PG_ROOT/port")"
"$PG_BIN/psql" -X -qAt -v ON_ERROR_STOP=1 -d "$url" \
    -c "ALTER SYSTEM SET ssl_cert_file = '$work/server.crt'" -c "ALTER SYSTEM SET ssl_key_file = '$work/server.key'" \
    -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5

passed=0 failed=0
check() { # name, condition (0 = pass)
    if [[ "$2" == 0 ]]; then passed=$((passed + 1)); say "ok: $1"; else failed=$((failed + 1)); say "FAILED: $1"; fi
}
run() { # url, args...; sets rc, out
    rc=0
    out="$(env -u DATABASE_URL -u PGSSLMODE "$bin" "${@:2}" --database-url "$1" 2>&1)" || rc=$?
}

good="postgresql://postgres@localhost:$port/swiftbatch?sslmode=verify-full&sslrootcert=$work/ca.crt"
run "$good" migrate
check "verify-full to localhost with the right CA: migrate exits 0 ($rc)" $((rc != 0))
run "$good" status
check "verify-full to localhost with the right CA: status exits 0 ($rc)" $((rc != 0))
ssl="$("$PG_BIN/psql" -X -qAt -d "$good" -c "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)"
check "the session is TLS (pg_stat_ssl says $ssl)" "$([[ "$ssl" == t ]] && echo 0 || echo 1)"

secret="sslpassword=s3cret-key-passphrase"
run "postgresql://postgres@127.0.0.1:$port/swiftbatch?sslmode=verify-full&sslrootcert=$work/ca.crt&$secret" status
check "verify-full to 127.0.0.1 (not in the certificate) is refused with exit 5 ($rc)" $((rc != 5))
check "the refusal names the mismatch" "$([[ "$out" == *"does not match host name"* ]] && echo 0 || echo 1)"
check "the refusal does not print the sslpassword" "$([[ "$out" != *s3cret* ]] && echo 0 || echo 1)"
run "postgresql://postgres@localhost:$port/swiftbatch?sslmode=verify-full&sslrootcert=$work/other.crt&$secret" status
check "verify-full with another CA is refused with exit 5 ($rc)" $((rc != 5))
check "that refusal names the certificate problem" "$([[ "$out" == *"certificate verify failed"* ]] && echo 0 || echo 1)"
check "that refusal does not print the sslpassword" "$([[ "$out" != *s3cret* ]] && echo 0 || echo 1)"

echo "tls checks: $passed ok, $failed failed"
((failed == 0))
