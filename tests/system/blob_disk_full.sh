#!/usr/bin/env bash
# coffer-blob on a full disk: its data directory on a 24 MiB tmpfs.  A body
# larger than the free space, and then any write once a filler file has
# taken the rest (a file extent and an inline one, which goes to SQLite),
# must fail with 507 InsufficientStorage (the CLI exits 1 and says so),
# leave nothing behind, log the cause, and keep reads working; once space
# is freed, writes work again with no restart.
#
# Needs root for the tmpfs mount; exits 77 (CTest: skipped) when the mount
# is not allowed here.  Env: COFFER_BIN=<build>/bin (set by CTest).
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
MNT=$TMP/full
with_tmpfs "$MNT" 24m

BLOB_DIR=$MNT/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
has_err() { grep -Eq -- "$1" "$TMP/err"; }

head -c 100000 /dev/urandom >"$TMP/small.bin"
head -c 1000 /dev/urandom >"$TMP/tiny.bin"
head -c 40000000 /dev/urandom >"$TMP/big.bin"
check "container create" "$CLI" container create box
check "a small upload fits" "$CLI" blob upload "$TMP/small.bin" --container box

check_rc "an upload larger than the disk: exit 1" 1 "$CLI" blob upload "$TMP/big.bin" --container box
has_err "InsufficientStorage: .*disk is full.*HTTP 507" && ok "507 InsufficientStorage" ||
    bad "507 InsufficientStorage"
check_rc "nothing of it is visible" 1 "$CLI" blob show --container box --name big.bin
expect "no temporary files left" [ -z "$(find "$BLOB_DIR/extents" -name '*.tmp' 2>/dev/null)" ]
grep -q "disk full: " "$TMP/server.log" && ok "the log says why" || bad "the log says why"

# Take every byte that is left.
dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
check_rc "a file-sized write on a full disk: exit 1" 1 "$CLI" blob upload "$TMP/small.bin" --container box --name s2
has_err "InsufficientStorage" && ok "file extent: InsufficientStorage" || bad "file extent: InsufficientStorage"
check_rc "an inline write on a full disk: exit 1" 1 "$CLI" blob upload "$TMP/tiny.bin" --container box --name t2
has_err "InsufficientStorage" && ok "inline write refused" || { cat "$TMP/err"; tail -3 "$TMP/server.log"; bad "inline write refused"; }
check "reads go on" "$CLI" blob download --container box --name small.bin --file "$TMP/out.bin"
expect "and return the data" cmp -s "$TMP/small.bin" "$TMP/out.bin"
check "listing goes on" "$CLI" blob list --container box

rm -f "$MNT/filler"
check "writes resume once space is freed" "$CLI" blob upload "$TMP/small.bin" --container box --name s3
check "and read back" "$CLI" blob download --container box --name s3 --file "$TMP/out3.bin"
expect "intact" cmp -s "$TMP/small.bin" "$TMP/out3.bin"

echo "blob_disk_full: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
