#!/usr/bin/env bash
# Two coffer-blob front ends over one PostgreSQL and one Ceph RADOS pool
# (--store postgres:CONNINFO --extents rados:POOL/NAMESPACE), as a
# scale-out deployment runs them (docs/scale-out.md), through curl with an
# account SAS and the `coffer` CLI, each request sent to the front end
# named:
#   - a 20 MiB blob (five RADOS chunks) put on A reads byte for byte on B,
#     whole and in a range across a chunk boundary;
#   - blocks staged on A (Put Block) and committed on B (Put Block List)
#     read on A;
#   - an append blob grown from both front ends in turn, each Append Block
#     with x-ms-blob-condition-appendpos (a stale position is refused with
#     412), reads whole on either;
#   - no object in the pool (any namespace) holds the plaintext marker
#     planted in those bodies, while one planted on purpose is found;
#   - the 20 MiB blob deleted on B is 404 on A at once, and its RADOS
#     objects are gone once the grace is over (--extent-grace 2);
#   - A killed (SIGKILL) in the middle of a large upload: B keeps serving,
#     every write acknowledged before reads back, the killed upload never
#     appears, and the leader's cleanup (--extent-cleanup 10: orphans older
#     than 10 s) removes its partial objects;
#   - the OSD stopped: a Get and a Put that need extents fail with 503
#     ServerBusy once the client's timeout (10 s) runs out instead of
#     hanging, while metadata requests and small (inline) bodies keep
#     working meanwhile; the failed Put leaves no blob behind.
#
# Env: COFFER_BIN, COFFER_SOURCE (set by CTest).  Needs Ceph and
# PostgreSQL 15 (scripts/install-deps), node and tests/sdk/node_modules
# (the SAS), curl, python3.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
. "$(dirname "$0")/lib/blob_fronts.sh"
NS=blobs
MARKER="COFFER-RADOS-PLAINTEXT-$RANDOM$RANDOM"
CHUNK=4259840 # the extent store's default chunk (4 MiB + 64 KiB)

ceph_start "$TMP" || exit 1
pg_start "$TMP" || exit 1
start_fronts --extents "rados:$CEPH_POOL/$NS" --extent-grace 2 --extent-cleanup 10
ok "two front ends on one PostgreSQL and one RADOS pool"

# body FILE SIZE: random bytes with the marker every 100,000 bytes.
body() {
    python3 - "$1" "$2" "$MARKER" <<'PYEOF'
import os, sys
path, size, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
b = bytearray(os.urandom(size))
for i in range(0, size - len(marker), 100000):
    b[i:i + len(marker)] = marker
open(path, "wb").write(b)
PYEOF
}
# req URL [curl args]: the HTTP status of one request (body in $TMP/body).
req() {
    local url=$1
    shift
    curl -s -o "$TMP/body" -w '%{http_code}' --max-time 120 --cacert "$CA" "$@" "$url" || echo 000
}
put_blob() { req "$1?$SAS" -X PUT -H 'x-ms-blob-type: BlockBlob' --data-binary @"$2"; }
get_to() { # URL FILE [curl args]: GET into FILE, prints the status
    local url=$1 out=$2
    shift 2
    curl -s -o "$out" -w '%{http_code}' --max-time 120 --cacert "$CA" "$@" "$url?$SAS" || echo 000
}
# The rados tool's complaints (its admin socket, taken by the front ends)
# are noise here.
objects() { rados -p "$CEPH_POOL" -N "$NS" ls 2>/dev/null | sort; }
# gone FILE TRIES PAUSE: whether none of the objects listed in FILE is left,
# asking TRIES times PAUSE seconds apart.
gone() {
    local _
    for _ in $(seq 1 "$2"); do
        [ -z "$(objects | comm -12 "$1" -)" ] && return 0
        sleep "$3"
    done
    return 1
}
cli_b() { env COFFER_BLOB_DIR="$B" "$CLI" "$@"; }

check "container create on B" cli_b container create scale

