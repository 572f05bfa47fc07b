#!/bin/sh
# usage: mk/bench-allocprof.sh [BUILD_DIR]
# Overhead of the allocation profiler on an allocation-heavy reconcile loop
# (tests/fixtures/alloc_churn.c: 25 allocations, ~2.5 KB per reconcile; ALLOCPROF_THREADS
# worker threads, default 1: fewer threads fighting over 2 shared vCPUs),
# against no profiler and against gperftools' heap profiler, all in the same run with the
# configurations interleaved repetition by repetition. Figures are medians of the fixture's
# own measure of its reconcile phase: process CPU time per reconcile (steadier than wall time
# on this shared machine) and wall time. Rewrites the allocprof section of docs/performance.md.
set -eu
B=${1:-build}
F=$B/tests/fixtures
N=${ALLOCPROF_RECONCILES:-300000}
NG=${ALLOCPROF_GPERF_RECONCILES:-5000}	# gperftools records every allocation: ~100x slower
R=${ALLOCPROF_REPEAT:-15}
T=${ALLOCPROF_THREADS:-1}
TC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4
RP=$B/reconperf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for f in "$F/alloc_churn" "$F/alloc_churn_rp" "$RP" "$B/libreconperf-preload.so"; do
	[ -e "$f" ] || { echo "bench-allocprof: $f is missing: make B=$B all test-bins" >&2; exit 2; }
done
[ -r "$TC" ] || { echo "bench-allocprof: $TC is missing (libgoogle-perftools-dev)" >&2; exit 2; }

configs="base off count prof record tcmalloc gperf"

run() {	# config -> "cpu_ns wall_ns"
	case $1 in
	base) "$F/alloc_churn" "$N" $T ;;
	off) "$F/alloc_churn_rp" "$N" $T off ;;
	count) "$F/alloc_churn_rp" "$N" $T count ;;
	prof) ALLOC_CHURN_PROFILE=$tmp/prof.pb.gz "$F/alloc_churn_rp" "$N" $T prof ;;
	record) "$RP" record --mem -o "$tmp/record.pb.gz" -- "$F/alloc_churn" "$N" $T 2>/dev/null ;;
	tcmalloc) LD_PRELOAD=$TC "$F/alloc_churn" "$N" $T ;;
	gperf) LD_PRELOAD=$TC HEAPPROFILE=$tmp/gp "$F/alloc_churn" "$NG" $T 2>/dev/null ;;
	esac | awk '{ print $6, $4 }'
}

for r in $(seq "$R"); do
	for c in $configs; do
		run "$c" >> "$tmp/$c"
		rm -f "$tmp"/gp.*.heap
	done
	printf '.' >&2
done
echo >&2

median() {	# file column
	sort -g -k"$2" "$1" | awk -v k="$2" '{ v[NR] = $k } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

for c in $configs; do
	eval "cpu_$c=\$(median \"\$tmp/\$c\" 1)"
	eval "wall_$c=\$(median \"\$tmp/\$c\" 2)"
done

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }
row() {	# config description baseline-config
	eval "c=\$cpu_$1 w=\$wall_$1 bc=\$cpu_$3"
	printf '| %s | %s | %.0f | %.0f | %s |\n' "$1" "$2" "$c" "$w" "$(pct "$c" "$bc")"
}

{
	echo "Measured by \`sh mk/bench-allocprof.sh $B\` on $(date -u +%Y-%m-%d) ($(nproc) vCPU,"
	echo "load average $(cut -d' ' -f1 /proc/loadavg) at the end: a shared machine)."
	echo "Workload: tests/fixtures/alloc_churn.c, $T worker thread(s); each reconcile deep-copies"
	echo "a cached object and builds a patch: 25 allocations and 2493 bytes per reconcile"
	echo "(the exact counters say so). $N reconciles per run ($NG under gperftools' heap"
	echo "profiler, which records every allocation), $R runs of each configuration interleaved;"
	echo "medians of the process CPU time per reconcile (the metric) and of wall time."
	echo
	echo "| configuration | what runs | CPU ns/reconcile | wall ns/reconcile | CPU vs baseline |"
	echo "|---|---|---:|---:|---:|"
	row base "glibc malloc, no profiler (baseline)" base
	row off "interposer linked in, nothing on (bench without --memprofile)" base
	row count "exact allocs/bytes counters on (bench's allocs_per_reconcile)" base
	row prof "counters + heap sampling at 512 KiB, in-process (bench --memprofile)" base
	row record "\`reconperf record --mem\` (preload library, 512 KiB)" base
	row tcmalloc "tcmalloc (LD_PRELOAD libtcmalloc.so.4), no profiler" base
	row gperf "tcmalloc + gperftools' heap profiler (HEAPPROFILE)" tcmalloc
	echo
	echo "The gperf row compares with the tcmalloc row (the same allocator without its"
	echo "profiler). Target for the default-rate rows (prof, record): under 3%."
} | sh mk/perfdoc.sh allocprof
sed -n '/<!-- bench:allocprof -->/,/<!-- \/bench:allocprof -->/p' docs/performance.md
