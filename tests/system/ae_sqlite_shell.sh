#!/usr/bin/env bash
# ae_encrypt / ae_decrypt from Debian's sqlite3 shell, as a user runs them:
# `.load` of the extension (the release build's lib/libcoffer_sqlite.so: a
# sanitized module cannot load into the uninstrumented shell), a table of
# encrypted columns written and read back, an equality lookup on a
# deterministic column, a wrong key refused with its message, and the
# database file holding neither the values nor the key.
#
# Env: COFFER_RELEASE_BIN (set by `make test`) or COFFER_BIN: <build>/bin.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
LIB=$(cd "${COFFER_RELEASE_BIN:-$BIN}/.." && pwd)/lib/libcoffer_sqlite.so
[ -f "$LIB" ] || { echo "missing $LIB (make build)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: scripts/install-deps installs it"; exit 1; }
DB=$TMP/ae.db
KEY=$(head -c 32 /dev/urandom | xxd -p -c 64)
OTHER=$(head -c 32 /dev/urandom | xxd -p -c 64)
MARK="coffer-shell-marker-$RANDOM$RANDOM"
sq() { sqlite3 -batch -bail "$DB" ".load ${LIB%.so}" "$@"; }

check "create and fill a table through ae_encrypt" sq \
    "CREATE TABLE people(id INTEGER PRIMARY KEY, email BLOB, salary BLOB, note BLOB);" \
    "INSERT INTO people VALUES(1, ae_encrypt('ann@$MARK', '$KEY', 'deterministic'),
        ae_encrypt(72000, '$KEY', 'randomized'), ae_encrypt(NULL, '$KEY', 'randomized'));" \
    "INSERT INTO people VALUES(2, ae_encrypt('bob@$MARK', '$KEY', 'deterministic'),
        ae_encrypt(65000.5, '$KEY', 'randomized'), ae_encrypt(x'c0ffee', '$KEY', 'randomized'));"
check "read it back" sq -separator '|' \
    "SELECT id, ae_decrypt(email, '$KEY'), ae_decrypt(salary, '$KEY'),
        typeof(ae_decrypt(salary, '$KEY')), quote(ae_decrypt(note, '$KEY')) FROM people ORDER BY id;"
expect "  every value and type as written" diff -u - "$TMP/out" <<OUT
1|ann@$MARK|72000|integer|NULL
2|bob@$MARK|65000.5|real|X'C0FFEE'
OUT
check "look up by a deterministic column" sq \
    "SELECT id FROM people WHERE email = ae_encrypt('bob@$MARK', '$KEY', 'deterministic');"
expect "  finds row 2" [ "$(cat "$TMP/out")" = 2 ]
check_rc "another key: refused (the shell exits with SQLITE_AUTH, 23)" 23 sq "SELECT ae_decrypt(email, '$OTHER') FROM people;"
expect "  with the reason" grep -q "integrity check" "$TMP/err"
expect "  and no value printed" [ ! -s "$TMP/out" ]
expect "the file holds no value in clear" bash -c "! grep -qaF '$MARK' '$DB'"
expect "nor the key in hex" bash -c "! grep -qaiF '$KEY' '$DB'"
python3 - "$DB" "$KEY" <<'PY' && ok "nor the key's raw bytes" || bad "the key's raw bytes are in the file"
import sys
sys.exit(1 if bytes.fromhex(sys.argv[2]) in open(sys.argv[1], "rb").read() else 0)
PY

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
