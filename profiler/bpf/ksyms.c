/* ksyms — kernel address to function name from /proc/kallsyms. See ksyms.h. */
#include "profiler/bpf/ksyms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ksym {
	uint64_t addr;
	char *name;
};

struct ksyms {
	struct ksym *syms;
	size_t n, cap;
};

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int push(struct ksyms *k, uint64_t addr, const char *name)
{
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 4096;
		struct ksym *s = realloc(k->syms, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		k->syms = s;
		k->cap = cap;
	}
	k->syms[k->n].name = strdup(name);
	if (!k->syms[k->n].name)
		return -ENOMEM;
	k->syms[k->n++].addr = addr;
	return 0;
}

int ksyms_load(const char *path, struct ksyms **out)
{
	struct ksyms *k = calloc(1, sizeof(*k));
	char line[512], name[256], type;
	uint64_t addr;
	FILE *fp;
	int err = 0;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	fp = fopen(path ? path : "/proc/kallsyms", "re");
	if (!fp) {
		err = -errno;
		free(k);
		return err;
	}
	while (!err && fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%" SCNx64 " %c %255s", &addr, &type, name) != 3 || !addr)
			continue;
		if (type == 't' || type == 'T' || type == 'w' || type == 'W')
			err = push(k, addr, name);
	}
	fclose(fp);
	if (err) {
		ksyms_free(k);
		return err;
	}
	qsort(k->syms, k->n, sizeof(*k->syms), cmp_ksym);
	*out = k;
	return 0;
}

void ksyms_free(struct ksyms *k)
{
	if (!k)
		return;
	for (size_t i = 0; i < k->n; i++)
		free(k->syms[i].name);
	free(k->syms);
	free(k);
}

const char *ksyms_lookup(const struct ksyms *k, uint64_t addr)
{
	size_t lo = 0, hi = k->n;

	if (!k->n || addr < k->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {	/* last symbol with syms[i].addr <= addr */
		size_t mid = lo + (hi - lo) / 2;

		if (k->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return k->syms[lo].name;
}

size_t ksyms_count(const struct ksyms *k)
{
	return k->n;
}
