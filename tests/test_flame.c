/*
 * Flame graphs: the stack tree, the folded reader and writer, and the SVG that `reconperf
 * flame` writes, checked by parsing the SVG with libxml2 (frame widths, nesting, colours,
 * the icicle flip) and validating it with xmllint. The browser side (zoom, search) is in
 * tests/test_html.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flamegraph/foldconv.h"
#include "flamegraph/folded.h"
#include "flamegraph/stacktree.h"
#include "flamegraph/svg.h"
#include "profiler/pprof.h"
#include "tests/gopprof.h"
#include "tests/util.h"

struct frame {
	char name[128];
	unsigned long long x0, n;
	unsigned d;
	double x, y, w;
	int r, g, b;
};

struct svg {
	size_t n;
	struct frame f[16384];
	double width;
	unsigned long long total;
	char sub[512];
};

static char *xattr(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = v ? strdup((char *)v) : NULL;

	xmlFree(v);
	return s;
}

static double dattr(xmlNode *n, const char *name)
{
	char *s = xattr(n, name);
	double v = s ? strtod(s, NULL) : NAN;

	free(s);
	return v;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

/* Parses an SVG written by reconperf flame into its frames. */
static void svg_parse(const char *path, struct svg *s)
{
	xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
	xmlXPathContext *ctx;
	xmlXPathObject *o;

	cr_assert(doc, "%s is not well-formed XML", path);
	memset(s, 0, sizeof(*s));
	s->width = dattr(xmlDocGetRootElement(doc), "width");
	s->total = (unsigned long long)dattr(xmlDocGetRootElement(doc), "data-total");
	ctx = xmlXPathNewContext(doc);
	xmlXPathRegisterNs(ctx, (const xmlChar *)"s", (const xmlChar *)"http://www.w3.org/2000/svg");
	o = xmlXPathEvalExpression((const xmlChar *)"//s:g[@class='f']", ctx);
	cr_assert(o && o->nodesetval);
	for (int i = 0; i < o->nodesetval->nodeNr && s->n < 16384; i++) {
		xmlNode *g = o->nodesetval->nodeTab[i], *t = child(g, "title"), *r = child(g, "rect");
		struct frame *f = &s->f[s->n++];
		xmlChar *title = xmlNodeGetContent(t);
		char *fill = xattr(r, "fill");

		snprintf(f->name, sizeof(f->name), "%.*s", (int)strcspn((char *)title, "\n"),
			 (char *)title);
		xmlFree(title);
		f->x0 = (unsigned long long)dattr(g, "data-x");
		f->n = (unsigned long long)dattr(g, "data-n");
		f->d = (unsigned)dattr(g, "data-d");
		f->x = dattr(r, "x");
		f->y = dattr(r, "y");
		f->w = dattr(r, "width");
		cr_assert(fill && sscanf(fill, "rgb(%d,%d,%d)", &f->r, &f->g, &f->b) == 3,
			  "fill %s", fill);
		free(fill);
	}
	xmlXPathFreeObject(o);
	o = xmlXPathEvalExpression((const xmlChar *)"//s:text[@id='fg-sub']", ctx);
	if (o && o->nodesetval && o->nodesetval->nodeNr) {
		xmlChar *c = xmlNodeGetContent(o->nodesetval->nodeTab[0]);

		snprintf(s->sub, sizeof(s->sub), "%s", (char *)c);
		xmlFree(c);
	}
	xmlXPathFreeObject(o);
	xmlXPathFreeContext(ctx);
	xmlFreeDoc(doc);
}

static const struct frame *find(const struct svg *s, const char *name, unsigned d)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->f[i].name, name) && s->f[i].d == d)
			return &s->f[i];
	return NULL;
}

static size_t count(const struct svg *s, const char *name)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		k += !strcmp(s->f[i].name, name);
	return k;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
}

/* Runs reconperf flame with extra arguments on a folded text; parses the result. */
static void flame(const char *dir, const char *folded, const char *args, struct svg *s)
{
	char in[512], out[512];
	struct run_result r;

	snprintf(in, sizeof(in), "%s/in.folded", dir);
	snprintf(out, sizeof(out), "%s/out.svg", dir);
	write_text(in, folded);
	run_sh(&r, "%s flame %s -o %s %s", rp_bin(), in, out, args);
	cr_assert_eq(r.status, 0, "flame failed: %s", r.err);
	run_result_fini(&r);
	run_sh(&r, "xmllint --noout %s", out);
	cr_assert_eq(r.status, 0, "xmllint: %s", r.err);
	run_result_fini(&r);
	svg_parse(out, s);
}

