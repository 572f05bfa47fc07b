/*
 * exec — the exec family, wrapped so that a profiled thread can exec safely: each wrapper
 * calls sampler_exec_begin() (the sample signal is ignored, which drops the samples pending
 * for this process: exec would carry them into the new image, where they kill it), runs the
 * real function, and on failure sampler_exec_failed() puts the handler back.
 *
 * Wrapped: execve, execv, execvp, execvpe, execl, execle, execlp, fexecve (glibc's execl*
 * and execv* call its internal execve, not the exported one, so each needs its own wrapper).
 * posix_spawn, system and popen need nothing: their child is a new task without pending
 * signals. The real functions are resolved in a constructor (a vfork child must not run
 * dlsym: it may allocate in the parent's heap while the parent's other threads run).
 *
 * Linked into libreconperf.a and the preload library; when the sampler never ran the
 * wrappers only forward.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "profiler/sampler.h"

extern char **environ;

static struct {
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
} real;

__attribute__((constructor)) static void exec_resolve(void)
{
	*(void **)&real.execve = dlsym(RTLD_NEXT, "execve");
	*(void **)&real.execvpe = dlsym(RTLD_NEXT, "execvpe");
	*(void **)&real.fexecve = dlsym(RTLD_NEXT, "fexecve");
}

static int failed(void)
{
	int err = errno;

	sampler_exec_failed();
	errno = err;
	return -1;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
	if (!real.execve)
		exec_resolve();
	sampler_exec_begin();
	real.execve(path, argv, envp);
	return failed();
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
	if (!real.execvpe)
		exec_resolve();
	sampler_exec_begin();
	real.execvpe(file, argv, envp);
	return failed();
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!real.fexecve)
		exec_resolve();
	sampler_exec_begin();
	real.fexecve(fd, argv, envp);
	return failed();
}

int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

/* The variadic ones: count the arguments, then the array form (as glibc does). */
static ptrdiff_t count_args(va_list ap)
{
	ptrdiff_t n = 1;

	while (va_arg(ap, const char *))
		n++;
	return n;
}

enum list_kind { L_PATH, L_SEARCH, L_ENV };

/* argv from arg0 and the rest of the list (n + 1 slots, the last NULL), then exec. */
static int exec_list(enum list_kind k, const char *target, ptrdiff_t n, const char *arg0,
		     va_list ap)
{
	const char *argv[n + 1];
	char *const *envp = environ;

	argv[0] = arg0;
	for (ptrdiff_t i = 1; i <= n; i++)
		argv[i] = va_arg(ap, const char *);
	if (k == L_ENV)
		envp = va_arg(ap, char *const *);
	if (k == L_SEARCH)
		return execvpe(target, (char *const *)argv, envp);
	return execve(target, (char *const *)argv, envp);
}

#define EXEC_LIST(kind, target, arg0)                                  \
	do {                                                           \
		va_list ap;                                            \
		ptrdiff_t n;                                           \
		int rc;                                                \
                                                                       \
		va_start(ap, arg0);                                    \
		n = count_args(ap);                                    \
		va_end(ap);                                            \
		va_start(ap, arg0);                                    \
		rc = exec_list(kind, target, n, arg0, ap);             \
		va_end(ap);                                            \
		return rc;                                             \
	} while (0)

int execl(const char *path, const char *arg0, ...)
{
	EXEC_LIST(L_PATH, path, arg0);
}

int execlp(const char *file, const char *arg0, ...)
{
	EXEC_LIST(L_SEARCH, file, arg0);
}

int execle(const char *path, const char *arg0, ...)
{
	EXEC_LIST(L_ENV, path, arg0);
}
