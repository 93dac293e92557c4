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
