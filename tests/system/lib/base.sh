# Shared set-up of the system tests (sourced): a private temporary
# directory, cleanup on exit (the server under test and any background
# jobs), no proxy and no caller credentials in the environment, the
# ok/bad/check helpers that count passes and failures, and a server
# launcher with readiness checks.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
BIN=${COFFER_BIN:?set COFFER_BIN to the build bin directory}
CLI=$BIN/coffer
TMP=$(mktemp -d)
chmod 700 "$TMP"
SERVER_PID=
PORT=
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    local j
    for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# Loopback only, no proxy in the way, nothing from the caller's setup.
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset COFFER_VAULT_URL AZURE_TENANT_ID AZURE_CLIENT_ID AZURE_CLIENT_SECRET COFFER_CA_CERT \
    AZURE_AUTHORITY_HOST COFFER_BOOTSTRAP AZURE_STORAGE_CONNECTION_STRING COFFER_BLOB_DIR

# with_tmpfs DIR SIZE: a tmpfs of SIZE on DIR for a disk-full test,
# unmounted on exit once the server under test has stopped; exits 77
# (CTest: skipped) where mounting is not allowed (it needs root).
with_tmpfs() {
    TMPFS_DIR=$1
    mkdir -p "$1"
    if ! mount -t tmpfs -o "size=$2,mode=0700" tmpfs "$1" 2>/dev/null; then
        echo "SKIP: cannot mount a tmpfs here (needs root)"
        exit 77
    fi
    trap tmpfs_cleanup EXIT
}
tmpfs_cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=
    umount "$TMPFS_DIR" 2>/dev/null || umount -l "$TMPFS_DIR" 2>/dev/null || true
    cleanup
}

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; [ -s "$TMP/err" ] && sed 's/^/     /' "$TMP/err" || true; }
# check NAME CMD...: CMD must succeed.
check() { local n=$1; shift; if "$@" >"$TMP/out" 2>"$TMP/err"; then ok "$n"; else bad "$n"; fi; }
# check_rc NAME RC CMD...: CMD must exit with RC.
check_rc() {
    local n=$1 want=$2 rc=0; shift 2
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" = "$want" ]; then ok "$n"; else bad "$n (exit $rc, want $want)"; fi
}
# expect NAME CMD...: CMD must succeed (its output is not captured).
expect() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
random_free_port() {
    local p=$((20000 + RANDOM % 40000))
    port_in_use "$p" && return 1
    echo "$p"
}

# launch PORT READY CMD...: starts CMD in the background (output appended
# to $TMP/server.log) and waits up to 60 s until `READY PORT` succeeds; sets
# SERVER_PID and PORT.  Returns 1 when the server exits first (e.g. another
# test took the port), so callers retry on a new one.
launch() {
    local p=$1 ready=$2
    shift 2
    "$@" >>"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if "$ready" "$p"; then PORT=$p; return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID" || true; SERVER_PID=; return 1; }
        sleep 0.1
    done
    return 1
}

# coffer-blob on BLOB_DIR is ready when bootstrap.json exists and an
# anonymous listing is refused (401/403), as its contract says.
blob_ready() {
    local code
    [ -s "$BLOB_DIR/bootstrap.json" ] && [ -s "$BLOB_DIR/tls/ca.crt" ] || return 1
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$BLOB_DIR/tls/ca.crt" \
        "https://127.0.0.1:$1/coffer?comp=list" 2>/dev/null) || return 1
    [ "$code" = 401 ] || [ "$code" = 403 ]
}
# on_free_port WHAT TRY [ARGS...]: runs `TRY PORT ARGS...` on random free
# ports until it succeeds (another test may take a port first), five
# tries; exits the test when none does.
on_free_port() {
    local what=$1 try=$2 p
    shift 2
    for _ in $(seq 1 5); do
        p=$(random_free_port) || continue
        "$try" "$p" "$@" && return 0
    done
    tail -20 "$TMP/server.log"
    echo "$what did not start"
    exit 1
}

# start_blob [ARGS...]: coffer-blob on BLOB_DIR (kept if it exists) and a
# free port; sets PORT and SERVER_PID.
blob_on() {
    launch "$1" blob_ready "$BIN/coffer-blob" --data-dir "$BLOB_DIR" --listen "127.0.0.1:$1" \
        --log-level info "${@:2}"
}
start_blob() { on_free_port coffer-blob blob_on "$@"; }

# start_vault [ARGS...]: coffer-vault on a free port with its data in
# $TMP/vault (ARGS added to its command line); sets PORT and SERVER_PID.
vault_ready() { [ -s "$TMP/vault/bootstrap.json" ] && port_in_use "$1"; }
vault_on() {
    rm -rf "$TMP/vault"
    launch "$1" vault_ready "$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$1" \
        --log-level info "${@:2}"
}
start_vault() { on_free_port "the vault" vault_on "$@"; }

# vault_token BOOTSTRAP_JSON: an access token for the vault's administrator
# (client credentials), for calls the CLI does not make.
vault_token() {
    python3 - "$1" <<'PYEOF'
import json, ssl, sys, urllib.parse, urllib.request
b = json.load(open(sys.argv[1]))
ctx = ssl.create_default_context(cafile=b["ca_cert"])
data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": b["client_id"],
    "client_secret": b["client_secret"], "scope": "https://vault.azure.net/.default"}).encode()
url = f'{b["authority_host"]}/{b["tenant_id"]}/oauth2/v2.0/token'
print(json.load(urllib.request.urlopen(url, data, context=ctx))["access_token"])
PYEOF
}

# PEM public key from a JWK (RSA n/e or EC P-256 x/y) in a `show --output json` file.
jwk_to_pem() {
    python3 - "$1" "$2" <<'EOF'
import base64, json, sys
def b(s): return base64.urlsafe_b64decode(s + '=' * (-len(s) % 4))
def der(tag, body):
    n = len(body)
    if n < 128: l = bytes([n])
    else:
        lb = n.to_bytes((n.bit_length() + 7) // 8, 'big'); l = bytes([0x80 | len(lb)]) + lb
    return bytes([tag]) + l + body
def integer(x): return der(0x02, (b'\x00' + x) if x[0] & 0x80 else x)
k = json.load(open(sys.argv[1]))['key']
if k['kty'].startswith('RSA'):
    alg = der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
    pub = der(0x30, integer(b(k['n'])) + integer(b(k['e'])))
else:
    assert k['crv'] == 'P-256'
    alg = der(0x30, der(0x06, bytes.fromhex('2a8648ce3d0201')) + der(0x06, bytes.fromhex('2a8648ce3d030107')))
    pub = b'\x04' + b(k['x']) + b(k['y'])
spki = der(0x30, alg + der(0x03, b'\x00' + pub))
body = base64.encodebytes(spki).decode().replace('\n', '')
lines = [body[i:i + 64] for i in range(0, len(body), 64)]
open(sys.argv[2], 'w').write('-----BEGIN PUBLIC KEY-----\n' + '\n'.join(lines) + '\n-----END PUBLIC KEY-----\n')
EOF
}
# JWS r||s -> DER ECDSA-Sig-Value, for openssl.
raw_sig_to_der() {
    python3 - "$1" "$2" <<'EOF'
import sys
raw = open(sys.argv[1], 'rb').read(); h = len(raw) // 2
def integer(x):
    x = x.lstrip(b'\x00') or b'\x00'
    if x[0] & 0x80: x = b'\x00' + x
    return b'\x02' + bytes([len(x)]) + x
body = integer(raw[:h]) + integer(raw[h:])
open(sys.argv[2], 'wb').write(b'\x30' + bytes([len(body)]) + body)
EOF
}
