#!/usr/bin/env bash
# coffer-vault under a connection flood: the same 2,000 slow connections
# from 16 loopback addresses as flood_blob.sh, for 30 s, while a client on
# 127.0.0.1 reads a secret with a bearer token on a fresh connection each
# time; judged by tests/system/conn_flood.c (>= 95% succeed, p99 < 1 s,
# RSS < 256 MiB, normal service afterwards).
#
# Runs the release build (COFFER_RELEASE_BIN, set by `make test`).
# Env: COFFER_BIN (set by CTest).
set -euo pipefail
[ -n "${COFFER_RELEASE_BIN:-}" ] && export COFFER_BIN=$COFFER_RELEASE_BIN
. "$(dirname "$0")/lib/common.sh"

printf 'flood-value' >"$TMP/v"
check "a secret" "$CLI" secret set flood-secret --file "$TMP/v"
TOKEN=$(vault_token "$COFFER_BOOTSTRAP")
CA=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ca_cert'])" "$COFFER_BOOTSTRAP")

"$BIN/conn_flood" --ca "$CA" --put-path "/secrets/flood-up?api-version=7.5" \
    127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/secrets/flood-secret?api-version=7.5" \
    "Authorization: Bearer $TOKEN" | tee "$TMP/flood.out"
grep -q '^PASS$' "$TMP/flood.out" && ok "served through the flood" || bad "served through the flood"
kill -0 "$SERVER_PID" && ok "still running" || bad "still running"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
