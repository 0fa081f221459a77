#!/usr/bin/env bash
# Browser test of the console (docs/users.md): Debian's chromium, headless,
# driven by puppeteer-core from tests/sdk's lockfile (no browser download),
# against a real coffer-vault.  Users are made here with `coffer user
# create`: ada (Key Vault Administrator), sam (no role at first) and
# locky (for the lockout).  The suite itself is tests/sdk/browser/
# console.test.mjs; screenshots of each page go to COFFER_ARTIFACTS
# (default: the build's artifacts/console).  Then: the secret revealed in
# the browser is in no server log.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs chromium
# (scripts/install-deps) and tests/sdk's npm packages.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ -d "$SRC/.cache/node/bin" ] && export PATH="$SRC/.cache/node/bin:$PATH"
command -v chromium >/dev/null || { echo "chromium is missing: run scripts/install-deps"; exit 1; }
[ -d "$SRC/tests/sdk/node_modules/puppeteer-core" ] ||
    { echo "puppeteer-core is missing: run scripts/install-deps"; exit 1; }
ARTIFACTS=${COFFER_ARTIFACTS:-$(cd "$BIN/.." && pwd)/artifacts/console}
mkdir -p "$ARTIFACTS"

start_vault
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json

export ADA_PW="ada's console password" SAM_PW="sam's console password" LOCKY_PW="locky's password!"
for u in ada sam locky; do
    var=$(echo "$u" | tr a-z A-Z)_PW
    printf '%s' "${!var}" | "$CLI" user create "$u" --password-file - >/dev/null 2>"$TMP/err" &&
        ok "user create $u" || bad "user create $u"
done
oid() { "$CLI" user show "$1" --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["object_id"])'; }
check "ada is an administrator" "$CLI" role assign --role "Key Vault Administrator" --principal "$(oid ada)"
export SAM_OID=$(oid sam)

# Chromium trusts the vault's certificate by its public key only.
SPKI=$(openssl x509 -in "$TMP/vault/tls/server.crt" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
export COFFER_VAULT_URL=https://127.0.0.1:$PORT COFFER_SPKI=$SPKI COFFER_ARTIFACTS=$ARTIFACTS
export COFFER_SERVER_LOG=$TMP/server.log NODE_EXTRA_CA_CERTS=$TMP/vault/tls/ca.crt
(cd "$SRC/tests/sdk" && node --test --test-reporter=spec browser/console.test.mjs) \
    >"$TMP/node.out" 2>&1 && ok "the browser suite passed" || bad "the browser suite passed"
cp "$TMP/node.out" "$ARTIFACTS/node.out"
sed 's/^/    /' "$TMP/node.out" | tail -60
for page in sign-in sign-in-wrong keys keys-rotated secrets-revealed access reader-keys audit health signed-out; do
    [ -s "$ARTIFACTS/$page.png" ] && ok "screenshot $page.png" || bad "screenshot $page.png"
done
grep -qF 'console-secret-value-7f3a' "$TMP/server.log" "$TMP/vault/audit.log" &&
    bad "the revealed secret is in no server log" || ok "the revealed secret is in no server log"
grep -q '"operation":"Microsoft.KeyVault/vaults/secrets/getSecret/action"' "$TMP/vault/audit.log" &&
    ok "the reveal is audited" || bad "the reveal is audited"
echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
