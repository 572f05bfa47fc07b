#!/bin/sh
# make stress-soak: the profiler stress fixture for a long time under `reconperf record
# --hz 1000` with the heap profiler on. Fails on a crash, a hang (STRESS_TIMEOUT seconds,
# default 1800), a wrong exit status or a profile that does not read back.
# usage: sh mk/stress-soak.sh BUILD_DIR ROUNDS THREADS
set -eu
B=$1 rounds=$2 threads=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "stress-soak: $rounds rounds x $threads threads under record --hz 1000 --mem"
start=$(date +%s)
set +e
timeout -k 10 "${STRESS_TIMEOUT:-1800}" "$B/reconperf" record -o "$dir/cpu.pb.gz" \
	--mem="$dir/mem.pb.gz" --hz 1000 -- "$B/tests/fixtures/stress_prof" \
	rounds="$rounds" threads="$threads" status=3 >"$dir/out" 2>"$dir/err"
rc=$?
set -e
cat "$dir/out" "$dir/err"
if [ "$rc" -ne 3 ]; then
	echo "stress-soak: FAIL: exit status $rc, want 3 (124: hung past the timeout)"
	exit 1
fi
for f in "$dir"/cpu.pb.gz* "$dir"/mem.pb.gz*; do
	if ! "$B/reconperf" convert "$f" -o "$dir/check.pb.gz" >/dev/null 2>&1; then
		echo "stress-soak: FAIL: $f does not read back"
		exit 1
	fi
done
echo "stress-soak: ok in $(( $(date +%s) - start ))s, $(ls "$dir" | grep -c 'pb.gz') profiles read back"
