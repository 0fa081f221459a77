#!/usr/bin/env bash
# coffer-blob under a connection flood: 2,000 slow connections from 16
# loopback addresses (TCP only, trickled TLS handshakes, trickled headers,
# trickled unauthenticated uploads, unauthenticated "Expect: 100-continue",
# one request and then idle keep-alive)
# for 30 s, while a client on 127.0.0.1 reads a 1 KiB blob through a SAS on
# a fresh connection each time.  tests/system/conn_flood.c does the flood
# and the judging: >= 95% of the legitimate requests succeed, p99 < 1 s,
# the server's RSS stays under 256 MiB, and it serves normally afterwards.
#
# Runs the release build (COFFER_RELEASE_BIN, set by `make test`): memory
# and latency are what users get, not what the sanitizers cost.
# Env: COFFER_BIN, COFFER_SOURCE (set by CTest).
set -euo pipefail
[ -n "${COFFER_RELEASE_BIN:-}" ] && export COFFER_BIN=$COFFER_RELEASE_BIN
. "$(dirname "$0")/lib/base.sh"
[ -d "$COFFER_SOURCE/.cache/node/bin" ] && export PATH="$COFFER_SOURCE/.cache/node/bin:$PATH"

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

"$BIN/conn_flood" --ca "$BLOB_DIR/tls/ca.crt" --put-path "/$ACCOUNT/flood/up" \
    127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/$ACCOUNT/flood/one?$SAS" \
    "x-ms-version: 2025-01-05" | tee "$TMP/flood.out"
grep -q '^PASS$' "$TMP/flood.out" && ok "served through the flood" || bad "served through the flood"
grep -q "cut [0-9]* slow connections" "$TMP/server.log" && ok "the log counts cut connections" ||
    bad "the log counts cut connections"
kill -0 "$SERVER_PID" && ok "still running" || bad "still running"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
