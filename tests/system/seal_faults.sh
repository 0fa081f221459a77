#!/usr/bin/env bash
# The PKCS#11 seal's faults, for both services, on a real SoftHSM2 token
# reached through a fault-injecting module (tests/pkcs11_shim) named with
# --pkcs11-module, as an operator names a vendor's:
#   - at start: token missing, wrong PIN, PIN locked, root key missing, root
#     key of the wrong type -> the service refuses to start and says which,
#     in one line;
#   - at run time (the module answers CKR_DEVICE_ERROR): HSM-key requests
#     fail with 503 in Key Vault's error format, software keys keep working,
#     nothing is lost, and service resumes when the token works again;
#   - the development file seal needs --dev-seal and warns at every start,
#     and the seal a directory was made with cannot be swapped by flags.
#
# Env: COFFER_BIN, COFFER_P11_SHIM (set by CTest).  Needs softhsm2-util,
# pkcs11-tool (opensc), curl, python3.
set -euo pipefail
source "$(dirname "$0")/lib/base.sh"

SHIM=${COFFER_P11_SHIM:?set COFFER_P11_SHIM to the fault shim module}
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
export SOFTHSM2_CONF=$TMP/hsm/softhsm2.conf
export COFFER_SHIM_CONTROL=$TMP/fault
mkdir -p "$TMP/hsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$TMP/hsm/tokens" >"$SOFTHSM2_CONF"
for t in vault blob other; do
    softhsm2-util --init-token --free --label "faults-$t" --so-pin 87654321 --pin 1234 >/dev/null
done
printf '1234\n' >"$TMP/pin"
printf '0000\n' >"$TMP/wrong-pin"
chmod 600 "$TMP/pin" "$TMP/wrong-pin"
fault() { printf '%s\n' "$1" >"$COFFER_SHIM_CONTROL"; }
fault ok

p11() { pkcs11-tool --module "$SOFTHSM" --token-label "$1" --login --pin 1234 "${@:2}"; }
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }

vault_up() { curl -s -o /dev/null --cacert "$TMP/v/tls/ca.crt" "https://127.0.0.1:$1/keys?api-version=7.5" 2>/dev/null; }
blob_up() { BLOB_DIR=$TMP/b blob_ready "$1"; }

# start_service vault|blob ARGS...: starts it on a free port (retries on a
# port taken meanwhile), or on $FIXED_PORT; fails the test if it does not
# come up.
start_service() {
    local what=$1 p
    shift
    for _ in $(seq 1 5); do
        p=${FIXED_PORT:-$(random_free_port)} || continue
        if [ "$what" = vault ]; then
            launch "$p" vault_up "$BIN/coffer-vault" --data-dir "$TMP/v" --listen "127.0.0.1:$p" "$@" && return 0
        else
            launch "$p" blob_up "$BIN/coffer-blob" --data-dir "$TMP/b" --listen "127.0.0.1:$p" "$@" && return 0
        fi
    done
    tail -20 "$TMP/server.log"
    bad "$what did not start"
    exit 1
}
stop_service() {
    kill "$SERVER_PID" && wait "$SERVER_PID" || true
    SERVER_PID=
}

# refuses NAME PATTERN BINARY ARGS...: the service exits non-zero at start
# and its last log line, one line, names the fault.
refuses() {
    local name=$1 pattern=$2 rc=0
    shift 2
    timeout 60 "$@" --listen "127.0.0.1:$(random_free_port || echo 1)" >"$TMP/start.log" 2>&1 || rc=$?
    local last
    last=$(grep -v '^$' "$TMP/start.log" | tail -1)
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q "start-up failed" <<<"$last" &&
        grep -Eq -- "$pattern" <<<"$last"; then
        ok "$name (exit $rc: $(sed 's/.*"msg":"//; s/".*//' <<<"$last"))"
    else
        bad "$name (exit $rc)"
        sed 's/^/     /' "$TMP/start.log" | tail -5
    fi
}

VAULT_SEAL=(--pkcs11-module "$SHIM" --pkcs11-token faults-vault --pkcs11-pin-file "$TMP/pin")
BLOB_SEAL=(--pkcs11-module "$SHIM" --pkcs11-token faults-blob --pkcs11-pin-file "$TMP/pin")

# ---- the vault on a named token ----
start_service vault "${VAULT_SEAL[@]}" --log-level warn
VPORT=$PORT
export COFFER_BOOTSTRAP=$TMP/v/bootstrap.json
check "vault initialised on token faults-vault" test "$(json "$TMP/v/seal.json" "['token']")" = faults-vault
check "seal.json records the module, never the PIN" grep -q "\"pin_file\": \"$TMP/pin\"" "$TMP/v/seal.json"
check "no file seal" test ! -e "$TMP/v/seal.key"
check "root key in the token, sensitive and never extractable" \
    bash -c "pkcs11-tool --module $SOFTHSM --token-label faults-vault --login --pin 1234 -O 2>/dev/null |
             grep -A4 'label:      coffer-vault root' | grep -q 'sensitive, always sensitive, never extractable'"
