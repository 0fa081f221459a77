#!/usr/bin/env bash
# The vault's own audit log, end to end: requests made through the CLI and
# curl each leave one line; the chain verifies after a restart; secrets,
# tokens and key material never appear in it; and copies with one line
# edited, one removed, or two swapped fail verification at the right line.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
set -euo pipefail

BIN=${COFFER_BIN:?set COFFER_BIN to the build bin directory}
TMP=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; }
expect() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() {
    "$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$port" >>"$TMP/vault.out" 2>>"$TMP/vault.log" &
    PID=$!
    for _ in $(seq 1 200); do
        [ -f "$TMP/vault/bootstrap.json" ] && curl -s -o /dev/null --cacert "$TMP/vault/tls/ca.crt" \
            "https://127.0.0.1:$port/keys" && return 0
        sleep 0.1
    done
    echo "vault did not start"; cat "$TMP/vault.log"; exit 1
}
stop() { kill "$PID"; wait "$PID" || true; PID=; }

start
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$COFFER_BOOTSTRAP" "$1"; }
CA=$(field ca_cert)
URL=$(field vault_url)
TOKEN=$(curl -s --cacert "$CA" "$URL/$(field tenant_id)/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$(field client_id)" \
    --data-urlencode "client_secret=$(field client_secret)" \
    --data-urlencode scope=https://vault.azure.net/.default |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
SECRET_VALUE="audit-marker-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
curl -s -o /dev/null --cacert "$CA" -X PUT -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' "$URL/secrets/s1?api-version=7.5" \
    -d "{\"value\":\"$SECRET_VALUE\"}"
"$BIN/coffer" key create k1 --kty oct --size 256 >/dev/null
"$BIN/coffer" key encrypt k1 --alg A256GCM --value AAECAwQFBgcICQoLDA0ODw >/dev/null
"$BIN/coffer" key show missing >/dev/null 2>&1 || true
curl -s -o /dev/null --cacert "$CA" "$URL/keys?api-version=7.5" # no token: 401
stop
start # the chain continues across restarts
"$BIN/coffer" key list >/dev/null

# The log through the API (the console's audit page): filtered, newest
# first, and the chain verified by the vault on request.
audit_api() {
    curl -s -o "$TMP/audit.json" -w '%{http_code}' --cacert "$CA" -H "Authorization: Bearer $TOKEN" \
        "$URL/coffer/audit?api-version=7.5&$1"
}
jq_py() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/audit.json"; }
expect "the API lists the log" '[ "$(audit_api "top=1000")" = 200 ]'
expect "... every line so far" '[ "$(jq_py "len(d[\"value\"])")" -ge "$(($(wc -l <"$TMP/vault/audit.log") - 1))" ]'
expect "filtered by operation, verified" '[ "$(audit_api "operation=keys/encrypt&verify=true")" = 200 ]'
expect "... one encrypt, the chain intact" \
    '[ "$(jq_py "len(d[\"value\"]), d[\"value\"][0][\"operation\"].endswith(\"keys/encrypt/action\"), d[\"verification\"][\"status\"]")" = "1 True intact" ]'
expect "filtered by result" '[ "$(audit_api "result=denied")" = 200 ] && [ "$(jq_py "all(l[\"result\"] == \"denied\" for l in d[\"value\"]) and len(d[\"value\"]) >= 1")" = True ]'
expect "newest first" '[ "$(audit_api "top=3")" = 200 ] && [ "$(jq_py "[l[\"seq\"] for l in d[\"value\"]] == sorted([l[\"seq\"] for l in d[\"value\"]], reverse=True) and len(d[\"value\"]) == 3")" = True ]'
expect "a bad top is 400" '[ "$(audit_api "top=0")" = 400 ]'
expect "a bad since is 400" '[ "$(audit_api "since=yesterday")" = 400 ]'
expect "no token: 401" '[ "$(curl -s -o /dev/null -w "%{http_code}" --cacert "$CA" "$URL/coffer/audit?api-version=7.5")" = 401 ]'
expect "the secret value is not in the API's answer" '! grep -qF "$SECRET_VALUE" "$TMP/audit.json"'
stop

LOG=$TMP/vault/audit.log
lines=$(wc -l <"$LOG")
expect "every request left a line ($lines)" '[ "$lines" -ge 10 ]'
expect "the chain verifies after a restart" '"$BIN/coffer" audit verify "$LOG" >/dev/null'
expect "the create is recorded as a success" 'grep -q "\"operation\":\"Microsoft.KeyVault/vaults/keys/create/action\",\"object\":\"/keys/k1/create\",\"result\":\"success\"" "$LOG"'
expect "the unknown key is recorded as a failure" 'grep -q "\"object\":\"/keys/missing/\",\"result\":\"failure\",\"status\":404" "$LOG"'
expect "the token-less request is recorded as denied" 'grep -q "\"operation\":\"authenticate\",\"object\":\"/keys\",\"result\":\"denied\",\"status\":401" "$LOG"'
expect "no secret value in the log" '! grep -q "$SECRET_VALUE" "$LOG" "$TMP/vault.log"'
expect "no client secret in the log" '! grep -qF "$(field client_secret)" "$LOG" "$TMP/vault.log"'
expect "no token in the log" '! grep -qF "${TOKEN:20:40}" "$LOG" "$TMP/vault.log"'

# Tampered copies fail at the right line.
verdict() { "$BIN/coffer" audit verify "$1" 2>&1 || true; }
sed '4s/"status":200/"status":201/' "$LOG" >"$TMP/edited.log"
expect "an edited line is reported (line 4)" 'verdict "$TMP/edited.log" | grep -q "BROKEN at line 4"'
sed '5d' "$LOG" >"$TMP/removed.log"
expect "a removed line is reported (line 5)" 'verdict "$TMP/removed.log" | grep -q "BROKEN at line 5"'
awk 'NR==6 {held=$0; next} NR==7 {print; print held; next} {print}' "$LOG" >"$TMP/swapped.log"
expect "two swapped lines are reported (line 6)" 'verdict "$TMP/swapped.log" | grep -q "BROKEN at line 6"'
expect "the tampered copies exit non-zero" '! "$BIN/coffer" audit verify "$TMP/edited.log" >/dev/null 2>&1'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
