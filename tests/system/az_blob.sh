#!/usr/bin/env bash
# The official Azure CLI (Debian's azure-cli, Python SDK, x-ms-version
# 2021-06-08) against a real coffer-blob over HTTPS: a second client, with
# its own Shared Key and SAS signing, its own transfer sizes (single put up
# to 64 MiB, blocks above; downloads that start with a 32 MiB range).
# Containers, upload (single and blocks), download and compare, list with a
# prefix, properties, metadata, a SAS the CLI signs itself, delete; a wrong
# key refused.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs az, python3, cmp.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
BLOB_DIR=$TMP/blob
start_blob

export AZURE_CONFIG_DIR=$TMP/az AZURE_CORE_COLLECT_TELEMETRY=false AZURE_CORE_NO_COLOR=true
export AZURE_CORE_ONLY_SHOW_ERRORS=true REQUESTS_CA_BUNDLE=$BLOB_DIR/tls/ca.crt
boot() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$BLOB_DIR/bootstrap.json" "$1"; }
CONN=$(boot connection_string)
KEY=$(boot account_key)
export AZURE_STORAGE_CONNECTION_STRING=$CONN
# jq-free JSON reading: python3 EXPR over $TMP/out as d.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/out" 2>/dev/null; }

check "az container create" az storage container create -n azc -o json
expect "created" [ "$(json "d['created']")" = True ]
check "az container list" az storage container list -o json
expect "listed" [ "$(json "[c['name'] for c in d]")" = "['azc']" ]

head -c 1000 /dev/urandom >"$TMP/small.bin"
head -c $((70 * 1024 * 1024)) /dev/urandom >"$TMP/big.bin"
check "az upload small (one Put Blob)" az storage blob upload -c azc -n dir/small.bin -f "$TMP/small.bin" -o none
check "az upload 70 MiB (blocks)" az storage blob upload -c azc -n dir/big.bin -f "$TMP/big.bin" -o none
check "az download small" az storage blob download -c azc -n dir/small.bin -f "$TMP/small.out" -o none
expect "small round trip" cmp -s "$TMP/small.bin" "$TMP/small.out"
check "az download 70 MiB (ranged)" az storage blob download -c azc -n dir/big.bin -f "$TMP/big.out" -o none
expect "70 MiB round trip" cmp -s "$TMP/big.bin" "$TMP/big.out"

check "az list with prefix" az storage blob list -c azc --prefix dir/ -o json
expect "both listed with sizes" \
    [ "$(json "sorted((b['name'], b['properties']['contentLength']) for b in d)")" = \
      "[('dir/big.bin', 73400320), ('dir/small.bin', 1000)]" ]
check "az show" az storage blob show -c azc -n dir/small.bin -o json
expect "show: server-encrypted, block blob, length" \
    [ "$(json "(d['properties']['serverEncrypted'], d['properties']['blobType'], d['properties']['contentLength'])")" = \
      "(True, 'BlockBlob', 1000)" ]
check "az metadata update" az storage blob metadata update -c azc -n dir/small.bin --metadata team=coffer -o none
check "az metadata show" az storage blob metadata show -c azc -n dir/small.bin -o json
expect "metadata round trip" [ "$(json "d['team']")" = coffer ]

# A SAS the Python SDK signs: read-only, one hour; reads work, writes fail.
EXP=$(date -u -d '+1 hour' '+%Y-%m-%dT%H:%MZ')
check "az generate-sas" az storage blob generate-sas -c azc -n dir/small.bin --permissions r \
    --expiry "$EXP" --https-only -o tsv
SAS=$(cat "$TMP/out")
URL=$(boot blob_endpoint)/azc/dir/small.bin
check "curl with the CLI's SAS" curl -sf --cacert "$REQUESTS_CA_BUNDLE" -o "$TMP/sas.out" "$URL?$SAS"
expect "SAS download matches" cmp -s "$TMP/small.bin" "$TMP/sas.out"
check_rc "write with the read-only SAS refused" 22 curl -sf --cacert "$REQUESTS_CA_BUNDLE" -X PUT \
    -H 'x-ms-blob-type: BlockBlob' --data-binary x "$URL?$SAS"

# A wrong key: the CLI reports the failure.
BAD=$(python3 -c 'import base64; print(base64.b64encode(bytes(64)).decode())')
check_rc "wrong key refused" 1 env AZURE_STORAGE_CONNECTION_STRING="${CONN/$KEY/$BAD}" \
    az storage blob list -c azc -o none
grep -q "Authentication failure\|AuthenticationFailed" "$TMP/err" &&
    ok "wrong key: authentication error reported" || bad "wrong key: authentication error reported"

check "az delete blob" az storage blob delete -c azc -n dir/big.bin -o none
check "az list after delete" az storage blob list -c azc -o json
expect "one left" [ "$(json "[b['name'] for b in d]")" = "['dir/small.bin']" ]
check "az container delete" az storage container delete -n azc -o json
expect "deleted" [ "$(json "d['deleted']")" = True ]

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
