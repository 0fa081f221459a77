#!/usr/bin/env bash
# Two coffer-blob front ends over one PostgreSQL (--store postgres:CONNINFO),
# as a scale-out deployment runs them: A initialises its data directory;
# B gets its own with A's seal (service.json, seal.json, the token's PIN and
# configuration, the token itself shared through a symlink) and TLS
# material, the key ceremony the vault's two front ends go through
# (tests/sdk/run.sh, COFFER_TEST_STORE=postgres).  Then, through curl with
# an account SAS and the `coffer` CLI:
#   - a container made on A is listed on B;
#   - a small blob (inline, < 64 KiB) put on A is read on B, byte for byte;
#     deleted on B it is gone on A (404 BlobNotFound);
#   - lease acquisitions (different proposed ids) sent to A and B at once,
#     round after round: exactly one holds the lease each time;
#   - conditional creates (If-None-Match: *) sent to A and B at once, round
#     after round: exactly one wins each round, the other gets 409;
#   - a key regenerated on A stops working on B once the change notice is
#     there (blob_store.h, "Several front ends": milliseconds; the test
#     gives it ten seconds), while the new key works on B at once;
#   - both front ends restart over the same database (the schema is made
#     once, not again).
# Bodies above the inline threshold are files in the data directory of the
# front end that wrote them (the default, --extents files): such blobs are
# readable only there, so the cross-front-end checks use small bodies;
# blob_scale_rados.sh runs large ones over a shared RADOS pool.
#
# Env: COFFER_BIN, COFFER_SOURCE (set by CTest).  Needs PostgreSQL 15
# (scripts/install-deps), node and tests/sdk/node_modules (the SAS), curl,
# python3.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
. "$(dirname "$0")/lib/blob_fronts.sh"

pg_start "$TMP" || exit 1
start_fronts
ok "two front ends on one PostgreSQL"
# status URL [curl args]: the HTTP status of one request.
status() {
    local url=$1
    shift
    curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$CA" "$@" "$url" || echo 000
}

# ---- containers and small blobs across front ends ----
check "container create on A" env COFFER_BLOB_DIR="$A" "$CLI" container create shared1
check "container list on B" env COFFER_BLOB_DIR="$B" "$CLI" container list --output json
grep -q '"shared1"' "$TMP/out" && ok "A's container is on B" || bad "A's container is on B"
head -c 60000 /dev/urandom >"$TMP/small.bin"
check "put a small blob on A" env COFFER_BLOB_DIR="$A" "$CLI" blob upload "$TMP/small.bin" \
    --container shared1 --name small.bin
check "get it on B" env COFFER_BLOB_DIR="$B" "$CLI" blob download --container shared1 \
    --name small.bin --file "$TMP/small.out"
expect "the same bytes on B" cmp -s "$TMP/small.bin" "$TMP/small.out"
expect "curl with a SAS on B: 200" [ "$(status "$URL_B/shared1/small.bin?$SAS")" = 200 ]
check "delete it on B" env COFFER_BLOB_DIR="$B" "$CLI" blob delete --container shared1 \
    --name small.bin
expect "gone on A: 404" [ "$(status "$URL_A/shared1/small.bin?$SAS")" = 404 ]
grep -q BlobNotFound "$TMP/body" && ok "BlobNotFound on A" || bad "BlobNotFound on A"
check_rc "the CLI on A: exit 1" 1 env COFFER_BLOB_DIR="$A" "$CLI" blob download \
    --container shared1 --name small.bin --file "$TMP/none"

# ---- racing conditional creates: one winner a round ----
head -c 1000 /dev/urandom >"$TMP/race.bin"
put_once() { # URL: Put Blob with If-None-Match: *, prints the status
    curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X PUT -H 'x-ms-blob-type: BlockBlob' \
        -H 'If-None-Match: *' --data-binary @"$TMP/race.bin" "$1?$SAS" || echo 000
}
rounds=0 good=0
for i in $(seq 1 25); do
    put_once "$URL_A/shared1/race-$i" >"$TMP/ra" &
    ra=$!
    put_once "$URL_B/shared1/race-$i" >"$TMP/rb" &
    wait "$ra" $!
    got="$(cat "$TMP/ra") $(cat "$TMP/rb")"
    rounds=$((rounds + 1))
    case "$got" in "201 409" | "409 201") good=$((good + 1)) ;; *) echo "     round $i: $got" ;; esac
done
expect "exactly one conditional create wins each of $rounds rounds" [ "$good" = "$rounds" ]

