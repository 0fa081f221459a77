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
. "$(dirname "$0")/lib/flood.sh"
RELAXED=(--connections 500 --addresses 8 --seconds 10 --max-rss-mib 4096 --max-p99-ms 20000 --min-success 0.5)

flood_vault vault "${RELAXED[@]}"
BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
flood_blob blob "${RELAXED[@]}"
check "blob: normal service afterwards" "$CLI" blob download --container flood --name one --file "$TMP/back.bin"
if grep -E "ERROR: AddressSanitizer|runtime error:|LeakSanitizer" "$TMP/server.log" >"$TMP/err"; then
    bad "no sanitizer report"
else
    ok "no sanitizer report"
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
