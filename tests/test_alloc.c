#include <criterion/criterion.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "profiler/alloc.h"

/* Results escape through a volatile so the compiler cannot elide malloc/free pairs. */
static void *volatile sink;

struct delta {
	uint64_t a0, b0;
};

static void delta_start(struct delta *d)
{
	alloc_thread_counters(&d->a0, &d->b0);
}

static void delta_expect(const struct delta *d, uint64_t allocs, uint64_t bytes)
{
	uint64_t a, b;

	alloc_thread_counters(&a, &b);
	cr_assert_eq(a - d->a0, allocs, "allocs %llu, want %llu", (unsigned long long)(a - d->a0),
		     (unsigned long long)allocs);
	cr_assert_eq(b - d->b0, bytes, "bytes %llu, want %llu", (unsigned long long)(b - d->b0),
		     (unsigned long long)bytes);
}

Test(alloc, the_interposer_is_the_process_allocator)
{
	cr_assert(alloc_available());
}

Test(alloc, every_call_of_the_family_is_counted_with_its_requested_size)
{
	struct delta d;
	void *p;

	alloc_count_start();
	sink = malloc(1);	/* claim this thread's slot outside the measured span */
	free(sink);
	delta_start(&d);
	sink = malloc(100);
	free(sink);
	sink = calloc(3, 10);
	free(sink);
	sink = realloc(NULL, 50);
	sink = realloc(sink, 5000);
	free(sink);
	cr_assert_eq(posix_memalign(&p, 64, 77), 0);
	free(p);
	sink = aligned_alloc(256, 512);
	free(sink);
	sink = memalign(128, 10);
	free(sink);
	sink = valloc(33);
	free(sink);
	sink = reallocarray(NULL, 4, 25);
	free(sink);
	free(NULL);
	delta_expect(&d, 9, 100 + 30 + 50 + 5000 + 77 + 512 + 10 + 33 + 100);
}

Test(alloc, nothing_is_counted_while_counting_is_off)
{
	struct delta d;

	alloc_count_start();
	sink = malloc(1);
	free(sink);
	alloc_count_stop();
	delta_start(&d);
	for (int i = 0; i < 100; i++) {
		sink = malloc(64);
		free(sink);
	}
	delta_expect(&d, 0, 0);
}

Test(alloc, realloc_grows_shrinks_and_frees_keeping_the_contents)
{
	struct delta d;
	unsigned char *p;

	alloc_count_start();
	sink = malloc(1);
	free(sink);
	delta_start(&d);
	p = realloc(NULL, 16);	/* NULL: a malloc */
	cr_assert_not_null(p);
	for (int i = 0; i < 16; i++)
		p[i] = (unsigned char)i;
	p = realloc(p, 1 << 20);	/* grow: moves, keeps the bytes */
	cr_assert_not_null(p);
	cr_assert_geq(malloc_usable_size(p), (size_t)1 << 20);
	for (int i = 0; i < 16; i++)
		cr_assert_eq(p[i], i);
	p = realloc(p, 8);	/* shrink: keeps the prefix */
	cr_assert_not_null(p);
	cr_assert_geq(malloc_usable_size(p), 8u);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(p[i], i);
	sink = realloc(p, 0);	/* to zero: glibc frees and returns NULL */
	cr_assert_null(sink);
	delta_expect(&d, 3, 16 + (1 << 20) + 8);
}

Test(alloc, aligned_allocations_honour_the_alignment_and_free)
{
	size_t aligns[] = { 8, 16, 64, 256, 4096, 1 << 16 };
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	alloc_count_start();
	for (size_t i = 0; i < sizeof(aligns) / sizeof(aligns[0]); i++) {
		size_t a = aligns[i];

		cr_assert_eq(posix_memalign(&p, a, 1000), 0);
		cr_assert_eq((uintptr_t)p % a, 0, "posix_memalign %zu -> %p", a, p);
		cr_assert_geq(malloc_usable_size(p), 1000u);
		free(p);
		p = aligned_alloc(a, 3 * a);
		cr_assert_eq((uintptr_t)p % a, 0, "aligned_alloc %zu -> %p", a, p);
		cr_assert_geq(malloc_usable_size(p), 3 * a);
		free(p);
		p = memalign(a, 7);
		cr_assert_eq((uintptr_t)p % a, 0, "memalign %zu -> %p", a, p);
		cr_assert_geq(malloc_usable_size(p), 7u);
		free(p);
	}
	p = valloc(10);
	cr_assert_eq((uintptr_t)p % page, 0);
	free(p);
	p = pvalloc(10);
	cr_assert_eq((uintptr_t)p % page, 0);
	cr_assert_geq(malloc_usable_size(p), (size_t)page);
	free(p);
}

