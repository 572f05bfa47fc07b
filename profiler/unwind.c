/*
 * unwind — frame-pointer walks with a libunwind fallback, and the dynamic-loader guard.
 * See unwind.h for the contract.
 *
 * The module table (which address ranges are code built with frame pointers) is built
 * outside signal handlers into one of two static tables and published with an atomic
 * pointer store; the handler reads whichever table the pointer names. A rebuild waits for
 * a grace period (readers are handlers that finish in microseconds) before reusing the
 * older table.
 */
#define UNW_LOCAL_ONLY
#include "profiler/unwind.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <libunwind.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define MOD_MAX 1024
#define FP_SCAN_MAX 400		/* FDEs read per object */
#define STACK_WINDOW (512u << 10)	/* bounds for a thread that never registered */

struct mod_range {
	uint64_t lo, hi;
	bool fp;
};

struct mod_table {
	size_t n;
	struct mod_range r[MOD_MAX];
};

static struct mod_table tables[2];
static _Atomic(struct mod_table *) cur_table;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

#define TLS __thread __attribute__((tls_model("initial-exec")))
static TLS int in_loader;
static TLS uint64_t stack_lo, stack_hi;

static _Atomic uint64_t n_fp, n_unw, n_loader;
static atomic_uint generation;	/* bumped at every refresh of the table */

/*
 * dlclose unmaps code before the module table forgets it: between the two, the leaf fix-up
 * (after_call_to reads the code bytes before a candidate return address) could read an
 * unmapped page in a signal handler. While any dlclose is under way the fix-up is skipped.
 */
static atomic_int unloading;

/*
 * libunwind takes mutexes of its own (its caches), which fork would copy held into the
 * child: a forked child then hung in its first unw_backtrace. Every call into libunwind is
 * counted in unw_busy; while unw_hold is up (fork under way) or unw_off is set (a child
 * forked while some thread was inside libunwind) a walk records only its leaf. (seq_cst on
 * both sides: a thread either sees the hold or is seen as busy.)
 */
static atomic_int unw_busy;
static atomic_bool unw_hold;

static atomic_bool unw_off;

static bool unw_enter(void)
{
	atomic_fetch_add(&unw_busy, 1);
	if (!atomic_load(&unw_hold) && !atomic_load(&unw_off))
		return true;
	atomic_fetch_sub(&unw_busy, 1);
	return false;
}

static void unw_leave(void)
{
	atomic_fetch_sub(&unw_busy, 1);
}

/* Outside signal handlers: wait out a fork rather than skip; false when libunwind is off. */
static bool unw_enter_wait(void)
{
	while (!unw_enter()) {
		if (atomic_load(&unw_off))
			return false;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	return true;
}

/*
 * unw_backtrace() keeps a per-thread trace cache whose key destructor (libunwind 1.6) puts
 * itself back until the last destructor round, as ThreadSanitizer's thread finaliser does;
 * TSan's key is older, so it ran first and the cache's free then took a mutex through
 * TSan's interceptor on a thread state already destroyed (a segfault in every exiting
 * thread that had been unwound). Under TSan a plain unw_step() loop, which keeps nothing
 * per thread, stands in; like unw_backtrace(), buf[0] is the return address into the
 * caller.
 */
#if defined(__SANITIZE_THREAD__)
static __attribute__((noinline)) int unw_trace(void **buf, int max)
{
	unw_context_t uc;
	unw_cursor_t c;
	unw_word_t ip;
	int n = 0;

	if (unw_getcontext(&uc) < 0 || unw_init_local(&c, &uc) < 0)
		return 0;
	while (n < max && unw_step(&c) > 0 && unw_get_reg(&c, UNW_REG_IP, &ip) == 0)
		buf[n++] = (void *)ip;
	return n;
}
#else
#define unw_trace unw_backtrace
#endif

static void *(*real_dlopen)(const char *, int);
static int (*real_dlclose)(void *);
static int (*real_dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);

static void resolve_real(void)
{
	if (!real_dl_iterate_phdr)
		real_dl_iterate_phdr = dlsym(RTLD_NEXT, "dl_iterate_phdr");
	if (!real_dlopen)
		real_dlopen = dlsym(RTLD_NEXT, "dlopen");
	if (!real_dlclose)
		real_dlclose = dlsym(RTLD_NEXT, "dlclose");
}

/* ---- which objects have frame pointers ---- */

/*
 * Does this FDE's CFA program switch the CFA to %rbp (DW_CFA_def_cfa_register r6)? Code
 * built with frame pointers does so in nearly every function that has a frame (~70% of
 * FDEs, the rest being frameless leaves); code built without, in under 3% (alloca and
 * stack realignment). Assumes GCC's "zR" augmentation: 4-byte pc_begin and pc_range.
 */
static bool fde_uses_rbp(const uint8_t *fde)
{
	uint32_t len;
	const uint8_t *p, *end;
	uint64_t auglen = 0;
	int shift = 0;

	memcpy(&len, fde, 4);
	if (len == 0 || len == 0xffffffffu)
		return false;
	end = fde + 4 + len;
	p = fde + 16;	/* length, CIE pointer, pc_begin, pc_range */
	do {
		auglen |= (uint64_t)(*p & 0x7f) << shift;
		shift += 7;
	} while (*p++ & 0x80 && p < end);
	for (p += auglen; p + 1 < end; p++)
		if (p[0] == 0x0d && p[1] == 0x06)
			return true;
	return false;
}

/* Reads the FDEs through the .eh_frame_hdr search table and samples their CFA programs. */
static bool object_has_fp(struct dl_phdr_info *info)
{
	const uint8_t *hdr = NULL;
	const int32_t *tab;
	uint32_t count, step, fp = 0, seen = 0;

	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			hdr = (const uint8_t *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	/* version 1, eh_frame_ptr pcrel|sdata4, fde_count udata4, table datarel|sdata4 */
	if (!hdr || hdr[0] != 1 || hdr[1] != 0x1b || hdr[2] != 0x03 || hdr[3] != 0x3b)
		return false;
	memcpy(&count, hdr + 8, 4);
	tab = (const int32_t *)(hdr + 12);
	if (!count)
		return false;
	step = count > FP_SCAN_MAX ? count / FP_SCAN_MAX : 1;
	for (uint32_t i = 0; i < count; i += step) {
		seen++;
		fp += fde_uses_rbp(hdr + tab[2 * i + 1]);
	}
	return fp * 10 > seen * 3;
}

static int scan_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct mod_table *t = arg;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo, hi;

		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || t->n == MOD_MAX)
			continue;
		lo = info->dlpi_addr + ph->p_vaddr;
		hi = lo + ph->p_memsz;
		t->r[t->n++] = (struct mod_range){ lo, hi, object_has_fp(info) };
	}
	return 0;
}

