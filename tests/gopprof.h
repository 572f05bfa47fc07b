/*
 * Test helper: run `go tool pprof` on a profile with a private HOME and GOCACHE, offline
 * (-symbolize=none: the profiles we write are already symbolized). Header-only so any
 * test file can use it.
 */
#ifndef RECONPERF_TESTS_GOPPROF_H
#define RECONPERF_TESTS_GOPPROF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/util.h"

/* Runs `go tool pprof -symbolize=none ARGS FILE`; returns its exit status. */
static inline int gopprof(struct run_result *r, const char *args, const char *file)
{
	return run_sh(r, "d=$(mktemp -d) && HOME=$d GOCACHE=$d/cache GOFLAGS= GOPROXY=off "
			 "PPROF_TMPDIR=$d go tool pprof -symbolize=none %s '%s'; rc=$?; "
			 "rm -rf $d; exit $rc", args, file) ? -1 : r->status;
}

/*
 * Parses `go tool pprof -top` output: the flat% and cum% of the row whose function column
 * equals fn. Returns 0 when found.
 */
static inline int gopprof_top_row(const char *out, const char *fn, double *flat, double *cum)
{
	const char *p = out;

	while (p && *p) {
		const char *eol = strchr(p, '\n');
		char line[1024], *tok[6], *save = NULL, *end;
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		int n = 0;

		if (len >= sizeof(line))
			len = sizeof(line) - 1;
		memcpy(line, p, len);
		line[len] = 0;
		p = eol ? eol + 1 : NULL;
		/* flat flat% sum% cum cum% name [file...] */
		for (char *t = strtok_r(line, " \t", &save); t && n < 6;
		     t = strtok_r(NULL, " \t", &save))
			tok[n++] = t;
		if (n < 6 || !strchr(tok[1], '%') || !strchr(tok[4], '%'))
			continue;
		if (strcmp(tok[5], fn))
			continue;
		*flat = strtod(tok[1], &end);
		if (*end != '%')
			continue;
		*cum = strtod(tok[4], &end);
		if (*end != '%')
			continue;
		return 0;
	}
	return -1;
}

#endif
