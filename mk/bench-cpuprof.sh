#!/bin/sh
# usage: mk/bench-cpuprof.sh [BUILD_DIR]
# CPU profiler overhead:
#   1. the bench workloads, the profiler switched on and off inside one run
#      (tests/fixtures/profab): for each scenario and rate, AB_PROCS runs of AB_SECONDS,
#      each a sequence of windows (100 ms settling, then AB_WIN x 100 ms measured), every
#      configuration once per cycle in a rotating order; a window's throughput is its
#      reconciles per CPU-second of the whole process. A bench's throughput moves far more
#      from run to run than from window to window of one run (docs/profiling.md, OVERHEAD):
#      so the configurations are paired within a cycle of the same run, and the median's
#      95% confidence interval (order statistics) is given beside it;
#   2. cpuwork-nofp: a CPU-bound 2-thread fixture with ~24-frame stacks built without
#      frame pointers (every sample unwinds through libunwind), bare, under
#      `reconperf record` and under gperftools' libprofiler; throughput = ops per
#      CPU-second; also samples against CPU-seconds x Hz and the CPU cost per sample;
#   3. cpuwork pingpong: two threads passing a byte through pipes (context-switch bound),
#      which shows what each engine costs per context switch of a sampled thread;
#   4. sigcost: the clocks and signals alone (empty handler), per period;
#   5. record's fixed cost: cpuwork-nofp with almost nothing to do (loading the preload
#      library and its dependencies, the engine's set-up), its CPU minus the bare run's.
# Parts 2-5 run REPS rounds, every configuration once a round in a rotating order.
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
SCENARIOS=${SCENARIOS:-"noop backup replicaset"}
AB_SECONDS=${AB_SECONDS:-60}
AB_PROCS=${AB_PROCS:-4}
AB_WIN=${AB_WIN:-4}
# AB_ONLY=1: part 1 alone, its table printed, docs/performance.md left as it is; with
# AB_RATES (100 and/or 1000) and AB100 / AB1000 (the configurations, "bare" first) to
# measure one case longer, e.g. AB_ONLY=1 SCENARIOS=noop AB_RATES=100 AB100="bare rp"
AB_ONLY=${AB_ONLY:-}
AB_RATES=${AB_RATES:-"100 1000"}
PF=$B/tests/fixtures/profab
GPERF=$(ls /usr/lib/x86_64-linux-gnu/libprofiler.so.0 2>/dev/null || true)
W=$B/tests/fixtures/cpuwork-nofp
S=$B/tests/fixtures/sigcost
SITERS=${SITERS:-300000}
SHZ=10000
smodes="none hrtimer perf timer"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] && echo "kept $tmp" >&2 || rm -rf "$tmp"' EXIT

for f in "$R" "$W" "$S" "$PF" "$B/libreconperf-preload.so"; do
	[ -e "$f" ] || { echo "bench-cpuprof: $f is missing: make B=$B all test-bins" >&2; exit 2; }
done
load0=$(cut -d' ' -f1-3 /proc/loadavg)

# configurations: bare, rp<Hz> (reconperf, default engine: posix-timer up to 100 Hz, above
# it bpf-stack as root), rpbpf<Hz> (the signalling eBPF engine, bpf-cpu-clock), rpperf<Hz>
# (forced per-thread perf events), gp<Hz> (gperftools)
# rpal<Hz>: the default engine with RECONPERF_TICK_ALIGN=1 (the exact period, clocks put in
# phase with the tick), to show what the alignment would save
fconfigs="bare rp100 rp1000 rpal1000 rpbpf1000 rpperf1000 rp4000"	# 4000 Hz: the cost per sample
pconfigs="bare rp100 rpperf100 rp1000 rpbpf1000 rpperf1000"
sconfigs="bare rp100 rp1000 rpbpf1000 rpperf1000"
if [ -n "$GPERF" ]; then
	fconfigs="$fconfigs gp100 gp1000"
	pconfigs="$pconfigs gp100 gp1000"
fi

# awk functions the statistics share: srt (insertion sort of v[1..n]) and med (median)
AWKLIB='
function srt(v, n,   i, j, t) {
	for (i = 2; i <= n; i++) {
		t = v[i]
		for (j = i - 1; j > 0 && v[j] > t; j--)
			v[j + 1] = v[j]
		v[j + 1] = t
	}
}
function med(v, n) { return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2 }
'

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
		al=""
		case $c in
		rpperf*) eng="--engine perf" ;;
		rpbpf*) eng="--engine bpf" ;;
		rpal*) al=1 ;;
		esac
		out=$(RECONPERF_TICK_ALIGN=$al "$R" record -o "$tmp/r.pb.gz" --hz "$hz" $eng -- "$W" "$@" 2>"$tmp/err")
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

