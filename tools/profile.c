/*
 * profile — on-CPU or off-CPU stacks of any process by eBPF (profiler/bpf/profile.*),
 * symbolized (kernel frames from /proc/kallsyms, user frames through elfutils) and written
 * as a gzipped pprof profile.
 */
#include "tools/cli.h"
#include "tools/bpftarget.h"
#include "profiler/bpf/ksyms.h"
#include "profiler/bpf/profile.h"
#include "profiler/bpf/latency.h"
#include "profiler/pprof.h"
#include "profiler/symbolize.h"

#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char cmd_profile_usage[] =
	"usage: reconperf profile (--pid P | -- CMD [ARGS...]) -o FILE [--hz N] [--duration D]\n"
	"                         [--unwind dwarf|fp] [--stack-copy SIZE] [--offcpu] [--btf FILE]\n"
	"\n"
	"Stacks of every thread of a process, user and kernel frames, collected by eBPF and\n"
	"written as a gzipped pprof profile (go tool pprof, reconperf flame).\n"
	"\n"
	"  --pid P          profile a running process\n"
	"  -- CMD ARGS      start CMD and profile it until it exits\n"
	"  -o FILE          the profile to write (atomically)\n"
	"  --hz N           on-CPU samples per second per CPU (1..10000, default 99)\n"
	"  --duration D     stop after D (500ms, 10s); default: until exit or Ctrl-C\n"
	"  --unwind M       user stacks: dwarf (default: the kernel copies the registers and\n"
	"                   stack top of each sample or blocking switch, unwound here by the\n"
	"                   program's DWARF call frame information, so code without frame\n"
	"                   pointers gives whole stacks) or fp (frame-pointer walks in the\n"
	"                   kernel: less work per event)\n"
	"  --stack-copy S   dwarf: bytes of stack copied per event, 4KiB..64KiB (default\n"
	"                   32KiB); deeper stacks lose their outermost frames\n"
	"  --offcpu         off-CPU instead: where threads blocked, weighted by the\n"
	"                   nanoseconds blocked (sample type off_cpu/nanoseconds); time spent\n"
	"                   runnable but preempted is not counted\n"
	"  --btf FILE       kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
	"\n"
	"On-CPU samples: types samples/count and cpu/nanoseconds, from a software cpu-clock\n"
	"perf event on each CPU. Kernel stacks are frame-pointer walks by the kernel.\n"
	"Needs: root or CAP_BPF + CAP_PERFMON; perf events and BTF; --offcpu needs tp_btf.\n"
	"See docs/ebpf.md.\n";

#define MAX_INLINE 8

struct frame_names {
	uint64_t addr;		/* 0: empty slot */
	int n;
	const char *names[MAX_INLINE];
	char hex[24];
};

struct namer {
	struct symbolizer *sym;	/* NULL when the process could not be read */
	struct ksyms *ks;
	struct frame_names *tab;
	size_t cap;		/* power of two */
	size_t used;
};

static struct frame_names *cache_slot(struct namer *nm, uint64_t addr)
{
	size_t mask = nm->cap - 1, i = (size_t)(addr * 0x9e3779b97f4a7c15ull >> 20) & mask;

	while (nm->tab[i].addr && nm->tab[i].addr != addr)
		i = (i + 1) & mask;
	return &nm->tab[i];
}

static int cache_grow(struct namer *nm)
{
	struct frame_names *old = nm->tab;
	size_t ocap = nm->cap;

	nm->cap = ocap ? ocap * 2 : 1024;
	nm->tab = calloc(nm->cap, sizeof(*nm->tab));
	if (!nm->tab)
		return -ENOMEM;
	for (size_t i = 0; i < ocap; i++) {
		if (old[i].addr) {
			struct frame_names *s = cache_slot(nm, old[i].addr);

			*s = old[i];
			for (int k = 0; k < s->n; k++)	/* hex names point into the entry */
				if (old[i].names[k] == old[i].hex)
					s->names[k] = s->hex;
		}
	}
	free(old);
	return 0;
}