static void sort_table(struct mod_table *t)
{
	for (size_t i = 1; i < t->n; i++) {
		struct mod_range x = t->r[i];
		size_t j = i;

		for (; j && t->r[j - 1].lo > x.lo; j--)
			t->r[j] = t->r[j - 1];
		t->r[j] = x;
	}
}

int unwind_refresh_modules(void)
{
	struct mod_table *old, *t;
	struct timespec grace = { 0, 2000000 };

	resolve_real();
	if (!real_dl_iterate_phdr)
		return -ENOSYS;
	pthread_mutex_lock(&table_lock);
	old = atomic_load(&cur_table);
	t = old == &tables[0] ? &tables[1] : &tables[0];
	/* a handler that read the table before the last swap is long done after 2 ms */
	nanosleep(&grace, NULL);
	t->n = 0;
	in_loader++;
	real_dl_iterate_phdr(scan_cb, t);
	in_loader--;
	sort_table(t);
	atomic_store(&cur_table, t);
	atomic_fetch_add(&generation, 1);
	pthread_mutex_unlock(&table_lock);
	return 0;
}

unsigned unwind_modules_generation(void)
{
	return atomic_load(&generation);
}

static const struct mod_range *find_mod(uint64_t pc)
{
	const struct mod_table *t = atomic_load_explicit(&cur_table, memory_order_acquire);
	size_t lo = 0, hi;

	if (!t)
		return NULL;
	hi = t->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (pc < t->r[mid].lo)
			hi = mid;
		else if (pc >= t->r[mid].hi)
			lo = mid + 1;
		else
			return &t->r[mid];
	}
	return NULL;
}

int unwind_pc_has_fp(uint64_t pc)
{
	const struct mod_range *m = find_mod(pc);

	return m ? m->fp : -1;
}

/* ---- per thread ---- */

static int thread_bounds(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &attr))
		return -EINVAL;
	if (!pthread_attr_getstack(&attr, &addr, &size)) {
		stack_lo = (uint64_t)addr;
		stack_hi = (uint64_t)addr + size;
	}
	pthread_attr_destroy(&attr);
	return 0;
}

/*
 * fork. table_lock is not held around fork (a lock taken in a prepare handler is ordered
 * against every other module's prepare handler, and that order is registration order):
 * the child re-initialises it, and the table it reads is always a complete one. For
 * libunwind's own locks, prepare raises unw_hold and waits (bounded) for the threads inside
 * libunwind to leave; if one is still inside when fork happens, the child may hold a copy of
 * a libunwind mutex that nobody will release, so the child never calls libunwind again
 * (frame pointers and leaves only).
 */
#define FORK_WAIT_NS 20000000

