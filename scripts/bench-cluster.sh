#!/usr/bin/env bash
# Starts a 3-server consulx cluster on 127.0.0.1 (separate processes, data
# on disk), runs `consulx bench` against it, then stops it.
#   scripts/bench-cluster.sh kv-put -clients 16 -total 20000
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/consulx ./cmd/consulx
BIN=$PWD/bin/consulx
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
start=$(date +%s.%N)
for i in 1 2 3; do
  $BIN agent -headless -server -bootstrap-expect 3 -node "bench$i" -bind 127.0.0.1 \
    -data-dir "$WORK/s$i" -http-port $((18500+i)) -dns-port $((18600+i)) \
    -serf-lan-port $((18300+i*2)) -serf-wan-port $((18400+i)) -server-port $((18700+i)) \
    -retry-join 127.0.0.1:18302 -retry-interval 100ms -log-level warn 2>"$WORK/s$i.log" &
  pids+=($!)
done
ADDRS=127.0.0.1:18501,127.0.0.1:18502,127.0.0.1:18503
for _ in $(seq 1 200); do
  if [ "$($BIN operator raft list-peers -http-addr 127.0.0.1:18501 2>/dev/null | grep -c -E 'leader|follower')" = 3 ]; then break; fi
  sleep 0.05
done
echo "cluster healthy after $(echo "$(date +%s.%N) - $start" | bc) s"
for p in "${pids[@]}"; do echo "RSS pid $p: $(($(awk '/VmRSS/{print $2}' /proc/$p/status)/1024)) MiB (idle)"; done
if [ -n "${KILL_LEADER_AFTER:-}" ]; then
  # Failover measurement: kill -9 the leader while the benchmark runs.
  ( sleep "$KILL_LEADER_AFTER"
    leader=$($BIN operator raft list-peers -http-addr 127.0.0.1:18501 | awk '$4=="leader"{print $1}')
    n=${leader#bench}; echo "kill -9 leader $leader (pid ${pids[$((n-1))]})"
    kill -9 "${pids[$((n-1))]}"
  ) &
fi
$BIN bench "$@" -http-addr "$ADDRS" || true
for p in "${pids[@]}"; do
  [ -r /proc/$p/status ] && echo "RSS pid $p: $(($(awk '/VmRSS/{print $2}' /proc/$p/status)/1024)) MiB (after bench)"
done
echo "elections started (heartbeat timeouts), including the initial one: $(cat "$WORK"/s*.log | grep -c 'heartbeat timeout reached' || true)"

