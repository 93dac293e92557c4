#!/usr/bin/env bash
# bench-exec-vs-consul.sh: remote exec in consulx and in real Consul, side
# by side in one run on this machine. For each system it starts one server
# and N-1 clients as processes on 127.0.0.1 (remote exec enabled, logs at
# warn), then measures with each system's own CLI, pointed at a client:
#
#   fan-out  `exec true` on all N nodes, ROUNDS times: wall time (median)
#   stream   `exec` of a command printing MB megabytes on 3 nodes: wall time,
#            the server's Raft last_log_index and RSS before and after
#
#   CONSUL=$(../shared/tools/build-consul.sh | tail -n 1)
#   scripts/bench-exec-vs-consul.sh ./consulx "$CONSUL" [N] [ROUNDS] [MB]
set -euo pipefail
CONSULX=$(readlink -f "$1") CONSUL=$(readlink -f "$2") N=${3:-10} ROUNDS=${4:-5} MB=${5:-10}
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
export CHECKPOINT_DISABLE=1
echo '{"disable_remote_exec": false, "log_level": "warn"}' >"$WORK/exec.json"

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
now() { date +%s.%N; }

# start SYSTEM BIN BASEPORT: a server and N-1 clients; sets SERVER_PID,
# SERVER_HTTP and CLIENT_HTTP.
start() {
	local sys=$1 bin=$2 base=$3 i
	for ((i = 0; i < N; i++)); do
		local p=$((base + 10 * i)) args
		args=(agent -node "$sys-$i" -bind 127.0.0.1 -client 127.0.0.1 -data-dir "$WORK/$sys-$i"
			-http-port $p -dns-port $((p + 1)) -serf-lan-port $((p + 2)) -serf-wan-port $((p + 3)) -server-port $((p + 4))
			-config-file "$WORK/exec.json")
		if [ "$sys" = consul ]; then
			args+=(-grpc-port -1 -grpc-tls-port -1)
		else
			args+=(-headless)
		fi
		if ((i == 0)); then
			args+=(-server -bootstrap-expect 1)
		else
			args+=(-retry-join "127.0.0.1:$((base + 2))" -retry-interval 1s)
		fi
		"$bin" "${args[@]}" >"$WORK/$sys-$i.log" 2>&1 &
		PIDS+=($!)
		((i == 0)) && SERVER_PID=$!
	done
	SERVER_HTTP=127.0.0.1:$base CLIENT_HTTP=127.0.0.1:$((base + 10))
	for _ in $(seq 300); do
		local alive
		alive=$("$bin" members -http-addr "$CLIENT_HTTP" 2>/dev/null | grep -c alive || true)
		if [ "$alive" = "$N" ] && curl -sf "$SERVER_HTTP/v1/status/leader" | grep -q 127; then
			# Let the catalog take every node before measuring Raft.
			sleep 3
			return 0
		fi
		sleep 0.2
	done
	echo "$sys: the cluster did not come up" >&2
	tail -5 "$WORK/$sys-0.log" >&2
	exit 1
}

raft_index() { "$1" info -http-addr "$SERVER_HTTP" | awk '/last_log_index/ {print $3}'; }

measure() {
	local sys=$1 bin=$2 base=$3 r
	start "$sys" "$bin" "$base"
	local times=()
	for ((r = 0; r < ROUNDS; r++)); do
		local t0 t1 out
		t0=$(now)
		out=$("$bin" exec -http-addr "$CLIENT_HTTP" true)
		t1=$(now)
		echo "$out" | tail -1 | grep -q "^$N / $N node(s)" || { echo "$sys fan-out: $(echo "$out" | tail -1)" >&2; }
		times+=("$(echo "$t1 - $t0" | bc)")
	done
	local median
	median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((ROUNDS + 1) / 2))p")
	printf '%-8s fan-out of `exec true` to %d nodes: median %.2f s (%s runs: %s)\n' "$sys" "$N" "$median" "$ROUNDS" "$(printf '%.2f ' "${times[@]}")"

	local idx0 rss0 t0 t1 bytes idx1 rss1
	idx0=$(raft_index "$bin") rss0=$(rss_mib "$SERVER_PID")
	t0=$(now)
	local cap=()
	# consulx caps each node's output (1 MiB by default); Consul does not.
	[ "$sys" = consulx ] && cap=(-max-output $((MB * 2000000)))
	bytes=$("$bin" exec -http-addr "$CLIENT_HTTP" "${cap[@]}" -node "^$sys-(1|2|3)\$" \
		"yes 0123456789012345678901234567890123456789012345678901234567890123456789 | head -c $((MB * 1000000))" | wc -c)
	t1=$(now)
	idx1=$(raft_index "$bin") rss1=$(rss_mib "$SERVER_PID")
	printf '%-8s stream %d MB from 3 nodes: %.2f s, %d bytes printed; server raft index %s -> %s (+%d), server RSS %s -> %s MiB\n' \
		"$sys" $((3 * MB)) "$(echo "$t1 - $t0" | bc)" "$bytes" "$idx0" "$idx1" $((idx1 - idx0)) "$rss0" "$rss1"
	kill "${PIDS[@]}" 2>/dev/null || true
	wait 2>/dev/null || true
	PIDS=()
}

measure consulx "$CONSULX" 21000
[ "${SKIP_CONSUL:-}" ] || measure consul "$CONSUL" 23000
