#!/usr/bin/env bash
# End-to-end test of `coffer blob` and `coffer container` against a real
# coffer-blob on a loopback port: container create/list/delete, blob
# upload (single Put Blob and the 8 MiB block path), download (to a file and
# to stdout), list (with paging and a prefix), show, delete; the connection
# from COFFER_BLOB_DIR, --blob-dir, --connection-string and
# AZURE_STORAGE_CONNECTION_STRING; Azure errors (exit 1, code on stderr),
# usage errors (exit 2); and --output json parsed with python3.
#
# It sources lib/base.sh, not lib/common.sh, which starts a coffer-vault
# this test does not need.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, curl, python3, cmp.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$TMP/blob

has() { grep -q -- "$1" "$TMP/out"; }
has_err() { grep -Eq -- "$1" "$TMP/err"; }
# json EXPR: evaluates EXPR with d = the JSON document in $TMP/out.
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/out" 2>/dev/null; }
boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
    "$TMP/blob/bootstrap.json" "$1"; }

# ---- containers ----
check "container create" "$CLI" container create box1
has "created container box1" && ok "create says so" || bad "create says so"
check "container create json" "$CLI" container create box2 --output json
expect "create json: name and etag" [ "$(json "d['name'], bool(d['etag'])")" = "box2 True" ]
check_rc "container create again: exit 1" 1 "$CLI" container create box1
has_err "^coffer: ContainerAlreadyExists: " && ok "ContainerAlreadyExists on stderr" ||
    bad "ContainerAlreadyExists on stderr"
check "container list" "$CLI" container list
has "^LAST MODIFIED  *NAME" && has " box1$" && has " box2$" && ok "list table" || bad "list table"
check "container list json, page size 1" "$CLI" container list --page-size 1 --output json
expect "container list json pages through both" \
    [ "$(json "sorted(c['name'] for c in d if c['name'] in ('box1','box2'))")" = "['box1', 'box2']" ]
check "container list --prefix" "$CLI" container list --prefix box2 --output json
expect "prefix keeps only box2" [ "$(json "[c['name'] for c in d]")" = "['box2']" ]

# ---- small blob: single Put Blob ----
head -c 5000000 /dev/urandom >"$TMP/small.bin"
check "upload small" "$CLI" blob upload "$TMP/small.bin" --container box1 --name dir/small.bin \
    --content-type text/plain --metadata owner=test,n=1
has "^uploaded box1/dir/small.bin (5000000 bytes" && ok "upload summary" || bad "upload summary"
check_rc "upload again without --overwrite: exit 1" 1 \
    "$CLI" blob upload "$TMP/small.bin" --container box1 --name dir/small.bin
has_err "^coffer: BlobAlreadyExists: " && ok "BlobAlreadyExists on stderr" ||
    bad "BlobAlreadyExists on stderr"
check "upload --overwrite json" "$CLI" blob upload "$TMP/small.bin" --container box1 \
    --name dir/small.bin --content-type text/plain --metadata owner=test,n=1 --overwrite \
    --output json
expect "upload json: size, blocks 0, etag" \
    [ "$(json "d['size'], d['blocks'], bool(d['etag'])")" = "5000000 0 True" ]
check "show" "$CLI" blob show --container box1 --name dir/small.bin
has "^size: *5000000$" && has "^blob_type: *BlockBlob$" && has "^content_type: *text/plain$" &&
    has "^server_encrypted: *true$" && has "owner=test" && ok "show fields" || bad "show fields"
check "show json" "$CLI" blob show --container box1 --name dir/small.bin --output json
expect "show json: size, type, metadata" \
    [ "$(json "d['size'], d['blob_type'], d['metadata'] == {'owner': 'test', 'n': '1'}")" = \
        "5000000 BlockBlob True" ]
expect "show json: md5 of a Put Blob" [ "$(json "bool(d['content_md5'])")" = True ]
check "download small" "$CLI" blob download --container box1 --name dir/small.bin \
    --file "$TMP/small.out"
expect "small round trip" cmp -s "$TMP/small.bin" "$TMP/small.out"
expect "no .part left" [ ! -e "$TMP/small.out.part" ]

# ---- 100 MiB: Put Block + Put Block List, streamed ----
head -c $((100 * 1024 * 1024 + 4321)) /dev/urandom >"$TMP/big.bin"
check "upload 100 MiB json" "$CLI" blob upload "$TMP/big.bin" --container box1 --output json
expect "upload 100 MiB in 13 blocks of 8 MiB" [ "$(json "d['name'], d['blocks']")" = "big.bin 13" ]
check "download 100 MiB json" "$CLI" blob download --container box1 --name big.bin \
    --file "$TMP/big.out" --output json
expect "download json: size" [ "$(json "d['size']")" = $((100 * 1024 * 1024 + 4321)) ]
expect "100 MiB round trip" cmp -s "$TMP/big.bin" "$TMP/big.out"
rm -f "$TMP/big.out"
"$CLI" blob download --container box1 --name big.bin --file - 2>"$TMP/err" >"$TMP/big.out" &&
    cmp -s "$TMP/big.bin" "$TMP/big.out" && ok "download to stdout" || bad "download to stdout"
has_err "^downloaded box1/big.bin to stdout" && ok "stdout download: summary on stderr" ||
    bad "stdout download: summary on stderr"
