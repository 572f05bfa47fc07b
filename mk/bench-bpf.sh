#!/bin/sh
# Measures what eBPF probing costs: the time per call of a fixture function with and without
# `reconperf probe` attached (same run, interleaved, medians of 5), for a function whose
# first instruction the kernel emulates (push %rbp) and one it must single-step (lea); and
# the bench's throughput with and without its USDT reconcile probes timed by the kernel.
# Rewrites the "bpf" section of docs/performance.md. usage: mk/bench-bpf.sh B  (needs root)
set -eu
B=${1:-build}
rp=$B/reconperf
fx=$B/tests/fixtures/bpf_mix
[ -x "$rp" ] && [ -x "$fx" ] || { echo "bench-bpf: build $rp and $fx first" >&2; exit 2; }
if [ "$(id -u)" != 0 ]; then echo "bench-bpf: needs root for eBPF; skipped" >&2; exit 0; fi
N=200000
NS=20000	# the single-stepped case is ~30x slower
runs=$(mktemp)
for i in 1 2 3 4 5; do
	echo "plain $("$fx" loop $N | awk '{print $2}')"
	echo "probed $("$rp" probe --func rp_fixture_nop -- "$fx" loop $N 2>/dev/null |
		awk '/ns_per_call/ {print $2}')"
	echo "plain_ss $("$fx" loop $NS | awk '{print $2}')"
	echo "probed_ss $("$rp" probe --func rp_fixture_inner -- "$fx" loop $NS 2>/dev/null |
		awk '/ns_per_call/ {print $2}')"
	echo "offcpu $("$rp" probe --offcpu --func rp_fixture_nop -- "$fx" loop $N 2>/dev/null |
		awk '/ns_per_call/ {print $2}')"
done > "$runs"
med() { grep "^$1 " "$runs" | awk '{print $2}' | sort -n | sed -n 3p; }
diff_ns() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", a - b }'; }
plain=$(med plain); probed=$(med probed); plain_ss=$(med plain_ss); probed_ss=$(med probed_ss)
offcpu=$(med offcpu)

bench_rows="Bench throughput with probes: not measured, \`reconperf bench\` is not built."
if "$rp" bench --help >/dev/null 2>&1; then
	# The bench's reconciles carry USDT probes (include/reconperf/usdt.h); timing them from
	# outside with probe --usdt costs what \`bench --probe\` costs: two uprobes a reconcile.
	bj=$(mktemp)
	for i in 1 2 3 4 5; do
		"$rp" bench -q --seed 1 --format json -o "$bj" >/dev/null 2>&1
		echo "bench $(jq '.scenarios[0].reconcile.per_second' "$bj")"
		echo "cpu $(jq '.scenarios[0] | .cpu_ns / .reconcile.count' "$bj")"
		"$rp" probe --usdt reconperf:reconcile_start:reconcile_end -- \
			"$rp" bench -q --seed 1 --format json -o "$bj" >/dev/null 2>&1
		echo "bench_probe $(jq '.scenarios[0].reconcile.per_second' "$bj")"
		echo "cpu_probe $(jq '.scenarios[0] | .cpu_ns / .reconcile.count' "$bj")"
	done >> "$runs"
	rm -f "$bj"
	b0=$(med bench); b1=$(med bench_probe); c0=$(med cpu); c1=$(med cpu_probe)
	pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f%%", (a / b - 1) * 100 }'; }
	r0() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }
	bench_rows="| bench run (default scenario, \`--seed 1\`), medians of 5 | reconciles/s | process CPU ns per reconcile |
