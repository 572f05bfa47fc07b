/*
 * unwind — call stacks of the running program, cheap enough for a signal handler.
 *
 * Two ways, chosen per sample by where the interrupted code lives:
 *   - frame pointers, when the leaf program counter lies in an object built with them
 *     (decided once per loaded object by reading the prologues of the functions its
 *     .eh_frame_hdr lists; refreshed after dlopen/dlclose): 5-80 ns. Every frame is checked
 *     against the thread's stack bounds (strictly increasing, aligned) and the walk ends at
 *     the first return address that lands in an object without frame pointers (that frame
 *     is still recorded: main's caller in libc, start_thread).
 *   - libunwind (DWARF CFI from .eh_frame) otherwise: unw_backtrace() with its per-thread
 *     trace cache, ~1 us per sample (under ThreadSanitizer an unw_step() loop without it);
 *     the frames of the handler itself are cut at the interrupted program counter.
 *
 * Output: pcs[0] is the exact interrupted (or calling) program counter; pcs[1..] are
 * return addresses, so a symbolizer should look up pcs[i] - 1 for i > 0 (the pprof
 * builder does this).
 *
 * The dynamic-loader guard: dlopen, dlclose and dl_iterate_phdr are wrapped by this module
 * (in every binary that links the library, and in the preload library); while a thread is
 * inside one of them a sample records only its leaf program counter, so libunwind never
 * walks into the loader's lock or its half-updated lists (gperftools #775/#1188,
 * libunwind #301). After dlclose the libunwind cache is flushed.
 *
 * Threading and signals: unwind_init() and unwind_init_thread() are NOT async-signal-safe
 * and must run outside handlers: unwind_init() once per process (idempotent), and
 * unwind_init_thread() once in every thread that will be unwound (it warms libunwind's
 * per-thread cache, which runs pthread_once/pthread_setspecific the first time, and records
 * the thread's stack bounds). unwind_from_ucontext() and unwind_here() are async-signal-safe
 * and allocate nothing. A thread that skipped unwind_init_thread() is still unwound, with
 * a conservative stack window, but its first libunwind walk may allocate.
 */
#ifndef RECONPERF_UNWIND_H
#define RECONPERF_UNWIND_H

#include <stdbool.h>
#include <stdint.h>

#define UNWIND_MAX_DEPTH 128

int unwind_init(void);
int unwind_init_thread(void);

/*
 * Unwinds the context a signal handler got as its third argument. Returns the number of
 * pcs stored (>= 1 when max >= 1).
 */
int unwind_from_ucontext(void *ucontext, uint64_t *pcs, int max);

/*
 * Unwinds the caller: pcs[0] is the return address into the function that called
 * unwind_here(), pcs[1..] its callers. Returns the number stored.
 */
int unwind_here(uint64_t *pcs, int max);

/* Is the calling thread inside dlopen/dlclose/dl_iterate_phdr right now? */
int unwind_in_loader(void);

/* Rescans the loaded objects for frame pointers (done automatically after dlopen/dlclose). */
int unwind_refresh_modules(void);

/* Bumped by every refresh of the loaded objects (after dlopen/dlclose). */
unsigned unwind_modules_generation(void);

/* The calling thread's stack bounds as unwind_init_thread() found them (0, 0 if not). */
void unwind_thread_stack(uint64_t *lo, uint64_t *hi);

/* Statistics for benchmarks and tests: walks by each method since start. */
struct unwind_stats {
	uint64_t fp_walks, unw_walks, loader_leaf_only;
};
void unwind_get_stats(struct unwind_stats *st);

/* Does the object holding pc use frame pointers (1), not (0), or is pc unknown (-1)? */
int unwind_pc_has_fp(uint64_t pc);

/*
 * While blocked (counted: each true needs its false), the dlopen wrapper refuses
 * libdebuginfod unless RECONPERF_DEBUGINFOD=1. The symbolizer blocks it for its lifetime:
 * libdw falls back to its debuginfod client for every library whose debug info is not on
 * disk, which means network fetches while a profile is written, CPU spent setting up
 * libcurl and TLS, and a crash in programs that carry their own OpenSSL (node: libssh2
 * took node's copy, already torn down at exit). Not in TSan builds (no dlopen wrapper).
 */
void unwind_block_debuginfod(bool on);

#endif
