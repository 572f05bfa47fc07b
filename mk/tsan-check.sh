#!/bin/sh
# The TSan half of make check. Criterion cannot start under ThreadSanitizer here (its
# inheritable arena cannot be mapped beside TSan's shadow memory), so the threaded modules
# are exercised through the TSan-built binary itself: scenarios that drive the workqueue
# (both kinds), store, informers, controller, fault injector, restarts and a competing
# controller instance. Any report fails. The profilers are not run here: TSan takes over
# signal delivery and the allocator, which a signal-driven sampler and a malloc interposer
# cannot share with it (the sampler's thread start deadlocks inside TSan's pthread_create
# interceptor); they are checked under ASan+UBSan and by their own stress tests.
set -u
B=${1:-build/tsan}
R="$B/reconperf"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
run() {
	if "$R" bench -q "$@" -o "$tmp/out" >"$tmp/log" 2>&1; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "tsan: FAIL: reconperf bench $*" >&2
		head -60 "$tmp/log" >&2
	fi
}
run scenarios/noop.yaml --duration 1s
run scenarios/priority.yaml --objects 500 --duration 1s
run --set workload=noop --objects 500 --duration 1s --set churn.updates=2000 \
	--fault conflict:mode=instance --workers 4
run --set workload=replicaset --objects 200 --duration 2s --set churn.updates=200 \
	--set churn.creates=20 --set churn.deletes=20 --fault restart:every=500ms \
	--fault watch_drop:every=300ms,compact_probability=1 --fault conflict:probability=0.2
run --set workload=backup --objects 200 --set params.list=index --duration 1s \
	--fault write_fail:at=200ms,duration=200ms,retry_after=20ms --fault worker_stall:at=100ms
run --set workload=rollout --objects 200 --duration 1s --fault status_tamper:rate=20 \
	--fault api_error:kind=throttle,retry_after=1ms --fault api_latency:dist=fixed,value=1ms
run scenarios/faults.yaml --objects 300 --duration 3s
echo "tsan: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
