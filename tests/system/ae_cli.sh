#!/usr/bin/env bash
# `coffer ae key-*` against a real coffer-vault, with the column keys used
# through the SQLite functions from the sqlite3 shell (ae_*, and the cell
# functions with coffer_open_key(name) unwrapping through the vault itself):
# a column key created
# under an RSA key of the vault, listed, unwrapped and used; rotated to
# another column master key with the cells still readable; refused when its
# stored value is tampered with or substituted (signature), when the caller
# has no role on the master key, when the key path names another vault,
# when the master key is not RSA; deleted.  The database file never holds
# the column key.
#
# Env: COFFER_BIN=<build>/bin; COFFER_RELEASE_BIN for the SQLite module
# (a sanitized module cannot load into the uninstrumented shell).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
CLI=$BIN/coffer
DB=$TMP/app.db
LIB=$(cd "${COFFER_RELEASE_BIN:-$BIN}/.." && pwd)/lib/libcoffer_sqlite
[ -f "$LIB.so" ] || { echo "missing $LIB.so (make build)"; exit 1; }
sq() { sqlite3 -batch -bail "$DB" ".load $LIB" "$@"; }
kid() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['key']['kid'])" "$TMP/out"; }

check "an RSA column master key" "$CLI" key create cmk-a --kty RSA --output json
CMK_A=$(kid)
check "another, RSA-3072" "$CLI" key create cmk-b --kty RSA --size 3072 --output json
CMK_B=$(kid)
check "an AES key" "$CLI" key create not-rsa --kty oct --size 256 --output json
AES=$(kid)

check "key-create" "$CLI" ae key-create ssn --db "$DB" --cmk "$CMK_A"
expect "  says under which master key" grep -qF "$CMK_A" "$TMP/out"
check_rc "key-create again: exit 1" 1 "$CLI" ae key-create ssn --db "$DB" --cmk "$CMK_A"
expect "  it exists" grep -q "exists already" "$TMP/err"
check_rc "an AES master key: refused" 1 "$CLI" ae key-create x --db "$DB" --cmk "$AES"
expect "  must be RSA" grep -q "must be an RSA key" "$TMP/err"
check_rc "a bad name: usage" 2 "$CLI" ae key-create 'a b' --db "$DB" --cmk "$CMK_A"
check "key-list --output json" "$CLI" ae key-list --db "$DB" --output json
expect "  one key, its master key, not rotated" python3 -c "
import json, sys; k = json.load(open(sys.argv[1]))
assert [x['name'] for x in k] == ['ssn'] and k[0]['cmk'] == sys.argv[2] and k[0]['rotated'] is None
" "$TMP/out" "$CMK_A"

