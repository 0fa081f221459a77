#!/usr/bin/env bash
# Durability and at-rest integrity of coffer-blob, as a user sees it through
# the real server over HTTPS (the `coffer` CLI as the client, curl and a
# small Python client for raw requests):
#   1. acknowledged writes (Put Blob, Put Block + Put Block List, overwrite,
#      delete, an empty blob) survive SIGKILL right after the client got its
#      answer, and restart on the same data dir;
#   2. an upload killed mid-transfer (CLI block upload of 200 MiB, a single
#      Put Blob whose body is half sent, a Put Block List whose body is half
#      sent, for a new blob and over an existing one) leaves nothing visible,
#      and start-up removes the temp files and orphans it left;
#   3. tampering with extent files while the server is stopped (a flipped
#      byte, truncation at a segment boundary and mid-segment, two same-size
#      extents swapped between blobs, two 64 KiB segments reordered, a
#      flipped byte in one block of a multi-block blob) makes the download
#      fail: the CLI exits non-zero and leaves neither OUT nor OUT.part (and
#      an OUT that existed before is untouched); raw reads never return bytes
#      that are not an authentic prefix; restoring the bytes heals every blob;
#   4. a marker put in every body, and one put in every blob's metadata,
#      appear nowhere in the data dir (extents, blob.db and its WAL).
#
# Env: COFFER_BIN=<build>/bin (set by CTest).  Needs bash, curl, python3,
# cmp.
set -euo pipefail

. "$(dirname "$0")/lib/base.sh"
D=$TMP/blob
BLOB_DIR=$D
# The server is killed on purpose (SIGKILL: no sanitizer report) or stopped
# with SIGTERM; its exit status is not checked, its log is kept on failure.

T_START=$SECONDS
NOTES=()
note() { NOTES+=("$1"); echo "note $1"; }
has_err() { grep -Eq -- "$1" "$TMP/err"; }

# ---- helpers in Python: bodies with a marker, a request
# whose body is only partly sent, prefix comparison ----
cat >"$TMP/h.py" <<'EOF'
import os, socket, ssl, sys

def gen(out, size, marker):
    # Random bytes with the marker every 4 KiB, so any plaintext segment
    # at rest would contain it.
    m = marker.encode()
    with open(out, "wb") as f:
        left = int(size)
        while left:
            n = min(left, 1 << 20)
            b = bytearray(os.urandom(n))
            for off in range(0, n - len(m) + 1, 4096):
                b[off:off + len(m)] = m
            f.write(b)
            left -= n

def partial(port, ca, target, body_file, send, ready, *headers):
    # PUT with the full Content-Length, but only `send` body bytes; then
    # signal `ready` and wait for the server to go away.
    body = open(body_file, "rb").read()
    ctx = ssl.create_default_context(cafile=ca)
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                        server_hostname="127.0.0.1")
    head = "PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nContent-Length: %d\r\n" % (target, port, len(body))
    head += "".join(h + "\r\n" for h in headers) + "\r\n"
    s.sendall(head.encode())
    s.sendall(body[:int(send)])
    open(ready, "w").close()
    s.settimeout(120)
    try:
        while s.recv(4096):
            pass
    except Exception:
        pass

def prefix(orig, got):
    g = open(got, "rb").read() if os.path.exists(got) else b""
    o = open(orig, "rb").read()
    sys.exit(0 if o[:len(g)] == g else 1)

def patch(path, what, *args):
    d = bytearray(open(path, "rb").read())
    if what == "flip":
        d[int(args[0])] ^= 0x01
    elif what == "swapseg":  # swap [a, a+n) and [b, b+n)
        a, b, n = int(args[0]), int(args[1]), int(args[2])
        d[a:a + n], d[b:b + n] = d[b:b + n], d[a:a + n]
    open(path, "wb").write(d)

globals()[sys.argv[1]](*sys.argv[2:])
EOF
py() { python3 "$TMP/h.py" "$@"; }

