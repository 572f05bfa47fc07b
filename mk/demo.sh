#!/bin/sh
# make demo: run the embedded default scenario with profiles and say where the results are.
set -eu
B=${1:-build}
out=${RECONPERF_DEMO_DIR:-$B/demo}
mkdir -p "$out"
"$B/reconperf" bench -o "$out/report.json" --format json
"$B/reconperf" bench
echo
echo "results:"
echo "  $out/report.json   JSON report"
