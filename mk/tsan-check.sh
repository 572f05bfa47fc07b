#!/bin/sh
# The TSan half of make check. Criterion cannot start under ThreadSanitizer here (its
# inheritable arena cannot be mapped beside TSan's shadow memory), so the threaded modules
# are exercised through the TSan-built binary itself: scenarios that drive the workqueue
# (both kinds), store, informers, controller, fault injector, restarts and a competing
# controller instance; then runs with the profilers on: the CPU sampler (signal handler,
# per-thread rings, collector, pthread_create trampoline; POSIX timers at 100 Hz, perf
# events at 1000 Hz where the kernel allows), the allocation sampler (malloc interposer
# forwarding to TSan's allocator, heap buckets and live set fed from every thread), and
# both at once while restarts start and end threads. Any report fails; a profile must be a
# whole gzip file that our reader turns into stacks through the bench's threads. Every run
# has a watchdog: a hang inside TSan's runtime ignores SIGTERM.
#
# Under TSan a sample signal that lands while the thread is in TSan's runtime is delivered
# later, at the next interceptor, with the context it interrupted: such a sample keeps its
# leaf only (the unwinder cannot reach that context from the later stack). Heap frees in a
# thread's last key-destructor round are not tracked (alloc.c, tsan_ready()).
set -u
B=${1:-build/tsan}
R="$B/reconperf"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
pass=0
# profile_ok FILE [SAMPLE_INDEX]: a whole gzip file that reads back into stacks, one of them
# through a thread the bench started
profile_ok() {
	gzip -t "$1" 2>>"$tmp/log" &&
		"$R" convert "$1" --to folded ${2:+--sample-index "$2"} -o "$tmp/folded" \
			>>"$tmp/log" 2>&1 &&
		grep -q ';trampoline;' "$tmp/folded" ||
		{ echo "tsan: $1: not a profile with the bench's threads in it" >>"$tmp/log"; false; }
}
# every profile the arguments ask for (heap profiles by allocated bytes: in use may be none)
profiles_ok() {
	opt=
	for a in "$@"; do
		case $opt in
		--cpuprofile) profile_ok "$a" || return ;;
		--memprofile) profile_ok "$a" alloc_space || return ;;
		esac
		opt=$a
	done
}
# once RUN ARGS: one bench run and its profiles; the bench's exit status is left in $rc
once() {
	rm -f "$tmp"/*.pb.gz	# a profile an earlier run left proves nothing
	timeout -s KILL 300 "$R" bench -q "$@" -o "$tmp/out" >"$tmp/log" 2>&1
	rc=$?
	[ $rc -eq 0 ] && profiles_ok "$@"
}
# A data race (exit 66) fails at once. Any other failure (a run that did not converge in
# time on a loaded machine, a watchdog kill) is run once more and named as flaky when the
# second run passes, as tests/run.sh does for the Criterion tests.
run() {
	if once "$@"; then
		pass=$((pass + 1))
	elif [ $rc -ne 66 ] && { rc1=$rc; cp "$tmp/log" "$tmp/log1"; once "$@"; }; then
		pass=$((pass + 1))
		echo "tsan: flaky (status $rc1, then passed): reconperf bench $*" >&2
		head -20 "$tmp/log1" >&2
	else
		fail=$((fail + 1))
		echo "tsan: FAIL (status $rc): reconperf bench $*" >&2
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
cpu=$tmp/cpu.pb.gz
mem=$tmp/mem.pb.gz
# 100 Hz, 3 s: under TSan most samples land in its runtime and keep their leaf alone; in
# 1 s only 2-10 of ~170 went through the bench's threads, and one run in many had none
run scenarios/noop.yaml --duration 3s --cpuprofile "$cpu"
run scenarios/noop.yaml --duration 1s --hz 1000 --cpuprofile "$cpu"
# as root the run above takes bpf-stack (no signal handler): the handler's engines too
run scenarios/noop.yaml --duration 1s --hz 1000 --engine perf --cpuprofile "$cpu"
# a small mean, so that the workers' own allocations are sampled too
run scenarios/noop.yaml --duration 1s --set reconcile.allocs=3 --mem-rate 4KiB --memprofile "$mem"
run --set workload=replicaset --objects 200 --duration 2s --set churn.updates=200 \
	--set churn.creates=20 --set churn.deletes=20 --fault restart:every=300ms --workers 4 \
	--hz 1000 --cpuprofile "$cpu" --mem-rate 4KiB --memprofile "$mem"
echo "tsan: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