# The A/B runs: profab's configurations at 100 and 1000 Hz (gperftools' rate is read once
# a process: one rate a run). Lines "RUN CYCLE CONFIG RECONCILES CPU_NS WALL_NS SAMPLES
# PROF_CPU_NS ENGINE" into $tmp/ab.SCENARIO.HZ.
ab100="bare rp rp-perf"
ab1000="bare rp rp-bpf rp-perf clocks"
if [ -n "$GPERF" ]; then
	ab100="$ab100 gperftools"
	ab1000="$ab1000 gperftools"
fi
ab100=${AB100:-$ab100}
ab1000=${AB1000:-$ab1000}
for s in $SCENARIOS; do
	for hz in $AB_RATES; do
		eval "cf=\$ab$hz"
		for p in $(seq "$AB_PROCS"); do
			"$PF" "scenarios/$s.yaml" "$AB_SECONDS" "$hz" "$AB_WIN" $(rotate "$cf" "$p") \
				2>/dev/null | sed -n "s/^window /$p /p" >> "$tmp/ab.$s.$hz"
			printf '.' >&2
		done
	done
done

# abstat FILE CONFIG REF -> "overhead lo hi n" in %: 1 - CONFIG's throughput (reconciles
# per CPU-second) / REF's in the same cycle of the same run, the median over the cycles
# and its 95% confidence interval by order statistics
abstat() {
	awk -v c="$2" -v r="$3" "$AWKLIB"'
		{ k = $1 " " $2; if ($3 == c) a[k] = $4 / $5; if ($3 == r) b[k] = $4 / $5 }
		END {
			for (k in a)
				if (k in b && b[k] > 0)
					x[++n] = a[k] / b[k]
			if (!n) { print "- - - 0"; exit }
			srt(x, n)
			m = med(x, n)
			j = int((n - 1.96 * sqrt(n)) / 2)
			if (j < 1) {	# under 6 cycles no pair of order statistics covers 95%
				printf "%.2f - - %d\n", 100 * (1 - m), n
				exit
			}
			printf "%.2f %.2f %.2f %d\n", 100 * (1 - m), 100 * (1 - x[n + 1 - j]),
				100 * (1 - x[j]), n
		}' "$1"
}

# abcell FILE CONFIG REF: "median% [lo, hi]" per CPU-second
abcell() {
	set -- $(abstat "$1" "$2" "$3")
	if [ "$4" = 0 ]; then echo "-"; else echo "$1% [$2, $3]"; fi
}

# verdict LO HI TARGET: where the interval lies against the target
verdict() {
	awk -v l="$1" -v h="$2" -v t="$3" 'BEGIN {
		if (l == "-") print "-"; else if (h < t) print "under " t "%"; else if (l > t) print "over " t "%";
		else print "not resolved" }'
}

# the A/B table's rows, one per scenario, rate and configuration
abtable() {
	for s in $SCENARIOS; do
		for hz in $AB_RATES; do
			f=$tmp/ab.$s.$hz
			tp=$(awk "$AWKLIB"'$3 == "bare" { v[++n] = $4 / $5 * 1e9 }
				END { srt(v, n); printf "%.0f", med(v, n) }' "$f")
			echo "| $s | $hz | none ($tp reconciles/CPU-s) | - | - | - | - | - |"
			eval "cf=\$ab$hz"
			for c in $cf; do
				[ "$c" = bare ] && continue
				eng=$(awk -v c="$c" '$3 == c { print $9; exit }' "$f")
				cov=$(awk -v c="$c" -v h="$hz" '$3 == c { n += $7; t += $8 } END {
					if (n) printf "%.1f%%", 100 * n / (t / 1e9 * h); else printf "-" }' "$f")
				set -- $(abstat "$f" "$c" bare)
				o="$1% [$2, $3]"
				lo=$2 hi=$3
				g=- v=-
				case $c in
				rp*)
					[ -n "$GPERF" ] && g=$(abcell "$f" "$c" gperftools)
					v=$(verdict "$lo" "$hi" "$([ "$hz" = 100 ] && echo 1 || echo 3)") ;;
				esac
				case $c in
				rp) who="reconperf" ;;
				rp-*) who="reconperf --engine ${c#rp-}" ;;
				clocks) who="clocks alone" ;;
				*) who=$c ;;
				esac
				echo "| $s | $hz | $who | $eng | $cov | $o | $g | $v |"
			done
		done
	done
}

if [ -n "$AB_ONLY" ]; then
	echo
	echo "| scenario | Hz | profiler | engine | samples / (CPU-s x Hz) | overhead [95% CI] | against gperftools [95% CI] | target |"
	echo "|---|---|---|---|---|---|---|---|"
	abtable
	exit 0
