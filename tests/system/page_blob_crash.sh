#!/usr/bin/env bash
# Put Page is all or nothing under SIGKILL, through the real coffer-blob
# over HTTPS: four writers put random page ranges (up to 2 MiB, across
# chunk boundaries) into their own regions of one page blob, and the
# server is killed with SIGKILL at a random moment, three rounds.  After a
# restart every acknowledged call is there, and the one call per writer
# that was in flight is either all there or not at all: no page torn, no
# call half applied (tests/system/lib/page_writers.py checks every page).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs python3 and curl.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
BLOB_DIR=$TMP/blob
PW="$(dirname "$0")/lib/page_writers.py"
WRITERS=4
REGION=$((16 * 1024 * 1024))

start_blob
for round in 1 2 3; do
    CA=$BLOB_DIR/tls/ca.crt
    python3 "$PW" write "$PORT" "$CA" "$BLOB_DIR/bootstrap.json" "disk$round" "$TMP/log$round" \
        "$WRITERS" "$REGION" >"$TMP/writers.out" 2>&1 &
    writers=$!
    # Many calls answered first (however loaded the machine), then a
    # moment no test chooses.
    for _ in $(seq 1 600); do
        n=0
        [ -f "$TMP/log$round" ] && n=$(grep -c '^ack' "$TMP/log$round" || true)
        [ "$n" -gt 20 ] && break
        sleep 0.1
    done
    sleep "$(python3 -c "import random; print(random.random() * 1.5)")"
    kill -KILL "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    wait "$writers" || true
    acked=$(grep -c '^ack' "$TMP/log$round" || true)
    expect "round $round: the writers got answers before the kill ($acked calls)" [ "$acked" -gt 20 ] ||
        cat "$TMP/writers.out"
    start_blob
    if python3 "$PW" verify "$PORT" "$CA" "$BLOB_DIR/bootstrap.json" "disk$round" \
        "$TMP/log$round" "$WRITERS" "$REGION" >"$TMP/out" 2>"$TMP/err"; then
        ok "round $round: every acknowledged page there, no call half applied: $(cat "$TMP/out")"
    else
        cat "$TMP/out"
        bad "round $round: the blob after SIGKILL"
    fi
done
echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
