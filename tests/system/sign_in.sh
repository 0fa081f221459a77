#!/usr/bin/env bash
# System test: people signing in to the vault (docs/users.md).  A real
# coffer-vault; users made with `coffer user create`; lib/sign_in_client.py
# plays the browser's part in the authorization-code flow with PKCE by
# hand, checking every cookie, header and redirect: the page and its CSP,
# CSRF on the form, wrong and right passwords, one-time codes and their
# replay, lockout and an administrator's reset, single-use codes and PKCE,
# refresh-token rotation and reuse detection, sign-out ending the session's
# tokens at once.  Then: no password in the vault's log.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
PY=/usr/bin/python3

start_vault
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json

ALICE_PW="alice's long password"
BOB_PW="bob has a second factor"
CAROL_PW="carol forgets things"
printf '%s\n' "$ALICE_PW" >"$TMP/alice.pw"
check "user create alice" "$CLI" user create alice --password-file "$TMP/alice.pw"
printf '%s' "$BOB_PW" | "$CLI" user create bob --password-file - --totp --output json \
    >"$TMP/bob.json" 2>"$TMP/err" && ok "user create bob --totp (password on stdin)" ||
    bad "user create bob --totp (password on stdin)"
BOB_URI=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["totp_uri"])' "$TMP/bob.json")
expect "bob's one-time-code URI" [ "${BOB_URI#otpauth://totp/Coffer:bob?secret=}" != "$BOB_URI" ]
printf '%s' "$CAROL_PW" | "$CLI" user create carol --password-file - >/dev/null 2>&1 &&
    ok "user create carol" || bad "user create carol"
printf 'short' | "$CLI" user create dave --password-file - >/dev/null 2>"$TMP/err" &&
    bad "a short password is refused" || ok "a short password is refused"
printf '%s' "$ALICE_PW" | "$CLI" user create ALICE --password-file - >/dev/null 2>&1 &&
    bad "names are unique without regard to case" || ok "names are unique without regard to case"
ALICE_OID=$("$CLI" user list --output json |
    "$PY" -c 'import json,sys; print([u["object_id"] for u in json.load(sys.stdin)["value"] if u["name"]=="alice"][0])')
check "alice gets Key Vault Reader" "$CLI" role assign --role "Key Vault Reader" --principal "$ALICE_OID"
check "principal list shows alice as a user" "$CLI" principal list
grep -q "^$ALICE_OID .* user .*alice$" "$TMP/out" && ok "kind user" || bad "kind user"

"$PY" "$(dirname "$0")/lib/sign_in_client.py" "$COFFER_BOOTSTRAP" "alice_pw=$ALICE_PW" \
    "bob_pw=$BOB_PW" "bob_totp_uri=$BOB_URI" "carol_pw=$CAROL_PW" >"$TMP/client.out" \
    2>"$TMP/err" || true
cat "$TMP/client.out"
PASS=$((PASS + $(grep -c '^ok ' "$TMP/client.out" || true)))
FAIL=$((FAIL + $(grep -c '^FAIL ' "$TMP/client.out" || true)))
if [ -s "$TMP/err" ]; then bad "the client ran to the end"; fi
expect "every check ran" [ "$(grep -c '^ok \|^FAIL ' "$TMP/client.out")" -ge 43 ]

check "user show carol (unlocked by the reset)" "$CLI" user show carol
if grep -q 'locked until' "$TMP/out"; then bad "carol is unlocked"; else ok "carol is unlocked"; fi
check "user delete bob" "$CLI" user delete bob
check "user list" "$CLI" user list
if grep -q ' bob$' "$TMP/out"; then bad "bob is gone"; else ok "bob is gone"; fi

# No password, one-time-code secret or cookie in the log or the audit log.
leak=0
for s in "$ALICE_PW" "$BOB_PW" "$CAROL_PW" "carol's new password" "${BOB_URI#*secret=}"; do
    grep -qF -- "${s%%&*}" "$TMP/server.log" "$TMP/vault/audit.log" && leak=1
done
expect "no password or one-time-code secret in the logs" [ "$leak" = 0 ]
grep -q 'signed in from' "$TMP/server.log" && ok "sign-ins are logged (without secrets)" ||
    bad "sign-ins are logged (without secrets)"
echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