# ---- a large blob across front ends ----
body "$TMP/big.bin" $((20 * 1024 * 1024))
objects >"$TMP/objs0"
expect "Put Blob of 20 MiB on A: 201" [ "$(put_blob "$URL_A/scale/big.bin" "$TMP/big.bin")" = 201 ]
objects >"$TMP/objs1"
comm -13 "$TMP/objs0" "$TMP/objs1" >"$TMP/big.objs"
n=$(wc -l <"$TMP/big.objs")
expect "it is striped over 5 RADOS objects ($n)" [ "$n" -eq 5 ]
expect "Get on B: 200" [ "$(get_to "$URL_B/scale/big.bin" "$TMP/big.out")" = 200 ]
expect "the same 20 MiB on B" cmp -s "$TMP/big.bin" "$TMP/big.out"
lo=$((CHUNK - 1000)) hi=$((CHUNK + 70000))
expect "a range across a chunk boundary on B: 206" \
    [ "$(get_to "$URL_B/scale/big.bin" "$TMP/range.out" -H "x-ms-range: bytes=$lo-$hi")" = 206 ]
python3 -c 'import sys; d = open(sys.argv[1], "rb").read()
sys.stdout.buffer.write(d[int(sys.argv[2]):int(sys.argv[3]) + 1])' "$TMP/big.bin" "$lo" "$hi" \
    >"$TMP/range.want"
expect "the same range" cmp -s "$TMP/range.want" "$TMP/range.out"

# ---- blocks staged on A, committed on B ----
ids=()
xml="<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>"
: >"$TMP/blocks.want"
for i in 1 2 3; do
    body "$TMP/block$i" $((i * 1500000 + 7))
    cat "$TMP/block$i" >>"$TMP/blocks.want"
    id=$(printf 'block-%04d' "$i" | base64)
    ids+=("$id")
    xml+="<Latest>$id</Latest>"
    code=$(req "$URL_A/scale/blocks.bin?comp=block&blockid=$(python3 -c \
        'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$id")&$SAS" \
        -X PUT --data-binary @"$TMP/block$i")
    [ "$code" = 201 ] || bad "Put Block $i on A: $code"
done
xml+="</BlockList>"
expect "Put Block List on B: 201" \
    [ "$(req "$URL_B/scale/blocks.bin?comp=blocklist&$SAS" -X PUT --data-binary "$xml")" = 201 ]
expect "the committed blob on A: 200" [ "$(get_to "$URL_A/scale/blocks.bin" "$TMP/blocks.out")" = 200 ]
expect "the same bytes as the blocks" cmp -s "$TMP/blocks.want" "$TMP/blocks.out"

# ---- an append blob from both front ends ----
expect "Create Append Blob on A: 201" \
    [ "$(req "$URL_A/scale/log.bin?$SAS" -X PUT -H 'x-ms-blob-type: AppendBlob' -H 'Content-Length: 0')" = 201 ]
: >"$TMP/log.want"
pos=0 appended=0
for i in 1 2 3 4; do
    if [ $((i % 2)) = 1 ]; then url=$URL_A; else url=$URL_B; fi
    body "$TMP/app$i" $((i * 300000))
    code=$(req "$url/scale/log.bin?comp=appendblock&$SAS" -X PUT \
        -H "x-ms-blob-condition-appendpos: $pos" --data-binary @"$TMP/app$i")
    if [ "$code" = 201 ]; then
        appended=$((appended + 1))
        cat "$TMP/app$i" >>"$TMP/log.want"
        pos=$((pos + $(stat -c %s "$TMP/app$i")))
    fi
done
expect "four appends, alternating A and B, each at its position" [ "$appended" = 4 ]
expect "a stale append position on B: 412" [ "$(req "$URL_B/scale/log.bin?comp=appendblock&$SAS" \
    -X PUT -H 'x-ms-blob-condition-appendpos: 0' --data-binary @"$TMP/app1")" = 412 ]
grep -q AppendPositionConditionNotMet "$TMP/body" && ok "AppendPositionConditionNotMet" ||
    bad "AppendPositionConditionNotMet"
