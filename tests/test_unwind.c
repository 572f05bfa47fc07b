/* unwind: stacks from a signal handler and from the caller, and the loader guard. */
#include <criterion/criterion.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "profiler/symbolize.h"
#include "profiler/unwind.h"

static uint64_t got[64];
static _Atomic int ngot = -1;
static atomic_int stop;

static void on_sig(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	atomic_store(&ngot, unwind_from_ucontext(uc, got, 64));
}

static void install(void)
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = on_sig;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

__attribute__((noinline)) static void uw_spin(void)
{
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void uw_mid(void)
{
	uw_spin();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *uw_outer(void *arg)
{
	(void)arg;
	unwind_init_thread();
	uw_mid();
	__asm__ volatile("" ::: "memory");
	return NULL;
}

/* Names of pcs (non-leaf looked up at pc - 1) joined by spaces. */
static void names_of(const uint64_t *pcs, int n, char *out, size_t outlen)
{
	struct symbolizer *s;
	struct sym_frame fr[8];

	out[0] = 0;
	cr_assert_eq(sym_new(0, &s), 0);
	for (int i = 0; i < n; i++) {
		int k = sym_lookup(s, i ? pcs[i] - 1 : pcs[i], fr, 8);

		for (int j = 0; j < k; j++) {
			strncat(out, fr[j].name, outlen - strlen(out) - 2);
			strcat(out, " ");
		}
	}
	sym_free(s);
}

Test(unwind, signal_handler_sees_the_interrupted_threads_whole_chain, .timeout = 60)
{
	pthread_t t;
	char buf[2048];

	cr_assert_eq(unwind_init(), 0);
	install();
	cr_assert_eq(pthread_create(&t, NULL, uw_outer, NULL), 0);
	usleep(100000);
	for (int tries = 0; tries < 50; tries++) {
		atomic_store(&ngot, -1);
		pthread_kill(t, SIGUSR1);
		while (atomic_load(&ngot) < 0)
			usleep(1000);
		names_of(got, ngot, buf, sizeof(buf));
		if (!strncmp(buf, "uw_spin ", 8))
			break;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	cr_assert(strstr(buf, "uw_spin uw_mid uw_outer start_thread"), "stack: %s", buf);
	cr_assert_eq(unwind_pc_has_fp((uint64_t)(uintptr_t)uw_spin), 1);
}

__attribute__((noinline)) static int here_inner(uint64_t *pcs)
{
	int n = unwind_here(pcs, 32);
	__asm__ volatile("" ::: "memory");
	return n;
}

__attribute__((noinline)) static int here_outer(uint64_t *pcs)
{
	int n = here_inner(pcs);
	__asm__ volatile("" ::: "memory");
	return n;
}

Test(unwind, unwind_here_starts_at_the_callers_frame)
{
	uint64_t pcs[32];
	char buf[2048];
	int n;

	unwind_init_thread();
	n = here_outer(pcs);
	cr_assert_gt(n, 2);
	/* pcs[0] is a return address too: look it up at pc - 1 by shifting */
	names_of(pcs - 1 + 1, 1, buf, sizeof(buf));
	names_of((uint64_t[]){ 0, pcs[0], pcs[1] } + 0, 3, buf, sizeof(buf));
	cr_assert(strstr(buf, "here_inner here_outer"), "stack: %s", buf);
}

static int raise_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info;
	(void)size;
	(void)arg;
	raise(SIGUSR1);
	return 1;
}

Test(unwind, a_sample_inside_dl_iterate_phdr_records_only_the_leaf)
{
	struct unwind_stats a, b;

	unwind_init_thread();
	install();
	unwind_get_stats(&a);
	atomic_store(&ngot, -1);
	dl_iterate_phdr(raise_cb, NULL);
	unwind_get_stats(&b);
	cr_assert_eq(ngot, 1);
	cr_assert_eq(b.loader_leaf_only, a.loader_leaf_only + 1);
	cr_assert_eq(unwind_in_loader(), 0);
}
