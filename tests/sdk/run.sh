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
#
# Blob suites (file name starting with "blob"): the vault is started once and
# kept running (coffer-blob trusts its tokens), then coffer-blob is
# initialised and started on its own data dir with a plain-HTTP listener and
# an insecure account (dev/test flags, docs/blob.md);
# the suite gets COFFER_BLOB_DIR (bootstrap.json, tls/ca.crt),
# COFFER_BLOB_PORT, COFFER_BLOB_HTTP_PORT and COFFER_BLOB_INSECURE_ACCOUNT,
# and NODE_EXTRA_CA_CERTS holds both CAs.  COFFER_BLOB_TARGET=azurite runs the
# same suite against Azurite (npm, HTTPS with a CA made here) to debug the
# client side; coffer-only cases skip themselves there.  A suite still named
# *.test.mjs.pending (kept out of CTest's glob) is loaded as ES module.
#
# COFFER_TEST_STORE=postgres (the sdk-scale/ tests): the vault runs as two
# front ends over one throw-away PostgreSQL (tests/system/lib/engines.sh).
# The first front end initialises DIR; the second gets DIR-b with a copy of
# the seal (seal.json, the token's PIN and configuration, the token itself
# shared) and of the TLS material, as docs/scale-out.md's key ceremony
# does, and its own port (COFFER_TEST_DIR_B, COFFER_TEST_PORT_B).  The
# harness starts both and sends the suite's requests to each in turn.  The
# blob suites get the same: a throw-away Ceph too (extents in its pool), two
# coffer-blob front ends over the PostgreSQL store and RADOS (the second
# with frontend_clone's copy of the first's seal, COFFER_BLOB_PORT_B), and
# lib/alternate_front_ends.mjs sends every request of the suite to each
# front end in turn.
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
blob_bin="$COFFER_BIN/coffer-blob"
blob_suite=0
case "$(basename "$file")" in blob*) blob_suite=1 ;; esac
blob_target="${COFFER_BLOB_TARGET:-coffer}"
[ "$blob_suite" = 1 ] || blob_target=""
case "$blob_target" in ""|coffer|azurite) ;; *) echo "run.sh: COFFER_BLOB_TARGET must be coffer or azurite" >&2; exit 2 ;; esac
[ -x "$vault_bin" ] || { echo "run.sh: $vault_bin not built" >&2; exit 1; }
if [ "$blob_target" = coffer ] && [ ! -x "$blob_bin" ]; then
  echo "run.sh: $blob_bin not built (COFFER_BLOB_TARGET=azurite runs the suite against Azurite)" >&2; exit 1
fi
command -v node >/dev/null || { echo "run.sh: node not found" >&2; exit 1; }
if [ "$blob_suite" = 1 ] && [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  echo "run.sh: the blob suites need Node.js >= 22 (scripts/install-deps puts one in .cache/node)" >&2; exit 1
fi
if [ ! -d "$here/node_modules/@azure/keyvault-keys" ] || [ ! -d "$here/node_modules/@azure/keyvault-secrets" ] ||
   [ ! -d "$here/node_modules/@azure/storage-blob" ] || [ ! -d "$here/node_modules/azurite" ]; then
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

store="${COFFER_TEST_STORE:-sqlite}"
case "$store" in sqlite|postgres) ;; *) echo "run.sh: COFFER_TEST_STORE must be sqlite or postgres" >&2; exit 2 ;; esac
work="$(mktemp -d "${TMPDIR:-/tmp}/coffer-sdk.XXXXXX")"
dir="$work/data"
blob_dir="$work/blob"
server_pid=""
node_pid=""
vault_pid=""   # blob suites: the vault kept running for the suite
blob_pid=""    # blob suites: coffer-blob or Azurite
blob_pid_b=""  # scale-out blob suites: the second coffer-blob front end
blob_port_b=""

# TERM, wait up to 30 s, then KILL; returns 1 if it had to kill.
stop_pid() {
  local p="$1" what="$2"
  kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || return 0; sleep 0.1; done
  echo "run.sh: $what pid $p did not stop on SIGTERM within 30 s" >&2
  kill -KILL "$p" 2>/dev/null
  return 1
}