/* The names of a user address, innermost inlined frame first. */
static const struct frame_names *user_names(struct namer *nm, uint64_t addr)
{
	struct frame_names *s;
	struct sym_frame fr[MAX_INLINE];
	int n = 0;

	if ((nm->used + 1) * 2 > nm->cap && cache_grow(nm))
		return NULL;
	s = cache_slot(nm, addr);
	if (s->addr)
		return s;
	s->addr = addr;
	nm->used++;
	if (nm->sym)
		n = sym_lookup(nm->sym, addr, fr, MAX_INLINE);
	for (int i = 0; i < n; i++)
		if (fr[i].name)
			s->names[s->n++] = fr[i].name;
	if (!s->n) {
		snprintf(s->hex, sizeof(s->hex), "0x%" PRIx64, addr);
		s->names[s->n++] = s->hex;
	}
	return s;
}

struct walk {
	struct namer nm;
	struct pprof_builder *b;
	const char **frames;	/* scratch: up to 2 * 127 * MAX_INLINE names */
	char **kbuf;
	int offcpu;
	int64_t period;
	uint64_t samples;
	/* on-CPU: each thread's samples, for its CPU time to be spread over them (ntc 0: a
	 * sample weighs its period) */
	struct tcount {
		uint32_t tid;
		uint64_t count;
	} *tc;
	size_t ntc, cap;
	struct bpf_prof *p;
};

/* First pass: a thread's samples, one entry per stack (sorted and merged after). */
static int count_stack(void *arg, const struct bpf_prof_stack *s)
{
	struct walk *w = arg;

	if (w->ntc == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		struct tcount *tc = realloc(w->tc, cap * sizeof(*tc));

		if (!tc)
			return -ENOMEM;
		w->tc = tc;
		w->cap = cap;
	}
	w->tc[w->ntc++] = (struct tcount){ s->tid, s->count };
	return 0;
}

static int by_tid(const void *a, const void *b)
{
	uint32_t x = ((const struct tcount *)a)->tid, y = ((const struct tcount *)b)->tid;

	return x < y ? -1 : x > y;
}

/* Sorts the first pass's entries by thread and merges each thread's into one. */
static void merge_counts(struct walk *w)
{
	size_t n = 0;

	qsort(w->tc, w->ntc, sizeof(*w->tc), by_tid);
	for (size_t i = 0; i < w->ntc; i++) {
		if (n && w->tc[n - 1].tid == w->tc[i].tid)
			w->tc[n - 1].count += w->tc[i].count;
		else
			w->tc[n++] = w->tc[i];
	}
	w->ntc = n;
}

/*
 * On-CPU: what a stack's samples weigh. Its share of its thread's CPU time, as the
 * scheduler accounted it, to the thread's newest sample or its exit (from its start, or
 * from its first sample plus that sample's period for a thread running before the start): the clocks miss part of the time of threads in microsecond slices (see
 * docs/profiling.md), so counting periods would shrink them. The thread's period count
 * when that time is unknown.
 */
static int64_t oncpu_ns(const struct walk *w, const struct bpf_prof_stack *s)
{
	struct tcount key = { s->tid, 0 }, *t;
	bool whole = false;
	uint64_t cpu;

	t = w->ntc ? bsearch(&key, w->tc, w->ntc, sizeof(*w->tc), by_tid) : NULL;
	cpu = t ? bpf_prof_thread_cpu(w->p, s->tid, &whole) : 0;
	if (!t || !t->count || !cpu)
		return (int64_t)s->count * w->period;
	if (!whole)	/* from its first sample on: that sample's own period before it */
		cpu += (uint64_t)w->period;
	return (int64_t)((double)cpu * (double)s->count / (double)t->count + 0.5);
}

static int is_bpf_frame(const char *name)
{
	return !strncmp(name, "bpf_prog_", 9) || !strncmp(name, "bpf_trace_run", 13) ||
	       !strncmp(name, "__bpf_trace_", 12) || !strncmp(name, "__traceiter_", 12) ||
	       !strncmp(name, "bpf_get_stack", 13);
}

