#!/usr/bin/env bash
# Transparent database encryption with the protector in coffer-vault
# (docs/database-encryption.md): an application identity with the Key Vault
# Crypto Service Encryption User role on an RSA key; a database converted
# under that key and read from Debian's sqlite3 shell (URI parameters
# protector= and vault_identity=); then, with a reader that stays open
# (tde_cache_seconds=2), revocation and healing: the key disabled, the role
# removed, the vault stopped each make the next transaction fail with
# "authorization denied" within the cache period, and restoring access
# heals the same connection; protector rotation from a local key file to the
# vault and from the RSA key to an AES key (the old protector refused).
#
# Env: COFFER_BIN (set by CTest); COFFER_RELEASE_BIN for the module.
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
CLI=$BIN/coffer
LIB=$(cd "${COFFER_RELEASE_BIN:-$BIN}/.." && pwd)/lib/libcoffer_sqlite
[ -f "$LIB.so" ] || { echo "missing $LIB.so (make build)"; exit 1; }
MARK="tde-vault-marker-$RANDOM$RANDOM"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

check "an RSA key for the protector" "$CLI" key create tde-rsa --kty RSA --output json
RSA=$(json "$TMP/out" "d['key']['kid'].rsplit('/', 1)[0]")
check "an AES key" "$CLI" key create tde-aes --kty oct --size 256 --output json
AES=$(json "$TMP/out" "d['key']['kid'].rsplit('/', 1)[0]")
check "an application identity" no_role_identity tde-app "$TMP/app.json"
APP_OID=$(json "$TMP/principal.json" "d['object_id']")
check "  Crypto Service Encryption User on the keys" "$CLI" role assign \
    --role "Key Vault Crypto Service Encryption User" --principal "$APP_OID" --scope /keys --output json
ASSIGNMENT=$(json "$TMP/out" "d['name']")

DB=$TMP/app.db
sqlite3 -batch "$DB" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);
  WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 4000)
  INSERT INTO t(v) SELECT '$MARK-' || i FROM c;"
check "coffer db encrypt under the vault key" "$CLI" db encrypt "$DB" --protector "$RSA" \
    --vault-identity "$TMP/app.json"
expect "  no marker in the file" bash -c "! grep -q '$MARK' '$DB'"
check "coffer db status names the key version" "$CLI" db status "$DB"
expect "  $RSA/..." grep -q "protector: *$RSA/" "$TMP/out"
URI="file:$DB?vfs=coffer&protector=$RSA&vault_identity=$TMP/app.json&tde_cache_seconds=2"
check "the shell reads it" sqlite3 -batch -bail :memory: ".load $LIB" ".open $URI" "SELECT count(*) FROM t;"
expect "  4000 rows" grep -qx 4000 "$TMP/out"
check_rc "without the identity: refused" 1 sqlite3 -batch -bail :memory: ".load $LIB" \
    ".open file:$DB?vfs=coffer&protector=$RSA" "SELECT count(*) FROM t;"

# ---- a reader that stays open ----
mkfifo "$TMP/q"
sqlite3 -batch :memory: <"$TMP/q" >"$TMP/reader.out" 2>"$TMP/reader.err" &
READER=$!
exec 3>"$TMP/q"
echo ".load $LIB" >&3
echo ".open $URI" >&3
N=0
DENIED=0
# probe: the reader runs one query; RESULT is "ok", "refused" or "?".
probe() {
    N=$((N + 1))
    echo "SELECT 'probe$N', count(*) FROM t;" >&3
    RESULT="?"
    for _ in $(seq 1 100); do
        if grep -q "^probe$N|4000$" "$TMP/reader.out"; then RESULT=ok; return; fi
        local denied
        denied=$(grep -c "authorization denied" "$TMP/reader.err" || true)
        if [ "$denied" -gt "$DENIED" ]; then DENIED=$denied; RESULT=refused; return; fi
        sleep 0.1
    done
}
# until_probe WANT: probes for up to 8 s (the cache period is 2 s).
until_probe() { for _ in $(seq 1 16); do probe; [ "$RESULT" = "$1" ] && return 0; sleep 0.5; done; return 1; }
expect "the open reader reads" until_probe ok
check "the key disabled" "$CLI" key update tde-rsa --disable
expect "  the reader is refused within the cache period" until_probe refused
check "the key enabled again" "$CLI" key update tde-rsa --enable
expect "  the same connection heals" until_probe ok
check "the role removed" "$CLI" role remove "$ASSIGNMENT" --scope /keys
expect "  the reader is refused" until_probe refused
check "the role assigned again" "$CLI" role assign \
    --role "Key Vault Crypto Service Encryption User" --principal "$APP_OID" --scope /keys
expect "  the reader heals" until_probe ok
kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
expect "the vault stopped: the reader is refused" until_probe refused
"$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$PORT" --log-level warn \
    >>"$TMP/server.log" 2>&1 3>&- &
SERVER_PID=$!
expect "the vault back: the reader heals" until_probe ok
grep "authorization denied" "$TMP/reader.err" | head -1 >"$TMP/why" || true
expect "  refusals say why (authorization denied)" test -s "$TMP/why"
exec 3>&-
wait "$READER" 2>/dev/null || true

# ---- rotation between protectors ----
head -c 32 /dev/urandom >"$TMP/local.key" && chmod 600 "$TMP/local.key"
check "rotate-protector: vault RSA -> local key file" "$CLI" db rotate-protector "$DB" \
    --protector "$RSA" --vault-identity "$TMP/app.json" --to "local:$TMP/local.key"
check "rotate-protector: local key file -> vault AES key" "$CLI" db rotate-protector "$DB" \
    --protector "local:$TMP/local.key" --vault-identity "$TMP/app.json" --to "$AES"
check_rc "  the local key file no longer opens it" 1 "$CLI" db status "$DB" --protector "local:$TMP/local.key"
check_rc "  nor the RSA key" 1 "$CLI" db status "$DB" --protector "$RSA" --vault-identity "$TMP/app.json"
check "  the AES key does" "$CLI" db status "$DB" --protector "$AES" --vault-identity "$TMP/app.json"
expect "  names it" grep -q "protector: *$AES/" "$TMP/out"
check "rekey under the vault key" "$CLI" db rekey "$DB" --protector "$AES" --vault-identity "$TMP/app.json"
check "the data is intact" sqlite3 -batch -bail :memory: ".load $LIB" \
    ".open file:$DB?vfs=coffer&protector=$AES&vault_identity=$TMP/app.json" \
    "PRAGMA integrity_check;" "SELECT count(*) FROM t WHERE v LIKE '$MARK-%';"
expect "  ok, 4000 rows" diff <(printf 'ok\n4000\n') "$TMP/out"
expect "no marker in the file" bash -c "! grep -q '$MARK' '$DB'"
APP_SECRET=$(json "$TMP/app.json" "d['client_secret']")
expect "the identity's secret is in no log" bash -c "! grep -qF -e '$APP_SECRET' '$TMP/server.log' '$TMP/reader.err'"

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