static struct svg S;

static const char three[] = "main;a;b 3\nmain;d 4\nmain;a;c 1\n";

Test(flame, frame_widths_are_proportional_to_counts)
{
	char *dir = tmpdir_new();

	flame(dir, three, "--width 1220", &S);	/* 1200 px for the frames */
	cr_assert_eq(S.total, 8);
	cr_assert_eq(S.n, 6);
	cr_assert_float_eq(find(&S, "all", 0)->w, 1200.0, 0.01);
	cr_assert_float_eq(find(&S, "main", 1)->w, 1200.0, 0.01);
	cr_assert_float_eq(find(&S, "a", 2)->w, 600.0, 0.01);
	cr_assert_float_eq(find(&S, "d", 2)->w, 600.0, 0.01);
	cr_assert_float_eq(find(&S, "b", 3)->w, 450.0, 0.01);
	cr_assert_float_eq(find(&S, "c", 3)->w, 150.0, 0.01);
	for (size_t i = 0; i < S.n; i++)
		cr_assert_float_eq(S.f[i].w, 1200.0 * (double)S.f[i].n / 8, 0.01, "%s", S.f[i].name);
	free(dir);
}

Test(flame, identical_prefixes_are_merged_into_one_frame)
{
	char *dir = tmpdir_new();
	const struct frame *a;

	/* Interleaved and repeated lines: still one main, one a, one b. */
	flame(dir, "main;a;b 2\nmain;x 5\nmain;a;b 3\nmain;a 1\nmain;a;c 4\n", "", &S);
	cr_assert_eq(count(&S, "main"), 1);
	cr_assert_eq(count(&S, "a"), 1);
	cr_assert_eq(count(&S, "b"), 1);
	a = find(&S, "a", 2);
	cr_assert_eq(a->n, 10, "a holds b (5), c (4) and its own 1");
	cr_assert_eq(find(&S, "b", 3)->n, 5);
	cr_assert_eq(find(&S, "main", 1)->n, 15);
	free(dir);
}

Test(flame, children_sit_inside_their_parent_in_name_order)
{
	char *dir = tmpdir_new();
	const struct frame *a, *b, *c, *d;

	flame(dir, three, "", &S);
	a = find(&S, "a", 2);
	b = find(&S, "b", 3);
	c = find(&S, "c", 3);
	d = find(&S, "d", 2);
	cr_assert(b->x >= a->x - 0.01 && b->x + b->w <= a->x + a->w + 0.01);
	cr_assert(c->x >= a->x - 0.01 && c->x + c->w <= a->x + a->w + 0.01);
	cr_assert_lt(b->x, c->x, "b left of c");
	cr_assert_lt(a->x, d->x, "a left of d");
	cr_assert_float_eq(a->x + a->w, d->x, 0.01, "siblings touch");
	/* Flame: deeper frames are higher up (smaller y). */
	cr_assert_lt(b->y, a->y);
	cr_assert_lt(a->y, find(&S, "main", 1)->y);
	free(dir);
}

Test(flame, icicle_puts_the_root_on_top)
{
	char *dir = tmpdir_new();
	double flame_root, flame_leaf;

	flame(dir, three, "", &S);
	flame_root = find(&S, "all", 0)->y;
	flame_leaf = find(&S, "b", 3)->y;
	cr_assert_gt(flame_root, flame_leaf);
	flame(dir, three, "--icicle", &S);
	cr_assert_lt(find(&S, "all", 0)->y, find(&S, "b", 3)->y);
	cr_assert_float_eq(find(&S, "b", 3)->y - find(&S, "all", 0)->y, flame_root - flame_leaf,
			   0.01, "same spacing, inverted");
}

Test(flame, output_is_the_same_for_the_same_stacks)
{
	char *dir = tmpdir_new();
	struct run_result r;

	run_sh(&r, "cd %s && printf 'm;a;b 3\\nm;d 4\\nm;a;c 1\\n' > one && "
		   "printf 'm;a;c 1\\nm;d 4\\nm;a;b 3\\n' > two && "
		   "%s flame one -o one.svg && %s flame two -o two.svg && cmp one.svg two.svg && "
		   "%s flame one -o again.svg && cmp one.svg again.svg",
	       dir, rp_bin(), rp_bin(), rp_bin());
	cr_assert_eq(r.status, 0, "%s%s", r.out, r.err);
	run_result_fini(&r);
	free(dir);
}

