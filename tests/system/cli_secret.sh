#!/usr/bin/env bash
# `coffer secret ...` against a real coffer-vault: set (value from a file or
# standard input, never from the command line), show, list, versions,
# update, delete, recover, purge, backup and restore, with --output json,
# exit codes and the vault's errors.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs python3.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

printf 'first value' >"$TMP/v1"
check "set from a file" "$CLI" secret set db-password --file "$TMP/v1" --content-type text/plain --tags env=test
expect "  the value is not echoed" bash -c "! grep -q 'first value' '$TMP/out'"
check "set from standard input" bash -c "printf 'second value' | '$CLI' secret set db-password --file - --content-type text/plain --output json >'$TMP/set.json'"
expect "  --output json leaves the value out too" bash -c "! grep -q 'second value' '$TMP/set.json'"
check_rc "no value on the command line" 2 "$CLI" secret set other --value oops
check_rc "set needs --file" 2 "$CLI" secret set other
head -c 26000 /dev/zero | tr '\0' a >"$TMP/big"
check_rc "a value over 25 KiB is refused before sending" 2 "$CLI" secret set other --file "$TMP/big"
expect "  and says so" grep -q "larger than 25 KiB" "$TMP/err"
check_rc "  from standard input too" 2 bash -c "'$CLI' secret set other --file - <'$TMP/big'"
expect "  and says so" grep -q "larger than 25 KiB" "$TMP/err"
check "show" "$CLI" secret show db-password
expect "  prints the latest value" grep -q 'value: *second value' "$TMP/out"
expect "  and its content type" grep -q 'content_type: *text/plain' "$TMP/out"
check "show --output json" "$CLI" secret show db-password --output json
cp "$TMP/out" "$TMP/latest.json"
V2=$(json "$TMP/latest.json" "d['id'].rsplit('/',1)[1]")
check "versions" "$CLI" secret versions db-password --output json
expect "  two versions" test "$(json "$TMP/out" "len(d['value'])")" = 2
V1=$(json "$TMP/out" "[v['id'].rsplit('/',1)[1] for v in d['value'] if not v['id'].endswith('$V2')][0]")
check "show an older version" "$CLI" secret show db-password --version "$V1"
expect "  is the first value" grep -q 'value: *first value' "$TMP/out"
check "list" "$CLI" secret list
expect "  names the secret" grep -q '^db-password ' "$TMP/out"
check "update: disable, tags" "$CLI" secret update db-password --disable --tags env=prod,team=a --output json
expect "  disabled" test "$(json "$TMP/out" "d['attributes']['enabled']")" = False
check_rc "a disabled secret cannot be read" 1 "$CLI" secret show db-password
expect "  with Key Vault's error" grep -q 'Forbidden' "$TMP/err"
check "enable again" "$CLI" secret update db-password --enable
check "backup" "$CLI" secret backup db-password --file "$TMP/pw.backup"
check "delete" "$CLI" secret delete db-password
check_rc "a deleted secret is gone" 1 "$CLI" secret show db-password
expect "  SecretNotFound" grep -q 'SecretNotFound' "$TMP/err"
check "recover" "$CLI" secret recover db-password
check "  readable again" "$CLI" secret show db-password
check "delete again" "$CLI" secret delete db-password
check "purge" "$CLI" secret purge db-password
check "restore from the backup" "$CLI" secret restore --file "$TMP/pw.backup"
check "  the restored value" "$CLI" secret show db-password
expect "  is the latest value" grep -q 'value: *second value' "$TMP/out"
check_rc "restore the same backup again: conflict" 1 "$CLI" secret restore --file "$TMP/pw.backup"
check_rc "a key backup is not a secret backup" 1 bash -c "'$CLI' key create k1 --kty EC >/dev/null && '$CLI' key backup k1 --file '$TMP/k1.backup' >/dev/null && '$CLI' secret restore --file '$TMP/k1.backup'"
check_rc "bad names are refused locally" 2 "$CLI" secret show 'bad/name'

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
