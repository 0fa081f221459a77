#!/usr/bin/env bash
# `coffer seal migrate`: data directories of both services move from the
# development file seal onto a PKCS#11 token with one command, the service
# stopped, and the file seal's key is destroyed.  Tested as it can fail:
# interrupted half-way (the token dies after the new root key was made),
# the wrong token, the service still running, run twice, and a move that
# stopped after its switch (leftover seal.key).  Keys, secrets and blobs
# stored before the move are the same after it.
#
# Env: COFFER_BIN, COFFER_P11_SHIM (set by CTest).  Needs softhsm2-util,
# curl, python3, openssl.
set -euo pipefail
source "$(dirname "$0")/lib/base.sh"

SHIM=${COFFER_P11_SHIM:?set COFFER_P11_SHIM to the fault shim module}
V=$TMP/v
B=$TMP/b
export COFFER_SHIM_CONTROL=$TMP/fault
printf 'ok\n' >"$COFFER_SHIM_CONTROL"
# A named token for the runs through the shim (the embedded tokens under
# DIR/hsm come with their own configuration).
NAMED=$TMP/named
mkdir -p "$NAMED/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$NAMED/tokens" >"$NAMED/softhsm2.conf"
SOFTHSM2_CONF=$NAMED/softhsm2.conf softhsm2-util --init-token --free --label named --so-pin 87654321 --pin 1234 >/dev/null
printf '1234\n' >"$TMP/pin"
json() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1"; }
vault_up() { curl -s -o /dev/null --cacert "$V/tls/ca.crt" "https://127.0.0.1:$1/keys?api-version=7.5" 2>/dev/null; }
blob_up() { BLOB_DIR=$B blob_ready "$1"; }

VPORT=
start_vault() {
    local p
    for _ in $(seq 1 5); do
        p=${VPORT:-$(random_free_port)} || continue
        launch "$p" vault_up "$BIN/coffer-vault" --data-dir "$V" --listen "127.0.0.1:$p" "$@" && VPORT=$p && return 0
        [ -z "$VPORT" ] || break
    done
    tail -20 "$TMP/server.log"; bad "coffer-vault did not start"; exit 1
}
BPORT=
start_blob() {
    local p
    for _ in $(seq 1 5); do
        p=${BPORT:-$(random_free_port)} || continue
        launch "$p" blob_up "$BIN/coffer-blob" --data-dir "$B" --listen "127.0.0.1:$p" "$@" && BPORT=$p && return 0
        [ -z "$BPORT" ] || break
    done
    tail -20 "$TMP/server.log"; bad "coffer-blob did not start"; exit 1
}
stop() { kill "$SERVER_PID" && wait "$SERVER_PID" || true; SERVER_PID=; }

# ---- a vault and a blob store on the file seal, with data ----
start_vault --dev-seal --log-level warn
export COFFER_BOOTSTRAP=$V/bootstrap.json
check "vault on the file seal" test "$(json "$V/seal.json" "['seal']")" = file
check "create an RSA key" "$CLI" key create signer --kty RSA --size 2048
"$CLI" key show signer --output json >"$TMP/signer.json"
printf 'migrate me' | openssl dgst -sha256 -binary | base64 -w0 | tr '+/' '-_' | tr -d '=' >"$TMP/digest"
check "create a secret" curl -s -f -o /dev/null --cacert "$V/tls/ca.crt" -X PUT \
    -H "Authorization: Bearer $(vault_token "$V/bootstrap.json")" -H 'Content-Type: application/json' \
    --data '{"value":"the secret value"}' "https://127.0.0.1:$VPORT/secrets/s1?api-version=7.5"
check "the service refuses a move while it runs" bash -c "! '$CLI' seal migrate --data-dir '$V' 2>'$TMP/busy'"
expect "  and says why" grep -q "in use by another process" "$TMP/busy"
stop

start_blob --dev-seal
head -c 300000 /dev/urandom >"$TMP/payload"
export COFFER_BLOB_DIR=$B
check "upload a blob on the file seal" "$CLI" container create moved
check "  the body" "$CLI" blob upload "$TMP/payload" --container moved --name p.bin
stop
unset COFFER_BLOB_DIR

# ---- interrupted half-way: the token dies after the new root key ----
printf 'encrypt_error\n' >"$COFFER_SHIM_CONTROL"
check_rc "a move the token interrupts fails" 1 env SOFTHSM2_CONF="$NAMED/softhsm2.conf" \
    "$CLI" seal migrate --data-dir "$V" --pkcs11-module "$SHIM" --pkcs11-token named --pkcs11-pin-file "$TMP/pin"
printf 'ok\n' >"$COFFER_SHIM_CONTROL"
check "  the directory is still on the file seal" test "$(json "$V/seal.json" "['seal']")" = file
check "  seal.key is still there" test -s "$V/seal.key"
check "  and the root keys it made in the token were destroyed" bash -c "! SOFTHSM2_CONF='$NAMED/softhsm2.conf' \
    pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label named --login --pin 1234 -O 2>/dev/null |
    grep -q 'coffer-vault root'"