Test(flame, narrow_frames_are_elided_and_counted)
{
	char *dir = tmpdir_new();

	/* tiny is 1/100001 of 1180 px = 0.0118 px, below the default 0.1. */
	flame(dir, "main;big 100000\nmain;tiny;deeper 1\n", "", &S);
	cr_assert_null(find(&S, "tiny", 2));
	cr_assert_null(find(&S, "deeper", 3));
	cr_assert(strstr(S.sub, "(2 narrower than 0.1 px elided)"), "subtitle: %s", S.sub);
	flame(dir, "main;big 100000\nmain;tiny;deeper 1\n", "--minwidth 0", &S);
	cr_assert_not_null(find(&S, "deeper", 3));
	cr_assert_null(strstr(S.sub, "elided"));
	free(dir);
}

Test(flame, diff_colours_growth_red_and_shrinkage_blue)
{
	char *dir = tmpdir_new();
	char base[512], cmd[600];
	const struct frame *grew, *shrank, *same, *bit;

	snprintf(base, sizeof(base), "%s/base.folded", dir);
	/* Base: 1000 samples; new: 10 samples, so only shares can be compared. */
	write_text(base, "main;grew 250\nmain;shrank 500\nmain;same 200\nmain;bit 50\n");
	snprintf(cmd, sizeof(cmd), "--diff %s", base);
	flame(dir, "main;grew 4\nmain;shrank 2\nmain;same 2\nmain;bit 2\n", cmd, &S);
	grew = find(&S, "grew", 2);	/* 25% -> 40% */
	shrank = find(&S, "shrank", 2);	/* 50% -> 20% */
	same = find(&S, "same", 2);	/* 20% -> 20% */
	bit = find(&S, "bit", 2);	/* 5% -> 20% */
	cr_assert(grew->r == 255 && grew->g == grew->b && grew->g < 255, "grew %d,%d,%d",
		  grew->r, grew->g, grew->b);
	cr_assert(shrank->b == 255 && shrank->r == shrank->g && shrank->r < 255);
	cr_assert(same->r == 255 && same->g == 255 && same->b == 255, "unchanged is white");
	cr_assert_eq(shrank->r, 55, "the largest change gets the deepest colour");
	/* grew +15 pp and bit +15 pp alike; both half as deep as shrank's -30 pp. */
	cr_assert_eq(grew->g, bit->g);
	cr_assert_eq(grew->g, 155);
	cr_assert(strstr(S.sub, "base 1000 samples"), "%s", S.sub);
	free(dir);
}

Test(flame, bad_input_exits_2_naming_file_and_line_and_writes_nothing)
{
	char *dir = tmpdir_new();
	struct run_result r;
	static const char *const bad[][2] = {
		{ "main;a 1\nmain;b x\n", ":2: sample count is not a whole number" },
		{ "main;a 1\n\nmain;;b 3\n", ":3: empty frame name" },
		{ "main;a\n", ":1: expected 'STACK COUNT', found no count" },
		{ "main;a 99999999999999999999999\n", ":1: sample count out of range" },
		{ " 5\n", ":1: empty stack" },
		{ "\n\n", ": no samples" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[512], out[512];

		snprintf(in, sizeof(in), "%s/bad.folded", dir);
		snprintf(out, sizeof(out), "%s/bad.svg", dir);
		write_text(in, bad[i][0]);
		run_sh(&r, "%s flame %s -o %s", rp_bin(), in, out);
		cr_assert_eq(r.status, 2, "case %zu: status %d", i, r.status);
		cr_assert(strstr(r.err, bad[i][1]) && strstr(r.err, "bad.folded"),
			  "case %zu: %s", i, r.err);
		cr_assert(!file_exists(out), "case %zu left %s behind", i, out);
		run_result_fini(&r);
	}
	run_sh(&r, "%s flame %s/missing -o %s/x.svg", rp_bin(), dir, dir);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "missing"));
	run_result_fini(&r);
	run_sh(&r, "%s flame %s/bad.folded --width 5", rp_bin(), dir);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'--width'"), "%s", r.err);
	run_result_fini(&r);
	run_sh(&r, "%s flame %s/bad.folded --colors plaid", rp_bin(), dir);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'plaid'"), "%s", r.err);
	run_result_fini(&r);
	free(dir);
}

