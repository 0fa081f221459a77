#!/usr/bin/env bash
# End-to-end test of the CLI's access administration against a real
# coffer-vault on a loopback port: `coffer principal` (create, list, show,
# secret-rotate, delete) and `coffer role` (definitions, assign, list,
# remove), checked from the other side by acting as the new principal:
# the CLI with its credentials in the environment, and curl for the token
# endpoint and the secrets API (the CLI has no secret commands).
#
# Credentials never go on a command line here: curl reads the token form
# and the Authorization header from files in the test's private directory.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, curl, python3.
set -euo pipefail

source "$(dirname "$0")/lib/common.sh"
# expect NAME CONDITION...: records the outcome of a shell test.
expect() { local n=$1; shift; if "$@"; then ok "$n"; else bad "$n"; fi; }
has() { grep -q -- "$1" "$TMP/out"; }
has_err() { grep -q -- "$1" "$TMP/err"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
field() { sed -n "s/^$1: *//p" "$TMP/out"; }

URL=https://127.0.0.1:$PORT
CA=$TMP/vault/tls/ca.crt
TENANT=$(json "$COFFER_BOOTSTRAP" "d['tenant_id']")
ADMIN_OID=$(json "$COFFER_BOOTSTRAP" "d['object_id']")

# token CLIENT_ID SECRET_FILE: prints the HTTP status of a client-credentials
# request; the reply is in $TMP/token.json.
token() {
    python3 - "$1" "$2" "$TMP/form" <<'EOF'
import sys, urllib.parse
secret = open(sys.argv[2]).read().strip()
open(sys.argv[3], 'w').write(urllib.parse.urlencode({
    'grant_type': 'client_credentials', 'client_id': sys.argv[1], 'client_secret': secret,
    'scope': 'https://vault.azure.net/.default'}))
EOF
    curl -sS --cacert "$CA" -o "$TMP/token.json" -w '%{http_code}' \
        --data-binary "@$TMP/form" "$URL/$TENANT/oauth2/v2.0/token"
    rm -f "$TMP/form"
}
# auth_header: turns $TMP/token.json into the curl header file $TMP/auth.
auth_header() { printf 'Authorization: Bearer %s\n' "$(json "$TMP/token.json" "d['access_token']")" >"$TMP/auth"; }
# api METHOD PATH [BODY]: prints the HTTP status; the reply is in $TMP/api.json.
api() {
    local extra=()
    [ $# -ge 3 ] && extra=(-H 'Content-Type: application/json' --data-binary "$3")
    curl -sS --cacert "$CA" -o "$TMP/api.json" -w '%{http_code}' -X "$1" -H "@$TMP/auth" \
        "${extra[@]}" "$URL$2?api-version=2025-07-01"
}

# ---- the administrator sets up two secrets (curl: there is no secret command) ----
json "$COFFER_BOOTSTRAP" "d['client_secret']" >"$TMP/admin.secret"
[ "$(token "$(json "$COFFER_BOOTSTRAP" "d['client_id']")" "$TMP/admin.secret")" = 200 ] &&
    ok "admin token" || bad "admin token"
auth_header
expect "admin sets secret s1" [ "$(api PUT /secrets/s1 '{"value":"s1-value"}')" = 200 ]
expect "admin sets secret s2" [ "$(api PUT /secrets/s2 '{"value":"s2-value"}')" = 200 ]

# ---- role definitions ----
check "role definitions" "$CLI" role definitions
has "^ROLE NAME *ID" && has "^Key Vault Secrets User *4633458b-17de-408a-b874-0445c86b69e6" &&
    has "^Key Vault Administrator " && ok "definitions table" || bad "definitions table"
check "role definitions json" "$CLI" role definitions --output json
expect "definitions json has the 10 built-in roles" [ "$(json "$TMP/out" "len(d['value'])")" = 10 ]

# ---- principal create ----
check "principal create (sp)" "$CLI" principal create --name app1 --secret-expires-days 30
SP_OID=$(field object_id); SP_CID=$(field client_id); SECRET1_ID=$(field secret_id)
field client_secret >"$TMP/sp.secret1"
expect "create prints object_id, client_id, client_secret" \
    test -n "$SP_OID" -a -n "$SP_CID" -a -s "$TMP/sp.secret1"
has "^kind: *servicePrincipal" && has "^secret_expires: *20" && ok "create readable fields" ||
    bad "create readable fields"
has_err "cannot be retrieved again" && ok "one-time note on stderr" || bad "one-time note on stderr"
check "principal create (mi) json" "$CLI" principal create --name mi1 --kind mi --output json
MI_OID=$(json "$TMP/out" "d['object_id']")
expect "mi create json: identity_header, no client_secret" \
    [ "$(json "$TMP/out" "d['kind'], 'identity_header' in d, 'client_secret' in d")" = "managedIdentity True False" ]

check "principal list" "$CLI" principal list
has "^$SP_OID *$SP_CID *servicePrincipal .*app1$" && has "^$MI_OID .*managedIdentity .*mi1$" &&
    ok "list table" || bad "list table"
check "principal list json" "$CLI" principal list --output json
expect "list json: admin, identity, app1, mi1" [ "$(json "$TMP/out" "len(d['value'])")" = 4 ]
check "principal show" "$CLI" principal show "$SP_OID"
has "^name: *app1" && [ "$(grep -c '^secret: ' "$TMP/out")" = 1 ] && ok "show: one secret" ||
    bad "show: one secret"
if grep -q -f "$TMP/sp.secret1" "$TMP/out"; then bad "show does not print the secret"; else ok "show does not print the secret"; fi

# ---- role assign: Secrets User at /secrets/s1 only ----
check "role assign by name" "$CLI" role assign --role "Key Vault Secrets User" \
    --principal "$SP_OID" --scope /secrets/s1
ASSIGNMENT=$(field name)
has "^role: *Key Vault Secrets User" && has "^scope: */secrets/s1" &&
    has "^principal_id: *$SP_OID" && ok "assign output" || bad "assign output"
check "role assign by GUID (json)" "$CLI" role assign --role 21090545-7ca7-4776-b22c-e363652d74d2 \
    --principal "$MI_OID" --scope /keys --output json
MI_ASSIGNMENT=$(json "$TMP/out" "d['name']")
expect "assign json" [ "$(json "$TMP/out" "d['properties']['scope'], d['properties']['principalId']")" = "/keys $MI_OID" ]

check "role list --principal" "$CLI" role list --principal "$SP_OID"
has "^$ASSIGNMENT *Key Vault Secrets User *$SP_OID */secrets/s1$" && [ "$(grep -c . "$TMP/out")" = 2 ] &&
    ok "list --principal table" || bad "list --principal table"
check "role list --scope /secrets/s1" "$CLI" role list --scope /secrets/s1 --output json
expect "list at /secrets/s1 includes the assignment" \
    [ "$(json "$TMP/out" "any(a['name'] == '$ASSIGNMENT' for a in d['value'])")" = True ]
check "role list --principal --scope /keys" "$CLI" role list --principal "$SP_OID" --scope /keys --output json
expect "a /secrets/s1 assignment is not related to /keys" [ "$(json "$TMP/out" "len(d['value'])")" = 0 ]
check "role list --principal --scope /secrets" "$CLI" role list --principal "$SP_OID" --scope /secrets --output json
expect "a /secrets/s1 assignment lies below /secrets" [ "$(json "$TMP/out" "len(d['value'])")" = 1 ]

# ---- acting as the service principal ----
# as_sp ARGS...: the CLI with the principal's credentials in its environment
# (exported in a subshell, not passed through env's argv).
as_sp() (
    unset COFFER_BOOTSTRAP
    export COFFER_VAULT_URL="$URL" AZURE_TENANT_ID="$TENANT" AZURE_CLIENT_ID="$SP_CID" \
        COFFER_CA_CERT="$CA"
    AZURE_CLIENT_SECRET=$(cat "$TMP/sp.secret")
    export AZURE_CLIENT_SECRET
    exec "$CLI" "$@"
)
cp "$TMP/sp.secret1" "$TMP/sp.secret"
check_rc "sp: key list is denied" 1 as_sp key list
has_err "Forbidden" && ok "sp: Forbidden printed" || bad "sp: Forbidden printed"
check_rc "sp: key create is denied" 1 as_sp key create k1 --kty EC
has_err "Forbidden" && ok "sp: create Forbidden printed" || bad "sp: create Forbidden printed"
check_rc "sp: principal list is denied" 1 as_sp principal list
check_rc "sp: role assign is denied" 1 as_sp role assign --role "Key Vault Administrator" \
    --principal "$SP_OID"
[ "$(token "$SP_CID" "$TMP/sp.secret1")" = 200 ] && ok "sp: token with secret 1" || bad "sp: token with secret 1"
auth_header
expect "sp: reads s1" [ "$(api GET /secrets/s1)" = 200 ]
expect "sp: s1 value" [ "$(json "$TMP/api.json" "d['value']")" = s1-value ]
expect "sp: s2 is denied (403)" [ "$(api GET /secrets/s2)" = 403 ]
expect "sp: cannot write s1 (403)" [ "$(api PUT /secrets/s1 '{"value":"x"}')" = 403 ]

# ---- secret rotation ----
check "secret-rotate (keep old)" "$CLI" principal secret-rotate "$SP_OID"
field client_secret >"$TMP/sp.secret2"
SECRET2_ID=$(field secret_id)
expect "rotate prints a new secret" test -s "$TMP/sp.secret2"
expect "new secret differs" test "$(cat "$TMP/sp.secret1")" != "$(cat "$TMP/sp.secret2")"
check "show after rotate" "$CLI" principal show "$SP_OID"
expect "two secrets now" [ "$(grep -c '^secret: ' "$TMP/out")" = 2 ]
expect "secret 1 still works" [ "$(token "$SP_CID" "$TMP/sp.secret1")" = 200 ]
expect "secret 2 works" [ "$(token "$SP_CID" "$TMP/sp.secret2")" = 200 ]

check "secret-rotate --remove-old" "$CLI" principal secret-rotate "$SP_OID" \
    --secret-expires-days 7 --remove-old --output json
json "$TMP/out" "d['client_secret']" >"$TMP/sp.secret3"
SECRET3_ID=$(json "$TMP/out" "d['secret_id']")
expect "removed both older secrets" \
    [ "$(json "$TMP/out" "sorted(d['removed_secret_ids']) == sorted([$SECRET1_ID, $SECRET2_ID]) and d['secret_id'] not in d['removed_secret_ids']")" = True ]
expect "old secret 1 gets no token (401)" [ "$(token "$SP_CID" "$TMP/sp.secret1")" = 401 ]
expect "old: invalid_client" [ "$(json "$TMP/token.json" "d['error']")" = invalid_client ]
expect "old secret 2 gets no token (401)" [ "$(token "$SP_CID" "$TMP/sp.secret2")" = 401 ]
expect "new secret gets a token" [ "$(token "$SP_CID" "$TMP/sp.secret3")" = 200 ]
check "show after --remove-old" "$CLI" principal show "$SP_OID" --output json
expect "only the new secret is left" \
    [ "$(json "$TMP/out" "[s['id'] for s in d['secrets']] == [$SECRET3_ID] and d['secrets'][0]['expires'] is not None")" = True ]
cp "$TMP/sp.secret1" "$TMP/sp.secret"
check_rc "sp CLI with the old secret -> 1" 1 as_sp key list
has_err "invalid_client" && ok "old secret refused by the token endpoint" || bad "old secret refused by the token endpoint"
cp "$TMP/sp.secret3" "$TMP/sp.secret"
check_rc "sp CLI with the new secret: still Forbidden" 1 as_sp key list
has_err "Forbidden" && ok "new secret authenticates" || bad "new secret authenticates"
check "secret-rotate readable (mi)" "$CLI" principal secret-rotate "$MI_OID" --remove-old
has "^identity_header: " && has "^removed_secret: " && ok "mi rotate output" || bad "mi rotate output"

# ---- role remove ----
check "role remove" "$CLI" role remove "$ASSIGNMENT" --scope /secrets/s1
has "^removed role assignment" && has "^name: *$ASSIGNMENT" && ok "remove output" || bad "remove output"
check_rc "role remove again -> 1" 1 "$CLI" role remove "$ASSIGNMENT"
has_err "RoleAssignmentNotFound" && ok "RoleAssignmentNotFound printed" || bad "RoleAssignmentNotFound printed"
check "role list --principal after remove" "$CLI" role list --principal "$SP_OID" --output json
expect "no assignments left" [ "$(json "$TMP/out" "len(d['value'])")" = 0 ]
[ "$(token "$SP_CID" "$TMP/sp.secret3")" = 200 ] && auth_header
expect "sp: s1 denied after remove (403)" [ "$(api GET /secrets/s1)" = 403 ]

# ---- principal delete ----
check "principal delete" "$CLI" principal delete "$SP_OID"
has "deleted principal $SP_OID" || bad "delete output"
expect "deleted principal gets no token (401)" [ "$(token "$SP_CID" "$TMP/sp.secret3")" = 401 ]
check_rc "show deleted principal -> 1" 1 "$CLI" principal show "$SP_OID"
has_err "(HTTP 404)" && ok "404 printed" || bad "404 printed"
check "delete mi (json)" "$CLI" principal delete "$MI_OID" --output json
check "role list after deleting mi" "$CLI" role list --scope /keys --output json
expect "mi's assignment went with it" \
    [ "$(json "$TMP/out" "any(a['name'] == '$MI_ASSIGNMENT' for a in d['value'])")" = False ]
check_rc "admin cannot delete itself -> 1" 1 "$CLI" principal delete "$ADMIN_OID"
has_err "Conflict\|(HTTP 409)" && ok "409 printed" || bad "409 printed"

# ---- usage errors: exit 2, nothing sent ----
check_rc "create without --name -> 2" 2 "$CLI" principal create
check_rc "create bad --kind -> 2" 2 "$CLI" principal create --name x --kind robot
check_rc "create --secret-expires-days 0 -> 2" 2 "$CLI" principal create --name x --secret-expires-days 0
check_rc "create --secret-expires-days 9999 -> 2" 2 "$CLI" principal create --name x --secret-expires-days 9999
check_rc "show non-GUID -> 2" 2 "$CLI" principal show not-a-guid
check_rc "show missing arg -> 2" 2 "$CLI" principal show
check_rc "rotate unknown option -> 2" 2 "$CLI" principal secret-rotate "$ADMIN_OID" --remove-all
check_rc "--remove-old takes no value -> 2" 2 "$CLI" principal secret-rotate "$ADMIN_OID" --remove-old=yes
check_rc "unknown principal command -> 2" 2 "$CLI" principal frobnicate
check_rc "assign without --role -> 2" 2 "$CLI" role assign --principal "$ADMIN_OID"
check_rc "assign without --principal -> 2" 2 "$CLI" role assign --role "Key Vault Reader"
check_rc "assign unknown role name -> 2" 2 "$CLI" role assign --role "Key Vault Janitor" --principal "$ADMIN_OID"
has_err "no role named" && ok "unknown role explained" || bad "unknown role explained"
check_rc "assign bad scope -> 2" 2 "$CLI" role assign --role "Key Vault Reader" --principal "$ADMIN_OID" --scope /certificates
check_rc "assign scope with a path -> 2" 2 "$CLI" role assign --role "Key Vault Reader" --principal "$ADMIN_OID" --scope /keys/a/../b
check_rc "list bad --principal -> 2" 2 "$CLI" role list --principal "x'; drop"
check_rc "remove non-GUID -> 2" 2 "$CLI" role remove abc
check_rc "definitions takes no argument -> 2" 2 "$CLI" role definitions extra
check_rc "assign unknown principal -> 1" 1 "$CLI" role assign --role "Key Vault Reader" \
    --principal 00000000-0000-4000-8000-000000000000
check "--help lists the new commands" "$CLI" --help
has "principal secret-rotate" && has "role assign" && ok "help text" || bad "help text"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
