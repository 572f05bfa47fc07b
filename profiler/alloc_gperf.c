/*
 * alloc_gperf — gperftools' heap profiler as an alternative backend (alloc.h, alloc_gperf_*).
 *
 * tcmalloc must own the heap from the first allocation, so it cannot be dlopen'ed into a
 * running process: the program re-executes itself with libtcmalloc.so.4 in LD_PRELOAD. Our
 * interposer keeps working there (it forwards to __libc_malloc, which tcmalloc exports), so
 * exact counters stay available while gperftools samples. The heap profiler's entry points
 * are looked up with dlsym, so reconperf does not link against tcmalloc.
 */
#include "profiler/alloc.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/afile.h"
#include "profiler/legacy_heap.h"
#include "profiler/pprof.h"

static const char *const tcmalloc_paths[] = {
	"/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4",
	"/usr/lib/aarch64-linux-gnu/libtcmalloc.so.4",
	"/usr/lib64/libtcmalloc.so.4",
	"/usr/local/lib/libtcmalloc.so.4",
	"/usr/lib/libtcmalloc.so.4",
};

bool alloc_gperf_loaded(void)
{
	return dlsym(RTLD_DEFAULT, "HeapProfilerStart") != NULL;
}

int alloc_gperf_reexec(char *const argv[])
{
	const char *lib = getenv("RECONPERF_TCMALLOC");
	const char *old = getenv("LD_PRELOAD");
	char *val;
	size_t i;

	if (alloc_gperf_loaded())
		return -EALREADY;
	for (i = 0; !lib && i < sizeof(tcmalloc_paths) / sizeof(tcmalloc_paths[0]); i++)
		if (access(tcmalloc_paths[i], R_OK) == 0)
			lib = tcmalloc_paths[i];
	if (!lib || access(lib, R_OK))
		return -ENOENT;
	if (asprintf(&val, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "") < 0)
		return -ENOMEM;
	if (setenv("LD_PRELOAD", val, 1)) {
		free(val);
		return -errno;
	}
	free(val);
	execv("/proc/self/exe", argv);
	return -errno;
}

int alloc_gperf_start(const char *prefix)
{
	void (*start)(const char *) = (void (*)(const char *))dlsym(RTLD_DEFAULT,
								      "HeapProfilerStart");
	int (*running)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "IsHeapProfilerRunning");

	if (!start)
		return -ENOSYS;
	if (running && running())
		return -EBUSY;
	start(prefix);
	return 0;
}

int alloc_gperf_write(const char *path)
{
	char *(*get)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "GetHeapProfile");
	void (*stop)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "HeapProfilerStop");
	char *text;
	int rc;

	if (!get || !stop)
		return -ENOSYS;
	text = get();	/* allocated by tcmalloc; our free() forwards there */
	if (!text)
		return -ENOMEM;
	rc = afile_write_all(path, text, strlen(text));
	free(text);
	stop();
	return rc;
}

int alloc_gperf_write_pprof(const char *path, char *err, size_t errlen)
{
	char *(*get)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "GetHeapProfile");
	void (*stop)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "HeapProfilerStop");
	struct pprof_builder *b = NULL;
	char *text;
	int rc;

	if (!get || !stop)
		return -ENOSYS;
	text = get();
	stop();
	if (!text)
		return -ENOMEM;
	rc = legacy_heap_parse(text, strlen(text), &b, err, errlen);
	free(text);
	if (!rc) {
		pprof_builder_add_comment(b, "gperftools heap profiler (HeapProfilerStart)");
		rc = pprof_builder_write(b, path);
	}
	pprof_builder_free(b);
	return rc;
}
