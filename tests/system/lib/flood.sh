# Connection floods (sourced after base.sh or common.sh): each function sets
# up what a legitimate client needs on the running server, runs
# tests/system/conn_flood.c against it with any extra options given, and
# records whether it passed and whether the server still runs.
#
# Env: COFFER_SOURCE (set by CTest), for the SDK's SAS helper.
[ -d "$COFFER_SOURCE/.cache/node/bin" ] && export PATH="$COFFER_SOURCE/.cache/node/bin:$PATH"

# flood_vault LABEL [conn_flood options]: the vault on $PORT ($COFFER_BOOTSTRAP);
# the legitimate client reads a secret with a bearer token.
flood_vault() {
    local label=$1; shift
    printf 'flood-value' >"$TMP/v"
    check "$label: a secret" "$CLI" secret set flood-secret --file "$TMP/v"
    local token ca
    token=$(vault_token "$COFFER_BOOTSTRAP")
    ca=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ca_cert'])" "$COFFER_BOOTSTRAP")
    "$BIN/conn_flood" "$@" --ca "$ca" --put-path "/secrets/flood-up?api-version=7.5" \
        127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/secrets/flood-secret?api-version=7.5" \
        "Authorization: Bearer $token" | tee "$TMP/$label.flood"
    flood_judged "$label"
}

# flood_blob LABEL [conn_flood options]: coffer-blob on $PORT ($BLOB_DIR);
# the legitimate client reads a 1 KiB blob through an account SAS.
flood_blob() {
    local label=$1; shift
    local boot="$BLOB_DIR/bootstrap.json" account sas
    account=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['account_name'])" "$boot")
    check "$label: container create" "$CLI" container create flood
    head -c 1024 /dev/urandom >"$TMP/one.bin"
    check "$label: a 1 KiB blob" "$CLI" blob upload "$TMP/one.bin" --container flood --name one
    sas=$(node "$COFFER_SOURCE/tests/sdk/lib/account_sas.cjs" \
        "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['connection_string'])" "$boot")")
    "$BIN/conn_flood" "$@" --ca "$BLOB_DIR/tls/ca.crt" --put-path "/$account/flood/up" \
        127.0.0.1 "$PORT" "$SERVER_PID" "https://127.0.0.1:$PORT/$account/flood/one?$sas" \
        "x-ms-version: 2025-01-05" | tee "$TMP/$label.flood"
    flood_judged "$label"
}

flood_judged() {
    grep -q '^PASS$' "$TMP/$1.flood" && ok "$1: served through the flood" ||
        bad "$1: served through the flood"
    kill -0 "$SERVER_PID" && ok "$1: still running" || bad "$1: still running"
}
