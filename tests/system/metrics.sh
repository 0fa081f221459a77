#!/usr/bin/env bash
# System test: /metrics on both services (docs/metrics.md).  A coffer-vault
# and a coffer-blob trusting its tokens; lib/metrics_client.py scrapes both
# with the vault's own tokens and parses every scrape with the Prometheus
# project's text-format parser: who may scrape (no token 401; no role and
# Key Vault Reader 403; the administrator and Coffer Metrics Reader 200),
# the families each service shows, and that the values move with the
# requests made between two scrapes (key operations by algorithm, requests
# by operation and status, the latency histogram, caches, audit lines).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs Debian's python3 with
# python3-prometheus-client (scripts/install-deps).
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
PY=/usr/bin/python3
"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
    { echo "python3-prometheus-client is missing: run scripts/install-deps"; exit 1; }

start_vault
VAULT_PID=$SERVER_PID
field() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
TENANT=$(field "$TMP/vault/bootstrap.json" tenant_id)
VAULT_CA=$(field "$TMP/vault/bootstrap.json" ca_cert)

BLOB_DIR=$TMP/blob
start_blob --vault-url "$(field "$TMP/vault/bootstrap.json" vault_url)" --vault-ca "$VAULT_CA" \
    --tenant-id "$TENANT"
BLOB_PID=$SERVER_PID
SERVER_PID=$VAULT_PID # base.sh's cleanup stops this one; the blob server is stopped below

"$PY" "$(dirname "$0")/lib/metrics_client.py" "$TMP/vault/bootstrap.json" \
    "$BLOB_DIR/bootstrap.json" "$PORT" >"$TMP/client.out" 2>"$TMP/err" || true
cat "$TMP/client.out"
PASS=$((PASS + $(grep -c '^ok ' "$TMP/client.out" || true)))
FAIL=$((FAIL + $(grep -c '^FAIL ' "$TMP/client.out" || true)))
if [ -s "$TMP/err" ]; then bad "the client ran to the end"; fi
expect "every check ran" [ "$(grep -c '^ok \|^FAIL ' "$TMP/client.out")" -ge 50 ]

# Scrapes are audited like any request, and never carry the token.
grep -q '"operation":"Microsoft.KeyVault/vaults/metrics/read/action"' "$TMP/vault/audit.log" &&
    ok "vault scrapes are audited" || bad "vault scrapes are audited"
grep -q '"operation":"GetMetrics"' "$BLOB_DIR/audit.log" &&
    ok "blob scrapes are audited" || bad "blob scrapes are audited"

kill -TERM "$BLOB_PID" 2>/dev/null || true
wait "$BLOB_PID" 2>/dev/null || true
echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