static int add_stack(void *arg, const struct bpf_prof_stack *s)
{
	struct walk *w = arg;
	size_t n = 0;
	int64_t v[2];

	for (size_t i = 0; i < s->nkern; i++) {
		const char *name = w->nm.ks ? ksyms_lookup(w->nm.ks, s->kern[i]) : NULL;

		if (n == 0 && name && is_bpf_frame(name))
			continue;	/* our own program and the tracepoint that ran it */
		if (name)
			snprintf(w->kbuf[i], 160, "[k] %s", name);
		else
			snprintf(w->kbuf[i], 160, "[k] 0x%" PRIx64, s->kern[i]);
		w->frames[n++] = w->kbuf[i];
	}
	for (size_t i = 0; i < s->nuser; i++) {
		/* Return addresses point after the call: look up the call itself. */
		const struct frame_names *f = user_names(&w->nm, s->user[i] - (i > 0));

		if (!f)
			return -ENOMEM;
		for (int k = 0; k < f->n; k++)
			w->frames[n++] = f->names[k];
	}
	if (w->offcpu) {
		v[0] = (int64_t)s->count;
		v[1] = (int64_t)s->ns;
	} else {
		v[0] = (int64_t)s->count;
		v[1] = oncpu_ns(w, s);
	}
	w->samples += s->count;
	struct pprof_label_kv tid = { "thread", NULL, (int64_t)s->tid, NULL };
	return pprof_builder_add_symbolic(w->b, w->frames, n, v, &tid, 1);
}

static int write_profile(struct bpf_prof *p, const struct bpftarget *t, int offcpu, bool dwarf,
			 unsigned hz, uint64_t dur_ns, const char *out, uint64_t *samples)
{
	static const struct pprof_value_type on[] = { { "samples", "count" },
						      { "cpu", "nanoseconds" } };
	static const struct pprof_value_type off[] = { { "switches", "count" },
						       { "off_cpu", "nanoseconds" } };
	struct pprof_builder_opts bo = {
		.sample_types = offcpu ? off : on,
		.nsample_types = 2,
		.period_type = offcpu ? off[1] : on[1],
		.period = offcpu ? 1 : 1000000000 / hz,
		.default_sample_type = offcpu ? "off_cpu" : "cpu",
		.duration_nanos = (int64_t)dur_ns,
	};
	struct walk w = { .offcpu = offcpu, .period = bo.period, .p = p };
	const char *weights = getenv("RECONPERF_CPU_WEIGHTS");
	bool by_thread = !offcpu && !(weights && !strcmp(weights, "period"));
	char comment[200];
	int err = -ENOMEM;

	w.b = pprof_builder_new(&bo);
	w.frames = calloc(2 * RP_PROF_MAX_DEPTH * MAX_INLINE, sizeof(*w.frames));
	w.kbuf = calloc(RP_PROF_MAX_DEPTH, sizeof(*w.kbuf));
	if (!w.b || !w.frames || !w.kbuf)
		goto out;
	for (int i = 0; i < RP_PROF_MAX_DEPTH; i++)
		if (!(w.kbuf[i] = malloc(160)))
			goto out;
	if (sym_new(t->pid, &w.nm.sym))
		w.nm.sym = NULL;
	if (ksyms_load(NULL, &w.nm.ks))
		w.nm.ks = NULL;
	snprintf(comment, sizeof(comment), "reconperf profile: %s, pid %d",
		 offcpu ? (dwarf ? "off-CPU (sched_switch, blocked time), user stacks unwound "
				   "by DWARF CFI from copies" :
				   "off-CPU (sched_switch, blocked time), user stacks by frame "
				   "pointers") :
		 dwarf ? "on-CPU (cpu-clock), user stacks unwound by DWARF CFI from copies" :
			 "on-CPU (cpu-clock), user stacks by frame pointers",
		 (int)t->pid);
	if (!offcpu)
		snprintf(comment + strlen(comment), sizeof(comment) - strlen(comment),
			 " cpu_weights=%s", by_thread ? "thread-cpu" : "period");
	err = pprof_builder_add_comment(w.b, comment);
	if (!err && by_thread) {
		err = bpf_prof_foreach(p, count_stack, &w);
		merge_counts(&w);
	}
	if (!err)
		err = bpf_prof_foreach(p, add_stack, &w);
	if (!err)
		err = pprof_builder_write(w.b, out);
	*samples = w.samples;
	if (!err && !w.nm.sym)
		cli_err("profile", "warning: could not read process %d's maps: user frames are "
			"addresses", (int)t->pid);
out:
	for (int i = 0; w.kbuf && i < RP_PROF_MAX_DEPTH; i++)
		free(w.kbuf[i]);
	free(w.kbuf);
	free(w.tc);
	free(w.frames);
	free(w.nm.tab);
	sym_free(w.nm.sym);
	ksyms_free(w.nm.ks);
	pprof_builder_free(w.b);
	return err;
}

