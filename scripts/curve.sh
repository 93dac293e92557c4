#!/usr/bin/env bash
# curve.sh: cost as the data grows, consulx and HashiCorp Consul 1.22.7
# side by side in one run. Each side gets a dev agent (in memory), filled
# in steps to each size of SIZES (keys curve/<n>, 100-byte values, loaded
# with `consulx bench load` through /v1/txn). At each size it prints:
# RSS, reads/s (16 clients, existing keys, default consistency), writes/s
# (16 clients, overwriting existing keys), and snapshot save and restore
# times through the HTTP API. The raw data is keys plus values.
#
#   scripts/curve.sh [SIZES]        (default "1000 100000 1000000")
#
# The Consul binary: $CONSUL, else ../shared/tools/build-consul.sh.
set -euo pipefail
SIZES=${1:-1000 100000 1000000}
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh
cleanup() {
	[ -n "${AGENT:-}" ] && kill "$AGENT" 2>/dev/null
	rm -rf "${WORK:-/nonexistent}"
}
trap cleanup EXIT
versus_setup curve

rss_mib() { awk '/^VmRSS:/{printf "%.0f", $2/1024}' "/proc/$1/status"; }
field() { echo "$1" | sed -n "s/.*$2 *\([0-9.]*[a-zµ]*\).*/\1/p" | head -1; }

printf '%-8s %9s %9s %8s %8s %9s %9s %9s %10s %10s\n' side keys raw_MiB RSS_MiB RSS/raw "reads/s" "writes/s" "get_p99" snap_save snap_restore
for side in consulx consul; do
	start_agent "$side"
	loaded=0
	for n in $SIZES; do
		"$CONSULX" bench load -http-addr 127.0.0.1:18500 -prefix curve/ -from "$loaded" -keys "$n" -size 100 -clients 8 >/dev/null
		loaded=$n
		sleep 2
		rss=$(rss_mib "$AGENT")
		raw=$(awk -v n="$n" 'BEGIN{printf "%.1f", n*(106+length(n))/1048576}')
		get=$("$CONSULX" bench kv-get -seeded -http-addr 127.0.0.1:18500 -prefix curve/ -keys "$n" -clients 16 -total 50000 2>&1)
		put=$("$CONSULX" bench kv-put -http-addr 127.0.0.1:18500 -prefix curve/ -keys "$n" -size 100 -clients 16 -total 20000 2>&1)
		snap=$("$CONSULX" bench snapshot -http-addr 127.0.0.1:18500 -keys 0 2>&1)
		printf '%-8s %9s %9s %8s %8s %9s %9s %9s %10s %10s\n' "$side" "$n" "$raw" "$rss" \
			"$(awk -v r="$rss" -v w="$raw" 'BEGIN{printf "%.1f", r/w}')" \
			"$(field "$get" throughput:)" "$(field "$put" throughput:)" "$(field "$get" p99)" \
			"$(field "$snap" 'snapshot save:')" "$(field "$snap" 'snapshot restore:')"
	done
	stop_agent
done
