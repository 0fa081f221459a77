#!/usr/bin/env bash
# coffer-blob on PostgreSQL while PostgreSQL restarts (docs/scale-out.md,
# "Failures"): requests during the outage get 503 ServerBusy (never a 403
# for a valid SAS: an unreachable store is not a wrong credential), the
# first request after PostgreSQL is back succeeds without restarting the
# front end, and what was stored before is intact.
set -euo pipefail
. "$(dirname "$0")/lib/base.sh"
. "$(dirname "$0")/lib/engines.sh"
[ -d "$COFFER_SOURCE/.cache/node/bin" ] && export PATH="$COFFER_SOURCE/.cache/node/bin:$PATH"
BLOB_PID=
trap '[ -n "$BLOB_PID" ] && { kill "$BLOB_PID" 2>/dev/null; wait "$BLOB_PID" 2>/dev/null; }; engines_stop; cleanup' EXIT

pg_start "$TMP" >/dev/null || exit 1
P=$(random_free_port)
"$BIN/coffer-blob" --data-dir "$TMP/b" --listen "127.0.0.1:$P" --store "postgres:$PG_CONNINFO" \
    >"$TMP/blob.log" 2>&1 &
BLOB_PID=$!
for _ in $(seq 1 100); do
    [ -s "$TMP/b/bootstrap.json" ] && curl -s -o /dev/null --cacert "$TMP/b/tls/ca.crt" "https://127.0.0.1:$P/" && break
    sleep 0.1
done
boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$TMP/b/bootstrap.json" "$1"; }
SAS=$(node "$COFFER_SOURCE/tests/sdk/lib/account_sas.cjs" "$(boot connection_string)")
U="https://127.0.0.1:$P/$(boot account_name)/outage"
req() { curl -s -o "$TMP/body" -w '%{http_code}' --cacert "$TMP/b/tls/ca.crt" -H "x-ms-version: 2025-01-05" "$@"; }
[ "$(req -X PUT "$U?restype=container&$SAS")" = 201 ] &&
    [ "$(req -X PUT -H "x-ms-blob-type: BlockBlob" --data-binary kept "$U/b1?$SAS")" = 201 ] &&
    ok "a container and a blob stored" || bad "a container and a blob stored"

pg_stop
codes=""
for _ in 1 2 3; do codes="$codes $(req "$U/b1?$SAS")"; done
codes="$codes $(req -X PUT -H "x-ms-blob-type: BlockBlob" --data-binary new "$U/b2?$SAS")"
if [ "$(tr ' ' '\n' <<<"$codes" | grep -v '^$' | sort -u)" = 503 ] && grep -q "<Code>ServerBusy</Code>" "$TMP/body"; then
    ok "while PostgreSQL is down: 503 ServerBusy for reads and writes"
else
    bad "during the outage: statuses$codes"
fi
pg_run "$TMP" >/dev/null || bad "PostgreSQL starts again"
[ "$(req "$U/b1?$SAS")" = 200 ] && [ "$(cat "$TMP/body")" = kept ] &&
    ok "the first request after the restart is served, the blob intact" ||
    bad "after the restart: $(cat "$TMP/body")"
[ "$(req -X PUT -H "x-ms-blob-type: BlockBlob" --data-binary new "$U/b2?$SAS")" = 201 ] &&
    ok "writes work again without restarting the front end" || bad "writes after the restart"
kill -0 "$BLOB_PID" && ok "the front end never exited" || bad "the front end exited"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
