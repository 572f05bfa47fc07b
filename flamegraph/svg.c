/* svg — see svg.h. */
#include "flamegraph/svg.h"
#include "common/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PAD 10			/* px left and right of the frames */
#define FRAME_H 16		/* px per stack level */
#define TOP 56			/* px above the frames: title, subtitle, buttons */
#define BOTTOM 30		/* px below: details and matched share */
#define CHAR_W 7.2		/* px per character of the 12px monospace label */

void fg_svg_opts_init(struct fg_svg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->width = 1200;
	o->minwidth = 0.1;
	o->colors = FG_COLORS_HASH;
}

int fg_colors_parse(const char *s, enum fg_colors *out)
{
	static const char *const names[] = { "hash", "module", "kind" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*out = (enum fg_colors)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint32_t fnv(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ h >> 15;
}

static int starts(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && !memcmp(s, p, n);
}

static int ends(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);

	return len >= n && !memcmp(s + len - n, p, n);
}

static const char *memrchr_before(const char *s, size_t len, char c)
{
	for (size_t i = len; i > 0; i--)
		if (s[i - 1] == c)
			return s + i - 1;
	return NULL;
}

size_t fg_frame_module(const char *name, size_t len, const char **mod)
{
	const char *tick = memchr(name, '`', len), *paren, *slash, *dot;
	size_t head;

	*mod = name;
	if (tick)
		return (size_t)(tick - name);
	paren = memchr(name, '(', len);
	head = paren && paren > name ? (size_t)(paren - name) : len;
	/* C++: everything before the last "::" ahead of the arguments. */
	for (size_t i = head; i >= 2; i--)
		if (name[i - 1] == ':' && name[i - 2] == ':' && i > 2)
			return i - 2;
	/* Go: the package path, up to the first '.' after the last '/'. */
	slash = memrchr_before(name, head, '/');
	if (slash) {
		dot = memchr(slash, '.', len - (size_t)(slash - name));
		return dot ? (size_t)(dot - name) : len;
	}
	dot = memchr(name, '.', head);
	if (dot && dot > name && !memchr(name, ' ', len))
		return (size_t)(dot - name);
	/* C: a module prefix such as "store_" in "store_update". */
	for (size_t i = 1; i + 1 < head; i++)
		if (name[i] == '_')
			return i;
	return len;
}

enum fg_kind fg_frame_kind(const char *name, size_t len)
{
	static const char *const rt_prefix[] = {
		"runtime.", "runtime/", "__libc_", "__GI_", "_dl_", "__clone", "clone3",
		"start_thread", "_start", "[unknown]", "[vdso]", "__restore_rt", "__pthread",
		"__nptl", "pthread_", "libc.so", "libc-", "ld-linux", "libpthread", "libstdc++",
		"libgcc", "[libc", "[ld-"
	};
	const char *mod;
	size_t mlen;

	if (ends(name, len, "_[k]") || starts(name, len, "[k] ") ||
	    starts(name, len, "[kernel") || starts(name, len, "vmlinux`") ||
	    starts(name, len, "kernel`"))
		return FG_KIND_KERNEL;
	for (size_t i = 0; i < sizeof(rt_prefix) / sizeof(rt_prefix[0]); i++)
		if (starts(name, len, rt_prefix[i]))
			return FG_KIND_RUNTIME;
	mlen = fg_frame_module(name, len, &mod);
	if (mlen < len && mod[mlen] == '`') {
		for (size_t i = 0; i < sizeof(rt_prefix) / sizeof(rt_prefix[0]); i++)
			if (starts(mod, mlen, rt_prefix[i]))
				return FG_KIND_RUNTIME;
	}
	return FG_KIND_USER;
}

struct rgb {
	int r, g, b;
};

static struct rgb hsl(double h, double s, double l)
{
	double c = (1 - fabs(2 * l - 1)) * s, hp = h / 60, x = c * (1 - fabs(fmod(hp, 2) - 1));
	double r = 0, g = 0, b = 0, m = l - c / 2;

	if (hp < 1)
		r = c, g = x;
	else if (hp < 2)
		r = x, g = c;
	else if (hp < 3)
		g = c, b = x;
	else if (hp < 4)
		g = x, b = c;
	else if (hp < 5)
		r = x, b = c;
	else
		r = c, b = x;
	return (struct rgb){ (int)lround((r + m) * 255), (int)lround((g + m) * 255),
			     (int)lround((b + m) * 255) };
}

static int clamp255(int v)
{
	return v < 0 ? 0 : v > 255 ? 255 : v;
}

static struct rgb frame_colour(enum fg_colors scheme, const char *name, size_t len)
{
	uint32_t h = fnv(name, len);
	int v = (int)(h % 31) - 15;
	const char *mod;
	size_t mlen;

	switch (scheme) {
	case FG_COLORS_MODULE:
		mlen = fg_frame_module(name, len, &mod);
		return hsl(fnv(mod, mlen) % 360, 0.55, 0.66 + v / 400.0);
	case FG_COLORS_KIND:
		switch (fg_frame_kind(name, len)) {
		case FG_KIND_KERNEL:
			return (struct rgb){ 235, clamp255(145 + v), 60 };
		case FG_KIND_RUNTIME:
			return (struct rgb){ clamp255(125 + v), clamp255(155 + v), 205 };
		default:
			return (struct rgb){ clamp255(105 + v), 200, clamp255(110 + v) };
		}
	default:
		/* Warm colours: red to yellow, never cold, so a diff graph is not confused. */
		return (struct rgb){ 205 + (int)(h % 50), 70 + (int)((h >> 8) % 140),
				     30 + (int)((h >> 16) % 45) };
	}
}

static struct rgb diff_colour(double delta, double maxabs)
{
	double t = maxabs > 0 ? fabs(delta) / maxabs : 0;
	int fade = (int)lround(255 - 200 * (t > 1 ? 1 : t));

	if (fabs(delta) < 1e-12)	/* rounding noise of equal shares */
		return (struct rgb){ 255, 255, 255 };
	if (delta > 0)
		return (struct rgb){ 255, fade, fade };
	if (delta < 0)
		return (struct rgb){ fade, fade, 255 };
	return (struct rgb){ 255, 255, 255 };
}

/* Writes s as XML text or attribute content: escaped, invalid bytes and controls as '?'. */
static void xml_put(FILE *fp, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	uint32_t cp;

	while (i < len) {
		switch (p[i]) {
		case '&': fputs("&amp;", fp); i++; continue;
		case '<': fputs("&lt;", fp); i++; continue;
		case '>': fputs("&gt;", fp); i++; continue;
		case '"': fputs("&quot;", fp); i++; continue;
		default: break;
		}
		k = utf8_decode(p + i, len - i, &cp);
		if (!k || (p[i] < 0x20 && p[i] != '\t')) {
			fputc('?', fp);
			i++;
			continue;
		}
		fwrite(p + i, 1, k, fp);
		i += k;
	}
}

void fg_xml_put(FILE *fp, const char *s, size_t len)
{
	xml_put(fp, s, len);
}

/* The label that fits w px: the name, or its head and "..", or nothing. */
static void put_label(FILE *fp, const char *name, size_t len, double w)
{
	long chars = (long)((w - 6) / CHAR_W);
	size_t n = 0, cut;

	if (chars < 3)
		return;
	for (size_t i = 0; i < len; i++)	/* count code points */
		n += ((unsigned char)name[i] & 0xc0) != 0x80;
	if ((long)n <= chars) {
		xml_put(fp, name, len);
		return;
	}
	cut = 0;
	for (long c = 0; cut < len && c < chars - 2; c++) {
		cut++;
		while (cut < len && ((unsigned char)name[cut] & 0xc0) == 0x80)
			cut++;
	}
	xml_put(fp, name, cut);
	fputs("..", fp);
}

struct render {
	const struct fg_tree *t;
	const struct fg_svg_opts *o;
	FILE *fp;
	uint32_t *level;	/* per node: 0 not drawn, else depth + 1 */
	uint32_t maxdepth;
	uint64_t present, drawn;
	double scale;		/* px per sample */
	uint64_t total, base_total;
	double maxabs;		/* largest |share change| drawn (diff) */
	const char *unit;
};

static double share(uint64_t n, uint64_t total)
{
	return total ? (double)n / (double)total : 0;
}

/* Decides which nodes are drawn and at what depth: parents come before children by id. */
static int plan(struct render *r)
{
	const struct fg_tree *t = r->t;
	size_t n = fg_tree_nodes(t);

	r->level = calloc(n, sizeof(*r->level));
	if (!r->level)
		return -ENOMEM;
	r->level[FG_ROOT] = 1;
	r->drawn = 1;
	r->present = 1;
	for (size_t id = 1; id < n; id++) {
		const struct fg_node *nd = fg_tree_node(t, (uint32_t)id);
		uint32_t pl = r->level[nd->parent];

		if (!nd->total[0])
			continue;
		r->present++;
		if (!pl || (double)nd->total[0] * r->scale < r->o->minwidth)
			continue;
		r->level[id] = pl + 1;
		r->drawn++;
		if (pl > r->maxdepth)
			r->maxdepth = pl;
		if (r->o->diff) {
			double d = share(nd->total[0], r->total) - share(nd->total[1], r->base_total);

			if (fabs(d) > r->maxabs)
				r->maxabs = fabs(d);
		}
	}
	return 0;
}

static void put_frame(struct render *r, uint32_t id, uint32_t depth, uint64_t x0)
{
	const struct fg_node *nd = fg_tree_node(r->t, id);
	size_t len;
	const char *name = fg_tree_name(r->t, nd->name, &len);
	double x = PAD + (double)x0 * r->scale, w = (double)nd->total[0] * r->scale;
	int y = r->o->icicle ? TOP + (int)depth * FRAME_H
			     : TOP + (int)(r->maxdepth - depth) * FRAME_H;
	struct rgb c;
	FILE *fp = r->fp;

	fprintf(fp, "<g class=\"f\" data-x=\"%llu\" data-n=\"%llu\" data-d=\"%u\"><title>",
		(unsigned long long)x0, (unsigned long long)nd->total[0], depth);
	xml_put(fp, name, len);
	fprintf(fp, "&#10;%llu %s (%.2f%%)", (unsigned long long)nd->total[0], r->unit,
		100 * share(nd->total[0], r->total));
	if (r->o->diff) {
		double d = share(nd->total[0], r->total) - share(nd->total[1], r->base_total);

		fprintf(fp, ", base %llu (%.2f%%), %+.2f pp", (unsigned long long)nd->total[1],
			100 * share(nd->total[1], r->base_total), 100 * d);
		c = diff_colour(d, r->maxabs);
	} else {
		c = frame_colour(r->o->colors, name, len);
	}
	fprintf(fp, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" "
		    "fill=\"rgb(%d,%d,%d)\"/><text x=\"%.2f\" y=\"%d\">",
		x, y, w, FRAME_H - 1, c.r, c.g, c.b, x + 3, y + FRAME_H - 4);
	put_label(fp, name, len, w);
	fputs("</text></g>\n", fp);
}

struct item {
	uint32_t node, depth;
	uint64_t x0;
};

/* Depth-first in name order, so the output is the same for the same tree. */
static int draw(struct render *r)
{
	struct item *stack = NULL;
	size_t n = 0, cap = 0, ckids = 0;
	uint32_t *kids = NULL;
	int ret = 0;

	stack = malloc(256 * sizeof(*stack));
	if (!stack)
		return -ENOMEM;
	cap = 256;
	stack[n++] = (struct item){ FG_ROOT, 0, 0 };
	while (n) {
		struct item it = stack[--n];
		long nk;
		uint64_t x;

		put_frame(r, it.node, it.depth, it.x0);
		nk = fg_tree_children_sorted(r->t, it.node, 0, &kids, &ckids);
		if (nk < 0) {
			ret = (int)nk;
			goto out;
		}
		if (n + (size_t)nk > cap) {
			size_t ncap = cap;
			struct item *ns;

			while (ncap < n + (size_t)nk)
				ncap *= 2;
			ns = realloc(stack, ncap * sizeof(*ns));
			if (!ns) {
				ret = -ENOMEM;
				goto out;
			}
			stack = ns;
			cap = ncap;
		}
		/* Children left to right from the parent's left edge; push right to left. */
		x = it.x0;
		for (long i = 0; i < nk; i++)
			x += fg_tree_node(r->t, kids[i])->total[0];
		for (long i = nk - 1; i >= 0; i--) {
			x -= fg_tree_node(r->t, kids[i])->total[0];
			if (r->level[kids[i]])
				stack[n++] = (struct item){ kids[i], it.depth + 1, x };
		}
	}
out:
	free(stack);
	free(kids);
	return ret;
}

static void put_header(struct render *r, int height)
{
	const struct fg_svg_opts *o = r->o;
	FILE *fp = r->fp;
	const char *title = o->title ? o->title
			    : o->diff ? "Differential Flame Graph"
			    : o->icicle ? "Icicle Graph" : "Flame Graph";
	unsigned w = o->width;

	fprintf(fp, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		    "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%u\" "
		    "height=\"%d\" viewBox=\"0 0 %u %d\" id=\"fg\" data-total=\"%llu\" "
		    "data-pad=\"%d\" data-icicle=\"%d\" data-diff=\"%d\" data-unit=\"",
		w, height, w, height, (unsigned long long)r->total, PAD, o->icicle, o->diff);
	xml_put(fp, r->unit, strlen(r->unit));
	fputs("\">\n<!-- drawn by reconperf flame -->\n", fp);
	fputs("<defs><linearGradient id=\"fg-bg\" x1=\"0\" y1=\"0\" x2=\"0\" y2=\"1\">"
	      "<stop offset=\"0\" stop-color=\"#f4f4f4\"/><stop offset=\"1\" "
	      "stop-color=\"#e8e8de\"/></linearGradient></defs>\n", fp);
	fputs("<style>text{font-family:monospace;font-size:12px;fill:#111}"
	      "#fg-title{font-size:17px;font-weight:bold}#fg-sub{fill:#555}"
	      ".btn{cursor:pointer;fill:#1a4d99;text-decoration:underline}"
	      "g.f{cursor:pointer}g.f text{pointer-events:none}"
	      "g.f rect{rx:1px}"
	      "g.f:hover rect{stroke:#000;stroke-width:1}"
	      ".hide{display:none}g.anc rect{opacity:0.55}</style>\n", fp);
	fprintf(fp, "<script type=\"text/ecmascript\"><![CDATA[\n%s]]></script>\n", fg_flame_js);
	fprintf(fp, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%d\" fill=\"url(#fg-bg)\"/>\n",
		w, height);
	fprintf(fp, "<text id=\"fg-title\" x=\"%u\" y=\"22\" text-anchor=\"middle\">", w / 2);
	xml_put(fp, title, strlen(title));
	fprintf(fp, "</text>\n<text id=\"fg-sub\" x=\"%u\" y=\"40\" text-anchor=\"middle\">", w / 2);
	if (o->subtitle) {
		xml_put(fp, o->subtitle, strlen(o->subtitle));
		fputs(" \xc2\xb7 ", fp);
	}
	fprintf(fp, "%llu %s, %llu frames", (unsigned long long)r->total, r->unit,
		(unsigned long long)r->drawn);
	if (r->present > r->drawn)
		fprintf(fp, " (%llu narrower than %g px elided)",
			(unsigned long long)(r->present - r->drawn), o->minwidth);
	if (o->diff)
		fprintf(fp, " \xc2\xb7 base %llu %s; red grew, blue shrank",
			(unsigned long long)r->base_total, r->unit);
	fprintf(fp, "</text>\n<text id=\"fg-reset\" class=\"btn hide\" x=\"%d\" y=\"22\">"
		    "Reset zoom</text>\n", PAD);
	fprintf(fp, "<text id=\"fg-search\" class=\"btn\" x=\"%u\" y=\"22\" "
		    "text-anchor=\"end\">Search</text>\n", w - PAD);
	fprintf(fp, "<text id=\"fg-details\" x=\"%d\" y=\"%d\"> </text>\n", PAD, height - 10);
	fprintf(fp, "<text id=\"fg-matched\" x=\"%u\" y=\"%d\" text-anchor=\"end\"> </text>\n",
		w - PAD, height - 10);
}

int fg_svg_write(const struct fg_tree *t, const struct fg_svg_opts *o, FILE *fp)
{
	struct render r = { .t = t, .o = o, .fp = fp };
	int ret, height;

	if (o->width < 2 * PAD + 10 || o->width > 1000000 || !(o->minwidth >= 0))
		return -EINVAL;
	r.total = fg_tree_node(t, FG_ROOT)->total[0];
	r.base_total = fg_tree_node(t, FG_ROOT)->total[1];
	if (!r.total)
		return -EINVAL;
	r.unit = o->unit ? o->unit : "samples";
	r.scale = (double)(o->width - 2 * PAD) / (double)r.total;
	ret = plan(&r);
	if (ret)
		goto out;
	height = TOP + (int)(r.maxdepth + 1) * FRAME_H + BOTTOM;
	put_header(&r, height);
	fputs("<g id=\"fg-frames\">\n", fp);
	ret = draw(&r);
	if (ret)
		goto out;
	fputs("</g>\n<text id=\"fg-selftest\" class=\"hide\" x=\"0\" y=\"0\"></text>\n</svg>\n", fp);
	if (ferror(fp))
		ret = -EIO;
out:
	free(r.level);
	return ret;
}
