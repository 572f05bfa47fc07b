/*
 * unwind_snap: stacks copied in a signal handler (as the bpf-stack engine's eBPF program
 * copies them) and unwound afterwards by DWARF CFI must give the frames the live unwinder
 * (profiler/unwind.h) gives in the same handler, and go on through code without frame
 * pointers (libc's start_thread) where the frame-pointer walk stops.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "profiler/symbolize.h"
#include "profiler/unwind.h"
#include "profiler/unwind_snap.h"

#define NS 400
#define COPY 16384

struct sample {
	uint64_t ip, sp, bp, ref[64];
	int nref;
	size_t len;
	uint8_t stack[COPY];
};

static struct sample *S;
static atomic_int taken;
static uint64_t top;
static volatile uint64_t sink;

/* Raw stack words (other frames, red zones, ASan's redzones): not for the sanitizers to see
 * (memcpy would be theirs), as the kernel's copy does not look. */
__attribute__((no_sanitize("address", "undefined"))) static void raw_copy(uint8_t *dst,
									   uint64_t src,
									   size_t len)
{
	const volatile uint64_t *from = (const volatile uint64_t *)src;
	uint64_t *to = (uint64_t *)(void *)dst;

	for (size_t i = 0; i < len / 8; i++)
		to[i] = from[i];
}

static void on_prof(int sig, siginfo_t *si, void *uc)
{
	const ucontext_t *u = uc;
	int i = atomic_load(&taken);
	struct sample *s;

	(void)sig;
	(void)si;
	if (i >= NS)
		return;
	s = &S[i];
	s->ip = (uint64_t)u->uc_mcontext.gregs[REG_RIP];
	s->sp = (uint64_t)u->uc_mcontext.gregs[REG_RSP];
	s->bp = (uint64_t)u->uc_mcontext.gregs[REG_RBP];
	s->len = (top > s->sp && top - s->sp < COPY ? top - s->sp : COPY) & ~(size_t)7;
	raw_copy(s->stack, s->sp, s->len);
	s->nref = unwind_from_ucontext(uc, s->ref, 64);
	atomic_store(&taken, i + 1);
}

