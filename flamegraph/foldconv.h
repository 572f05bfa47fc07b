/*
 * foldconv — folded stacks to pprof and back, for `reconperf convert`.
 *
 * pprof -> folded: the frames of every sample (inlined frames expanded, as pprof shows
 * them) joined root first with ';', one line per distinct stack, in name order, with the
 * chosen sample type's value summed. folded -> pprof: one sample per distinct stack with
 * sample type samples/count, frames as functions (no addresses), gzipped. Going there and
 * back gives the same folded text.
 *
 * Not thread-safe per call; no global state.
 */
#ifndef RECONPERF_FOLDCONV_H
#define RECONPERF_FOLDCONV_H

#include <stddef.h>
#include <stdio.h>

/*
 * Writes the stacks of in (pprof, or folded, which comes out normalised) as folded text to
 * out. sample_index as for fg_load_file. 0, or a negative errno with a message in err.
 */
int fg_convert_to_folded(const char *in, const char *sample_index, FILE *out, char *err,
			 size_t errlen);

/* Writes the folded stacks of in as a gzipped pprof profile at out, atomically ("-" is
 * stdout). 0, or a negative errno with a message (file:line for bad input) in err. */
int fg_convert_folded_to_pprof(const char *in, const char *out, char *err, size_t errlen);

#endif
