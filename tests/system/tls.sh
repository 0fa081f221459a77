#!/usr/bin/env bash
# System test: the TLS policy of both servers, coffer-vault and coffer-blob,
# probed with `openssl s_client`, one server after the other with the same
# probes.  TLS 1.3, and TLS 1.2 with ECDHE + AEAD only (DESIGN.md §4): older
# protocol versions, static RSA, DHE and CBC suites must be refused by the
# server.  A refusal only counts if the client really offered it (it wrote a
# ClientHello); Debian's openssl needs @SECLEVEL=0 to offer TLS 1.0/1.1.
set -uo pipefail

root="${COFFER_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}"
bindir="${COFFER_BIN:-$root/build/bin}"
services=(coffer-vault coffer-blob)
for service in "${services[@]}"; do
  [ -x "$bindir/$service" ] || { echo "tls.sh: $bindir/$service not built" >&2; exit 1; }
done
command -v openssl >/dev/null || { echo "tls.sh: openssl not found" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/coffer-tls.XXXXXX")"
pid=""       # the server under test
service=""   # its name
ctl_pid=""
cleanup() {
  local rc=$?
  [ -z "$ctl_pid" ] || kill "$ctl_pid" 2>/dev/null
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  if [ "$rc" -ne 0 ] && [ -n "$service" ]; then
    echo "---- $service log"; tail -n 20 "$work/$service.log" 2>/dev/null
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Control: a permissive openssl s_server (RSA and ECDSA certificates,
# every cipher, security level 0).  Each must-fail probe is first shown to
# complete against it, which proves this openssl really offers that
# protocol/cipher; only then does the server's refusal mean anything.
ctl_port="$(free_port)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/rsa.key" -out "$work/rsa.crt" -days 1 -subj /CN=control >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ec.key" -out "$work/ec.crt" \
  -days 1 -subj /CN=control >/dev/null 2>&1
openssl s_server -accept "127.0.0.1:$ctl_port" -cert "$work/rsa.crt" -key "$work/rsa.key" -dcert "$work/ec.crt" \
  -dkey "$work/ec.key" -cipher 'ALL:eNULL:@SECLEVEL=0' -www -quiet >/dev/null 2>&1 &
ctl_pid=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$ctl_port") 2>/dev/null && break
  sleep 0.1
done

failures=0
probe() {  # probe server|control ARGS... -> sets out, rc
  local target="$1"; shift
  if [ "$target" = server ]; then
    out="$(timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" -verify_ip 127.0.0.1 \
      -verify_return_error "$@" </dev/null 2>&1)"
  else
    out="$(timeout 20 openssl s_client -connect "127.0.0.1:$ctl_port" "$@" </dev/null 2>&1)"
  fi
  rc=$?
}
written() { sed -n 's/.*handshake has read [0-9]* bytes and written \([0-9]*\) bytes.*/\1/p' <<<"$out" | head -n1; }
summary() { grep -E 'Cipher is|Protocol *:|Verify return code|alert|error:' <<<"$out" | sed 's/^/      /' | head -n 6; }
negotiated() { grep -q 'Cipher is' <<<"$out" && ! grep -q 'Cipher is (NONE)' <<<"$out"; }

must_fail() {  # label, s_client args...
  local label="$1"; shift
  local args=("$@") i
  probe control "${args[@]}"
  if ! negotiated; then
    # This openssl did not offer it at its default security level.
    local had_cipher=0
    for i in "${!args[@]}"; do
      if [ "${args[$i]}" = -cipher ]; then args[$((i + 1))]="${args[$((i + 1))]}:@SECLEVEL=0"; had_cipher=1; fi
    done
    [ "$had_cipher" = 1 ] || args+=(-cipher 'DEFAULT:@SECLEVEL=0')
    probe control "${args[@]}"
  fi
  if ! negotiated; then
    echo "FAIL  inconclusive: $label — this openssl cannot negotiate it even with a permissive server (args: ${args[*]})"
    summary; failures=$((failures + 1)); return
  fi
  local ctl; ctl="$(grep -oE 'Protocol *: *[^ ]+' <<<"$out" | head -n1 | tr -s ' '), $(grep -oE 'Cipher is [^ ]+' <<<"$out" | head -n1)"
  probe server "${args[@]}"
  local w; w="$(written)"
  if [ "$rc" -ne 0 ] && ! negotiated && [ "${w:-0}" -gt 0 ]; then
    echo "ok    refused: $label   (control server: $ctl; $service refused the ClientHello of $w bytes)"
  else
    echo "FAIL  accepted by $service: $label (args: ${args[*]})"
    summary; failures=$((failures + 1))
  fi
}

must_succeed() {  # label, expected cipher regex, s_client args...
  local label="$1" want="$2"; shift 2
  probe server "$@"
  if [ "$rc" -eq 0 ] && grep -q 'Verify return code: 0 (ok)' <<<"$out" && grep -qE "Cipher is $want" <<<"$out"; then
    echo "ok    accepted: $label ($(grep -oE 'Cipher is [^ ]+' <<<"$out" | head -n1), certificate verified for IP 127.0.0.1)"
  else
    echo "FAIL  not accepted by $service: $label (args: $*)"
    summary; failures=$((failures + 1))
  fi
}

# Session resumption: a second connection presenting the first one's
# session ticket skips the full handshake (the ticket arrives after the
# handshake in TLS 1.3, so each client stays a second to receive it).
must_resume() {  # label, s_client args...
  local label="$1"; shift
  rm -f "$work/session"
  out="$( (sleep 1) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" "$@" \
    -sess_out "$work/session" 2>&1)"
  out="$( (sleep 1) | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$ca" "$@" \
    -sess_in "$work/session" 2>&1)"
  if grep -q '^Reused, ' <<<"$out"; then
    echo "ok    resumed: $label ($(grep -m1 '^Reused, ' <<<"$out"))"
  else
    echo "FAIL  not resumed by $service: $label"
    summary; failures=$((failures + 1))
  fi
}

