/*
 * profile.c — loader for profile.bpf.c (see profile.h): per-CPU cpu-clock perf events with
 * the sampling program attached, or the sched_switch program; then a walk of the counts
 * with the stacks resolved from the stack-trace map. One thread uses a handle.
 */
#include "profiler/bpf/profile.h"
#include "profiler/bpf/bpfcommon.h"
#include "profile.skel.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

_Static_assert(sizeof(struct rp_prof_key) == 16, "rp_prof_key is shared with BPF");
_Static_assert(sizeof(struct rp_prof_val) == 16, "rp_prof_val is shared with BPF");
_Static_assert(sizeof(struct rp_prof_start) == 24, "rp_prof_start is shared with BPF");

struct bpf_prof {
	struct rp_profile *skel;
	struct bpf_link **links;
	int *pfds;
	int nlinks;
	int ncpus;
	uint64_t lost;
};

static int attach_oncpu(struct bpf_prof *p, unsigned hz)
{
	int n = libbpf_num_possible_cpus();

	if (n <= 0)
		return n ? n : -ENODEV;
	p->links = calloc((size_t)n, sizeof(*p->links));
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
		l = bpf_program__attach_perf_event(p->skel->progs.rp_prof_sample, fd);
		if (!l)
			return -errno;
		p->links[p->nlinks++] = l;
		p->pfds[cpu] = -1;	/* the link owns it: bpf_link__destroy() closes it */
	}
	return p->nlinks ? 0 : -ENODEV;
}

int bpf_prof_open(const struct bpf_prof_opts *o, struct bpf_prof **out)
{
	struct bpf_prof *p;
	struct stat ns;
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
	if (stat("/proc/self/ns/pid", &ns) < 0) {
		err = -errno;
		goto err_free;
	}
	p->skel->rodata->target_tgid = (__u32)o->pid;
	p->skel->rodata->pidns_dev = (__u64)ns.st_dev;
	p->skel->rodata->pidns_ino = (__u64)ns.st_ino;
	bpf_program__set_autoload(o->offcpu ? p->skel->progs.rp_prof_sample
					    : p->skel->progs.rp_prof_switch, false);
	err = rp_profile__load(p->skel);
	if (err)
		goto err_free;
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
		err = attach_oncpu(p, o->hz);
		if (err)
			goto err_free;
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

uint64_t bpf_prof_lost(const struct bpf_prof *p)
{
	return p->lost + p->skel->bss->lost;
}

void bpf_prof_free(struct bpf_prof *p)
{
	if (!p)
		return;
	if (p->skel)
		bpf_prof_stop(p);
	rp_profile__destroy(p->skel);
	free(p->links);
	free(p->pfds);
	free(p);
}
