#!/usr/bin/env bash
# Runs one official-SDK suite against a fresh coffer-vault.
#
#   tests/sdk/run.sh keys.test.mjs      (path absolute or relative to tests/sdk)
#
# Creates a temporary data directory, picks a free loopback port, starts
# coffer-vault once to initialise the directory (bootstrap.json, local CA),
# stops it, then runs `node --test FILE` with NODE_EXTRA_CA_CERTS pointing at
# the CA (node reads it only at start) and COFFER_TEST_DIR/COFFER_TEST_PORT
# set; the suite starts and stops its own servers through lib/harness.mjs.
# Leftover servers are killed and the directory removed on every exit
# (COFFER_KEEP_TEST_DIR=1 keeps it).  COFFER_BIN defaults to build/bin.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${COFFER_SOURCE:-$(cd "$here/../.." && pwd)}"
[ $# -ge 1 ] || { echo "usage: $0 FILE.test.mjs [node --test args]" >&2; exit 2; }
file="$1"; shift
case "$file" in /*) ;; *) [ -f "$file" ] || file="$here/$file" ;; esac
file="$(cd "$(dirname "$file")" && pwd)/$(basename "$file")"
[ -f "$file" ] || { echo "run.sh: no such suite: $file" >&2; exit 2; }

[ -d "$root/.cache/node/bin" ] && export PATH="$root/.cache/node/bin:$PATH"
COFFER_BIN="${COFFER_BIN:-$root/build/bin}"
[ -d "$COFFER_BIN" ] && COFFER_BIN="$(cd "$COFFER_BIN" && pwd)"   # the suite runs from tests/sdk
export COFFER_BIN
vault_bin="$COFFER_BIN/coffer-vault"
[ -x "$vault_bin" ] || { echo "run.sh: $vault_bin not built" >&2; exit 1; }
command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 1; }
if [ ! -d "$here/node_modules/@azure/keyvault-keys" ] || [ ! -d "$here/node_modules/@azure/keyvault-secrets" ]; then
  echo "run.sh: installing the SDKs from package-lock.json (npm ci)"
  (cd "$here" && npm ci --silent --no-audit --no-fund)
fi

# Only loopback, never a proxy; nothing from the caller's Azure environment.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
unset AZURE_CLIENT_ID AZURE_TENANT_ID AZURE_CLIENT_SECRET AZURE_CLIENT_CERTIFICATE_PATH \
  AZURE_CLIENT_CERTIFICATE_PASSWORD AZURE_USERNAME AZURE_PASSWORD AZURE_FEDERATED_TOKEN_FILE \
  AZURE_AUTHORITY_HOST AZURE_TOKEN_CREDENTIALS IDENTITY_ENDPOINT IDENTITY_HEADER \
  IDENTITY_SERVER_THUMBPRINT MSI_ENDPOINT MSI_SECRET IMDS_ENDPOINT \
  AZURE_POD_IDENTITY_AUTHORITY_HOST AZURE_REGIONAL_AUTHORITY_NAME REGION_NAME
export NO_PROXY=127.0.0.1 no_proxy=127.0.0.1

work="$(mktemp -d "${TMPDIR:-/tmp}/coffer-sdk.XXXXXX")"
dir="$work/data"
server_pid=""
node_pid=""

cleanup() {
  local rc=$?
  set +e
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$node_pid" 2>/dev/null
  fi
  # The first server (ours) and any the suite left behind (harness pid files;
  # they include servers on other data dirs under $work, see createSite).
  local pids="$server_pid"
  if [ -d "$dir/logs/pids" ]; then
    pids="$pids $(ls "$dir/logs/pids" 2>/dev/null | tr '\n' ' ')"
  fi
  for p in $pids; do
    if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "coffer-vault.*--data-dir $work/"; then
      echo "run.sh: killing leftover coffer-vault pid $p"
      kill -KILL "$p" 2>/dev/null
    fi
  done
  if [ "$rc" -ne 0 ] && [ -f "$dir/logs/vault.log" ]; then
    echo "---- last lines of the server log ($dir/logs/vault.log)"
    tail -n 40 "$dir/logs/vault.log"
  fi
  if [ "${COFFER_KEEP_TEST_DIR:-0}" = 1 ]; then
    echo "run.sh: kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
mkdir -p "$dir/logs"
log="$dir/logs/vault.log"

echo "run.sh: initialising $dir on 127.0.0.1:$port ($vault_bin)"
# The data dir must not exist yet for a first start; logs live inside it,
# so initialise into it after creating only the logs directory.
"$vault_bin" --data-dir "$dir" --listen "127.0.0.1:$port" >>"$log" 2>&1 &
server_pid=$!

ready=0
for _ in $(seq 1 600); do   # at most ~60 s
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: coffer-vault exited during initialisation" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ -f "$dir/bootstrap.json" ] && [ -f "$dir/tls/ca.crt" ]; then
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$dir/tls/ca.crt" \
      "https://127.0.0.1:$port/keys?api-version=7.5" || true)"
    if [ "$code" = 401 ]; then ready=1; break; fi
  fi
  sleep 0.1
done
[ "$ready" = 1 ] || { echo "run.sh: coffer-vault not ready after 60 s" >&2; exit 1; }

kill -TERM "$server_pid"
for _ in $(seq 1 300); do   # at most ~30 s
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "run.sh: coffer-vault did not stop on SIGTERM within 30 s" >&2
  exit 1
fi
wait "$server_pid" || { echo "run.sh: coffer-vault exited with status $? on SIGTERM" >&2; exit 1; }
server_pid=""

cd "$here"
# In the background so that a TERM/INT to this script runs the cleanup at
# once (bash defers traps while a foreground child runs).
NODE_EXTRA_CA_CERTS="$dir/tls/ca.crt" COFFER_TEST_DIR="$dir" COFFER_TEST_PORT="$port" \
  node --test --test-reporter=spec "$@" "$file" &
node_pid=$!
set +e
wait "$node_pid"
rc=$?
set -e
node_pid=""
# After the suite, the audit log of the suite's vault must still verify
# (the suite stops its servers; a log cut by SIGKILL is mended by the next
# start, so only the main data dir, whose last stop is clean, is checked).
if [ "$rc" -eq 0 ] && [ -f "$dir/audit.log" ]; then
  if "$(dirname "$vault_bin")/coffer" audit verify "$dir/audit.log"; then
    echo "run.sh: audit log verified"
  else
    echo "run.sh: the audit log of $dir does not verify" >&2
    rc=1
  fi
fi
exit "$rc"
