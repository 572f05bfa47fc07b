/* folded — see folded.h. */
#include "flamegraph/folded.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/*
 * Lines are resolved in batches: a stack's frames depend on each other (a child's lookup
 * needs its parent's id), but different lines do not, so the walk goes one level at a time
 * across BATCH lines and prefetches each line's next lookup while the others proceed. On a
 * large tree nearly every lookup is a cache miss; overlapping them is most of the speed.
 */
#define BATCH 32

struct line {
	size_t off;		/* into names[] and nodes[] */
	uint32_t depth;
	uint32_t common;	/* leading frames equal to the previous line's */
	uint64_t n;
};

struct reader {
	struct fg_tree *t;
	int slot;
	/* The previous line: its text and where its frames end, to find a shared prefix. */
	char *text;
	size_t textcap;
	uint32_t *end, *pname, *pnode;	/* per frame of the previous line */
	size_t pdepth, pcap;
	/* The batch. */
	struct line line[BATCH];
	int nlines;
	uint32_t *names, *nodes;
	size_t used, cap;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int grow_u32(uint32_t **p, size_t n)
{
	uint32_t *np = realloc(*p, n * sizeof(**p));

	if (!np)
		return -ENOMEM;
	*p = np;
	return 0;
}

static int reserve(struct reader *r, size_t textlen, size_t depth)
{
	if (textlen > r->textcap) {
		size_t ncap = r->textcap ? r->textcap : 4096;
		char *nt;

		while (ncap < textlen)
			ncap *= 2;
		nt = realloc(r->text, ncap);
		if (!nt)
			return -ENOMEM;
		r->text = nt;
		r->textcap = ncap;
	}
	if (depth > r->pcap) {
		size_t ncap = r->pcap ? r->pcap * 2 : 256;

		while (ncap < depth)
			ncap *= 2;
		if (grow_u32(&r->end, ncap) || grow_u32(&r->pname, ncap) ||
		    grow_u32(&r->pnode, ncap))
			return -ENOMEM;
		r->pcap = ncap;
	}
	if (r->used + depth > r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 4096;

		while (ncap < r->used + depth)
			ncap *= 2;
		if (grow_u32(&r->names, ncap) || grow_u32(&r->nodes, ncap))
			return -ENOMEM;
		r->cap = ncap;
	}
	return 0;
}

/* Resolves the batch level by level, then adds each line's samples to its leaf. */
static int flush(struct reader *r)
{
	uint32_t maxd = 0;
	struct line *last;
	int err;

	for (int k = 0; k < r->nlines; k++)
		if (r->line[k].depth > maxd)
			maxd = r->line[k].depth;
	for (uint32_t d = 0; d < maxd; d++) {
		for (int k = 0; k < r->nlines; k++) {
			struct line *l = &r->line[k];
			uint32_t *nd = r->nodes + l->off, *nm = r->names + l->off;

			if (d >= l->depth)
				continue;
			if (d < l->common) {
				nd[d] = k ? r->nodes[r->line[k - 1].off + d] : r->pnode[d];
			} else {
				err = fg_tree_child(r->t, d ? nd[d - 1] : FG_ROOT, nm[d], &nd[d]);
				if (err)
					return err;
			}
			if (d + 1 < l->depth && d + 1 >= l->common)
				fg_tree_prefetch(r->t, nd[d], nm[d + 1]);
		}
	}
	for (int k = 0; k < r->nlines; k++) {
		struct line *l = &r->line[k];

		fg_tree_add(r->t, r->nodes[l->off + l->depth - 1], r->slot, l->n);
	}
	if (r->nlines) {
		last = &r->line[r->nlines - 1];
		memcpy(r->pnode, r->nodes + last->off, last->depth * sizeof(uint32_t));
	}
	r->nlines = 0;
	r->used = 0;
	return 0;
}

/* Stages the stack s[0..len) with n samples: names interned, the shared prefix noted. */
static int add_line(struct reader *r, const char *s, size_t len, uint64_t n, const char **why)
{
	size_t start = 0, d = 0, maxdepth = 1;
	struct line *l;
	uint32_t *nm;
	int same = 1, err;

	for (const char *q = s; (q = memchr(q, ';', len - (size_t)(q - s))); q++)
		maxdepth++;
	err = reserve(r, len, maxdepth);
	if (err)
		return err;
	l = &r->line[r->nlines];
	l->off = r->used;
	l->n = n;
	nm = r->names + l->off;
	while (start <= len) {
		const char *semi = memchr(s + start, ';', len - start);
		size_t end = semi ? (size_t)(semi - s) : len;

		if (end == start) {
			*why = "empty frame name";
			return -EINVAL;
		}
		if (same && d < r->pdepth && r->end[d] == end &&
		    !memcmp(r->text + start, s + start, end - start)) {
			nm[d] = r->pname[d];
		} else {
			if (same)
				l->common = (uint32_t)d;
			same = 0;
			err = fg_tree_intern(r->t, s + start, end - start, &nm[d]);
			if (err)
				return err;
		}
		r->pname[d] = nm[d];
		r->end[d] = (uint32_t)end;
		d++;
		start = end + 1;
	}
	if (same)
		l->common = (uint32_t)d;
	memcpy(r->text, s, len);
	r->pdepth = d;
	l->depth = (uint32_t)d;
	r->used += d;
	if (++r->nlines == BATCH)
		return flush(r);
	return 0;
}

/* Splits "STACK COUNT" and stages it. Returns 0, -EINVAL with *why set, or -ENOMEM. */
static int parse_line(struct reader *r, const char *s, size_t len, struct fg_folded_stats *st,
		      const char **why)
{
	size_t sp;
	uint64_t n = 0;

	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len)
		return 0;
	for (sp = len; sp > 0 && s[sp - 1] != ' ' && s[sp - 1] != '\t'; sp--)
		;
	if (sp == 0) {
		*why = "expected 'STACK COUNT', found no count";
		return -EINVAL;
	}
	for (size_t i = sp; i < len; i++) {
		unsigned dg = (unsigned char)s[i] - '0';

		if (dg > 9) {
			*why = "sample count is not a whole number";
			return -EINVAL;
		}
		if (n > (UINT64_MAX - dg) / 10) {
			*why = "sample count out of range";
			return -EINVAL;
		}
		n = n * 10 + dg;
	}
	len = sp - 1;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (!len) {
		*why = "empty stack";
		return -EINVAL;
	}
	if (memchr(s, '\0', len)) {
		*why = "binary data (not a folded stack file)";
		return -EINVAL;
	}
	st->stacks++;
	st->samples += n;
	return add_line(r, s, len, n, why);
}

