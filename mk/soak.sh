#!/bin/sh
# make soak: the fault scenario under churn for SOAK_TIME (default 5m). Samples the bench's
# resident memory every second and fails when memory keeps growing (the mean of the last
# third above the mean of the middle third by more than SOAK_GROWTH percent, default 10),
# when an object is lost, or when the run does not converge. The watch history is kept
# small so that it is full (and stops growing, as it should) early in the run.
set -eu
B=${1:-build}
T=${SOAK_TIME:-5m}
G=${SOAK_GROWTH:-10}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$B/reconperf" bench -q scenarios/faults.yaml --duration "$T" --set churn.creates=20 \
	--set churn.deletes=20 --fault restart:every=30s --fault watch_drop:every=7s --set watch_history=5000 \
	--format json -o "$out/r.json" 2>"$out/err" &
pid=$!
while kill -0 $pid 2>/dev/null; do
	awk '/^VmRSS:/ {print $2}' /proc/$pid/status 2>/dev/null >> "$out/rss" || true
	sleep 1
done
wait $pid || { cat "$out/err" >&2; echo "soak: the run failed" >&2; exit 1; }
n=$(wc -l < "$out/rss")
awk -v n="$n" -v g="$G" '
	NR > n/3 && NR <= 2*n/3 { m += $1; mc++ }
	NR > 2*n/3 { l += $1; lc++ }
	END {
		if (mc == 0 || lc == 0) { print "soak: too short to judge memory"; exit 1 }
		m /= mc; l /= lc
		printf "soak: rss middle third %.0f KiB, last third %.0f KiB (%+.1f%%)\n", m, l, (l - m) * 100 / m
		exit (l > m * (1 + g / 100)) ? 1 : 0
	}' "$out/rss"
lost=$(jq '[.scenarios[].convergence.lost_objects] | add' "$out/r.json")
conv=$(jq '[.scenarios[].convergence.converged] | all' "$out/r.json")
echo "soak: lost objects $lost, converged $conv"
[ "$lost" = 0 ] && [ "$conv" = true ]
