#!/bin/sh
# Store and informer throughput and memory: 100,000 objects (rates), then 1,000,000
# (memory). Rewrites the "store" section of docs/performance.md.
set -eu
B=${1:-build}
bin=$B/tests/perf_store
[ -x "$bin" ] || { echo "bench-store: build $bin first (make test-bins)" >&2; exit 2; }
small=$("$bin" 100000 2000000)
big=$("$bin" 1000000 2000000)
{
	echo "Measured $(date -u +%Y-%m-%d) on $(uname -n) ($(nproc) CPUs), by \`sh mk/bench-store.sh\`"
	echo "(\`$bin 100000 2000000\` and \`$bin 1000000 2000000\`)."
	echo
	echo "$small"
	echo
	echo "$big"
} | sh mk/perfdoc.sh store
echo "$small"; echo; echo "$big"