/*
 * Parses the lines of buf[*pos..have): every complete one, and the last unterminated one too
 * when eof. *pos ends at the first byte not consumed.
 */
static int parse_lines(struct reader *r, const char *buf, size_t have, int eof, size_t *pos,
		       struct fg_folded_stats *st, const char **why)
{
	for (;;) {
		const char *nl = memchr(buf + *pos, '\n', have - *pos);
		size_t end = nl ? (size_t)(nl - buf) : have;
		int ret;

		if (!nl && (!eof || *pos == have))
			return 0;
		st->lines++;
		ret = parse_line(r, buf + *pos, end - *pos, st, why);
		if (ret)
			return ret;
		*pos = nl ? end + 1 : have;
	}
}

/* Flushes the batch, reports ret in err, frees the reader. */
static int finish(struct reader *r, int ret, const char *name, const struct fg_folded_stats *st,
		  const char *why, struct fg_folded_stats *stats, char *err, size_t errlen)
{
	if (!ret)
		ret = flush(r);
	if (!ret && stats)
		*stats = *st;
	if (ret == -EINVAL)
		seterr(err, errlen, "%s:%llu: %s", name, (unsigned long long)st->lines, why);
	else if (ret == -ENOMEM)
		seterr(err, errlen, "%s: out of memory", name);
	else if (ret == -E2BIG)
		seterr(err, errlen, "%s:%llu: too many distinct frames", name,
		       (unsigned long long)st->lines);
	free(r->text);
	free(r->end);
	free(r->pname);
	free(r->pnode);
	free(r->names);
	free(r->nodes);
	return ret;
}

