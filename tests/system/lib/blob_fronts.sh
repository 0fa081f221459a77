# coffer-blob front ends over shared engines, for the scale-out tests
# (blob_front_ends.sh, blob_scale_rados.sh).  Source after base.sh and
# engines.sh, and start PostgreSQL (pg_start) before the first front end.
# Front end A's data directory is $A, B's $B (in $TMP); on exit both front
# ends, then the engines are stopped.
#
#   front DIR PORT [ARGS...]  starts coffer-blob on DIR (log: DIR.log) over
#                             that PostgreSQL with ARGS, and waits until it
#                             answers; sets FRONT_PID
#   start_fronts [ARGS...]    front end A on $A, then B on $B, a clone of A
#                             (frontend_clone), both with ARGS; sets PORT_A,
#                             PORT_B, PID_A, PID_B, CA, URL_A, URL_B (the
#                             default account) and SAS (A's); exits when one
#                             does not start
#   stop_fronts               stops $PID_A and $PID_B (SIGTERM), if running
#   free_port                 a free loopback port
#   boot FILE KEY             a value of a bootstrap.json
#   sas_for FILE              an account SAS (rwc, HTTPS, one hour) for the
#                             connection string of a bootstrap.json
#
# Needs node and tests/sdk/node_modules (the SAS): a test exits 77
# (skipped) without them, once it has sourced this.
[ -d "$COFFER_SOURCE/.cache/node/bin" ] && export PATH="$COFFER_SOURCE/.cache/node/bin:$PATH"
SAS_HELPER=$COFFER_SOURCE/tests/sdk/lib/account_sas.cjs
if ! command -v node >/dev/null || [ ! -d "$COFFER_SOURCE/tests/sdk/node_modules/@azure/storage-blob" ]; then
    echo "SKIP: node and the SDK (tests/sdk: npm ci) make the SAS"
    exit 77
fi

A=$TMP/a
B=$TMP/b
PID_A=
PID_B=
trap 'stop_fronts; engines_stop; cleanup' EXIT
stop_fronts() {
    local p
    for p in $PID_A $PID_B; do kill "$p" 2>/dev/null || true; done
    for p in $PID_A $PID_B; do wait "$p" 2>/dev/null || true; done
    PID_A=
    PID_B=
}

front() {
    local dir=$1 port=$2
    shift 2
    "$BIN/coffer-blob" --data-dir "$dir" --listen "127.0.0.1:$port" --store "postgres:$PG_CONNINFO" \
        --log-level info "$@" >>"$dir.log" 2>&1 &
    FRONT_PID=$!
    local code
    for _ in $(seq 1 600); do
        kill -0 "$FRONT_PID" 2>/dev/null || { tail -20 "$dir.log"; return 1; }
        if [ -s "$dir/bootstrap.json" ] && [ -s "$dir/tls/ca.crt" ]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$dir/tls/ca.crt" \
                "https://127.0.0.1:$port/coffer?comp=list" 2>/dev/null) || code=000
            if [ "$code" = 401 ] || [ "$code" = 403 ]; then return 0; fi
        fi
        sleep 0.1
    done
    return 1
}

start_fronts() {
    PORT_A=$(free_port)
    PORT_B=$(free_port)
    front "$A" "$PORT_A" "$@" || { echo "front end A did not start"; exit 1; }
    PID_A=$FRONT_PID
    frontend_clone "$A" "$B"
    front "$B" "$PORT_B" "$@" || { echo "front end B did not start"; exit 1; }
    PID_B=$FRONT_PID
    CA=$A/tls/ca.crt
    URL_A=https://127.0.0.1:$PORT_A/coffer
    URL_B=https://127.0.0.1:$PORT_B/coffer
    SAS=$(sas_for "$A/bootstrap.json")
}

free_port() { local p; until p=$(random_free_port); do :; done; echo "$p"; }

boot() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
sas_for() { node "$SAS_HELPER" "$(boot "$1" connection_string)"; }
