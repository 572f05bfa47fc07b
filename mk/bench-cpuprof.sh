#!/bin/sh
# usage: mk/bench-cpuprof.sh [BUILD_DIR]
# CPU profiler overhead, every configuration in the same run, interleaved round by round
# (the order rotates each round), REPS rounds, medians:
#   1. the bench workloads: `reconperf bench SCENARIOS --duration BENCH_DUR` bare, with
#      `--cpuprofile F --hz N`, and with `--profiler gperftools` at the same rate;
#      throughput = reconciles per CPU-second of the process over the run (bench's cpu_ns);
#   2. cpuwork-nofp: a CPU-bound 2-thread fixture with ~24-frame stacks built without
#      frame pointers (every sample unwinds through libunwind), bare, under
#      `reconperf record` and under gperftools' libprofiler; throughput = ops per
#      CPU-second; also samples against CPU-seconds x Hz and the CPU cost per sample;
#   3. cpuwork pingpong: two threads passing a byte through pipes (context-switch bound),
#      which shows what each engine costs per context switch of a sampled thread;
#   4. sigcost: the clocks and signals alone (empty handler), per period;
#   5. record's fixed cost: cpuwork-nofp with almost nothing to do (loading the preload
#      library and its dependencies, the engine's set-up), its CPU minus the bare run's.
# CPU time, not wall time: the machine is shared, and the profiler's cost is CPU time.
# The overhead is 1 - the median over rounds of profiled / unprofiled throughput (paired
# within a round, so slow drifts of the machine cancel); "spread" is the 25th-75th
# percentile of the same per-round figure (how far the machine's noise moves it).
# Also: the cost of one unwind at depth 64. Rewrites the `cpuprof` section of
# docs/performance.md.
set -eu
B=${1:-build}
R=$B/reconperf
REPS=${REPS:-9}
ITERS=${ITERS:-1800000}	# ~3 CPU-s a run: record's fixed start cost is measured apart
PING=${PING:-60000}
BENCH_DUR=${BENCH_DUR:-1s}
SCENARIOS=${SCENARIOS:-"noop backup replicaset"}
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 2>/dev/null || true)
W=$B/tests/fixtures/cpuwork-nofp
S=$B/tests/fixtures/sigcost
SITERS=${SITERS:-300000}
SHZ=10000
smodes="none hrtimer perf timer"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"' EXIT

