#!/usr/bin/env bash
# coffer-disk end to end, as a user runs it: a coffer-vault, a coffer-blob,
# `coffer disk create` with a disk-encryption key in the vault, `coffer disk
# attach` serving it through nbdkit, and libnbd's tools, qemu-img, e2fsprogs
# and cryptsetup as the clients (no kernel NBD module):
#   1. an ext4 image made with mke2fs -d written through NBD, read back
#      byte-exact, e2fsck clean; qemu-img sees the same disk;
#   2. random reads and writes (aligned and not) against a shadow copy;
#      trim and zero read back as zeros;
#   3. SIGKILL of the plugin's nbdkit and of coffer-blob during writes:
#      after restarts every flushed write is there and the file system
#      checks clean;
#   4. no plaintext sector anywhere in coffer-blob's data directory, nor in
#      what coffer-blob itself serves (it sees only XTS ciphertext);
#   5. the disk-encryption key disabled: I/O fails within the cache
#      period and the disk refuses to attach; enabled again: I/O resumes;
#      rotation re-wraps the volume key under the new version, after which
#      the old version can be disabled;
#   6. a luks2 disk: its key file from the vault opens the LUKS header
#      written through NBD; list, show, resize and delete.
#
# Env: COFFER_BIN=<build>/bin (set by CTest); COFFER_RELEASE_BIN for the
# plugin, which only the unsanitized build makes.  Needs nbdkit, libnbd's
# tools (nbdcopy, nbdinfo, nbdsh), qemu-img, e2fsprogs, cryptsetup
# (scripts/install-deps).
set -euo pipefail

. "$(dirname "$0")/lib/common.sh"
VAULT_PID=$SERVER_PID
VAULT_URL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vault_url"])' \
    "$COFFER_BOOTSTRAP")
export COFFER_DISK_PLUGIN
COFFER_DISK_PLUGIN=$(cd "${COFFER_RELEASE_BIN:-$BIN}/.." && pwd)/lib/nbdkit-coffer-plugin.so
[ -f "$COFFER_DISK_PLUGIN" ] || { echo "no plugin at $COFFER_DISK_PLUGIN"; exit 1; }

BLOB_DIR=$TMP/blob
start_blob
BLOB_PID=$SERVER_PID
BLOB_PORT=$PORT
SERVER_PID=$VAULT_PID
export COFFER_BLOB_DIR=$BLOB_DIR
MARK=CofferDiskMarker-$RANDOM$RANDOM
MiB=$((1024 * 1024))
# nbdsh is `python3 -m nbd`: Debian's python3, where the module lives,
# whatever python3 comes first on PATH.
nbdsh() { /usr/bin/python3 -m nbd "$@"; }