Test(flame, names_are_escaped_and_invalid_utf8_replaced)
{
	char *dir = tmpdir_new();

	flame(dir, "main;operator<<(std::ostream&, \"x\") 2\nmain;bad\xff\xfename 1\n", "", &S);
	cr_assert_not_null(find(&S, "operator<<(std::ostream&, \"x\")", 2));
	cr_assert_not_null(find(&S, "bad??name", 2));
	free(dir);
}

/* Library level: what the reader merges, the writer gives back in order. */
Test(folded, written_stacks_read_back_to_the_same_text)
{
	const char text[] = "main;b 2\nmain;a;x 3\nmain;a 1\nmain;b 4\n";
	struct fg_tree *t = fg_tree_new(), *u = fg_tree_new();
	struct fg_folded_stats st;
	char err[256], *out1 = NULL, *out2 = NULL;
	size_t n1, n2;
	FILE *fp = fmemopen((void *)text, strlen(text), "r"), *o;

	cr_assert_eq(fg_folded_read(t, fp, "mem", 0, &st, err, sizeof(err)), 0, "%s", err);
	fclose(fp);
	cr_assert_eq(st.stacks, 4);
	cr_assert_eq(st.samples, 10);
	fg_tree_finish(t);
	o = open_memstream(&out1, &n1);
	cr_assert_eq(fg_folded_write(t, 0, o), 0);
	fclose(o);
	cr_assert_str_eq(out1, "main;a 1\nmain;a;x 3\nmain;b 6\n");
	fp = fmemopen(out1, n1, "r");
	cr_assert_eq(fg_folded_read(u, fp, "mem", 0, NULL, err, sizeof(err)), 0);
	fclose(fp);
	fg_tree_finish(u);
	o = open_memstream(&out2, &n2);
	fg_folded_write(u, 0, o);
	fclose(o);
	cr_assert_str_eq(out1, out2);
	free(out1);
	free(out2);
	fg_tree_free(t);
	fg_tree_free(u);
}

Test(folded, long_lines_and_crlf_and_missing_final_newline_are_read)
{
	size_t depth = 3000, len = 0;
	char *text = malloc(depth * 12 + 64);
	struct fg_tree *t = fg_tree_new();
	struct fg_folded_stats st;
	char err[256];
	FILE *fp;

	for (size_t i = 0; i < depth; i++)
		len += (size_t)sprintf(text + len, "%sframe%zu", i ? ";" : "", i);
	len += (size_t)sprintf(text + len, " 7\r\nx;y 1");
	fp = fmemopen(text, len, "r");
	cr_assert_eq(fg_folded_read(t, fp, "mem", 0, &st, err, sizeof(err)), 0, "%s", err);
	fclose(fp);
	fg_tree_finish(t);
	cr_assert_eq(st.stacks, 2);
	cr_assert_eq(fg_tree_node(t, FG_ROOT)->total[0], 8);
	cr_assert_eq(fg_tree_nodes(t), depth + 3);
	fg_tree_free(t);
	free(text);
}

static char *folded_of(const char *text, size_t len, int mem, int *rc, char *err, size_t errlen)
{
	struct fg_tree *t = fg_tree_new();
	char *out = NULL;
	size_t n;
	FILE *fp, *o;

	if (mem) {
		*rc = fg_folded_read_mem(t, text, len, "mem", 0, NULL, err, errlen);
	} else {
		fp = fmemopen((void *)text, len, "r");
		*rc = fg_folded_read(t, fp, "mem", 0, NULL, err, errlen);
		fclose(fp);
	}
	if (!*rc) {
		fg_tree_finish(t);
		o = open_memstream(&out, &n);
		fg_folded_write(t, 0, o);
		fclose(o);
	}
	fg_tree_free(t);
	return out;
}

/* Found by fuzz_folded: an empty input gave a tree with no children, and sorting them passed
 * a NULL array to qsort (undefined behaviour, reported by UBSan). */
