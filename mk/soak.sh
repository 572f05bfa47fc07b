#!/bin/sh
# make soak: the fault scenario under churn for SOAK_TIME (default 5m). The bench samples
# its own memory every second (timeseries[].heap_bytes: malloc's bytes in use, which a leak
# grows; rss_bytes: the resident set, which also holds what the allocator keeps cached).
# Fails when the live heap keeps growing (mean of the last third above the mean of the
# middle third by more than SOAK_GROWTH percent, default 10), when the resident set grows by
# more than SOAK_RSS_GROWTH percent (default 25) the same way, when an object is lost, or
# when the run does not converge. The watch history is kept small so that it is full (and
# stops growing, as it should) early in the run.
set -eu
B=${1:-build}
T=${SOAK_TIME:-5m}
G=${SOAK_GROWTH:-10}
RG=${SOAK_RSS_GROWTH:-25}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$B/reconperf" bench -q scenarios/faults.yaml --duration "$T" --set churn.creates=20 \
	--set churn.deletes=20 --fault restart:every=30s --fault watch_drop:every=7s \
	--set watch_history=5000 --set sample_interval=1s \
	--format json -o "$out/r.json" 2>"$out/err" || {
	cat "$out/err" >&2
	echo "soak: the run failed" >&2
	exit 1
}
judge() {	# judge FIELD LIMIT-PERCENT LABEL
	jq -r ".scenarios[0].timeseries[].$1" "$out/r.json" | awk -v g="$2" -v what="$3" '
		{ v[NR] = $1 }
		END {
			n = NR
			for (i = 1; i <= n; i++) {
				if (i > n / 3 && i <= 2 * n / 3) { m += v[i]; mc++ }
				if (i > 2 * n / 3) { l += v[i]; lc++ }
			}
			if (mc == 0 || lc == 0 || m == 0) { print "soak: too short to judge " what; exit 1 }
			m /= mc; l /= lc
			printf "soak: %s middle third %.0f KiB, last third %.0f KiB (%+.1f%%, limit %s%%)\n",
			       what, m / 1024, l / 1024, (l - m) * 100 / m, g
			exit (l > m * (1 + g / 100)) ? 1 : 0
		}'
}
ok=0
judge heap_bytes "$G" "live heap" || ok=1
judge rss_bytes "$RG" "resident set" || ok=1
lost=$(jq '[.scenarios[].convergence.lost_objects] | add' "$out/r.json")
conv=$(jq '[.scenarios[].convergence.converged] | all' "$out/r.json")
echo "soak: lost objects $lost, converged $conv"
[ "$ok" = 0 ] && [ "$lost" = 0 ] && [ "$conv" = true ]
