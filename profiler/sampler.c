/*
 * sampler — per-thread CPU-time sampling into lock-free rings. See sampler.h.
 *
 * Each thread record owns a single-producer/single-consumer ring: the producer is the
 * thread's own signal handler (head), the consumer the collector (tail). Records live in a
 * fixed table until the sampler stops, so a late signal never touches freed memory; the
 * handler finds its record through the signal (si_fd for perf events, si_value for timers,
 * the thread's cached record or a scan for the eBPF engine's signals, which carry nothing)
 * and checks that the record belongs to the running thread.
 */
#include "profiler/sampler.h"
#include "profiler/alloc.h"
#include "profiler/pprof.h"
#include "profiler/sampler_bpf.h"
#include "profiler/unwind.h"
#include "profiler/unwind_snap.h"

#include <bpf/bpf.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TLS __thread __attribute__((tls_model("initial-exec")))
#define FD_TABLE 65536
/*
 * The collector sleeps until a handler finds its ring half full (a futex wake, one syscall
 * every SAMPLER_RING_SLOTS / 2 samples of that thread) or DRAIN_NS passes. A wake-up costs
 * ~25 us of CPU on this VM: a fixed 10 ms poll cost more than the sampling itself at 100 Hz
 * (and far more, relatively, in a mostly idle process).
 */
#define DRAIN_NS 1000000000ll
#define WAKE_AT (SAMPLER_RING_SLOTS / 2)

struct slot {
	uint32_t n, nlabels;
	const char *labels[SAMPLER_MAX_LABELS][2];
	uint64_t pcs[SAMPLER_MAX_DEPTH];
};

struct thr {
	_Atomic pid_t tid;	/* written under S.lock, read by handlers (relaxed) */
	pid_t last_tid;		/* its thread's id, kept after the thread exits (S.lock) */
	uint64_t gone_seq;	/* bpf-stack: S.consume_seq when its thread exited (S.lock) */
	int fd;			/* perf event, or -1 */
	timer_t timer;
	bool has_timer;
	bool in_bpf;		/* in the eBPF engine's thread map */
	_Atomic uint32_t head;	/* written by the handler */
	_Atomic uint32_t tail;	/* written by the collector */
	_Atomic uint64_t dropped;
	_Atomic uint64_t capped;	/* samples cut at SAMPLER_MAX_DEPTH frames */
	uint64_t cpu_prev;	/* its CPU clock when its samples were last weighed, 0 unknown
				 * (S.lock) */
	uint64_t cpu_end;	/* its CPU clock when it exited or the clocks stopped, 0 unknown or
				 * settled (S.lock) */
	struct {		/* its newest sample in the profile (n 0: none yet) (S.lock) */
		uint32_t n, nlabels;
		const char *labels[SAMPLER_MAX_LABELS][2];
		uint64_t pcs[SAMPLER_COPY_MAX_DEPTH];
	} last;
	bool gone;		/* its thread exited: free for reuse once drained (S.lock) */
	struct slot slots[SAMPLER_RING_SLOTS];
};

static struct {
	atomic_bool running;
	bool stopping;		/* sampler_stop() has stopped the clocks (S.lock) */
	enum sampler_engine engine;
	int hz, signo;
	uint64_t period_ns;
	bool period_weights;	/* RECONPERF_CPU_WEIGHTS=period: each sample weighs its period */
	uint32_t stack_copy;	/* bpf-stack: bytes of stack a sample copies at most */
	struct sbpf *bpf;	/* the eBPF engines' clocks and program */
	uint64_t bpf_failed;	/* their periods whose sample was lost (at stop) */
	struct snapuw *snap;	/* bpf-stack: the unwinder of the copies (collector's) */
	uint64_t bpf_short, truncated;	/* bpf-stack, at stop: see sampler_stats */
	uint64_t capped;	/* bpf-stack: copies unwound to SAMPLER_COPY_MAX_DEPTH frames */
	int aligned;		/* the eBPF engines' clocks in phase with the tick */
	unsigned gen;		/* profiles started so far */
	/* bpf-stack while it runs: the profile's number and its threads map (for a thread
	 * found running at the start, which gives its labels' address at its first label);
	 * 0 and -1 otherwise */
	_Atomic unsigned label_gen;
	_Atomic int tids_fd;
	int evfd;		/* bpf-stack: wakes the collector at stop */
	uint64_t consume_seq;	/* bpf-stack: the ring's reads begun (S.lock) */
	struct thr *thr[SAMPLER_MAX_THREADS];
	_Atomic size_t nthr;
	uint64_t thread_errors, samples, registered;
	pthread_mutex_t lock;	/* registration and draining */
	pthread_t collector;
	atomic_bool collector_stop;
	_Atomic uint32_t wake;	/* futex word: bumped to wake the collector */
	struct pprof_builder *builder;
	struct timespec t0;
	int64_t duration_ns;
	bool handler_installed;
	pthread_key_t key;
	bool key_made, atfork_made;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

static _Atomic(struct thr *) by_fd[FD_TABLE];

/*
 * The descriptors the eBPF engines opened at the start (events, links, maps, the ring's
 * epoll): with the per-thread perf events of by_fd, what sampler_fd_guarded() keeps from a
 * program that closes every descriptor. Off from the first step of a stop (and in a fork
 * child), when the sampler and libbpf close their own.
 */
static _Atomic uint64_t start_fds[FD_TABLE / 64];
static atomic_bool guard_on;

/* The descriptors open now, as bits. */
static void open_fds(uint64_t *bits)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	memset(bits, 0, FD_TABLE / 8);
	if (!d)
		return;
	while ((e = readdir(d))) {
		long fd = strtol(e->d_name, NULL, 10);

		if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && fd >= 0 && fd < FD_TABLE &&
		    fd != dirfd(d))
			bits[fd / 64] |= 1ull << (fd % 64);
	}
	closedir(d);
}

