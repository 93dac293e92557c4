#!/usr/bin/env bash
# bench-ab.sh: the agent benchmarks of BENCHMARKS.md for two consulx
# binaries side by side, in the same run on the same machine: each
# benchmark runs ROUNDS times, alternating A and B, each time on a fresh
# `agent -dev` (so neither inherits the other's heap or cache). The load
# generator is always binary B's `consulx bench`, so only the agent
# differs. For each run it prints the bench summary and the agent's CPU
# seconds per 10k operations (utime+stime from /proc, so a load generator
# sharing the cores does not hide a difference).
#
#   scripts/bench-ab.sh /tmp/consulx-before ./consulx [ROUNDS]
set -euo pipefail
A=$1 B=$2 ROUNDS=${3:-3}
PORTS=(-http-port 18500 -dns-port 18600 -serf-lan-port 18301 -serf-wan-port 18302 -server-port 18300)
WORK=$(mktemp -d)
trap 'pkill -f "consulx-ab-agent" 2>/dev/null || true; rm -rf "$WORK"' EXIT
echo '{"limits":{"http_max_conns_per_client":30000}}' > "$WORK/limits.json"

cpu_s() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }

start_agent() { # bin
	ln -sf "$(readlink -f "$1")" "$WORK/consulx-ab-agent"
	"$WORK/consulx-ab-agent" agent -dev -headless -node d1 "${PORTS[@]}" -config-file "$WORK/limits.json" >"$WORK/agent.log" 2>&1 &
	AGENT=$!
	for _ in $(seq 50); do
		curl -sf 127.0.0.1:18500/v1/status/leader | grep -q 18300 && return 0
		sleep 0.1
	done
	echo "agent did not start" >&2
	cat "$WORK/agent.log" >&2
	exit 1
}

stop_agent() { kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; }

# run NAME OPS -- bench args...: OPS is the operation count for CPU/10k
# ("" when the bench reports it; then the throughput line is used).
run() {
	local name=$1 ops=$2
	shift 3
	for r in $(seq "$ROUNDS"); do
		for side in A B; do
			local bin=$A
			[ "$side" = B ] && bin=$B
			start_agent "$bin"
			if [ "$name" = kv-get ]; then
				"$B" bench kv-put -http-addr 127.0.0.1:18500 -total 1000 -keys 1000 >/dev/null
			fi
			local c0; c0=$(cpu_s "$AGENT")
			local extra=()
			case $name in watch*) extra=(-pid "$AGENT") ;; esac
			local out; out=$("$B" bench "$@" "${extra[@]}" 2>&1)
			local c1; c1=$(cpu_s "$AGENT")
			stop_agent
			local n=$ops
			if [ -z "$n" ]; then
				n=$(echo "$out" | sed -n 's/^[^:]*: \([0-9]*\) \(ops\|queries\).*/\1/p' | head -1)
			fi
			local per=""
			if [ -n "$n" ] && [ "$n" -gt 0 ]; then
				per=$(awk -v c="$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" -v n="$n" 'BEGIN{printf "%.2f", c*10000/n}')
			fi
			echo "== $name round $r side $side (agent CPU s per 10k ops: ${per:-n/a})"
			echo "$out" | sed 's/^/   /'
		done
	done
}

run kv-get "" -- kv-get -http-addr 127.0.0.1:18500 -clients 16 -total 100000
run kv-put "" -- kv-put -http-addr 127.0.0.1:18500 -clients 16 -total 30000
run dns-service "" -- dns -addr 127.0.0.1:18600 -name consul.service.consul -duration 5s
run dns-node "" -- dns -addr 127.0.0.1:18600 -name d1.node.consul -duration 5s
run watch-1 "" -- watch -http-addr 127.0.0.1:18500 -idle 0 -hot 1 -rounds 50
run watch-kv-10k "" -- watch -http-addr 127.0.0.1:18500 -idle 10000 -hot 100 -rounds 20 -ramp 500
run watch-health-10k "" -- watch -http-addr 127.0.0.1:18500 -target health -idle 10000 -hot 100 -rounds 20 -ramp 500
