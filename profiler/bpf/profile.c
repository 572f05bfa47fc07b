/*
 * profile.c — loader for profile.bpf.c (see profile.h): per-CPU cpu-clock perf events with
 * the sampling program attached, or the sched_switch program; then a walk of the counts
 * with the stacks resolved from the stack-trace map. One thread uses a handle.
 */
#include "profiler/bpf/profile.h"
#include "profiler/bpf/bpfcommon.h"
#include "profiler/bpf/stacksample.h"
#include "profiler/symfind.h"
#include "profiler/unwind_snap.h"
#include "common/u64map.h"
#include "profile.skel.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct rp_prof_key) == 16, "rp_prof_key is shared with BPF");
_Static_assert(sizeof(struct rp_prof_val) == 16, "rp_prof_val is shared with BPF");
_Static_assert(sizeof(struct rp_prof_start) == 24, "rp_prof_start is shared with BPF");
_Static_assert(sizeof(struct rp_prof_copy) == 56, "rp_prof_copy is shared with BPF");

/* DWARF mode: one distinct (thread, kernel stack, unwound user stack) and its count. */
struct dstack {
	struct dstack *next;	/* another stack with the same hash */
	uint32_t tid;
	int32_t kstack;
	uint32_t n;
	uint64_t count;
	uint64_t ns;		/* off-CPU: nanoseconds blocked */
	uint64_t pcs[];
};

struct bpf_prof {
	struct rp_profile *skel;
	struct bpf_link **links;
	int *pfds;
	int nlinks;
	int ncpus;
	uint64_t lost;
	/* DWARF mode */
	struct ring_buffer *ring;
	struct snapuw *uw;
	struct u64map dstacks;	/* hash -> struct dstack chain */
	struct u64map pending;	/* off-CPU: switch-out seq -> its struct dstack */
	uint64_t unwind_lost;
};

static int attach_oncpu(struct bpf_prof *p, unsigned hz, struct bpf_program *prog)
{
	int n = libbpf_num_possible_cpus();

	if (n <= 0)
		return n ? n : -ENODEV;
	p->links = calloc((size_t)n + 1, sizeof(*p->links));	/* + rp_prof_exit */
	p->pfds = malloc((size_t)n * sizeof(*p->pfds));
	if (!p->links || !p->pfds)
		return -ENOMEM;
	for (int cpu = 0; cpu < n; cpu++) {
		int fd = rp_bpf_cpu_clock(cpu, hz, true);
		struct bpf_link *l;

		p->pfds[cpu] = -1;
		if (fd == -ENODEV || fd == -ENOENT)	/* a possible but offline CPU */
			continue;
		if (fd < 0)
			return fd;
		p->pfds[cpu] = fd;
		p->ncpus = cpu + 1;
		l = bpf_program__attach_perf_event(prog, fd);
		if (!l)
			return -errno;
		p->links[p->nlinks++] = l;
		p->pfds[cpu] = -1;	/* the link owns it: bpf_link__destroy() closes it */
	}
	return p->nlinks ? 0 : -ENODEV;
}

