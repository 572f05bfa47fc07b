/*
 * cpuprof — the public CPU profiler API (include/reconperf/profiler.h) over the sampler,
 * and the gperftools bridge. Start/stop from one thread.
 */
#include "reconperf/profiler.h"
#include "profiler/bpf/bpfcommon.h"
#include "profiler/gperf.h"
#include "profiler/pprof.h"
#include "profiler/sampler.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct {
	const char *name;
	enum sampler_engine engine;
} engines[] = {
	{ "auto", SAMPLER_ENGINE_AUTO },
	{ "bpf", SAMPLER_ENGINE_BPF },
	{ "bpf-stack", SAMPLER_ENGINE_BPF_STACK },
	{ "perf", SAMPLER_ENGINE_PERF },
	{ "timer", SAMPLER_ENGINE_TIMER },
};

/* The engine called name (NULL: auto), or -1. */
static int engine_of(const char *name)
{
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++)
		if (!name || !strcmp(name, engines[i].name))
			return (int)engines[i].engine;
	return -1;
}

bool rp_profiler_engine_known(const char *name)
{
	return name && engine_of(name) >= 0;
}

/* the process's CPU clock when the sampler started: CPU time before it (the dynamic
 * loader, and what the process ran before an exec) was not sampled */
static int64_t cpu_at_start;

static int64_t process_cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int rp_profiler_start(const struct rp_profiler_opts *o)
{
	struct sampler_opts so = { 0 };
	int rc;

	if (o) {
		int e = engine_of(o->engine);

		if (e < 0)
			return -EINVAL;
		so.hz = o->hz;
		so.engine = (enum sampler_engine)e;
		so.stack_copy = o->stack_copy;
	}
	rc = sampler_start(&so);
	if (!rc)
		cpu_at_start = process_cpu();
	return rc;
}

const char *rp_profiler_strerror(const struct rp_profiler_opts *o, int err)
{
	if (o && o->engine && !strncmp(o->engine, "bpf", 3))
		return rp_bpf_strerror(err);
	return strerror(-err);
}

int rp_profiler_stop(void)
{
	return sampler_stop(NULL);
}

int rp_profiler_stop_write(const char *path)
{
	struct pprof_builder *b;
	struct sampler_stats st;
	char note[400];
	int64_t cpu;
	int rc;

	/* the process's CPU time while it was profiled: what writing costs comes after */
	cpu = process_cpu() - cpu_at_start;
	rc = sampler_stop(&b);
	if (rc)
		return rc;
	sampler_stats(&st);
	snprintf(note, sizeof(note),
		 "reconperf cpu profile: engine=%s hz=%d samples=%llu dropped=%llu threads=%llu "
		 "thread_errors=%llu process_cpu_ns=%lld truncated=%llu stack_copy=%u "
		 "tick_aligned_cpus=%d max_depth=%d depth_capped=%llu cpu_weights=%s", st.engine,
		 st.hz,
		 (unsigned long long)st.samples, (unsigned long long)st.dropped,
		 (unsigned long long)st.threads, (unsigned long long)st.thread_errors,
		 (long long)cpu,
		 (unsigned long long)st.truncated, st.stack_copy, st.aligned_cpus, st.max_depth,
		 (unsigned long long)st.depth_capped, st.cpu_weights);
	rc = pprof_builder_add_comment(b, note);
	if (!rc)
		rc = pprof_builder_symbolize(b, 0);
	if (!rc)
		rc = pprof_builder_write(b, path);
	pprof_builder_free(b);
	return rc;
}

void rp_profiler_stats(struct rp_profiler_stats *out)
{
	struct sampler_stats st;

	sampler_stats(&st);
	*out = (struct rp_profiler_stats){ st.engine, st.hz, st.samples, st.dropped, st.threads,
					   st.thread_errors, st.duration_ns };
}

void prof_label_set(const char *key, const char *val)
{
	sampler_label_set(key, val);
}

const char *volatile *prof_label_cell(const char *key)
{
	return sampler_label_cell(key);
}

/* ---- gperftools ---- */

static struct {
	void *lib;
	int (*start)(const char *);
	void (*stop)(void);
} G;

int prof_gperftools_start(const char *legacy_path, int hz)
{
	char buf[16];

	if (hz < 1 || hz > 4000)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", hz);
	/* read by libprofiler when its profile handler is first created */
	setenv("CPUPROFILE_FREQUENCY", buf, 1);
	if (!G.lib) {
		G.lib = dlopen("libprofiler.so.0", RTLD_NOW | RTLD_GLOBAL);
		if (!G.lib)
			return -ENOENT;
		G.start = (int (*)(const char *))dlsym(G.lib, "ProfilerStart");
		G.stop = (void (*)(void))dlsym(G.lib, "ProfilerStop");
		if (!G.start || !G.stop)
			return -ENOENT;
	}
	return G.start(legacy_path) ? 0 : -EIO;
}

static int slurp(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	ssize_t r;
	size_t n = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !(*buf = malloc(st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while ((r = read(fd, *buf + n, st.st_size - n)) > 0)
		n += r;
	close(fd);
	*len = n;
	return r < 0 ? -EIO : 0;
}

int prof_gperftools_stop(const char *legacy_path, const char *pprof_path)
{
	struct pprof_builder *b;
	char *buf = NULL, err[256];
	size_t len = 0;
	int rc;

	if (!G.stop)
		return -EINVAL;
	G.stop();
	if (!pprof_path)
		return 0;
	rc = slurp(legacy_path, &buf, &len);
	if (rc)
		return rc;
	rc = gperf_cpu_to_builder(buf, len, &b, err, sizeof(err));
	free(buf);
	if (rc)
		return rc;
	rc = pprof_builder_add_comment(b, "converted from a gperftools CPU profile");
	if (!rc)
		rc = pprof_builder_write(b, pprof_path);
	pprof_builder_free(b);
	return rc;
}
