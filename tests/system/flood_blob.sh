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
. "$(dirname "$0")/lib/flood.sh"

BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
flood_blob blob
grep -q "cut [0-9]* slow connections" "$TMP/server.log" && ok "the log counts cut connections" ||
    bad "the log counts cut connections"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
