#!/bin/sh
# usage: mk/bench-flame.sh [BUILD_DIR]
# Renders the same large folded input (200,000 distinct stacks of depth 10-40, ~107 MB, made
# by tests/fixtures/foldedgen) with `reconperf flame` and with flamegraph.pl, side by side in
# one run, and rewrites the `flame` section of docs/performance.md with wall time, CPU time
# and peak RSS of each (GNU time), medians over the runs.
#
# flamegraph.pl is not packaged by Debian and this script fetches nothing: point
# FLAMEGRAPH_PL at a copy (github.com/brendangregg/FlameGraph), or put it on PATH. Without
# it the script measures reconperf alone and leaves docs/performance.md untouched.
set -eu
B=${1:-build}
RUNS=${FLAME_RUNS:-5}		# reconperf runs
PL_RUNS=${FLAME_PL_RUNS:-3}	# flamegraph.pl runs (about a minute each here)
STACKS=200000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

[ -x /usr/bin/time ] || { echo "bench-flame: needs GNU time (/usr/bin/time)" >&2; exit 2; }
pl=${FLAMEGRAPH_PL:-$(command -v flamegraph.pl || true)}

"$B/tests/foldedgen" $STACKS 10 40 > "$work/in.folded"
bytes=$(wc -c < "$work/in.folded")
frames=$(awk -F';' '{ n += NF } END { print n }' "$work/in.folded")

# One measured run: prints "wall cpu maxrss_kib".
measure() {
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" "$@" > "$work/out.svg"
	awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$work/time"
}

median() {	# column $1 of stdin
	sort -n -k"$1","$1" | awk -v c="$1" '{ v[NR] = $c } END { print v[int((NR + 1) / 2)] }'
}

: > "$work/rp"
: > "$work/pl"
i=0
while [ $i -lt $RUNS ]; do
	measure "$B/reconperf" flame "$work/in.folded" >> "$work/rp"
	rp_svg=$(wc -c < "$work/out.svg")
	if [ -n "$pl" ] && [ $i -lt "$PL_RUNS" ]; then
		measure perl "$pl" "$work/in.folded" >> "$work/pl"
		pl_svg=$(wc -c < "$work/out.svg")
	fi
	i=$((i + 1))
done

rp_wall=$(median 1 < "$work/rp"); rp_cpu=$(median 2 < "$work/rp"); rp_rss=$(median 3 < "$work/rp")
echo "reconperf flame: wall ${rp_wall}s cpu ${rp_cpu}s maxrss ${rp_rss} KiB (runs: $(tr '\n' '|' < "$work/rp"))"
if [ -z "$pl" ]; then
	echo "bench-flame: flamegraph.pl not found (set FLAMEGRAPH_PL); docs/performance.md not changed" >&2
	exit 0
fi
pl_wall=$(median 1 < "$work/pl"); pl_cpu=$(median 2 < "$work/pl"); pl_rss=$(median 3 < "$work/pl")
echo "flamegraph.pl:   wall ${pl_wall}s cpu ${pl_cpu}s maxrss ${pl_rss} KiB (runs: $(tr '\n' '|' < "$work/pl"))"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }

sh mk/perfdoc.sh flame <<EOF
Command: \`make bench\` runs \`sh mk/bench-flame.sh $B\`: \`$B/tests/foldedgen $STACKS 10 40\`
writes $STACKS distinct stacks of depth 10-40 ($bytes bytes, $frames frames, unsorted),
then \`reconperf flame IN -o OUT\` ($RUNS runs) and \`perl flamegraph.pl IN > OUT\` ($PL_RUNS runs)
take turns on the same file, both at their defaults (1200 px, frames under 0.1 px elided).
flamegraph.pl: \`$pl\` (sha256 $(sha256sum "$pl" | cut -c1-12)...).
Medians; CPU is user + system; RSS is the peak (GNU time). Measured $(date -u +%Y-%m-%d) on
$(uname -m), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end.

| renderer | wall s | CPU s | peak RSS MiB | SVG bytes |
|---|---|---|---|---|
| reconperf flame | $rp_wall | $rp_cpu | $(mib "$rp_rss") | $rp_svg |
| flamegraph.pl | $pl_wall | $pl_cpu | $(mib "$pl_rss") | $pl_svg |

reconperf flame is **$(ratio "$pl_wall" "$rp_wall")x** faster in wall time,
**$(ratio "$pl_cpu" "$rp_cpu")x** in CPU time, and uses **$(ratio "$pl_rss" "$rp_rss")x** less memory.
Raw runs (wall cpu rss_kib): reconperf $(tr '\n' ';' < "$work/rp") flamegraph.pl $(tr '\n' ';' < "$work/pl")
EOF
echo "bench-flame: docs/performance.md section 'flame' rewritten"
