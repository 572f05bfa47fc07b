#!/bin/sh
# Store and informer throughput and memory: 100,000 objects (rates), then 1,000,000
# (memory). Rewrites the "store" section of docs/performance.md.
set -eu
B=${1:-build}
bin=$B/tests/perf_store
[ -x "$bin" ] || { echo "bench-store: build $bin first (make test-bins)" >&2; exit 2; }
load0=$(cut -d' ' -f1 /proc/loadavg)
small=$("$bin" 100000 2000000)
big=$("$bin" 1000000 2000000)
{
	echo "Measured $(date -u +%Y-%m-%d) on $(uname -n) ($(nproc) CPUs, load average $load0 at the"
	echo "start), by \`sh mk/bench-store.sh\` (\`$bin 100000 2000000\` and \`$bin 1000000 2000000\`)."
	echo "Wall rates depend on what else runs; CPU per op is this process's own CPU time."
	echo
	echo "$small"
	echo
	echo "$big"
} | sh mk/perfdoc.sh store
echo "$small"; echo; echo "$big"