expect "the append blob on B: 200" [ "$(get_to "$URL_B/scale/log.bin" "$TMP/log.out")" = 200 ]
expect "the appends in order" cmp -s "$TMP/log.want" "$TMP/log.out"
expect "and on A" [ "$(get_to "$URL_A/scale/log.bin" "$TMP/log.out")" = 200 ]
cmp -s "$TMP/log.want" "$TMP/log.out" && ok "the same on A" || bad "the same on A"

# ---- no plaintext in the pool ----
printf 'before %s after' "$MARKER" >"$TMP/control"
rados -p "$CEPH_POOL" -N control put coffer-control "$TMP/control" 2>/dev/null
found=() scanned=0
tab=$'\t'
while IFS= read -r line; do
    o_ns=${line%%"$tab"*} o=${line#*"$tab"}
    [ "$line" = "$o" ] && o_ns= # the default namespace: no tab
    rados -p "$CEPH_POOL" -N "$o_ns" get "$o" "$TMP/obj" 2>/dev/null
    scanned=$((scanned + 1))
    grep -qaF "$MARKER" "$TMP/obj" && found+=("$o")
done < <(rados -p "$CEPH_POOL" --all ls 2>/dev/null)
[ "${found[*]}" = coffer-control ] &&
    ok "no RADOS object holds the plaintext ($scanned scanned; the planted one is found)" ||
    bad "objects holding the plaintext: ${found[*]}"
rados -p "$CEPH_POOL" -N control rm coffer-control 2>/dev/null

# ---- deleted on B: 404 on A, its objects gone after the grace ----
check "delete the 20 MiB blob on B" cli_b blob delete --container scale --name big.bin
expect "gone on A: 404" [ "$(req "$URL_A/scale/big.bin?$SAS")" = 404 ]
grep -q BlobNotFound "$TMP/body" && ok "BlobNotFound on A" || bad "BlobNotFound on A"
expect "its 5 RADOS objects are removed once the grace is over" gone "$TMP/big.objs" 150 0.2

# ---- SIGKILL of A during a large upload ----
body "$TMP/acked.bin" $((6 * 1024 * 1024))
expect "an acknowledged 6 MiB Put Blob on A: 201" \
    [ "$(put_blob "$URL_A/scale/acked.bin" "$TMP/acked.bin")" = 201 ]
objects >"$TMP/objs3"
body "$TMP/huge.bin" $((64 * 1024 * 1024))
curl -s -o /dev/null --cacert "$CA" --limit-rate 4M -X PUT -H 'x-ms-blob-type: BlockBlob' \
    --data-binary @"$TMP/huge.bin" "$URL_A/scale/huge.bin?$SAS" &
UPLOAD=$!
partial=
for _ in $(seq 1 300); do
    # A head still being written carries coffer.chunks (docs/extent-store.md).
    for o in $(objects | comm -13 "$TMP/objs3" - | grep '\.00000000$' || true); do
        rados -p "$CEPH_POOL" -N "$NS" getxattr "$o" coffer.chunks >/dev/null 2>&1 && partial=$o
    done
    [ -n "$partial" ] && [ "$(objects | comm -13 "$TMP/objs3" - | wc -l)" -ge 2 ] && break
    sleep 0.1
done
expect "the upload's partial extent is in RADOS (${partial:-none})" [ -n "$partial" ]
kill -9 "$PID_A"
wait "$PID_A" 2>/dev/null || true
PID_A=
wait "$UPLOAD" 2>/dev/null || true
objects | comm -13 "$TMP/objs3" - >"$TMP/partial.objs"
ok "A killed mid-upload ($(wc -l <"$TMP/partial.objs") objects of it in RADOS)"
expect "B serves the acknowledged write: 200" [ "$(get_to "$URL_B/scale/acked.bin" "$TMP/acked.out")" = 200 ]
expect "byte for byte" cmp -s "$TMP/acked.bin" "$TMP/acked.out"
expect "B still serves the blocks blob" [ "$(get_to "$URL_B/scale/blocks.bin" "$TMP/blocks.out")" = 200 ]
cmp -s "$TMP/blocks.want" "$TMP/blocks.out" && ok "byte for byte too" || bad "byte for byte too"
expect "the killed upload never appears: 404" [ "$(req "$URL_B/scale/huge.bin?$SAS")" = 404 ]
expect "the leader's cleanup removed the partial objects" gone "$TMP/partial.objs" 60 1
grep -q 'orphaned extents or partial writes' "$B.log" && ok "B's log says so" || bad "B's log says so"

# ---- the OSD stopped ----
body "$TMP/small.bin" 1000
expect "a small blob before (inline): 201" [ "$(put_blob "$URL_B/scale/small-1" "$TMP/small.bin")" = 201 ]
kill "$CEPH_OSD_PID"
for _ in $(seq 1 100); do kill -0 "$CEPH_OSD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CEPH_OSD_PID" 2>/dev/null && bad "the OSD stopped" || ok "the OSD stopped"
t0=$(date +%s)
get_to "$URL_B/scale/blocks.bin" "$TMP/down-get.out" >"$TMP/down-get.code" &
GET=$!
curl -s -o "$TMP/down-put.out" -w '%{http_code}' --max-time 120 --cacert "$CA" -X PUT \
    -H 'x-ms-blob-type: BlockBlob' --data-binary @"$TMP/acked.bin" \
    "$URL_B/scale/down.bin?$SAS" >"$TMP/down-put.code" 2>/dev/null &
PUT=$!
sleep 1
# Meanwhile, what needs no extent answers at once.
expect "Get Blob Properties: 200" [ "$(req "$URL_B/scale/blocks.bin?$SAS" -I)" = 200 ]
expect "a small Put Blob (inline): 201" [ "$(put_blob "$URL_B/scale/small-2" "$TMP/small.bin")" = 201 ]
expect "a small Get Blob (inline): 200" [ "$(get_to "$URL_B/scale/small-1" "$TMP/small.out")" = 200 ]
cmp -s "$TMP/small.bin" "$TMP/small.out" && ok "its bytes" || bad "its bytes"
check "List Blobs (the CLI)" cli_b blob list --container scale --output json
grep -q '"small-2"' "$TMP/out" && ok "lists the new small blob" || bad "lists the new small blob"
check "a delete (metadata only)" cli_b blob delete --container scale --name small-1
wait "$GET" "$PUT" || true
t1=$(date +%s)
expect "a Get that needs extents: 503 ($((t1 - t0)) s for both)" [ "$(cat "$TMP/down-get.code")" = 503 ]
grep -q ServerBusy "$TMP/down-get.out" && ok "ServerBusy" || bad "ServerBusy (Get)"
expect "a 6 MiB Put: 503" [ "$(cat "$TMP/down-put.code")" = 503 ]
grep -q ServerBusy "$TMP/down-put.out" && ok "ServerBusy" || bad "ServerBusy (Put)"
expect "the failed Put left no blob: 404" [ "$(req "$URL_B/scale/down.bin?$SAS" -I)" = 404 ]
grep -q 'is the cluster reachable' "$B.log" && ok "B's log names the cause" || bad "B's log names the cause"

# stopped PID: SIGTERM is a clean stop (exit 0; a sanitizer's report is not).
stopped() {
    kill "$1" 2>/dev/null || return 1
    wait "$1"
}
check "B stops cleanly" stopped "$PID_B"
PID_B=
# A was killed, so its exit says nothing: its log must hold no report.
! grep -qE 'runtime error|Sanitizer' "$A.log" "$B.log" && ok "no sanitizer report in either log" ||
    bad "sanitizer reports: $(grep -hE 'runtime error|Sanitizer' "$A.log" "$B.log" | head -3)"
expect "--extents is in the usage" \
    sh -c "'$BIN/coffer-blob' --help | grep -q -- '--extents files|rados:POOL'"
check_rc "--extents of another kind: refused (exit 2)" 2 "$BIN/coffer-blob" --data-dir "$TMP/c" \
    --listen 127.0.0.1:1 --extents s3:bucket
grep -q 'files or rados:' "$TMP/err" && ok "saying what it takes" || bad "saying what it takes"
check_rc "--extent-grace 0: refused (exit 2)" 2 "$BIN/coffer-blob" --data-dir "$TMP/c" \
    --listen 127.0.0.1:1 --extent-grace 0
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
