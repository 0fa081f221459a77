# Shared set-up of the CLI system tests (sourced): a fresh coffer-vault on a
# random free loopback port with COFFER_BOOTSTRAP pointing at it, a private
# temporary directory, cleanup on exit, and the ok/bad/check helpers that
# count passes and failures.
#
# Env: COFFER_BIN=<build>/bin (set by CTest).
. "$(dirname "${BASH_SOURCE[0]}")/base.sh"

vault_ready() { [ -s "$TMP/vault/bootstrap.json" ] && port_in_use "$1"; }
# Starts the vault on a random free port; another test may grab the port
# first, so a server that exits during start-up is retried on a new one.
start_server() {
    local p
    p=$(random_free_port) || return 1
    rm -rf "$TMP/vault"
    launch "$p" vault_ready "$BIN/coffer-vault" --data-dir "$TMP/vault" --listen "127.0.0.1:$p" \
        --log-level warn
}
for _ in $(seq 1 5); do start_server && break; done
[ -n "$PORT" ] || { cat "$TMP/server.log"; echo "the vault did not start"; exit 1; }
export COFFER_BOOTSTRAP=$TMP/vault/bootstrap.json


# no_role_identity NAME FILE: a new service principal with no role, and an
# identity file (the vault's bootstrap.json with its credential) for it in
# FILE, for checking that a caller without a role is refused.
no_role_identity() {
    "$BIN/coffer" principal create --name "$1" --output json >"$TMP/principal.json" || return 1
    python3 - "$COFFER_BOOTSTRAP" "$TMP/principal.json" "$2" <<'PY'
import json, sys
b, sp = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
doc = {k: b[k] for k in ("vault_url", "ca_cert", "tenant_id", "authority_host")}
doc.update(client_id=sp["client_id"], client_secret=sp["client_secret"])
json.dump(doc, open(sys.argv[3], "w"))
PY
    chmod 600 "$2"
}
