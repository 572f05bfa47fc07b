#!/bin/sh
# Runs the Criterion test binaries under $B/tests (all, or those named as arguments) and
# prints one closing total. Exit status is non-zero when any test failed or crashed.
#
# A failing test is run once more on its own (RP_RETRY=0 turns this off): several tests
# time real kernels, probes and schedulers on a shared 2-CPU machine. A test that passes
# the second time still counts as passed but is named under "== flaky" at the end of the
# log; one that fails twice is a failure, named under "== failures" with its assertion.
B=${B:-build}
RECONPERF=${RECONPERF:-$(pwd)/$B/reconperf}
export RECONPERF RP_BUILD_DIR="$(pwd)/$B" RP_SRC_DIR="$(pwd)"
# Under ASan, Criterion's runner leaks a little of its own; that is not ours to report.
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if [ $# -gt 0 ]; then
	bins=""
	for t in "$@"; do [ -x "$B/tests/$t" ] && bins="$bins $B/tests/$t"; done
else
	bins=$(ls "$B"/tests/test_* 2>/dev/null | grep -v '\.[od]$')
fi
pass=0; fail=0; status=0
log=$(mktemp); log2=$(mktemp); failed=$(mktemp); flaky=$(mktemp)
# Tests, passed: the Synthesis line of a Criterion log.
synth() {
	line=$(grep 'Synthesis:' "$1" | tail -1)
	tested=$(echo "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	passing=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	[ -n "$tested" ] || { tested=1; passing=0; }
}
for t in $bins; do
	name=$(basename "$t")
	echo "== $name"
	"$t" --jobs 2 --short-filename >"$log" 2>&1
	rc=$?
	cat "$log"
	synth "$log"
	pass=$((pass + passing)); fail=$((fail + tested - passing))
	[ $rc -eq 0 ] && continue
	# suite::test of each failed test; "[FAIL] suite::test: (0.01s)" or ": CRASH!"
	ids=$(sed -n 's/^\[FAIL\] \([A-Za-z0-9_]*\)::\([A-Za-z0-9_]*\):.*/\1\/\2/p' "$log" | sort -u)
	if [ "${RP_RETRY:-1}" = 0 ] || [ -z "$ids" ] || [ $((tested - passing)) -ne $(echo "$ids" | wc -l) ]; then
		# Not retried: retries are off, or the binary failed outside a named test.
		grep -E '^\[FAIL\]|^\[----\].*(Assert|signal|[Tt]imed out)' "$log" | sed "s|^|$name: |" >>"$failed"
		echo "$name: exit status $rc" >>"$failed"
		status=1
		continue
	fi
	for id in $ids; do
		echo "== $name: retrying $id"
		"$t" --jobs 1 --short-filename --filter="$id" >"$log2" 2>&1
		rc2=$?
		cat "$log2"
		synth "$log2"
		if [ $rc2 -eq 0 ] && [ "$tested" -eq 1 ] && [ "$passing" -eq 1 ]; then
			pass=$((pass + 1)); fail=$((fail - 1))
			grep -E "^\[FAIL\] ${id%/*}::${id#*/}:" "$log" | sed "s|^|$name: |" >>"$flaky"
		else
			grep -E '^\[FAIL\]|^\[----\].*(Assert|signal|[Tt]imed out)' "$log2" | sed "s|^|$name: |" >>"$failed"
			status=1
		fi
	done
done
if [ -s "$flaky" ]; then echo "== flaky (failed, then passed when run again)"; cat "$flaky"; fi
if [ -s "$failed" ]; then echo "== failures"; cat "$failed"; fi
rm -f "$log" "$log2" "$failed" "$flaky"
[ $((pass + fail)) -gt 0 ] || { echo "no tests ran" >&2; status=1; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || status=1
exit $status
