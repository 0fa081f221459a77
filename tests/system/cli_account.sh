#!/usr/bin/env bash
# End-to-end test of `coffer account` and `coffer scope` against a real
# coffer-blob on a loopback port: accounts created (plain and with
# infrastructure encryption), listed, shown (--output json with the
# connection string, key source and layers), used through their connection
# strings, deleted with their data; scopes created, listed, shown, disabled
# and enabled, a blob written to one; the admin rules (only the default
# account manages accounts; the default account stays; a customer-managed
# key needs --vault-bootstrap); usage errors (exit 2) and service errors
# (exit 1, Azure-style code on stderr).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, curl, python3.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
BLOB_DIR=$TMP/blob
start_blob
export COFFER_BLOB_DIR=$TMP/blob
CA=$TMP/blob/tls/ca.crt

has() { grep -q -- "$1" "$TMP/out"; }
has_err() { grep -Eq -- "$1" "$TMP/err"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$TMP/out" 2>/dev/null; }

# ---- accounts ----
check "account create" "$CLI" account create shop1
has "key_source  *service-managed" && ok "create shows the key source" || bad "create shows the key source"
check "account create with two layers" "$CLI" account create shop2 --infrastructure-encryption --output json
expect "two layers recorded" [ "$(json "d['infrastructure_encryption']")" = "True" ]
check_rc "account create again: exit 1" 1 "$CLI" account create shop1
has_err "^coffer: Conflict: " && ok "Conflict on stderr" || bad "Conflict on stderr"
check_rc "bad account name: exit 2" 2 "$CLI" account create Shop_1
check "account list json" "$CLI" account list --output json
expect "list has all three" [ "$(json "sorted(a['name'] for a in d)")" = "['coffer', 'shop1', 'shop2']" ]
expect "list shows no secrets" [ "$(json "any('connection_string' in a for a in d)")" = "False" ]
check "account show json" "$CLI" account show shop2 --output json
CS=$(json "d['connection_string']")
expect "show has a connection string" [ -n "$CS" ]
expect "show: service-managed, https only" [ "$(json "d['key_source'], d['https_only']")" = "service-managed True" ]

# The new account works through its own connection string.
echo "layered hello" >"$TMP/f.txt"
check "container in shop2" "$CLI" container create stuff --connection-string "$CS" --ca-file "$CA"
check "upload to shop2" "$CLI" blob upload "$TMP/f.txt" --container stuff --connection-string "$CS" --ca-file "$CA"
check "download from shop2" "$CLI" blob download --container stuff --name f.txt --file - \
    --connection-string "$CS" --ca-file "$CA"
has "layered hello" && ok "round trip through two layers" || bad "round trip through two layers"
check_rc "layers are fixed: exit 1" 1 "$CLI" account set-key shop2 --service-managed --connection-string "$CS" --ca-file "$CA"
has_err "^coffer: Forbidden: " && ok "only the default account manages accounts" ||
    bad "only the default account manages accounts"
check_rc "CMK without --vault-bootstrap: exit 1" 1 "$CLI" account set-key shop1 \
    --cmk-key-uri https://127.0.0.1:1/keys/k
has_err "vault-bootstrap" && ok "says why" || bad "says why"
check_rc "set-key needs one choice: exit 2" 2 "$CLI" account set-key shop1
check_rc "the default account stays: exit 1" 1 "$CLI" account delete coffer

# ---- scopes (managed with the account's own key) ----
check "scope create" "$CLI" scope create team-a --connection-string "$CS" --ca-file "$CA"
check "scope create two layers" "$CLI" scope create team-b --infrastructure-encryption \
    --connection-string "$CS" --ca-file "$CA" --output json
expect "scope json" [ "$(json "d['name'], d['state'], d['infrastructure_encryption']")" = "team-b Enabled True" ]
check "scope list" "$CLI" scope list --connection-string "$CS" --ca-file "$CA"
has "^team-a  *Enabled  *service-managed" && has "^team-b " && ok "scope list table" || bad "scope list table"
check "scope disable" "$CLI" scope disable team-a --connection-string "$CS" --ca-file "$CA"
has "state  *Disabled" && ok "disabled" || bad "disabled"
check "scope show" "$CLI" scope show team-a --connection-string "$CS" --ca-file "$CA" --output json
expect "show says disabled" [ "$(json "d['state']")" = "Disabled" ]
check "scope enable" "$CLI" scope enable team-a --connection-string "$CS" --ca-file "$CA"
check_rc "unknown scope: exit 1" 1 "$CLI" scope show nope-nope --connection-string "$CS" --ca-file "$CA"
has_err "^coffer: NotFound: " && ok "NotFound on stderr" || bad "NotFound on stderr"
check_rc "bad scope name: exit 2" 2 "$CLI" scope create -bad --connection-string "$CS" --ca-file "$CA"

# A blob written to a scope, with curl and a SAS-free Shared Key is beyond
# this test; the SDK suites cover the data plane (blob_encryption).

# ---- deleting an account deletes its data ----
check "account delete" "$CLI" account delete shop2
check_rc "gone: exit 1" 1 "$CLI" account show shop2
check_rc "its connection string no longer works" 1 "$CLI" container list --connection-string "$CS" --ca-file "$CA"
check "recreated empty" "$CLI" account create shop2 --output json
CS2=$(json "d['connection_string']")
check "recreated account is empty" "$CLI" container list --connection-string "$CS2" --ca-file "$CA" --output json
expect "no containers" [ "$(json "len(d)")" = "0" ]

echo "cli_account: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
