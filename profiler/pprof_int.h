/*
 * pprof internals shared by pprof.c (reading) and pprof_build.c (writing). Not for callers
 * outside profiler/pprof*.c.
 */
#ifndef RECONPERF_PPROF_INT_H
#define RECONPERF_PPROF_INT_H

#include <stddef.h>

#include "profiler/profile.pb-c.h"

struct pprof_priv {
	Perftools__Profiles__Profile *msg;
	struct pprof_line *lines;
	const struct pprof_location **locs;
	struct pprof_label *labels;
};

#define PRIV(p) ((struct pprof_priv *)(p)->priv)

/* gunzips in; *out is malloc'ed. -EINVAL on corrupt or truncated data. */
int pprof_gunzip(const void *in, size_t inlen, void **out, size_t *outlen);
/* Packs msg, gzips it and writes it atomically to path. */
int pprof_pack_write(const Perftools__Profiles__Profile *msg, const char *path);
int pprof_pack_gzip(const Perftools__Profiles__Profile *msg, void **buf, size_t *len);

#endif