for f in "$R" "$W" "$S" "$B/libreconperf-preload.so"; do
	[ -e "$f" ] || { echo "bench-cpuprof: $f is missing: make B=$B all test-bins" >&2; exit 2; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# configurations: bare, rp<Hz> (reconperf, default engine: posix-timer up to 100 Hz, above
# it bpf-stack as root), rpbpf<Hz> (the signalling eBPF engine, bpf-cpu-clock), rpperf<Hz>
# (forced per-thread perf events), gp<Hz> (gperftools)
configs="bare rp100 rp1000 rpbpf1000 rpperf1000"
# rpna<Hz>: the default engine with RECONPERF_NO_TICK_ALIGN=1 (clocks not put in phase with
# the tick), to show what the alignment saves
fconfigs="bare rp100 rp1000 rpna1000 rpbpf1000 rpperf1000 rp4000"	# 4000 Hz: the cost per sample
pconfigs="bare rp100 rpperf100 rp1000 rpbpf1000 rpperf1000"
sconfigs="bare rp100 rp1000 rpbpf1000 rpperf1000"
if [ -n "$GPERF" ]; then
	configs="$configs gp100 gp1000"
	fconfigs="$fconfigs gp100 gp1000"
	pconfigs="$pconfigs gp100 gp1000"
fi

hz_of() { echo "$1" | tr -dc 0-9; }

# the list $1 rotated left by $2
rotate() {
	k=$2
	set -- $1
	k=$((k % $#))
	while [ "$k" -gt 0 ]; do
		x=$1
		shift
		set -- "$@" "$x"
		k=$((k - 1))
	done
	echo "$@"
}

# the engine named in a profile's comment
engine_of() { gzip -dc "$1" | tr -c 'a-z0-9=-' '\n' | sed -n 's/^engine=//p' | head -1; }

# fixture run: config args... -> "ops cpu_s samples engine"
fx() {
	c=$1
	shift
	hz=$(hz_of "$c")
	case $c in
	bare) out=$("$W" "$@"); n=0 e=- ;;
	rp*)
		eng=""
		na=""
		case $c in
		rpperf*) eng="--engine perf" ;;
		rpbpf*) eng="--engine bpf" ;;
		rpna*) na=1 ;;
		esac
		out=$(RECONPERF_NO_TICK_ALIGN=$na "$R" record -o "$tmp/r.pb.gz" --hz "$hz" $eng -- "$W" "$@" 2>"$tmp/err")
		n=$(sed -n 's/.*: \([0-9]*\) samples.*/\1/p' "$tmp/err")
		e=$(engine_of "$tmp/r.pb.gz") ;;
	gp*)
		out=$(LD_PRELOAD=$GPERF CPUPROFILE="$tmp/g.prof" CPUPROFILE_FREQUENCY=$hz \
			"$W" "$@" 2>"$tmp/err")
		n=$(sed -n 's/.*bytes = \([0-9]*\)\/.*/\1/p' "$tmp/err")
		e=setitimer ;;
	esac
	ops=$(echo "$out" | sed -n 's/^ops=\([0-9]*\) .*/\1/p')
	cpu=$(echo "$out" | sed -n 's/.* cpu_s=\([0-9.]*\) .*/\1/p')
	echo "$ops $cpu ${n:-0} $e"
}

# bench run: config -> one "scenario reconciles/CPU-s" line per scenario
bw() {
	c=$1 hz=$(hz_of "$1")
	set --
	for s in $SCENARIOS; do set -- "$@" "scenarios/$s.yaml"; done
	case $c in
	bare) ;;
	rpperf*) set -- "$@" --cpuprofile "$tmp/b.pb.gz" --hz "$hz" --engine perf ;;
	rpbpf*) set -- "$@" --cpuprofile "$tmp/b.pb.gz" --hz "$hz" --engine bpf ;;
	rp*) set -- "$@" --cpuprofile "$tmp/b.pb.gz" --hz "$hz" ;;
	gp*) set -- "$@" --cpuprofile "$tmp/b.pb.gz" --hz "$hz" --profiler gperftools ;;
	esac
	"$R" bench "$@" --duration "$BENCH_DUR" -q --format json -o "$tmp/b.json" 2>/dev/null
	case $c in
	rp*) [ -s "$tmp/eng.b.$c" ] || engine_of "$tmp/b.pb.gz" > "$tmp/eng.b.$c" ;;
	gp*) echo setitimer > "$tmp/eng.b.$c" ;;
	esac
	jq -r '.scenarios[] | "\(.name) \(.reconcile.count * 1e9 / .cpu_ns)"' "$tmp/b.json"
}

for r in $(seq "$REPS"); do
	for c in $(rotate "$configs" "$r"); do
		bw "$c" | while read -r s tp; do echo "$r $tp 0 0" >> "$tmp/bw.$s.$c"; done
	done
	for c in $(rotate "$sconfigs" "$r"); do
		set -- $(fx "$c" 2 1000)
		echo "$r $2" >> "$tmp/st.$c"
	done
	for c in $(rotate "$fconfigs" "$r"); do
		set -- $(fx "$c" 2 "$ITERS")
		echo "$r $(awk -v o="$1" -v c="$2" 'BEGIN { printf "%.1f", o / c }') $1 $3" \
			>> "$tmp/fx.$c"
		[ -s "$tmp/eng.$c" ] || echo "$4" > "$tmp/eng.$c"
	done
	for c in $(rotate "$pconfigs" "$r"); do
		set -- $(fx "$c" 2 "$PING" pingpong)
		echo "$r $(awk -v o="$1" -v c="$2" 'BEGIN { printf "%.1f", o / c }') $1 $3" \
			>> "$tmp/pp.$c"
		[ -s "$tmp/eng.$c" ] || echo "$4" > "$tmp/eng.$c"
	done
	for m in $(rotate "$smodes" "$r"); do
		"$S" "$m" "$SHZ" "$SITERS" |
			sed -n "s/^mode=[a-z]* cpu_s=\([0-9.]*\) signals=\([0-9]*\)$/$r \1 \2/p" \
			>> "$tmp/sc.$m"
	done
	printf '.' >&2