fi

for r in $(seq "$REPS"); do
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
	join "$tmp/a" "$tmp/b" | awk "$AWKLIB"'
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
	rpal*) echo "reconperf, RECONPERF_TICK_ALIGN=1" ;;
	rp*) echo "reconperf" ;;
	gp*) echo "gperftools" ;;
	esac
}

unwind_cost() { "$B/tests/fixtures/unwindcost-$1" 64 2000 ${2:-}; }

{
	echo "Measured $(date -u +%Y-%m-%d) by \`sh mk/bench-cpuprof.sh $B\` on $(nproc) vCPU"
	echo "(kernel $(uname -r), HZ=250, no hardware PMU: every clock is an hrtimer; shared:"
	echo "load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
	echo "Throughput is work per CPU-second of the whole process (the profiler's threads and"
	echo "signal handlers included). Overhead = 1 - profiled / unprofiled throughput."
	echo
	echo "**Bench workloads**, the profiler switched on and off inside one run"
	echo "(\`tests/fixtures/profab scenarios/S.yaml $AB_SECONDS HZ $AB_WIN CONFIG...\`: the scenario's"
	echo "workload with bench's label hooks, $AB_PROCS runs of ${AB_SECONDS} s per scenario and rate; a"
	echo "window = 100 ms in which the profiler starts or stops, then $((AB_WIN * 100)) ms measured;"
	echo "each cycle runs every configuration once, the order rotating). Separate runs of a bench"
	echo "differ far more than windows of one run (measured in docs/profiling.md, OVERHEAD):"
	echo "each configuration is paired with the unprofiled window of its cycle."
	echo "Overhead = the median over the cycles, [its 95% confidence interval]."
	echo "\"against gperftools\": 1 - reconperf's / gperftools'"
	echo "throughput in the same cycle (negative: reconperf costs less). \"clocks alone\": the"
	echo "per-CPU cpu-clock perf events the eBPF engines sample with, at exactly 1/Hz (theirs run"
	echo "1/331 slower), not tick-aligned, with no program attached: the interrupts' own cost on this machine, under any sampler that"
	echo "takes that many samples. Start and stop are outside the windows (record's fixed"
	echo "cost, below)."
	echo
	echo "Samples / (CPU-s x Hz) counts from each start to its stop: the per-thread clocks"
	echo "(posix-timer, perf-task-clock) restart from zero at every start, so a thread with less"
	echo "than a period of CPU in a window gives none (replicaset: ~0.1 CPU over a dozen"
	echo "threads); over a whole run they lose at most a period per thread. gperftools' count is"
	echo "its \`samples_gathered\`."
	echo
	echo "| scenario | Hz | profiler | engine | samples / (CPU-s x Hz) | overhead [95% CI] | against gperftools [95% CI] | target |"
	echo "|---|---|---|---|---|---|---|---|"
	abtable
	pair=$("$PF" labelcost 20000000 | sed -n 's/^labelcost pair_ns=//p')
	echo
	echo "The label hooks (\`controller\` and \`phase\`, what \`bench --cpuprofile\` adds) run in"
	echo "every window, unprofiled ones too: a reconcile pays their two calls, $pair ns"
	echo "(\`profab labelcost\`), plus two per API call it makes. On noop's cheapest reconciles that"
	echo "is $(awk -v p="$pair" -v f="$tmp/ab.noop.100" 'BEGIN {
		while ((getline l < f) > 0) { split(l, x, " "); if (x[3] == "bare") { n += x[4]; c += x[5] } }
		printf "%.2f%%", c ? 100 * p * n / c : 0 }') of the unprofiled CPU time, to add to noop's rows above."
	echo
	echo "The tables below: REPS=$REPS rounds, in each round every configuration runs once (a"
	echo "process each), in an order that rotates round by round; overhead = the median over the"
	echo "rounds of the round's profiled run against its unprofiled run; spread = the 25th to"
	echo "75th percentile of that per-round overhead (how far the machine's noise moves it)."
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
		join "$tmp/a" "$tmp/b" | awk -v m="$m" -v hz="$SHZ" "$AWKLIB"'
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
		d=$(join "$tmp/a" "$tmp/b" | awk "$AWKLIB"'{ v[NR] = ($3 - $2) * 1e3 }
			END { srt(v, NR); printf "%.1f ms", med(v, NR) }')
		echo "| $(label "$c") | $(cat "$tmp/eng.$c") | $(hz_of "$c") | $d |"
	done
} > "$tmp/section"
sh mk/perfdoc.sh cpuprof < "$tmp/section"
echo "cpuprof: docs/performance.md updated"
