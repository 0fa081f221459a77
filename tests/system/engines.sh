#!/usr/bin/env bash
# The scale-out engines start, serve and stop here, as the scale-out tests
# will use them (tests/system/lib/engines.sh): a throw-away PostgreSQL 15
# that answers a query and keeps a committed row across a restart, and a
# one-node Ceph whose pool stores and returns an object; both stopped by
# PID with no process left behind.  Prints how long each took to serve.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
trap 'engines_stop; cleanup' EXIT

t0=$(date +%s%N)
pg_start "$TMP" && ok "PostgreSQL serves" || { bad "PostgreSQL serves"; exit 1; }
t1=$(date +%s%N)
check "a table and a row" psql -q "$PG_CONNINFO" -c "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')"
engines_stop
kill -0 "$PG_PID" 2>/dev/null && bad "PostgreSQL stopped by PID" || ok "PostgreSQL stopped by PID"
pg_run "$TMP" && ok "PostgreSQL starts again" || bad "PostgreSQL starts again"
[ "$(psql -At "$PG_CONNINFO" -c 'SELECT v FROM t' 2>/dev/null)" = kept ] &&
    ok "the row survives a restart" || bad "the row survives a restart"

t2=$(date +%s%N)
ceph_start "$TMP" && ok "Ceph serves a pool" || { bad "Ceph serves a pool"; exit 1; }
t3=$(date +%s%N)
head -c 100000 /dev/urandom >"$TMP/object"
check "rados put" rados -p "$CEPH_POOL" put one "$TMP/object"
check "rados get" rados -p "$CEPH_POOL" get one "$TMP/object.back"
cmp -s "$TMP/object" "$TMP/object.back" && ok "the object comes back intact" || bad "the object comes back intact"

pids=("${ENGINE_PIDS[@]}")
engines_stop
left=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
[ "$left" -eq 0 ] && ok "every engine stopped by PID" || bad "$left engine processes left"

echo "PostgreSQL served after $(((t1 - t0) / 1000000)) ms, Ceph after $(((t3 - t2) / 1000000)) ms"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
