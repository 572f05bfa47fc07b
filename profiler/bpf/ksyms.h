/*
 * ksyms — names for kernel addresses, from /proc/kallsyms (sorted once at load; lookups
 * are binary searches). Addresses read as 0 when kptr_restrict hides them: the table is
 * then empty and every lookup fails. Not thread-safe per table; read-only after load.
 */
#ifndef RECONPERF_KSYMS_H
#define RECONPERF_KSYMS_H

#include <stddef.h>
#include <stdint.h>

struct ksyms;

/* path NULL: /proc/kallsyms. Returns 0 or a negative errno. */
int ksyms_load(const char *path, struct ksyms **out);
void ksyms_free(struct ksyms *k);
/* The function holding addr, or NULL. The string lives until ksyms_free(). */
const char *ksyms_lookup(const struct ksyms *k, uint64_t addr);
/* Number of symbols loaded (0 when addresses are hidden). */
size_t ksyms_count(const struct ksyms *k);

#endif
