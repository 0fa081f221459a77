#!/usr/bin/env bash
# `coffer blob upload --encrypt-with` / `download [--decrypt-with] [--range]`
# against a real coffer-blob and coffer-vault, checked both ways against the
# official Python SDK (tests/system/lib/cse_sdk.py, Debian's
# python3-azure-storage): blobs the SDK uploads with a local KEK and with a
# vault KEK (its CryptographyClient calling coffer-vault) download and
# decrypt with coffer; blobs coffer uploads decrypt with the SDK.  Sizes:
# empty, 1 byte, one region, one region + 1, several regions (block path);
# ranges across region boundaries; refusals (wrong KEK, no key, tampered
# metadata) leave no output file; neither service's data directory nor log
# holds the plaintext marker, the KEK or a content key.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$BLOB_DIR
CLI=$BIN/coffer
PY=/usr/bin/python3
SDK=$(dirname "$0")/lib/cse_sdk.py
MIB=$((1024 * 1024))
MARK="COFFER-CSE-MARKER-$RANDOM$RANDOM"

check "container create" "$CLI" container create box
head -c 32 /dev/urandom >"$TMP/aes.key"
openssl genrsa -out "$TMP/rsa.pem" 2048 2>/dev/null
check "vault RSA key" "$CLI" key create kek-rsa --kty RSA --output json
RSA_KID=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['key']['kid'])" "$TMP/out")
check "vault AES key" "$CLI" key create kek-aes --kty oct --size 256 --output json
AES_KID=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['key']['kid'])" "$TMP/out")

gen() { # FILE SIZE: random bytes with the marker every MiB
    python3 - "$1" "$2" "$MARK" <<'PY'
import os, sys
path, size, mark = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
data = bytearray(os.urandom(size))
for off in range(100, max(0, size - len(mark)), 1 << 20):
    data[off:off + len(mark)] = mark
open(path, "wb").write(data)
PY
}
sdk() { "$PY" "$SDK" "$@" --blob-dir "$BLOB_DIR" --container box; }
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