int fg_folded_read(struct fg_tree *t, FILE *fp, const char *name, int slot,
		   struct fg_folded_stats *stats, char *err, size_t errlen)
{
	struct fg_folded_stats st = { 0 };
	struct reader r = { .t = t, .slot = slot };
	size_t cap = 1 << 16, have = 0, n;
	char *buf = malloc(cap);
	const char *why = NULL;
	int ret = 0, eof = 0;

	if (!buf)
		return -ENOMEM;
	while (!eof && !ret) {
		size_t pos = 0;

		if (have == cap) {	/* one line longer than the buffer */
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = fread(buf + have, 1, cap - have, fp);
		if (n < cap - have) {
			if (ferror(fp)) {
				seterr(err, errlen, "%s: read error", name);
				ret = -EIO;
				break;
			}
			eof = 1;
		}
		have += n;
		ret = parse_lines(&r, buf, have, eof, &pos, &st, &why);
		memmove(buf, buf + pos, have - pos);
		have -= pos;
	}
	free(buf);
	return finish(&r, ret, name, &st, why, stats, err, errlen);
}

int fg_folded_read_mem(struct fg_tree *t, const char *buf, size_t len, const char *name,
		       int slot, struct fg_folded_stats *stats, char *err, size_t errlen)
{
	struct fg_folded_stats st = { 0 };
	struct reader r = { .t = t, .slot = slot };
	const char *why = NULL;
	size_t pos = 0;
	int ret = parse_lines(&r, buf, len, 1, &pos, &st, &why);

	return finish(&r, ret, name, &st, why, stats, err, errlen);
}

int fg_folded_write(const struct fg_tree *t, int slot, FILE *fp)
{
	/* Depth-first, children sorted; path[] holds the names from the top frame down. */
	struct item {
		uint32_t node;
		uint32_t depth;
	} *stack = NULL;
	size_t nstack = 0, capstack = 0, ckids = 0, cpath = 0;
	uint32_t *kids = NULL, *path = NULL;
	long nk;
	int ret = 0;

#define PUSH(nd, dp)                                                                   \
	do {                                                                           \
		if (nstack == capstack) {                                              \
			size_t c_ = capstack ? capstack * 2 : 256;                     \
			struct item *s_ = realloc(stack, c_ * sizeof(*s_));            \
			if (!s_) {                                                     \
				ret = -ENOMEM;                                         \
				goto out;                                              \
			}                                                              \
			stack = s_;                                                    \
			capstack = c_;                                                 \
		}                                                                      \
		stack[nstack].node = (nd);                                             \
		stack[nstack++].depth = (dp);                                          \
	} while (0)

	PUSH(FG_ROOT, 0);
	while (nstack) {
		struct item it = stack[--nstack];
		uint64_t self;

		if (it.depth > 0) {
			if (it.depth > cpath) {
				size_t c = cpath ? cpath * 2 : 256;
				uint32_t *np;

				while (c < it.depth)
					c *= 2;
				np = realloc(path, c * sizeof(*np));
				if (!np) {
					ret = -ENOMEM;
					goto out;
				}
				path = np;
				cpath = c;
			}
			path[it.depth - 1] = fg_tree_node(t, it.node)->name;
			self = fg_tree_self(t, it.node, slot);
			if (self) {
				for (uint32_t d = 0; d < it.depth; d++) {
					size_t len;
					const char *s = fg_tree_name(t, path[d], &len);

					if (d)
						fputc(';', fp);
					fwrite(s, 1, len, fp);
				}
				fprintf(fp, " %llu\n", (unsigned long long)self);
			}
		}
		nk = fg_tree_children_sorted(t, it.node, slot, &kids, &ckids);
		if (nk < 0) {
			ret = (int)nk;
			goto out;
		}
		for (long i = nk - 1; i >= 0; i--)
			PUSH(kids[i], it.depth + 1);
	}
#undef PUSH
	if (ferror(fp))
		ret = -EIO;
out:
	free(stack);
	free(kids);
	free(path);
	return ret;
}
