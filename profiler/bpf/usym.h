/*
 * usym — resolves a user-space function, given as SYMBOL or LIB:SYMBOL, to the file and file
 * offset where a uprobe goes, reading ELF symbol tables with libelf (.symtab first, then
 * .dynsym). Offsets are file offsets (through the PT_LOAD that holds the symbol), so PIE
 * executables and shared libraries need no load address.
 *
 * Where the file comes from:
 *   SYMBOL            the executable: `exe` if given, else /proc/PID/exe
 *   /path/lib.so:SYM  that file
 *   LIB:SYM           with a pid: the file mapped in /proc/PID/maps whose name is LIB or
 *                     starts with "LIB." or "LIB-" (libc -> libc.so.6); without a pid
 *                     (a command not started yet): the same match in LD_LIBRARY_PATH, then
 *                     the multiarch and default library directories.
 *
 * In .dynsym, non-default symbol versions (name@V beside name@@V) are skipped.
 *
 * Errors (negative errno): -ENOENT the file or symbol is missing (usym->path says which
 * file was searched, "" when no file matched LIB), -ENOEXEC not an ELF file, -ENOTSUP an
 * IFUNC (its address is a resolver, not the function), -EINVAL a malformed spec.
 * Pure functions over files; any thread.
 */
#ifndef RECONPERF_USYM_H
#define RECONPERF_USYM_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

struct usym {
	char path[PATH_MAX];	/* the ELF file holding the symbol */
	char name[256];		/* the symbol */
	uint64_t offset;	/* file offset of its first instruction */
	uint64_t size;		/* st_size */
};

int usym_resolve(pid_t pid, const char *exe, const char *spec, struct usym *out);

#endif
