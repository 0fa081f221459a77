#!/usr/bin/env bash
# Keys that never leave the token, proven from outside Coffer:
#   - pkcs11-tool (OpenSC) lists the vault token's objects: the root keys and
#     every HSM key's private or secret object are sensitive and not
#     extractable; reading their CKA_VALUE fails, and so does wrapping them
#     out with a key the attacker made in the same token (while an
#     extractable control key wraps fine, so the check can fail);
#   - no plaintext key material is in the data directory: known keys
#     (imported by BYOK, by plaintext HSM import, and as software keys) are
#     searched for byte by byte in every file under it;
#   - no core dump carries a key: the vault is sent SIGABRT with core dumps
#     enabled and any core that appears is scanned for a known key (a
#     dumpable control process shows whether this machine writes cores).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs pkcs11-tool, openssl,
# python3, xxd.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
EXTRACT=${COFFER_P11_EXTRACT:?set COFFER_P11_EXTRACT to the p11_extract_attempt tool}
DIR=$TMP/vault
PIN=$(cat "$DIR/hsm/user.pin")
P11=(pkcs11-tool --module /usr/lib/softhsm/libsofthsm2.so --token-label coffer-vault --login --pin "$PIN")
export SOFTHSM2_CONF=$DIR/hsm/softhsm2.conf

# ---- keys of every kind ----
check "create RSA-HSM" "$CLI" key create h-rsa --kty RSA-HSM
check "create EC-HSM" "$CLI" key create h-ec --kty EC-HSM --curve P-256
check "create oct-HSM" "$CLI" key create h-oct --kty oct-HSM
check "create a key exchange key" "$CLI" key create kek --kty RSA-HSM --ops import
KID=$("$CLI" key show kek --output json | python3 -c "import json,sys; print(json.load(sys.stdin)['key']['kid'])")
# Known keys: an RSA key imported by BYOK, an AES key imported by BYOK, an
# EC key imported in clear into the token, and an RSA software key.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/byok.pem" 2>/dev/null
openssl rand 32 >"$TMP/byok.aes"
check "BYOK an RSA key" bash -c "'$CLI' key byok-wrap --kek-kid '$KID' --key '$TMP/byok.pem' --out '$TMP/r.byok' >/dev/null && '$CLI' key import k-byok --byok '$TMP/r.byok'"
check "BYOK an AES key" bash -c "'$CLI' key byok-wrap --kek-kid '$KID' --aes-key '$TMP/byok.aes' --out '$TMP/a.byok' >/dev/null && '$CLI' key import k-aes --byok '$TMP/a.byok'"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/soft.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$TMP/hsm-ec.pem" 2>/dev/null
# PEM -> JWK (private), with python only.
python3 - "$TMP/soft.pem" "$TMP/soft.jwk" "$TMP/hsm-ec.pem" "$TMP/hsm-ec.jwk" "$TMP/secrets.hex" <<'EOF'
import base64, json, re, subprocess, sys
def b64(i, n=None):
    n = n or (i.bit_length() + 7) // 8
    return base64.urlsafe_b64encode(i.to_bytes(n, 'big')).decode().rstrip('=')
def fields(pem):
    text = subprocess.run(['openssl', 'pkey', '-in', pem, '-text', '-noout'], capture_output=True, text=True).stdout
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r'^(\w[\w ]*):\s*(\S*)', line)
        if m and not line.startswith(' '):
            cur = m.group(1); out[cur] = m.group(2).split(' ')[0] if m.group(2) else ''
        elif cur is not None:
            out[cur] += line.strip()
    return {k: v.replace(':', '') for k, v in out.items()}
f = fields(sys.argv[1])
h = lambda k: int(f[k], 16) if not f[k].isdigit() else int(f[k])
e = int(re.search(r'\d+', f['publicExponent']).group(0))
jwk = {'kty': 'RSA', 'n': b64(h('modulus')), 'e': b64(e), 'd': b64(h('privateExponent')), 'p': b64(h('prime1')),
       'q': b64(h('prime2')), 'dp': b64(h('exponent1')), 'dq': b64(h('exponent2')), 'qi': b64(h('coefficient'))}
json.dump(jwk, open(sys.argv[2], 'w'))
g = fields(sys.argv[3])
pub = bytes.fromhex(g['pub'])
ec = {'kty': 'EC', 'crv': 'P-256', 'x': b64(int.from_bytes(pub[1:33], 'big'), 32), 'y': b64(int.from_bytes(pub[33:], 'big'), 32),
      'd': b64(int(g['priv'], 16), 32)}
