/*
 * preload/mem — the allocation profiler's side of libreconperf-preload.so: the strong
 * definitions of the hooks profiler/preload/preload.c calls (built only into that library).
 *
 * Environment (set by `reconperf record --mem`):
 *   RECONPERF_MEMPROFILE=PATH       sample the heap from load, write PATH at exit
 *   RECONPERF_MEMPROFILE_RATE=BYTES mean bytes between samples (default 512 KiB; 1 = all)
 *   RECONPERF_MEMPROFILE_SEED=N     fixed seed of the sampler (repeatable runs)
 * A descendant that inherited the environment, or a child forked without exec, writes
 * PATH.PID instead, as the CPU side does.
 *
 * When the program defines its own malloc (it links libreconperf.a, or another allocator
 * wins the symbol lookup), the interposer in this library never runs: that is said on stderr
 * and no heap profile is written rather than an empty one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/units.h"
#include "profiler/alloc.h"

int preload_mem_start(const char *path);
int preload_mem_write(void);

static char mem_path[4096];
static pid_t mem_pid;

int preload_mem_start(const char *path)
{
	const char *rate_s = getenv("RECONPERF_MEMPROFILE_RATE");
	const char *seed_s = getenv("RECONPERF_MEMPROFILE_SEED");
	const char *root = getenv("RECONPERF_ROOT_PID");
	struct alloc_prof_opts o = { 0 };
	char pid[32];
	int rc;

	if (!path || !path[0])
		return 0;
	if ((rate_s && units_u64(rate_s, 1, UINT64_C(1) << 40, &o.rate)) ||
	    (seed_s && units_u64(seed_s, 0, UINT64_MAX, &o.seed))) {
		fprintf(stderr, "reconperf: record: bad RECONPERF_MEMPROFILE_RATE or _SEED\n");
		return -EINVAL;
	}
	if (!alloc_available()) {
		fprintf(stderr, "reconperf: record: the program defines its own malloc: "
				"no heap profile (link it with libreconperf and use the C API)\n");
		return -ENOTSUP;
	}
	mem_pid = getpid();
	snprintf(pid, sizeof(pid), "%d", (int)mem_pid);
	snprintf(mem_path, sizeof(mem_path), !root || !strcmp(root, pid) ? "%s" : "%s.%s", path,
		 pid);
	rc = alloc_prof_start(&o);
	if (rc) {
		fprintf(stderr, "reconperf: record: cannot start the heap profiler: %s\n",
			strerror(-rc));
		mem_path[0] = 0;
	}
	return rc;
}

int preload_mem_write(void)
{
	char forked[4200];
	const char *path = mem_path;
	int rc;

	if (!mem_path[0])
		return 0;
	if (getpid() != mem_pid) {	/* a forked child running its exit handlers */
		snprintf(forked, sizeof(forked), "%s.%d", mem_path, (int)getpid());
		path = forked;
	}
	alloc_prof_stop();
	rc = alloc_prof_write(path);
	if (rc)
		fprintf(stderr, "reconperf: record: cannot write '%s': %s\n", path, strerror(-rc));
	mem_path[0] = 0;
	return rc;
}