SIZES="0 1 $((4 * MIB)) $((4 * MIB + 1)) $((17 * MIB + 3))"
for kek in "file:$TMP/aes.key" "file:$TMP/rsa.pem" "$RSA_KID" "$AES_KID"; do
    sdk_kek=$kek
    case "$kek" in https://*) sdk_kek="vault:$kek" ;; esac
    short=${kek##*/}
    for size in $SIZES; do
        gen "$TMP/in" "$size"
        n="c-$short-$size"
        check "coffer upload $size bytes ($short)" "$CLI" blob upload "$TMP/in" --container box \
            --name "$n" --encrypt-with "$kek"
        check "the SDK decrypts it ($short, $size)" sdk download --name "$n" --file "$TMP/sdk.out" \
            --kek "$sdk_kek"
        expect "same bytes ($short, $size)" cmp -s "$TMP/in" "$TMP/sdk.out"
        n="p-$short-$size"
        check "SDK upload $size bytes ($short)" sdk upload --name "$n" --file "$TMP/in" \
            --kek "$sdk_kek" --block-size $((4 * MIB))
        if [ "${kek#file:}" != "$kek" ]; then
            check "coffer decrypts it with --decrypt-with ($short, $size)" "$CLI" blob download \
                --container box --name "$n" --file "$TMP/c.out" --decrypt-with "$kek"
        else
            check "coffer decrypts it with the vault key it names ($short, $size)" "$CLI" blob \
                download --container box --name "$n" --file "$TMP/c.out"
        fi
        expect "same bytes ($short, $size)" cmp -s "$TMP/in" "$TMP/c.out"
        if [ "$size" -gt $((4 * MIB)) ]; then
            for r in "$((4 * MIB - 10)):20" "1:$((4 * MIB))" "$((size - 5)):5" "0:1"; do
                o=${r%%:*} l=${r##*:}
                args=(--range "$o-$((o + l - 1))")
                [ "${kek#file:}" != "$kek" ] && args+=(--decrypt-with "$kek")
                check "range $o+$l ($short, $size)" "$CLI" blob download --container box --name "$n" \
                    --file "$TMP/r.out" "${args[@]}"
                expect "range bytes $o+$l" cmp -s <(slice "$TMP/in" "$o" "$l") "$TMP/r.out"
            done
            check "SDK range of coffer's blob ($short)" sdk download --name "c-$short-$size" \
                --file "$TMP/sr.out" --kek "$sdk_kek" --offset $((4 * MIB - 7)) --length 100
            expect "SDK range bytes ($short)" cmp -s <(slice "$TMP/in" $((4 * MIB - 7)) 100) "$TMP/sr.out"
        fi
    done
done

# ---- refusals: nothing written ----
gen "$TMP/in" $((5 * MIB))
check "upload for refusals" "$CLI" blob upload "$TMP/in" --container box --name r.bin \
    --encrypt-with "file:$TMP/aes.key"
head -c 32 /dev/urandom >"$TMP/other.key"
check_rc "wrong KEK: exit 1" 1 "$CLI" blob download --container box --name r.bin \
    --file "$TMP/no.out" --decrypt-with "file:$TMP/other.key"
grep -q "does not unwrap" "$TMP/err" && ok "wrong KEK: says so" || bad "wrong KEK: says so"
expect "wrong KEK: no output file" [ ! -e "$TMP/no.out" ] && [ ! -e "$TMP/no.out.part" ]
check_rc "no key given, not a vault key: exit 1" 1 "$CLI" blob download --container box \
    --name r.bin --file "$TMP/no.out"
grep -q "decrypt-with" "$TMP/err" && ok "no key: says to give --decrypt-with" || bad "no key message"
expect "no key: no output file" [ ! -e "$TMP/no.out" ]
check "plain upload" "$CLI" blob upload "$TMP/in" --container box --name plain.bin
check_rc "--decrypt-with on a plain blob: exit 1" 1 "$CLI" blob download --container box \
    --name plain.bin --file "$TMP/no.out" --decrypt-with "file:$TMP/aes.key"
grep -q "not client-side encrypted" "$TMP/err" && ok "plain blob: says so" || bad "plain blob message"
check_rc "encryptiondata in --metadata: usage" 2 "$CLI" blob upload "$TMP/in" --container box \
    --name x.bin --encrypt-with "file:$TMP/aes.key" --metadata encryptiondata=x
check_rc "malformed KEK spec: usage" 2 "$CLI" blob upload "$TMP/in" --container box \
    --name x.bin --encrypt-with nope

# ---- a vault KEK the caller may not use ----
check "a principal with no role" no_role_identity cse-outsider "$TMP/outsider.json"
check_rc "its download of a blob under a vault KEK: exit 1" 1 env COFFER_BOOTSTRAP="$TMP/outsider.json" \
    "$CLI" blob download --container box --name "c-${RSA_KID##*/}-1" --file "$TMP/no.out"
grep -q "Forbidden" "$TMP/err" && ok "  says it is forbidden" || bad "  says it is forbidden"
expect "  no output file" [ ! -e "$TMP/no.out" ] && [ ! -e "$TMP/no.out.part" ]

# ---- at rest and in the logs ----
# The services' logs (both in server.log), their audit logs and data
# directories: no plaintext, no KEK, no content key in any form.  The
# content keys are those of a blob from each side with each KEK, unwrapped
# here as a client would.
WHERE=("$BLOB_DIR" "$TMP/vault" "$TMP/server.log")
if grep -rqaF "$MARK" "${WHERE[@]}"; then bad "the plaintext marker is in a data directory or log"
else ok "no plaintext marker in the data directories and logs"; fi
printf 'local AES KEK\t%s\n' "$(xxd -p -c 64 "$TMP/aes.key")" >"$TMP/needles"
for kek in "file:$TMP/aes.key" "file:$TMP/rsa.pem" "$RSA_KID" "$AES_KID"; do
    sdk_kek=$kek
    case "$kek" in https://*) sdk_kek="vault:$kek" ;; esac
    for n in "c-${kek##*/}-1" "p-${kek##*/}-1"; do
        check "content key of $n" sdk content-key --name "$n" --kek "$sdk_kek"
        printf 'content key of %s\t%s\n' "$n" "$(cat "$TMP/out")" >>"$TMP/needles"
    done
done
tail -1 "$TMP/needles" | cut -f2 | xxd -r -p >"$TMP/control.bin"
SCAN=$(dirname "$0")/lib/secret_scan.py
python3 "$SCAN" "$TMP/needles" "$TMP/control.bin" >"$TMP/found"
expect "the scan finds a content key it is shown (control)" grep -q 'content key of' "$TMP/found"
python3 "$SCAN" "$TMP/needles" "${WHERE[@]}" >"$TMP/found"
expect "no KEK or content key in the data directories and logs" test ! -s "$TMP/found"
sed 's/^/     /' "$TMP/found"

echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