static uint64_t stack_hash(uint32_t tid, int32_t kstack, const uint64_t *pcs, int n)
{
	uint64_t h = 0xcbf29ce484222325ull ^ tid ^ ((uint64_t)(uint32_t)kstack << 32);

	for (int i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0x100000001b3ull;
	return h ? h : 1;
}

/*
 * A record from the ring: an on-CPU copy is unwound and counted; a switch-out's copy is
 * unwound and waits for its switch-in, which counts it with the time blocked.
 */
static int on_copy(void *ctx, void *data, size_t size)
{
	struct bpf_prof *p = ctx;
	const struct rp_prof_copy *r = data;
	uint64_t pcs[RP_PROF_MAX_DEPTH], h;
	struct dstack *d, *head;
	int n;

	if (size < sizeof(*r) || size - sizeof(*r) < r->len)
		return 0;
	if (r->kind == RP_PROF_IN) {
		d = u64map_del(&p->pending, r->seq);
		if (d) {
			d->count++;
			d->ns += r->ns;
		}
		return 0;
	}
	struct snap sn = { r->ip, r->sp, r->bp, (const uint8_t *)(r + 1), r->len };

	n = snapuw_unwind(p->uw, &sn, pcs, RP_PROF_MAX_DEPTH);
	h = stack_hash(r->tid, r->kstack, pcs, n);
	head = u64map_get(&p->dstacks, h);
	for (d = head; d; d = d->next)
		if (d->tid == r->tid && d->kstack == r->kstack && d->n == (uint32_t)n &&
		    !memcmp(d->pcs, pcs, (size_t)n * sizeof(*pcs)))
			break;
	if (!d) {
		d = malloc(sizeof(*d) + (size_t)n * sizeof(*pcs));
		if (!d || u64map_put(&p->dstacks, h, d)) {
			free(d);
			p->unwind_lost++;
			return 0;
		}
		*d = (struct dstack){ .next = head, .tid = r->tid, .kstack = r->kstack,
				      .n = (uint32_t)n };
		memcpy(d->pcs, pcs, (size_t)n * sizeof(*pcs));
	}
	if (r->kind == RP_PROF_OUT) {
		if (!r->seq || u64map_put(&p->pending, r->seq, d))
			p->unwind_lost++;
		return 0;
	}
	d->count++;
	return 0;
}

int bpf_prof_poll(struct bpf_prof *p)
{
	return p->ring ? ring_buffer__consume(p->ring) : 0;
}

/*
 * The programs match the target by bpf_get_ns_current_pid_tgid(), which answers only for
 * a task whose own pid namespace is the one named: the target's namespace, then, and its
 * tgid as seen there (a container's process, profiled from the host, is pid 1 or so in its
 * own; the last field of NSpid in /proc/PID/status).
 */
static int target_ns(pid_t pid, struct stat *ns, pid_t *tgid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, ns) < 0)
		return -errno;
	*tgid = sym_ns_pid(pid);
	return 0;
}

int bpf_prof_open(const struct bpf_prof_opts *o, struct bpf_prof **out)
{
	struct bpf_prof *p;
	struct stat ns;
	pid_t tgid = 0;
	int err;

	*out = NULL;
	err = rp_bpf_check(o->btf_path);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = o->btf_path);
	p->skel = rp_profile__open_opts(&oo);
	if (!p->skel) {
		err = -errno ? -errno : -EINVAL;
		goto err_free;
	}
	err = target_ns(o->pid, &ns, &tgid);
	if (err)
		goto err_free;
	p->skel->rodata->target_tgid = (__u32)tgid;
	p->skel->rodata->pidns_dev = (__u64)ns.st_dev;
	p->skel->rodata->pidns_ino = (__u64)ns.st_ino;
	struct bpf_program *oncpu = o->dwarf ? p->skel->progs.rp_prof_copy
					     : p->skel->progs.rp_prof_sample;

	bpf_program__set_autoload(p->skel->progs.rp_prof_sample, !o->offcpu && !o->dwarf);
	bpf_program__set_autoload(p->skel->progs.rp_prof_copy, !o->offcpu && o->dwarf);
	bpf_program__set_autoload(p->skel->progs.rp_prof_switch, o->offcpu);
	bpf_program__set_autoload(p->skel->progs.rp_prof_exit, !o->offcpu);
	{
		struct timespec now;

		clock_gettime(CLOCK_MONOTONIC, &now);
		p->skel->rodata->t0_ns = (__u64)now.tv_sec * 1000000000u + (__u64)now.tv_nsec;
	}
	if (o->dwarf) {
		int ncpus = libbpf_num_possible_cpus();

		p->skel->rodata->dwarf = 1;
		p->skel->rodata->stack_copy = o->stack_copy ? o->stack_copy : RP_SS_STACK_DEFAULT;
		err = ncpus > 0 ? bpf_map__set_max_entries(p->skel->maps.scratch, (__u32)ncpus)
				: -ENODEV;
		if (!err)
			err = u64map_init(&p->dstacks, 1024);
		if (!err)
			err = u64map_init(&p->pending, 256);
		if (!err)
			err = snapuw_new_pid(o->pid, &p->uw);
		if (err)
			goto err_free;
	} else {
		/* not used: the smallest the kernel takes */
		bpf_map__set_max_entries(p->skel->maps.ring, 4096);
	}
	err = rp_profile__load(p->skel);
	if (err)
		goto err_free;
	if (p->uw) {
		p->ring = ring_buffer__new(bpf_map__fd(p->skel->maps.ring), on_copy, p, NULL);
		if (!p->ring) {
			err = -errno;
			goto err_free;
		}
	}
	if (o->offcpu) {
		p->links = calloc(1, sizeof(*p->links));
		if (!p->links) {
			err = -ENOMEM;
			goto err_free;
		}
		p->links[0] = bpf_program__attach(p->skel->progs.rp_prof_switch);
		if (!p->links[0]) {
			err = -errno;
			goto err_free;
		}
		p->nlinks = 1;
	} else {
		err = attach_oncpu(p, o->hz, oncpu);
		if (err)
			goto err_free;
		p->links[p->nlinks] = bpf_program__attach(p->skel->progs.rp_prof_exit);
		if (!p->links[p->nlinks]) {
			err = -errno;
			goto err_free;
		}
		p->nlinks++;
	}
	*out = p;
	return 0;