bool sampler_fd_guarded(int fd)
{
	if (!atomic_load_explicit(&guard_on, memory_order_acquire) || fd < 0 || fd >= FD_TABLE)
		return false;
	return atomic_load_explicit(&by_fd[fd], memory_order_relaxed) ||
	       (atomic_load_explicit(&start_fds[fd / 64], memory_order_relaxed) >> (fd % 64) & 1);
}
static TLS pid_t my_tid;
static TLS struct thr *my_thr;	/* the eBPF engine's lookup cache */
static TLS uint64_t my_stack_top;	/* bpf-stack: where a copy of this thread's stack ends */

/* The initial stack pointer of the process (argc's address), exported by the loader. */
extern void *__libc_stack_end;

static pid_t gettid_cached(void);

/*
 * How far up bpf-stack copies the calling thread's stack: past the outermost frame, not to
 * the end of the stack mapping. Above a thread's first frames glibc keeps its thread
 * descriptor and the static TLS (~3 KiB here), above main's the arguments and the
 * environment: copying them at every sample costs and serves nothing.
 */
static uint64_t copy_top(void)
{
	uint64_t lo, hi;

	unwind_thread_stack(&lo, &hi);
	if (my_stack_top && (!hi || my_stack_top < hi))
		return my_stack_top;
	if (gettid_cached() == getpid() && __libc_stack_end) {
		uint64_t top = (uint64_t)(uintptr_t)__libc_stack_end + 64;	/* _start's frame */

		return hi && top > hi ? hi : top;
	}
	return hi;
}
static TLS const char *volatile tls_labels[SAMPLER_MAX_LABELS][2];
/* bpf-stack: the profile (S.label_gen) for which this thread gave the program its labels */
static TLS unsigned labels_pub;

static int (*real_pthread_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				  void *);

static pid_t gettid_cached(void)
{
	if (!my_tid)
		my_tid = (pid_t)syscall(SYS_gettid);
	return my_tid;
}

