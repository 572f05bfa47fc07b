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

A function whose first instruction must be single-stepped (\`endbr64\` under
\`-fcf-protection\`, \`lea\`, Go's stack check) costs $(awk -v a="$probed_ss" -v b="$plain_ss" \
-v c="$probed" -v d="$plain" 'BEGIN { printf "%.1f", (a - b) / (c - d) }')x as much per probed call as one
starting with \`push %rbp\`: see docs/ebpf.md.
DOC
rm -f "$runs"
echo "bench-bpf: docs/performance.md section 'bpf' updated"
