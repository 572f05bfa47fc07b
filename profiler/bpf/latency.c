/*
 * latency.c — loader for latency.bpf.c (see latency.h): open/load the skeleton, attach
 * uprobe/uretprobe or USDT pairs with the probe index as BPF cookie, read the counters
 * from the mmapped .bss. Only the calling thread uses a handle.
 */
#include "profiler/bpf/latency.h"
#include "profiler/bpf/bpfcommon.h"
#include "bench/hist.h"
#include "latency.skel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Static_assert(sizeof(struct rp_lat_stats) == 64, "rp_lat_stats is shared with BPF");
_Static_assert(sizeof(struct rp_lat_frame) == 40, "rp_lat_frame is shared with BPF");
_Static_assert(sizeof(struct rp_lat_thread) == 32 + 40 * RP_LAT_MAX_DEPTH,
	       "rp_lat_thread is shared with BPF");
_Static_assert(RP_LAT_SUB_BITS == HIST_SUB_BITS, "kernel buckets are bench/hist.h buckets");
_Static_assert((RP_LAT_MAX_PROBES & (RP_LAT_MAX_PROBES - 1)) == 0, "a power of two");

#define MAX_LINKS (2 * RP_LAT_MAX_PROBES + 1)

struct bpf_lat {
	struct rp_latency *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int nprobes;
};

static int add_link(struct bpf_lat *l, struct bpf_link *link)
{
	int err = -errno;

	if (!link)
		return err ? err : -EINVAL;
	l->links[l->nlinks++] = link;
	return 0;
}

int bpf_lat_open(const struct bpf_lat_opts *opts, struct bpf_lat **out)
{
	const char *btf = opts && opts->btf_path ? opts->btf_path : RP_BPF_DEFAULT_BTF;
	struct bpf_lat *l;
	int err;

	*out = NULL;
	err = rp_bpf_check(btf);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	LIBBPF_OPTS(bpf_object_open_opts, oo, .btf_custom_path = opts ? opts->btf_path : NULL);
	l->skel = rp_latency__open_opts(&oo);
	if (!l->skel) {
		err = -errno ? -errno : -EINVAL;
		goto err_free;
	}
	if (!(opts && opts->offcpu))
		bpf_program__set_autoload(l->skel->progs.rp_lat_switch, false);
	err = rp_latency__load(l->skel);
	if (err)
		goto err_free;
	if (opts && opts->offcpu) {
		err = add_link(l, bpf_program__attach(l->skel->progs.rp_lat_switch));
		if (err)
			goto err_free;
	}
	*out = l;
	return 0;
err_free:
	bpf_lat_free(l);
	return rp_bpf_classify(err);
}

int bpf_lat_attach_func(struct bpf_lat *l, pid_t pid, const char *path, uint64_t offset,
			int *probe)
{
	int p = l->nprobes, err;

	if (p >= RP_LAT_MAX_PROBES)
		return -E2BIG;
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .bpf_cookie = (__u64)p, .retprobe = false);
	err = add_link(l, bpf_program__attach_uprobe_opts(l->skel->progs.rp_lat_entry, pid, path,
							   offset, &uo));
	if (err)
		return rp_bpf_classify(err);
	uo.retprobe = true;
	err = add_link(l, bpf_program__attach_uprobe_opts(l->skel->progs.rp_lat_return, pid,
							   path, offset, &uo));
	if (err) {
		bpf_link__destroy(l->links[--l->nlinks]);
		return rp_bpf_classify(err);
	}
	l->nprobes++;
	*probe = p;
	return 0;
}

int bpf_lat_attach_usdt(struct bpf_lat *l, pid_t pid, const char *path, const char *provider,
			const char *start_name, const char *end_name, int *probe)
{
	int p = l->nprobes, err;

	if (p >= RP_LAT_MAX_PROBES)
		return -E2BIG;
	LIBBPF_OPTS(bpf_usdt_opts, uo, .usdt_cookie = (__u64)p);
	err = add_link(l, bpf_program__attach_usdt(l->skel->progs.rp_usdt_start, pid, path,
						   provider, start_name, &uo));
	if (err)
		return rp_bpf_classify(err);
	err = add_link(l, bpf_program__attach_usdt(l->skel->progs.rp_usdt_end, pid, path,
						   provider, end_name, &uo));
	if (err) {
		bpf_link__destroy(l->links[--l->nlinks]);
		return rp_bpf_classify(err);
	}
	l->nprobes++;
	*probe = p;
	return 0;
}

int bpf_lat_read(const struct bpf_lat *l, int probe, struct hist *dst, struct bpf_lat_totals *t)
{
	const volatile __u64 *b;
	const volatile struct rp_lat_stats *st;

	if (probe < 0 || probe >= l->nprobes)
		return -EINVAL;
	b = l->skel->bss->hist[probe];
	st = &l->skel->bss->stats[probe];
	if (dst) {
		for (size_t i = 0; i < RP_LAT_NBUCKETS; i++) {
			__u64 n = b[i], lo, hi;

			if (!n)
				continue;
			/* Bucket bounds as bench/hist.c lays them out; record the midpoint, which
			 * lands in the same bucket of dst. */
			if (i < 2 * RP_LAT_SUB) {
				lo = hi = i;
			} else {
				unsigned shift = (unsigned)(i >> RP_LAT_SUB_BITS) - 1;

				lo = (RP_LAT_SUB + (i & (RP_LAT_SUB - 1))) << shift;
				hi = lo + ((1ull << shift) - 1);
			}
			hist_record_n(dst, lo + (hi - lo) / 2, n);
		}
	}
	if (t) {
		t->count = st->count;
		t->sum_ns = st->sum_ns;
		t->max_ns = st->max_ns;
		t->offcpu_ns = st->offcpu_ns;
		t->runq_ns = st->runq_ns;
		t->missed = st->missed;
	}
	return 0;
}

void bpf_lat_free(struct bpf_lat *l)
{
	if (!l)
		return;
	for (int i = l->nlinks - 1; i >= 0; i--)
		bpf_link__destroy(l->links[i]);
	rp_latency__destroy(l->skel);
	free(l);
}

const char *bpf_lat_strerror(int err)
{
	return rp_bpf_strerror(err);
}

struct bpf_usdt_latency {
	struct bpf_lat *lat;
	int probe;
};

int bpf_usdt_latency_start(pid_t pid, const char *binary, struct bpf_usdt_latency **out)
{
	struct bpf_usdt_latency *u = calloc(1, sizeof(*u));
	char exe[64];
	int err;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid > 0 ? (int)pid : (int)getpid());
	err = bpf_lat_open(NULL, &u->lat);
	if (!err)
		err = bpf_lat_attach_usdt(u->lat, pid > 0 ? pid : getpid(),
					  binary ? binary : exe, "reconperf",
					  "reconcile_start", "reconcile_end", &u->probe);
	if (err) {
		bpf_usdt_latency_stop(u);
		return err;
	}
	*out = u;
	return 0;
}

int bpf_usdt_latency_read(struct bpf_usdt_latency *u, struct hist *dst)
{
	return bpf_lat_read(u->lat, u->probe, dst, NULL);
}

void bpf_usdt_latency_stop(struct bpf_usdt_latency *u)
{
	if (!u)
		return;
	bpf_lat_free(u->lat);
	free(u);
}