Test(folded, an_empty_input_reads_to_a_tree_that_writes_nothing)
{
	struct fg_tree *t = fg_tree_new();
	struct fg_folded_stats st;
	uint32_t *kids = NULL;
	size_t cap = 0, n = 0;
	char err[256], *out = NULL;
	FILE *o;

	cr_assert_eq(fg_folded_read_mem(t, "", 0, "mem", 0, &st, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(st.lines, 0);
	cr_assert_eq(st.stacks, 0);
	fg_tree_finish(t);
	cr_assert_eq(fg_tree_children_sorted(t, FG_ROOT, 0, &kids, &cap), 0);
	cr_assert_null(kids);
	o = open_memstream(&out, &n);
	cr_assert_eq(fg_folded_write(t, 0, o), 0);
	fclose(o);
	cr_assert_eq(n, 0);
	free(out);
	fg_tree_free(t);
}

/* The stream reader reads in 64 KiB chunks: lines across chunk ends, and a line longer than a
 * chunk, must come out as the memory reader (one buffer) reads them; so must errors. */
Test(folded, the_memory_reader_and_the_stream_reader_agree_across_chunk_ends)
{
	size_t cap = 400000, len = 0;
	char *text = malloc(cap), err1[256], err2[256], *a, *b;
	int rc1, rc2;

	for (int i = 0; len < 150000; i++)
		len += (size_t)sprintf(text + len, "main;f%d;g%d %d\n", i, i % 13, i % 5 + 1);
	for (int i = 0; i < 9000; i++)	/* one line of ~80 KiB */
		len += (size_t)sprintf(text + len, "%sdeep%d", i ? ";" : "", i);
	len += (size_t)sprintf(text + len, " 3\nmain;tail 2");
	a = folded_of(text, len, 1, &rc1, err1, sizeof(err1));
	b = folded_of(text, len, 0, &rc2, err2, sizeof(err2));
	cr_assert_eq(rc1, 0, "%s", err1);
	cr_assert_eq(rc2, 0, "%s", err2);
	cr_assert_gt(strlen(a), 150000);
	cr_assert(strstr(a, "\nmain;tail 2\n"));
	cr_assert_str_eq(a, b);
	free(a);
	free(b);

	len += (size_t)sprintf(text + len, "\nmain;bad x\n");
	a = folded_of(text, len, 1, &rc1, err1, sizeof(err1));
	b = folded_of(text, len, 0, &rc2, err2, sizeof(err2));
	cr_assert_eq(rc1, -EINVAL);
	cr_assert_eq(rc2, -EINVAL);
	cr_assert_null(a);
	cr_assert_null(b);
	cr_assert(strstr(err1, "mem:") && strstr(err1, "not a whole number"), "%s", err1);
	cr_assert_str_eq(err1, err2);
	free(text);
}

Test(stacktree, totals_are_inclusive_and_self_is_what_children_leave)
{
	struct fg_tree *t = fg_tree_new();
	const char *s1[] = { "m", "a", "b" }, *s2[] = { "m", "a" }, *s3[] = { "m", "c" };
	uint32_t a, m, name;

	cr_assert_eq(fg_tree_add_stack(t, s1, 3, 0, 5), 0);
	cr_assert_eq(fg_tree_add_stack(t, s2, 2, 0, 2), 0);
	cr_assert_eq(fg_tree_add_stack(t, s3, 2, 1, 9), 0);
	fg_tree_finish(t);
	cr_assert_eq(fg_tree_nodes(t), 5);
	fg_tree_intern(t, "m", 1, &name);
	fg_tree_child(t, FG_ROOT, name, &m);
	fg_tree_intern(t, "a", 1, &name);
	fg_tree_child(t, m, name, &a);
	cr_assert_eq(fg_tree_nodes(t), 5, "lookups of existing frames add nothing");
	cr_assert_eq(fg_tree_node(t, m)->total[0], 7);
	cr_assert_eq(fg_tree_node(t, m)->total[1], 9);
	cr_assert_eq(fg_tree_node(t, a)->total[0], 7);
	cr_assert_eq(fg_tree_self(t, a, 0), 2);
	cr_assert_eq(fg_tree_self(t, m, 0), 0);
	fg_tree_free(t);
}

Test(svg, frame_kind_and_module_follow_common_naming)
{
	const char *mod;
	static const struct {
		const char *name;
		enum fg_kind kind;
		const char *module;
	} cases[] = {
		{ "do_syscall_64_[k]", FG_KIND_KERNEL, "do" },
		{ "[kernel.kallsyms]`schedule", FG_KIND_KERNEL, "[kernel.kallsyms]" },
		{ "runtime.mallocgc", FG_KIND_RUNTIME, "runtime" },
		{ "libc.so.6`malloc", FG_KIND_RUNTIME, "libc.so.6" },
		{ "start_thread", FG_KIND_RUNTIME, "start" },
		{ "k8s.io/client-go/tools/cache.(*Reflector).Run", FG_KIND_USER,
		  "k8s.io/client-go/tools/cache" },
		{ "std::vector<int>::push_back(int const&)", FG_KIND_USER, "std::vector<int>" },
		{ "store_update", FG_KIND_USER, "store" },
		{ "main", FG_KIND_USER, "main" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *n = cases[i].name;
		size_t ml = fg_frame_module(n, strlen(n), &mod);

		cr_assert_eq(fg_frame_kind(n, strlen(n)), cases[i].kind, "%s", n);
		cr_assert(ml == strlen(cases[i].module) && !memcmp(mod, cases[i].module, ml),
			  "%s: module '%.*s'", n, (int)ml, mod);
	}
}

Test(flame, kind_colours_tell_kernel_runtime_and_user_apart)
{
	char *dir = tmpdir_new();
	const struct frame *k, *rt, *u;

	flame(dir, "start_thread;reconcile;sys_read_[k] 3\n", "--colors kind", &S);
	k = find(&S, "sys_read_[k]", 3);
	rt = find(&S, "start_thread", 1);
	u = find(&S, "reconcile", 2);
	cr_assert(k->r > k->b + 100, "kernel is orange");
	cr_assert(rt->b > rt->r + 40, "runtime is blue-grey");
	cr_assert(u->g > u->r + 50 && u->g > u->b + 50, "user is green");
	flame(dir, "a`x;a`y;b`z 3\n", "--colors module", &S);
	cr_assert(find(&S, "a`x", 1)->r == find(&S, "a`y", 2)->r ||
		  abs(find(&S, "a`x", 1)->r - find(&S, "a`y", 2)->r) < 12, "same module, same hue");
	free(dir);
}

Test(flame, generated_profile_sums_and_validates)
{
	char *dir = tmpdir_new();
	struct run_result r;
	char out[512];
	unsigned long long sum = 0;

	run_sh(&r, "%s/tests/foldedgen 3000 10 40 7 > %s/gen.folded && "
		   "awk '{ s += $NF } END { print s }' %s/gen.folded",
	       rp_build(), dir, dir);
	cr_assert_eq(r.status, 0, "%s", r.err);
	sum = strtoull(r.out, NULL, 10);
	run_result_fini(&r);
	cr_assert_gt(sum, 0);
	snprintf(out, sizeof(out), "%s/gen.svg", dir);
	run_sh(&r, "%s flame %s/gen.folded -o %s && xmllint --noout %s", rp_bin(), dir, out, out);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(out, &S);
	cr_assert_eq(S.total, sum);
	cr_assert_eq(find(&S, "all", 0)->n, sum);
	/* Every frame's samples cover its drawn children's. */
	for (size_t i = 0; i < S.n; i++) {
		unsigned long long kids = 0;

		for (size_t j = 0; j < S.n; j++)
			if (S.f[j].d == S.f[i].d + 1 && S.f[j].x0 >= S.f[i].x0 &&
			    S.f[j].x0 < S.f[i].x0 + S.f[i].n)
				kids += S.f[j].n;
		cr_assert_leq(kids, S.f[i].n, "%s", S.f[i].name);
	}
	free(dir);
}

/* Same frames (name, depth, first sample, samples) in two parsed SVGs. */
static void assert_same_frames(const struct svg *a, const struct svg *b)
{
	cr_assert_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		cr_assert_str_eq(a->f[i].name, b->f[i].name);
		cr_assert_eq(a->f[i].d, b->f[i].d);
		cr_assert_eq(a->f[i].x0, b->f[i].x0);
		cr_assert_eq(a->f[i].n, b->f[i].n);
		cr_assert_float_eq(a->f[i].w, b->f[i].w, 1e-9);
	}
}

static struct svg S2;

Test(flame, pprof_from_folded_draws_the_same_graph_and_go_pprof_reads_it)
{
	char *dir = tmpdir_new(), in[512], pb[512], svg[512], err[256];
	struct run_result r;
	double flat, cum;

	snprintf(in, sizeof(in), "%s/in.folded", dir);
	snprintf(pb, sizeof(pb), "%s/in.pb.gz", dir);
	snprintf(svg, sizeof(svg), "%s/pb.svg", dir);
	write_text(in, "main;reconcile;store_list 6\nmain;reconcile 1\nmain;wq_get 3\n");
	cr_assert_eq(fg_convert_folded_to_pprof(in, pb, err, sizeof(err)), 0, "%s", err);
	run_sh(&r, "%s flame %s -o %s", rp_bin(), pb, svg);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(svg, &S2);
	flame(dir, "main;reconcile;store_list 6\nmain;reconcile 1\nmain;wq_get 3\n", "", &S);
	assert_same_frames(&S, &S2);
	cr_assert_eq(find(&S2, "reconcile", 2)->n, 7);
	cr_assert_eq(gopprof(&r, "-top", pb), 0, "go tool pprof: %s", r.err);
	cr_assert_eq(gopprof_top_row(r.out, "store_list", &flat, &cum), 0, "%s", r.out);
	cr_assert_float_eq(flat, 60.0, 0.01);
	cr_assert_eq(gopprof_top_row(r.out, "reconcile", &flat, &cum), 0, "%s", r.out);
	cr_assert_float_eq(flat, 10.0, 0.01);
	cr_assert_float_eq(cum, 70.0, 0.01);
	run_result_fini(&r);
	free(dir);
}

Test(folded, pprof_and_back_gives_the_same_folded_text)
{
	char *dir = tmpdir_new(), in[512], pb[512], err[256], *out = NULL;
	const char text[] = "main;a;b 3\nmain;a;b;c 4\nmain;d 1\nother 5\n";
	size_t len;
	FILE *fp;

	snprintf(in, sizeof(in), "%s/in.folded", dir);
	snprintf(pb, sizeof(pb), "%s/in.pb.gz", dir);
	write_text(in, text);
	cr_assert_eq(fg_convert_folded_to_pprof(in, pb, err, sizeof(err)), 0, "%s", err);
	fp = open_memstream(&out, &len);
	cr_assert_eq(fg_convert_to_folded(pb, NULL, fp, err, sizeof(err)), 0, "%s", err);
	fclose(fp);
	cr_assert_str_eq(out, text);
	free(out);
	cr_assert_eq(fg_convert_folded_to_pprof(pb, in, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "pprof profile already"), "%s", err);
	free(dir);
}

/* A heap-like profile with two sample types whose shares differ per stack. */
static void write_two_type_profile(const char *path)
{
	static const struct pprof_value_type types[] = {
		{ "alloc_objects", "count" }, { "alloc_space", "bytes" } };
	struct pprof_builder_opts o = { .sample_types = types, .nsample_types = 2,
					.default_sample_type = "alloc_space" };
	struct pprof_builder *b = pprof_builder_new(&o);
	const char *many[] = { "small_allocs", "main" }, *big[] = { "big_alloc", "main" };
	int64_t v1[] = { 90, 900 }, v2[] = { 10, 9100 };

	cr_assert(b);
	cr_assert_eq(pprof_builder_add_symbolic(b, many, 2, v1, NULL, 0), 0);
	cr_assert_eq(pprof_builder_add_symbolic(b, big, 2, v2, NULL, 0), 0);
	cr_assert_eq(pprof_builder_write(b, path), 0);
	pprof_builder_free(b);
}

Test(flame, sample_index_picks_the_pprof_sample_type)
{
	char *dir = tmpdir_new(), pb[512], out[512];
	struct run_result r;

	snprintf(pb, sizeof(pb), "%s/heap.pb.gz", dir);
	snprintf(out, sizeof(out), "%s/heap.svg", dir);
	write_two_type_profile(pb);
	/* Default: alloc_space (the profile's default_sample_type). */
	run_sh(&r, "%s flame %s -o %s", rp_bin(), pb, out);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(out, &S);
	cr_assert_eq(S.total, 10000);
	cr_assert_eq(find(&S, "big_alloc", 2)->n, 9100);
	cr_assert(strstr(S.sub, "alloc_space"), "%s", S.sub);
	run_sh(&r, "%s flame %s --sample-index alloc_objects -o %s", rp_bin(), pb, out);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(out, &S);
	cr_assert_eq(S.total, 100);
	cr_assert_eq(find(&S, "small_allocs", 2)->n, 90);
	run_sh(&r, "%s flame %s --sample-index 1 -o %s", rp_bin(), pb, out);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(out, &S);
	cr_assert_eq(S.total, 10000);
	remove(out);
	run_sh(&r, "%s flame %s --sample-index inuse_space -o %s", rp_bin(), pb, out);
	cr_assert_eq(r.status, 2);
	cr_assert(strstr(r.err, "'inuse_space'") && strstr(r.err, "alloc_objects, alloc_space"),
		  "%s", r.err);
	cr_assert(!file_exists(out));
	run_result_fini(&r);
	free(dir);
}

Test(flame, diff_of_two_pprof_profiles_compares_shares)
{
	char *dir = tmpdir_new(), pb[512], base[512], out[512], err[256];
	struct run_result r;

	snprintf(pb, sizeof(pb), "%s/new.pb.gz", dir);
	snprintf(base, sizeof(base), "%s/base.folded", dir);
	snprintf(out, sizeof(out), "%s/diff.svg", dir);
	write_text(base, "main;big_alloc 50\nmain;small_allocs 50\n");
	write_two_type_profile(pb);
	run_sh(&r, "%s flame %s --diff %s -o %s", rp_bin(), pb, base, out);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	svg_parse(out, &S);
	/* big_alloc: 50% -> 91%: red; small_allocs 50% -> 9%: blue. */
	cr_assert(find(&S, "big_alloc", 2)->r == 255 && find(&S, "big_alloc", 2)->b < 255);
	cr_assert(find(&S, "small_allocs", 2)->b == 255 && find(&S, "small_allocs", 2)->r < 255);
	(void)err;
	free(dir);
}

Test(flame, corrupt_pprof_exits_2_and_writes_nothing)
{
	char *dir = tmpdir_new();
	struct run_result r;

	run_sh(&r, "cd %s && printf 'main;a 1\\n' > a.folded && %s flame a.folded -o a.svg && "
		   "printf '\\037\\213\\010\\000garbage' > bad.pb.gz && "
		   "%s flame bad.pb.gz -o out.svg; echo \"rc=$?\"; test ! -e out.svg && echo clean",
	       dir, rp_bin(), rp_bin());
	cr_assert(strstr(r.out, "rc=2"), "%s %s", r.out, r.err);
	cr_assert(strstr(r.out, "clean"));
	cr_assert(strstr(r.err, "bad.pb.gz"), "%s", r.err);
	run_result_fini(&r);
	free(dir);
}

/* An output that is not a regular file (a FIFO here; /dev/null in real use) is written in
 * place: renaming a temporary onto /dev/null would replace the machine's device. */
Test(flame, output_to_a_fifo_is_written_in_place)
{
	char *dir = tmpdir_new();
	struct run_result r;

	run_sh(&r, "cd %s && printf 'main;a 1\\n' > a.folded && mkfifo out.svg && "
		   "{ cat out.svg > got.svg & } && %s flame a.folded -o out.svg && wait && "
		   "test -p out.svg && grep -c 'class=\"f\"' got.svg",
	       dir, rp_bin());
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "3\n");
	run_result_fini(&r);
	free(dir);
}

Test(flame, convert_turns_folded_into_pprof_and_back)
{
	char *dir = tmpdir_new();
	struct run_result r;

	run_sh(&r, "cd %s && printf 'main;a;b 3\\nmain;c 2\\nmain;a;b 1\\n' > in.folded && "
		   "%s convert in.folded -o in.pb.gz && %s convert in.pb.gz --to folded -o out.folded && "
		   "cat out.folded", dir, rp_bin(), rp_bin());
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "main;a;b 4\nmain;c 2\n");
	run_result_fini(&r);
	run_sh(&r, "cd %s && printf 'main;a 1\\nmain;b -3\\n' > bad.folded && "
		   "%s convert bad.folded -o bad.pb.gz; echo rc=$?; test ! -e bad.pb.gz && echo clean",
	       dir, rp_bin());
	cr_assert(strstr(r.out, "rc=2") && strstr(r.out, "clean"), "%s", r.out);
	cr_assert(strstr(r.err, "bad.folded:2:"), "%s", r.err);
	run_result_fini(&r);
	run_sh(&r, "%s convert %s/in.pb.gz --to svg -o x", rp_bin(), dir);
	cr_assert_eq(r.status, 2);
	run_result_fini(&r);
	free(dir);
}
