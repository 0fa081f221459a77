#!/usr/bin/env bash
# The extent store's RADOS backend (src/blob/extent_store_rados.c) against
# a real, throw-away Ceph: one monitor and one memstore OSD on loopback
# (tests/system/lib/engines.sh), stopped by PID.
#
# 1. The unit suite (tests/unit/blob/test_extent_store.c) on the pool, in
#    a namespace of its own, at the default chunk size and at 64 KiB
#    chunks; it leaves one sealed extent holding a plaintext marker behind.
# 2. From outside, with the rados tool: the pool holds that extent and
#    nothing else of the suite's (no partial write, no chunk left over);
#    its chunk objects, concatenated in order, are exactly the bytes the
#    store was given, and its head records their length; no object in the
#    pool contains the marker (a planted one shows the search would find it).
# 3. The OSD stopped: a write and a read each fail with CF_ERR_UNAVAILABLE
#    once the client's timeout (10 s) runs out, instead of hanging.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
trap 'engines_stop; cleanup' EXIT

UNIT=$BIN/../tests/test_extent_store
[ -x "$UNIT" ] || { echo "missing $UNIT (build the unit tests)"; exit 1; }

ceph_start "$TMP" && ok "Ceph serves a pool" || { bad "Ceph serves a pool"; exit 1; }
pool=$CEPH_POOL
ns=extent-store-test

# 1. The unit suite on RADOS.
mkdir "$TMP/sample"
if CEPH_CONF=$CEPH_CONF CEPH_POOL=$pool ES_TEST_NS=$ns ES_TEST_SAMPLE=$TMP/sample \
    timeout 600 "$UNIT" >"$TMP/unit.log" 2>&1; then
    ok "the extent store's unit suite passes on RADOS ($(tail -1 "$TMP/unit.log"))"
else
    bad "the extent store's unit suite passes on RADOS"
    grep -v '^-- ' "$TMP/unit.log" | tail -30
fi
grep -q '^== rados, 64 KiB chunks' "$TMP/unit.log" &&
    ok "both RADOS variants ran" || bad "both RADOS variants ran"

# 2. The pool from outside.
id=$(cat "$TMP/sample/sample.id" 2>/dev/null || true)
[ ${#id} -eq 32 ] && ok "the suite left a sample extent" || { bad "the suite left a sample extent"; exit 1; }
# Every namespace: "NAMESPACE<tab>NAME" (the default one empty).
rados -p "$pool" --all ls | sort >"$TMP/objects"
tab=$'\t'
grep "^$ns$tab$id\." "$TMP/objects" | cut -f2 >"$TMP/sample/objects" || true
others=$(grep -v -e "^$ns$tab$id\." -e "^${tab}coffer-probe\$" "$TMP/objects" || true)
[ -z "$others" ] && ok "no object of the suite's is left but the sample (all namespaces)" ||
    bad "objects left over: $(echo "$others" | head -5 | tr '\n' ' ')"
n=$(wc -l <"$TMP/sample/objects")
[ "$n" -eq 3 ] && ok "the sample is striped over 3 objects" || bad "the sample is in $n objects, want 3"
expected=$(for i in 0 1 2; do printf '%s.%08x\n' "$id" "$i"; done)
[ "$(cat "$TMP/sample/objects")" = "$expected" ] &&
    ok "chunk objects are named <id>.<8 hex digits>" || bad "chunk object names"
: >"$TMP/sample/stored"
while read -r o; do
    rados -p "$pool" -N "$ns" get "$o" "$TMP/sample/part"
    cat "$TMP/sample/part" >>"$TMP/sample/stored"
done <"$TMP/sample/objects"
cmp -s "$TMP/sample/stored" "$TMP/sample/sample.bin" &&
    ok "the chunks in RADOS are exactly the bytes written ($(stat -c %s "$TMP/sample/stored") bytes)" ||
    bad "the chunks in RADOS are exactly the bytes written"
size=$(stat -c %s "$TMP/sample/sample.bin")
mark=$(rados -p "$pool" -N "$ns" getxattr "$id.00000000" coffer.extent 2>/dev/null || true)
[ "$mark" = "v1 $size 4259840" ] && ok "the head records length and chunk size ($mark)" ||
    bad "the head records length and chunk size (got '$mark')"
rados -p "$pool" -N "$ns" getxattr "$id.00000000" coffer.chunks >/dev/null 2>&1 &&
    bad "a finished head keeps its write-time bound" || ok "a finished head has no write-time bound"
head -c 100 "$TMP/sample/stored" | grep -q CFXT &&
    ok "the stored bytes are an extent (CFXT header)" || bad "the stored bytes are an extent"

marker=$(cat "$TMP/sample/marker")
printf 'before %s after' "$marker" >"$TMP/control"
rados -p "$pool" -N "$ns" put coffer-control "$TMP/control"
found=()
while IFS= read -r line; do
    o_ns=${line%%"$tab"*} o=${line#*"$tab"}
    rados -p "$pool" -N "$o_ns" get "$o" "$TMP/obj"
    grep -qaF "$marker" "$TMP/obj" && found+=("$o")
done < <(rados -p "$pool" --all ls)
[ "${found[*]}" = coffer-control ] && ok "no object holds the plaintext marker (the planted one is found)" ||
    bad "objects holding the marker: ${found[*]}"

# 3. The OSD stopped: errors within the timeout, not a hang.
kill "$CEPH_OSD_PID"
for _ in $(seq 1 100); do kill -0 "$CEPH_OSD_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CEPH_OSD_PID" 2>/dev/null && bad "the OSD stopped" || ok "the OSD stopped"
t0=$(date +%s)
rc=0
CEPH_CONF=$CEPH_CONF CEPH_POOL=$pool ES_TEST_NS=$ns ES_TEST_FAULT=$id \
    timeout 120 "$UNIT" >"$TMP/fault.log" 2>&1 || rc=$?
t1=$(date +%s)
sed 's/^/     /' "$TMP/fault.log" | grep -v -- '-- ' || true
case $rc in
    0) ok "with the OSD down, a write and a read fail with CF_ERR_UNAVAILABLE ($((t1 - t0)) s)" ;;
    124) bad "with the OSD down, the store hung (killed after 120 s)" ;;
    *) bad "with the OSD down, a write and a read fail with CF_ERR_UNAVAILABLE (exit $rc)" ;;
esac

pids=("${ENGINE_PIDS[@]}")
engines_stop
left=0
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
[ "$left" -eq 0 ] && ok "every engine stopped by PID" || bad "$left engine processes left"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
