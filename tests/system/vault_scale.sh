#!/usr/bin/env bash
# Two coffer-vault front ends over one PostgreSQL (docs/scale-out.md):
#   - a key created through A signs through B at once; a secret written on
#     B reads on A;
#   - a role assignment removed through A is enforced by B on the next
#     request (the vault caches no role assignments);
#   - exactly one front end leads the rotation/purge sweeps, and when it is
#     killed the other takes over;
#   - SIGKILL of one front end during writes: the other keeps serving and
#     every acknowledged write is there;
#   - PostgreSQL restarted under load: clear 503s while it is down (a
#     sign-in too, not counted as a failed one), then both front ends serve
#     again without a restart;
#   - the two audit chains verify together against the anchors the front
#     ends recorded in PostgreSQL; a log left out or cut short is caught;
#   - no plaintext secret value anywhere in PostgreSQL's data directory.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
A_PID= B_PID=
stop_all() {
    for p in $A_PID $B_PID; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    engines_stop
    cleanup
}
trap stop_all EXIT

pg_start "$TMP" >/dev/null || exit 1
STORE="postgres:$PG_CONNINFO"
A=$TMP/a B=$TMP/b
PA=$(random_free_port) PB=$(random_free_port)
URL=https://127.0.0.1:$PA

# start_fe DIR PORT LOG: a front end answering for $URL; sets LAST_PID.
start_fe() {
    "$BIN/coffer-vault" --data-dir "$1" --listen "127.0.0.1:$2" --url "$URL" --store "$STORE" \
        --rotation-interval 1 >>"$3" 2>&1 &
    LAST_PID=$!
    for _ in $(seq 1 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$A/tls/ca.crt" \
            "https://127.0.0.1:$2/keys?api-version=7.5")" = 401 ] && return 0
        kill -0 "$LAST_PID" 2>/dev/null || { tail -5 "$3"; return 1; }
        sleep 0.1
    done
    return 1
}
start_fe "$A" "$PA" "$TMP/a.log" || { echo "front end A did not start"; exit 1; }
A_PID=$LAST_PID
frontend_clone "$A" "$B"
start_fe "$B" "$PB" "$TMP/b.log" || { echo "front end B did not start"; exit 1; }
B_PID=$LAST_PID
ok "two front ends serve one store"

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$A/bootstrap.json" "$1"; }
TENANT=$(boot tenant_id)
# token PORT CLIENT SECRET
token() {
    curl -sf --cacert "$A/tls/ca.crt" "https://127.0.0.1:$1/$TENANT/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=$2" --data-urlencode "client_secret=$3" \
        -d scope=https://vault.azure.net/.default | json 'd["access_token"]'
}
# call PORT TOKEN METHOD PATH [BODY] -> prints the status, body in $TMP/body
call() {
    curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$A/tls/ca.crt" -X "$3" \
        -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
        ${5:+-d "$5"} "https://127.0.0.1:$1$4?api-version=7.5"
}
ADMIN=$(token "$PA" "$(boot client_id)" "$(boot client_secret)")

# ---- one store, two doors
[ "$(call "$PA" "$ADMIN" POST /keys/k1/create '{"kty":"RSA","key_size":2048}')" = 200 ] &&
    ok "key created through A" || bad "key created through A"
[ "$(call "$PB" "$ADMIN" POST /keys/k1//sign '{"alg":"RS256","value":"n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"}')" = 200 ] &&
    ok "it signs through B at once" || bad "it signs through B at once"
MARK="plaintext-marker-$RANDOM$RANDOM"
[ "$(call "$PB" "$ADMIN" PUT /secrets/s1 "{\"value\":\"$MARK\"}")" = 200 ] &&
    [ "$(call "$PA" "$ADMIN" GET /secrets/s1)" = 200 ] && [ "$(json 'd["value"]' <"$TMP/body")" = "$MARK" ] &&
    ok "a secret written on B reads on A" || bad "a secret written on B reads on A"

# ---- a role removed through A is enforced by B
call "$PA" "$ADMIN" POST /coffer/principals '{"name":"scale-reader"}' >/dev/null
SP_ID=$(json 'd["client_id"]' <"$TMP/body") SP_SECRET=$(json 'd["client_secret"]' <"$TMP/body")
SP_OID=$(json 'd["object_id"]' <"$TMP/body")
ASSIGN=$(python3 -c 'import uuid; print(uuid.uuid4())')
READER=4633458b-17de-408a-b874-0445c86b69e6 # Key Vault Secrets User
[ "$(call "$PA" "$ADMIN" PUT "/providers/Microsoft.Authorization/roleAssignments/$ASSIGN" \
    "{\"properties\":{\"roleDefinitionId\":\"/providers/Microsoft.Authorization/roleDefinitions/$READER\",\"principalId\":\"$SP_OID\"}}")" = 201 ] &&
    ok "role assigned through A" || bad "role assigned through A ($(cat "$TMP/body"))"
SP=$(token "$PB" "$SP_ID" "$SP_SECRET")
[ "$(call "$PB" "$SP" GET /secrets/s1)" = 200 ] && ok "B lets the reader read" || bad "B lets the reader read"
[ "$(call "$PA" "$ADMIN" DELETE "/providers/Microsoft.Authorization/roleAssignments/$ASSIGN")" = 200 ] &&
    ok "role removed through A" || bad "role removed through A"
[ "$(call "$PB" "$SP" GET /secrets/s1)" = 403 ] && ok "B refuses the next request (bound: none)" ||
    bad "B refuses the next request"

# ---- one sweeper leader; the other takes over when it dies
leaders() { grep -l "now runs the rotation and purge sweeps" "$TMP/a.log" "$TMP/b.log" 2>/dev/null | wc -l; }
sleep 2
[ "$(leaders)" = 1 ] && ok "exactly one front end leads the sweeps" || bad "one sweep leader ($(leaders))"
if grep -q "now runs the rotation" "$TMP/a.log"; then LEADER=A; else LEADER=B; fi

# ---- SIGKILL of one front end during writes (the leader: both at once)
if [ "$LEADER" = A ]; then VICTIM=$A_PID VP=$PA SURV=$PB SURVLOG=$TMP/b.log; else VICTIM=$B_PID VP=$PB SURV=$PA SURVLOG=$TMP/a.log; fi
: >"$TMP/acked"
(
    for i in $(seq 1 400); do
        [ "$(call "$VP" "$ADMIN" PUT "/secrets/w$i" "{\"value\":\"v$i\"}" 2>/dev/null)" = 200 ] && echo "$i" >>"$TMP/acked"
    done
) &
WRITER=$!
sleep 1.5
kill -KILL "$VICTIM"
wait "$VICTIM" 2>/dev/null || true
wait "$WRITER" 2>/dev/null || true
acked=$(wc -l <"$TMP/acked")
lost=0
while read -r i; do
    [ "$(call "$SURV" "$ADMIN" GET "/secrets/w$i")" = 200 ] || lost=$((lost + 1))
done <"$TMP/acked"
[ "$acked" -gt 0 ] && [ "$lost" = 0 ] && ok "the survivor serves all $acked acknowledged writes" ||
    bad "acknowledged writes after SIGKILL: $acked acked, $lost lost"
for _ in $(seq 1 50); do grep -q "now runs the rotation" "$SURVLOG" && break; sleep 0.1; done
grep -q "now runs the rotation" "$SURVLOG" && ok "the survivor takes over the sweeps" ||
    bad "the survivor takes over the sweeps"
if [ "$LEADER" = A ]; then A_PID=; start_fe "$A" "$PA" "$TMP/a.log" && A_PID=$LAST_PID;
else B_PID=; start_fe "$B" "$PB" "$TMP/b.log" && B_PID=$LAST_PID; fi
[ -n "$A_PID" ] && [ -n "$B_PID" ] && ok "the killed front end starts again" || bad "the killed front end starts again"

# ---- PostgreSQL restarted under load
: >"$TMP/codes"
(
    end=$((SECONDS + 12))
    while [ $SECONDS -lt $end ]; do
        for p in $PA $PB; do call "$p" "$ADMIN" GET /secrets/s1 >>"$TMP/codes" 2>/dev/null; echo >>"$TMP/codes"; done
        sleep 0.05
    done
) &
LOAD=$!
sleep 2
pg_stop
sleep 1
code=$(curl -s -o "$TMP/tok" -w '%{http_code}' --cacert "$A/tls/ca.crt" "https://127.0.0.1:$PB/$TENANT/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$SP_ID" --data-urlencode "client_secret=$SP_SECRET" \
    -d scope=https://vault.azure.net/.default)
[ "$code" = 503 ] && grep -q temporarily_unavailable "$TMP/tok" &&
    ok "a sign-in while PostgreSQL is down: 503 temporarily_unavailable" ||
    bad "a sign-in during the outage: $code $(cat "$TMP/tok")"
sleep 2
pg_run "$TMP" >/dev/null || bad "PostgreSQL restarts"
wait "$LOAD" || true
n503=$(grep -c '^503$' "$TMP/codes" || true)
other=$(grep -vc '^\(200\|503\)$' "$TMP/codes" || true)
[ "$n503" -gt 0 ] && [ "$other" = 0 ] && ok "while PostgreSQL is down: 503s ($n503), nothing else" ||
    bad "during the outage: $n503 503s, $other other statuses ($(sort "$TMP/codes" | uniq -c | tr '\n' ' '))"
ok_after=0
for p in $PA $PB; do
    for _ in $(seq 1 50); do [ "$(call "$p" "$ADMIN" GET /secrets/s1)" = 200 ] && { ok_after=$((ok_after + 1)); break; }; sleep 0.2; done
done
[ "$ok_after" = 2 ] && ok "both front ends serve again without a restart" || bad "recovery after PostgreSQL restart"
kill -0 "$A_PID" && kill -0 "$B_PID" && ok "no front end exited" || bad "a front end exited"
sleep 1.5 # a sweep: each front end anchors its audit log

# ---- two audit chains, anchored in PostgreSQL
for p in $A_PID $B_PID; do kill -TERM "$p"; wait "$p" 2>/dev/null || true; done
A_PID= B_PID=
verify() { "$BIN/coffer" audit verify "$@" --store "$STORE" --service vault >"$TMP/out" 2>&1; }
if verify "$A/audit.log" "$B/audit.log" && [ "$(grep -c "matches the anchor" "$TMP/out")" = 2 ]; then
    ok "both front ends' audit logs match their anchors"
else
    bad "audit logs against anchors: $(cat "$TMP/out")"
fi
if ! verify "$A/audit.log" && grep -q "^missing: " "$TMP/out"; then
    ok "a front end's log left out is reported missing"
else
    bad "a log left out: $(cat "$TMP/out")"
fi
head -n -1 "$B/audit.log" >"$TMP/short.log"
if ! verify "$A/audit.log" "$TMP/short.log" && grep -q "BROKEN" "$TMP/out"; then
    ok "a log cut short no longer matches its anchor"
else
    bad "a log cut short: $(cat "$TMP/out")"
fi

# ---- nothing in the clear in PostgreSQL's files
psql -q "$PG_CONNINFO" -c CHECKPOINT >/dev/null 2>&1 || true
if grep -rqa "$MARK" "$TMP/pg/data"; then bad "the secret value is in PostgreSQL's files"; else ok "no plaintext secret in PostgreSQL's data directory"; fi

[ "$FAIL" -eq 0 ] || { echo "---- logs"; grep -h "status=401|status=5|error" "$TMP/a.log" "$TMP/b.log" | tail -8; }
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