check "create RSA-HSM key" "$CLI" key create hsmkey --kty RSA-HSM
check "create software key" "$CLI" key create softkey --kty EC
printf 'abc' | sha256sum | cut -c1-64 | xxd -r -p | base64 -w0 | tr '+/' '-_' | tr -d '=' >"$TMP/digest"
check "sign with the HSM key" "$CLI" key sign hsmkey --alg RS256 --digest "$(cat "$TMP/digest")"

# ---- the token failing at run time ----
fault device_error
TOKEN=$(vault_token "$COFFER_BOOTSTRAP")
vault_call() { # METHOD PATH [BODY] -> status in $TMP/status, body in $TMP/body (and $TMP/err)
    curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/v/tls/ca.crt" -X "$1" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "https://127.0.0.1:$VPORT$2?api-version=7.5" >"$TMP/status" || true
    { cat "$TMP/status"; echo; cat "$TMP/body"; } >"$TMP/err"
}
is_503() {
    [ "$(cat "$TMP/status")" = 503 ] &&
        python3 -c "import json,sys; e=json.load(open(sys.argv[1]))['error']; assert e['code']=='ServiceUnavailable' and 'HSM' in e['message']" "$TMP/body"
}
vault_call POST /keys/hsmkey//sign "{\"alg\":\"RS256\",\"value\":\"$(cat "$TMP/digest")\"}"
expect "HSM sign during a token fault: 503 ServiceUnavailable in Key Vault's format" is_503
vault_call POST /keys/hsmkey2/create '{"kty":"RSA-HSM"}'
expect "HSM key creation during a token fault: 503" is_503
vault_call GET /keys/hsmkey2
check "the failed creation stored nothing" test "$(cat "$TMP/status")" = 404
vault_call POST /keys/softkey//sign "{\"alg\":\"ES256\",\"value\":\"$(cat "$TMP/digest")\"}"
check "software keys keep working during a token fault" test "$(cat "$TMP/status")" = 200
vault_call GET /keys/hsmkey
check "reading the HSM key's public part keeps working" test "$(cat "$TMP/status")" = 200
fault ok
vault_call POST /keys/hsmkey//sign "{\"alg\":\"RS256\",\"value\":\"$(cat "$TMP/digest")\"}"
check "service resumes when the token works again" test "$(cat "$TMP/status")" = 200
check "and new HSM keys can be made" "$CLI" key create hsmkey2 --kty EC-HSM --curve P-384
stop_service

# ---- start-up faults: the vault ----
V=("$BIN/coffer-vault" --data-dir "$TMP/v")
refuses "vault: token missing" "no PKCS#11 token labelled 'nosuch'" \
    "${V[@]}" --pkcs11-module "$SHIM" --pkcs11-token nosuch --pkcs11-pin-file "$TMP/pin"
refuses "vault: wrong PIN" "PIN for PKCS#11 token 'faults-vault' is incorrect" \
    "${V[@]}" --pkcs11-module "$SHIM" --pkcs11-token faults-vault --pkcs11-pin-file "$TMP/wrong-pin"
fault pin_locked
refuses "vault: PIN locked" "PIN for PKCS#11 token 'faults-vault' is locked" "${V[@]}" "${VAULT_SEAL[@]}"
fault ok
refuses "vault: another token (its root key is not there)" "root key is missing from PKCS#11 token 'faults-other'" \
    "${V[@]}" --pkcs11-module "$SHIM" --pkcs11-token faults-other --pkcs11-pin-file "$TMP/pin"
refuses "vault: module that does not exist" "cannot load the PKCS#11 module" \
    "${V[@]}" --pkcs11-module "$TMP/nosuch.so" --pkcs11-token faults-vault --pkcs11-pin-file "$TMP/pin"
refuses "vault: no PIN given" "no PIN for the PKCS#11 token" \
    "${V[@]}" --pkcs11-module "$SHIM" --pkcs11-token faults-vault --pkcs11-pin-file ""
refuses "vault: --dev-seal on a token-sealed directory" "--dev-seal cannot open it" "${V[@]}" --dev-seal
# The PIN may come from the environment instead of a file (and seal.json
# remembers the module and token, so they need not be repeated).
python3 - "$TMP/v/seal.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1])); d["pin_file"] = ""; json.dump(d, open(sys.argv[1], "w"))
EOF
COFFER_PKCS11_PIN=1234 FIXED_PORT=$VPORT start_service vault --log-level warn
check "vault starts with the PIN from COFFER_PKCS11_PIN" "$CLI" key sign hsmkey --alg RS256 --digest "$(cat "$TMP/digest")"
check "no PIN in the process environment" bash -c "! tr '\0' '\n' </proc/$SERVER_PID/environ | grep -q '^COFFER_PKCS11_PIN=1234'"
stop_service

