#!/usr/bin/env bash
# Coffer's own stores under transparent encryption (issue 14): vault.db and
# blob.db are sealed page by page under a key derived from each service's
# sealed master key, so names and bookkeeping are not in the clear:
#   - a secret, a container and a blob named with a marker, then both
#     services stopped: the marker is nowhere in vault.db, blob.db or their
#     WAL files, and neither file starts with SQLite's plain header;
#   - `coffer store query` reads the names back with the seal (beside the
#     running blob service; the vault only once stopped, as it holds its
#     store exclusively);
#   - another vault's vault.db in place of this one's is refused at start
#     with a message naming the protector, and nothing is changed: with the
#     right file back the vault starts and serves the secret again (and
#     removes a staging file an interrupted conversion would have left).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs curl, python3.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
VAULT_PID=$SERVER_PID
VAULT_PORT=$PORT
BLOB_DIR=$TMP/blob
MARK=tdemark$RANDOM$RANDOM
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# ---- data named with the marker ----
printf 'value' >"$TMP/v"
check "a secret named with the marker" "$CLI" secret set "$MARK-secret" --file "$TMP/v"
start_blob
BLOB_PID=$SERVER_PID
export COFFER_BLOB_DIR=$BLOB_DIR
check "a container named with the marker" "$CLI" container create "$MARK"
check "a blob named with the marker" "$CLI" blob upload "$TMP/v" --container "$MARK" --name "$MARK-blob"

# ---- reading the stores with the seal ----
check "store query beside the running blob service" \
    "$CLI" store query --data-dir "$BLOB_DIR" "SELECT name FROM blobs WHERE container = '$MARK'"
expect "it names the blob" grep -qx "$MARK-blob" "$TMP/out"
check_rc "store query refuses a write" 1 \
    "$CLI" store query --data-dir "$BLOB_DIR" "DELETE FROM blobs"
check_rc "store query on the running vault: busy, not waiting forever" 1 \
    timeout 30 "$CLI" store query --data-dir "$TMP/vault" "SELECT count(*) FROM objects"
expect "saying it is locked" grep -q "locked" "$TMP/err"
# While running, the newest pages are in the WAL files.
scan() {
    for f in "$@"; do
        if grep -q "$MARK" "$f"; then bad "no marker in $(basename "$f")"; else ok "no marker in $(basename "$f")"; fi
    done
}
scan "$TMP"/vault/vault.db* "$BLOB_DIR"/blob.db*
stop "$BLOB_PID"
stop "$VAULT_PID"
SERVER_PID=

# ---- the files at rest ----
scan "$TMP"/vault/vault.db* "$BLOB_DIR"/blob.db*
for f in "$TMP/vault/vault.db" "$BLOB_DIR/blob.db"; do
    if head -c 15 "$f" | grep -q 'SQLite format 3'; then
        bad "$(basename "$f") is not a plain SQLite file"
    else
        ok "$(basename "$f") is not a plain SQLite file"
    fi
done
check "store query on the stopped vault" \
    "$CLI" store query --data-dir "$TMP/vault" "SELECT name FROM objects WHERE kind = 'secret'"
expect "it names the secret" grep -qx "$MARK-secret" "$TMP/out"

# ---- another vault's store in its place ----
# On its old port, which bootstrap.json (the CLI's credentials) names.
restart_vault() {
    for _ in $(seq 1 5); do
        launch "$VAULT_PORT" vault_ready "$BIN/coffer-vault" --data-dir "$TMP/vault" \
            --listen "127.0.0.1:$VAULT_PORT" --log-level warn && return 0
        grep -q "protected by" "$TMP/server.log" && return 1
        sleep 1
    done
    return 1
}
for _ in $(seq 1 5); do
    p=$(random_free_port) || continue
    "$BIN/coffer-vault" --data-dir "$TMP/other" --listen "127.0.0.1:$p" --log-level warn \
        >>"$TMP/other.log" 2>&1 &
    OTHER_PID=$!
    for _ in $(seq 1 300); do [ -s "$TMP/other/bootstrap.json" ] && break; sleep 0.1; done
    stop "$OTHER_PID"
    [ -s "$TMP/other/vault.db" ] && break
done
cp "$TMP/vault/vault.db" "$TMP/vault.db.mine"
cp "$TMP/other/vault.db" "$TMP/vault/vault.db"
: >"$TMP/server.log"
if restart_vault; then
    bad "another vault's vault.db is refused"
    stop "$SERVER_PID"
else
    expect "another vault's vault.db is refused, naming the protector" \
        grep -q "protected by local:" "$TMP/server.log"
fi
cmp -s "$TMP/other/vault.db" "$TMP/vault/vault.db" && ok "the refused file is untouched" ||
    bad "the refused file is untouched"
cp "$TMP/vault.db.mine" "$TMP/vault/vault.db"
# What a conversion a crash interrupted would have left beside the store.
echo partial >"$TMP/vault/vault.db.coffer-999999.tmp"
expect "with its own vault.db back the vault starts" restart_vault
expect "  a conversion's leftover staging file removed" test ! -e "$TMP/vault/vault.db.coffer-999999.tmp"
check "and serves the secret" "$CLI" secret show "$MARK-secret"

echo "passed $PASS, failed $FAIL"
[ "$FAIL" -eq 0 ]
