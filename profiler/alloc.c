/*
 * alloc — the malloc-family interposer and the exact allocation counters (see alloc.h).
 *
 * Layout of every entry point: one relaxed load of alloc_flags; when it is 0 (nothing on) a
 * tail call to the real allocator; otherwise the out-of-line slow path. Hot path: keep it so.
 */
#include "profiler/alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "profiler/heapprof.h"
#include "profiler/sampler.h"
#include "reconperf/profiler.h"
#include "profiler/unwind.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ALLOC_NEXT 1	/* the sanitizer owns the heap: forward to it through RTLD_NEXT */
#endif

/* The interposer runs before a sanitizer runtime is initialised: never instrument it. */
#define HOOK __attribute__((no_sanitize_address, no_sanitize_thread))
#define unlikely(x) __builtin_expect(!!(x), 0)
#define likely(x) __builtin_expect(!!(x), 1)

enum {
	AF_BOOT = 1,	/* forwarding not resolved yet (ALLOC_NEXT builds only) */
	AF_COUNT = 2,	/* exact counters on */
	AF_SAMPLE = 4,	/* heap sampling on */
	AF_LIVE = 8,	/* sampled blocks may be live: frees must be checked */
};

#ifdef ALLOC_NEXT
static int alloc_flags = AF_BOOT;
#else
static int alloc_flags;
#endif

HOOK static inline int flags(void)
{
	return __atomic_load_n(&alloc_flags, __ATOMIC_RELAXED);
}

HOOK static void flags_set(int f, bool on)
{
	if (on)
		__atomic_fetch_or(&alloc_flags, f, __ATOMIC_SEQ_CST);
	else
		__atomic_fetch_and(&alloc_flags, ~f, __ATOMIC_SEQ_CST);
}

/* ---- the real allocator ---- */

#ifndef ALLOC_NEXT
extern void *__libc_malloc(size_t n);
extern void __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void *__libc_valloc(size_t n);
extern void *__libc_pvalloc(size_t n);
#define real_malloc __libc_malloc
#define real_free __libc_free
#define real_calloc __libc_calloc
#define real_realloc __libc_realloc
#define real_memalign __libc_memalign
#define real_aligned_alloc __libc_memalign
#define real_valloc __libc_valloc
#define real_pvalloc __libc_pvalloc