if [ -x /usr/bin/time ]; then
    # ASan's quarantine keeps freed blocks resident; off for this measurement.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" \
        /usr/bin/time -f '%M' -o "$TMP/rss" "$CLI" blob upload "$TMP/big.bin" --container box1 \
        --name big2.bin >/dev/null 2>&1 || true
    expect "100 MiB upload stays under 64 MiB RSS" [ "$(tail -1 "$TMP/rss")" -lt 65536 ]
    "$CLI" blob delete --container box1 --name big2.bin >/dev/null 2>&1 || true
fi
rm -f "$TMP/big.bin" "$TMP/big.out"

# ---- list ----
check "blob list" "$CLI" blob list --container box1
has "^ *SIZE  *LAST MODIFIED  *NAME" && has " big.bin$" && has " dir/small.bin$" &&
    ok "blob list table" || bad "blob list table"
check "blob list json, page size 1" "$CLI" blob list --container box1 --page-size 1 --output json
expect "blob list json pages through all" \
    [ "$(json "sorted(b['name'] for b in d)")" = "['big.bin', 'dir/small.bin']" ]
check "blob list --prefix" "$CLI" blob list --container box1 --prefix dir/ --output json
expect "prefix keeps dir/small.bin" \
    [ "$(json "[(b['name'], b['size'], b['blob_type']) for b in d]")" = \
        "[('dir/small.bin', 5000000, 'BlockBlob')]" ]

# ---- connection sources ----
CS=$(boot connection_string)
CA=$(boot ca_cert)
check "--blob-dir" env -u COFFER_BLOB_DIR "$CLI" container list --blob-dir "$TMP/blob"
AZURE_STORAGE_CONNECTION_STRING=$CS check "AZURE_STORAGE_CONNECTION_STRING + --ca-file" \
    env -u COFFER_BLOB_DIR "$CLI" blob list --container box1 --ca-file "$CA"
check "--connection-string + COFFER_CA_CERT" env -u COFFER_BLOB_DIR COFFER_CA_CERT="$CA" \
    "$CLI" --connection-string "$CS" blob show --container box1 --name big.bin
WRONG=$(python3 -c "import base64,os,sys; print(sys.argv[1].split('AccountKey=')[0] + 'AccountKey=' + base64.b64encode(os.urandom(64)).decode() + ';' + sys.argv[1].split('AccountKey=')[1].split(';',1)[1])" "$CS")
check_rc "wrong account key: exit 1" 1 env -u COFFER_BLOB_DIR COFFER_CA_CERT="$CA" \
    "$CLI" --connection-string "$WRONG" container list
has_err "^coffer: (AuthenticationFailed|AuthorizationFailure): .*\(HTTP 403\)" &&
    ok "auth failure on stderr" || bad "auth failure on stderr"
check_rc "untrusted CA: exit 1" 1 env -u COFFER_BLOB_DIR "$CLI" --connection-string "$CS" \
    container list
check_rc "no connection: exit 2" 2 env -u COFFER_BLOB_DIR "$CLI" container list

# ---- errors ----
check_rc "download missing blob: exit 1" 1 "$CLI" blob download --container box1 --name nope \
    --file "$TMP/nope.out"
has_err "^coffer: BlobNotFound: The specified blob does not exist\." && ok "BlobNotFound message" ||
    bad "BlobNotFound message"
expect "failed download leaves no file" [ ! -e "$TMP/nope.out" -a ! -e "$TMP/nope.out.part" ]
check_rc "show missing blob: exit 1" 1 "$CLI" blob show --container box1 --name nope
has_err "^coffer: BlobNotFound: " && ok "show: BlobNotFound" || bad "show: BlobNotFound"
check_rc "list missing container: exit 1" 1 "$CLI" blob list --container nocontainer
has_err "^coffer: ContainerNotFound: " && ok "ContainerNotFound" || bad "ContainerNotFound"
check_rc "delete missing blob: exit 1" 1 "$CLI" blob delete --container box1 --name nope
check_rc "upload: missing --container: exit 2" 2 "$CLI" blob upload "$TMP/small.bin"
check_rc "upload: no file argument: exit 2" 2 "$CLI" blob upload --container box1
check_rc "upload: invalid container name: exit 2" 2 "$CLI" blob upload "$TMP/small.bin" \
    --container Bad_Name
check_rc "download: missing --name: exit 2" 2 "$CLI" blob download --container box1
check_rc "unknown option: exit 2" 2 "$CLI" blob list --container box1 --bogus x
check_rc "bad --page-size: exit 2" 2 "$CLI" blob list --container box1 --page-size 0
check_rc "bad --metadata: exit 2" 2 "$CLI" blob upload "$TMP/small.bin" --container box1 \
    --metadata "no-dash=1"
check_rc "json to stdout with --file -: exit 2" 2 "$CLI" blob download --container box1 \
    --name big.bin --file - --output json
check_rc "upload a missing file: exit 1" 1 "$CLI" blob upload "$TMP/missing" --container box1

# ---- delete ----
check "blob delete json" "$CLI" blob delete --container box1 --name dir/small.bin --output json
expect "delete json" [ "$(json "d['deleted'], d['name']")" = "True dir/small.bin" ]
check_rc "show after delete: exit 1" 1 "$CLI" blob show --container box1 --name dir/small.bin
check "blob delete" "$CLI" blob delete --container box1 --name big.bin
has "^deleted box1/big.bin$" && ok "delete says so" || bad "delete says so"
check "container delete" "$CLI" container delete box1
check "container delete json" "$CLI" container delete box2 --output json
expect "container delete json" [ "$(json "d['deleted']")" = True ]
check "container list after delete" "$CLI" container list --output json
expect "containers gone" [ "$(json "[c['name'] for c in d if c['name'] in ('box1','box2')]")" = "[]" ]

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