check "key-unwrap" "$CLI" ae key-unwrap ssn --db "$DB"
CEK=$(cat "$TMP/out")
expect "  64 hex digits" [ "${#CEK}" = 64 ]
check "key-unwrap --out FILE" "$CLI" ae key-unwrap ssn --db "$DB" --out "$TMP/cek.bin"
expect "  the same 32 bytes, mode 0600" bash -c "[ \"\$(xxd -p -c 64 '$TMP/cek.bin')\" = '$CEK' ] &&
    [ \"\$(stat -c %a '$TMP/cek.bin')\" = 600 ]"
check "cells written with it" sq "CREATE TABLE people(id INTEGER PRIMARY KEY, ssn BLOB);" \
    "INSERT INTO people VALUES(1, ae_encrypt('123-45-6789', '$CEK', 'deterministic'));"

check "key-rotate to another master key" "$CLI" ae key-rotate ssn --db "$DB" --cmk "$CMK_B"
check "key-unwrap after the rotation" "$CLI" ae key-unwrap ssn --db "$DB"
expect "  the same column key" [ "$(cat "$TMP/out")" = "$CEK" ]
check "the cells still read" sq "SELECT ae_decrypt(ssn, '$(cat "$TMP/out")') FROM people;"
expect "  to the value" [ "$(cat "$TMP/out")" = "123-45-6789" ]
check "key-list after the rotation" "$CLI" ae key-list --db "$DB" --output json
expect "  the new master key, a rotation time" python3 -c "
import json, sys; k = json.load(open(sys.argv[1]))[0]
assert k['cmk'] == sys.argv[2] and isinstance(k['rotated'], int)
" "$TMP/out" "$CMK_B"

# ---- cell-level encryption, the key opened by name through the vault ----
vsq() { COFFER_VAULT_IDENTITY=$COFFER_BOOTSTRAP sq "$@"; }
check "coffer_open_key(name): the stored key, unwrapped by the vault" vsq \
    "SELECT coffer_open_key('ssn');" "CREATE TABLE pay(id INTEGER PRIMARY KEY, salary BLOB);" \
    "INSERT INTO pay VALUES(7, encrypt_by_key(72000, 'ssn', 7));"
check "  the column key itself (its cells open with key-unwrap's bytes)" sq \
    "SELECT coffer_open_key('raw', X'$CEK');" "SELECT decrypt_by_key(salary, id) FROM pay;"
expect "  to the value" grep -qx "72000" "$TMP/out"
check "  and back through the vault" vsq "SELECT coffer_open_key('ssn');" \
    "SELECT decrypt_by_key(salary, id) FROM pay;"
expect "  to the value" grep -qx "72000" "$TMP/out"
# The shell exits with the statement's SQLite code: 23, SQLITE_AUTH.
check_rc "coffer_open_key(name) without an identity: refused (SQLITE_AUTH)" 23 \
    env -u COFFER_VAULT_IDENTITY sqlite3 -batch -bail "$DB" ".load $LIB" "SELECT coffer_open_key('ssn');"
expect "  saying what to set" grep -q "COFFER_VAULT_IDENTITY" "$TMP/err"
check_rc "coffer_open_key of a name not stored: refused" 1 vsq "SELECT coffer_open_key('nope');"
expect "  not found" grep -q "no column key of that name" "$TMP/err"

# ---- the stored value attacked ----
cp "$DB" "$TMP/saved.db"
python3 - "$DB" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
v = bytearray(db.execute("SELECT value FROM coffer_ae_keys WHERE name='ssn'").fetchone()[0])
v[300] ^= 1  # inside the wrapped key
db.execute("UPDATE coffer_ae_keys SET value=? WHERE name='ssn'", (bytes(v),)); db.commit()
PY
check_rc "a tampered value: refused" 1 "$CLI" ae key-unwrap ssn --db "$DB"
expect "  not signed by its master key" grep -q "not signed by its column master key" "$TMP/err"
check_rc "  and by coffer_open_key(name) (SQLITE_AUTH)" 23 vsq "SELECT coffer_open_key('ssn');"
expect "  not signed by its master key" grep -q "not signed by its column master key" "$TMP/err"
# A substituted value: a column key of the attacker's choosing, wrapped with
# the master key's public half (anyone has it), signed by nobody.
check "the master key's public half" "$CLI" key show cmk-b --output json
jwk_to_pem "$TMP/out" "$TMP/cmk-b.pub.pem"
cp "$TMP/saved.db" "$DB"
/usr/bin/python3 - "$DB" "$TMP/cmk-b.pub.pem" <<'PY'
import os, sqlite3, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
db = sqlite3.connect(sys.argv[1])
v = db.execute("SELECT value FROM coffer_ae_keys WHERE name='ssn'").fetchone()[0]
path_len, ct_len = struct.unpack("<HH", v[1:5])
pub = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())
ct = pub.encrypt(os.urandom(32), padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
forged = v[:5 + path_len] + ct + os.urandom(ct_len)
db.execute("UPDATE coffer_ae_keys SET value=? WHERE name='ssn'", (forged,)); db.commit()
PY
check_rc "a substituted column key: refused" 1 "$CLI" ae key-unwrap ssn --db "$DB"
expect "  before the vault unwraps anything" grep -q "not signed" "$TMP/err"
python3 - "$DB" <<'PY'
import sqlite3, struct, sys
db = sqlite3.connect(sys.argv[1])
v = db.execute("SELECT value FROM coffer_ae_keys WHERE name='ssn'").fetchone()[0]
path = "https://elsewhere.example/keys/cmk/1".encode("utf-16-le")
ct_len = struct.unpack("<H", v[3:5])[0]
rest = v[5 + struct.unpack("<H", v[1:3])[0]:]
db.execute("UPDATE coffer_ae_keys SET value=? WHERE name='ssn'",
           (b"\x01" + struct.pack("<HH", len(path), ct_len) + path + rest,)); db.commit()
PY
check_rc "a key path on another origin: refused" 1 "$CLI" ae key-unwrap ssn --db "$DB"
expect "  the credential is not sent there" grep -q "is not a key of the configured vault" "$TMP/err"
cp "$TMP/saved.db" "$DB"

# ---- a caller without a role on the master key ----
check "a principal with no role" no_role_identity ae-outsider "$TMP/outsider.json"
check_rc "its key-unwrap: refused" 1 env COFFER_BOOTSTRAP="$TMP/outsider.json" \
    "$CLI" ae key-unwrap ssn --db "$DB"
expect "  forbidden" grep -q "Forbidden" "$TMP/err"
expect "  and no key printed" [ ! -s "$TMP/out" ]
check_rc "its coffer_open_key(name): refused (SQLITE_AUTH)" 23 env COFFER_VAULT_IDENTITY="$TMP/outsider.json" \
    sqlite3 -batch -bail "$DB" ".load $LIB" "SELECT coffer_open_key('ssn');"
expect "  its role is missing" grep -q "role on the key is missing" "$TMP/err"

# ---- at rest, and deletion ----
printf 'column key\t%s\n' "$CEK" >"$TMP/needles"
python3 "$(dirname "$0")/lib/secret_scan.py" "$TMP/needles" "$DB" >"$TMP/found"
expect "the database file holds no column key (raw, hex, base64)" test ! -s "$TMP/found"
check "key-delete" "$CLI" ae key-delete ssn --db "$DB"
check_rc "key-unwrap after it: exit 1" 1 "$CLI" ae key-unwrap ssn --db "$DB"
expect "  not found" grep -q "no column key of that name" "$TMP/err"

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
