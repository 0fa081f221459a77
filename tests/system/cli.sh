#!/usr/bin/env bash
# End-to-end test of the `coffer` CLI against a real coffer-vault on a
# loopback port: key lifecycle, key operations (cross-checked with the
# openssl command line using the public key the vault returns), backup and
# restore, credentials from the bootstrap file, the environment and the 401
# challenge, and exit codes.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, openssl, python3.
set -euo pipefail

source "$(dirname "$0")/lib/common.sh"
has() { grep -q -- "$1" "$TMP/out"; }
has_err() { grep -q -- "$1" "$TMP/err"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
b64url_to_file() { python3 -c "import base64,sys; s=sys.argv[1]; open(sys.argv[2],'wb').write(base64.urlsafe_b64decode(s+'='*(-len(s)%4)))" "$1" "$2"; }
file_to_b64url() { python3 -c "import base64,sys; print(base64.urlsafe_b64encode(open(sys.argv[1],'rb').read()).decode().rstrip('='))" "$1"; }

printf 'the quick brown fox\n' >"$TMP/msg"
head -c 3000 /dev/urandom >"$TMP/big"

# ---- create, list, show ----
check "create RSA" "$CLI" key create rsa1 --kty RSA --size 2048 --tags env=test,team=core
has "kty:.*RSA (2048 bits)" && has "env=test" || bad "create RSA output"
check "create EC" "$CLI" key create ec1 --kty EC --curve P-256 --ops sign,verify
has "EC (P-256)" || bad "create EC output"
check "create oct" "$CLI" key create oct1 --kty oct --size 256
check "create with --output json" "$CLI" key create rsa2 --kty RSA --size 3072 --output json
[ "$(json "$TMP/out" "d['key']['kty']")" = RSA ] && ok "create json kty" || bad "create json kty"

check "list readable" "$CLI" key list
has "^rsa1 *RSA *true" && has "^ec1 *EC *true" && has "^oct1 *oct *true" && ok "list table" || bad "list table"
check "list json" "$CLI" key list --output json
[ "$(json "$TMP/out" "len(d['value'])")" = 4 ] && ok "list json count" || bad "list json count"
check "list --max 2" "$CLI" key list --max 2 --output json
[ "$(json "$TMP/out" "len(d['value'])")" = 2 ] && ok "list max" || bad "list max"
for i in $(seq 1 27); do "$CLI" key create "many$i" --kty EC --output json >/dev/null; done
check "list pages (nextLink)" "$CLI" key list --output json
[ "$(json "$TMP/out" "len(d['value'])")" = 31 ] && ok "list follows nextLink" || bad "list follows nextLink"

check "show readable" "$CLI" key show rsa1
has "^name: *rsa1" && has "^enabled: *true" && has "^created: *20[0-9-]*T[0-9:]*Z" && ok "show fields" || bad "show fields"
check "show json" "$CLI" key show rsa1 --output json
cp "$TMP/out" "$TMP/rsa1.json"
RSA1_VERSION=$(json "$TMP/rsa1.json" "d['key']['kid'].rsplit('/',1)[1]")
check "show --version" "$CLI" key show rsa1 --version "$RSA1_VERSION"
has "^version: *$RSA1_VERSION" || bad "show --version output"

# ---- update ----
check "update --disable" "$CLI" key update rsa1 --disable
has "^enabled: *false" || bad "update disabled output"
check_rc "sign with disabled key fails" 1 "$CLI" key sign rsa1 --alg RS256 --in "$TMP/msg"
check "update --enable --tags --ops" "$CLI" key update rsa1 --enable --tags env=prod \
    --ops sign,verify,encrypt,decrypt --expires 4102444800
has "^enabled: *true" && has "env=prod" && has "^expires: *2100-01-01T00:00:00Z" &&
    ok "update fields" || bad "update fields"

# ---- sign / verify, cross-checked with openssl ----
jwk_to_pem "$TMP/rsa1.json" "$TMP/rsa1.pem"
check "sign RS256" "$CLI" key sign rsa1 --alg RS256 --in "$TMP/msg" --output json
SIG=$(json "$TMP/out" "d['value']")
b64url_to_file "$SIG" "$TMP/sig.bin"
check "openssl verifies RS256" openssl dgst -sha256 -verify "$TMP/rsa1.pem" -signature "$TMP/sig.bin" "$TMP/msg"
check "verify RS256" "$CLI" key verify rsa1 --alg RS256 --in "$TMP/msg" --signature "$SIG"
has "signature is valid" || bad "verify output"
check_rc "verify wrong data -> 1" 1 "$CLI" key verify rsa1 --alg RS256 --in "$TMP/big" --signature "$SIG"
DIGEST=$(openssl dgst -sha256 -binary "$TMP/msg" | python3 -c "import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip('='))")
check "verify with --digest" "$CLI" key verify rsa1 --alg RS256 --digest "$DIGEST" --signature "$SIG"

check "sign PS256 (digest)" "$CLI" key sign rsa1 --alg PS256 --digest "$DIGEST" --out "$TMP/pss.bin"
openssl dgst -sha256 -binary "$TMP/msg" >"$TMP/digest.bin"
check "openssl verifies PS256" openssl pkeyutl -verify -pubin -inkey "$TMP/rsa1.pem" \
    -in "$TMP/digest.bin" -sigfile "$TMP/pss.bin" -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32

"$CLI" key show ec1 --output json >"$TMP/ec1.json"
jwk_to_pem "$TMP/ec1.json" "$TMP/ec1.pem"
check "sign ES256" "$CLI" key sign ec1 --alg ES256 --in "$TMP/big" --out "$TMP/es.raw"
raw_sig_to_der "$TMP/es.raw" "$TMP/es.der"
check "openssl verifies ES256" openssl dgst -sha256 -verify "$TMP/ec1.pem" -signature "$TMP/es.der" "$TMP/big"
check "verify ES256" "$CLI" key verify ec1 --alg ES256 --in "$TMP/big" --signature "$(file_to_b64url "$TMP/es.raw")"

# ---- encrypt / decrypt ----
check "encrypt RSA-OAEP-256" "$CLI" key encrypt rsa1 --alg RSA-OAEP-256 --in "$TMP/msg" --out "$TMP/ct.bin"
check "decrypt RSA-OAEP-256" "$CLI" key decrypt rsa1 --alg RSA-OAEP-256 --in "$TMP/ct.bin" --out "$TMP/pt.bin"
cmp -s "$TMP/msg" "$TMP/pt.bin" && ok "RSA-OAEP-256 roundtrip" || bad "RSA-OAEP-256 roundtrip"
openssl pkeyutl -encrypt -pubin -inkey "$TMP/rsa1.pem" -in "$TMP/msg" -out "$TMP/ct2.bin" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
check "decrypt openssl's OAEP-256" "$CLI" key decrypt rsa1 --alg RSA-OAEP-256 --in "$TMP/ct2.bin" --out "$TMP/pt2.bin"
cmp -s "$TMP/msg" "$TMP/pt2.bin" && ok "openssl -> vault OAEP" || bad "openssl -> vault OAEP"

AAD=$(printf 'header' | python3 -c "import base64,sys; print(base64.urlsafe_b64encode(sys.stdin.buffer.read()).decode().rstrip('='))")
check "encrypt A256GCM" "$CLI" key encrypt oct1 --alg A256GCM --in "$TMP/big" --aad "$AAD" --output json
cp "$TMP/out" "$TMP/gcm.json"
CT=$(json "$TMP/gcm.json" "d['value']"); IV=$(json "$TMP/gcm.json" "d['iv']"); TAG=$(json "$TMP/gcm.json" "d['tag']")
check "decrypt A256GCM" "$CLI" key decrypt oct1 --alg A256GCM --value "$CT" --iv "$IV" --tag "$TAG" --aad "$AAD" --out "$TMP/gcm.pt"
cmp -s "$TMP/big" "$TMP/gcm.pt" && ok "A256GCM roundtrip" || bad "A256GCM roundtrip"
check "decrypt A256GCM readable" "$CLI" key decrypt oct1 --alg A256GCM --value "$CT" --iv "$IV" --tag "$TAG" --aad "$AAD"
[ "$(sed -n 's/^plaintext: *//p' "$TMP/out")" = "$(file_to_b64url "$TMP/big")" ] && ok "plaintext printed base64url" || bad "plaintext printed base64url"
BADTAG=AAAAAAAAAAAAAAAAAAAAAA
check_rc "A256GCM wrong tag -> 1" 1 "$CLI" key decrypt oct1 --alg A256GCM --value "$CT" --iv "$IV" --tag "$BADTAG" --aad "$AAD" --out "$TMP/nope"
[ ! -e "$TMP/nope" ] && ok "no output on failed decrypt" || bad "no output on failed decrypt"

# ---- import ----
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/imp.key" 2>/dev/null
openssl pkey -in "$TMP/imp.key" -pubout -out "$TMP/imp.pub"
openssl pkey -in "$TMP/imp.key" -text -noout | python3 -c '
import base64, json, re, sys
t = sys.stdin.read()
def hx(name):
    m = re.search(name + r":\s*((?:[0-9a-f]{2}:?\s*)+)", t)
    return bytes.fromhex(re.sub(r"[^0-9a-f]", "", m.group(1)))
e = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
d = hx("priv").rjust(32, b"\0")[-32:]; pub = hx("pub")
print(json.dumps({"kty": "EC", "crv": "P-256", "d": e(d), "x": e(pub[1:33]), "y": e(pub[33:65])}))
' >"$TMP/imp.jwk"
check "import JWK" "$CLI" key import imp1 --jwk "$TMP/imp.jwk" --ops sign,verify --tags src=openssl
has "EC (P-256)" && has "src=openssl" || bad "import output"
check "sign with imported key" "$CLI" key sign imp1 --alg ES256 --in "$TMP/msg" --out "$TMP/imp.raw"
raw_sig_to_der "$TMP/imp.raw" "$TMP/imp.der"
check "openssl verifies imported key's signature" openssl dgst -sha256 -verify "$TMP/imp.pub" -signature "$TMP/imp.der" "$TMP/msg"
check_rc "import without private part -> 1" 1 "$CLI" key import imp2 --jwk <(python3 -c "import json; d=json.load(open('$TMP/imp.jwk')); d.pop('d'); print(json.dumps(d))")
check_rc "import missing file -> 2" 2 "$CLI" key import imp3 --jwk "$TMP/does-not-exist"

# ---- backup / delete / purge / restore ----
check "backup" "$CLI" key backup rsa1 --file "$TMP/rsa1.backup"
[ -s "$TMP/rsa1.backup" ] && ok "backup file written" || bad "backup file written"
check "delete" "$CLI" key delete rsa1
has "^recovery_id:.*/deletedkeys/rsa1" || bad "delete output"
check_rc "show deleted -> 1" 1 "$CLI" key show rsa1
check "purge" "$CLI" key purge rsa1
has "purged rsa1" || bad "purge output"
check "restore" "$CLI" key restore --file "$TMP/rsa1.backup" --output json
[ "$(json "$TMP/out" "d['key']['kid'].rsplit('/',1)[1]")" = "$RSA1_VERSION" ] && ok "restore keeps version" || bad "restore keeps version"
check "verify after restore" "$CLI" key verify rsa1 --alg RS256 --in "$TMP/msg" --signature "$SIG"

# ---- rotate / versions ----
check "rotate" "$CLI" key rotate ec1 --output json
NEWV=$(json "$TMP/out" "d['key']['kid'].rsplit('/',1)[1]")
check "versions" "$CLI" key versions ec1
[ "$(grep -c '^[0-9a-f]\{32\} ' "$TMP/out")" = 2 ] && has "^$NEWV " && ok "versions lists both" || bad "versions lists both"
check "versions json" "$CLI" key versions ec1 --output json
[ "$(json "$TMP/out" "len(d['value'])")" = 2 ] && ok "versions json count" || bad "versions json count"
check "show latest is rotated" "$CLI" key show ec1
has "^version: *$NEWV" || bad "latest version after rotate"

# ---- delete / recover ----
check "delete ec1" "$CLI" key delete ec1
check_rc "show deleted ec1 -> 1" 1 "$CLI" key show ec1
check "recover ec1" "$CLI" key recover ec1
check "show recovered ec1" "$CLI" key show ec1

# ---- errors and exit codes ----
check_rc "unknown key -> 1" 1 "$CLI" key show no-such-key
has_err "KeyNotFound" && ok "KeyNotFound printed" || bad "KeyNotFound printed"
check_rc "unknown option -> 2" 2 "$CLI" key show rsa1 --bogus 1
check_rc "bad key name -> 2" 2 "$CLI" key show "a/../b"
check_rc "unknown command -> 2" 2 "$CLI" key frobnicate x
check_rc "missing --kty -> 2" 2 "$CLI" key create x1
check_rc "missing --in file -> 2" 2 "$CLI" key sign ec1 --alg ES256 --in "$TMP/does-not-exist"
check_rc "missing restore file -> 2" 2 "$CLI" key restore --file "$TMP/does-not-exist"
check_rc "bad --value -> 2" 2 "$CLI" key encrypt oct1 --alg A256GCM --value '***'
check_rc "no credentials -> 2" 2 env -u COFFER_BOOTSTRAP "$CLI" key list
check_rc "bad kty -> 1" 1 "$CLI" key create x2 --kty DSA
check_rc "oct for RSA alg -> 1" 1 "$CLI" key encrypt oct1 --alg RSA-OAEP-256 --in "$TMP/msg"

# ---- credentials: environment, flags, 401 challenge ----
SECRET=$(json "$COFFER_BOOTSTRAP" "d['client_secret']")
CID=$(json "$COFFER_BOOTSTRAP" "d['client_id']")
CA=$TMP/vault/tls/ca.crt
URL=https://127.0.0.1:$PORT
check "env credentials via challenge" env -u COFFER_BOOTSTRAP COFFER_VAULT_URL="$URL" \
    AZURE_CLIENT_ID="$CID" AZURE_CLIENT_SECRET="$SECRET" COFFER_CA_CERT="$CA" "$CLI" key show oct1
check "flag credentials" env -u COFFER_BOOTSTRAP "$CLI" --vault "$URL" --client-id "$CID" \
    --client-secret "$SECRET" --ca-cert "$CA" key show oct1
check_rc "wrong secret -> 1" 1 env -u COFFER_BOOTSTRAP COFFER_VAULT_URL="$URL" \
    AZURE_CLIENT_ID="$CID" AZURE_CLIENT_SECRET="wrong-$SECRET" COFFER_CA_CERT="$CA" "$CLI" key list
if grep -q -- "$SECRET" "$TMP/out" "$TMP/err"; then bad "secret not printed"; else ok "secret not printed"; fi
check_rc "flags override bootstrap (bad secret) -> 1" 1 "$CLI" --client-secret nope key list
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other \
    -keyout "$TMP/other.key" -out "$TMP/other.crt" -days 1 2>/dev/null
check_rc "untrusted CA -> 1" 1 env COFFER_CA_CERT="$TMP/other.crt" "$CLI" key list
has_err "certificate\|SSL" && ok "TLS failure reported" || bad "TLS failure reported"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
