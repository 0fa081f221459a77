#!/usr/bin/env bash
# System test: coffer-blob refuses an expired bearer token.  A coffer-vault
# issuing tokens that live a few seconds (--token-lifetime) and a coffer-blob
# trusting it; the vault's administrator, given Storage Blob Data Reader on
# the default account, lists containers with a fresh storage token (200),
# and once the token's exp has passed the same request is 401
# InvalidAuthenticationInfo with the Bearer challenge.  Real components
# only: the token is the vault's own, signed with its key.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, curl, python3.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
LIFETIME=3   # seconds: long enough to use the token once, short enough to wait out

vault_ready() { [ -s "$TMP/vault/bootstrap.json" ] && port_in_use "$1"; }
for _ in $(seq 1 5); do
    p=$(random_free_port) || continue
    rm -rf "$TMP/vault"
    launch "$p" vault_ready "$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$p" \
        --log-level warn --token-lifetime "$LIFETIME" && break
done
[ -n "$PORT" ] || { tail -20 "$TMP/server.log"; echo "the vault did not start"; exit 1; }
VAULT_PID=$SERVER_PID
VAULT_URL=https://127.0.0.1:$PORT
field() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
TENANT=$(field "$TMP/vault/bootstrap.json" tenant_id)
VAULT_CA=$(field "$TMP/vault/bootstrap.json" ca_cert)

BLOB_DIR=$TMP/blob
PORT=
for _ in $(seq 1 5); do
    p=$(random_free_port) || continue
    launch "$p" blob_ready "$BIN/coffer-blob" --data-dir "$BLOB_DIR" --listen "127.0.0.1:$p" \
        --vault-url "$VAULT_URL" --vault-ca "$VAULT_CA" --tenant-id "$TENANT" \
        --log-level info && break
done
[ -n "$PORT" ] || { tail -20 "$TMP/server.log"; echo "coffer-blob did not start"; exit 1; }
BLOB_PID=$SERVER_PID
SERVER_PID=$VAULT_PID   # base.sh's cleanup stops this one; the blob server is stopped below

# The client side in Python: the token (client credentials), a role
# assignment through the admin API (Shared Key) and the bearer requests.
# Prints "STATUS CODE" lines for the shell to judge.
python3 - "$TMP/vault/bootstrap.json" "$BLOB_DIR/bootstrap.json" "$PORT" >"$TMP/client.out" \
    2>"$TMP/err" <<'PYEOF' || true
import base64, datetime, email.utils, hashlib, hmac, json, ssl, sys, time, urllib.error
import urllib.parse, urllib.request, uuid

vault = json.load(open(sys.argv[1]))
blob = json.load(open(sys.argv[2]))
port = sys.argv[3]
account = blob["account_name"]
base = f"https://127.0.0.1:{port}"
blob_ctx = ssl.create_default_context(cafile=f"{sys.argv[2].rsplit('/', 1)[0]}/tls/ca.crt")
vault_ctx = ssl.create_default_context(cafile=vault["ca_cert"])

def storage_token():
    data = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": vault["client_id"],
        "client_secret": vault["client_secret"], "scope": "https://storage.azure.com/.default"}).encode()
    url = f'{vault["authority_host"]}/{vault["tenant_id"]}/oauth2/v2.0/token'
    token = json.load(urllib.request.urlopen(url, data, context=vault_ctx))["access_token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return token, claims

def send(method, path, headers, body=b""):
    req = urllib.request.Request(base + path, data=body or None, method=method, headers=headers)
    try:
        r = urllib.request.urlopen(req, context=blob_ctx)
    except urllib.error.HTTPError as e:
        r = e
    r.read()
    return r.status, r.headers.get("x-ms-error-code", "-"), r.headers.get("WWW-Authenticate", "")

def shared_key_put(path, body):
    # Shared Key string to sign (path-style: the account, then the raw path).
    date = email.utils.formatdate(usegmt=True)
    headers = {"x-ms-date": date, "x-ms-version": "2026-10-06", "Content-Type": "application/json"}
    sts = "\n".join(["PUT", "", "", str(len(body)), "", "application/json", "", "", "", "", "", ""])
    sts += f"\nx-ms-date:{date}\nx-ms-version:2026-10-06\n/{account}{path}"
    sig = base64.b64encode(hmac.new(base64.b64decode(blob["account_key"]), sts.encode(),
                                    hashlib.sha256).digest()).decode()
    headers["Authorization"] = f"SharedKey {account}:{sig}"
    return send("PUT", path, headers, body)

def list_with(token):
    return send("GET", f"/{account}?comp=list",
                {"Authorization": f"Bearer {token}", "x-ms-version": "2026-10-06"})

_, claims = storage_token()
body = json.dumps({"properties": {"roleDefinitionId": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                                  "principalId": claims["oid"], "scope": "/"}}).encode()
print("assign", *shared_key_put(f"/.coffer/{account}/roleAssignments/{uuid.uuid4()}", body)[:2])
print("lifetime", claims["exp"] - claims["iat"])
# A fresh token, used at once; a machine slow enough to outlive it gets
# another try rather than a false failure.
for _ in range(3):
    token, claims = storage_token()
    status, code, _ = list_with(token)
    if time.time() < claims["exp"]:
        break
print("fresh", status, code)
while time.time() < claims["exp"] + 1:
    time.sleep(0.2)
status, code, challenge = list_with(token)
print("expired", status, code)
print("challenge", "bearer" if challenge.startswith("Bearer authorization_uri=") else "none")
PYEOF

line() { sed -n "s/^$1 //p" "$TMP/client.out"; }
expect "role assigned (201)" [ "$(line assign)" = "201 -" ]
expect "tokens live ${LIFETIME} s (--token-lifetime)" [ "$(line lifetime)" = "$LIFETIME" ]
expect "a fresh token lists containers (200)" [ "$(line fresh)" = "200 -" ]
expect "the expired token: 401 InvalidAuthenticationInfo" \
    [ "$(line expired)" = "401 InvalidAuthenticationInfo" ]
expect "with the Bearer challenge" [ "$(line challenge)" = bearer ]
# A refused token names no principal: the audit line says "bearer", denied.
if grep -q '"principal":"bearer".*"operation":"ListContainers".*"result":"denied","status":401' \
    "$BLOB_DIR/audit.log" 2>/dev/null; then
    ok "the refusal is audited"
else
    bad "the refusal is audited"
fi

kill -TERM "$BLOB_PID" 2>/dev/null || true
wait "$BLOB_PID" 2>/dev/null || true
echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
