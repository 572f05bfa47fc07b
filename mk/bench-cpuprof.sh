#!/bin/sh
# usage: mk/bench-cpuprof.sh [BUILD_DIR]
# CPU profiler overhead: a CPU-bound 2-thread workload (tests/fixtures/cpuwork, no frame
# pointers, 24-frame stacks) run bare, under `reconperf record` and under gperftools'
# libprofiler at the same rate, interleaved repetition by repetition. Throughput is work per
# CPU-second of the whole process (the profiler's cost is CPU time, and a shared machine's
# wall clock is not ours); the ratio is median(profiled) / median(bare). Also: samples
# collected against CPU-seconds x Hz, and the cost of one unwind at depth 64.
# Rewrites the `cpuprof` section of docs/performance.md.
set -eu
B=${1:-build}
R=$B/reconperf
REPS=${REPS:-5}
ITERS=${ITERS:-1000000}
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 2>/dev/null || true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run MODE HZ WORKLOAD -> "ops cpu_s samples"
run() {
	mode=$1 hz=$2 w=$3
	case $mode in
	bare) out=$("$w" 2 "$ITERS"); n=0 ;;
	reconperf)
		out=$("$R" record -o "$tmp/r.pb.gz" --hz "$hz" -- "$w" 2 "$ITERS" 2>"$tmp/err")
		n=$(sed -n 's/.*: \([0-9]*\) samples.*/\1/p' "$tmp/err") ;;
	gperftools)
		out=$(LD_PRELOAD=$GPERF CPUPROFILE="$tmp/g.prof" CPUPROFILE_FREQUENCY=$hz \
			"$w" 2 "$ITERS" 2>/dev/null)
		"$R" convert "$tmp/g.prof" -o "$tmp/g.pb.gz"
		n=$(go_samples "$tmp/g.pb.gz") ;;
	esac
	ops=$(echo "$out" | sed -n 's/^ops=\([0-9]*\) .*/\1/p')
	cpu=$(echo "$out" | sed -n 's/.* cpu_s=\([0-9.]*\) .*/\1/p')
	echo "$ops $cpu $n"
}

# samples/count total of a pprof file ("... accounting for N, 100% of N total")
go_samples() {
	n=$(HOME=$tmp GOCACHE=$tmp/gocache go tool pprof -symbolize=none -sample_index=samples \
		-top "$1" 2>/dev/null | sed -n 's/.*% of \([0-9]*\) total.*/\1/p' | head -1)
	echo "${n:-0}"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

W=$B/tests/fixtures/cpuwork-nofp
modes="bare reconperf"
[ -n "$GPERF" ] && modes="$modes gperftools"
for hz in 100 1000; do
	for i in $(seq "$REPS"); do
		for m in $modes; do
			set -- $(run "$m" "$hz" "$W")
			echo "$(awk -v o="$1" -v c="$2" 'BEGIN { printf "%.0f", o / c }')" >> "$tmp/tp.$m.$hz"
			echo "$(awk -v n="$3" -v c="$2" -v h="$hz" 'BEGIN { printf "%.1f", 100 * n / (c * h) }')" \
				>> "$tmp/cov.$m.$hz"
		done
	done
done

row() {
	hz=$1 m=$2
	b=$(median < "$tmp/tp.bare.$hz")
	t=$(median < "$tmp/tp.$m.$hz")
	c=$(median < "$tmp/cov.$m.$hz")
	awk -v b="$b" -v t="$t" -v c="$c" -v m="$m" -v h="$hz" 'BEGIN {
		printf "| %s | %d | %.0f | %.4f | %.2f%% | %s%% |\n", m, h, t, t / b, 100 * (1 - t / b), c }'
}

cost() {
	"$B/tests/fixtures/unwindcost-$1" 64 2000
}

{
	echo "Measured $(date -u +%Y-%m-%d) on $(nproc) vCPU, load average $(cut -d' ' -f1 /proc/loadavg)"
	echo "(shared machine), by \`sh mk/bench-cpuprof.sh $B\` (REPS=$REPS, ITERS=$ITERS):"
	echo "\`cpuwork-nofp 2 $ITERS\` (2 threads, ~24-frame stacks, built without frame"
	echo "pointers so every sample goes through libunwind), bare vs \`reconperf record --hz N\`"
	echo "vs gperftools (LD_PRELOAD=libprofiler.so.0, CPUPROFILE_FREQUENCY=N), interleaved;"
	echo "throughput = ops per CPU-second of the process; medians of $REPS."
	echo
	echo "| profiler | Hz | ops/CPU-s | ratio to bare | overhead | samples / (CPU-s x Hz) |"
	echo "|---|---|---|---|---|---|"
	echo "| bare | - | $(median < "$tmp/tp.bare.100") | 1 | - | - |"
	for hz in 100 1000; do
		for m in $modes; do
			[ "$m" = bare ] || row "$hz" "$m"
		done
	done
	echo
	echo "gperftools' process-wide ITIMER_PROF fires at most once per kernel tick (HZ=250"
	echo "here), so at 1000 Hz it collects a fraction of the samples and costs less for it;"
	echo "compare the overhead per sample, not only the ratio."
	echo
	echo "Cost of one \`unwind_from_ucontext()\` inside the signal handler, 64 frames deep"
	echo "(\`tests/fixtures/unwindcost\`, CLOCK_MONOTONIC around the call minus the clock's"
	echo "own cost; 2000 samples):"
	echo
	echo "| build | path | result |"
	echo "|---|---|---|"
	echo "| -fno-omit-frame-pointer | frame pointers | $(cost fp) |"
	echo "| -O2 (no frame pointers) | libunwind | $(cost nofp) |"
} | sh mk/perfdoc.sh cpuprof
echo "cpuprof: docs/performance.md updated"
