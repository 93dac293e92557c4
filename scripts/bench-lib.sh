# bench-lib.sh: what the side-by-side scripts (bench-ab.sh, bench-acl.sh,
# versus.sh) share. Source it.

# cpu_s PID: the process's CPU seconds so far (utime+stime).
cpu_s() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }

# per_10k C0 C1 OUT: CPU seconds per 10k operations, from the CPU seconds
# before and after a run and the run's `consulx bench` summary ("n/a"
# when the summary names no count).
per_10k() {
	local n
	n=$(echo "$3" | sed -n 's/^[^:]*: \([0-9]*\) \(ops\|queries\).*/\1/p' | head -1)
	if [ -n "$n" ] && [ "$n" -gt 0 ]; then
		awk -v a="$1" -v b="$2" -v n="$n" 'BEGIN{printf "%.2f", (b-a)*10000/n}'
	else
		echo n/a
	fi
}

# start_agent consulx|consul: a dev agent (in memory, one server) of
# either side on the same ports (HTTP 18500, DNS 18600), ready when it has
# a leader and answers DNS; AGENT is its PID. Needs CONSULX, CONSUL and
# WORK (with limits.json) set by the caller.
start_agent() { # consulx|consul
	if [ "$1" = consulx ]; then
		"$CONSULX" agent -dev -headless -node d1 -http-port 18500 -dns-port 18600 -serf-lan-port 18301 \
			-serf-wan-port 18302 -server-port 18300 -config-file "$WORK/limits.json" >"$WORK/agent.log" 2>&1 &
	else
		"$CONSUL" agent -dev -log-level=warn -node d1 -http-port 18500 -dns-port 18600 -serf-lan-port 18301 \
			-serf-wan-port 18302 -server-port 18300 -grpc-port -1 -grpc-tls-port -1 \
			-hcl 'limits { http_max_conns_per_client = 10000 }' >"$WORK/agent.log" 2>&1 &
	fi
	AGENT=$!
	for _ in $(seq 200); do
		if curl -sf 127.0.0.1:18500/v1/status/leader | grep -q 18300 &&
			dig +short @127.0.0.1 -p 18600 d1.node.consul | grep -q 127.0.0.1; then
			return 0
		fi
		sleep 0.1
	done
	echo "$1 did not start" >&2
	cat "$WORK/agent.log" >&2
	exit 1
}

stop_agent() { kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; AGENT=; }

# versus_setup NAME: what versus.sh and curve.sh start with: a work
# directory (WORK), this tree's binary (CONSULX), the Consul binary
# (CONSUL: as given, else built by ../shared/tools/build-consul.sh), and
# a limits.json that lets the load generator open its connections. The
# caller removes WORK and stops what it started (its own EXIT trap).
versus_setup() {
	WORK=$(mktemp -d)
	CONSULX=$WORK/consulx-$1
	go build -o "$CONSULX" ./cmd/consulx
	if [ -z "${CONSUL:-}" ]; then
		CONSUL=$(../shared/tools/build-consul.sh | tail -n 1)
	fi
	"$CONSUL" version | head -1
	export CHECKPOINT_DISABLE=1
	echo '{"limits":{"http_max_conns_per_client":10000}}' >"$WORK/limits.json"
}