HOOK static int real_posix_memalign(void **out, size_t align, size_t n)
{
	int saved = errno;
	void *p = __libc_memalign(align, n);	/* the caller checked align */

	errno = saved;
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

HOOK static inline bool boot_owns(const void *p)
{
	(void)p;
	return false;
}
#else
static struct {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
} next;
#define real_malloc next.malloc
#define real_free next.free
#define real_calloc next.calloc
#define real_realloc next.realloc
#define real_memalign next.memalign
#define real_aligned_alloc next.aligned_alloc
#define real_posix_memalign next.posix_memalign
#define real_valloc next.valloc
#define real_pvalloc next.pvalloc

/* dlsym allocates: those few blocks come from here and are never freed. */
static _Alignas(64) char boot_buf[64 * 1024];
static size_t boot_used;
static int boot_state;	/* 0 unresolved, 1 resolving, 2 done */

HOOK static inline bool boot_owns(const void *p)
{
	return (const char *)p >= boot_buf && (const char *)p < boot_buf + sizeof(boot_buf);
}

HOOK static void *boot_alloc(size_t n)
{
	size_t off = __atomic_fetch_add(&boot_used, (n + 63) & ~(size_t)63, __ATOMIC_RELAXED);

	if (off + n > sizeof(boot_buf))
		return NULL;
	return boot_buf + off;
}

/* Returns true when the caller must use boot_alloc (resolution under way in this thread). */
HOOK static bool boot_resolve(void)
{
	int expect = 0;

	if (__atomic_load_n(&boot_state, __ATOMIC_ACQUIRE) == 2)
		return false;
	if (!__atomic_compare_exchange_n(&boot_state, &expect, 1, false, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return expect == 1;	/* process starts single-threaded: only we resolve */
	next.malloc = dlsym(RTLD_NEXT, "malloc");
	next.free = dlsym(RTLD_NEXT, "free");
	next.calloc = dlsym(RTLD_NEXT, "calloc");
	next.realloc = dlsym(RTLD_NEXT, "realloc");
	next.memalign = dlsym(RTLD_NEXT, "memalign");
	next.aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
	next.posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	next.valloc = dlsym(RTLD_NEXT, "valloc");
	next.pvalloc = dlsym(RTLD_NEXT, "pvalloc");
	__atomic_store_n(&boot_state, 2, __ATOMIC_RELEASE);
	flags_set(AF_BOOT, false);
	return false;
}
#endif

/* ---- per-thread state and the counter slots ---- */

struct alloc_slot {
	uint64_t allocs;	/* written by the owner only (relaxed), read by anyone */
	uint64_t bytes;
	struct alloc_slot *next;	/* global list, under slots_mu */
	bool used;
} __attribute__((aligned(64)));

struct alloc_tls {
	struct alloc_slot *slot;	/* NULL until the first counted call; &retired after exit */
	int depth;			/* > 0 inside the profiler: forward only */
	unsigned gen;			/* sample_gen the countdown was drawn for */
	int64_t countdown;		/* bytes left before the next sample */
	uint64_t rng;			/* xorshift64* state */
#if defined(__SANITIZE_THREAD__)
	bool tsan_known;		/* TSan has set this thread up: see tsan_ready() */
#endif
};

static __thread struct alloc_tls tls __attribute__((tls_model("initial-exec")));

#define STATIC_SLOTS 256
static struct alloc_slot static_slots[STATIC_SLOTS];
static size_t nstatic_slots;
static struct alloc_slot *slots;	/* every slot ever made, free ones reused */
static struct alloc_slot retired;	/* exited threads; updated with atomics */
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t slot_key;
static bool slot_key_made;

static void slot_release(void *arg);

/*
 * Under ThreadSanitizer the hooks run in windows where instrumented code must not: a new
 * thread allocates inside TSan's own thread start (pthread_getattr_np reallocs and frees)
 * before TSan has set up its state, and an exiting one may free after TSan's last key
 * destructor has torn that state down. Instrumented code there crashed on TSan's missing
 * shadow stack (the crash handler then deadlocked in pthread_getattr_np: the hang). So the
 * hooks count (no instrumented code) but sample and track frees only in a thread marked
 * known: by alloc_thread_started() from the pthread_create trampoline, or by the
 * constructor and alloc_prof_start() (instrumented code running proves TSan knows the
 * thread); the mark goes in the last destructor round, so frees from there on are not
 * tracked (their blocks stay in use in the profile).
 */
#if defined(__SANITIZE_THREAD__)
static pthread_key_t tsan_key;
static bool tsan_key_made;

HOOK static inline bool tsan_ready(void)
{
	return tls.tsan_known;
}

static void tsan_mark(void)
{
	if (!tls.tsan_known && tsan_key_made && !pthread_setspecific(tsan_key, (void *)1))
		tls.tsan_known = true;
}

/* Puts itself back until the last round (TSan's finaliser does the same, and runs first). */
HOOK static void tsan_unmark(void *arg)
{
	uintptr_t round = (uintptr_t)arg;

	if (round < PTHREAD_DESTRUCTOR_ITERATIONS &&
	    !pthread_setspecific(tsan_key, (void *)(round + 1)))
		return;
	tls.tsan_known = false;
}
#else
HOOK static inline bool tsan_ready(void)
{
	return true;
}

static inline void tsan_mark(void)
{
}
#endif

void alloc_thread_started(void)
{
	tsan_mark();
}

/* Slow path, once per thread: take a free slot (or make one) and arrange its release. */
HOOK static struct alloc_slot *slot_claim(void)
{
	struct alloc_slot *s;

	tls.depth++;
	pthread_mutex_lock(&slots_mu);
	if (!slot_key_made)
		slot_key_made = pthread_key_create(&slot_key, slot_release) == 0;
	for (s = slots; s && s->used; s = s->next)
		;
	if (!s) {
		if (nstatic_slots < STATIC_SLOTS)
			s = &static_slots[nstatic_slots++];
		else
			s = real_calloc(1, sizeof(*s));	/* never freed: reused after exit */
		if (s) {
			s->next = slots;
			slots = s;
		}
	}
	if (s)
		s->used = true;
	pthread_mutex_unlock(&slots_mu);
	if (!s || !slot_key_made || pthread_setspecific(slot_key, s))
		s = &retired;	/* no per-thread slot: count with atomics, still exact */
	tls.slot = s;
	tls.depth--;
	return s;
}

/* Thread exit (key destructor): fold the slot into the retired total and free it for reuse. */
HOOK static void slot_release(void *arg)
{
	struct alloc_slot *s = arg;

	tls.depth++;
	pthread_mutex_lock(&slots_mu);
	__atomic_fetch_add(&retired.allocs, __atomic_load_n(&s->allocs, __ATOMIC_RELAXED),
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&retired.bytes, __atomic_load_n(&s->bytes, __ATOMIC_RELAXED),
			   __ATOMIC_RELAXED);
	__atomic_store_n(&s->allocs, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes, 0, __ATOMIC_RELAXED);
	s->used = false;
	pthread_mutex_unlock(&slots_mu);
	tls.slot = &retired;
	tls.depth--;
}

/* Counts one allocation of n bytes for this thread. Hot when counting is on. */
HOOK __attribute__((always_inline)) static inline void count(size_t n)
{
	struct alloc_slot *s = tls.slot;

	if (unlikely(!s))
		s = slot_claim();
	if (unlikely(s == &retired)) {
		__atomic_fetch_add(&s->allocs, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&s->bytes, n, __ATOMIC_RELAXED);
		return;
	}
	/* Single writer: a load and a store, no locked instruction. */
	__atomic_store_n(&s->allocs, __atomic_load_n(&s->allocs, __ATOMIC_RELAXED) + 1,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes, __atomic_load_n(&s->bytes, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

/* ---- sampling ---- */

static uint64_t sample_rate = ALLOC_DEFAULT_RATE;
static uint64_t sample_seed;
static unsigned sample_gen;	/* bumped by each alloc_prof_start: threads redraw */

HOOK static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* Bytes to the next sample: exponential with mean rate (a Poisson process over bytes). */
HOOK static int64_t draw(void)
{
	uint64_t rate = __atomic_load_n(&sample_rate, __ATOMIC_RELAXED);
	uint64_t x = tls.rng;
	double u;

	if (rate <= 1)
		return 0;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tls.rng = x;
	u = (double)(((x * 0x2545F4914F6CDD1Dull) >> 11) + 1) * 0x1.0p-53;	/* (0, 1] */
	return (int64_t)(-log(u) * (double)rate);
}

/* A sampled block: its stack, from the caller of the malloc family (ra) up. */
HOOK __attribute__((noinline)) static void sample(void *p, size_t n, void *ra)
{
	uint64_t pcs[HEAPPROF_MAX_FRAMES + 8];
	const char *labels[HEAPPROF_MAX_LABELS][2];
	int k, i, nl;

	/*
	 * No unwind_init_thread() here: it calls pthread_getattr_np, which holds the thread's
	 * lock while it calls realloc — a sample taken there deadlocked. unwind_here() works
	 * without it (its first libunwind walk may allocate: the depth guard forwards that).
	 */
	tls.depth++;
	k = unwind_here(pcs, (int)(sizeof(pcs) / sizeof(pcs[0])));
	for (i = 0; i < k && pcs[i] != (uintptr_t)ra; i++)
		;
	if (i == k) {	/* the caller's frame was not found: keep the whole stack */
		i = 0;
	} else {
		pcs[i] -= 1;	/* the leaf is the call itself, not the return address */
	}
	if (k - i > HEAPPROF_MAX_FRAMES)
		k = i + HEAPPROF_MAX_FRAMES;
	nl = sampler_labels_get(labels, HEAPPROF_MAX_LABELS);	/* prof_label_set() */
	heapprof_record(p, n, pcs + i, k - i, (const char *const(*)[2])labels, nl);
	tls.depth--;
}

/* First sample-path call of a thread in this profile: seed its generator, draw. */
HOOK __attribute__((noinline)) static void countdown_start(void)
{
	tls.gen = __atomic_load_n(&sample_gen, __ATOMIC_RELAXED);
	tls.rng = splitmix(__atomic_load_n(&sample_seed, __ATOMIC_RELAXED) ^
			   splitmix((uintptr_t)&tls)) | 1;
	tls.countdown = draw();
}

/* The countdown ran out: record the block, draw the next distance. */
HOOK __attribute__((noinline)) static void sample_and_redraw(void *p, size_t n, void *ra)
{
	sample(p, n, ra);
	tls.countdown = draw();
}

/*
 * After a successful allocation of n bytes at p, with some flag on; ra: the caller.
 * Hot path when counting or sampling: inlined, every rare case out of line.
 */
HOOK __attribute__((always_inline)) static inline void note_alloc(void *p, size_t n, void *ra)
{
	int f = flags();

	if (unlikely(!p || tls.depth))
		return;
	if (f & AF_COUNT)
		count(n);
	if (!(f & AF_SAMPLE) || !tsan_ready())
		return;
	if (unlikely(tls.gen != __atomic_load_n(&sample_gen, __ATOMIC_RELAXED)))
		countdown_start();
	/* Go's rule (mcache.nextSample): sample when the block reaches past the countdown. */
	if (likely((int64_t)n < tls.countdown))
		tls.countdown -= (int64_t)n;
	else
		sample_and_redraw(p, n, ra);
}

/* Before p goes back to the allocator, with some flag on. */
HOOK static inline void note_free(void *p)
{
	if ((flags() & AF_LIVE) && !tls.depth && tsan_ready())
		heapprof_forget(p);
}

/* ---- the malloc family ---- */

HOOK __attribute__((noinline)) static void *malloc_slow(size_t n, void *ra)
{
	void *p;

#ifdef ALLOC_NEXT
	if (boot_resolve())
		return boot_alloc(n);
#endif
	p = real_malloc(n);
	note_alloc(p, n, ra);
	return p;
}

HOOK void *malloc(size_t n)
{
	if (unlikely(flags()))
		return malloc_slow(n, __builtin_return_address(0));
	return real_malloc(n);
}

HOOK __attribute__((noinline)) static void free_slow(void *p)
{
	if (!p || boot_owns(p))
		return;
	note_free(p);
	real_free(p);
}

/* Only sampled blocks (AF_LIVE) and boot blocks need a look at free: counting does not. */
HOOK void free(void *p)
{
	if (unlikely(flags() & (AF_LIVE | AF_BOOT))) {
		free_slow(p);
		return;
	}
	real_free(p);
}

HOOK __attribute__((noinline)) static void *calloc_slow(size_t n, size_t m, void *ra)
{
	size_t total;
	void *p;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
#ifdef ALLOC_NEXT
	if (boot_resolve())
		return boot_alloc(total);	/* static memory is zeroed */
#endif
	p = real_calloc(n, m);
	note_alloc(p, total, ra);
	return p;
}

HOOK void *calloc(size_t n, size_t m)
{
#ifdef ALLOC_NEXT
	size_t total;

	if (__builtin_mul_overflow(n, m, &total)) {	/* sanitizers abort here; we return */
		errno = ENOMEM;
		return NULL;
	}
#endif
	if (unlikely(flags()))
		return calloc_slow(n, m, __builtin_return_address(0));
	return real_calloc(n, m);
}

HOOK __attribute__((noinline)) static void *realloc_slow(void *p, size_t n, void *ra)
{
	void *q;

#ifdef ALLOC_NEXT
	if (boot_resolve() || boot_owns(p)) {
		/* A boot block does not know its size: copy what can be in it. */
		size_t have = p ? (size_t)(boot_buf + sizeof(boot_buf) - (char *)p) : 0;

		q = boot_state == 2 ? malloc(n) : boot_alloc(n);
		if (q && p)
			memcpy(q, p, have < n ? have : n);
		return q;
	}
#endif
	if (p)
		note_free(p);	/* a realloc is a free and an allocation, as in tcmalloc */
	q = real_realloc(p, n);
	if (n || !p)	/* realloc(p, 0) frees; realloc(NULL, 0) is malloc(0) */
		note_alloc(q, n, ra);
	return q;
}

HOOK void *realloc(void *p, size_t n)
{
	if (unlikely(flags()))
		return realloc_slow(p, n, __builtin_return_address(0));
	return real_realloc(p, n);
}

HOOK void *reallocarray(void *p, size_t n, size_t m)
{
	size_t total;

	if (__builtin_mul_overflow(n, m, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

/* memalign, aligned_alloc, valloc, pvalloc: same shape, one slow path. */
enum align_kind { AK_MEMALIGN, AK_ALIGNED_ALLOC, AK_VALLOC, AK_PVALLOC };

HOOK __attribute__((noinline)) static void *align_slow(enum align_kind k, size_t align, size_t n,
						       void *ra)
{
	void *p;

#ifdef ALLOC_NEXT
	if (boot_resolve())
		return align <= 64 ? boot_alloc(n) : NULL;
#endif
	switch (k) {
	case AK_MEMALIGN:
		p = real_memalign(align, n);
		break;
	case AK_ALIGNED_ALLOC:
		p = real_aligned_alloc(align, n);
		break;
	case AK_VALLOC:
		p = real_valloc(n);
		break;
	default:
		p = real_pvalloc(n);
		break;
	}
	note_alloc(p, n, ra);
	return p;
}

HOOK void *memalign(size_t align, size_t n)
{
	if (unlikely(flags()))
		return align_slow(AK_MEMALIGN, align, n, __builtin_return_address(0));
	return real_memalign(align, n);
}

HOOK void *aligned_alloc(size_t align, size_t n)
{
	if (unlikely(flags()))
		return align_slow(AK_ALIGNED_ALLOC, align, n, __builtin_return_address(0));
	return real_aligned_alloc(align, n);
}

HOOK void *valloc(size_t n)
{
	if (unlikely(flags()))
		return align_slow(AK_VALLOC, 0, n, __builtin_return_address(0));
	return real_valloc(n);
}

HOOK void *pvalloc(size_t n)
{
	if (unlikely(flags()))
		return align_slow(AK_PVALLOC, 0, n, __builtin_return_address(0));
	return real_pvalloc(n);
}

HOOK int posix_memalign(void **out, size_t align, size_t n)
{
	int rc;

	if (align % sizeof(void *) || (align & (align - 1)) || !align)
		return EINVAL;

#ifdef ALLOC_NEXT
	if (unlikely(flags()) && boot_resolve()) {
		*out = align <= 64 ? boot_alloc(n) : NULL;
		return *out ? 0 : ENOMEM;
	}
#endif
	rc = real_posix_memalign(out, align, n);
	if (unlikely(flags()) && !rc)
		note_alloc(*out, n, __builtin_return_address(0));
	return rc;
}

/* ---- control ---- */

/* Does the dynamic linker bind "malloc" to a definition in this object (executable or .so)? */
bool alloc_available(void)
{
	Dl_info bound, own;
	void *m;
	bool ok;

	tls.depth++;
	m = dlsym(RTLD_DEFAULT, "malloc");
	ok = m && dladdr(m, &bound) && dladdr((void *)malloc_slow, &own) &&
	     bound.dli_fbase == own.dli_fbase;
	tls.depth--;
	return ok;
}

void alloc_count_start(void)
{
	flags_set(AF_COUNT, true);
}

void alloc_count_stop(void)
{
	flags_set(AF_COUNT, false);
}

int alloc_prof_start(const struct alloc_prof_opts *opts)
{
	uint64_t rate = opts && opts->rate ? opts->rate : ALLOC_DEFAULT_RATE;
	uint64_t seed = opts ? opts->seed : 0;
	struct timespec ts;
	int rc;

	if (flags() & AF_SAMPLE)
		return -EBUSY;
	tsan_mark();
	tls.depth++;
	rc = heapprof_init();
	if (!rc)
		rc = unwind_init();
	if (!rc)
		unwind_init_thread();	/* the starting thread; others are unwound without it */
	tls.depth--;
	if (rc)
		return rc;
	if (!seed) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = splitmix((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec);
	}
	__atomic_store_n(&sample_rate, rate, __ATOMIC_RELAXED);
	__atomic_store_n(&sample_seed, seed, __ATOMIC_RELAXED);
	__atomic_add_fetch(&sample_gen, 1, __ATOMIC_RELAXED);
	flags_set(AF_COUNT | AF_SAMPLE | AF_LIVE, true);
	return 0;
}

void alloc_prof_stop(void)
{
	flags_set(AF_SAMPLE, false);
}

bool alloc_prof_running(void)
{
	return flags() & AF_SAMPLE;
}

int alloc_prof_write(const char *path)
{
	int rc;

	tls.depth++;
	rc = heapprof_write(path, __atomic_load_n(&sample_rate, __ATOMIC_RELAXED));
	tls.depth--;
	return rc;
}

void alloc_prof_reset(void)
{
	tls.depth++;
	heapprof_reset();
	tls.depth--;
	if (!(flags() & AF_SAMPLE))
		flags_set(AF_LIVE, false);
}

/* ---- the public C API (include/reconperf/profiler.h) ---- */

int rp_heap_start(uint64_t rate_bytes)
{
	struct alloc_prof_opts o = { .rate = rate_bytes };

	if (!alloc_available())
		return -ENOTSUP;
	return alloc_prof_start(&o);
}

int rp_heap_write(const char *path)
{
	alloc_prof_stop();
	return alloc_prof_write(path);
}

void rp_alloc_count_start(void)
{
	alloc_count_start();
}

void rp_alloc_thread_counters(uint64_t *allocs, uint64_t *bytes)
{
	alloc_thread_counters(allocs, bytes);
}

void rp_alloc_counters(uint64_t *allocs, uint64_t *bytes)
{
	alloc_counters_read(allocs, bytes);
}

void alloc_counters_read(uint64_t *allocs, uint64_t *bytes)
{
	uint64_t a, b;
	struct alloc_slot *s;

	tls.depth++;
	pthread_mutex_lock(&slots_mu);
	a = __atomic_load_n(&retired.allocs, __ATOMIC_RELAXED);
	b = __atomic_load_n(&retired.bytes, __ATOMIC_RELAXED);
	for (s = slots; s; s = s->next) {
		a += __atomic_load_n(&s->allocs, __ATOMIC_RELAXED);
		b += __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&slots_mu);
	tls.depth--;
	if (allocs)
		*allocs = a;
	if (bytes)
		*bytes = b;
}

void alloc_thread_counters(uint64_t *allocs, uint64_t *bytes)
{
	struct alloc_slot *s = tls.slot;
	bool mine = s && s != &retired;

	if (allocs)
		*allocs = mine ? __atomic_load_n(&s->allocs, __ATOMIC_RELAXED) : 0;
	if (bytes)
		*bytes = mine ? __atomic_load_n(&s->bytes, __ATOMIC_RELAXED) : 0;
}

/* ---- fork ---- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&slots_mu);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&slots_mu);
}

/* The child has one thread: the slots of the others will never be released, so fold them. */
static void atfork_child(void)
{
	struct alloc_slot *s;

	for (s = slots; s; s = s->next) {
		if (!s->used || s == tls.slot)
			continue;
		retired.allocs += s->allocs;
		retired.bytes += s->bytes;
		s->allocs = s->bytes = 0;
		s->used = false;
	}
	pthread_mutex_init(&slots_mu, NULL);
}

__attribute__((constructor)) static void alloc_init(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
#if defined(__SANITIZE_THREAD__)
	tsan_key_made = !pthread_key_create(&tsan_key, tsan_unmark);
	tsan_mark();	/* the main thread: TSan set it up before any constructor ran */
#endif
}
