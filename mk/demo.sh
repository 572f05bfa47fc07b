#!/bin/sh
# make demo: run the embedded default scenario with CPU and heap profiles, write the JSON and
# HTML reports and the flame graphs, print the table and say where everything is.
set -eu
B=${1:-build}
R="$B/reconperf"
out=${RECONPERF_DEMO_DIR:-$B/demo}
mkdir -p "$out"
echo "== reconperf bench (the embedded default scenario, with profiles)"
"$R" bench -q --cpuprofile "$out/cpu.pb.gz" --memprofile "$out/heap.pb.gz" --hz 1000 \
	--html "$out/report.html" --format json -o "$out/report.json"
"$R" flame "$out/cpu.pb.gz" -o "$out/cpu.svg"
"$R" flame "$out/heap.pb.gz" --sample-index alloc_space -o "$out/heap.svg"
jq -r '.scenarios[] | "\(.name): \(.reconcile.count) reconciles, \(.reconcile.per_second | floor)/s, " +
	"p99 \(.reconcile.latency_ns.p99 / 1000 | floor)us, converged \(.convergence.converged) " +
	"\(.convergence.time_ns / 1e6 | floor)ms after the last change, lost \(.convergence.lost_objects)"' \
	"$out/report.json"
echo
echo "results in $out/:"
echo "  report.html   the HTML report (charts, fault table, flame graphs): open it in a browser"
echo "  report.json   the JSON report (reconperf compare reads it)"
echo "  cpu.pb.gz     CPU profile:  go tool pprof -top $out/cpu.pb.gz"
echo "  heap.pb.gz    heap profile: go tool pprof -sample_index=alloc_space -top $out/heap.pb.gz"
echo "  cpu.svg, heap.svg  flame graphs"
echo
echo "next: $R bench scenarios/faults.yaml   (faults and the convergence table)"
