#!/bin/sh
# Measures the operating characteristics of `reconperf compare` by simulation (fixed seeds:
# the figures depend on the statistics, not on the machine) and rewrites the "compare"
# section of docs/performance.md. usage: mk/bench-compare.sh B
set -eu
B=${1:-build}
bin=$B/tests/comparepower
[ -x "$bin" ] || { echo "bench-compare: build $bin first (make all)" >&2; exit 2; }
trials=1000
start=$(date +%s)
rows=$("$bin" $trials)
secs=$(( $(date +%s) - start ))
sh mk/perfdoc.sh compare <<DOC
Command: \`make bench\` (runs \`sh mk/bench-compare.sh B\`: \`$bin $trials\`, ${secs}s here).
Each cell: a 10% slowdown found **regressed** by the gate (adjusted p < 0.05 and the whole
interval past the 5% threshold) / found significant by the U test alone / false
**regressed** on A/A data, over $trials trials of one metric with lognormal noise of the
column's CV and 5% outliers up to 2x (the generator of tests/rng.h). Defaults: threshold 5%,
alpha 0.05, Holm (one metric: no correction effect).

| repetitions a side | CV 2% | CV 3% | CV 4% | CV 5% | CV 8% |
|---|---|---|---|---|---|
$rows

Read it as: with 10 repetitions a side, a metric with 4% noise has about a two-in-three
chance of failing the gate on a 10% regression; 20 repetitions make it dependable (a lower
threshold does too, but then smaller real changes fail the build as well). With 5
repetitions a side the exact test's smallest p-value is 0.0079, so nothing can pass Holm
over more than 6 metrics.
DOC
echo "bench-compare: docs/performance.md section 'compare' updated"