done
echo >&2

# stats FILE_BARE FILE (lines "round throughput ops samples") ->
# "median_throughput median_ratio p25_ratio p75_ratio median_samples ops", the ratios taken
# round by round (each profiled run against the unprofiled run of the same round)
stats() {
	sort -k1,1 "$1" > "$tmp/a"
	sort -k1,1 "$2" > "$tmp/b"
	join "$tmp/a" "$tmp/b" | awk '
		function srt(v, n,   i, j, t) {
			for (i = 2; i <= n; i++) {
				t = v[i]
				for (j = i - 1; j > 0 && v[j] > t; j--)
					v[j + 1] = v[j]
				v[j + 1] = t
			}
		}
		function med(v, n) { return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
		function q(v, n, p,   x, i) {
			x = 1 + (n - 1) * p
			i = int(x)
			return (i < n) ? v[i] + (x - i) * (v[i + 1] - v[i]) : v[n]
		}
		{ n++; b[n] = $2; t[n] = $5; r[n] = $5 / $2; s[n] = $7; o = $6 }
		END {
			srt(b, n); srt(t, n); srt(r, n); srt(s, n)
			printf "%.1f %.5f %.5f %.5f %s %s\n", med(t, n), med(r, n),
				q(r, n, .25), q(r, n, .75), med(s, n), o
		}'
}

pct() { awk -v x="$1" 'BEGIN { printf "%.2f%%", 100 * (1 - x) }'; }
spread() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f%% .. %.1f%%", 100 * (1 - b), 100 * (1 - a) }'; }
label() {
	case $1 in
	bare) echo "none" ;;
	rpperf*) echo "reconperf --engine perf" ;;
	rpbpf*) echo "reconperf --engine bpf" ;;
	rpna*) echo "reconperf, RECONPERF_NO_TICK_ALIGN=1" ;;
	rp*) echo "reconperf" ;;
	gp*) echo "gperftools" ;;
	esac
}

unwind_cost() { "$B/tests/fixtures/unwindcost-$1" 64 2000 ${2:-}; }