__attribute__((noinline)) static uint64_t leaf_work(uint64_t x)
{
	for (int i = 0; i < 2000; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

__attribute__((noinline)) static uint64_t rec_b(int d, uint64_t x);

/* two shapes of frame: a small one and one with a large local array */
__attribute__((noinline)) static uint64_t rec_a(int d, uint64_t x)
{
	uint64_t r = d ? rec_b(d - 1, x + 1) : leaf_work(x);

	__asm__ volatile("" ::: "memory");
	return r + 1;
}

__attribute__((noinline)) static uint64_t rec_b(int d, uint64_t x)
{
	volatile uint64_t pad[37];

	pad[d % 37] = x;
	return (d ? rec_a(d - 1, pad[d % 37]) : leaf_work(x)) ^ pad[0];
}

static void recursions(void)
{
	uint64_t x = 1;

	for (unsigned i = 0; atomic_load(&taken) < NS; i++)
		x += rec_a((int)(i * 2654435761u >> 27), x);	/* depths 0..31 */
	sink = x;
}

/* The sampled thread: a CPU-time timer of its own (1 ms) while it runs fn. */
static void *sampled(void *fn)
{
	struct sigevent sev = { 0 };
	struct itimerspec its = { { 0, 1000000 }, { 0, 1000000 } };
	timer_t t;
	uint64_t lo;

	unwind_init_thread();
	unwind_thread_stack(&lo, &top);
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	cr_assert_eq(timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &t), 0);
	cr_assert_eq(timer_settime(t, 0, &its, NULL), 0);
	((void (*)(void))fn)();
	timer_delete(t);
	return NULL;
}

/* Copies NS samples of a thread running fn into S. */
static void take_samples(void (*fn)(void))
{
	struct sigaction sa = { 0 };
	pthread_t th;

	S = calloc(NS, sizeof(*S));
	cr_assert_not_null(S);
	cr_assert_eq(unwind_init(), 0);
	sa.sa_sigaction = on_prof;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(SIGPROF, &sa, NULL);
	cr_assert_eq(pthread_create(&th, NULL, sampled, (void *)fn), 0);
	pthread_join(th, NULL);
	signal(SIGPROF, SIG_IGN);
}

Test(unwind_snap, copies_unwind_to_the_live_unwinders_frames_and_beyond, .timeout = 120)
{
	struct snapuw *u;
	struct snapuw_stats st;
	int same = 0, further = 0, cut = 0;

	take_samples(recursions);

	cr_assert_eq(snapuw_new(&u), 0);
	for (int i = 0; i < NS; i++) {
		struct sample *s = &S[i];
		struct snap sn = { s->ip, s->sp, s->bp, s->stack, s->len };
		uint64_t pcs[128];
		int n = snapuw_unwind(u, &sn, pcs, 128), k = 0;

		while (k < n && k < s->nref && pcs[k] == s->ref[k])
			k++;
		if (k == s->nref) {
			same++;
			/* the live walk stops in libc (no frame pointers); CFI reaches clone3 */
			further += n > s->nref;
		}
	}
	snapuw_get_stats(u, &st);
	cr_assert_eq(st.walks, NS);
	cr_assert_eq(st.truncated, 0, "stacks fit in the copy: %llu cut (%d same, %d further)",
		     (unsigned long long)st.truncated, same, further);
	/* the frame-pointer walk guesses in prologues and epilogues; CFI does not need to */
	cr_assert_geq(same, NS * 9 / 10, "%d of %d stacks as the live unwinder's", same, NS);
	cr_assert_geq(further, same * 9 / 10, "%d of %d went past start_thread", further, same);

	/* a copy of 512 bytes: the whole copy's leading frames, then cut and counted */
	for (int i = 0; i < NS; i++) {
		struct sample *s = &S[i];
		struct snap whole = { s->ip, s->sp, s->bp, s->stack, s->len };
		struct snap part = { s->ip, s->sp, s->bp, s->stack, s->len < 512 ? s->len : 512 };
		uint64_t all[128], pcs[128];
		int na = snapuw_unwind(u, &whole, all, 128), n = snapuw_unwind(u, &part, pcs, 128);

		cr_assert(n >= 1 && n <= na, "%d frames from 512 bytes, %d from the copy", n, na);
		cr_assert_arr_eq(pcs, all, (size_t)n * sizeof(pcs[0]), "sample %d", i);
		cut += n < na;
	}
	/* the whole copies were walked to their end: the cut ones alone count */
	snapuw_get_stats(u, &st);
	cr_assert_eq(st.truncated, (uint64_t)cut);
	cr_assert_gt(cut, NS / 4, "%d stacks deeper than 512 bytes", cut);
	snapuw_free(u);
	free(S);
}

/* ---- through code in no object (JIT code with frame pointers) ---- */

__attribute__((noinline)) static void jit_target(void)
{
	while (atomic_load(&taken) < NS)
		sink = leaf_work(sink);
}

/* push %rbp; mov %rsp,%rbp; movabs $fn,%rax; call *%rax; pop %rbp; ret */
static void *make_stub(void (*fn)(void))
{
	uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
			   0xff, 0xd0, 0x5d, 0xc3 };
	uint64_t a = (uint64_t)(uintptr_t)fn;
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(p, MAP_FAILED);
	memcpy(code + 6, &a, 8);
	memcpy(p, code, sizeof(code));
	cr_assert_eq(mprotect(p, 4096, PROT_READ | PROT_EXEC), 0);
	return p;
}

static void *stub;

__attribute__((noinline)) static void call_via_jit(void)
{
	((void (*)(void))stub)();
	__asm__ volatile("" ::: "memory");	/* not a tail call: its frame stays */
}

