#!/usr/bin/env bash
# coffer-vault under a connection flood: the same 2,000 slow connections
# from 16 loopback addresses as flood_blob.sh, for 30 s, while a client on
# 127.0.0.1 reads a secret with a bearer token on a fresh connection each
# time; judged by tests/system/conn_flood.c (>= 95% succeed, p99 < 1 s,
# RSS < 256 MiB, normal service afterwards).
#
# Runs the release build (COFFER_RELEASE_BIN, set by `make test`).
# Env: COFFER_BIN, COFFER_SOURCE (set by CTest).
set -euo pipefail
[ -n "${COFFER_RELEASE_BIN:-}" ] && export COFFER_BIN=$COFFER_RELEASE_BIN
. "$(dirname "$0")/lib/common.sh"
. "$(dirname "$0")/lib/flood.sh"

flood_vault vault

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
