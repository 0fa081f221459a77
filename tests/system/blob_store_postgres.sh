#!/usr/bin/env bash
# The blob store on PostgreSQL (src/blob/blob_store*.c, --store postgres):
# its unit tests (tests/unit/blob/test_blob_store.c, test_blob_store_api.c)
# run their backend-neutral cases against a throw-away PostgreSQL too:
# every Azure semantic of the store, the sealed columns, inline extents and
# their deferred removal, List Blobs' group jumps, and two stores in one
# process as two front ends (change notices, the grace, leadership).
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
trap 'engines_stop; cleanup' EXIT

pg_start "$TMP" || exit 1
for t in test_blob_store test_blob_store_api test_blob_store_page; do
    if COFFER_TEST_PG="$PG_CONNINFO" "$BIN/../tests/$t" >"$TMP/out" 2>&1 &&
        grep -q '^-- again on PostgreSQL' "$TMP/out"; then
        ok "$t against PostgreSQL"
    else
        grep -v '^--' "$TMP/out" | tail -20
        bad "$t against PostgreSQL"
    fi
done
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