json.dump(ec, open(sys.argv[4], 'w'))
# What must never be found at rest: the secret numbers, big- and little-endian.
with open(sys.argv[5], 'w') as out:
    for name, v in [('soft d', h('privateExponent')), ('soft p', h('prime1')), ('hsm-ec d', int(g['priv'], 16))]:
        raw = v.to_bytes((v.bit_length() + 7) // 8, 'big')
        out.write(f'{name}\t{raw.hex()}\n')
EOF
python3 - "$TMP/byok.pem" >>"$TMP/secrets.hex" <<'EOF'
import re, subprocess, sys
t = subprocess.run(['openssl', 'pkey', '-in', sys.argv[1], '-text', '-noout'], capture_output=True, text=True).stdout
cur, vals = None, {}
for line in t.splitlines():
    if not line.startswith(' '):
        cur = line.split(':')[0]; vals[cur] = ''
    elif cur:
        vals[cur] += line.strip().replace(':', '')
for k in ('privateExponent', 'prime1', 'prime2'):
    v = int(vals[k], 16)
    print(f'byok {k}\t{v.to_bytes((v.bit_length() + 7) // 8, "big").hex()}')
EOF
printf 'byok aes\t%s\n' "$(xxd -p -c 64 "$TMP/byok.aes")" >>"$TMP/secrets.hex"
check "import the software RSA key (JWK)" "$CLI" key import k-soft --jwk "$TMP/soft.jwk"
check "import an EC key in clear into the token (--hsm)" "$CLI" key import k-hsm-ec --jwk "$TMP/hsm-ec.jwk" --hsm
expect "  it is an EC-HSM key" grep -q 'kty: *EC-HSM' "$TMP/out"
DIGEST=$(printf 'x' | openssl dgst -sha256 -binary | b64url)
check "use the software key (its private key is now decoded in memory)" "$CLI" key sign k-soft --alg RS256 --digest "$DIGEST"
check "use the BYOK key" "$CLI" key sign k-byok --alg RS256 --digest "$DIGEST"

# ---- the token, from outside ----
"${P11[@]}" -O >"$TMP/objects" 2>/dev/null
python3 - "$TMP/objects" >"$TMP/access" <<'EOF'
import re, sys
objs, cur = [], None
for line in open(sys.argv[1]):
    if re.match(r'^\S.*Object', line):
        cur = {'kind': line.strip()}; objs.append(cur)
    elif cur is not None and ':' in line:
        k, v = line.split(':', 1); cur[k.strip()] = v.strip()
for o in objs:
    if o.get('label', '').startswith('coffer-vault') and not o['kind'].startswith('Public'):
        print(f"{o['kind']}|{o.get('label')}|{o.get('ID')}|{o.get('Access', '')}")
EOF
N=$(wc -l <"$TMP/access")
check "the token holds the two root keys and 7 private or secret key objects" test "$N" = 9
expect "  the root key: sensitive, never extractable" grep -q '|coffer-vault root|.*sensitive, always sensitive, never extractable' "$TMP/access"
expect "  the root wrap key: sensitive, never extractable" grep -q '|coffer-vault root wrap|.*sensitive, always sensitive, never extractable' "$TMP/access"
expect "  every key object is sensitive" bash -c "! grep -v 'sensitive' '$TMP/access'"
expect "  and none is extractable" bash -c "! sed 's/never extractable//' '$TMP/access' | grep -q extractable"
for id in $(grep '^Secret' "$TMP/access" | cut -d'|' -f3); do
    check_rc "pkcs11-tool: reading CKA_VALUE of secret key $id fails" 1 "${P11[@]}" --read-object --type secrkey --id "$id"
done
# pkcs11-tool reads and wraps secret keys only; private keys get the same
# two attempts from a small PKCS#11 client of the tests' own.
"${P11[@]}" --keypairgen --key-type rsa:2048 --id 0d0d --label control-pair --extractable >/dev/null 2>&1
check_rc "control: the attempt does get an extractable private key out" 1 \
    "$EXTRACT" /usr/lib/softhsm/libsofthsm2.so "$PIN" 0d0d
"${P11[@]}" --delete-object --type privkey --id 0d0d >/dev/null 2>&1
"${P11[@]}" --delete-object --type pubkey --id 0d0d >/dev/null 2>&1
for id in $(grep '^Private' "$TMP/access" | cut -d'|' -f3); do
    check "private key $id: reading its secret attributes and wrapping it out both fail" \
        "$EXTRACT" /usr/lib/softhsm/libsofthsm2.so "$PIN" "$id"
done
"${P11[@]}" --keygen --key-type AES:32 --label intruder --id 0badc0de --usage-wrap >/dev/null 2>&1
"${P11[@]}" --keygen --key-type AES:32 --label control --id 0c0c --extractable >/dev/null 2>&1
check "control: an extractable key can be wrapped out" "${P11[@]}" --wrap --mechanism AES-KEY-WRAP --id 0badc0de \
    --application-id 0c0c --output-file "$TMP/control.wrapped"
for id in $(grep '^Secret' "$TMP/access" | cut -d'|' -f3); do
    check_rc "wrapping key $id out with the intruder's key fails" 1 "${P11[@]}" --wrap --mechanism AES-KEY-WRAP \
        --id 0badc0de --application-id "$id" --output-file "$TMP/stolen"
    expect "  with CKR_KEY_UNEXTRACTABLE" grep -q 'CKR_KEY_UNEXTRACTABLE' "$TMP/err"
done
"${P11[@]}" --delete-object --type secrkey --id 0badc0de >/dev/null 2>&1
"${P11[@]}" --delete-object --type secrkey --id 0c0c >/dev/null 2>&1

# ---- nothing in clear at rest ----
scan() { # scan FILE_OR_DIR...: prints each known secret found (tests/system/lib/secret_scan.py)
    python3 "$(dirname "$0")/lib/secret_scan.py" "$TMP/secrets.hex" "$@"
}
scan "$TMP/byok.aes" >"$TMP/selftest"
check "the scanner finds what it looks for (self-test)" test -s "$TMP/selftest"
scan "$DIR" >"$TMP/found"
check "no known key material anywhere in the data directory" test ! -s "$TMP/found"
[ -s "$TMP/found" ] && sed 's/^/     /' "$TMP/found"

# ---- no key in a core dump ----
kill "$SERVER_PID" && wait "$SERVER_PID" || true
SERVER_PID=
mkdir -p "$TMP/cwd-control" "$TMP/cwd-vault"
(cd "$TMP/cwd-control" && ulimit -c unlimited && exec sleep 60) &
CONTROL=$!
sleep 0.5
kill -ABRT "$CONTROL"; wait "$CONTROL" 2>/dev/null || true
if ls "$TMP/cwd-control" | grep -q '^core'; then
    ok "control: this machine writes core files ($(cat /proc/sys/kernel/core_pattern))"
    CORES=1
else
    ok "control: this machine does not write core files to the process's directory (core_pattern $(cat /proc/sys/kernel/core_pattern)); the vault's own non-dumpable flag is still checked below"
    CORES=0
fi
(cd "$TMP/cwd-vault" && ulimit -c unlimited &&
    ASAN_OPTIONS=disable_coredump=0:handle_abort=0 exec "$BIN/coffer-vault" --data-dir "$DIR" --listen "127.0.0.1:$PORT" --log-level warn) \
    >>"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do port_in_use "$PORT" && break; sleep 0.1; done
check "sign with the software key again (decoded into memory)" "$CLI" key sign k-soft --alg RS256 --digest "$DIGEST"
check "the vault set its own core size limit to 0 (it also marks itself non-dumpable)" \
    test "$(awk '/Max core file size/ {print $5}' /proc/$SERVER_PID/limits)" = 0
kill -ABRT "$SERVER_PID"
rc=0; wait "$SERVER_PID" || rc=$?
SERVER_PID=
check "the vault died of SIGABRT" test "$rc" = 134
CORE=$(ls "$TMP/cwd-vault" | grep '^core' | head -1 || true)
if [ -n "$CORE" ]; then
    scan "$TMP/cwd-vault/$CORE" >"$TMP/core-found"
    check "a core appeared: no known key in it" test ! -s "$TMP/core-found"
else
    check "no core file was written for the vault" true
fi
[ "$CORES" = 1 ] && [ -z "$CORE" ] && ok "  (while the control's was: the vault's non-dumpable flag held)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
