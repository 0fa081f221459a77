# Shared set-up of the CLI system tests (sourced): a fresh coffer-vault on a
# random free loopback port with COFFER_BOOTSTRAP pointing at it, a private
# temporary directory, cleanup on exit, and the ok/bad/check helpers that
# count passes and failures.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
BIN=${COFFER_BIN:?set COFFER_BIN to the build bin directory}
CLI=$BIN/coffer
TMP=$(mktemp -d)
chmod 700 "$TMP"
SERVER_PID=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

# Loopback only, and no proxy in the way.
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset COFFER_VAULT_URL AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET COFFER_CA_CERT \
    AZURE_AUTHORITY_HOST COFFER_BOOTSTRAP

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Starts the vault on a random free port; another test may grab the port
# first, so a server that exits during start-up is retried on a new one.
start_server() {
    local p
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" && return 1
    rm -rf "$TMP/vault"
    "$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$p" \
        --log-level warn >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        if [ -s "$TMP/vault/bootstrap.json" ] && port_in_use "$p"; then PORT=$p; return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID" || true; SERVER_PID=; return 1; }
        sleep 0.1
    done
    return 1
}
PORT=
for _ in $(seq 1 5); do start_server && break; done
[ -n "$PORT" ] || { cat "$TMP/server.log"; echo "the vault did not start"; exit 1; }
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ -f "$TMP/err" ] && sed 's/^/     /' "$TMP/err" || true; }
# check NAME CMD...: CMD must succeed.
check() { local n=$1; shift; if "$@" >"$TMP/out" 2>"$TMP/err"; then ok "$n"; else bad "$n"; fi; }
# check_rc NAME RC CMD...: CMD must exit with RC.
check_rc() {
    local n=$1 want=$2 rc=0; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$n"; else bad "$n (exit $rc, want $want)"; fi
}