cleanup() {
  local rc=$?
  set +e
  [ "$store" = sqlite ] || engines_stop
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then
    kill -TERM "$node_pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$node_pid" 2>/dev/null
  fi
  # The first server (ours) and any the suite left behind (harness pid files;
  # they include servers on other data dirs under $work, see createSite).
  local pids="$server_pid $vault_pid $blob_pid $blob_pid_b"
  if [ -d "$dir/logs/pids" ]; then
    pids="$pids $(ls "$dir/logs/pids" 2>/dev/null | tr '\n' ' ')"
  fi
  for p in $pids; do
    if [ -r "/proc/$p/cmdline" ] && tr '\0' ' ' <"/proc/$p/cmdline" |
        grep -Eq "(coffer-vault|coffer-blob).*--data-dir $work/|azurite.*--blobPort"; then
      echo "run.sh: killing leftover pid $p ($(tr '\0' ' ' <"/proc/$p/cmdline" | cut -c1-60))"
      kill -KILL "$p" 2>/dev/null
    fi
  done
  if [ "$rc" -ne 0 ] && [ -f "$dir/logs/vault.log" ]; then
    echo "---- last lines of the server log ($dir/logs/vault.log)"
    tail -n 40 "$dir/logs/vault.log"
  fi
  if [ "$rc" -ne 0 ] && [ -f "$work/blob.log" ]; then
    echo "---- last lines of the blob server log ($work/blob.log)"
    tail -n 60 "$work/blob.log"
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
store_args=()
if [ "$store" = postgres ]; then
  . "$root/tests/system/lib/engines.sh"
  pg_start "$work" >/dev/null || { echo "run.sh: PostgreSQL did not start" >&2; exit 1; }
  store_args=(--store "postgres:$PG_CONNINFO")
  export COFFER_TEST_STORE_ARG="postgres:$PG_CONNINFO" COFFER_TEST_PG_DATA="$work/pg/data"
fi
log="$dir/logs/vault.log"

echo "run.sh: initialising $dir on 127.0.0.1:$port ($vault_bin)"
# The data dir must not exist yet for a first start; logs live inside it,
# so initialise into it after creating only the logs directory.
"$vault_bin" --data-dir "$dir" --listen "127.0.0.1:$port" "${store_args[@]}" >>"$log" 2>&1 &
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

if [ "$store" = postgres ] && [ "$blob_suite" = 0 ]; then
  # (Blob suites scale the blob service; their vault stays one front end.)
  # The second front end's directory: the same seal (its token shared, not
  # copied: keys made in it by either front end are the other's too) and
  # the same TLS material.
  dir_b="$dir-b"
  frontend_clone "$dir" "$dir_b"
  mkdir -p "$dir_b/logs"
  port_b="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  export COFFER_TEST_DIR_B="$dir_b" COFFER_TEST_PORT_B="$port_b"
  echo "run.sh: second front end $dir_b on 127.0.0.1:$port_b, both on PostgreSQL"
fi

ca_bundle="$dir/tls/ca.crt"
node_args=()
case "$file" in *.pending) node_args+=(--import "$here/lib/blob_pending.mjs") ;; esac

if [ "$blob_suite" = 1 ]; then
  # The vault, kept running: coffer-blob checks its tokens.
  "$vault_bin" --data-dir "$dir" --listen "127.0.0.1:$port" "${store_args[@]}" >>"$log" 2>&1 &
  vault_pid=$!
  for _ in $(seq 1 600); do
    kill -0 "$vault_pid" 2>/dev/null || { echo "run.sh: coffer-vault exited" >&2; exit 1; }
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$dir/tls/ca.crt" \
      "https://127.0.0.1:$port/keys?api-version=7.5" || true)"
    [ "$code" = 401 ] && break
    sleep 0.1
  done
  [ "$code" = 401 ] || { echo "run.sh: coffer-vault not ready after 60 s" >&2; exit 1; }
  tenant="$(node -p "JSON.parse(require('fs').readFileSync('$dir/bootstrap.json','utf8')).tenant_id")"

  blob_port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  blob_http_port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
  insecure_account="insecure1"
  blob_log="$work/blob.log"
  if [ "$blob_target" = coffer ]; then
    echo "run.sh: starting coffer-blob on $blob_dir, https 127.0.0.1:$blob_port, http 127.0.0.1:$blob_http_port"
    blob_store_args=()
    if [ "$store" = postgres ]; then
      ceph_start "$work" >/dev/null || { echo "run.sh: Ceph did not start" >&2; exit 1; }
      blob_store_args=(--store "postgres:$PG_CONNINFO" --extents "rados:$CEPH_POOL")
      export COFFER_TEST_CEPH_POOL="$CEPH_POOL"   # the suites' at-rest scan reads every object
    fi
    blob_args=(--http-listen "127.0.0.1:$blob_http_port" --insecure-account "$insecure_account"
      --vault-url "https://127.0.0.1:$port" --vault-ca "$dir/tls/ca.crt" --tenant-id "$tenant"
      --log-level info "${blob_store_args[@]}")
    "$blob_bin" --data-dir "$blob_dir" --listen "127.0.0.1:$blob_port" "${blob_args[@]}" >>"$blob_log" 2>&1 &
    blob_pid=$!
  else
    # Azurite (plaintext, in memory) behind a CA made here, with the same
    # bootstrap.json shape as coffer-blob's.
    echo "run.sh: starting Azurite on https 127.0.0.1:$blob_port (COFFER_BLOB_TARGET=azurite)"
    mkdir -p "$blob_dir/tls"
    node "$here/lib/blob_azurite.mjs" init "$blob_dir" "$blob_port" >/dev/null
    # It fetches copy sources over HTTPS from itself: trust its own CA.
    AZURITE_ACCOUNTS="$(node "$here/lib/blob_azurite.mjs" accounts "$blob_dir")" NODE_EXTRA_CA_CERTS="$blob_dir/tls/ca.crt" \
      node "$here/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$blob_port" \
      --inMemoryPersistence --disableTelemetry --skipApiVersionCheck --loose --silent \
      --cert "$blob_dir/tls/server.crt" --key "$blob_dir/tls/server.key" >>"$blob_log" 2>&1 &
    blob_pid=$!
  fi
  ready=0
  for _ in $(seq 1 600); do
    kill -0 "$blob_pid" 2>/dev/null || { echo "run.sh: the blob server exited" >&2; cat "$blob_log" >&2; exit 1; }
    if [ -f "$blob_dir/bootstrap.json" ] && [ -f "$blob_dir/tls/ca.crt" ]; then
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$blob_dir/tls/ca.crt" \
        "https://127.0.0.1:$blob_port/coffer?comp=list" || true)"
      if [ "$code" = 401 ] || [ "$code" = 403 ]; then ready=1; break; fi
    fi
    sleep 0.1
  done
  [ "$ready" = 1 ] || { echo "run.sh: the blob server not ready after 60 s (last status $code)" >&2; exit 1; }
  if [ "$store" = postgres ] && [ "$blob_target" = coffer ]; then
    # The second front end: a copy of the first one's seal and TLS material,
    # its own ports (its plain-HTTP listener is not used by the suites).
    frontend_clone "$blob_dir" "$blob_dir-b"
    blob_port_b="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    http_b="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
    blob_args_b=("${blob_args[@]}")
    blob_args_b[1]="127.0.0.1:$http_b"
    "$blob_bin" --data-dir "$blob_dir-b" --listen "127.0.0.1:$blob_port_b" "${blob_args_b[@]}" >>"$work/blob-b.log" 2>&1 &
    blob_pid_b=$!
    for _ in $(seq 1 600); do
      kill -0 "$blob_pid_b" 2>/dev/null || { echo "run.sh: the second blob front end exited" >&2; cat "$work/blob-b.log" >&2; exit 1; }
      code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$blob_dir/tls/ca.crt" \
        "https://127.0.0.1:$blob_port_b/coffer?comp=list" || true)"
      [ "$code" = 401 ] || [ "$code" = 403 ] && break
      sleep 0.1
    done
    export COFFER_BLOB_PORT_B="$blob_port_b"
    node_args+=(--import "$here/lib/alternate_front_ends.mjs")
    echo "run.sh: second blob front end on 127.0.0.1:$blob_port_b (PostgreSQL + RADOS)"
  fi
  ca_bundle="$work/ca-bundle.pem"
  cat "$dir/tls/ca.crt" "$blob_dir/tls/ca.crt" >"$ca_bundle"
  export COFFER_BLOB_DIR="$blob_dir" COFFER_BLOB_PORT="$blob_port" COFFER_BLOB_HTTP_PORT="$blob_http_port" \
    COFFER_BLOB_INSECURE_ACCOUNT="$insecure_account" COFFER_BLOB_TARGET="$blob_target" COFFER_BLOB_LOG="$blob_log"
