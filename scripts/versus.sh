#!/usr/bin/env bash
# versus.sh: consulx against HashiCorp Consul 1.22.7, side by side in one
# run on one machine, with the same load generator (this tree's `consulx
# bench`). Each workload runs ROUNDS times, alternating consulx and Consul,
# each run on a fresh dev agent (`agent -dev`, in memory, one server) with
# the same ports. For every run it prints the bench summary and the
# agent's CPU seconds per 10k operations (utime+stime from /proc: the load
# generator shares the cores, so ops/s alone understates the server).
#
#   scripts/versus.sh [ROUNDS]
#
# The Consul binary: $CONSUL, else ../shared/tools/build-consul.sh (builds
# Consul 1.22.7 from its published Go module the first time, ~10 min).
# Two shapes: dev agents (in memory, one server) for KV and DNS, and a
# three-server cluster on disk (separate processes) for writes sent to
# the leader, where the CPU column sums the three servers.
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
SERVERS=()
cleanup() {
	[ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null
	for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "${WORK:-/nonexistent}"
}
trap cleanup EXIT
versus_setup versus

run() { # name -- bench args...
	local name=$1
	shift 2
	for r in $(seq "$ROUNDS"); do
		for side in consulx consul; do
			start_agent "$side"
			if [[ $name == kv-get* ]]; then
				"$CONSULX" bench kv-put -http-addr 127.0.0.1:18500 -total 1000 -keys 1000 >/dev/null
			fi
			local c0; c0=$(cpu_s "$AGENT")
			local out; out=$("$CONSULX" bench "$@" 2>&1)
			local c1; c1=$(cpu_s "$AGENT")
			stop_agent
			local per; per=$(per_10k "$c0" "$c1" "$out")
			echo "== $name round $r $side (agent CPU s per 10k ops: $per)"
			echo "$out" | sed 's/^/   /'
		done
	done
}

# start_cluster consulx|consul: three servers on disk; LEADER_HTTP is the
# leader's HTTP address once one is elected.
start_cluster() {
	SERVERS=()
	rm -rf "$WORK/c"
	local bin=$CONSULX extra=(-headless -log-level warn -retry-interval 100ms)
	if [ "$1" = consul ]; then
		bin=$CONSUL extra=(-log-level=warn -grpc-port -1 -grpc-tls-port -1 -retry-interval 1s)
	fi
	for i in 1 2 3; do
		"$bin" agent -server -bootstrap-expect 3 -node "s$i" -bind 127.0.0.1 -data-dir "$WORK/c/s$i" \
			-http-port $((18500 + i)) -dns-port $((18600 + i)) -serf-lan-port $((18300 + i * 2)) \
			-serf-wan-port $((18400 + i)) -server-port $((18700 + i)) -retry-join 127.0.0.1:18302 \
			"${extra[@]}" >"$WORK/s$i.log" 2>&1 &
		SERVERS+=($!)
	done
	LEADER_HTTP=
	for _ in $(seq 300); do
		local l; l=$(curl -sf 127.0.0.1:18501/v1/status/leader | tr -d '"' || true)
		if [ -n "$l" ] && [ "$l" != "" ]; then
			local port=${l##*:}
			LEADER_HTTP=127.0.0.1:$((port - 200))
			# Every server answers through the leader before the load starts.
			if curl -sf "$LEADER_HTTP/v1/kv/versus-ready" -X PUT -d 1 >/dev/null; then return 0; fi
		fi
		sleep 0.1
	done
	echo "$1 cluster did not elect a leader" >&2
	cat "$WORK"/s*.log >&2
	exit 1
}

stop_cluster() {
	for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${SERVERS[@]}"; do wait "$p" 2>/dev/null || true; done
	SERVERS=()
}

cluster_cpu() { local t=0; for p in "${SERVERS[@]}"; do t=$(awk -v a="$t" -v b="$(cpu_s "$p")" 'BEGIN{print a+b}'); done; echo "$t"; }

run_cluster() { # name -- bench args (the leader's address is added)
	local name=$1
	shift 2
	for r in $(seq "$ROUNDS"); do
		for side in consulx consul; do
			start_cluster "$side"
			local c0; c0=$(cluster_cpu)
			local out; out=$("$CONSULX" bench "$@" -http-addr "$LEADER_HTTP" 2>&1)
			local c1; c1=$(cluster_cpu)
			stop_cluster
			local per; per=$(per_10k "$c0" "$c1" "$out")
			echo "== $name round $r $side (3 servers' CPU s per 10k ops: $per)"
			echo "$out" | sed 's/^/   /'
		done
	done
}

# register_web: three instances of "web" on three catalog nodes, passing.
register_web() {
	for i in 1 2 3; do
		curl -sf -X PUT 127.0.0.1:18500/v1/catalog/register -d "{\"Node\":\"web-$i\",\"Address\":\"10.9.0.$i\",
			\"Service\":{\"Service\":\"web\",\"Port\":80},
			\"Check\":{\"CheckID\":\"up\",\"Name\":\"up\",\"Status\":\"passing\",\"ServiceID\":\"web\"}}" >/dev/null
	done
}

# run_dnsperf NAME QNAME: dnsperf (16 clients, 10 s) against each side's
# dev agent; the figure is its "Queries per second", the CPU per 10k from
# its completed queries.
run_dnsperf() {
	local name=$1 qname=$2
	echo "$qname A" >"$WORK/dnsperf.txt"
	for r in $(seq "$ROUNDS"); do
		for side in consulx consul; do
			start_agent "$side"
			register_web
			dig +short @127.0.0.1 -p 18600 "$qname" >/dev/null
			local c0; c0=$(cpu_s "$AGENT")
			local out; out=$(dnsperf -s 127.0.0.1 -p 18600 -d "$WORK/dnsperf.txt" -c 16 -l 10 2>&1)
			local c1; c1=$(cpu_s "$AGENT")
			stop_agent
			local n; n=$(echo "$out" | awk '/Queries completed:/{print $3}')
			local per; per=$(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN{ if (n > 0) printf "%.2f", (b-a)*10000/n; else print "n/a"}')
			echo "== $name round $r $side (agent CPU s per 10k ops: $per)"
			echo "$out" | grep -E 'Queries (completed|lost)|Queries per second|Average Latency|Latency StdDev' | sed 's/^ */   /'
		done
	done
}

# run_floor: the kv-get load against consulx's dev agent and, in the same
# round, against scripts/httpfloor, a server that answers every request
# with a canned body (net/http, then a hand-written HTTP/1.1 loop): what
# a request costs any Go server here, next to what consulx costs.
run_floor() {
	go build -o "$WORK/httpfloor" ./scripts/httpfloor
	for r in $(seq "$ROUNDS"); do
		for side in consulx httpfloor-nethttp httpfloor-raw; do
			if [ "$side" = consulx ]; then
				start_agent consulx
				"$CONSULX" bench kv-put -http-addr 127.0.0.1:18500 -total 1000 -keys 1000 >/dev/null
			else
				"$WORK/httpfloor" -addr 127.0.0.1:18500 -mode "${side#httpfloor-}" &
				AGENT=$!
				sleep 0.5
			fi
			local c0; c0=$(cpu_s "$AGENT")
			local out; out=$("$CONSULX" bench kv-get -seeded -http-addr 127.0.0.1:18500 -clients 16 -total 100000 2>&1)
			local c1; c1=$(cpu_s "$AGENT")
			stop_agent
			echo "== floor-kv-get round $r $side (server CPU s per 10k ops: $(per_10k "$c0" "$c1" "$out"))"
			echo "$out" | sed 's/^/   /'
		done
	done
}

# ONLY (a regular expression) runs only the workloads whose name matches.
want() { [[ $1 =~ ${ONLY:-.} ]]; }

want cluster-kv-put-16 && run_cluster cluster-kv-put-16 -- kv-put -clients 16 -total 20000
want cluster-kv-put-64 && run_cluster cluster-kv-put-64 -- kv-put -clients 64 -total 30000
want kv-put && run kv-put -- kv-put -http-addr 127.0.0.1:18500 -clients 16 -total 30000
want kv-get && run kv-get -- kv-get -http-addr 127.0.0.1:18500 -clients 16 -total 100000
want kv-get-stale && run kv-get-stale -- kv-get -http-addr 127.0.0.1:18500 -clients 16 -total 100000 -stale
want dns-node && run dns-node -- dns -addr 127.0.0.1:18600 -name d1.node.consul -duration 5s
want floor && run_floor
if command -v dnsperf >/dev/null; then
	want dnsperf-node && run_dnsperf dnsperf-node d1.node.consul
	want dnsperf-service && run_dnsperf dnsperf-service web.service.consul
else
	echo "dnsperf not installed (apt-get install dnsperf): its workloads are skipped" >&2
fi
