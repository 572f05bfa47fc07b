#!/bin/sh
# Runs the Criterion test binaries under $B/tests (all, or those named as arguments) and
# prints one closing total. Exit status is non-zero when any test failed or crashed.
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
log=$(mktemp)
for t in $bins; do
	echo "== $(basename "$t")"
	"$t" --jobs 2 --short-filename >"$log" 2>&1
	rc=$?
	cat "$log"
	line=$(grep 'Synthesis:' "$log" | tail -1)
	tested=$(echo "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
	passing=$(echo "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	[ -n "$tested" ] || { tested=1; passing=0; }
	pass=$((pass + passing)); fail=$((fail + tested - passing))
	[ $rc -eq 0 ] || status=1
done
rm -f "$log"
[ $((pass + fail)) -gt 0 ] || { echo "no tests ran" >&2; status=1; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || status=1
exit $status