Test(unwind_snap, frames_in_no_object_are_stepped_by_their_frame_pointer, .timeout = 120)
{
	struct symbolizer *sym;
	struct snapuw *u;
	int through = 0;

	stub = make_stub(jit_target);
	take_samples(call_via_jit);

	cr_assert_eq(snapuw_new(&u), 0);
	cr_assert_eq(sym_new(0, &sym), 0);
	for (int i = 0; i < NS; i++) {
		struct sample *s = &S[i];
		struct snap sn = { s->ip, s->sp, s->bp, s->stack, s->len };
		uint64_t pcs[128];
		int n = snapuw_unwind(u, &sn, pcs, 128), in_stub = -1;

		for (int j = 1; j < n && in_stub < 0; j++)
			if (pcs[j] > (uint64_t)(uintptr_t)stub &&
			    pcs[j] <= (uint64_t)(uintptr_t)stub + 18)
				in_stub = j;
		/* the stub's caller, found through the stub's frame pointer */
		if (in_stub > 0 && in_stub + 1 < n) {
			struct sym_frame fr[4];
			int k = sym_lookup(sym, pcs[in_stub + 1] - 1, fr, 4);

			through += k > 0 && fr[k - 1].name && !strcmp(fr[k - 1].name, "call_via_jit");
		}
	}
	sym_free(sym);
	snapuw_free(u);
	cr_assert_geq(through, NS * 9 / 10, "%d of %d stacks went through the stub to its caller",
		      through, NS);
	munmap(stub, 4096);
	free(S);
}

/* ---- PLT stubs: a CFA given by an expression of %rsp and %rip ---- */

static int main_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	*(uint64_t *)arg = info->dlpi_addr;	/* the first object is the executable */
	return 1;
}

/* The run-time address and size of this executable's .plt. */
static uint64_t plt_of_self(uint64_t *size)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	uint64_t bias = 0, at = 0;
	Elf_Scn *scn = NULL;
	size_t shstr;
	Elf *e;

	cr_assert_geq(fd, 0);
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	cr_assert_not_null(e);
	cr_assert_eq(elf_getshdrstrndx(e, &shstr), 0);
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstr, sh.sh_name);
		if (name && !strcmp(name, ".plt")) {
			at = sh.sh_addr;
			*size = sh.sh_size;
		}
	}
	elf_end(e);
	close(fd);
	dl_iterate_phdr(main_bias, &bias);
	return at ? at + bias : 0;
}

/*
 * A sample in a PLT entry: at its first instruction the return address is at %rsp; after
 * its push (offset 11 and on) at %rsp + 8. The linker's CFI says so with an expression of
 * %rsp and %rip, which the walk evaluates at the sampled pc.
 */
Test(unwind_snap, plt_stubs_are_stepped_through_by_their_cfa_expression)
{
	uint64_t size = 0, plt = plt_of_self(&size), words[4];
	uint64_t ra = (uint64_t)(uintptr_t)leaf_work + 4, pcs[8];
	struct snapuw *u;

	if (!plt)
		cr_skip_test("this test binary has no .plt section");
	cr_assert_geq(size, 48, ".plt holds PLT0 and at least two entries");
	cr_assert_eq(snapuw_new(&u), 0);
	for (int at = 0; at < 2; at++) {
		uint64_t ip = plt + 16 + (at ? 11 : 0);
		struct snap sn = { ip, 0, 0, (const uint8_t *)words, sizeof(words) };
		int n;

		memset(words, 0, sizeof(words));
		words[at] = ra;	/* at 11: the entry pushed its relocation index first */
		sn.sp = (uint64_t)(uintptr_t)words;
		n = snapuw_unwind(u, &sn, pcs, 8);
		cr_assert_geq(n, 2, "the walk stopped in the PLT entry (offset %d)", at ? 11 : 0);
		cr_assert_eq(pcs[0], ip);
		cr_assert_eq(pcs[1], ra, "offset %d: caller %#llx, want %#llx", at ? 11 : 0,
			     (unsigned long long)pcs[1], (unsigned long long)ra);
	}
	snapuw_free(u);
}
