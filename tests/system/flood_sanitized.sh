#!/usr/bin/env bash
# The connection layer's hard paths under ASan and UBSan: the sanitized
# servers of this build (not the release build the other flood tests time)
# take 500 slow connections from 8 addresses for 10 s each, connections cut
# mid-handshake, mid-headers, mid-body and after early answers, while a
# client keeps making requests.  Judged on survival, not speed: each server
# must still run, answer normally afterwards, and log no sanitizer report.
#
# Env: COFFER_BIN, COFFER_SOURCE (set by CTest).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
[ -d "$COFFER_SOURCE/.cache/node/bin" ] && export PATH="$COFFER_SOURCE/.cache/node/bin:$PATH"
RELAXED=(--connections 500 --addresses 8 --seconds 10 --max-rss-mib 4096 --max-p99-ms 20000 --min-success 0.5)

printf 'flood-value' >"$TMP/v"
check "a secret" "$CLI" secret set flood-secret --file "$TMP/v"
TOKEN=$(vault_token "$COFFER_BOOTSTRAP")
CA=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ca_cert'])" "$COFFER_BOOTSTRAP")
"$BIN/conn_flood" "${RELAXED[@]}" --ca "$CA" --put-path "/secrets/flood-up?api-version=7.5" \
    127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/secrets/flood-secret?api-version=7.5" \
    "Authorization: Bearer $TOKEN" | tee "$TMP/vault_flood.out"
grep -q '^PASS$' "$TMP/vault_flood.out" && ok "vault: served through the flood" || bad "vault: served through the flood"
kill -0 "$SERVER_PID" && ok "vault: still running" || bad "vault: still running"
VAULT_LOG=$TMP/vault_server.log
cp "$TMP/server.log" "$VAULT_LOG"

BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
    "$BLOB_DIR/bootstrap.json" "$1"; }
ACCOUNT=$(boot account_name)
check "container create" "$CLI" container create flood
head -c 1024 /dev/urandom >"$TMP/one.bin"
check "a 1 KiB blob" "$CLI" blob upload "$TMP/one.bin" --container flood --name one
SAS=$(node "$COFFER_SOURCE/tests/sdk/lib/account_sas.cjs" "$(boot connection_string)")
"$BIN/conn_flood" "${RELAXED[@]}" --ca "$BLOB_DIR/tls/ca.crt" --put-path "/$ACCOUNT/flood/up" \
    127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/$ACCOUNT/flood/one?$SAS" \
    "x-ms-version: 2025-01-05" | tee "$TMP/blob_flood.out"
grep -q '^PASS$' "$TMP/blob_flood.out" && ok "blob: served through the flood" || bad "blob: served through the flood"
kill -0 "$SERVER_PID" && ok "blob: still running" || bad "blob: still running"
check "blob: normal service afterwards" "$CLI" blob download --container flood --name one --file "$TMP/back.bin"
if grep -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$VAULT_LOG" "$TMP/server.log" >"$TMP/err"; then
    bad "no sanitizer report"
else
    ok "no sanitizer report"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