static void poll_copies(void *arg)
{
	bpf_prof_poll(arg);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cmd_profile(int argc, char **argv)
{
	struct bpftarget t = { .release_fd = -1, .exit_status = -1 };
	struct bpf_prof_opts po = { .hz = 99 };
	struct bpf_prof *p = NULL;
	const char *out = NULL;
	uint64_t dur = 0, t0, samples = 0;
	char **cmd = NULL;
	int err, code = EXIT_USAGE, pidv = 0, hz = 99;
	bool unwind_fp = false;

	for (int i = 1; i < argc && !cmd; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			if (i + 1 >= argc) {
				cli_err("profile", "'--' must be followed by a command");
				return EXIT_USAGE;
			}
			cmd = argv + i + 1;
			continue;
		}
		if (!strcmp(a, "--offcpu")) {
			po.offcpu = true;
			continue;
		}
		if (!v) {
			cli_err("profile", "'%s' needs a value; see 'reconperf profile --help'", a);
			return EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--pid")) {
			if (cli_int("profile", a, v, 1, 1 << 22, &pidv))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--unwind")) {
			if (strcmp(v, "dwarf") && strcmp(v, "fp")) {
				cli_err("profile", "'--unwind' must be dwarf or fp, got '%s'", v);
				return EXIT_USAGE;
			}
			unwind_fp = !strcmp(v, "fp");
		} else if (!strcmp(a, "--stack-copy")) {
			if (cli_stack_copy("profile", v, &po.stack_copy))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--hz")) {
			if (cli_int("profile", a, v, 1, 10000, &hz))
				return EXIT_USAGE;
		} else if (!strcmp(a, "--duration")) {
			if (cli_duration("profile", a, v, &dur))
				return EXIT_USAGE;
		} else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
			out = v;
		} else if (!strcmp(a, "--btf")) {
			po.btf_path = v;
		} else {
			cli_err("profile", "unknown option '%s'; see 'reconperf profile --help'",
				a);
			return EXIT_USAGE;
		}
	}
	if (!pidv == !cmd) {
		cli_err("profile", "give exactly one of '--pid P' or '-- CMD'");
		return EXIT_USAGE;
	}
	if (!out) {
		cli_err("profile", "give the profile to write with '-o FILE'");
		return EXIT_USAGE;
	}
	po.hz = (unsigned)hz;
	po.dwarf = !unwind_fp;
	if (bpftarget_setup(&t, "profile", pidv, cmd, 1))
		return EXIT_USAGE;
	po.pid = t.pid;
	err = bpf_prof_open(&po, &p);
	if (err) {
		bpftarget_load_error("profile", po.btf_path, err);
		goto out;
	}
	t0 = mono_ns();
	/* DWARF mode: the copies are unwound as they come (the ring holds ~16 MiB) */
	bpftarget_wait(&t, dur, po.dwarf ? 20000000 : 0, po.dwarf ? poll_copies : NULL, p);
	bpf_prof_stop(p);
	if (po.dwarf && bpf_prof_poll(p) < 0)
		cli_err("profile", "warning: could not read the last samples' stacks");
	err = write_profile(p, &t, po.offcpu, po.dwarf, po.hz, mono_ns() - t0, out, &samples);
	if (err) {
		cli_err("profile", "cannot write '%s': %s", out, strerror(-err));
		goto out;
	}
	if (bpf_prof_lost(p))
		cli_err("profile", "warning: %" PRIu64 " events lost (maps full or stack walks "
			"failed)", bpf_prof_lost(p));
	if (!samples)
		cli_err("profile", "warning: no %s; the profile is empty",
			po.offcpu ? "blocking switches" : "samples");
	code = EXIT_OK;
out:
	bpf_prof_free(p);
	bpftarget_fini(&t);
	return code;
}