static void atfork_prepare(void)
{
	struct timespec nap = { 0, 50000 };

	atomic_store(&unw_hold, true);
	for (long waited = 0; atomic_load(&unw_busy) && waited < FORK_WAIT_NS;
	     waited += nap.tv_nsec)
		nanosleep(&nap, NULL);
}

static void atfork_parent(void)
{
	atomic_store(&unw_hold, false);
}

static void atfork_child(void)
{
	pthread_mutex_init(&table_lock, NULL);
	if (atomic_load(&unw_busy))
		atomic_store(&unw_off, true);
	atomic_store(&unw_busy, 0);
	atomic_store(&unw_hold, false);
}

int unwind_init(void)
{
	static atomic_int done;

	if (atomic_exchange(&done, 1))
		return 0;
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	return unwind_refresh_modules();
}

int unwind_init_thread(void)
{
	void *warm[4];

	unwind_init();
	thread_bounds();
	/* first call per thread runs pthread_once/pthread_setspecific: never in a handler */
	if (unw_enter_wait()) {
		unw_trace(warm, 4);
		unw_leave();
	}
	return 0;
}

void unwind_thread_stack(uint64_t *lo, uint64_t *hi)
{
	*lo = stack_lo;
	*hi = stack_hi;
}

int unwind_in_loader(void)
{
	return in_loader;
}

void unwind_get_stats(struct unwind_stats *st)
{
	st->fp_walks = atomic_load(&n_fp);
	st->unw_walks = atomic_load(&n_unw);
	st->loader_leaf_only = atomic_load(&n_loader);
}

/* ---- the walks (async-signal-safe from here on) ---- */

/* The walks read raw stack words (other frames, red zones): not for the sanitizers to see. */
#define RAW_STACK __attribute__((no_sanitize("address", "undefined")))

static void bounds(uint64_t sp, uint64_t *lo, uint64_t *hi)
{
	if (stack_hi && sp >= stack_lo && sp < stack_hi) {
		*lo = sp;
		*hi = stack_hi;
	} else {
		/* an unregistered thread, or a signal stack: a conservative window */
		*lo = sp;
		*hi = sp + STACK_WINDOW;
	}
}

/* Frame-pointer walk from fp; appends to pcs[n..]. */
RAW_STACK static int fp_walk(uint64_t fp, uint64_t lo, uint64_t hi, uint64_t *pcs, int n, int max)
{
	while (n < max) {
		uint64_t next, ra;
		const struct mod_range *m;

		if (fp < lo || fp + 16 > hi || (fp & 7))
			break;
		next = ((const uint64_t *)fp)[0];
		ra = ((const uint64_t *)fp)[1];
		m = find_mod(ra);
		if (!m)
			break;
		pcs[n++] = ra;
		if (!m->fp || next <= fp)
			break;
		fp = next;
	}
	return n;
}

/*
 * Code "with frame pointers" still has frameless leaves and shrink-wrapped prologues: while
 * the leaf has not set up its frame, %rbp is its caller's and the chain skips the caller.
 * The caller's return address then sits near the top of the stack; take the first of the
 * few words above %rsp that is a return address right after a direct call into the
 * function holding the leaf pc (the target lies at or before ip, within 64 KiB), or, at
 * [%rsp] exactly, after an indirect call.
 */
RAW_STACK static bool after_call_to(uint64_t ra, uint64_t ip, bool allow_indirect)
{
	const struct mod_range *m = find_mod(ra);
	const uint8_t *c = (const uint8_t *)ra;
	int32_t rel;
	uint64_t target;

	if (!m || ra < m->lo + 7)
		return false;
	if (c[-5] == 0xe8) {
		memcpy(&rel, c - 4, 4);
		target = ra + (int64_t)rel;
		return target <= ip && ip - target < (64u << 10);
	}
	if (!allow_indirect)
		return false;
	return (c[-2] == 0xff && (c[-1] & 0xf8) == 0xd0) ||	/* call *%reg */
	       (c[-6] == 0xff && c[-5] == 0x15);		/* call *disp(%rip) */
}

RAW_STACK static int leaf_caller(uint64_t ip, uint64_t sp, uint64_t lo, uint64_t hi, uint64_t *ra)
{
	for (int i = 0; i < 8; i++) {
		uint64_t at = sp + 8 * (uint64_t)i;

		if (at < lo || at + 8 > hi)
			return 0;
		*ra = *(const uint64_t *)at;
		if (after_call_to(*ra, ip, i == 0))
			return 1;
	}
	return 0;
}