# ---- start-up faults: coffer-blob ----
start_service blob "${BLOB_SEAL[@]}"
check "coffer-blob initialised on token faults-blob" test "$(json "$TMP/b/seal.json" "['token']")" = faults-blob
stop_service
B=("$BIN/coffer-blob" --data-dir "$TMP/b")
refuses "blob: token missing" "no PKCS#11 token labelled 'nosuch'" \
    "${B[@]}" --pkcs11-module "$SHIM" --pkcs11-token nosuch --pkcs11-pin-file "$TMP/pin"
refuses "blob: wrong PIN" "PIN for PKCS#11 token 'faults-blob' is incorrect" \
    "${B[@]}" --pkcs11-module "$SHIM" --pkcs11-token faults-blob --pkcs11-pin-file "$TMP/wrong-pin"
fault pin_locked
refuses "blob: PIN locked" "PIN for PKCS#11 token 'faults-blob' is locked" "${B[@]}" "${BLOB_SEAL[@]}"
fault device_error
refuses "blob: token failing at start" "CKR_DEVICE_ERROR" "${B[@]}" "${BLOB_SEAL[@]}"
fault ok
start_service blob
check "coffer-blob starts again once the token works (module and token from seal.json)" true
stop_service

# ---- a master key the root key did not wrap ----
cp "$TMP/v/seal.json" "$TMP/seal.json.good"
python3 - "$TMP/v/seal.json" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1])); k = bytearray(base64.b64decode(d["master_key"])); k[20] ^= 1
d["master_key"] = base64.b64encode(bytes(k)).decode(); json.dump(d, open(sys.argv[1], "w"))
EOF
refuses "vault: a master key the root key did not wrap (or seal.json altered)" "cannot unwrap the master key" \
    "${V[@]}" "${VAULT_SEAL[@]}"
cp "$TMP/seal.json.good" "$TMP/v/seal.json"

# ---- root key missing or of the wrong type (destroys the directories' root keys: last) ----
WRAP=$(json "$TMP/b/seal.json" "['wrap_key_id']")
p11 faults-blob --delete-object --type secrkey --id "$WRAP" >/dev/null 2>&1
refuses "blob: key-wrapping root key missing" "key-wrapping root key is missing from PKCS#11 token 'faults-blob'" \
    "${B[@]}" "${BLOB_SEAL[@]}"
ROOT=$(json "$TMP/b/seal.json" "['root_key_id']")
p11 faults-blob --delete-object --type secrkey --id "$ROOT" >/dev/null 2>&1
refuses "blob: root key missing" "root key is missing from PKCS#11 token 'faults-blob'" "${B[@]}" "${BLOB_SEAL[@]}"
p11 faults-blob --keygen --key-type AES:16 --id "$ROOT" --label wrong >/dev/null 2>&1
refuses "blob: root key of the wrong type (AES-128)" "root key in PKCS#11 token 'faults-blob' is of the wrong type" \
    "${B[@]}" "${BLOB_SEAL[@]}"
ROOT=$(json "$TMP/v/seal.json" "['root_key_id']")
p11 faults-vault --delete-object --type secrkey --id "$ROOT" >/dev/null 2>&1
refuses "vault: root key missing" "root key is missing from PKCS#11 token 'faults-vault'" "${V[@]}" "${VAULT_SEAL[@]}"
p11 faults-vault --keygen --key-type AES:32 --id "$ROOT" --label wrong --extractable >/dev/null 2>&1
refuses "vault: root key of the wrong type (extractable)" "wrong type.*non-extractable" "${V[@]}" "${VAULT_SEAL[@]}"

# ---- the development file seal ----
DEV=$TMP/dev
timeout 60 "$BIN/coffer-vault" --data-dir "$DEV" --listen "127.0.0.1:$(random_free_port || echo 1)" --dev-seal \
    >"$TMP/dev.log" 2>&1 &
DEVPID=$!
for _ in $(seq 1 100); do [ -s "$DEV/bootstrap.json" ] && break; sleep 0.1; done
kill "$DEVPID" && wait "$DEVPID" || true
check "--dev-seal makes a file seal" test -s "$DEV/seal.key"
check "--dev-seal warns at start" grep -q "DEVELOPMENT SEAL" "$TMP/dev.log"
refuses "a file-sealed directory needs --dev-seal" "on the development file seal; start with --dev-seal, or move it" \
    "$BIN/coffer-vault" --data-dir "$DEV"
timeout 60 "$BIN/coffer-vault" --data-dir "$DEV" --listen "127.0.0.1:$(random_free_port || echo 1)" --dev-seal \
    >"$TMP/dev2.log" 2>&1 &
DEVPID=$!
for _ in $(seq 1 100); do grep -q listening "$TMP/dev2.log" && break; sleep 0.1; done
kill "$DEVPID" && wait "$DEVPID" || true
check "--dev-seal warns at every start" grep -q "DEVELOPMENT SEAL" "$TMP/dev2.log"
refuses "the seal a directory was made with cannot be swapped by flags" \
    "pkcs11-\\* options do not open" "$BIN/coffer-vault" --data-dir "$DEV" --dev-seal --pkcs11-token x

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