|---|---|---|
| \`reconperf bench\` | $(r0 "$b0") | $(r0 "$c0") |
| under \`reconperf probe --usdt reconperf:reconcile_start:reconcile_end\` | $(r0 "$b1") ($(pct "$b1" "$b0")) | $(r0 "$c1") ($(pct "$c1" "$c0")) |"
fi
# reconperf profile's cost: the target's throughput (cpuwork-nofp: 2 threads, no frame
# pointers, ~1.5 CPU-s) bare and under `profile --hz 999` with each user-stack walk, and the
# profiler's own CPU (the subshell's children's CPU minus the target's, `times`: 10 ms ticks)
prof_rows="reconperf profile's cost: not measured (cpuwork-nofp missing)."
cw=$B/tests/fixtures/cpuwork-nofp
if [ -x "$cw" ]; then
	po=$(mktemp)
	ticks() { awk 'NR == 2 { split($1, u, "m"); split($2, s, "m");
		printf "%.3f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }'; }
	# fp3, dwarf3: the same walks on a run three times as long (what the profiler pays once
	# against what it pays per sample)
	for i in 1 2 3 4 5; do
		for m in bare fp dwarf fp3 dwarf3; do
			it=900000
			case $m in *3) it=2700000 ;; esac
			if [ $m = bare ]; then
				set -- "$cw" 2 $it
			else
				set -- "$rp" profile --hz 999 --unwind ${m%3} -o "$po" -- "$cw" 2 $it
			fi
			# `times` with a redirection, not in a pipe: a pipe's builtin runs in a
			# subshell of its own, which has reaped nothing
			( "$@" > "$po.out" 2>/dev/null; times > "$po.times" )
			set -- $(tr ' ' '\n' < "$po.out" | sed -n 's/^ops=//p; s/^cpu_s=//p') \
				$(ticks < "$po.times")	# ops cpu_s all_cpu
			echo "p_$m $(awk -v o="$1" -v c="$2" 'BEGIN { printf "%.0f", o / c }')"
			echo "pc_$m $(awk -v a="$3" -v c="$2" 'BEGIN { printf "%.1f", (a - c) * 1000 }')"
			echo "ps_$m $(awk -v c="$2" 'BEGIN { printf "%.0f", c * 999 }')"
		done
	done >> "$runs"
	# off-CPU: a copy at every blocking switch (dwarf) against a stack id (fp), on two
	# threads passing a byte through pipes (~120k blocking switches a run)
	for i in 1 2 3 4 5; do
		for m in bare fp dwarf; do
			if [ $m = bare ]; then
				set -- "$cw" 2 60000 pingpong
			else
				set -- "$rp" profile --offcpu --unwind $m -o "$po" -- "$cw" 2 60000 \
					pingpong
			fi
			"$@" > "$po.out" 2>/dev/null
			set -- $(tr ' ' '\n' < "$po.out" | sed -n 's/^ops=//p; s/^cpu_s=//p')
			echo "o_$m $(awk -v o="$1" -v c="$2" 'BEGIN { printf "%.0f", o / c }')"
		done
	done >> "$runs"
	rm -f "$po" "$po.out" "$po.times"
	pb=$(med p_bare)
	ob=$(med o_bare)
	orow() {
		t=$(med o_$1)
		echo "| \`profile --offcpu --unwind $1\` | $t | $(awk -v a="$t" -v b="$ob" \
			'BEGIN { printf "%.1f%%", (1 - a / b) * 100 }') |"
	}
	row() {
		t=$(med p_$1); c=$(med pc_$1); n=$(med ps_$1); n3=$(med ps_${1}3); c3=$(med pc_${1}3)
		echo "| \`profile --hz 999 --unwind $1\` | $t | $(awk -v a="$t" -v b="$pb" \
			'BEGIN { printf "%.1f%%", (1 - a / b) * 100 }') | $n | $c ms | $n3 | $c3 ms |"
	}
	prof_rows="| \`cpuwork-nofp 2 900000\`, medians of 5 | ops per CPU-s of the target | target's overhead | samples asked (CPU-s x 999) | profiler's CPU | samples asked, \`2 2700000\` | profiler's CPU, \`2 2700000\` |
|---|---|---|---|---|---|---|
| bare | $pb | - | - | - | - | - |
$(row fp)
$(row dwarf)

| \`cpuwork-nofp 2 60000 pingpong\`, medians of 5 | round trips per CPU-s of the target | target's overhead |
|---|---|---|
| bare | $ob | - |
$(orow fp)
$(orow dwarf)"
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
sh mk/perfdoc.sh bpf <<DOC
Command: \`make bench\` (runs \`sh mk/bench-bpf.sh B\` as root). Machine: $(nproc) vCPU, $cpu,
kernel $(uname -r). Each row is the median of 5 interleaved runs of
\`bpf_mix loop N\` (tests/fixtures/bpf_mix.c), timed by the fixture in thread CPU time
(the trap of a uprobe is charged to the thread; preemption by other tenants is not).

| what | ns per call (median) |
|---|---|
| \`rp_fixture_nop\` unprobed (N=$N) | $plain |
| the same under \`reconperf probe --func rp_fixture_nop\` (entry \`push %rbp\`: emulated) | $probed |
| **cost per probed call** (uprobe + uretprobe + histogram update) | **$(diff_ns "$probed" "$plain")** |
| the same with \`--offcpu\` (sched_switch program attached too) | $offcpu |
| \`rp_fixture_nop\` unprobed (N=$NS) | $plain_ss |
| the same, probing \`rp_fixture_inner\` (entry \`lea\`: single-stepped) | $probed_ss |
| **cost per probed call, single-stepped entry** | **$(diff_ns "$probed_ss" "$plain_ss")** |

$bench_rows

$prof_rows

\`--unwind dwarf\` copies each sample's stack top (up to 32 KiB) into the ring, which the
target pays inside the timer interrupt, and unwinds it in the profiler's process; \`fp\`
walks frame pointers in the kernel and counts in a map. The profiler's CPU (its process's,
in 10 ms ticks: \`times\` after the run, less the target's own) against the samples asked
on a run three times as long shows what it pays once (loading the program, reading the
target's objects, symbolizing) and what it pays per sample (for dwarf, the unwinding).

A function whose first instruction must be single-stepped (\`endbr64\` under
\`-fcf-protection\`, \`lea\`, Go's stack check) costs $(awk -v a="$probed_ss" -v b="$plain_ss" \
-v c="$probed" -v d="$plain" 'BEGIN { printf "%.1f", (a - b) / (c - d) }')x as much per probed call as one
starting with \`push %rbp\`: see docs/ebpf.md.
DOC
rm -f "$runs"
echo "bench-bpf: docs/performance.md section 'bpf' updated"
