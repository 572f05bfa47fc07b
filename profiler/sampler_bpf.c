/* sampler_bpf — per-CPU clocks and the eBPF programs that sample our threads. See .h. */
#include "profiler/sampler_bpf.h"
#include "profiler/bpf/bpfcommon.h"

#include "sigsample.skel.h"
#include "stacksample.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(struct rp_ss_rec) == 96, "rp_ss_rec layout");
_Static_assert(sizeof(struct rp_ss_thread) == 16, "rp_ss_thread layout");

struct sbpf {
	enum sbpf_mode mode;
	struct rp_sigsample *sig;
	struct rp_stacksample *stk;
	struct bpf_program *prog;
	struct bpf_map *tids;
	struct ring_buffer *ring;
	sbpf_sample_fn fn;
	void *arg;
	struct bpf_link **links;
	int *pfds;
	int ncpus;	/* entries in links and pfds */
	int aligned;	/* clocks put in phase with the tick */
};

static int on_record(void *ctx, void *data, size_t size)
{
	struct sbpf *s = ctx;
	const struct rp_ss_rec *r = data;

	if (size >= sizeof(*r) && size - sizeof(*r) >= r->len)
		s->fn(s->arg, r);
	return 0;
}

/* Both programs' .rodata name the target the same way: its tgid in our pid namespace. */
#define SET_TARGET(skel, tgid, ns)                                    \
	do {                                                          \
		(skel)->rodata->target_tgid = (__u32)(tgid);          \
		(skel)->rodata->pidns_dev = (__u64)(ns).st_dev;       \
		(skel)->rodata->pidns_ino = (__u64)(ns).st_ino;       \
	} while (0)

/* Sets the target's ids and loads the mode's program. */
static int load(struct sbpf *s, pid_t tgid, int signo, uint32_t stack_copy)
{
	struct stat ns;
	int err;

	if (stat("/proc/self/ns/pid", &ns) < 0)
		return -errno;
	if (s->mode == SBPF_SIGNAL) {
		s->sig = rp_sigsample__open();
		if (!s->sig)
			return -ENOMEM;
		SET_TARGET(s->sig, tgid, ns);
		s->sig->rodata->signo = (__u32)signo;
		err = rp_bpf_classify(rp_sigsample__load(s->sig));
		s->prog = s->sig->progs.rp_sigsample;
		s->tids = s->sig->maps.tids;
		return err;
	}
	s->stk = rp_stacksample__open();
	if (!s->stk)
		return -ENOMEM;
	SET_TARGET(s->stk, tgid, ns);
	s->stk->rodata->stack_copy = stack_copy;
	err = bpf_map__set_max_entries(s->stk->maps.scratch, (__u32)s->ncpus);
	if (err)
		return err;
	err = rp_bpf_classify(rp_stacksample__load(s->stk));
	if (err)
		return err;
	s->prog = s->stk->progs.rp_stacksample;
	s->tids = s->stk->maps.tids;
	s->ring = ring_buffer__new(bpf_map__fd(s->stk->maps.ring), on_record, s, NULL);
	return s->ring ? 0 : -errno;
}

/* ---- in phase with the tick ---- */

/*
 * A clock period that expires apart from the kernel's tick costs an interrupt of its own
 * (~28 us of CPU on a nested guest); one that expires with the tick is handled in the
 * tick's interrupt. cpu-clock's hrtimer runs at start + k x period, start being when the
 * event is (re)started, so each CPU's clock is restarted at an instant on the tick's grid:
 * at 1000 Hz with HZ=250 every fourth period then lands on a tick, 1000 interrupts a
 * second instead of 1250. The grid is the next tick's expiry in /proc/timer_list (root
 * only; without it nothing is aligned). Restarting: PERF_EVENT_IOC_PERIOD with the same
 * period stops the event, forgets the time left and starts it (kernel/events/core.c
 * __perf_event_period), run on the event's own CPU from a helper thread pinned there, so
 * no cross-CPU call delays it.
 */