{
	echo "Measured $(date -u +%Y-%m-%d) by \`sh mk/bench-cpuprof.sh $B\` on $(nproc) vCPU"
	echo "(kernel $(uname -r), HZ=250, shared: load average $load0 at the start,"
	echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end). REPS=$REPS rounds; in each round every"
	echo "configuration runs once, in an order that rotates round by round. Throughput is work"
	echo "per CPU-second of the whole process (the profiler's threads and signal handlers"
	echo "included). Overhead = 1 - profiled / unprofiled throughput, the two runs of a round"
	echo "paired, median over the rounds; spread = the 25th to 75th percentile of that per-round"
	echo "overhead (how far the machine's noise moves it)."
	echo
	echo "**Bench workloads**: \`reconperf bench scenarios/S.yaml --duration $BENCH_DUR\`, with"
	echo "\`--cpuprofile F --hz N\` (reconperf, its default engine, \`--engine bpf\` or \`--engine perf\`) or"
	echo "\`--cpuprofile F --hz N --profiler gperftools\`;"
	echo "throughput = reconciles per CPU-second over the run (the report's \`cpu_ns\`)."
	echo
	echo "| scenario | profiler | engine | Hz | reconciles/CPU-s | overhead | spread |"
	echo "|---|---|---|---|---|---|---|"
	for s in $SCENARIOS; do
		set -- $(stats "$tmp/bw.$s.bare" "$tmp/bw.$s.bare")
		echo "| $s | none | - | - | $(printf %.0f "$1") | - | - |"
		for c in $configs; do
			[ "$c" = bare ] && continue
			set -- $(stats "$tmp/bw.$s.bare" "$tmp/bw.$s.$c")
			echo "| $s | $(label "$c") | $(cat "$tmp/eng.b.$c") | $(hz_of "$c") | $(printf %.0f "$1") | $(pct "$2") | $(spread "$3" "$4") |"
		done
	done
	echo
	echo "**CPU-bound fixture**: \`cpuwork-nofp 2 $ITERS\` (2 threads, ~24-frame stacks, built"
	echo "without frame pointers: every sample is unwound by DWARF CFI, libunwind in the handler for"
	echo "the signal engines, the copy unwound by the collector for bpf-stack), bare, under"
	echo "\`reconperf record --hz N\` and under gperftools (LD_PRELOAD=libprofiler.so.0,"
	echo "CPUPROFILE_FREQUENCY=N). Throughput and samples use the CPU time the fixture measures"
	echo "itself at the end of \`main\` (the profiler's start included, the profile's writing at"
	echo "exit not); CPU per sample = the run's extra CPU time / its samples, where the overhead"
	echo "exceeds its spread (4000 Hz is there for that: the cost well above the noise)."
	echo
	echo "| profiler | engine | Hz | ops/CPU-s | overhead | spread | samples / (CPU-s x Hz) | CPU per sample |"
	echo "|---|---|---|---|---|---|---|---|"
	set -- $(stats "$tmp/fx.bare" "$tmp/fx.bare")
	echo "| none | - | - | $(printf %.0f "$1") | - | - | - | - |"
	bare_tp=$1
	for c in $fconfigs; do
		[ "$c" = bare ] && continue
		set -- $(stats "$tmp/fx.bare" "$tmp/fx.$c")
		hz=$(hz_of "$c")
		cov=$(awk -v n="$5" -v o="$6" -v t="$1" -v h="$hz" 'BEGIN { printf "%.1f%%", 100 * n / (o / t * h) }')
		# extra CPU of a run / its samples; meaningless where the spread exceeds the overhead
		per=$(awk -v n="$5" -v o="$6" -v r="$2" -v p="$3" -v q="$4" -v b="$bare_tp" 'BEGIN {
			x = (o / (b * r) - o / b) / n * 1e6
			if (1 - r > q - p && x > 0) printf "%.1f us", x; else printf "(noise)" }')
		echo "| $(label "$c") | $(cat "$tmp/eng.$c") | $hz | $(printf %.0f "$1") | $(pct "$2") | $(spread "$3" "$4") | $cov | $per |"
	done
	echo
	echo "**Context switches**: \`cpuwork 2 $PING pingpong\` (two threads pass a byte through"
	echo "two pipes: ~$((4 * PING / 1000))k context switches a run, almost no computation)."
	echo
	echo "| profiler | engine | Hz | round trips/CPU-s | overhead | spread |"
	echo "|---|---|---|---|---|---|"
	set -- $(stats "$tmp/pp.bare" "$tmp/pp.bare")
	echo "| none | - | - | $(printf %.0f "$1") | - | - |"
	for c in $pconfigs; do
		[ "$c" = bare ] && continue
		set -- $(stats "$tmp/pp.bare" "$tmp/pp.$c")
		echo "| $(label "$c") | $(cat "$tmp/eng.$c") | $(hz_of "$c") | $(printf %.0f "$1") | $(pct "$2") | $(spread "$3" "$4") |"
	done
	echo
	echo "**The mechanisms alone**: \`sigcost MODE $SHZ $SITERS\` (2 threads spinning, an empty"
	echo "signal handler, no profiler): the extra process CPU over the run without a clock"
	echo "(median of the per-round differences) per hrtimer period (CPU-s x $SHZ) or per signal."
	echo
	echo "| clock per thread | periods or signals | extra CPU | per period |"
	echo "|---|---|---|---|"
	sort -k1,1 "$tmp/sc.none" > "$tmp/a"
	for m in hrtimer perf timer; do
		sort -k1,1 "$tmp/sc.$m" > "$tmp/b"
		join "$tmp/a" "$tmp/b" | awk -v m="$m" -v hz="$SHZ" '
			function srt(v, n,   i, j, t) {
				for (i = 2; i <= n; i++) {
					t = v[i]
					for (j = i - 1; j > 0 && v[j] > t; j--)
						v[j + 1] = v[j]
					v[j + 1] = t
				}
			}
			function med(v, n) { return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
			{ n++; d[n] = $4 - $2; c[n] = $2; s[n] = $5 }
			END {
				srt(d, n); srt(c, n); srt(s, n)
				p = (m == "hrtimer") ? med(c, n) * hz : med(s, n)
				what["hrtimer"] = "task-clock perf event, sample period, no signal"
				what["perf"] = "the same, overflow signal to the thread (perf-task-clock)"
				what["timer"] = "timer_create CPU-time timer (posix-timer; tick-capped)"
				printf "| %s | %.0f | %.1f ms | %.1f us |\n", what[m], p, med(d, n) * 1e3,
					med(d, n) / p * 1e6
			}'
	done
	echo
	echo "Cost of one \`unwind_from_ucontext()\` inside the signal handler, 64 frames deep"
	echo "(\`tests/fixtures/unwindcost\`, CLOCK_MONOTONIC around the call minus the clock's"
	echo "own cost; 2000 samples):"
	echo
	echo "| build | path | result |"
	echo "|---|---|---|"
	echo "| -fno-omit-frame-pointer | frame pointers | $(unwind_cost fp) |"
	echo "| -O2 (no frame pointers) | libunwind | $(unwind_cost nofp) |"
	echo
	echo "Cost of one \`snapuw_unwind()\` (\`bpf-stack\`'s collector: DWARF CFI over a copy of the"
	echo "stack taken in the same kind of handler, 64 frames deep; \`unwindcost DEPTH N snap\`):"
	echo
	echo "| build | path | result |"
	echo "|---|---|---|"
	echo "| -fno-omit-frame-pointer | CFI over the copy | $(unwind_cost fp snap) |"
	echo "| -O2 (no frame pointers) | CFI over the copy | $(unwind_cost nofp snap) |"
	echo
	echo "**record's fixed cost**: \`cpuwork-nofp 2 1000\` (next to nothing to do) under"
	echo "\`reconperf record\`: the program's CPU time (measured by itself at the end of \`main\`)"
	echo "minus the bare run's, median over the rounds: loading the preload library and its"
	echo "dependencies, the engine's set-up (for the eBPF engines, loading the program), the"
	echo "first samples. Paid once per profiled process, on top of the overheads above."
	echo
	echo "| profiler | engine | Hz | extra CPU |"
	echo "|---|---|---|---|"
	for c in $sconfigs; do
		[ "$c" = bare ] && continue
		sort -k1,1 "$tmp/st.bare" > "$tmp/a"
		sort -k1,1 "$tmp/st.$c" > "$tmp/b"
		d=$(join "$tmp/a" "$tmp/b" | awk '{ print ($3 - $2) * 1e3 }' | sort -n |
			awk '{ v[NR] = $1 } END { printf "%.1f ms", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		echo "| $(label "$c") | $(cat "$tmp/eng.$c") | $(hz_of "$c") | $d |"
	done
} > "$tmp/section"
sh mk/perfdoc.sh cpuprof < "$tmp/section"
echo "cpuprof: docs/performance.md updated"