# attach NAME: serves the disk on $TMP/NAME.sock in the background (DISK_PID).
attach() {
    rm -f "$TMP/$1.sock"
    "$CLI" disk attach "$1" --socket "$TMP/$1.sock" --cache-seconds 2 "${@:2}" \
        >>"$TMP/nbdkit.log" 2>&1 &
    DISK_PID=$!
    for _ in $(seq 1 100); do
        [ -S "$TMP/$1.sock" ] && return 0
        kill -0 "$DISK_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
detach() { kill -"${1:-TERM}" "$DISK_PID" 2>/dev/null || true; wait "$DISK_PID" 2>/dev/null || true; }
uri() { echo "nbd+unix:///?socket=$TMP/$1.sock"; }
# holds_fs NAME: the disk's first 32 MiB are the file system image.
holds_fs() { nbdcopy "$(uri "$1")" "$TMP/check.img" && cmp -n $((32 * MiB)) "$TMP/fs.img" "$TMP/check.img"; }
restart_blob() {
    for _ in $(seq 1 50); do
        launch "$BLOB_PORT" blob_ready "$BIN/coffer-blob" --data-dir "$BLOB_DIR" \
            --listen "127.0.0.1:$BLOB_PORT" --log-level info && { BLOB_PID=$SERVER_PID; SERVER_PID=$VAULT_PID; return 0; }
        sleep 0.2
    done
    return 1
}

check "a disk-encryption key (RSA) in the vault" "$CLI" key create des1 --kty RSA --size 2048
check "disk create d1 (64 MiB, xts-aes-256)" "$CLI" disk create d1 --size 64M \
    --des "$VAULT_URL/keys/des1"
check_rc "disk create d1 again: refused, the disk kept" 1 "$CLI" disk create d1 --size 64M \
    --des "$VAULT_URL/keys/des1"
check_rc "a size not a whole number of sectors: usage error" 2 "$CLI" disk create odd \
    --size 1000 --des "$VAULT_URL/keys/des1"
check "attach d1 on a unix socket" attach d1
expect "nbdinfo sees 64 MiB" [ "$(nbdinfo --size "$(uri d1)")" = $((64 * MiB)) ]

echo "# 1. a file system through NBD"
mkdir -p "$TMP/tree/sub"
for i in $(seq 1 40); do
    { echo "$MARK file $i"; head -c $((i * 7919)) /dev/urandom; echo "$MARK end"; } \
        >"$TMP/tree/sub/f$i"
done
check "mke2fs -d: a 32 MiB ext4 image of the tree" mke2fs -q -F -t ext4 -d "$TMP/tree" \
    "$TMP/fs.img" 32M
check "nbdcopy the image onto the disk (flushed)" nbdcopy --flush "$TMP/fs.img" "$(uri d1)"
check "nbdcopy the disk back" nbdcopy "$(uri d1)" "$TMP/back.img"
expect "  the first 32 MiB byte-exact" cmp -n $((32 * MiB)) "$TMP/fs.img" "$TMP/back.img"
expect "  the rest reads as zeros" cmp -n $((32 * MiB)) -i $((32 * MiB)):0 "$TMP/back.img" /dev/zero
truncate -s 32M "$TMP/back.img"
check "  e2fsck -fn clean" e2fsck -fn "$TMP/back.img"
check "qemu-img compare: the disk holds the image" qemu-img compare -f raw -F raw "$TMP/fs.img" \
    "$(uri d1)"

echo "# 2. random I/O against a shadow copy, trim and zero"
cat >"$TMP/random.py" <<'EOF'
import os, random
size = h.get_size()
shadow = bytearray(h.pread(size, 0))
rnd = random.Random(int(os.environ["SEED"]))
for i in range(400):
    n = rnd.choice([512, 4096, 65536, 3 * 4096, rnd.randrange(1, 200000)])
    off = rnd.randrange(0, size - n)
    if rnd.random() < 0.5:
        off -= off % 4096
    if rnd.random() < 0.6:
        data = os.urandom(n)
        h.pwrite(data, off)
        shadow[off:off + n] = data
    else:
        assert h.pread(n, off) == shadow[off:off + n], "read at %d+%d" % (off, n)
for kind in ("trim", "zero"):
    n, off = 3 * 65536, rnd.randrange(0, size // 4096 - 64) * 4096
    getattr(h, kind)(n, off)
    shadow[off:off + n] = bytes(n)
h.flush()
assert h.pread(size, 0) == shadow, "the whole disk differs from the shadow"
open(os.environ["SHADOW"], "wb").write(shadow)
EOF
SEED=1 SHADOW="$TMP/shadow" \
    check "400 random reads and writes, trim, zero, flush: as the shadow" nbdsh -u "$(uri d1)" -c "exec(open('$TMP/random.py').read())"

echo "# 3. SIGKILL of nbdkit and of coffer-blob"
detach KILL
check "attach d1 again after SIGKILL" attach d1
check "  every flushed write is there" nbdcopy "$(uri d1)" "$TMP/after.img"
expect "  the disk equals the shadow" cmp "$TMP/shadow" "$TMP/after.img"
cat >"$TMP/writer.py" <<'EOF'
import os
size, n = h.get_size(), 0
log = open(os.environ["LOG"], "w")
while True:
    off = (32 << 20) + (n * 65536) % (size - (32 << 20))
    h.pwrite(bytes([n % 251 + 1]) * 65536, off)
    n += 1
    if n % 8 == 0:
        h.flush()
        log.write("%d\n" % n)
        log.flush()
EOF
# The batch after the last flush was in flight at the kill: its writes may
# or may not have landed (each Put Page whole or not at all), so a slot it
# wrote holds its data or the slot's flushed data before it.
cat >"$TMP/verify.py" <<'EOF'
import os
size, flushed = h.get_size(), int(os.environ["FLUSHED"])
slot = lambda n: (32 << 20) + (n * 65536) % (size - (32 << 20))
allowed = {}
for n in range(flushed):
    allowed[slot(n)] = {n}
for n in range(flushed, flushed + 8):
    if slot(n) in allowed:  # else its old content is not this writer's to know
        allowed[slot(n)].add(n)
for off, ns in allowed.items():
    got = h.pread(65536, off)
    assert any(got == bytes([n % 251 + 1]) * 65536 for n in ns), \
        "flushed write %d lost: %d distinct bytes, first %d" % (max(ns), len(set(got)), got[0])
EOF
# kill_during_writes VICTIM: the writer runs past the file system, VICTIM
# (disk: the plugin's nbdkit; blob: coffer-blob) is SIGKILLed, both are
# back, every write flushed before the kill is there, and the file system
# reads back byte-exact and checks clean.
kill_during_writes() {
    rm -f "$TMP/flushed"
    LOG="$TMP/flushed" nbdsh -u "$(uri d1)" -c "exec(open('$TMP/writer.py').read())" \
        >"$TMP/writer.out" 2>&1 &
    local writer=$! flushed
    sleep 2
    if [ "$1" = blob ]; then
        kill -KILL "$BLOB_PID"
        wait "$BLOB_PID" 2>/dev/null || true
    else
        detach KILL
    fi
    wait "$writer" 2>/dev/null || true
    flushed=$(tail -1 "$TMP/flushed" 2>/dev/null || echo 0)
    expect "$1 killed: the writer had flushed $flushed writes, then failed" [ "$flushed" -gt 0 ]
    if [ "$1" = blob ]; then
        check "  restart coffer-blob on its port" restart_blob
        detach KILL
    fi
    check "  attach d1 again" attach d1
    FLUSHED="$flushed" check "  every write flushed before the kill is there" \
        nbdsh -u "$(uri d1)" -c "exec(open('$TMP/verify.py').read())"
    check "  the file system reads back" nbdcopy "$(uri d1)" "$TMP/back2.img"
    truncate -s 32M "$TMP/back2.img"
    expect "  byte-exact" cmp "$TMP/fs.img" "$TMP/back2.img"
    check "  e2fsck -fn clean" e2fsck -fn "$TMP/back2.img"
}
check "the file system image onto the disk again (flushed)" nbdcopy --flush "$TMP/fs.img" \
    "$(uri d1)"
kill_during_writes disk
kill_during_writes blob

echo "# 4. no plaintext at rest, none served by coffer-blob"
check "nbdcopy the file system image once more (flushed)" nbdcopy --flush "$TMP/fs.img" "$(uri d1)"
if grep -rqa "$MARK" "$BLOB_DIR"; then bad "the marker is in coffer-blob's data directory"; else
    ok "the marker appears nowhere in coffer-blob's data directory"; fi
check "download the page blob as coffer-blob serves it" "$CLI" blob download --container disks \
    --name d1 --file "$TMP/served.img"
if grep -qa "$MARK" "$TMP/served.img"; then bad "coffer-blob serves plaintext sectors"; else
    ok "coffer-blob serves only ciphertext (XTS) sectors"; fi
expect "  which is not the image" test "$(cmp -n 4096 "$TMP/served.img" "$TMP/fs.img" | wc -l)" = 1

echo "# 5. revocation and rotation of the disk-encryption key"
check "disable des1" "$CLI" key update des1 --disable
sleep 3
check_rc "  within the cache period, a read fails" 1 nbdsh -u "$(uri d1)" -c 'h.pread(4096, 0)'
detach
check_rc "  and the disk refuses to attach" 1 attach d1
check "enable des1 again" "$CLI" key update des1 --enable
check "  the disk attaches" attach d1
check "  and reads" nbdsh -u "$(uri d1)" -c 'h.pread(4096, 0)'
OLD_KID=$("$CLI" disk show d1 | awk '$1 == "key" {print $2}')
check "rotate des1 (a new version)" "$CLI" key rotate des1
check "disk rotate-key d1: the volume key re-wrapped" "$CLI" disk rotate-key d1
NEW_KID=$("$CLI" disk show d1 | awk '$1 == "key" {print $2}')
expect "  under the new version" [ -n "$NEW_KID" ] && [ "$NEW_KID" != "$OLD_KID" ]
check "disable the old version" "$CLI" key update des1 --version "${OLD_KID##*/}" --disable
detach
check "  the disk still attaches" attach d1
check "  and holds the file system" holds_fs d1
detach

echo "# 6. luks2, and the other commands"
check "disk create l1 (luks2, 512-byte sectors)" "$CLI" disk create l1 --size 16M --sector 512 \
    --des "$VAULT_URL/keys/des1" --luks2
check "disk luks-key l1 --out FILE" "$CLI" disk luks-key l1 --out "$TMP/l1.key"
check_rc "disk create l1 again: refused" 1 "$CLI" disk create l1 --size 16M --sector 512 \
    --des "$VAULT_URL/keys/des1" --luks2
check "  its key file unchanged" cmp <("$CLI" disk luks-key l1) "$TMP/l1.key"
check "disk rotate-key l1 (its secret re-wrapped)" "$CLI" disk rotate-key l1
check "  the same key file comes back" cmp <("$CLI" disk luks-key l1) "$TMP/l1.key"
expect "  a 64-byte key file, mode 600" [ "$(stat -c %s:%a "$TMP/l1.key")" = 64:600 ]
check_rc "  not over an existing file" 1 "$CLI" disk luks-key l1 --out "$TMP/l1.key"
check_rc "disk luks-key of an xts disk: usage error" 2 "$CLI" disk luks-key d1
truncate -s 16M "$TMP/luks.img"
check "cryptsetup luksFormat a local image with that key file" cryptsetup luksFormat -q \
    --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file "$TMP/l1.key" \
    "$TMP/luks.img"
check "attach l1" attach l1
check "nbdcopy the LUKS image onto l1" nbdcopy --flush "$TMP/luks.img" "$(uri l1)"
check "nbdcopy it back" nbdcopy "$(uri l1)" "$TMP/luks.back"
check "  the key file from the vault opens it" cryptsetup open --test-passphrase \
    --key-file "$TMP/l1.key" "$TMP/luks.back"
head -c 64 /dev/urandom >"$TMP/wrong.key"
check_rc "  another key file does not" 2 cryptsetup open --test-passphrase \
    --key-file "$TMP/wrong.key" "$TMP/luks.back"
detach
"$CLI" disk list >"$TMP/list" 2>&1 || true
expect "disk list names d1 and l1" grep -q '^d1 .*xts-aes-256' "$TMP/list"
expect "  (l1 as luks2)" grep -q '^l1 .*luks2' "$TMP/list"
check "disk resize d1 --size 128M" "$CLI" disk resize d1 --size 128M
check "  attach" attach d1
expect "  nbdinfo sees 128 MiB" [ "$(nbdinfo --size "$(uri d1)")" = $((128 * MiB)) ]
check "  the file system is still there" holds_fs d1
check "a write with no flush, then the client goes away" nbdsh -u "$(uri d1)" \
    -c 'h.pwrite(b"Z" * 8192, 100 << 20)'
detach
check "  attach d1 again" attach d1
check "  the write was sent when the client left" nbdsh -u "$(uri d1)" \
    -c 'assert h.pread(8192, 100 << 20) == b"Z" * 8192'
detach
check "disk delete l1" "$CLI" disk delete l1
check_rc "  its key secret went with it" 1 "$CLI" secret show coffer-disk-5-disks-l1
check_rc "  and it is gone" 1 "$CLI" disk show l1

kill -TERM "$BLOB_PID" 2>/dev/null || true
wait "$BLOB_PID" 2>/dev/null || true
echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
