/*
 * unwind_snap — call stacks from a copy: the registers and the top of the stack of a thread
 * as the kernel copied them at a sample (the sampler's "bpf-stack" engine), unwound later,
 * in another thread, by the DWARF call frame information (.eh_frame, else .debug_frame) of
 * the objects the program counters lie in (elfutils' libdwfl/libdw, read from the files,
 * never from the process's memory, so an object unloaded since the sample cannot fault).
 *
 * Per frame: find the row of the CFI table for the pc (cached per pc: direct-mapped,
 * SNAP_CACHE entries), compute the CFA from %rsp or %rbp, read the return address at CFA-8
 * and the caller's %rbp where the row saved it, from the copy. A pc whose object has no CFI
 * is stepped by its frame pointer, and so is a pc in no object (JIT code: V8 and HotSpot
 * keep frame pointers) when its frame pointer leads to a frame above it inside the copy,
 * for at most 64 such frames in a row. The walk ends at a frame whose return address the
 * CFI calls undefined (_start, clone3: the outermost), at a read outside the copy (a stack
 * deeper than the copy: counted as truncated), or where a pc in no object has no usable
 * frame pointer.
 *
 * Output as unwind_from_ucontext(): pcs[0] the sampled program counter, pcs[1..] return
 * addresses.
 *
 * Threading: one thread at a time per unwinder (libdwfl is not thread-safe).
 */
#ifndef RECONPERF_UNWIND_SNAP_H
#define RECONPERF_UNWIND_SNAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct snapuw;

/* An unwinder for this process's objects (read from /proc/self/maps; read again by the
 * first walk after a dlopen or dlclose). -errno on failure. */
int snapuw_new(struct snapuw **out);
/* The same for process pid's objects (its /proc/PID/maps; read again, at most every 100 ms,
 * when a pc lies in none of them). */
int snapuw_new_pid(pid_t pid, struct snapuw **out);
void snapuw_free(struct snapuw *u);

/* The copy: registers at the sample and len bytes of stack that were at [sp, sp + len). */
struct snap {
	uint64_t ip, sp, bp;
	const uint8_t *stack;
	size_t len;
};

/* Unwinds s into pcs (at most max); returns the number stored (>= 1 when max >= 1). */
int snapuw_unwind(struct snapuw *u, const struct snap *s, uint64_t *pcs, int max);

struct snapuw_stats {
	uint64_t walks;
	uint64_t truncated;	/* ended at the end of the copy, not at the outermost frame */
	uint64_t cfi_lookups;	/* rows looked up in the CFI (cache misses) */
	uint64_t fp_steps;	/* steps by frame pointer (no CFI for the pc) */
	uint64_t reloads;	/* the module list re-read */
};
void snapuw_get_stats(const struct snapuw *u, struct snapuw_stats *st);

#endif
