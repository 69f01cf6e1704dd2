#!/usr/bin/env bash
# Server benchmarks (BENCHMARKS.md): start-up time, turns per second over
# HTTP keep-alive (and, with wrk installed, GET /healthz under wrk in the
# same run, the binary's floor), turn cost at the 500th message, memory per
# open WebSocket.
# Runs against SQLite (fresh data dir) and, when reachable, PostgreSQL.
#
#   scripts/bench-server.sh                # everything, both databases
#   DURATION=20s CONNECTIONS=64 scripts/bench-server.sh
#   BACKENDS=sqlite scripts/bench-server.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
WS_COUNT=${WS_COUNT:-10000}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG=${WISMO_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432}
PORT=${PORT:-18181}

cargo build --release -q -p wismo
BIN=target/release/wismo
ulimit -n "$(ulimit -Hn)" || true

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

start_server() { # $1 = database url ("" for the default SQLite)
  # The load comes from one IP: lift the per-IP and per-conversation limits.
  local args=(serve --listen "127.0.0.1:$PORT" --data-dir "$work/data" --now 2026-11-24T12:00:00Z
    --rate-limit-ip 0 --rate-limit-conversation 0)
  [ -n "$1" ] && args+=(--database-url "$1")
  local t0; t0=$(date +%s%N)
  # Abuse blocking and the verification-guess limit are per IP too.
  WISMO_ABUSE_BLOCK=0 WISMO_VERIFICATION_FAILURES=0 \
    "$BIN" "${args[@]}" > "$work/server.log" 2>&1 &
  server_pid=$!
  until curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then cat "$work/server.log"; exit 1; fi
    sleep 0.01
  done
  local t1; t1=$(date +%s%N)
  echo "start-up to ready (process start → /readyz 200): $(( (t1 - t0) / 1000000 )) ms; $(head -1 "$work/server.log")"
}

stop_server() {
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
}

for backend in $BACKENDS; do
  url=""
  if [ "$backend" = postgres ]; then
    db="wismo_bench_$$"
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" -qc "CREATE DATABASE $db" > /dev/null
    url="$PG/$db"
  fi
  rm -rf "$work/data"
  echo "== $backend: first start (empty database, model trained and cached)"
  start_server "$url"; stop_server
  echo "== $backend: second start (model from the cache)"
  start_server "$url"
  echo "== $backend: turns over HTTP keep-alive, $CONNECTIONS connections, $DURATION"
  "$BIN" loadgen --url "http://127.0.0.1:$PORT" --connections "$CONNECTIONS" --duration "$DURATION"
  if command -v wrk > /dev/null; then
    # The same binary's floor: what it serves when a request does no work.
    echo "== $backend: GET /healthz under wrk, $CONNECTIONS connections, $DURATION (turns/s above as a share of this)"
    wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/healthz" | grep -E "Requests/sec|99%"
  else
    echo "== $backend: wrk not installed (Debian: apt-get install wrk): no /healthz comparison"
  fi
  echo "== $backend: a 500-message conversation per connection: first 50 vs last 50 turns"
  "$BIN" loadgen --mode growth --url "http://127.0.0.1:$PORT" --connections 4 --conversation-length-test 500
  echo "== $backend: $WS_COUNT open WebSockets"
  "$BIN" loadgen --mode ws --url "http://127.0.0.1:$PORT" --count "$WS_COUNT" --hold 5s --server-pid "$server_pid"
  stop_server
  if [ "$backend" = postgres ]; then
    psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS wismo_bench_$$ WITH (FORCE)" > /dev/null || true
  fi
done
