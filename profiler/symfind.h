/*
 * symfind — how libdwfl finds another process's files: through /proc/PID/root, so a
 * process in a container (its own mount namespace) is read from its files, not from the
 * host's files at the same paths. Used by the symbolizer and the snapshot unwinder.
 */
#ifndef RECONPERF_SYMFIND_H
#define RECONPERF_SYMFIND_H

#include <elfutils/libdwfl.h>
#include <sys/types.h>

/*
 * Names the process whose modules this thread's next libdwfl calls may open (libdwfl finds
 * a module's file lazily, at its first use); 0 or our own pid: paths as they are. Returns
 * the one named before.
 */
pid_t sym_find_elf_target(pid_t pid);
/* Dwfl_Callbacks.find_elf: /proc/PID/root/PATH for that process, else libdwfl's own. */
int sym_find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		 char **file_name, Elf **elfp);

/* pid as the process sees itself (the last field of NSpid in /proc/PID/status: its id in a
 * container's pid namespace), else pid. */
pid_t sym_ns_pid(pid_t pid);

#endif
