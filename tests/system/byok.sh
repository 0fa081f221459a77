#!/usr/bin/env bash
# Bring your own key, as an operator does it: transfer blobs built with the
# openssl command-line tool alone (no Coffer code) import RSA, EC and AES
# keys into the vault's token through `coffer key import --byok`, and what
# the imported keys do is checked against the originals with openssl.  Then
# the same through `coffer key byok-wrap`, and the refusals.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs openssl, python3, xxd.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
unb64url() { python3 -c "import base64,sys; s=sys.argv[1]; sys.stdout.buffer.write(base64.urlsafe_b64decode(s+'='*(-len(s)%4)))" "$1"; }

# The key-exchange key, and its public half as PEM (from the JWK).
check "create the key exchange key (RSA-HSM, import only)" "$CLI" key create kek --kty RSA-HSM --size 3072 --ops import
check "show it" "$CLI" key show kek --output json
cp "$TMP/out" "$TMP/kek.json"
KID=$(json "$TMP/kek.json" "d['key']['kid']")
jwk_to_pem "$TMP/kek.json" "$TMP/kek.pem"

# openssl_blob TARGET_DER OUT: the transfer blob, by openssl alone.
openssl_blob() {
    openssl rand 32 >"$TMP/ephemeral"
    openssl pkeyutl -encrypt -pubin -inkey "$TMP/kek.pem" -pkeyopt rsa_padding_mode:oaep \
        -pkeyopt rsa_oaep_md:sha1 -pkeyopt rsa_mgf1_md:sha1 -in "$TMP/ephemeral" -out "$TMP/part1"
    openssl enc -id-aes256-wrap-pad -K "$(xxd -p -c 64 "$TMP/ephemeral")" -iv A65959A6 \
        -in "$1" -out "$TMP/part2"
    printf '{"schema_version":"1.0.0","header":{"kid":"%s","alg":"dir","enc":"CKM_RSA_AES_KEY_WRAP"},"ciphertext":"%s","generator":"openssl"}' \
        "$KID" "$(cat "$TMP/part1" "$TMP/part2" | b64url)" >"$2"
}
printf 'bring your own key' >"$TMP/msg"
DIGEST=$(openssl dgst -sha256 -binary "$TMP/msg" | b64url)
DIGEST384=$(openssl dgst -sha384 -binary "$TMP/msg" | b64url)

# ---- RSA ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$TMP/rsa.pem" -outform DER -out "$TMP/rsa.p8"
openssl pkey -in "$TMP/rsa.pem" -pubout -out "$TMP/rsa.pub"
openssl_blob "$TMP/rsa.p8" "$TMP/rsa.byok"
check "import an RSA key from an openssl-made blob" "$CLI" key import byok-rsa --byok "$TMP/rsa.byok" --kty RSA-HSM --ops sign,verify
expect "  it is an RSA-HSM key" grep -q 'kty: *RSA-HSM (2048 bits)' "$TMP/out"
check "  sign with it" "$CLI" key sign byok-rsa --alg RS256 --digest "$DIGEST" --output json
unb64url "$(json "$TMP/out" "d['value']")" >"$TMP/rsa.sig"
check "  openssl verifies the signature with the original PEM's public key" \
    openssl dgst -sha256 -verify "$TMP/rsa.pub" -signature "$TMP/rsa.sig" "$TMP/msg"

# ---- EC ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$TMP/ec.pem" 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in "$TMP/ec.pem" -outform DER -out "$TMP/ec.p8"
openssl pkey -in "$TMP/ec.pem" -pubout -out "$TMP/ec.pub"
openssl_blob "$TMP/ec.p8" "$TMP/ec.byok"
check "import an EC P-384 key from an openssl-made blob" "$CLI" key import byok-ec --byok "$TMP/ec.byok" --kty EC-HSM --curve P-384
check "  sign with it" "$CLI" key sign byok-ec --alg ES384 --digest "$DIGEST384" --output json
unb64url "$(json "$TMP/out" "d['value']")" >"$TMP/ec.raw"
raw_sig_to_der "$TMP/ec.raw" "$TMP/ec.sig"
check "  openssl verifies the signature with the original PEM's public key" \
    openssl dgst -sha384 -verify "$TMP/ec.pub" -signature "$TMP/ec.sig" "$TMP/msg"

