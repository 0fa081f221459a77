#!/usr/bin/env bash
# The database layer on PostgreSQL (src/core/db_postgres.c): the unit test
# of db.h (tests/unit/core/test_db.c) runs its backend-neutral cases
# against a throw-away PostgreSQL too: types, constraints, transactions,
# writers excluded across connections, migrations.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
trap 'engines_stop; cleanup' EXIT

pg_start "$TMP" || exit 1
if COFFER_TEST_PG="$PG_CONNINFO" "$BIN/../tests/test_db" >"$TMP/out" 2>&1; then
    ok "test_db against PostgreSQL"
else
    grep -v '^--' "$TMP/out" | tail -20
    bad "test_db against PostgreSQL"
fi
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