static int64_t tick_grid(void)
{
	FILE *f = fopen("/proc/timer_list", "re");
	char line[256];
	bool tick = false;
	long long at = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (tick && sscanf(line, " # expires at %lld-", &at) == 1)
			break;
		tick = strstr(line, "tick_nohz_handler") || strstr(line, "tick_sched_timer");
	}
	fclose(f);
	return at;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

struct aligner {
	struct sbpf *s;
	uint64_t period;
	int64_t grid;
};

/* Restarts fd's clock right after a point of the grid (now = grid mod period). */
static bool restart_on_grid(int fd, uint64_t period, int64_t grid)
{
	int64_t p = (int64_t)period;

	/* each try waits for the next point: a loaded machine may preempt a few of them */
	for (int tries = 0; tries < 10; tries++) {
		int64_t now = mono_ns(), next = now + (((grid - now) % p) + p) % p;
		struct timespec until;

		if (next - now < 200000)
			next += p;
		until.tv_sec = (time_t)((next - 150000) / 1000000000);
		until.tv_nsec = (long)((next - 150000) % 1000000000);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL);
		while ((now = mono_ns()) < next)
			;
		/* late by more than a few us (preempted, interrupted): the next point */
		if (now - next > 3000)
			continue;
		return ioctl(fd, PERF_EVENT_IOC_PERIOD, &period) == 0;
	}
	return false;
}

static void *align_main(void *arg)
{
	struct aligner *a = arg;

	for (int cpu = 0; cpu < a->s->ncpus; cpu++) {
		cpu_set_t one;

		if (a->s->pfds[cpu] < 0)
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		/* a CPU outside our cpuset keeps its phase */
		if (pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0 &&
		    sched_getcpu() == cpu && restart_on_grid(a->s->pfds[cpu], a->period, a->grid))
			a->s->aligned++;
	}
	return NULL;
}

bool sbpf_tick_align_asked(void)
{
	const char *on = getenv("RECONPERF_TICK_ALIGN");

	return on && *on && strcmp(on, "0");
}

/* Puts the clocks in phase with the tick, where asked and the tick's grid can be read. */
static void align_clocks(struct sbpf *s, uint64_t period)
{
	struct aligner a = { s, period, -1 };
	pthread_t th;

	if (!sbpf_tick_align_asked())
		return;
	a.grid = tick_grid();
	if (a.grid < 0)
		return;
	/* a helper, so that the caller's own affinity is never touched */
	if (pthread_create(&th, NULL, align_main, &a) == 0)
		pthread_join(th, NULL);
}

int sbpf_aligned(const struct sbpf *s)
{
	return s ? s->aligned : 0;
}

int sbpf_open(pid_t tgid, enum sbpf_mode mode, int signo, sbpf_sample_fn fn, void *arg,
	      uint64_t period_ns, uint32_t stack_copy, struct sbpf **out)
{
	struct sbpf *s;
	int n, err, attached = 0;

	*out = NULL;
	if (mode == SBPF_STACK && (stack_copy < RP_SS_STACK_MIN || stack_copy > RP_SS_STACK_MAX))
		return -EINVAL;
	err = rp_bpf_check(NULL);
	if (err)
		return err;
	n = libbpf_num_possible_cpus();
	if (n <= 0)
		return n ? n : -ENODEV;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->mode = mode;
	s->fn = fn;
	s->arg = arg;
	s->links = calloc((size_t)n, sizeof(*s->links));
	s->pfds = malloc((size_t)n * sizeof(*s->pfds));
	if (!s->links || !s->pfds) {
		free(s->links);
		free(s);
		return -ENOMEM;
	}
	s->ncpus = n;
	for (int cpu = 0; cpu < n; cpu++)
		s->pfds[cpu] = -1;
	err = load(s, tgid, signo, stack_copy);
	if (err)
		goto err;
	for (int cpu = 0; cpu < n; cpu++) {
		int fd = rp_bpf_cpu_clock(cpu, period_ns, false);

		if (fd == -ENODEV || fd == -ENOENT)	/* a possible but offline CPU */
			continue;
		if (fd < 0) {
			err = rp_bpf_classify(fd);
			goto err;
		}
		s->pfds[cpu] = fd;
		s->links[cpu] = bpf_program__attach_perf_event(s->prog, fd);
		if (!s->links[cpu]) {
			err = rp_bpf_classify(-errno);
			goto err;
		}
		attached++;
	}
	if (!attached) {
		err = -ENODEV;
		goto err;
	}
	align_clocks(s, period_ns);
	*out = s;
	return 0;
err:
	sbpf_close(s);
	return err;
}