# ---- AES ----
openssl rand 32 >"$TMP/aes.key"
openssl_blob "$TMP/aes.key" "$TMP/aes.byok"
check "import an AES-256 key from an openssl-made blob" "$CLI" key import byok-aes --byok "$TMP/aes.byok" --kty oct-HSM --ops wrapKey,unwrapKey,encrypt,decrypt
openssl rand 32 >"$TMP/payload.key"
# wrapKey with A256KW (RFC 3394) is deterministic: the vault's result must
# be what openssl computes with the original AES key.
TOKEN_BODY=$(python3 -c "import base64,sys; print(base64.urlsafe_b64encode(open(sys.argv[1],'rb').read()).decode().rstrip('='))" "$TMP/payload.key")
check "  wrap a key with it (A256KW)" curl -s -f --cacert "$TMP/vault/tls/ca.crt" -X POST \
    -H "Authorization: Bearer $(vault_token "$COFFER_BOOTSTRAP")" -H 'Content-Type: application/json' \
    --data "{\"alg\":\"A256KW\",\"value\":\"$TOKEN_BODY\"}" \
    "https://127.0.0.1:$PORT/keys/byok-aes//wrapkey?api-version=7.5"
unb64url "$(json "$TMP/out" "d['value']")" >"$TMP/wrapped.vault"
openssl enc -id-aes256-wrap -K "$(xxd -p -c 64 "$TMP/aes.key")" -iv A6A6A6A6A6A6A6A6 -in "$TMP/payload.key" -out "$TMP/wrapped.openssl"
check "  the vault's key wrap equals openssl's with the original key" cmp "$TMP/wrapped.vault" "$TMP/wrapped.openssl"

# ---- coffer key byok-wrap ----
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$TMP/rsa2.pem" 2>/dev/null
openssl pkey -in "$TMP/rsa2.pem" -pubout -out "$TMP/rsa2.pub"
check "byok-wrap a PEM key for the KEK" "$CLI" key byok-wrap --kek-kid "$KID" --key "$TMP/rsa2.pem" --out "$TMP/rsa2.byok"
check "  the blob file is the owner's alone" test "$(stat -c %a "$TMP/rsa2.byok")" = 600
expect "  and holds no key in clear" bash -c "! grep -q 'PRIVATE' '$TMP/rsa2.byok'"
check "import it (type from the blob)" "$CLI" key import byok-rsa2 --byok "$TMP/rsa2.byok"
check "  sign" "$CLI" key sign byok-rsa2 --alg PS256 --digest "$DIGEST" --output json
unb64url "$(json "$TMP/out" "d['value']")" >"$TMP/rsa2.sig"
check "  openssl verifies (PSS)" openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:-1 \
    -verify "$TMP/rsa2.pub" -signature "$TMP/rsa2.sig" "$TMP/msg"
openssl rand 16 >"$TMP/aes128.key"
check "byok-wrap an AES-128 key" "$CLI" key byok-wrap --kek-kid "$KID" --aes-key "$TMP/aes128.key" --out "$TMP/aes128.byok"
check "  import it" "$CLI" key import byok-aes128 --byok "$TMP/aes128.byok"
expect "  an oct-HSM key" grep -q 'kty: *oct-HSM' "$TMP/out"

# ---- refusals ----
check "a key without import" "$CLI" key create notkek --kty RSA-HSM --ops sign
NOTKEK=$("$CLI" key show notkek --output json | python3 -c "import json,sys; print(json.load(sys.stdin)['key']['kid'])")
check_rc "byok-wrap refuses a key that is not a key exchange key" 1 \
    "$CLI" key byok-wrap --kek-kid "$NOTKEK" --key "$TMP/rsa2.pem" --out "$TMP/x.byok"
python3 - "$TMP/rsa.byok" "$TMP/tampered.byok" <<'EOF'
import base64, json, sys
d = json.load(open(sys.argv[1])); c = bytearray(base64.urlsafe_b64decode(d['ciphertext'] + '=' * (-len(d['ciphertext']) % 4)))
c[-5] ^= 1; d['ciphertext'] = base64.urlsafe_b64encode(bytes(c)).decode().rstrip('=')
json.dump(d, open(sys.argv[2], 'w'))
EOF
check_rc "a tampered blob is refused" 1 "$CLI" key import byok-bad --byok "$TMP/tampered.byok" --kty RSA-HSM
expect "  with BadParameter" grep -q 'BadParameter' "$TMP/err"
check_rc "  and nothing was stored" 1 "$CLI" key show byok-bad
check_rc "the wrong kty is refused" 1 "$CLI" key import byok-bad --byok "$TMP/rsa.byok" --kty oct-HSM
check_rc "a truncated blob is refused" 1 bash -c "head -c 200 '$TMP/rsa.byok' >'$TMP/cut.byok'; '$CLI' key import byok-bad --byok '$TMP/cut.byok' --kty RSA-HSM"
check_rc "--jwk and --byok exclude each other" 2 "$CLI" key import x --byok "$TMP/rsa.byok" --jwk "$TMP/rsa.byok"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