err_free:
	bpf_prof_free(p);
	return rp_bpf_classify(err);
}

void bpf_prof_stop(struct bpf_prof *p)
{
	for (int i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	p->nlinks = 0;
	for (int i = 0; p->pfds && i < p->ncpus; i++) {
		if (p->pfds[i] >= 0)
			close(p->pfds[i]);
		p->pfds[i] = -1;
	}
}

/* Frames of stack id (leaf first), without the zero padding; 0 frames if lost. */
static size_t read_stack(int fd, __s32 id, uint64_t *ips)
{
	size_t n = 0;

	if (id < 0 || bpf_map_lookup_elem(fd, &id, ips))
		return 0;
	while (n < RP_PROF_MAX_DEPTH && ips[n])
		n++;
	return n;
}

int bpf_prof_foreach(struct bpf_prof *p, int (*fn)(void *arg, const struct bpf_prof_stack *s),
		     void *arg)
{
	int cfd = bpf_map__fd(p->skel->maps.counts), sfd = bpf_map__fd(p->skel->maps.stacks);
	uint64_t user[RP_PROF_MAX_DEPTH], kern[RP_PROF_MAX_DEPTH];
	struct rp_prof_key k, next;
	struct rp_prof_val v;
	void *prev = NULL;
	int rc;

	p->lost = 0;
	if (p->uw) {
		size_t i = 0;
		uint64_t h;
		void *v0;

		while (u64map_next(&p->dstacks, &i, &h, &v0))
			for (struct dstack *d = v0; d; d = d->next) {
				struct bpf_prof_stack s = { .tid = d->tid, .user = d->pcs,
							    .nuser = d->n, .kern = kern,
							    .count = d->count, .ns = d->ns };

				if (!d->count)	/* still blocked at the stop */
					continue;
				s.nkern = read_stack(sfd, d->kstack, kern);
				rc = fn(arg, &s);
				if (rc)
					return rc;
			}
		return 0;
	}
	while (bpf_map_get_next_key(cfd, prev, &next) == 0) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(cfd, &k, &v))
			continue;
		struct bpf_prof_stack s = {
			.tid = k.tid, .user = user, .kern = kern, .count = v.count, .ns = v.ns,
		};
		s.nuser = read_stack(sfd, k.ustack, user);
		s.nkern = read_stack(sfd, k.kstack, kern);
		s.user_lost = k.ustack < 0 && k.ustack != -EFAULT;
		if (k.ustack < 0 && k.ustack != -EFAULT)
			p->lost += v.count;
		if (!s.nuser && !s.nkern)
			continue;
		rc = fn(arg, &s);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t bpf_prof_thread_cpu(struct bpf_prof *p, uint32_t tid, bool *whole)
{
	struct rp_prof_rt v;

	*whole = false;
	if (bpf_map__lookup_elem(p->skel->maps.rts, &tid, sizeof(tid), &v, sizeof(v), 0) ||
	    v.last < v.first)
		return 0;
	*whole = !v.first;
	return v.last - v.first;
}

uint64_t bpf_prof_lost(const struct bpf_prof *p)
{
	return p->lost + p->unwind_lost + p->skel->bss->lost;
}

void bpf_prof_free(struct bpf_prof *p)
{
	if (!p)
		return;
	if (p->skel)
		bpf_prof_stop(p);
	ring_buffer__free(p->ring);
	snapuw_free(p->uw);
	{
		size_t i = 0;
		uint64_t h;
		void *v;

		while (u64map_next(&p->dstacks, &i, &h, &v))
			for (struct dstack *d = v, *nx; d; d = nx) {
				nx = d->next;
				free(d);
			}
		u64map_fini(&p->dstacks);
		u64map_fini(&p->pending);	/* its stacks are in dstacks */
	}
	rp_profile__destroy(p->skel);
	free(p->links);
	free(p->pfds);
	free(p);
}