# ---- the server ----
# Same data dir, same port (bootstrap.json names it); a port still held
# by the dead process's connections gets a few more tries.
restart() {
    local t0=$SECONDS
    for _ in $(seq 1 50); do
        launch "$PORT" blob_ready "$BIN/coffer-blob" --data-dir "$D" --listen "127.0.0.1:$PORT" \
            --log-level info && { RESTART_S=$((SECONDS - t0)); return 0; }
        sleep 0.2
    done
    tail -20 "$TMP/server.log"
    echo "coffer-blob did not restart"
    exit 1
}
kill_server() { kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }
stop_server() { kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

start_blob
export COFFER_BLOB_DIR=$D
CA=$D/tls/ca.crt
URL=https://127.0.0.1:$PORT/coffer
SAS=$(python3 "$(dirname "$0")/lib/account_sas.py" "$D/bootstrap.json")
MARK=CofferDurabilityMarker-$RANDOM$RANDOM-body
META=CofferDurabilityMarker-$RANDOM$RANDOM-meta
MiB=$((1024 * 1024))
SEG=65536
TSEG=$((SEG + 16))

# raw_get NAME OUT: GET with the SAS; prints "HTTP-status curl-exit".
raw_get() {
    local code rc=0
    code=$(curl -sS -o "$2" -w '%{http_code}' --cacert "$CA" -H 'x-ms-version: 2021-08-06' \
        "$URL/box/$1?$SAS" 2>/dev/null) || rc=$?
    echo "$code $rc"
}
raw_head() {
    curl -s -o /dev/null -I -w '%{http_code}' --cacert "$CA" -H 'x-ms-version: 2021-08-06' \
        "$URL/box/$1?$SAS" || true
}
# store_sql SQL: a query on blob.db, which is encrypted under the sealed
# master key: read with the seal beside the running service.
store_sql() { "$CLI" store query --data-dir "$D" "$1"; }
# extent_of BLOB [SEQ]: the extent id of a committed blob's SEQth extent.
extent_of() {
    store_sql \
        "SELECT extent FROM blob_extents WHERE container='box' AND blob='$1' AND seq=${2:-0};"
}
extent_path() { echo "$D/extents/${1:0:2}/${1:2:2}/$1"; }
tmp_files() { find "$D/extents" -name '*.tmp' -type f | wc -l; }
# Every extent file on disk is referenced by metadata and every referenced
# extent exists.
extents_consistent() {
    find "$D/extents" -type f ! -name '*.tmp' -printf '%f\n' | sort >"$TMP/on_disk"
    store_sql \
        "SELECT extent FROM blob_extents UNION SELECT extent FROM uncommitted EXCEPT SELECT id FROM inline_extents;" | sort >"$TMP/in_db"
    cmp -s "$TMP/on_disk" "$TMP/in_db"
}

check "container create" "$CLI" container create box

# ======== 1. acknowledged writes survive SIGKILL ========
echo "# 1. acknowledged writes survive SIGKILL + restart"
t0=$SECONDS
declare -A SIZE=([s1]=1 [s2]=100000 [s3]=$((5 * MiB + 7)) [big]=$((70 * MiB + 12345))
    [t_flip]=300000 [t_truncb]=300000 [t_truncm]=300000 [t_swapa]=300000 [t_swapb]=300000
    [t_reorder]=300000 [gone]=5000)
for n in "${!SIZE[@]}"; do py gen "$TMP/$n.bin" "${SIZE[$n]}" "$MARK"; done
: >"$TMP/empty.bin"
for n in s1 s2 s3 gone t_flip t_truncb t_truncm t_swapa t_swapb t_reorder; do
    check "upload $n (${SIZE[$n]} bytes, Put Blob)" "$CLI" blob upload "$TMP/$n.bin" \
        --container box --name "$n" --metadata "tag=$META"
done
check "upload an empty blob" "$CLI" blob upload "$TMP/empty.bin" --container box --name empty
check "delete blob 'gone'" "$CLI" blob delete --container box --name gone
# s1 overwritten right before the kill: the new body must be the one kept.
py gen "$TMP/s1.v2" 77777 "$MARK"
check "overwrite s1" "$CLI" blob upload "$TMP/s1.v2" --container box --name s1 --overwrite \
    --metadata "tag=$META"
mv "$TMP/s1.v2" "$TMP/s1.bin"
# The multi-block upload, and SIGKILL as soon as the CLI says it succeeded.
if "$CLI" blob upload "$TMP/big.bin" --container box --name big --metadata "tag=$META" \
    --output json >"$TMP/out" 2>"$TMP/err"; then
    kill_server
    ok "upload big (70 MiB, Put Block + Put Block List), then SIGKILL"
else
    bad "upload big (70 MiB, Put Block + Put Block List)"
    kill_server
fi
expect "big went up in 9 blocks" [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("blocks"))' "$TMP/out" 2>/dev/null)" = 9 ]
restart
verify_all() {
    local n
    for n in s1 s2 s3 big t_flip t_truncb t_truncm t_swapa t_swapb t_reorder empty; do
        rm -f "$TMP/dl"
        if "$CLI" blob download --container box --name "$n" --file "$TMP/dl" >"$TMP/out" 2>"$TMP/err" &&
            cmp -s "$TMP/$n.bin" "$TMP/dl"; then
            ok "$1: $n intact"
        else
            bad "$1: $n intact"
        fi
    done
    rm -f "$TMP/dl"
}
verify_all "after SIGKILL"
check_rc "deleted blob stays deleted after SIGKILL" 1 "$CLI" blob show --container box --name gone
"$CLI" blob list --container box --output json >"$TMP/out" 2>"$TMP/err" || true
expect "listing after SIGKILL is exactly the acknowledged blobs" [ "$(python3 -c '
import json,sys; print(" ".join(sorted(b["name"] for b in json.load(open(sys.argv[1])))))' "$TMP/out")" = \
    "big empty s1 s2 s3 t_flip t_reorder t_swapa t_swapb t_truncb t_truncm" ]
expect "extent files and metadata agree after SIGKILL" extents_consistent
T1=$((SECONDS - t0))

# ======== 2. killed uploads leave nothing visible ========
echo "# 2. uploads killed mid-transfer leave nothing visible"
t0=$SECONDS
# 2a. The CLI streams 200 MiB as 8 MiB blocks; kill the server once a block
# is being written (a .tmp exists) and at least one block has landed.
py gen "$TMP/huge.bin" $((200 * MiB)) "$MARK"
"$CLI" blob upload "$TMP/huge.bin" --container box --name huge >"$TMP/huge.out" 2>"$TMP/huge.err" &
CLI_PID=$!
SAW_TMP=0
for _ in $(seq 1 1500); do
    if [ "$(tmp_files)" -gt 0 ] &&
        [ "$(store_sql "SELECT count(*) FROM uncommitted WHERE blob='huge';" 2>/dev/null || echo 0)" -ge 1 ]; then
        SAW_TMP=1
        break
    fi
    kill -0 "$CLI_PID" 2>/dev/null || break
    sleep 0.02
done
STAGED=$(store_sql "SELECT count(*) FROM uncommitted WHERE blob='huge';" 2>/dev/null || echo '?')
kill_server
CLI_RC=0
wait "$CLI_PID" || CLI_RC=$?
expect "200 MiB upload: server killed while a block .tmp existed ($STAGED blocks staged)" [ "$SAW_TMP" = 1 ]
expect "200 MiB upload: the CLI reports failure (exit $CLI_RC)" [ "$CLI_RC" != 0 ]
TMPS_BEFORE=$(tmp_files)
restart
check_rc "killed 200 MiB upload: blob show says BlobNotFound" 1 \
    "$CLI" blob show --container box --name huge
has_err "^coffer: BlobNotFound: " && ok "killed 200 MiB upload: BlobNotFound on stderr" ||
    bad "killed 200 MiB upload: BlobNotFound on stderr"
code=$(curl -s -o "$TMP/raw" -D "$TMP/hdr" -w '%{http_code}' --cacert "$CA" \
    -H 'x-ms-version: 2021-08-06' "$URL/box/huge?$SAS" || true)
expect "killed 200 MiB upload: raw GET is 404 BlobNotFound" \
    bash -c "[ '$code' = 404 ] && grep -qi '^x-ms-error-code: *BlobNotFound' '$TMP/hdr'"
expect "killed 200 MiB upload: raw HEAD is 404" [ "$(raw_head huge)" = 404 ]
"$CLI" blob list --container box --output json >"$TMP/out" 2>"$TMP/err" || true
expect "killed 200 MiB upload: not listed" \
    bash -c "! grep -q '\"huge\"' '$TMP/out'"
expect "killed 200 MiB upload: no .tmp after restart ($TMPS_BEFORE before)" [ "$(tmp_files)" = 0 ]
expect "extent files and metadata agree after the killed upload" extents_consistent
rm -f "$TMP/huge.bin"

# 2b. A single Put Blob whose body is half sent when the server dies.
py gen "$TMP/pb.bin" $((16 * MiB)) "$MARK"
rm -f "$TMP/ready"
py partial "$PORT" "$CA" "/coffer/box/pbkilled?$SAS" "$TMP/pb.bin" $((8 * MiB)) "$TMP/ready" \
    "x-ms-version: 2021-08-06" "x-ms-blob-type: BlockBlob" >/dev/null 2>&1 &
PY_PID=$!
for _ in $(seq 1 600); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
# Let the server write what it received.
for _ in $(seq 1 200); do [ "$(tmp_files)" -gt 0 ] && break; sleep 0.05; done
PB_TMP=$(tmp_files)
kill_server
wait "$PY_PID" 2>/dev/null || true
expect "half-sent Put Blob: server killed mid-body" [ -e "$TMP/ready" ]
expect "half-sent Put Blob: its .tmp is on disk when the server dies ($PB_TMP)" [ "$PB_TMP" -gt 0 ]
restart
expect "half-sent Put Blob: raw HEAD is 404" [ "$(raw_head pbkilled)" = 404 ]
check_rc "half-sent Put Blob: blob show exits 1" 1 "$CLI" blob show --container box --name pbkilled
has_err "^coffer: BlobNotFound: " && ok "half-sent Put Blob: BlobNotFound" ||
    bad "half-sent Put Blob: BlobNotFound"
expect "half-sent Put Blob: start-up removed the stale .tmp" [ "$(tmp_files)" = 0 ]
rm -f "$TMP/pb.bin"

# 2c. Put Block List killed while its body is in flight: for a new blob
# (must stay absent) and over s2 (must keep its old body).
py gen "$TMP/blk.bin" $((1 * MiB)) "$MARK"
B1=$(printf 'blk-0001' | base64)
B2=$(printf 'blk-0002' | base64)
stage() {
    curl -sf -o /dev/null -X PUT --cacert "$CA" -H 'x-ms-version: 2021-08-06' \
        --data-binary @"$TMP/blk.bin" \
        "$URL/box/$1?comp=block&blockid=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1], safe=""))' "$2")&$SAS"
}
LIST="<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>$B1</Latest><Latest>$B2</Latest></BlockList>"
printf '%s' "$LIST" >"$TMP/list.xml"
if stage pblnew "$B1" && stage pblnew "$B2" && stage s2 "$B1" && stage s2 "$B2"; then
    ok "stage two blocks for a new blob and for s2"
else
    bad "stage two blocks for a new blob and for s2"
fi
HALF=$((${#LIST} / 2))
rm -f "$TMP/ready" "$TMP/ready2"
py partial "$PORT" "$CA" "/coffer/box/pblnew?comp=blocklist&$SAS" "$TMP/list.xml" "$HALF" \
    "$TMP/ready" "x-ms-version: 2021-08-06" >/dev/null 2>&1 &
P1=$!
py partial "$PORT" "$CA" "/coffer/box/s2?comp=blocklist&$SAS" "$TMP/list.xml" "$HALF" \
    "$TMP/ready2" "x-ms-version: 2021-08-06" >/dev/null 2>&1 &
P2=$!
for _ in $(seq 1 600); do [ -e "$TMP/ready" ] && [ -e "$TMP/ready2" ] && break; sleep 0.05; done
sleep 0.3
kill_server
wait "$P1" 2>/dev/null || true
wait "$P2" 2>/dev/null || true
restart
expect "half-sent Put Block List: new blob is 404" [ "$(raw_head pblnew)" = 404 ]
rm -f "$TMP/dl"
"$CLI" blob download --container box --name s2 --file "$TMP/dl" >"$TMP/out" 2>"$TMP/err" &&
    cmp -s "$TMP/s2.bin" "$TMP/dl" && ok "half-sent Put Block List over s2: old body kept" ||
    bad "half-sent Put Block List over s2: old body kept"
rm -f "$TMP/dl"
expect "extent files and metadata agree after the killed commits" extents_consistent
T2=$((SECONDS - t0))

# ======== 3. tampering is detected, never returned as data ========
echo "# 3. tampered extent files are refused"
t0=$SECONDS
declare -A EXT
for n in t_flip t_truncb t_truncm t_swapa t_swapb t_reorder; do EXT[$n]=$(extent_of "$n"); done
BIGN=$(store_sql "SELECT count(*) FROM blob_extents WHERE container='box' AND blob='big';")
EXT[big]=$(extent_of big 4)
for n in "${!EXT[@]}"; do
    [ -n "${EXT[$n]}" ] && [ -f "$(extent_path "${EXT[$n]}")" ] || { echo "no extent for $n"; exit 1; }
done
expect "big is stored as 9 extents" [ "$BIGN" = 9 ]
stop_server
mkdir "$TMP/orig"
for n in "${!EXT[@]}"; do cp -p "$(extent_path "${EXT[$n]}")" "$TMP/orig/$n"; done
L=$(stat -c %s "$(extent_path "${EXT[t_flip]}")")
expect "a 300000-byte body is 300144 bytes at rest (64 + 5 * 16 + 300000)" [ "$L" = 300144 ]
# (a) one byte in the middle (segment 2's ciphertext)
py patch "$(extent_path "${EXT[t_flip]}")" flip $((L / 2))
# (b) truncated at a segment boundary (2 whole segments left) and mid-segment
truncate -s $((64 + 2 * TSEG)) "$(extent_path "${EXT[t_truncb]}")"
truncate -s $((64 + 2 * TSEG + 1000)) "$(extent_path "${EXT[t_truncm]}")"
# (c) two same-size extents swapped between two blobs
cp "$TMP/orig/t_swapb" "$(extent_path "${EXT[t_swapa]}")"
cp "$TMP/orig/t_swapa" "$(extent_path "${EXT[t_swapb]}")"
# (d) segments 1 and 2 exchanged inside one extent
py patch "$(extent_path "${EXT[t_reorder]}")" swapseg $((64 + TSEG)) $((64 + 2 * TSEG)) "$TSEG"
# (e) one byte flipped in the 5th of big's 9 block extents (32 MiB of
# authentic data come before it)
py patch "$(extent_path "${EXT[big]}")" flip $((64 + 3 * TSEG + 100))
restart
CASES="t_flip:flipped-byte t_truncb:truncated-at-segment-boundary t_truncm:truncated-mid-segment
t_swapa:swapped-extent-a t_swapb:swapped-extent-b t_reorder:reordered-segments big:flipped-byte-in-block-5"
for c in $CASES; do
    n=${c%%:*}
    what=${c#*:}
    rm -f "$TMP/dl" "$TMP/dl.part"
    rc=0
    "$CLI" blob download --container box --name "$n" --file "$TMP/dl" >"$TMP/out" 2>"$TMP/err" || rc=$?
    expect "$what ($n): CLI download fails (exit $rc)" [ "$rc" != 0 ]
    expect "$what ($n): no OUT and no OUT.part left" [ ! -e "$TMP/dl" -a ! -e "$TMP/dl.part" ]
    # An existing OUT is left as it was.
    echo sentinel >"$TMP/dl"
    "$CLI" blob download --container box --name "$n" --file "$TMP/dl" >/dev/null 2>&1 || true
    expect "$what ($n): a pre-existing OUT is untouched" \
        bash -c "[ \"\$(cat '$TMP/dl')\" = sentinel ] && [ ! -e '$TMP/dl.part' ]"
    rm -f "$TMP/dl" "$TMP/raw"
    read -r code crc <<<"$(raw_get "$n" "$TMP/raw")"
    got=$(stat -c %s "$TMP/raw" 2>/dev/null || echo 0)
    expect "$what ($n): raw GET fails (HTTP $code, curl exit $crc, $got bytes)" \
        bash -c "[ '$crc' != 0 ] || [ '${code:0:1}' != 2 ]"
    # A refusal (an error status, its body an Azure error document) or a
    # success status whose body is an authentic prefix cut short.
    if [ "${code:0:1}" = 2 ]; then
        expect "$what ($n): raw GET bytes are only an authentic prefix" py prefix "$TMP/$n.bin" "$TMP/raw"
    else
        expect "$what ($n): raw GET refused with an error document (HTTP $code)" grep -q "<Error>" "$TMP/raw"
    fi
    # A ranged read of the first (untouched) 100 bytes may be served or
    # refused, but never with other bytes.
    # Where segment 0 is intact (flip, reorder, big) serving them is right;
    # a swapped or truncated extent must be refused even for this range
    # (the extent id binds the key; the stored length is checked first).
    rm -f "$TMP/raw"
    rcrc=0
    rcode=$(curl -s -o "$TMP/raw" -w '%{http_code}' --cacert "$CA" -H 'x-ms-version: 2021-08-06' \
        -H 'x-ms-range: bytes=0-99' "$URL/box/$n?$SAS") || rcrc=$?
    got=$(stat -c %s "$TMP/raw" 2>/dev/null || echo 0)
    if [ "${rcode:0:1}" = 2 ]; then
        expect "$what ($n): ranged read of bytes 0-99 is authentic (HTTP $rcode, curl exit $rcrc, $got bytes)" \
            py prefix "$TMP/$n.bin" "$TMP/raw"
    else
        expect "$what ($n): ranged read refused with an error document (HTTP $rcode)" grep -q "<Error>" "$TMP/raw"
    fi
    case $n in
    t_swap* | t_trunc*)
        expect "$what ($n): ranged read of bytes 0-99 is refused" \
            [ "$rcrc" != 0 -o "${rcode:0:1}" != 2 ] ;;
    esac
done
rm -f "$TMP/raw"
grep -q "decryption failed\|integrity\|decrypt" "$TMP/server.log" &&
    ok "server logs the integrity failures" || bad "server logs the integrity failures"
kill -0 "$SERVER_PID" 2>/dev/null && ok "server survived every tampered read" ||
    bad "server survived every tampered read"
# Put the original bytes back: every blob reads again, so each failure above
# was the tampering and nothing else.
stop_server
for n in "${!EXT[@]}"; do cp -p "$TMP/orig/$n" "$(extent_path "${EXT[$n]}")"; done
restart
verify_all "after restoring the bytes"
T3=$((SECONDS - t0))

# ======== 4. nothing in plaintext at rest ========
echo "# 4. no plaintext at rest"
# A SIGKILL keeps blob.db-wal in place, so it is searched as it is.
kill_server
ls "$D"/blob.db* | sed 's/^/     /'
[ -e "$D/blob.db-wal" ] && ok "blob.db-wal present for the search" ||
    note "blob.db-wal absent (checkpointed); blob.db searched alone"
if grep -rFqa -- "$MARK" "$D"; then
    bad "body marker found at rest: $(grep -rlFa -- "$MARK" "$D" | tr '\n' ' ')"
else
    ok "body marker appears nowhere under the data dir ($(du -sh "$D" | cut -f1))"
fi
if grep -rFqa -- "$MARK" "$TMP/server.log"; then bad "body marker in the server log"; else
    ok "body marker not in the server log"; fi
META_AT=$(grep -rlFa -- "$META" "$D" | sed "s|^$D/||" | tr '\n' ' ' || true)
if [ -n "$META_AT" ]; then
    bad "metadata marker found at rest: $META_AT"
else
    ok "metadata marker appears nowhere under the data dir"
fi
restart
verify_all "final"

echo "timings: writes+SIGKILL ${T1}s, killed uploads ${T2}s, tampering ${T3}s, total $((SECONDS - T_START))s; last restart ${RESTART_S}s"
for n in "${NOTES[@]}"; do echo "note: $n"; done
echo "passed $PASS, failed $FAIL"
[ "$FAIL" = 0 ]
