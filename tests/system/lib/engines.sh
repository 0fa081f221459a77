# The distributed engines a scale-out deployment runs on, started for a test
# in throw-away directories on loopback and stopped by PID (docs: issue 12's
# test set-up; installed by scripts/install-deps from Debian):
#
#   pg_start DIR      PostgreSQL 15 in DIR/pg (initdb, then postgres as the
#                     unprivileged `postgres` user, TCP on 127.0.0.1 and a
#                     Unix socket in DIR/pg); sets PG_PORT, PG_PID, PG_CONNINFO
#   pg_run DIR        starts that same server again (after a stop)
#   pg_stop           stops it as `pg_ctl stop` does (fast shutdown: open
#                     sessions are cut, not waited for) and waits for it
#   ceph_start DIR    a one-node Ceph: one monitor and one memstore OSD,
#                     `auth none`, a pool `coffer`; sets CEPH_CONF, CEPH_POOL,
#                     CEPH_MON_PID, CEPH_OSD_PID
#   engines_stop      stops whatever was started (SIGTERM, then SIGKILL)
#   frontend_clone SRC DST
#                     a second front end's data directory from an
#                     initialised one (docs/scale-out.md, the key ceremony):
#                     the same seal (seal.json; for the embedded SoftHSM2
#                     token its PIN and configuration, the token itself
#                     shared through a symlink), the same TLS material and,
#                     for coffer-blob, the same service id (service.json)
#
# Each start waits until the engine serves (a query, a `rados put`) and
# fails with its log otherwise.  Source after base.sh or common.sh.

PG_BIN=/usr/lib/postgresql/15/bin
ENGINE_PIDS=()

engine_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_start() {
    local dir=$1/pg
    # PostgreSQL refuses to run as root: its directory belongs to the
    # postgres user, and the test's directory lets it through (search only).
    chmod 0711 "$1"
    mkdir -p "$dir" && chown postgres: "$dir" && chmod 0700 "$dir"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -A trust -U coffer \
        --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
    PG_PORT=$(engine_free_port)
    pg_run "$1"
}

pg_run() {
    local dir=$1/pg
    # setpriv execs: PG_PID is the postmaster itself, so signals reach it.
    setpriv --reuid=postgres --regid=postgres --init-groups -- "$PG_BIN/postgres" -D "$dir/data" -p "$PG_PORT" \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories="$dir" \
        -c fsync=on -c max_connections=200 >>"$dir/server.log" 2>&1 &
    PG_PID=$!
    ENGINE_PIDS+=("$PG_PID")
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=coffer dbname=postgres"
    for _ in $(seq 1 100); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "PostgreSQL did not start:"; cat "$dir/server.log"
    return 1
}

ceph_start() {
    local dir=$1/ceph
    mkdir -p "$dir/mon" "$dir/osd" "$dir/run" "$dir/log"
    local port fsid
    port=$(engine_free_port)
    fsid=$(cat /proc/sys/kernel/random/uuid)
    CEPH_CONF=$dir/ceph.conf
    CEPH_POOL=coffer
    cat >"$CEPH_CONF" <<CONF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
osd pool default size = 1
osd pool default min size = 1
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default pg autoscale mode = off
mon warn on pool no redundancy = false
mon allow pool delete = true
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
CONF
    export CEPH_CONF
    monmaptool --create --add a "v2:127.0.0.1:$port" --fsid "$fsid" "$dir/monmap" >/dev/null
    ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring /dev/null >"$dir/log/mkfs.log" 2>&1 ||
        { cat "$dir/log/mkfs.log"; return 1; }
    ceph-mon -f -i a >>"$dir/log/mon.out" 2>&1 &
    CEPH_MON_PID=$!
    ENGINE_PIDS+=("$CEPH_MON_PID")
    local id
    id=$(timeout 30 ceph osd create) || { echo "Ceph: the monitor does not answer"; return 1; }
    mkdir -p "$dir/osd/osd.$id"
    ceph-osd -i "$id" --mkfs >>"$dir/log/mkfs.log" 2>&1 || { cat "$dir/log/mkfs.log"; return 1; }
    ceph-osd -f -i "$id" >>"$dir/log/osd.out" 2>&1 &
    CEPH_OSD_PID=$!
    ENGINE_PIDS+=("$CEPH_OSD_PID")
    timeout 30 ceph osd pool create "$CEPH_POOL" 8 >/dev/null 2>&1 ||
        { echo "Ceph: cannot create the pool"; return 1; }
    echo ready >"$dir/probe"
    for _ in $(seq 1 150); do
        timeout 5 rados -p "$CEPH_POOL" put coffer-probe "$dir/probe" 2>/dev/null && return 0
        kill -0 "$CEPH_OSD_PID" 2>/dev/null || break
        sleep 0.2
    done
    echo "Ceph: the OSD does not serve:"; tail -20 "$dir/log/osd.0.log" 2>/dev/null
    return 1
}

engines_stop() {
    local p
    for p in "${ENGINE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${ENGINE_PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    ENGINE_PIDS=()
}

frontend_clone() {
    local src=$1 dst=$2
    mkdir -p "$dst"
    cp "$src/seal.json" "$dst/"
    # coffer-blob's service id (the vault keeps its ids in the store).
    [ -f "$src/service.json" ] && cp "$src/service.json" "$dst/"
    if [ -d "$src/hsm" ]; then
        mkdir -p "$dst/hsm"
        cp "$src/hsm/user.pin" "$src/hsm/softhsm2.conf" "$dst/hsm/"
        ln -s "$src/hsm/tokens" "$dst/hsm/tokens"
    fi
    cp -r "$src/tls" "$dst/tls"
}

pg_stop() {
    kill -INT "$PG_PID" 2>/dev/null || return 0
    for _ in $(seq 1 100); do kill -0 "$PG_PID" 2>/dev/null || return 0; sleep 0.1; done
    echo "PostgreSQL did not stop"
    return 1
}