# The API answer of a healthy server to an anonymous request: the vault's
# 401 challenge; coffer-blob's 401 (or 403) for an anonymous listing.
health_path() { case "$service" in coffer-vault) echo "/keys?api-version=7.5" ;; *) echo "/coffer?comp=list" ;; esac; }
healthy() {  # healthy HTTP_STATUS
  case "$service:$1" in coffer-vault:401|coffer-blob:401|coffer-blob:403) return 0 ;; *) return 1 ;; esac
}

# Starts $service on a fresh data directory (it makes its own CA and
# certificate there) and waits until it answers; sets pid, port, ca.
start_service() {
  port="$(free_port)"
  "$bindir/$service" --data-dir "$work/$service" --listen "127.0.0.1:$port" >"$work/$service.log" 2>&1 &
  pid=$!
  ca="$work/$service/tls/ca.crt"
  local ready=0 _
  for _ in $(seq 1 600); do   # at most ~60 s
    kill -0 "$pid" 2>/dev/null || { echo "tls.sh: $service exited"; cat "$work/$service.log"; exit 1; }
    if [ -f "$ca" ] && healthy "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$ca" \
        "https://127.0.0.1:$port$(health_path)")"; then ready=1; break; fi
    sleep 0.1
  done
  [ "$ready" = 1 ] || { echo "tls.sh: $service not ready"; exit 1; }
  echo "tls.sh: $service on 127.0.0.1:$port ($("$bindir/$service" --version)), $(openssl version)"
}

stop_service() {
  local _ st
  kill -TERM "$pid"
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL  $service did not stop on SIGTERM"; failures=$((failures + 1))
  else
    wait "$pid"; st=$?; pid=""
    [ "$st" -eq 0 ] || { echo "FAIL  $service exited with status $st"; failures=$((failures + 1)); }
  fi
}

check_policy() {
  must_fail "TLS 1.0" -tls1
  must_fail "TLS 1.1" -tls1_1
  must_fail "TLS 1.2 static RSA, CBC (AES128-SHA)" -tls1_2 -cipher AES128-SHA
  must_fail "TLS 1.2 static RSA, GCM (AES256-GCM-SHA384, no forward secrecy)" -tls1_2 -cipher AES256-GCM-SHA384
  must_fail "TLS 1.2 DHE (DHE-RSA-AES128-GCM-SHA256)" -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256
  must_fail "TLS 1.2 ECDHE with CBC (ECDHE-ECDSA-AES128-SHA)" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA
  must_fail "TLS 1.2 ECDHE with CBC-SHA256 (ECDHE-ECDSA-AES128-SHA256)" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256
  must_fail "TLS 1.2 NULL cipher" -tls1_2 -cipher 'eNULL'
  must_succeed "TLS 1.2 ECDHE-ECDSA-AES128-GCM-SHA256" 'ECDHE-ECDSA-AES128-GCM-SHA256' -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
  must_succeed "TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384" 'ECDHE-ECDSA-AES256-GCM-SHA384' -tls1_2 -cipher ECDHE-ECDSA-AES256-GCM-SHA384
  must_succeed "TLS 1.3" 'TLS_AES_(128|256)_GCM_SHA(256|384)|TLS_CHACHA20_POLY1305_SHA256' -tls1_3
  must_succeed "TLS 1.3 TLS_AES_128_GCM_SHA256" 'TLS_AES_128_GCM_SHA256' -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256

  must_resume "TLS 1.2 session ticket" -tls1_2
  must_resume "TLS 1.3 session ticket" -tls1_3

  # Plain HTTP on the TLS port gets no API answer.
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port$(health_path)" || true)"
  case "$code" in
    000|400) echo "ok    plain HTTP refused (HTTP status '$code')";;
    *) echo "FAIL  plain HTTP answered by $service with HTTP $code"; failures=$((failures + 1));;
  esac

  # The server is still healthy after all the failed handshakes.
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$ca" "https://127.0.0.1:$port$(health_path)")"
  healthy "$code" || { echo "FAIL  $service unhealthy after the probes (HTTP $code)"; failures=$((failures + 1)); }
}

for service in "${services[@]}"; do
  start_service
  check_policy
  stop_service
done

if [ "$failures" -ne 0 ]; then
  echo "tls.sh: $failures failure(s)"
  exit 1
fi
echo "tls.sh: all TLS policy checks passed for ${services[*]}"
