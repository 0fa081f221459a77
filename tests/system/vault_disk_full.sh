#!/usr/bin/env bash
# coffer-vault on a full disk: its data directory on a 24 MiB tmpfs.  Once
# a filler file has taken the free space, a secret write must fail with
# 507 InsufficientStorage in Key Vault's error format (the CLI exits 1 and
# says so), store nothing, log the cause, and leave reads working; once
# space is freed, writes work again with no restart.
#
# Needs root for the tmpfs mount; exits 77 (CTest: skipped) when the mount
# is not allowed here.  Env: COFFER_BIN=<build>/bin (set by CTest).
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
MNT=$TMP/full
with_tmpfs "$MNT" 24m

vault_ready() { [ -s "$MNT/vault/bootstrap.json" ] && port_in_use "$1"; }
for _ in $(seq 1 5); do
    p=$(random_free_port) || continue
    launch "$p" vault_ready "$BIN/coffer-vault" --data-dir "$MNT/vault" --listen "127.0.0.1:$p" \
        --log-level warn && break
done
[ -n "$PORT" ] || { cat "$TMP/server.log"; echo "the vault did not start"; exit 1; }
export COFFER_BOOTSTRAP=$MNT/vault/bootstrap.json
has_err() { grep -Eq -- "$1" "$TMP/err"; }

printf 'first value' >"$TMP/v1"
# 20,000 characters, without a second head: cutting a pipe short kills its
# writer with SIGPIPE, which pipefail turns into a failed test.
head -c 15000 /dev/urandom | base64 -w0 >"$TMP/v2"
check "a secret while there is room" "$CLI" secret set kept --file "$TMP/v1"

dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null || true
check_rc "a write on a full disk: exit 1" 1 "$CLI" secret set refused --file "$TMP/v2"
has_err "InsufficientStorage" && ok "507 InsufficientStorage" || { bad "507 InsufficientStorage"; cat "$TMP/err"; }
has_err "disk is full" && ok "the message says what happened" || bad "the message says what happened"
grep -q "disk full: " "$TMP/server.log" && ok "the log says why" || bad "the log says why"
check "reads go on" "$CLI" secret show kept --output json
grep -q '"value": *"first value"' "$TMP/out" && ok "and return the value" || bad "and return the value"

rm -f "$MNT/filler"
check_rc "nothing of the refused write was stored" 1 "$CLI" secret show refused
check "writes resume once space is freed" "$CLI" secret set refused --file "$TMP/v2"
check "and read back" "$CLI" secret show refused --output json

echo "vault_disk_full: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
