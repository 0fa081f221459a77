#!/usr/bin/env bash
# Failed-credential throttling on both services.  The vault's token
# endpoint: ten wrong client secrets from one address are free, the
# eleventh (still answered 401) locks the client there: the next attempt is
# refused (429, Retry-After, OAuth error) before it is checked, even with
# the right secret, while the same client from another address and another
# client from the same address still get their answers; the lock is logged
# and audited ("throttled"), and ends.  coffer-blob: wrong SAS signatures
# and wrong Shared Key signatures for an account, the same way, with 503
# ServerBusy and Retry-After.
#
# Env: COFFER_BIN (set by CTest).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
VAULT_PORT=$PORT
VAULT_PID=$SERVER_PID
boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
CA=$(boot "$COFFER_BOOTSTRAP" ca_cert)
TOKEN_URL="$(boot "$COFFER_BOOTSTRAP" authority_host)/$(boot "$COFFER_BOOTSTRAP" tenant_id)/oauth2/v2.0/token"
CLIENT=$(boot "$COFFER_BOOTSTRAP" client_id)
SECRET=$(boot "$COFFER_BOOTSTRAP" client_secret)

# sign_in FROM CLIENT SECRET -> "STATUS RETRY-AFTER"
sign_in() {
    curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --cacert "$CA" --interface "$1" \
        -d grant_type=client_credentials -d "client_id=$2" --data-urlencode "client_secret=$3" \
        -d scope=https://vault.azure.net/.default "$TOKEN_URL"
    printf ' %s\n' "$(tr -d '\r' <"$TMP/headers" | sed -n 's/^[Rr]etry-[Aa]fter: //p')"
}

codes=""
for _ in $(seq 1 11); do codes="$codes $(sign_in 127.0.0.1 "$CLIENT" wrong-secret | cut -d' ' -f1)"; done
expect "eleven wrong secrets: 401 each" [ "$codes" = "$(printf ' 401%.0s' $(seq 1 11))" ]
read -r st ra <<<"$(sign_in 127.0.0.1 "$CLIENT" wrong-secret)"
expect "then locked: 429 with Retry-After 1 (got $st $ra)" [ "$st" = 429 -a "$ra" = 1 ]
grep -q '"error":"temporarily_unavailable"' "$TMP/body" && ok "OAuth error temporarily_unavailable" ||
    bad "OAuth error temporarily_unavailable"
read -r st ra <<<"$(sign_in 127.0.0.1 "$CLIENT" "$SECRET")"
expect "locked even with the right secret (got $st)" [ "$st" = 429 ]
read -r st ra <<<"$(sign_in 127.0.0.2 "$CLIENT" "$SECRET")"
expect "the same client from another address signs in (got $st)" [ "$st" = 200 ]
read -r st ra <<<"$(sign_in 127.0.0.1 other-client nope)"
expect "another client from the locked address gets its own answer (got $st)" [ "$st" = 401 ]
sleep 1.2
read -r st ra <<<"$(sign_in 127.0.0.1 "$CLIENT" wrong-secret)"
expect "after the lock, one more failure is checked (got $st)" [ "$st" = 401 ]
read -r st ra <<<"$(sign_in 127.0.0.1 "$CLIENT" wrong-secret)"
expect "and locks for twice as long (got $st $ra)" [ "$st" = 429 -a "$ra" = 2 ]
sleep 2.2
read -r st ra <<<"$(sign_in 127.0.0.1 "$CLIENT" "$SECRET")"
expect "once the lock ends, the right secret signs in (got $st)" [ "$st" = 200 ]
grep -q '"result":"throttled","status":429' "$TMP/vault/audit.log" && ok "vault audit: throttled" ||
    bad "vault audit: throttled"

# ---- coffer-blob ----
BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
ACCOUNT=$(boot "$BLOB_DIR/bootstrap.json" account_name)
BCA=$BLOB_DIR/tls/ca.crt
check "container create" "$CLI" container create box
BAD_SAS="sv=2025-01-05&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D"
get_sas() {  # FROM -> "STATUS CODE RETRY-AFTER"
    curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --cacert "$BCA" --interface "$1" \
        -H "x-ms-version: 2025-01-05" "https://127.0.0.1:$PORT/$ACCOUNT/box/x?$BAD_SAS"
    printf ' %s %s\n' "$(tr -d '\r' <"$TMP/headers" | sed -n 's/^x-ms-error-code: //p')" \
        "$(tr -d '\r' <"$TMP/headers" | sed -n 's/^[Rr]etry-[Aa]fter: //p')"
}
codes=""
for _ in $(seq 1 11); do codes="$codes $(get_sas 127.0.0.1 | cut -d' ' -f1,2 | tr ' ' :)"; done
expect "eleven bad SAS signatures: 403 AuthenticationFailed each" \
    [ "$codes" = "$(printf ' 403:AuthenticationFailed%.0s' $(seq 1 11))" ]
read -r st code ra <<<"$(get_sas 127.0.0.1)"
expect "then locked: 503 ServerBusy, Retry-After 1 (got $st $code $ra)" \
    [ "$st" = 503 -a "$code" = ServerBusy -a "$ra" = 1 ]
grep -q "retry after 1 seconds" "$TMP/body" && ok "the message says when" || bad "the message says when"
read -r st code ra <<<"$(get_sas 127.0.0.2)"
expect "from another address: its own answer (got $st $code)" [ "$st" = 403 ]
check "the CLI (account key) from the locked address is refused meanwhile" bash -c \
    "! '$CLI' blob list --container box"
sleep 1.2
check "once the lock ends, the account key works" "$CLI" blob list --container box
grep -q "sign-in throttled for account $ACCOUNT from 127.0.0.1" "$TMP/server.log" &&
    ok "blob log: throttled" || bad "blob log: throttled"
grep -q '"result":"throttled","status":503' "$BLOB_DIR/audit.log" && ok "blob audit: throttled" ||
    bad "blob audit: throttled"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