start_vault --dev-seal --log-level warn
check "  and the vault still opens with its keys" "$CLI" key sign signer --alg RS256 --digest "$(cat "$TMP/digest")"
stop

# ---- the wrong token ----
check_rc "a move onto a token that does not exist fails" 1 env SOFTHSM2_CONF="$NAMED/softhsm2.conf" \
    "$CLI" seal migrate --data-dir "$V" --pkcs11-module "$SHIM" --pkcs11-token nosuch --pkcs11-pin-file "$TMP/pin"
expect "  and names it" grep -q "no PKCS#11 token labelled 'nosuch'" "$TMP/err"
check_rc "a move with the wrong PIN fails" 1 env SOFTHSM2_CONF="$NAMED/softhsm2.conf" \
    "$CLI" seal migrate --data-dir "$V" --pkcs11-module "$SHIM" --pkcs11-token named --pkcs11-pin-file /dev/null
check "  the directory is unchanged" test "$(json "$V/seal.json" "['seal']")" = file
# A leftover DIR/hsm (as an interrupted move onto the embedded token leaves)
# does not stand in the way.
mkdir -p "$V/hsm/tokens/junk" && printf 'x' >"$V/hsm/user.pin"

# ---- the move (embedded SoftHSM2 token) ----
check "coffer seal migrate" "$CLI" seal migrate --data-dir "$V"
expect "  reports the token" grep -q "PKCS#11 token 'coffer-vault'" "$TMP/out"
check "  seal.json names the token" test "$(json "$V/seal.json" "['seal']")" = pkcs11
check "  the file seal's key is destroyed" test ! -e "$V/seal.key"
check "coffer seal show" "$CLI" seal show --data-dir "$V"
expect "  shows the token and its root keys" grep -Eq "token +coffer-vault" "$TMP/out"
expect "  with the unwrap template" grep -Eq "unwrap template +yes" "$TMP/out"
check_rc "a second move is refused" 1 "$CLI" seal migrate --data-dir "$V"
expect "  as already sealed" grep -q "already sealed by PKCS#11 token" "$TMP/err"
start_vault --log-level warn
check "the vault starts on the token with no option" grep -q '"seal": "pkcs11"' "$V/seal.json"
check "  the key signs" "$CLI" key sign signer --alg RS256 --digest "$(cat "$TMP/digest")" --output json
jwk_to_pem "$TMP/signer.json" "$TMP/signer.pem"
python3 -c "import base64,json,sys; v=json.load(open(sys.argv[1]))['value']; open(sys.argv[2],'wb').write(base64.urlsafe_b64decode(v+'='*(-len(v)%4)))" "$TMP/out" "$TMP/out.sig"
printf 'migrate me' >"$TMP/msg"
check "  with the same key as before the move (openssl verifies)" \
    openssl dgst -sha256 -verify "$TMP/signer.pem" -signature "$TMP/out.sig" "$TMP/msg"
check "  the secret reads back" curl -s -f -o "$TMP/secret.json" --cacert "$V/tls/ca.crt" \
    -H "Authorization: Bearer $(vault_token "$V/bootstrap.json")" "https://127.0.0.1:$VPORT/secrets/s1?api-version=7.5"
check "  unchanged" grep -q '"value":"the secret value"' "$TMP/secret.json"
check "  and HSM keys can now be made" "$CLI" key create hsm1 --kty RSA-HSM
stop
check_rc "--dev-seal no longer opens it" 1 "$BIN/coffer-vault" --data-dir "$V" --listen 127.0.0.1:1 --dev-seal

# ---- a move that stopped after its switch left seal.key behind ----
printf '0123456789abcdef0123456789abcdef' >"$V/seal.key"
chmod 600 "$V/seal.key"
start_vault --log-level warn
check "the service destroys a leftover seal.key at start" test ! -e "$V/seal.key"
expect "  and says so" grep -q "destroyed the leftover development seal key" "$TMP/server.log"
stop

# ---- coffer-blob onto a named token through a vendor module ----
check "coffer-blob: migrate onto a named token" env SOFTHSM2_CONF="$NAMED/softhsm2.conf" \
    "$CLI" seal migrate --data-dir "$B" --pkcs11-module "$SHIM" --pkcs11-token named --pkcs11-pin-file "$TMP/pin"
check "  seal.json names it" test "$(json "$B/seal.json" "['token']")" = named
check "  seal.key is gone" test ! -e "$B/seal.key"
SOFTHSM2_CONF=$NAMED/softhsm2.conf start_blob
export COFFER_BLOB_DIR=$B
check "  the blob stored before the move downloads intact" "$CLI" blob download --container moved --name p.bin --file "$TMP/back"
check "  byte for byte" cmp "$TMP/payload" "$TMP/back"
stop

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