static void collector_wake(void)
{
	atomic_fetch_add_explicit(&S.wake, 1, memory_order_release);
	syscall(SYS_futex, &S.wake, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- the signal handler (async-signal-safe) ---- */

static void on_sample(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct thr *t = NULL;
	uint32_t head, tail;
	struct slot *s;
	pid_t tid;

	(void)sig;
	if (!atomic_load_explicit(&S.running, memory_order_relaxed))
		goto out;
	/* threads found in /proc/self/task at start never went through the trampoline */
	if (!my_tid)
		my_tid = (pid_t)syscall(SYS_gettid);
	tid = my_tid;
	if (si->si_code == SI_TIMER) {
		size_t i = (size_t)si->si_value.sival_int;

		if (i < atomic_load_explicit(&S.nthr, memory_order_acquire))
			t = S.thr[i];
	} else if (si->si_code == SI_KERNEL) {	/* bpf_send_signal_thread() */
		t = my_thr;
		if (!t || atomic_load_explicit(&t->tid, memory_order_relaxed) != tid) {
			size_t n = atomic_load_explicit(&S.nthr, memory_order_acquire);

			t = NULL;
			for (size_t i = 0; i < n && !t; i++)
				if (atomic_load_explicit(&S.thr[i]->tid, memory_order_relaxed) == tid)
					t = S.thr[i];
			my_thr = t;
		}
	} else if (si->si_fd >= 0 && si->si_fd < FD_TABLE) {
		t = atomic_load_explicit(&by_fd[si->si_fd], memory_order_acquire);
	}
	if (!t || atomic_load_explicit(&t->tid, memory_order_relaxed) != tid)
		goto out;
	head = atomic_load_explicit(&t->head, memory_order_relaxed);
	tail = atomic_load_explicit(&t->tail, memory_order_acquire);
	if (head - tail >= SAMPLER_RING_SLOTS) {
		atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
		goto out;
	}
	s = &t->slots[head % SAMPLER_RING_SLOTS];
	s->n = (uint32_t)unwind_from_ucontext(uc, s->pcs, SAMPLER_MAX_DEPTH);
	if (s->n == SAMPLER_MAX_DEPTH)
		atomic_fetch_add_explicit(&t->capped, 1, memory_order_relaxed);
	s->nlabels = 0;
	for (int i = 0; i < SAMPLER_MAX_LABELS; i++) {
		const char *k = tls_labels[i][0], *v = tls_labels[i][1];

		if (k && v) {
			s->labels[s->nlabels][0] = k;
			s->labels[s->nlabels][1] = v;
			s->nlabels++;
		}
	}
	atomic_store_explicit(&t->head, head + 1, memory_order_release);
	/* the ring just reached half full (it fills one slot at a time): wake the collector */
	if (head + 1 - tail == WAKE_AT)
		collector_wake();
out:
	errno = saved;
}

/*
 * bpf-stack reads a thread's labels where the thread said they are when it registered
 * itself; a thread that was running before the start was registered from outside, without
 * them: it gives their address here, once per profile, with one bpf() call (no lock, no
 * allocation). Its stack top stays unknown (0): its copies are read page by page.
 */
static void publish_labels(void)
{
	unsigned gen = atomic_load_explicit(&S.label_gen, memory_order_acquire);
	int fd = atomic_load_explicit(&S.tids_fd, memory_order_relaxed);

	if (!gen || labels_pub == gen || fd < 0)
		return;
	labels_pub = gen;
	{
		__u32 k = (__u32)gettid_cached();
		struct rp_ss_thread v = { .labels = (uint64_t)(uintptr_t)&tls_labels };

		bpf_map_update_elem(fd, &k, &v, BPF_EXIST);	/* only a registered thread */
	}
}

void sampler_label_set(const char *key, const char *val)
{
	int free_slot = -1;

	publish_labels();
	for (int i = 0; i < SAMPLER_MAX_LABELS; i++) {
		if (tls_labels[i][0] == key || (tls_labels[i][0] && !strcmp(tls_labels[i][0], key))) {
			tls_labels[i][1] = val;
			return;
		}
		if (!tls_labels[i][0] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot >= 0 && val) {
		/* value first: the handler reads only pairs with both set */
		tls_labels[free_slot][1] = val;
		tls_labels[free_slot][0] = key;
	}
}

const char *volatile *sampler_label_cell(const char *key)
{
	publish_labels();
	for (int i = 0; i < SAMPLER_MAX_LABELS; i++) {
		const char *k = tls_labels[i][0];

		if (k == key || (k && !strcmp(k, key)))
			return &tls_labels[i][1];
	}
	for (int i = 0; i < SAMPLER_MAX_LABELS; i++) {
		if (!tls_labels[i][0]) {
			/* value first: the handler reads only pairs with both set */
			tls_labels[i][1] = NULL;
			tls_labels[i][0] = key;
			return &tls_labels[i][1];
		}
	}
	return NULL;
}

int sampler_labels_get(const char *out[][2], int max)
{
	int n = 0;

	for (int i = 0; i < SAMPLER_MAX_LABELS && n < max; i++) {
		const char *k = tls_labels[i][0], *v = tls_labels[i][1];

		if (k && v) {
			out[n][0] = k;
			out[n][1] = v;
			n++;
		}
	}
	return n;
}

/* ---- per-thread clocks ---- */

/* The CPU-time clock of thread tid of this process (the kernel's MAKE_THREAD_CPUCLOCK). */
static clockid_t thread_clock(pid_t tid)
{
	return (clockid_t)((~(unsigned)tid << 3) | 6);
}

/* Thread tid's CPU time in nanoseconds, 0 if it cannot be read (the thread is gone). */
static uint64_t thread_cpu(pid_t tid)
{
	struct timespec ts;

	if (clock_gettime(thread_clock(tid), &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static long perf_open(struct perf_event_attr *pe, pid_t tid)
{
	return syscall(SYS_perf_event_open, pe, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
}

static int setup_perf(struct thr *t)
{
	struct perf_event_attr pe;
	struct f_owner_ex own = { F_OWNER_TID, t->tid };
	int fd;

	memset(&pe, 0, sizeof(pe));
	pe.type = PERF_TYPE_SOFTWARE;
	pe.size = sizeof(pe);
	pe.config = PERF_COUNT_SW_TASK_CLOCK;
	pe.sample_period = S.period_ns;
	pe.wakeup_events = 1;
	pe.disabled = 1;
	fd = (int)perf_open(&pe, t->tid);
	if (fd < 0 && (errno == EACCES || errno == EPERM)) {
		pe.exclude_kernel = 1;	/* perf_event_paranoid >= 2 without CAP_PERFMON */
		pe.exclude_hv = 1;
		fd = (int)perf_open(&pe, t->tid);
	}
	if (fd < 0)
		return -errno;
	if (fd >= FD_TABLE) {
		close(fd);
		return -EMFILE;
	}
	atomic_store(&by_fd[fd], t);
	if (fcntl(fd, F_SETFL, O_ASYNC) < 0 || fcntl(fd, F_SETSIG, S.signo) < 0 ||
	    fcntl(fd, F_SETOWN_EX, &own) < 0 || ioctl(fd, PERF_EVENT_IOC_RESET, 0) < 0 ||
	    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		int err = -errno;

		atomic_store(&by_fd[fd], NULL);
		close(fd);
		return err;
	}
	t->fd = fd;
	return 0;
}

static int setup_timer(struct thr *t, size_t idx)
{
	struct sigevent sev;
	struct itimerspec its;
	clockid_t clk = thread_clock(t->tid);

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = S.signo;
	sev.sigev_value.sival_int = (int)idx;
	sev._sigev_un._tid = t->tid;
	if (timer_create(clk, &sev, &t->timer) < 0)
		return -errno;
	t->has_timer = true;
	its.it_interval.tv_sec = (time_t)(S.period_ns / 1000000000);
	its.it_interval.tv_nsec = (long)(S.period_ns % 1000000000);
	its.it_value = its.it_interval;
	if (timer_settime(t->timer, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

static void stop_clock(struct thr *t)
{
	if (t->in_bpf) {
		sbpf_remove_thread(S.bpf, t->tid);
		t->in_bpf = false;
	}
	if (t->fd >= 0) {
		ioctl(t->fd, PERF_EVENT_IOC_DISABLE, 0);
		atomic_store(&by_fd[t->fd], NULL);
		close(t->fd);
		t->fd = -1;
	}
	if (t->has_timer) {
		timer_delete(t->timer);
		t->has_timer = false;
	}
}

static void settle(struct thr *t);

/*
 * A record for tid: the record of an exited thread whose ring the collector has drained
 * (so a program that runs thousands of short threads keeps as many records as it had
 * threads alive at once, not one per thread ever), else a new one. -ENOSPC past
 * SAMPLER_MAX_THREADS records. With S.lock held; *idx gets the record's index.
 */
static struct thr *record_for(pid_t tid, size_t *idx)
{
	size_t n = atomic_load(&S.nthr);
	struct thr *t;

	/* bpf-stack: not before the copies it took are read (consume settles it), unless the
	 * table is full: then its time since its last copy read goes onto that copy */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < n; i++) {
			t = S.thr[i];
			if (t->gone && atomic_load(&t->head) == atomic_load(&t->tail) &&
			    (pass || S.engine != SAMPLER_ENGINE_BPF_STACK || !t->cpu_end)) {
				settle(t);
				t->last.n = 0;
				t->tid = tid;
				t->gone = false;
				*idx = i;
				return t;
			}
		}
		if (n < SAMPLER_MAX_THREADS)
			break;
	}
	if (n == SAMPLER_MAX_THREADS)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->tid = tid;
	t->fd = -1;
	S.thr[n] = t;
	atomic_store_explicit(&S.nthr, n + 1, memory_order_release);
	*idx = n;
	return t;
}

/* Registers tid; with S.lock held. */
static int register_tid(pid_t tid)
{
	size_t n = atomic_load(&S.nthr), idx;
	struct thr *t;
	int rc;

	if (S.stopping)	/* a thread started while sampler_stop() waits out the last signals */
		return 0;
	/* registered already (a record whose thread exited never matches: its tid is 0) */
	for (size_t i = 0; i < n; i++)
		if (S.thr[i]->tid == tid)
			return 0;
	t = record_for(tid, &idx);
	if (!t) {
		S.thread_errors++;
		return n == SAMPLER_MAX_THREADS ? -ENOSPC : -ENOMEM;
	}
	S.registered++;
	t->last_tid = tid;
	t->cpu_prev = thread_cpu(tid);
	if (S.engine == SAMPLER_ENGINE_BPF || S.engine == SAMPLER_ENGINE_BPF_STACK) {
		uint64_t hi = 0, labels = 0;

		/* the calling thread: where its labels and its stack are (the copy reads them) */
		if (tid == gettid_cached()) {
			hi = copy_top();
			labels = (uint64_t)(uintptr_t)&tls_labels;
			labels_pub = S.gen;
		}
		rc = sbpf_add_thread(S.bpf, tid, labels, hi);
		t->in_bpf = !rc;
	} else if (S.engine == SAMPLER_ENGINE_PERF) {
		rc = setup_perf(t);
	} else {
		rc = setup_timer(t, idx);
	}
	if (rc) {
		stop_clock(t);
		S.thread_errors++;
	}
	return rc;
}

/*
 * Thread exit (key destructor, in the exiting thread): block the sample signal for the rest
 * of this thread's life (a handler can no longer write the ring), stop the clock and give
 * the record back for reuse once the collector has drained it.
 */
static void thread_gone(void *arg)
{
	sigset_t one;
	size_t n;

	(void)arg;
	sigemptyset(&one);
	sigaddset(&one, S.signo);
	pthread_sigmask(SIG_BLOCK, &one, NULL);
	pthread_mutex_lock(&S.lock);
	n = atomic_load(&S.nthr);
	for (size_t i = 0; i < n; i++) {
		struct thr *t = S.thr[i];

		if (t->tid == my_tid && !t->gone) {
			stop_clock(t);
			t->cpu_end = thread_cpu(my_tid);
			t->gone_seq = S.consume_seq;
			t->tid = 0;
			t->gone = true;
		}
	}
	pthread_mutex_unlock(&S.lock);
}

int sampler_register_self(void)
{
	int rc;

	if (!atomic_load(&S.running))
		return 0;
	unwind_init_thread();
	pthread_mutex_lock(&S.lock);
	rc = atomic_load(&S.running) ? register_tid(gettid_cached()) : 0;
	pthread_mutex_unlock(&S.lock);
	if (S.key_made)
		pthread_setspecific(S.key, (void *)1);
	return rc;
}

/* ---- the collector ---- */

/*
 * What k samples of thread record t, moved into the profile together, weigh together:
 * what its CPU clock advanced since its samples were last weighed (its end, when it has
 * exited or the clocks have stopped), so each thread's samples add up to its CPU time as
 * the scheduler charged it, however many of its periods the clock missed (see sampler.h);
 * k periods when either end is unknown (a clock that went back belongs to a new thread
 * with a reused id) or RECONPERF_CPU_WEIGHTS=period. With S.lock held.
 */
static uint64_t weigh(struct thr *t, uint64_t k)
{
	uint64_t d = k * S.period_ns, now = t->cpu_end ? t->cpu_end : thread_cpu(t->last_tid);

	if (!S.period_weights && t->cpu_prev && now >= t->cpu_prev)
		d = now - t->cpu_prev;
	if (now)
		t->cpu_prev = now;
	return d;
}

/* The j-th of k shares of d: d / k each, the remainder to the first ones. */
static int64_t share(uint64_t d, uint64_t k, uint64_t j)
{
	return (int64_t)(d / k + (j < d % k));
}

/*
 * The CPU time a thread ran after its newest sample, to its exit or the stop: onto that
 * sample's stack, without a sample of its own (a clock that saw a fraction of a thread's
 * slices may have last fired long before its end). At most SETTLE_MAX periods: a clock
 * that stopped for good (its descriptor closed under the profiler) must not pour the rest
 * of its thread's time onto one stack. With S.lock held.
 */
#define SETTLE_MAX 256

static void settle(struct thr *t)
{
	int64_t values[2] = { 0, 0 };
	struct pprof_label_kv kv[SAMPLER_MAX_LABELS];

	if (t->cpu_end && t->last.n && t->cpu_prev && t->cpu_end > t->cpu_prev &&
	    !S.period_weights && S.builder) {
		values[1] = (int64_t)(t->cpu_end - t->cpu_prev);
		if (values[1] > SETTLE_MAX * (int64_t)S.period_ns)
			values[1] = SETTLE_MAX * (int64_t)S.period_ns;
		for (uint32_t l = 0; l < t->last.nlabels; l++)
			kv[l] = (struct pprof_label_kv){ t->last.labels[l][0], t->last.labels[l][1],
							 0, NULL };
		pprof_builder_add(S.builder, t->last.pcs, t->last.n, values, kv, t->last.nlabels);
	}
	if (t->cpu_end)
		t->cpu_prev = t->cpu_end;
	t->cpu_end = 0;
}

/* Moves every ring's samples into the profile; settles each thread that exited (every one
 * when the sampler stops: final). With S.lock held. */
static void drain_locked(bool final)
{
	size_t n = atomic_load(&S.nthr);
	int64_t values[2] = { 1, 0 };

	for (size_t i = 0; i < n; i++) {
		struct thr *t = S.thr[i];
		uint32_t tail = atomic_load_explicit(&t->tail, memory_order_relaxed);
		uint32_t head = atomic_load_explicit(&t->head, memory_order_acquire);
		uint64_t k = 0, j = 0, d;
		struct slot *newest = NULL;

		if (tail == head) {
			if (t->gone || final)
				settle(t);
			continue;
		}
		for (uint32_t at = tail; at != head; at++)
			k += t->slots[at % SAMPLER_RING_SLOTS].n != 0;
		d = weigh(t, k);
		for (; tail != head; tail++) {
			struct slot *s = &t->slots[tail % SAMPLER_RING_SLOTS];
			struct pprof_label_kv kv[SAMPLER_MAX_LABELS];

			if (!s->n)
				continue;
			for (uint32_t l = 0; l < s->nlabels; l++)
				kv[l] = (struct pprof_label_kv){ s->labels[l][0], s->labels[l][1], 0,
								 NULL };
			values[1] = share(d, k, j++);
			if (S.builder &&
			    pprof_builder_add(S.builder, s->pcs, s->n, values, kv, s->nlabels) == 0) {
				S.samples++;
				newest = s;
			}
		}
		if (newest) {
			t->last.n = newest->n;
			t->last.nlabels = newest->nlabels;
			memcpy(t->last.labels, newest->labels, sizeof(t->last.labels));
			memcpy(t->last.pcs, newest->pcs, newest->n * sizeof(newest->pcs[0]));
		}
		if (t->gone || final)	/* it takes no more samples: what it ran since */
			settle(t);
		atomic_store_explicit(&t->tail, tail, memory_order_release);
	}
}

/* bpf-stack: copies unwound but not yet in the profile, weighed per thread (weigh). */
#define PEND_MAX 64

struct pend {
	pid_t tid;
	uint32_t n, nl;
	struct pprof_label_kv kv[SAMPLER_MAX_LABELS];
	uint64_t pcs[SAMPLER_COPY_MAX_DEPTH];
};

static struct pend *pend;
static size_t npend;

static void flush_copies(void)
{
	bool done[PEND_MAX] = { false };
	int64_t values[2] = { 1, 0 };
	size_t nthr;

	pthread_mutex_lock(&S.lock);	/* the records, and the builder settle() adds to */
	nthr = atomic_load(&S.nthr);
	for (size_t i = 0; i < npend; i++) {
		uint64_t d, k = 0, j = 0;
		struct pend *newest = NULL;
		struct thr *t = NULL;

		if (done[i])
			continue;
		for (size_t x = i; x < npend; x++)
			k += pend[x].tid == pend[i].tid && pend[x].n;
		for (size_t x = 0; x < nthr; x++)	/* its live record, else its exited one */
			if (S.thr[x]->last_tid == pend[i].tid && (!t || S.thr[x]->tid))
				t = S.thr[x];
		/* no record: its thread's record went to another (a full table) */
		d = t ? weigh(t, k) : k * S.period_ns;
		for (size_t x = i; x < npend; x++) {
			struct pend *p = &pend[x];

			if (p->tid != pend[i].tid || done[x])
				continue;
			done[x] = true;
			if (!p->n)
				continue;
			values[1] = share(d, k, j++);
			if (S.builder &&
			    pprof_builder_add(S.builder, p->pcs, p->n, values, p->kv, p->nl) == 0) {
				S.samples++;
				newest = p;
			}
		}
		if (t && newest) {
			t->last.n = newest->n;
			t->last.nlabels = newest->nl;
			for (uint32_t l = 0; l < newest->nl; l++) {
				t->last.labels[l][0] = newest->kv[l].key;
				t->last.labels[l][1] = newest->kv[l].str;
			}
			memcpy(t->last.pcs, newest->pcs, newest->n * sizeof(newest->pcs[0]));
		}
	}
	npend = 0;
	pthread_mutex_unlock(&S.lock);
}

/* bpf-stack: one copied sample, unwound (collector, or stop after it) */
static void on_copy(void *arg, const struct rp_ss_rec *r)
{
	struct snap sn = { r->ip, r->sp, r->bp, (const uint8_t *)(r + 1), r->len };
	struct pend *p;
	int n;

	(void)arg;
	if (!pend)
		return;
	p = &pend[npend];
	p->tid = (pid_t)r->tid;
	p->nl = 0;
	for (int i = 0; i + 1 < RP_SS_LABEL_WORDS && p->nl < SAMPLER_MAX_LABELS; i += 2)
		if (r->labels[i] && r->labels[i + 1])
			p->kv[p->nl++] = (struct pprof_label_kv){
				(const char *)(uintptr_t)r->labels[i],
				(const char *)(uintptr_t)r->labels[i + 1], 0, NULL };
	n = snapuw_unwind(S.snap, &sn, p->pcs, SAMPLER_COPY_MAX_DEPTH);
	S.capped += n == SAMPLER_COPY_MAX_DEPTH;
	p->n = n > 0 ? (uint32_t)n : 0;
	if (++npend == PEND_MAX)
		flush_copies();
}

/*
 * bpf-stack: reads the ring; then settles the threads that exited before the read began
 * (their copies are all in). The stopping thread's last read settles the rest (drain).
 */
static void consume(void)
{
	uint64_t seq;

	pthread_mutex_lock(&S.lock);
	seq = ++S.consume_seq;
	pthread_mutex_unlock(&S.lock);
	sbpf_consume(S.bpf);
	flush_copies();
	pthread_mutex_lock(&S.lock);
	for (size_t i = 0; i < atomic_load(&S.nthr); i++) {
		struct thr *t = S.thr[i];

		if (t->gone && t->cpu_end && t->gone_seq < seq)
			settle(t);
	}
	pthread_mutex_unlock(&S.lock);
}

static void collect_copies(void)
{
	struct pollfd p[2] = { { sbpf_ring_fd(S.bpf), POLLIN, 0 }, { S.evfd, POLLIN, 0 } };

	while (!atomic_load(&S.collector_stop)) {
		/* the program wakes the ring's descriptor when the ring is filling */
		poll(p, 2, (int)(DRAIN_NS / 1000000));
		consume();
	}
}

static void *collector_main(void *arg)
{
	struct timespec ts = { DRAIN_NS / 1000000000, DRAIN_NS % 1000000000 };
	sigset_t all;

	(void)arg;
	sigemptyset(&all);
	sigaddset(&all, S.signo);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (S.engine == SAMPLER_ENGINE_BPF_STACK) {
		collect_copies();
		return NULL;
	}
	while (!atomic_load(&S.collector_stop)) {
		uint32_t seen = atomic_load_explicit(&S.wake, memory_order_acquire);

		/* a wake between the load and the wait changes the word: the wait returns */
		if (!atomic_load(&S.collector_stop))
			syscall(SYS_futex, &S.wake, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
		pthread_mutex_lock(&S.lock);
		drain_locked(false);
		pthread_mutex_unlock(&S.lock);
	}
	return NULL;
}

/* ---- start and stop ---- */

static int set_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sample;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	return sigaction(S.signo, &sa, NULL) < 0 ? -errno : 0;
}

static int install_handler(void)
{
	struct sigaction old;
	int rc;

	if (S.handler_installed)
		return 0;
	rc = set_handler();
	if (rc)
		return rc;
	if (sigaction(SIGIO, NULL, &old) == 0 && old.sa_handler == SIG_DFL)
		signal(SIGIO, SIG_IGN);
	S.handler_installed = true;
	return 0;
}

static int register_all_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int rc = 0, first = -1;

	if (!d)
		return register_tid(gettid_cached());
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0)
			continue;
		rc = register_tid(tid);
		if (first < 0)
			first = rc;
	}
	closedir(d);
	return first < 0 ? rc : first;
}

/*
 * fork: the child has one thread and none of the parent's clocks (perf events follow the
 * parent's threads, POSIX timers are not inherited), so it must not touch them: a
 * PERF_EVENT_IOC_DISABLE on an inherited descriptor would stop the parent's sampling, and
 * joining the parent's collector would wait for ever. The child re-initialises S.lock
 * rather than holding it around fork (a lock taken in a prepare handler must be ordered
 * against the other modules' handlers: with the heap profiler's it deadlocked, as
 * register_tid allocates under S.lock). It forgets the parent's records and builder without
 * freeing them (their pages stay shared with the parent), closes the inherited descriptors
 * and is left stopped: sampler_start() may begin a new profile in it.
 */
static void atfork_child(void)
{
	size_t n = atomic_load(&S.nthr);

	pthread_mutex_init(&S.lock, NULL);
	my_tid = 0;	/* the parent thread's id, copied with the thread-local storage */
	atomic_store(&guard_on, false);	/* the closes below are ours */
	atomic_store(&S.label_gen, 0);
	atomic_store(&S.tids_fd, -1);
	if (!atomic_load(&S.running))
		return;
	atomic_store(&S.running, false);
	sbpf_forget(S.bpf);
	S.bpf = NULL;
	S.snap = NULL;	/* the parent's, like the builder */
	pend = NULL;	/* the parent's too */
	npend = 0;
	if (S.evfd >= 0)
		close(S.evfd);
	S.evfd = -1;
	for (size_t i = 0; i < n; i++) {
		int fd = S.thr[i]->fd;

		if (fd >= 0) {
			atomic_store(&by_fd[fd], NULL);
			close(fd);
		}
		S.thr[i] = NULL;
	}
	atomic_store(&S.nthr, 0);
	S.collector = 0;
	S.builder = NULL;
	S.samples = S.thread_errors = S.registered = 0;
}

static void resolve_pthread_create(void)
{
	if (!real_pthread_create)
		real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
}

static void close_bpf(void);

/* bpf-stack: the unwinder, the collector's wake-up and the program (S.bpf). */
static int start_copies(void)
{
	int rc;

	S.evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (S.evfd < 0)
		return -errno;
	npend = 0;
	pend = malloc(PEND_MAX * sizeof(*pend));
	if (!pend) {
		close_bpf();
		return -ENOMEM;
	}
	rc = snapuw_new(&S.snap);
	if (!rc)
		rc = sbpf_open(getpid(), SBPF_STACK, 0, on_copy, NULL, S.period_ns, S.stack_copy,
			       &S.bpf);
	if (rc)
		close_bpf();
	return rc;
}

/*
 * Frees what either eBPF engine set up, once no collector reads the ring any more; the
 * copies still in it go into the profile first.
 */
static void close_bpf(void)
{
	struct snapuw_stats st;

	if (S.bpf) {
		uint64_t taken;

		sbpf_consume(S.bpf);
		if (pend)
			flush_copies();
		sbpf_counts(S.bpf, &taken, &S.bpf_failed, &S.bpf_short);
		S.aligned = sbpf_aligned(S.bpf);
		sbpf_close(S.bpf);
		S.bpf = NULL;
	}
	if (S.snap) {
		snapuw_get_stats(S.snap, &st);
		S.truncated = st.truncated;
		snapuw_free(S.snap);
		S.snap = NULL;
	}
	if (S.evfd >= 0)
		close(S.evfd);
	S.evfd = -1;
	free(pend);
	pend = NULL;
	npend = 0;
}

/*
 * The period of engine e's clock at hz. The eBPF engines' clocks belong to the CPUs and
 * tick in wall time: at exactly 1/hz they alias with work paced on a grid of milliseconds
 * (a 2 ms churn sampled every 1 ms is seen at one phase for the whole run: always inside
 * its bursts or never, 18.6% to 270% of its CPU time). A period 1/331 longer (1000 Hz:
 * 1.003 ms) slides 3 us a period against such a grid and sweeps a millisecond in a third
 * of a second (the profile's period says 1.003 ms). RECONPERF_TICK_ALIGN=1 keeps the exact
 * period and puts the clocks in phase with the tick instead (cheaper: a period in four
 * shares the tick's interrupt), at the price of that aliasing. The per-thread clocks count
 * their thread's CPU time, not the wall's: exact.
 */
static uint64_t period_of(enum sampler_engine e, int hz)
{
	uint64_t p = 1000000000ull / (uint64_t)hz;

	if ((e == SAMPLER_ENGINE_BPF_STACK || e == SAMPLER_ENGINE_BPF) && !sbpf_tick_align_asked())
		p += p / 331;
	return p;
}

int sampler_start(const struct sampler_opts *o)
{
	static uint64_t fds_before[FD_TABLE / 64], fds_after[FD_TABLE / 64];
	pthread_attr_t attr;
	int rc;

	if (atomic_load(&S.running))
		return -EBUSY;
	resolve_pthread_create();
	S.hz = o && o->hz ? o->hz : 100;
	if (S.hz < 1 || S.hz > 10000)
		return -EINVAL;
	S.signo = o && o->signo ? o->signo : SIGRTMIN + 3;
	S.stack_copy = o && o->stack_copy ? o->stack_copy : RP_SS_STACK_DEFAULT;
	if (S.stack_copy < RP_SS_STACK_MIN || S.stack_copy > RP_SS_STACK_MAX)
		return -EINVAL;
	/* auto: the tick-driven timers where their rate suffices (no extra interrupts, no cost
	 * per context switch), above that per-CPU clocks with the eBPF program where we may
	 * load it (nothing per context switch either), else per-thread perf events */
	S.engine = o && o->engine ? o->engine :
		   S.hz <= SAMPLER_TIMER_MAX_HZ ? SAMPLER_ENGINE_TIMER : SAMPLER_ENGINE_BPF_STACK;
	S.period_ns = period_of(S.engine, S.hz);
	{
		const char *w = getenv("RECONPERF_CPU_WEIGHTS");

		S.period_weights = w && !strcmp(w, "period");
	}
	S.samples = S.thread_errors = S.registered = S.bpf_failed = S.bpf_short = S.truncated = 0;
	S.aligned = 0;
	if (++S.gen == 0)
		S.gen = 1;
	S.capped = 0;
	S.evfd = -1;
	if (!S.key_made && pthread_key_create(&S.key, thread_gone) == 0)
		S.key_made = true;
	if (!S.atfork_made)
		S.atfork_made = !pthread_atfork(NULL, NULL, atfork_child);
	rc = unwind_init();
	if (rc)
		return rc;
	unwind_init_thread();
	rc = install_handler();
	if (rc)
		return rc;
	atomic_store(&guard_on, false);
	for (size_t i = 0; i < FD_TABLE / 64; i++)
		atomic_store(&start_fds[i], 0);
	open_fds(fds_before);
	if (S.engine == SAMPLER_ENGINE_BPF_STACK) {
		rc = start_copies();
		if (rc && o && o->engine == SAMPLER_ENGINE_BPF_STACK)
			return rc;
		if (rc)	/* no ring buffer or task registers on this kernel: signals instead */
			S.engine = SAMPLER_ENGINE_BPF;
	}
	if (S.engine == SAMPLER_ENGINE_BPF) {
		rc = sbpf_open(getpid(), SBPF_SIGNAL, S.signo, NULL, NULL, S.period_ns, 0, &S.bpf);
		if (rc && o && o->engine == SAMPLER_ENGINE_BPF)
			return rc;
		if (rc)	/* not privileged, no BTF: a clock per thread instead */
			S.engine = SAMPLER_ENGINE_PERF;
		S.period_ns = period_of(S.engine, S.hz);
	}
	if (S.bpf && S.engine == SAMPLER_ENGINE_BPF_STACK)
		atomic_store(&S.tids_fd, sbpf_tids_fd(S.bpf));
	if (S.bpf) {
		open_fds(fds_after);
		for (size_t i = 0; i < FD_TABLE / 64; i++)
			atomic_store(&start_fds[i], fds_after[i] & ~fds_before[i]);
	}
	{
		struct pprof_value_type types[] = { { "samples", "count" },
						    { "cpu", "nanoseconds" } };
		struct pprof_builder_opts bo = { .sample_types = types, .nsample_types = 2,
						 .period_type = { "cpu", "nanoseconds" },
						 .period = (int64_t)S.period_ns,
						 .default_sample_type = "cpu" };

		S.builder = pprof_builder_new(&bo);
		if (!S.builder) {
			close_bpf();
			return -ENOMEM;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &S.t0);
	pthread_mutex_lock(&S.lock);
	S.stopping = false;
	atomic_store(&S.running, true);
	rc = register_all_tasks();
	if (rc && S.engine == SAMPLER_ENGINE_PERF && (!o || o->engine == SAMPLER_ENGINE_AUTO)) {
		/* perf events refused (paranoid, seccomp, no PMU): fall back to timers */
		for (size_t i = 0; i < atomic_load(&S.nthr); i++)
			stop_clock(S.thr[i]);
		for (size_t i = 0; i < atomic_load(&S.nthr); i++)
			free(S.thr[i]);
		atomic_store(&S.nthr, 0);
		S.engine = SAMPLER_ENGINE_TIMER;
		S.thread_errors = S.registered = 0;
		rc = register_all_tasks();
	}
	pthread_mutex_unlock(&S.lock);
	if (rc)
		goto err;
	if (S.key_made)
		pthread_setspecific(S.key, (void *)1);
	atomic_store(&S.collector_stop, false);
	pthread_attr_init(&attr);
	rc = -real_pthread_create(&S.collector, &attr, collector_main, NULL);
	pthread_attr_destroy(&attr);
	if (rc)
		goto err;
	atomic_store_explicit(&guard_on, true, memory_order_release);
	if (S.engine == SAMPLER_ENGINE_BPF_STACK)
		atomic_store_explicit(&S.label_gen, S.gen, memory_order_release);
	return 0;
err:
	{
		struct pprof_builder *b = NULL;

		sampler_stop(&b);
		pprof_builder_free(b);
	}
	return rc;
}

int sampler_stop(struct pprof_builder **out)
{
	struct timespec t1, grace = { 0, 20000000 };
	size_t n;

	if (out)
		*out = NULL;
	if (!atomic_load(&S.running))
		return -EINVAL;
	atomic_store(&guard_on, false);
	atomic_store(&S.label_gen, 0);
	atomic_store(&S.tids_fd, -1);
	pthread_mutex_lock(&S.lock);
	S.stopping = true;
	n = atomic_load(&S.nthr);
	sbpf_stop(S.bpf);	/* no more samples; bpf-stack's ring is read after the collector */
	for (size_t i = 0; i < n; i++) {
		struct thr *t = S.thr[i];

		stop_clock(t);
		if (!t->gone && t->tid)	/* the end of its profile: settled at the last drain */
			t->cpu_end = thread_cpu(t->tid);
	}
	pthread_mutex_unlock(&S.lock);
	/* let signals already queued run their handlers before the rings are read */
	nanosleep(&grace, NULL);
	atomic_store(&S.running, false);
	if (S.collector) {
		atomic_store(&S.collector_stop, true);
		collector_wake();
		if (S.evfd >= 0 && write(S.evfd, &(uint64_t){ 1 }, 8) < 0) {
			/* cannot fail on a fresh eventfd; the collector polls each second anyway */
		}
		pthread_join(S.collector, NULL);
		S.collector = 0;
	}
	close_bpf();
	clock_gettime(CLOCK_MONOTONIC, &t1);
	S.duration_ns = (t1.tv_sec - S.t0.tv_sec) * 1000000000ll + (t1.tv_nsec - S.t0.tv_nsec);
	pthread_mutex_lock(&S.lock);
	drain_locked(true);
	/* the next start registers every live thread anew: a record left with its tid would
	 * pass for registered and its thread go unsampled (start, stop, start) */
	n = atomic_load(&S.nthr);
	for (size_t i = 0; i < n; i++) {
		S.thr[i]->tid = 0;
		S.thr[i]->gone = true;
	}
	pthread_mutex_unlock(&S.lock);
	if (S.builder)
		pprof_builder_set_duration(S.builder, S.duration_ns);
	if (out)
		*out = S.builder;
	else
		pprof_builder_free(S.builder);
	S.builder = NULL;
	return 0;
}

/*
 * exec keeps the pending signals of the calling thread, and the new image starts with the
 * default action (terminate) for ours: a sample signal queued just before exec killed the
 * new program. Ignoring the signal discards what is pending (in every thread) and what
 * arrives until the new image installs its own handler, if it is profiled at all.
 */
void sampler_exec_begin(void)
{
	if (S.handler_installed)
		signal(S.signo, SIG_IGN);
}

void sampler_exec_failed(void)
{
	if (S.handler_installed)
		set_handler();
}

bool sampler_running(void)
{
	return atomic_load(&S.running);
}

void sampler_stats(struct sampler_stats *st)
{
	size_t n = atomic_load(&S.nthr);

	memset(st, 0, sizeof(*st));
	st->engine = !S.hz ? "none" : S.engine == SAMPLER_ENGINE_BPF_STACK ? "bpf-stack" :
		     S.engine == SAMPLER_ENGINE_BPF ? "bpf-cpu-clock" :
		     S.engine == SAMPLER_ENGINE_PERF ? "perf-task-clock" : "posix-timer";
	st->hz = S.hz;
	st->samples = S.samples;
	st->threads = S.registered;
	st->thread_errors = S.thread_errors;
	st->dropped = S.bpf_failed;
	st->truncated = S.truncated;
	st->stack_copy = S.engine == SAMPLER_ENGINE_BPF_STACK ? S.stack_copy : 0;
	st->max_depth = S.engine == SAMPLER_ENGINE_BPF_STACK ? SAMPLER_COPY_MAX_DEPTH :
							       SAMPLER_MAX_DEPTH;
	st->short_copies = S.bpf_short;
	st->aligned_cpus = S.bpf ? sbpf_aligned(S.bpf) : S.aligned;
	if (S.bpf) {
		uint64_t taken;

		sbpf_counts(S.bpf, &taken, &st->dropped, &st->short_copies);
	}
	st->duration_ns = S.duration_ns;
	st->cpu_weights = S.period_weights ? "period" : "thread-cpu";
	for (size_t i = 0; i < n; i++)
		st->dropped += atomic_load(&S.thr[i]->dropped);
	st->depth_capped = S.capped;
	for (size_t i = 0; i < n; i++)
		st->depth_capped += atomic_load(&S.thr[i]->capped);
}

/* ---- pthread_create: every new thread registers itself ---- */

struct tramp {
	void *(*fn)(void *);
	void *arg;
};

static void *trampoline(void *p)
{
	struct tramp tr = *(struct tramp *)p;

	free(p);
	my_tid = (pid_t)syscall(SYS_gettid);
	/* above this frame: start_thread's and clone3's, then glibc's thread descriptor */
	my_stack_top = (uint64_t)(uintptr_t)__builtin_frame_address(0) + 1024;
	alloc_thread_started();	/* TSan builds: the heap sampler may sample here now */
	sampler_register_self();
	return tr.fn(tr.arg);
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct tramp *tr;
	int rc;

	resolve_pthread_create();
	/* under TSan every thread takes the trampoline: see alloc_thread_started() */
#if !defined(__SANITIZE_THREAD__)
	if (!atomic_load(&S.running))
		return real_pthread_create(th, attr, fn, arg);
#endif
	tr = malloc(sizeof(*tr));
	if (!tr)
		return EAGAIN;
	tr->fn = fn;
	tr->arg = arg;
	rc = real_pthread_create(th, attr, trampoline, tr);
	if (rc)
		free(tr);
	return rc;
}