Test(alloc, posix_memalign_rejects_a_bad_alignment_without_touching_the_pointer)
{
	void *p = &p;

	alloc_count_start();
	cr_assert_eq(posix_memalign(&p, 0, 10), EINVAL);
	cr_assert_eq(posix_memalign(&p, 24, 10), EINVAL);	/* not a power of two */
	cr_assert_eq(posix_memalign(&p, 4, 10), EINVAL);	/* below sizeof(void *) */
	cr_assert_eq(p, (void *)&p);
}

/* Through a volatile so the compiler does not see (and reject) the constant overflow. */
static volatile size_t huge = SIZE_MAX / 2;

static void check_overflow(void)
{
	errno = 0;
	sink = calloc(huge, 3);
	cr_assert_null(sink);
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	sink = reallocarray(NULL, huge / 2, 8);
	cr_assert_null(sink);
	cr_assert_eq(errno, ENOMEM);
}

Test(alloc, calloc_overflow_returns_null_with_enomem_counting_or_not)
{
	struct delta d;

	check_overflow();
	alloc_count_start();
	delta_start(&d);
	check_overflow();
	delta_expect(&d, 0, 0);
}

Test(alloc, calloc_memory_is_zeroed)
{
	unsigned char *p;

	alloc_count_start();
	p = calloc(1000, 4);
	cr_assert_not_null(p);
	for (int i = 0; i < 4000; i++)
		cr_assert_eq(p[i], 0);
	free(p);
}

Test(alloc, free_of_null_does_nothing)
{
	struct delta d;

	alloc_count_start();
	sink = malloc(1);
	free(sink);
	delta_start(&d);
	free(NULL);
	free(NULL);
	delta_expect(&d, 0, 0);
}

static void *volatile null_ptr;

Test(alloc, realloc_of_null_to_zero_is_a_malloc_of_zero)
{
	struct delta d;

	alloc_count_start();
	sink = malloc(1);
	free(sink);
	delta_start(&d);
	sink = realloc(null_ptr, 0);	/* glibc: a minimal block, counted as one allocation */
	cr_assert_not_null(sink);
	free(sink);
	delta_expect(&d, 1, 0);
}

#define NTHREADS 8
#define PER_THREAD 20000

struct worker {
	pthread_t t;
	uint64_t allocs, bytes;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t a0, b0, a1, b1;

	sink = malloc(1);
	free(sink);
	alloc_thread_counters(&a0, &b0);
	for (int i = 0; i < PER_THREAD; i++) {
		void *p = malloc((size_t)(i % 200) + 1);

		sink = p;
		free(p);
	}
	alloc_thread_counters(&a1, &b1);
	w->allocs = a1 - a0;
	w->bytes = b1 - b0;
	return NULL;
}

Test(alloc, many_threads_allocating_count_exactly_per_thread_and_in_total)
{
	struct worker w[NTHREADS];
	uint64_t want_bytes = 0, a0, a1, b0, b1;

	for (int i = 0; i < PER_THREAD; i++)
		want_bytes += (uint64_t)(i % 200) + 1;
	alloc_count_start();
	for (int round = 0; round < 3; round++) {	/* slots of exited threads are reused */
		alloc_counters_read(&a0, &b0);
		for (int i = 0; i < NTHREADS; i++)
			cr_assert_eq(pthread_create(&w[i].t, NULL, worker_main, &w[i]), 0);
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(w[i].t, NULL);
		alloc_counters_read(&a1, &b1);
		for (int i = 0; i < NTHREADS; i++) {
			cr_assert_eq(w[i].allocs, PER_THREAD);
			cr_assert_eq(w[i].bytes, want_bytes);
		}
		/* The total holds every worker's calls (plus whatever thread start-up allocates). */
		cr_assert_geq(a1 - a0, (uint64_t)NTHREADS * (PER_THREAD + 1));
		cr_assert_geq(b1 - b0, NTHREADS * (want_bytes + 1));
		cr_assert_lt(a1 - a0, (uint64_t)NTHREADS * (PER_THREAD + 1) + 100);
	}
}

Test(alloc, a_forked_child_allocates_counts_and_exits_cleanly)
{
	struct worker w;
	pid_t pid;
	int status;

	alloc_count_start();
	/* A thread that allocates across the fork: its locks must not stay held in the child. */
	cr_assert_eq(pthread_create(&w.t, NULL, worker_main, &w), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint64_t a0, a1, t0, t1;

		alloc_counters_read(&a0, NULL);
		alloc_thread_counters(&t0, NULL);
		for (int i = 0; i < 1000; i++) {
			sink = malloc(128);
			free(sink);
		}
		alloc_thread_counters(&t1, NULL);
		alloc_counters_read(&a1, NULL);
		_exit(t1 - t0 == 1000 && a1 - a0 == 1000 ? 0 : 3);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child status %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0);
	pthread_join(w.t, NULL);
	cr_assert_eq(w.allocs, PER_THREAD);
}