int sbpf_add_thread(struct sbpf *s, pid_t tid, uint64_t labels, uint64_t stack_hi)
{
	__u32 k = (__u32)tid, one = 1;
	struct rp_ss_thread v = { .labels = labels, .stack_hi = stack_hi };

	if (s->mode == SBPF_SIGNAL)
		return bpf_map__update_elem(s->tids, &k, sizeof(k), &one, sizeof(one), BPF_ANY);
	return bpf_map__update_elem(s->tids, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

int sbpf_tids_fd(const struct sbpf *s)
{
	return s ? bpf_map__fd(s->tids) : -1;
}

void sbpf_remove_thread(struct sbpf *s, pid_t tid)
{
	__u32 k = (__u32)tid;

	bpf_map__delete_elem(s->tids, &k, sizeof(k), 0);
}

int sbpf_ring_fd(const struct sbpf *s)
{
	return s && s->ring ? ring_buffer__epoll_fd(s->ring) : -1;
}

int sbpf_consume(struct sbpf *s)
{
	return s->ring ? ring_buffer__consume(s->ring) : -EINVAL;
}

void sbpf_counts(const struct sbpf *s, uint64_t *taken, uint64_t *lost, uint64_t *short_copy)
{
	*taken = *lost = *short_copy = 0;
	if (s && s->sig) {
		*taken = __atomic_load_n(&s->sig->bss->sent, __ATOMIC_RELAXED);
		*lost = __atomic_load_n(&s->sig->bss->failed, __ATOMIC_RELAXED);
	} else if (s && s->stk) {
		*taken = __atomic_load_n(&s->stk->bss->taken, __ATOMIC_RELAXED);
		*lost = __atomic_load_n(&s->stk->bss->lost, __ATOMIC_RELAXED);
		*short_copy = __atomic_load_n(&s->stk->bss->short_copy, __ATOMIC_RELAXED);
	}
}

/* Destroys the links (which disables each event and closes its descriptor) and the rest. */
static void detach(struct sbpf *s)
{
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		if (s->links[cpu])
			bpf_link__destroy(s->links[cpu]);
		else if (s->pfds[cpu] >= 0)
			close(s->pfds[cpu]);
		s->links[cpu] = NULL;
		s->pfds[cpu] = -1;
	}
}

void sbpf_stop(struct sbpf *s)
{
	if (s)
		detach(s);
}

void sbpf_close(struct sbpf *s)
{
	if (!s)
		return;
	detach(s);
	ring_buffer__free(s->ring);
	rp_sigsample__destroy(s->sig);
	rp_stacksample__destroy(s->stk);
	free(s->links);
	free(s->pfds);
	free(s);
}

void sbpf_forget(struct sbpf *s)
{
	if (!s)
		return;
	for (int cpu = 0; cpu < s->ncpus; cpu++) {
		int lfd = s->links[cpu] ? bpf_link__fd(s->links[cpu]) : -1;

		if (lfd >= 0 && lfd != s->pfds[cpu])
			close(lfd);
		if (s->pfds[cpu] >= 0)
			close(s->pfds[cpu]);
	}
}