static int unw_walk(uint64_t leaf, uint64_t *pcs, int max)
{
	void *buf[UNWIND_MAX_DEPTH + 32];
	int n, skip;

	if (!unw_enter())
		return 1;	/* a fork is under way: the leaf only */
	n = unw_trace(buf, max + 32 < (int)(sizeof(buf) / sizeof(buf[0])) ?
				   max + 32 : (int)(sizeof(buf) / sizeof(buf[0])));
	unw_leave();
	for (skip = 0; skip < n && (uint64_t)buf[skip] != leaf; skip++)
		;
	if (skip == n)
		return 1;	/* the walk did not cross the signal frame: keep the leaf */
	n -= skip;
	if (n > max)
		n = max;
	for (int i = 1; i < n; i++)
		pcs[i] = (uint64_t)buf[skip + i];
	return n;
}

RAW_STACK int unwind_from_ucontext(void *ucontext, uint64_t *pcs, int max)
{
	const ucontext_t *uc = ucontext;
	uint64_t ip = uc->uc_mcontext.gregs[REG_RIP];
	uint64_t sp = uc->uc_mcontext.gregs[REG_RSP];
	uint64_t fp = uc->uc_mcontext.gregs[REG_RBP];
	const struct mod_range *m;
	uint64_t lo, hi, ra;
	int n = 1;

	if (max <= 0)
		return 0;
	pcs[0] = ip;
	if (in_loader) {
		atomic_fetch_add_explicit(&n_loader, 1, memory_order_relaxed);
		return 1;
	}
	m = find_mod(ip);
	if (!m)
		return 1;	/* JIT code, or a table not built yet */
	if (!m->fp) {
		atomic_fetch_add_explicit(&n_unw, 1, memory_order_relaxed);
		return unw_walk(ip, pcs, max);
	}
	atomic_fetch_add_explicit(&n_fp, 1, memory_order_relaxed);
	bounds(sp, &lo, &hi);
	if (n < max && !atomic_load_explicit(&unloading, memory_order_acquire) &&
	    leaf_caller(ip, sp, lo, hi, &ra) &&
	    !(fp >= lo && fp + 16 <= hi && fp >= sp && ((const uint64_t *)fp)[1] == ra))
		pcs[n++] = ra;
	return fp_walk(fp, lo, hi, pcs, n, max);
}

int unwind_here(uint64_t *pcs, int max)
{
	void *buf[UNWIND_MAX_DEPTH + 1];
	int n;

	if (max <= 0)
		return 0;
	if (in_loader) {
		atomic_fetch_add_explicit(&n_loader, 1, memory_order_relaxed);
		pcs[0] = (uint64_t)__builtin_return_address(0);
		return 1;
	}
	if (max > UNWIND_MAX_DEPTH)
		max = UNWIND_MAX_DEPTH;
	if (!unw_enter()) {
		pcs[0] = (uint64_t)__builtin_return_address(0);
		return 1;
	}
	n = unw_trace(buf, max + 1);
	unw_leave();
	for (int i = 1; i < n; i++)
		pcs[i - 1] = (uint64_t)buf[i];
	return n > 0 ? n - 1 : 0;
}

/* ---- the loader wrappers ---- */

/*
 * Under ThreadSanitizer the runtime calls dl_iterate_phdr while it initialises, before any
 * instrumented code may run; the wrappers stay out of TSan builds (the sampler's stress tests
 * run under ASan and in the plain build).
 */
static atomic_int no_debuginfod;

void unwind_block_debuginfod(bool on)
{
	atomic_fetch_add(&no_debuginfod, on ? 1 : -1);
}

#ifndef __SANITIZE_THREAD__
void *dlopen(const char *file, int mode)
{
	void *h;

	if (file && atomic_load(&no_debuginfod) > 0 && strstr(file, "libdebuginfod") &&
	    !(getenv("RECONPERF_DEBUGINFOD") && !strcmp(getenv("RECONPERF_DEBUGINFOD"), "1")))
		return NULL;	/* see unwind_block_debuginfod() */
	resolve_real();
	in_loader++;
	h = real_dlopen(file, mode);
	in_loader--;
	if (h && atomic_load(&cur_table))
		unwind_refresh_modules();
	return h;
}

int dlclose(void *handle)
{
	int rc;

	resolve_real();
	atomic_fetch_add(&unloading, 1);
	in_loader++;
	rc = real_dlclose(handle);
	in_loader--;
	if (unw_enter_wait()) {
		unw_flush_cache(unw_local_addr_space, 0, 0);
		unw_leave();
	}
	if (atomic_load(&cur_table))
		unwind_refresh_modules();
	atomic_fetch_sub(&unloading, 1);
	return rc;
}

int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
	int rc;

	if (!real_dl_iterate_phdr)
		resolve_real();
	in_loader++;
	rc = real_dl_iterate_phdr(cb, data);
	in_loader--;
	return rc;
}

#endif /* __SANITIZE_THREAD__ */

/* Resolve the real loader functions before any handler can need them. */
__attribute__((constructor)) static void unwind_ctor(void)
{
	resolve_real();
}
