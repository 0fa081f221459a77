#!/usr/bin/env bash
# Client-side encryption interoperability with the official Python SDK as
# Debian packages it (python3-azure-storage, azure.storage.blob 12.15.0b1),
# offline: no server, the SDK's own encryption functions on files.
#
#   Coffer -> SDK: tests/system/cse_interop.c (libcoffer's cse.h) encrypts
#   with a fresh random content key; the SDK's decrypt_blob decrypts, whole
#   and for ranges mapped by the SDK's own range arithmetic.
#   SDK -> Coffer: the SDK's encrypt_blob (fresh random keys); the driver
#   decrypts whole and ranged.
#
# Sizes: empty, 1 byte, one region (4 MiB), one region + 1, several
# regions; KEKs: A256KW (raw AES-256) and RSA-OAEP (RSA-2048 PEM).  Then
# refusals of a tampered body and a wrong KEK, and 1.0 read with a warning.
#
# Env: COFFER_BIN=<build>/bin, COFFER_SOURCE (set by CTest).  Needs
# /usr/bin/python3 with python3-azure-storage.
set -euo pipefail
source "$(dirname "$0")/lib/base.sh"
SRC=${COFFER_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
DRIVER=$BIN/../tests/cse_interop
PY=/usr/bin/python3
if ! $PY -c 'import azure.storage.blob._encryption' 2>/dev/null; then
    echo "the Python SDK (python3-azure-storage) is missing: scripts/install-deps installs it"
    exit 1
fi
[ -x "$DRIVER" ] || { echo "missing $DRIVER (build target cse_interop)"; exit 1; }
MIB=$((1024 * 1024))
SIZES="0 1 $((4 * MIB)) $((4 * MIB + 1)) $((9 * MIB + 3))"

head -c 32 /dev/urandom >"$TMP/aes.key"
cp "$SRC/tests/unit/vectors/cse_rsa_kek.pem" "$TMP/rsa.pem"

# The SDK side: its own encrypt_blob / decrypt_blob (tests/system/lib/cse_sdk.py).
SDK=$(dirname "$0")/lib/cse_sdk.py
sdk() { # encrypt KEY KID PLAIN BODY META [VERSION] | decrypt KEY KID META BODY OUT [OFF LEN]
    local op=$1 key=$2 kid=$3
    shift 3
    if [ "$op" = encrypt ]; then
        $PY "$SDK" encrypt --kek "file:$key" --kid "$kid" --file "$1" --body "$2" --meta "$3" \
            ${4:+--version "$4"}
    else
        $PY "$SDK" decrypt --kek "file:$key" --kid "$kid" --meta "$1" --body "$2" --file "$3" \
            ${4:+--offset "$4" --length "$5"}
    fi
}

# same FILE_A FILE_B [OFF LEN]: B equals A, or A's bytes [OFF, OFF+LEN).
same() {
    if [ $# -eq 2 ]; then cmp -s "$1" "$2"; return; fi
    # (a process substitution: head closing early must not fail a pipefail pipe)
    cmp -s <(tail -c +"$(($3 + 1))" "$1" | head -c "$4") "$2"
}

for kek in aes rsa; do
    keyfile=$TMP/$kek.key
    [ $kek = rsa ] && keyfile=$TMP/rsa.pem
    kid="local:interop-$kek"
    for size in $SIZES; do
        head -c "$size" /dev/urandom >"$TMP/plain"
        # ---- Coffer writes, the SDK reads ----
        check "$kek $size: coffer encrypts" "$DRIVER" encrypt "$keyfile" "$kid" $((4 * MIB)) \
            "$TMP/plain" "$TMP/c.body" "$TMP/c.meta"
        check "$kek $size: the SDK decrypts it" sdk decrypt "$keyfile" "$kid" "$TMP/c.meta" \
            "$TMP/c.body" "$TMP/c.out"
        expect "$kek $size:   to the plaintext" same "$TMP/plain" "$TMP/c.out"
        # ---- the SDK writes, Coffer reads ----
        check "$kek $size: the SDK encrypts" sdk encrypt "$keyfile" "$kid" "$TMP/plain" \
            "$TMP/s.body" "$TMP/s.meta"
        check "$kek $size: coffer decrypts it" "$DRIVER" decrypt "$keyfile" "$TMP/s.meta" \
            "$TMP/s.body" "$TMP/s.out"
        expect "$kek $size:   to the plaintext" same "$TMP/plain" "$TMP/s.out"
        [ "$size" -gt $((4 * MIB)) ] || continue
        # ranges across region boundaries, both directions
        for range in "$((4 * MIB - 5)) 10" "0 $((4 * MIB + 1))" "$((4 * MIB)) 1" "$((size - 7)) 7"; do
            set -- $range
            check "$kek $size: SDK reads coffer's [$1,+$2)" sdk decrypt "$keyfile" "$kid" \
                "$TMP/c.meta" "$TMP/c.body" "$TMP/c.rout" "$1" "$2"
            expect "$kek $size:   right bytes" same "$TMP/plain" "$TMP/c.rout" "$1" "$2"
            check "$kek $size: coffer reads the SDK's [$1,+$2)" "$DRIVER" decrypt "$keyfile" \
                "$TMP/s.meta" "$TMP/s.body" "$TMP/s.rout" "$1" "$2"
            expect "$kek $size:   right bytes" same "$TMP/plain" "$TMP/s.rout" "$1" "$2"
        done
    done
done

# ---- refusals: no plaintext for a tampered region, a wrong KEK ----
head -c $((4 * MIB + 100)) /dev/urandom >"$TMP/plain"
check "a 2-region blob" "$DRIVER" encrypt "$TMP/aes.key" k $((4 * MIB)) "$TMP/plain" \
    "$TMP/c.body" "$TMP/c.meta"
cp "$TMP/c.body" "$TMP/t.body"
printf '\x55' | dd of="$TMP/t.body" bs=1 seek=$((4 * MIB + 40)) conv=notrunc status=none
check_rc "coffer refuses a tampered region" 1 "$DRIVER" decrypt "$TMP/aes.key" "$TMP/c.meta" \
    "$TMP/t.body" "$TMP/t.out"
expect "  naming the integrity check" grep -q 'integrity check' "$TMP/err"
expect "  after delivering only the intact first region" \
    test "$(stat -c %s "$TMP/t.out")" -eq $((4 * MIB))
check_rc "the SDK refuses it too" 1 sdk decrypt "$TMP/aes.key" k "$TMP/c.meta" "$TMP/t.body" \
    "$TMP/t.out"
head -c 32 /dev/urandom >"$TMP/other.key"
check_rc "coffer refuses a wrong KEK" 1 "$DRIVER" decrypt "$TMP/other.key" "$TMP/c.meta" \
    "$TMP/c.body" "$TMP/t.out"
expect "  naming it" grep -q 'wrong key-encryption key' "$TMP/err"
check_rc "and an RSA KEK for an A256KW blob" 1 "$DRIVER" decrypt "$TMP/rsa.pem" "$TMP/c.meta" \
    "$TMP/c.body" "$TMP/t.out"

# ---- protocol 1.0: read, with the warning ----
head -c 1000 /dev/urandom >"$TMP/plain"
check "the SDK writes a 1.0 blob" sdk encrypt "$TMP/aes.key" k "$TMP/plain" "$TMP/v1.body" \
    "$TMP/v1.meta" 1.0
check "coffer reads it" "$DRIVER" decrypt "$TMP/aes.key" "$TMP/v1.meta" "$TMP/v1.body" "$TMP/v1.out"
expect "  to the plaintext" same "$TMP/plain" "$TMP/v1.out"
expect "  with the warning" grep -q 'protocol 1.0' "$TMP/err"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