fi

cd "$here"
# In the background so that a TERM/INT to this script runs the cleanup at
# once (bash defers traps while a foreground child runs).
NODE_EXTRA_CA_CERTS="$ca_bundle" COFFER_TEST_DIR="$dir" COFFER_TEST_PORT="$port" \
  node "${node_args[@]}" --test --test-reporter=spec "$@" "$file" &
node_pid=$!
set +e
wait "$node_pid"
rc=$?
set -e
node_pid=""
if [ "$blob_suite" = 1 ]; then
  if [ -n "$blob_pid" ]; then
    set +e
    stop_pid "$blob_pid" "blob server" || rc=1
    wait "$blob_pid"; brc=$?
    set -e
    # SIGTERM is a clean stop for coffer-blob (Azurite exits 0 or by signal).
    if [ "$blob_target" = coffer ] && [ "$brc" -ne 0 ]; then
      echo "run.sh: coffer-blob exited with status $brc on SIGTERM" >&2; rc=1
    fi
    blob_pid=""
  fi
  if [ -n "$blob_pid_b" ]; then
    set +e
    stop_pid "$blob_pid_b" "second blob front end" || rc=1
    wait "$blob_pid_b" || { echo "run.sh: the second coffer-blob front end did not stop cleanly" >&2; rc=1; }
    set -e
    blob_pid_b=""
  fi
  set +e
  stop_pid "$vault_pid" coffer-vault || rc=1
  wait "$vault_pid"
  set -e
  vault_pid=""
fi
# After the suite, the audit logs of the suite's servers must still verify
# (the suite stops its servers; a log cut by SIGKILL is mended by the next
# start, so only the main data dirs, whose last stop is clean, are checked).
for log in "$dir/audit.log" ${dir_b:+"$dir_b/audit.log"} "$blob_dir/audit.log" \
  ${blob_port_b:+"$blob_dir-b/audit.log"}; do
  [ "$rc" -eq 0 ] && [ -f "$log" ] || continue
  if "$(dirname "$vault_bin")/coffer" audit verify "$log"; then
    echo "run.sh: audit log $log verified"
  else
    echo "run.sh: the audit log $log does not verify" >&2
    rc=1
  fi
done
exit "$rc"
