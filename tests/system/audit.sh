#!/usr/bin/env bash
# `coffer audit verify` end to end: builds audit logs with the shell
# (printf + sha256sum, following docs/audit.md), tampers with copies and
# checks the verdict, the line named, the JSON output and the exit codes.
# The unit test (tests/unit/core/test_audit_log.c) covers the writer.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, sha256sum, sed, awk.
set -euo pipefail

BIN=${COFFER_BIN:?set COFFER_BIN to the build bin directory}
CLI=$BIN/coffer
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1"; sed 's/^/     /' "$TMP/out" "$TMP/err" || true; }
# check NAME RC PATTERN CMD...: CMD exits with RC and prints PATTERN on stdout.
check() {
    local n=$1 want=$2 pat=$3 rc=0; shift 3
    "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
    if [ "$rc" = "$want" ] && { [ -z "$pat" ] || grep -q -- "$pat" "$TMP/out"; }; then
        ok "$n"
    else
        bad "$n (exit $rc)"
    fi
}

sha() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
GENESIS=$(sha "coffer audit log v1")

# A valid log of N lines.
LOG=$TMP/audit.log
prev=$GENESIS
: >"$LOG"
for i in 1 2 3 4 5 6; do
    line=$(printf '{"seq":%d,"time":"2026-11-28T23:59:5%d.000Z","request_id":"req-%d","principal":"app","client":"127.0.0.1:4000","operation":"keys.get","object":"keys/k%d","result":"success","status":200,"prev":"%s"}' \
        "$i" "$i" "$i" "$i" "$prev")
    printf '%s\n' "$line" >>"$LOG"
    prev=$(sha "$line")
done
HEAD=$prev

check "empty log is intact" 0 "intact: 0 lines, head $GENESIS" "$CLI" audit verify /dev/null
check "valid log is intact" 0 "audit log intact: 6 lines, head $HEAD" "$CLI" audit verify "$LOG"
check "json output" 0 '"intact": true' "$CLI" audit verify "$LOG" --output json
check "expect-head ok" 0 "intact" "$CLI" audit verify "$LOG" --expect-head "$HEAD"
check "expect-lines ok" 0 "intact" "$CLI" audit verify "$LOG" --expect-lines 6

sed '2s/"status":200/"status":201/' "$LOG" >"$TMP/edited.log"
check "edited line 2" 1 "BROKEN at line 2: altered" "$CLI" audit verify "$TMP/edited.log"
sed '3d' "$LOG" >"$TMP/removed.log"
check "removed line 3" 1 "BROKEN at line 3: missing" "$CLI" audit verify "$TMP/removed.log"
awk 'NR == 3 { held = $0; next } { print } NR == 4 { print held }' "$LOG" >"$TMP/swapped.log"
check "swapped lines 3,4" 1 "BROKEN at line 3: reordered" "$CLI" audit verify "$TMP/swapped.log"
sed '4{h;s/.*/{"hello":1}/;p;x}' "$LOG" >"$TMP/inserted.log"
check "inserted line 4" 1 "BROKEN at line 4: malformed" "$CLI" audit verify "$TMP/inserted.log"
sed '1{p}' "$LOG" >"$TMP/replayed.log"
check "replayed line 1" 1 "BROKEN at line 2: inserted" "$CLI" audit verify "$TMP/replayed.log"
sed '$s/"status":200/"status":500/' "$LOG" >"$TMP/last.log"
check "edited last line: chain alone passes" 0 "intact: 6 lines" "$CLI" audit verify "$TMP/last.log"
check "edited last line: expect-head" 1 "BROKEN at line 6: altered" \
    "$CLI" audit verify "$TMP/last.log" --expect-head "$HEAD"
sed '$d' "$LOG" >"$TMP/short.log"
check "removed last line: expect-lines" 1 "BROKEN at line 6: missing" \
    "$CLI" audit verify "$TMP/short.log" --expect-lines 6
head -c -5 "$LOG" >"$TMP/torn.log"
check "torn last line" 1 "BROKEN at line 6: torn" "$CLI" audit verify "$TMP/torn.log"
check "broken, json" 1 '"bad_line": 2' "$CLI" audit verify "$TMP/edited.log" --output json

check "two logs at once" 0 "$LOG: audit log intact: 6 lines" "$CLI" audit verify "$LOG" /dev/null
check "two logs, one broken" 1 "BROKEN at line 2" "$CLI" audit verify "$LOG" "$TMP/edited.log"
check "an anchor checks one file" 2 "" "$CLI" audit verify "$LOG" "$LOG" --expect-lines 6
check "--store must be PostgreSQL" 2 "" "$CLI" audit verify "$LOG" --store sqlite
check "missing file exits 1" 1 "" "$CLI" audit verify "$TMP/absent.log"
check "no FILE is a usage error" 2 "" "$CLI" audit verify
check "bad --expect-head is a usage error" 2 "" "$CLI" audit verify "$LOG" --expect-head xyz
check "unknown option is a usage error" 2 "" "$CLI" audit verify "$LOG" --alg RS256

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
