/* sampler_bpf — per-CPU clocks and an eBPF program that signals our threads. See .h. */
#include "profiler/sampler_bpf.h"
#include "profiler/bpf/bpfcommon.h"

#include "sigsample.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct sbpf {
	struct rp_sigsample *skel;
	struct bpf_link **links;
	int *pfds;
	int ncpus;	/* entries in links and pfds */
};

int sbpf_open(pid_t tgid, int signo, uint64_t period_ns, struct sbpf **out)
{
	struct sbpf *s;
	struct stat ns;
	int n, err, attached = 0;

	*out = NULL;
	err = rp_bpf_check(NULL);
	if (err)
		return err;
	n = libbpf_num_possible_cpus();
	if (n <= 0)
		return n ? n : -ENODEV;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->links = calloc((size_t)n, sizeof(*s->links));
	s->pfds = malloc((size_t)n * sizeof(*s->pfds));
	s->skel = rp_sigsample__open();
	if (!s->links || !s->pfds || !s->skel) {
		err = -ENOMEM;
		goto err;
	}
	s->ncpus = n;
	for (int cpu = 0; cpu < n; cpu++)
		s->pfds[cpu] = -1;
	if (stat("/proc/self/ns/pid", &ns) < 0) {
		err = -errno;
		goto err;
	}
	s->skel->rodata->target_tgid = (__u32)tgid;
	s->skel->rodata->pidns_dev = (__u64)ns.st_dev;
	s->skel->rodata->pidns_ino = (__u64)ns.st_ino;
	s->skel->rodata->signo = (__u32)signo;
	err = rp_bpf_classify(rp_sigsample__load(s->skel));
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
		s->links[cpu] = bpf_program__attach_perf_event(s->skel->progs.rp_sigsample, fd);
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
	*out = s;
	return 0;
err:
	sbpf_close(s);
	return err;
}

int sbpf_add_thread(struct sbpf *s, pid_t tid)
{
	__u32 k = (__u32)tid, v = 1;

	return bpf_map__update_elem(s->skel->maps.tids, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

void sbpf_remove_thread(struct sbpf *s, pid_t tid)
{
	__u32 k = (__u32)tid;

	bpf_map__delete_elem(s->skel->maps.tids, &k, sizeof(k), 0);
}

void sbpf_counts(const struct sbpf *s, uint64_t *sent, uint64_t *failed)
{
	*sent = s ? __atomic_load_n(&s->skel->bss->sent, __ATOMIC_RELAXED) : 0;
	*failed = s ? __atomic_load_n(&s->skel->bss->failed, __ATOMIC_RELAXED) : 0;
}

void sbpf_close(struct sbpf *s)
{
	if (!s)
		return;
	for (int cpu = 0; s->links && cpu < s->ncpus; cpu++) {
		/* destroying a link disables its event and closes the event's descriptor */
		if (s->links[cpu])
			bpf_link__destroy(s->links[cpu]);
		else if (s->pfds[cpu] >= 0)
			close(s->pfds[cpu]);
	}
	rp_sigsample__destroy(s->skel);
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
