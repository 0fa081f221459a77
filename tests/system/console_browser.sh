#!/usr/bin/env bash
# Browser test of the console (docs/users.md): Debian's chromium, headless,
# driven by puppeteer-core from tests/sdk's lockfile (no browser download),
# against a real coffer-vault and coffer-blob.  Users are made here with
# `coffer user create`: ada (Key Vault Administrator), sam (no role at
# first) and locky (for the lockout).  The suite itself is tests/sdk/browser/
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

# The console calls coffer-blob: its port is chosen first, for the vault's
# --console-blob-url; coffer-blob trusts the vault's tokens and allows its
# origin by CORS.  Another test may take that port meanwhile: then both
# start again on new ones.
field() { /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json
BLOB_DIR=$TMP/blob
# bring_up BLOB_PORT: the vault (told where coffer-blob will be), the
# blob service's identity and key in it, then coffer-blob on that port.
bring_up() {
    BLOB_PORT=$1
    start_vault --console-blob-url "https://127.0.0.1:$BLOB_PORT"
    VAULT_PID=$SERVER_PID VAULT_PORT=$PORT
    # coffer-blob's own identity in the vault, for an account keyed by a
    # vault key (as scripts/run makes it), and that key.
    "$CLI" principal create --name coffer-blob --output json >"$TMP/blob-sp.json" &&
        /usr/bin/python3 - "$COFFER_BOOTSTRAP" "$TMP/blob-sp.json" "$TMP/blob-identity.json" <<'EOF2' &&
import json, os, sys
b = json.load(open(sys.argv[1])); sp = json.load(open(sys.argv[2]))
doc = {k: b[k] for k in ("vault_url", "ca_cert", "tenant_id", "authority_host")}
doc.update(client_id=sp["client_id"], client_secret=sp["client_secret"])
fd = os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, json.dumps(doc).encode())
EOF2
        "$CLI" key create storage-cmk --kty RSA --size 2048 >/dev/null &&
        "$CLI" role assign --role "Key Vault Crypto Service Encryption User" \
            --principal "$(field "$TMP/blob-sp.json" object_id)" --scope /keys/storage-cmk >/dev/null ||
        { echo "the vault set-up failed"; exit 1; }
    rm -rf "$BLOB_DIR"
    launch "$BLOB_PORT" blob_ready "$BIN/coffer-blob" --data-dir "$BLOB_DIR" \
        --listen "127.0.0.1:$BLOB_PORT" --vault-url "https://127.0.0.1:$VAULT_PORT" \
        --vault-ca "$TMP/vault/tls/ca.crt" --tenant-id "$(field "$COFFER_BOOTSTRAP" tenant_id)" \
        --vault-bootstrap "$TMP/blob-identity.json" && return 0
    kill "$VAULT_PID" && wait "$VAULT_PID" 2>/dev/null || true
    return 1
}
on_free_port "coffer-blob and the vault" bring_up
ok "both services up, coffer-blob with its identity in the vault and a vault key to use"
BLOB_PID=$SERVER_PID
SERVER_PID=$VAULT_PID PORT=$VAULT_PORT # base.sh's cleanup stops the vault; coffer-blob is a job

# In the default account: a blob encrypted by the client (the SDKs'
# format, by the CLI) and one in a "folder", for the blob browser.
export COFFER_BLOB_DIR=$BLOB_DIR
head -c 32 /dev/urandom >"$TMP/kek.key"
printf 'a letter for the console\n' >"$TMP/letter.txt"
check "container letters" "$CLI" container create letters
check "a client-side encrypted blob" "$CLI" blob upload "$TMP/letter.txt" --container letters \
    --name sealed.txt --encrypt-with "file:$TMP/kek.key"
check "a blob in a folder" "$CLI" blob upload "$TMP/letter.txt" --container letters --name drafts/plain.txt

export ADA_PW="ada's console password" SAM_PW="sam's console password" LOCKY_PW="locky's password!"
for u in ada sam locky; do
    var=$(echo "$u" | tr a-z A-Z)_PW
    printf '%s' "${!var}" | "$CLI" user create "$u" --password-file - >/dev/null 2>"$TMP/err" &&
        ok "user create $u" || bad "user create $u"
done
oid() { "$CLI" user show "$1" --output json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["object_id"])'; }
check "ada is an administrator" "$CLI" role assign --role "Key Vault Administrator" --principal "$(oid ada)"
export SAM_OID=$(oid sam)

# Chromium trusts both services' certificates by their public keys only.
spki() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64; }
SPKI="$(spki "$TMP/vault/tls/server.crt"),$(spki "$BLOB_DIR/tls/server.crt")"
cat "$TMP/vault/tls/ca.crt" "$BLOB_DIR/tls/ca.crt" >"$TMP/ca-bundle.pem"
export COFFER_VAULT_URL=https://127.0.0.1:$PORT COFFER_SPKI=$SPKI COFFER_ARTIFACTS=$ARTIFACTS
export COFFER_BLOB_URL=https://127.0.0.1:$BLOB_PORT
export COFFER_SERVER_LOG=$TMP/server.log NODE_EXTRA_CA_CERTS=$TMP/ca-bundle.pem
(cd "$SRC/tests/sdk" && node --test --test-reporter=spec browser/console.test.mjs) \
    >"$TMP/node.out" 2>&1 && ok "the browser suite passed" || bad "the browser suite passed"
cp "$TMP/node.out" "$ARTIFACTS/node.out"
sed 's/^/    /' "$TMP/node.out" | tail -60
for page in sign-in sign-in-wrong keys keys-rotated secrets-revealed access reader-keys storage blob-browser \
    blob-properties audit audit-blob health signed-out; do
    [ -s "$ARTIFACTS/$page.png" ] && ok "screenshot $page.png" || bad "screenshot $page.png"
done
grep -qF 'console-secret-value-7f3a' "$TMP/server.log" "$TMP/vault/audit.log" &&
    bad "the revealed secret is in no server log" || ok "the revealed secret is in no server log"
grep -q '"operation":"Microsoft.KeyVault/vaults/secrets/getSecret/action"' "$TMP/vault/audit.log" &&
    ok "the reveal is audited" || bad "the reveal is audited"
grep -q '"operation":"GetUserDelegationKey".*"result":"success"' "$BLOB_DIR/audit.log" &&
    ok "the SAS's delegation key is audited" || bad "the SAS's delegation key is audited"
"$CLI" audit verify "$BLOB_DIR/audit.log" >"$TMP/out" 2>"$TMP/err" &&
    ok "coffer-blob's audit chain is intact" || bad "coffer-blob's audit chain is intact"
echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
