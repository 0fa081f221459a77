#!/usr/bin/env bash
# Transparent database encryption as users run it (docs/database-encryption.md):
# Debian's sqlite3 shell with `.load` of the release libcoffer_sqlite.so and a
# URI naming the protector, and `coffer db`:
#  - a plain database converted (encrypt), its status read without and with
#    the key, the protector rotated (the old key refused after), a rekey, the
#    plain copy taken back (decrypt); no marker in any encrypted file;
#  - a writer killed with SIGKILL mid-transaction, over and over, in WAL and
#    in rollback-journal mode: after each kill the database opens, passes
#    PRAGMA integrity_check and holds every transaction the writer saw
#    commit; neither the database nor its journal or WAL holds the marker;
#  - bad input: wrong key, a tampered page, a journal from another database.
#
# Env: COFFER_RELEASE_BIN (set by `make test`) or COFFER_BIN: <build>/bin.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
RBIN=${COFFER_RELEASE_BIN:-$BIN}
LIB=$(cd "$RBIN/.." && pwd)/lib/libcoffer_sqlite.so
[ -f "$LIB" ] || { echo "missing $LIB (make build)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: scripts/install-deps installs it"; exit 1; }
COFFER=$BIN/coffer
MARK="tde-marker-$RANDOM$RANDOM"
head -c 32 /dev/urandom >"$TMP/k1"
head -c 32 /dev/urandom | xxd -p -c 64 >"$TMP/k2"
chmod 600 "$TMP/k1" "$TMP/k2"
P1=local:$TMP/k1 P2=local:$TMP/k2
uri() { echo "file:$1?vfs=coffer&protector=$2"; }
# sq DB PROTECTOR SQL...: the shell on DB through the VFS.
sq() { local db=$1 p=$2; shift 2; sqlite3 -batch -bail ":memory:" ".load ${LIB%.so}" ".open $(uri "$db" "$p")" "$@"; }
# no_marker FILE...: none of the (existing) files holds the marker.
no_marker() { for f in "$@"; do [ ! -e "$f" ] || ! grep -q "$MARK" "$f" || { echo "marker in $f"; return 1; }; done; }

# ---- conversion and keys with `coffer db` ----
DB=$TMP/app.db
sqlite3 -batch "$DB" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
  WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 4000)
  INSERT INTO t(v) SELECT '$MARK-' || i FROM c;"
check "coffer db encrypt converts a plain database in place" "$COFFER" db encrypt "$DB" --protector "$P1"
expect "  the file holds no marker" no_marker "$DB"
check "  sqlite3 without the VFS sees no database" bash -c "! sqlite3 '$DB' 'SELECT count(*) FROM t'"
check "  the shell reads it through the VFS" sq "$DB" "$P1" "SELECT count(*) FROM t;"
expect "  every row" grep -qx 4000 "$TMP/out"
check "coffer db status without a key" "$COFFER" db status "$DB"
expect "  names the protector, not checked" grep -q "not checked" "$TMP/out"
check "coffer db rotate-protector" "$COFFER" db rotate-protector "$DB" --protector "$P1" --to "$P2"
check_rc "  the old key is refused" 1 "$COFFER" db status "$DB" --protector "$P1"
expect "  with a message naming the protector" grep -q "is protected by local:" "$TMP/err"
check "  the new key opens it" sq "$DB" "$P2" "SELECT count(*) FROM t;"
check "coffer db rekey" "$COFFER" db rekey "$DB" --protector "$P2"
expect "  every page under generation 2" grep -q "generation 2" "$TMP/out"
check "  data intact" sq "$DB" "$P2" "PRAGMA integrity_check;" "SELECT count(*) FROM t WHERE v LIKE '$MARK-%';"
expect "  ok, 4000 rows" diff <(printf 'ok\n4000\n') "$TMP/out"
check "coffer db decrypt" "$COFFER" db decrypt "$DB" --protector "$P2" --out "$TMP/plain.db"
check "  plain SQLite reads the copy" sqlite3 "$TMP/plain.db" "SELECT count(*) FROM t;"
expect "  every row" grep -qx 4000 "$TMP/out"
expect "the encrypted file still holds no marker" no_marker "$DB"

# ---- SIGKILL mid-transaction ----
# The writer logs each transaction number after its COMMIT returned (.system
# appends it at once); what the log names must survive the kill.
writer_script() {
    local db=$1 from=$2 mode=$3
    echo ".load ${LIB%.so}"
    echo ".open $(uri "$db" "$P1")"
    echo "PRAGMA journal_mode=$mode; PRAGMA cache_size=30;"
    for i in $(seq "$from" $((from + 400))); do
        echo "BEGIN; INSERT INTO w(id, v) VALUES ($i, '$MARK-' || $i || printf('%.300c', 'x'));"
        echo "UPDATE w SET v = v || '.' WHERE id % 17 = $((i % 17));"
        echo "COMMIT;"
        echo ".system echo $i >> $TMP/committed"
    done
}
crash_round() {
    local db=$1 mode=$2 round=$3 last from
    last=$(tail -n1 "$TMP/committed" 2>/dev/null || echo 0)
    from=$(sq "$db" "$P1" "SELECT coalesce(max(id), 0) + 1 FROM w;")
    writer_script "$db" "$from" "$mode" >"$TMP/writer.sql"
    sqlite3 -batch ":memory:" <"$TMP/writer.sql" >"$TMP/writer.log" 2>&1 &
    local pid=$!
    sleep "0.$((3 + RANDOM % 6))"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local side=$db-wal
    [ "$mode" = wal ] || side=$db-journal
    no_marker "$db" "$side" || return 1
    cp "$db" "$TMP/last.db"; cp "$side" "$TMP/last.side" 2>/dev/null || true
    last=$(tail -n1 "$TMP/committed" 2>/dev/null || echo 0)
    sq "$db" "$P1" "PRAGMA integrity_check;" "SELECT count(*) FROM w WHERE id <= $last;" \
        "SELECT count(*) > 0 OR $last = 0 FROM w;" >"$TMP/after" || return 1
    printf 'ok\n%s\n1\n' "$last" | diff - "$TMP/after" || { echo "round $round: committed through $last"; return 1; }
    echo "round $round ($mode): killed after $last committed transactions; recovered"
}
for mode in ${TDE_MODES:-wal delete}; do
    CDB=$TMP/crash-$mode.db
    rm -f "$TMP/committed"
    check "a $mode-mode database through the VFS" sq "$CDB" "$P1" "PRAGMA journal_mode=$mode;" \
        "CREATE TABLE w(id INTEGER PRIMARY KEY, v TEXT);"
    for round in 1 2 3 4 5; do
        check "  SIGKILL mid-write, round $round: integrity ok, every committed transaction there" \
            crash_round "$CDB" "$mode" "$round"
    done
    expect "  the writer committed something" test -s "$TMP/committed"
done

# ---- bad input ----
check_rc "a wrong key is refused" 1 sqlite3 -batch ":memory:" ".load ${LIB%.so}" \
    ".open $(uri "$DB" "$P1")" "SELECT count(*) FROM t;"
expect "  authorization denied" grep -q "authorization denied" "$TMP/err"
cp "$DB" "$TMP/tampered.db"
printf '\x5a' | dd of="$TMP/tampered.db" bs=1 seek=$((8192 + 4096 * 3 + 700)) conv=notrunc status=none
check_rc "a tampered page is an error, not data (SQLITE_CORRUPT)" 11 sq "$TMP/tampered.db" "$P2" "SELECT sum(length(v)) FROM t;"
expect "  database disk image is malformed" grep -q "malformed" "$TMP/err"

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
