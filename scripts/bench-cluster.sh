#!/usr/bin/env bash
# Many-instances benchmark (BENCHMARKS.md, issue 14): turns per second and
# p99 through HAProxy with 1 and then 3 instances (scripts/cluster: one
# PostgreSQL database, Redis, NATS), and one instance without HAProxy, all
# with the release build and the same load.
#
#   scripts/bench-cluster.sh
#   DURATION=20s CONNECTIONS=64 INSTANCES="1 2 3" scripts/bench-cluster.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-32}
INSTANCES=${INSTANCES:-"1 3"}
PORT=${CLUSTER_PORT:-18400}

cargo build --release -q -p wismo
BIN=$(realpath target/release/wismo)
ulimit -n "$(ulimit -Hn)" || true

dir=""
cleanup() {
  if [ -n "$dir" ]; then scripts/cluster down "$dir" > /dev/null 2>&1 || true; rm -rf "$dir"; fi
}
trap cleanup EXIT

for n in $INSTANCES; do
  dir=$(mktemp -d -t wismo-bench-cluster.XXXXXX)
  # The load comes from one IP: lift the per-IP and per-conversation limits.
  CLUSTER_BIN=$BIN CLUSTER_PORT=$PORT WISMO_RATE_LIMIT_IP=0 WISMO_RATE_LIMIT_CONVERSATION=0 \
    WISMO_ABUSE_BLOCK=0 WISMO_VERIFICATION_FAILURES=0 WISMO_LOG=warn \
    scripts/cluster up "$n" "$dir" > /dev/null
  if [ "$n" = 1 ]; then
    echo "== 1 instance, no HAProxy (PostgreSQL, Redis, NATS): $CONNECTIONS connections, $DURATION"
    "$BIN" loadgen --url "http://127.0.0.1:$((PORT + 1))" --connections "$CONNECTIONS" --duration "$DURATION"
  fi
  echo "== $n instance(s) behind HAProxy: $CONNECTIONS connections, $DURATION"
  "$BIN" loadgen --url "http://127.0.0.1:$PORT" --connections "$CONNECTIONS" --duration "$DURATION"
  cleanup
  dir=""
done
