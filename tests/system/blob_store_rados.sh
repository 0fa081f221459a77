#!/usr/bin/env bash
# The blob store with its extents in Ceph RADOS (--extents rados:POOL):
# its unit tests (tests/unit/blob/test_blob_store.c, test_blob_store_api.c)
# run their backend-neutral cases again with COFFER_TEST_EXTENTS naming a
# namespace of a throw-away pool, on SQLite and on PostgreSQL: every Azure
# semantic over extents in RADOS, readers' pins and deferred removal,
# cleanup's walk of a shared store (leader only, orphans by age, extents
# in their grace left to the sweep), and two stores in one process as two
# front ends reading each other's large bodies.  Then, from outside: the
# namespace is empty again (every test's extents were removed, none leaked).
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
trap 'engines_stop; cleanup' EXIT

ceph_start "$TMP" || exit 1
pg_start "$TMP" || exit 1
ns=blob-store-test
for t in test_blob_store test_blob_store_api test_blob_store_page; do
    if COFFER_TEST_PG="$PG_CONNINFO" COFFER_TEST_EXTENTS="rados:$CEPH_POOL/$ns" \
        timeout 600 "$BIN/../tests/$t" >"$TMP/out" 2>&1 &&
        grep -q '^-- and on PostgreSQL' "$TMP/out"; then
        ok "$t with the extents in RADOS ($(tail -1 "$TMP/out"))"
    else
        grep -v "^--" "$TMP/out" | tail -20
        bad "$t with the extents in RADOS"
    fi
done
left=$(rados -p "$CEPH_POOL" -N "$ns" ls | wc -l)
expect "the tests' namespace is empty again ($left objects)" [ "$left" -eq 0 ]
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