# ---- racing lease acquisitions: one holder a round ----
acquire() { # URL LEASE-ID: Lease Blob acquire (15 s), prints the status
    curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -X PUT -H 'x-ms-lease-action: acquire' \
        -H 'x-ms-lease-duration: 15' -H "x-ms-proposed-lease-id: $2" "$1?comp=lease&$SAS" || echo 000
}
rounds=0 good=0
for i in $(seq 1 25); do
    acquire "$URL_A/shared1/race-$i" 11111111-1111-4111-8111-111111111111 >"$TMP/ra" &
    ra=$!
    acquire "$URL_B/shared1/race-$i" 22222222-2222-4222-8222-222222222222 >"$TMP/rb" &
    wait "$ra" $!
    got="$(cat "$TMP/ra") $(cat "$TMP/rb")"
    rounds=$((rounds + 1))
    case "$got" in "201 409" | "409 201") good=$((good + 1)) ;; *) echo "     round $i: $got" ;; esac
    # Free it again for the tests below (whichever id won).
    for id in 11111111-1111-4111-8111-111111111111 22222222-2222-4222-8222-222222222222; do
        curl -s -o /dev/null --cacert "$CA" -X PUT -H 'x-ms-lease-action: release' \
            -H "x-ms-lease-id: $id" "$URL_A/shared1/race-$i?comp=lease&$SAS" || true
    done
done
expect "exactly one lease acquisition wins each of $rounds rounds" [ "$good" = "$rounds" ]

# ---- a key regenerated on A stops working on B ----
# regenerate BOOTSTRAP SLOT: POST regenerateKey (Coffer's admin API, Shared Key).
regenerate() {
    python3 - "$1" "$2" <<'PYEOF'
import base64, email.utils, hashlib, hmac, json, ssl, sys, urllib.request
b = json.load(open(sys.argv[1]))
origin = b["blob_endpoint"].rsplit("/", 1)[0]
acct, key = b["account_name"], b["account_key"]
path = f"/.coffer/{acct}/regenerateKey"
body = json.dumps({"keyName": sys.argv[2]}).encode()
h = {"x-ms-date": email.utils.formatdate(usegmt=True), "x-ms-version": "2026-10-06",
     "content-type": "application/json", "content-length": str(len(body))}
sts = "\n".join(["POST", "", "", h["content-length"], "", h["content-type"], "", "", "", "", "", ""])
sts += "\n" + "".join(f"{k}:{h[k]}\n" for k in sorted(k for k in h if k.startswith("x-ms-")))
sts += f"/{acct}{path}"
sig = hmac.new(base64.b64decode(key), sts.encode(), hashlib.sha256).digest()
h["authorization"] = f"SharedKey {acct}:{base64.b64encode(sig).decode()}"
ctx = ssl.create_default_context(cafile=b["ca_cert"])
req = urllib.request.Request(origin + path, data=body, headers=h, method="POST")
sys.exit(0 if urllib.request.urlopen(req, context=ctx).status == 200 else 1)
PYEOF
}
expect "old key1 works on B" [ "$(status "$URL_B/shared1/race-1?$SAS")" = 200 ]
check "regenerate key1 on A" regenerate "$A/bootstrap.json" key1
NEW_SAS=$(sas_for "$A/bootstrap.json") # A rewrote its bootstrap.json
expect "the new key works on B" [ "$(status "$URL_B/shared1/race-1?$NEW_SAS")" = 200 ]
refused=0
for _ in $(seq 1 100); do
    [ "$(status "$URL_B/shared1/race-1?$SAS")" = 403 ] && { refused=1; break; }
    sleep 0.1
done
expect "the old key fails on B once the notice is there" [ "$refused" = 1 ]
grep -q AuthenticationFailed "$TMP/body" && ok "AuthenticationFailed on B" ||
    bad "AuthenticationFailed on B"
expect "and on A" [ "$(status "$URL_A/shared1/race-1?$SAS")" = 403 ]
SAS=$NEW_SAS

# ---- both restart over the same database ----
# stopped PID: SIGTERM is a clean stop (exit 0; a sanitizer's report is not).
stopped() {
    kill "$1" 2>/dev/null || return 1
    wait "$1"
}
check "A stops cleanly" stopped "$PID_A"
check "B stops cleanly" stopped "$PID_B"
PID_A=
PID_B=
if front "$A" "$PORT_A" && PID_A=$FRONT_PID && front "$B" "$PORT_B"; then
    ok "both restart"
else
    bad "both restart"
fi
PID_B=$FRONT_PID
expect "the data is still there, on B" [ "$(status "$URL_B/shared1/race-7?$SAS")" = 200 ]
cmp -s "$TMP/body" "$TMP/race.bin" && ok "byte for byte" || bad "byte for byte"
check "A stops cleanly again" stopped "$PID_A"
check "B stops cleanly again" stopped "$PID_B"
PID_A=
PID_B=
# Each front end anchored its audit chain in PostgreSQL (at every
# background round and at shutdown): both verify against their anchors.
if "$BIN/coffer" audit verify "$A/audit.log" "$B/audit.log" --store "postgres:$PG_CONNINFO" \
    --service blob >"$TMP/out" 2>&1 && [ "$(grep -c "matches the anchor" "$TMP/out")" = 2 ]; then
    ok "both audit chains match their anchors in PostgreSQL"
else
    bad "audit anchors: $(cat "$TMP/out")"
fi
expect "--store is in the usage" sh -c "'$BIN/coffer-blob' --help | grep -q -- '--store sqlite|postgres:CONNINFO'"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
