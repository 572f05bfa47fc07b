/*
 * afile — a file that appears whole or not at all.
 *
 * afile_open() creates a temporary file beside the target (same directory, so the final
 * rename is atomic); the caller writes through afile_fp(); afile_commit() flushes, checks
 * for write errors (a full disk is an error, not a truncation), fsyncs and renames onto
 * the target; afile_abort() removes the temporary. Exactly one of commit/abort must be
 * called; both free the handle. The path "-" means stdout: commit then only flushes.
 *
 * Not thread-safe per handle; any thread may use its own handle.
 */
#ifndef RECONPERF_AFILE_H
#define RECONPERF_AFILE_H

#include <stdio.h>

struct afile;

/* Returns 0 or a negative errno. */
int afile_open(const char *path, struct afile **out);
FILE *afile_fp(struct afile *af);
int afile_commit(struct afile *af);
void afile_abort(struct afile *af);

/* Writes len bytes to path atomically. Returns 0 or a negative errno. */
int afile_write_all(const char *path, const void *buf, size_t len);

#endif
