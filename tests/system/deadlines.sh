#!/usr/bin/env bash
# Connection deadlines (src/http/deadlines.c), timed one by one against the
# vault: a client that trickles its request headers (a line every 2 s) is
# cut about 10 s after it connected; one that trickles a body (a byte every
# 2 s) is cut after a 10 s window with less than 16 KiB; a TLS handshake
# that never completes is cut at 10 s too; a client that sends its request
# promptly is unaffected.  Runs the three slow clients side by side (~12 s).
#
# Env: COFFER_BIN (set by CTest).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"

python3 - "$PORT" >"$TMP/deadlines.out" <<'PY'
import socket, ssl, sys, threading, time
port = int(sys.argv[1])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
results = {}

def closed_after(s, pieces, every):
    """Sends pieces[0] now and the next one every `every` s; returns the
    seconds until the server closed the connection (None: still open at 25 s)."""
    t0 = time.time()
    s.settimeout(0.2)
    i = 0
    next_send = t0
    while time.time() - t0 < 25:
        if time.time() >= next_send:
            try:
                s.sendall(pieces[min(i, len(pieces) - 1)])
            except OSError:
                return time.time() - t0
            i += 1
            next_send += every
        try:
            if s.recv(4096) == b"":
                return time.time() - t0
        except (socket.timeout, ssl.SSLWantReadError):
            pass
        except OSError:
            return time.time() - t0
    return None

def headers():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    results["headers"] = closed_after(s, [b"GET /keys?api-version=7.5 HTTP/1.1\r\nHost: h\r\n", b"X-Slow: 1\r\n"], 2)

def body():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    head = (b"PUT /secrets/slow?api-version=7.5 HTTP/1.1\r\nHost: h\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    results["body"] = closed_after(s, [head, b"x"], 2)

def handshake():
    s = socket.create_connection(("127.0.0.1", port))
    results["handshake"] = closed_after(s, [b"\x16\x03\x01\x02\x00", b"\x01"], 2)

def prompt():
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)))
    s.sendall(b"GET /keys?api-version=7.5 HTTP/1.1\r\nHost: h\r\n\r\n")
    s.settimeout(5)
    results["prompt"] = s.recv(64)[:12]

threads = [threading.Thread(target=f) for f in (headers, body, handshake, prompt)]
for t in threads: t.start()
for t in threads: t.join()
for k in ("headers", "body", "handshake", "prompt"):
    print(k, results.get(k))
PY
cat "$TMP/deadlines.out"
secs() { awk -v k="$1" '$1 == k {print $2}' "$TMP/deadlines.out"; }
within() { python3 -c "import sys; v=sys.argv[1]; sys.exit(0 if v != 'None' and $2 <= float(v) <= $3 else 1)" "$(secs "$1")"; }
expect "trickled headers cut at the 10 s deadline ($(secs headers) s)" within headers 9.5 12.5
expect "a trickled body cut after its first 10 s window ($(secs body) s)" within body 9.5 12.5
expect "an unfinished TLS handshake cut at 10 s ($(secs handshake) s)" within handshake 9.5 12.5
grep -q "^prompt b'HTTP/1.1 401" "$TMP/deadlines.out" && ok "a prompt client is answered" ||
    bad "a prompt client is answered"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
