#!/usr/bin/env bash
# bench-acl.sh: what ACL enforcement costs, side by side in one run on one
# machine: the same binary's `agent -dev`, ACLs off then on, alternating,
# ROUNDS times, a fresh agent each time. With ACLs on (default deny) the
# load runs with a token whose policy allows bench/ (so every request
# resolves a token and evaluates a policy), and DNS uses the agent's
# default token (service and node read). For each run: the bench summary
# and the agent's CPU seconds per 10k operations (utime+stime from /proc;
# the load generator shares the cores).
#
#   scripts/bench-acl.sh [ROUNDS]
set -euo pipefail
ROUNDS=${1:-3}
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
BIN=$WORK/consulx-acl-bench
go build -o "$BIN" ./cmd/consulx
PORTS=(-http-port 18500 -dns-port 18600 -serf-lan-port 18301 -serf-wan-port 18302 -server-port 18300)
trap 'pkill -f "consulx-acl-bench agent" 2>/dev/null || true; rm -rf "$WORK"' EXIT
ROOT=6d2c0fa4-1f1c-4a55-9d38-9c6b1d0a1b5e
APP=0b5f3b9e-6f0a-4c43-9a8e-3a1d2b7c9e11
DNS=1c6e4cae-7b1b-4d54-8b9f-4b2e3c8daf22
echo '{"limits":{"http_max_conns_per_client":30000}}' >"$WORK/off.json"
cat >"$WORK/on.json" <<EOF
{"limits":{"http_max_conns_per_client":30000},
 "acl":{"enabled":true,"default_policy":"deny",
        "tokens":{"initial_management":"$ROOT","agent":"$ROOT","default":"$DNS"}}}
EOF

# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

start_agent() { # off|on
	"$BIN" agent -dev -headless -node d1 "${PORTS[@]}" -config-file "$WORK/$1.json" >"$WORK/agent.log" 2>&1 &
	AGENT=$!
	for _ in $(seq 100); do
		curl -sf 127.0.0.1:18500/v1/status/leader | grep -q 18300 && break
		sleep 0.1
	done
	if [ "$1" = on ]; then
		for _ in $(seq 50); do
			curl -sf -H "X-Consul-Token: $ROOT" 127.0.0.1:18500/v1/acl/token/self >/dev/null && break
			sleep 0.1
		done
		export CONSUL_HTTP_TOKEN=$ROOT
		"$BIN" acl policy create -http-addr 127.0.0.1:18500 -name bench -rules 'key_prefix "bench/" { policy = "write" }' >/dev/null
		"$BIN" acl policy create -http-addr 127.0.0.1:18500 -name dns -rules 'service_prefix "" { policy = "read" } node_prefix "" { policy = "read" }' >/dev/null
		"$BIN" acl token create -http-addr 127.0.0.1:18500 -secret "$APP" -policy-name bench >/dev/null
		"$BIN" acl token create -http-addr 127.0.0.1:18500 -secret "$DNS" -policy-name dns >/dev/null
		export CONSUL_HTTP_TOKEN=$APP
	else
		unset CONSUL_HTTP_TOKEN
	fi
	for _ in $(seq 50); do
		dig +short @127.0.0.1 -p 18600 consul.service.consul | grep -q 127.0.0.1 && return 0
		sleep 0.1
	done
	echo "agent not ready" >&2
	cat "$WORK/agent.log" >&2
	exit 1
}

stop_agent() { kill "$AGENT"; wait "$AGENT" 2>/dev/null || true; }

run() { # name -- bench args...
	local name=$1
	shift 2
	for r in $(seq "$ROUNDS"); do
		for side in off on; do
			start_agent "$side"
			if [ "$name" = kv-get ]; then
				"$BIN" bench kv-put -http-addr 127.0.0.1:18500 -total 1000 -keys 1000 >/dev/null
			fi
			local c0; c0=$(cpu_s "$AGENT")
			local out; out=$("$BIN" bench "$@" 2>&1)
			local c1; c1=$(cpu_s "$AGENT")
			stop_agent
			local per; per=$(per_10k "$c0" "$c1" "$out")
			echo "== $name round $r ACLs $side (agent CPU s per 10k ops: $per)"
			echo "$out" | sed 's/^/   /'
		done
	done
}

run kv-get -- kv-get -http-addr 127.0.0.1:18500 -clients 16 -total 100000
run kv-put -- kv-put -http-addr 127.0.0.1:18500 -clients 16 -total 30000
run dns-service -- dns -addr 127.0.0.1:18600 -name consul.service.consul -duration 5s
