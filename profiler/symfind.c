/* symfind — libdwfl's find_elf through /proc/PID/root. See symfind.h. */
#include "profiler/symfind.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Another process's files are opened as it sees them, through /proc/PID/root: a process
 * in a container has its own mount namespace, where /usr/lib/... is not the host's file
 * (or is none). libdwfl's own callback opens the path in ours. The process is the one
 * sym_find_elf_target() named on this thread (libdwfl finds a module's file lazily, at
 * its first use: the entry points that may cause that name their process first).
 */
static _Thread_local pid_t find_pid;

pid_t sym_find_elf_target(pid_t pid)
{
	pid_t old = find_pid;

	find_pid = pid;
	return old;
}

int sym_find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		 char **file_name, Elf **elfp)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len = strlen(name);
	int fd;

	if (find_pid <= 0 || find_pid == getpid() || name[0] != '/' ||
	    (len > 10 && !strcmp(name + len - 10, " (deleted)")) ||
	    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)find_pid, name) >=
		    (int)sizeof(path) ||
	    stat(path, &st) || !S_ISREG(st.st_mode))
		return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
	*file_name = strdup(path);
	if (!*file_name) {
		close(fd);
		return -1;
	}
	return fd;
}

pid_t sym_ns_pid(pid_t pid)
{
	char path[64], line[256];
	pid_t r = pid;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return pid;
	while (fgets(line, sizeof(line), f)) {
		const char *last;

		if (strncmp(line, "NSpid:", 6))
			continue;
		line[strcspn(line, "\n")] = 0;
		last = strrchr(line, '\t') ? strrchr(line, '\t') : strrchr(line, ' ');
		if (last && atoi(last + 1) > 0)
			r = (pid_t)atoi(last + 1);
		break;
	}
	fclose(f);
	return r;
}
