/*
 * The flame graph SVG and the HTML report in a real browser: headless Chromium (Debian's
 * chromium, no network features) loads the file, the page's own script clicks a frame and
 * searches when the URL asks for #selftest, and writes what happened into the DOM; the test
 * reads the DOM that Chromium dumps. Console messages (errors, uncaught exceptions) fail
 * the test. Screenshots are kept in $(B)/artifacts/ for people to look at.
 */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/hist.h"
#include "bench/result.h"
#include "flamegraph/html.h"
#include "flamegraph/load.h"
#include "tests/util.h"

#define CHROMIUM "/usr/bin/chromium"

static void need_chromium(void)
{
	if (!file_exists(CHROMIUM))
		cr_skip_test("chromium is not installed (make deps installs it)");
}

/*
 * Loads url in headless Chromium; returns the DOM after the page's scripts ran (or, with
 * shot, writes a screenshot there instead and returns stdout). *console gets the console
 * lines Chromium logged (empty when the page logged nothing).
 */
static char *browse(const char *url, const char *shot, char **console)
{
	struct run_result r;
	char *dir = tmpdir_new(), *out;
	char *line, *save = NULL;
	size_t cap = 1, len = 0;

	cr_assert(dir);
	run_sh(&r, "timeout 180 " CHROMIUM " --headless --no-sandbox --disable-gpu --disable-quic "
		   "--no-first-run --disable-background-networking --disable-component-update "
		   "--disable-sync --disable-extensions --user-data-dir=%s/profile "
		   "--enable-logging=stderr --v=0 --virtual-time-budget=5000 "
		   "--window-size=1280,900 %s%s '%s'",
	       dir, shot ? "--screenshot=" : "--dump-dom", shot ? shot : "", url);
	cr_assert_eq(r.status, 0, "chromium failed (%d): %s", r.status, r.err);
	*console = calloc(1, 1);
	for (line = strtok_r(r.err, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strstr(line, ":CONSOLE"))
			continue;
		cap += strlen(line) + 1;
		*console = realloc(*console, cap);
		len += (size_t)sprintf(*console + len, "%s\n", line);
	}
	out = r.out;
	r.out = NULL;
	run_result_fini(&r);
	run_sh(&r, "rm -rf %s", dir);
	run_result_fini(&r);
	free(dir);
	return out;
}

/* The JSON the page wrote into the element with id (its text, entities decoded). */
static cJSON *selftest_json(const char *dom, const char *id)
{
	char open[64];
	const char *p, *q;
	char *txt, *w;
	cJSON *j;

	snprintf(open, sizeof(open), "id=\"%s\"", id);
	p = strstr(dom, open);
	cr_assert(p, "no element #%s in the DOM", id);
	cr_assert(strstr(p, "data-done=\"1\""), "the self-test did not finish: %.300s", p);
	p = strchr(p, '>');
	cr_assert(p);
	q = strstr(++p, "</");
	cr_assert(q);
	txt = strndup(p, (size_t)(q - p));
	w = txt;
	for (const char *s = txt; *s;) {	/* &amp; &lt; &gt; &quot; from the serializer */
		static const char *const ent[][2] = {
			{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" } };
		size_t k;

		for (k = 0; k < 4; k++)
			if (!strncmp(s, ent[k][0], strlen(ent[k][0])))
				break;
		if (k < 4) {
			*w++ = ent[k][1][0];
			s += strlen(ent[k][0]);
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
	j = cJSON_Parse(txt);
	cr_assert(j, "not JSON: %s", txt);
	free(txt);
	return j;
}

#define num json_num

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert(fp);
	fputs(text, fp);
	cr_assert_eq(fclose(fp), 0);
}

static char *artifacts(void)
{
	char *d;

	cr_assert(asprintf(&d, "%s/artifacts", rp_build()) > 0);
	mkdir(d, 0755);
	return d;
}

/* 10 samples: main 8 (a 4: b 3, c 1; d 4), other 2 (b 2). */
static const char stacks[] = "main;a;b 3\nmain;d 4\nmain;a;c 1\nother;b 2\n";

static char *make_svg(const char *dir, const char *extra)
{
	char *in, *svg;
	struct run_result r;

	cr_assert(asprintf(&in, "%s/in.folded", dir) > 0);
	cr_assert(asprintf(&svg, "%s/flame.svg", dir) > 0);
	write_text(in, stacks);
	run_sh(&r, "%s flame %s -o %s %s", rp_bin(), in, svg, extra);
	cr_assert_eq(r.status, 0, "%s", r.err);
	run_result_fini(&r);
	free(in);
	return svg;
}

Test(html, flame_svg_zooms_on_click_and_searches_in_chromium, .timeout = 600)
{
	char *dir, *svg, *url, *dom, *console;
	cJSON *j;

	need_chromium();
	dir = tmpdir_new();
	svg = make_svg(dir, "");
	/* Click "a" (4 of 10 samples), then search ^b$: b under a (3) and under other (2). */
	cr_assert(asprintf(&url, "file://%s#selftest&z=a&q=%%5Eb%%24", svg) > 0);
	dom = browse(url, NULL, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	j = selftest_json(dom, "fg-selftest");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")), 0);
	cr_assert_eq(num(j, "frames"), 8);
	cr_assert_eq(num(j, "visibleBefore"), 8);
	cr_assert_eq(num(j, "zoom.zoomed"), 1, "the click zoomed");
	cr_assert_eq(num(j, "zoom.samples"), 4);
	cr_assert_float_eq(num(j, "zoom.width"), num(j, "fullWidth"), 0.01, "a fills the width");
	cr_assert_float_eq(num(j, "zoom.x"), 10, 0.01);
	/* Left: all and main (dimmed callers), a, b, c; gone: d, other, other;b. */
	cr_assert_eq(num(j, "zoom.visible"), 5);
	cr_assert_eq(num(j, "zoom.resetShown"), 1);
	cr_assert_eq(num(j, "search.frames"), 2);
	cr_assert_eq(num(j, "search.matched"), 5);
	cr_assert_float_eq(num(j, "search.share"), 50.0, 1e-9);
	cr_assert(strstr(dom, "Matched: 50.00% (5 of 10)"), "matched text shown");
	/* The DOM itself changed: b (3 of a's 4 samples) is now 3/4 of the full width. */
	cr_assert(strstr(dom, "width=\"885.00\""), "b rescaled to 885 px");
	cJSON_Delete(j);
	free(dom);
	free(console);
	free(url);

	/* Nested matches count once: main (8) holds a (4). */
	cr_assert(asprintf(&url, "file://%s#selftest&z=main&q=%%5E(main%%7Ca)%%24", svg) > 0);
	dom = browse(url, NULL, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	j = selftest_json(dom, "fg-selftest");
	cr_assert_eq(num(j, "search.frames"), 2);
	cr_assert_eq(num(j, "search.matched"), 8);
	cr_assert_float_eq(num(j, "search.share"), 80.0, 1e-9);
	cJSON_Delete(j);
	free(dom);
	free(console);
	free(url);
	free(svg);
	free(dir);
}

Test(html, flame_svg_screenshot_is_kept_as_an_artifact, .timeout = 600)
{
	char *dir, *svg, *url, *out, *console, *art, *png;
	struct stat st;

	need_chromium();
	dir = tmpdir_new();
	art = artifacts();
	cr_assert(asprintf(&svg, "%s/gen.svg", dir) > 0);
	{
		struct run_result r;

		run_sh(&r, "%s/tests/foldedgen 2000 5 25 3 > %s/gen.folded && "
			   "%s flame %s/gen.folded --colors module --title 'generated stacks' -o %s",
		       rp_build(), dir, rp_bin(), dir, svg);
		cr_assert_eq(r.status, 0, "%s", r.err);
		run_result_fini(&r);
	}
	cr_assert(asprintf(&png, "%s/flame-search.png", art) > 0);
	remove(png);
	cr_assert(asprintf(&url, "file://%s#q=reconcile", svg) > 0);
	out = browse(url, png, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	cr_assert_eq(stat(png, &st), 0, "no screenshot at %s", png);
	cr_assert_gt(st.st_size, 10000, "screenshot is %lld bytes", (long long)st.st_size);
	free(out);
	free(console);
	free(url);
	free(png);
	free(svg);
	free(art);
	free(dir);
}

/* A report with one run whose numbers are known: 1000 reconciles of 1 ms..1 s, 50 points. */
static void make_report(struct bench_report *rep)
{
	struct bench_run *r = bench_run_new();
	struct bench_fault_stat *f;

	memset(rep, 0, sizeof(*rep));
	snprintf(rep->scenario, sizeof(rep->scenario), "backup <by-scan>");
	snprintf(rep->date, sizeof(rep->date), "2026-11-27T03:00:00Z");
	snprintf(rep->host, sizeof(rep->host), "testhost");
	snprintf(rep->version, sizeof(rep->version), "0.1.0");
	snprintf(rep->options, sizeof(rep->options), "reconperf bench --html r.html");
	rep->seed = 42;
	cr_assert(r);
	snprintf(r->name, sizeof(r->name), "backup");
	r->objects = 500;
	r->workers = 4;
	r->wall_ns = 3000000000ull;
	r->cpu_ns = 2500000000ull;
	r->reconciles = 1000;
	r->per_second = 333.3;
	r->results[BR_SUCCESS] = 990;
	r->results[BR_ERROR] = 10;
	r->latency = hist_new();
	r->queue_wait = hist_new();
	for (int i = 0; i < 1000; i++) {
		hist_record(r->latency, 1000000ull + (uint64_t)i * i * 1000);
		hist_record(r->queue_wait, 10000ull + (uint64_t)i * 100);
	}
	r->npoints = 50;
	r->points = calloc(r->npoints, sizeof(*r->points));
	for (size_t i = 0; i < r->npoints; i++) {
		r->points[i].t_ns = (i + 1) * 100000000ull;
		r->points[i].reconciles_per_s = 300 + (double)(i % 7) * 10;
		r->points[i].depth = 50 - i;
		r->points[i].unconverged = i < 40 ? 40 - i : 0;
	}
	f = bench_run_add_fault(r, "conflict");
	cr_assert(f);
	f->injected = 25;
	for (int i = 0; i < 25; i++)
		hist_record(f->converge, 5000000ull * (uint64_t)(i + 1));
	r->convergence.converged = true;
	r->convergence.time_ns = 200000000ull;
	cr_assert_eq(bench_run_add_stuck(r, "backup/ns/<b7>", "status.phase \"Pending\""), 0);
	cr_assert_eq(bench_report_add(rep, r), 0);
}

Test(html, report_renders_charts_and_flame_graphs_in_chromium, .timeout = 600)
{
	struct bench_report rep;
	char *dir, *folded, *svg = NULL, *html, *url, *dom, *console, *art, *png, err[256];
	struct run_result r;
	cJSON *j, *fl;
	FILE *fp;

	need_chromium();
	dir = tmpdir_new();
	art = artifacts();
	make_report(&rep);
	cr_assert(asprintf(&folded, "%s/cpu.folded", dir) > 0);
	write_text(folded, stacks);
	cr_assert_eq(fg_render_file(folded, NULL, NULL, &svg, err, sizeof(err)), 0, "%s", err);
	cr_assert(asprintf(&html, "%s/report.html", dir) > 0);
	fp = fopen(html, "w");
	cr_assert_eq(html_report_write(fp, &rep, svg, NULL), 0);
	cr_assert_eq(fclose(fp), 0);
	bench_report_fini(&rep);

	/* Self-contained: nothing is fetched from anywhere. */
	run_sh(&r, "grep -E -c '(src|href)=\"(https?:|//)' %s", html);
	cr_assert_str_eq(r.out, "0\n", "the report references the network");
	run_result_fini(&r);
	dom = read_file(html, NULL);
	cr_assert(strstr(dom, "backup &lt;by-scan&gt;"), "scenario name escaped");
	cr_assert(strstr(dom, "backup/ns/&lt;b7&gt;"));
	free(dom);

	cr_assert(asprintf(&url, "file://%s#selftest", html) > 0);
	dom = browse(url, NULL, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	j = selftest_json(dom, "report-selftest");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")), 0);
	/* 4 percentile markers plus bars; latency spans 1 ms..1 s, three decades. */
	cr_assert_gt(num(j, "charts.latency-0.marks"), 12);
	cr_assert_gt(num(j, "charts.queue-wait-0.marks"), 4);
	cr_assert_eq(num(j, "charts.throughput-0.marks"), 1);
	cr_assert_eq(num(j, "charts.depth-0.marks"), 2);
	cr_assert_geq(num(j, "charts.latency-0.width"), 760, "laid out at full size");
	/* The CPU flame graph in its iframe ran its own click and search: a is 4 of 10. */
	fl = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "flames"), "flame-cpu");
	cr_assert(fl, "the flame graph did not answer");
	cr_assert_eq(num(fl, "zoom.zoomed"), 1);
	cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(fl, "zoom"), "name")->valuestring,
			 "main");
	cr_assert_float_eq(num(fl, "zoom.width"), num(fl, "fullWidth"), 0.01);
	cr_assert_float_eq(num(fl, "search.share"), 80.0, 1e-9, "^main$ is 8 of 10");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(fl, "errors")), 0);
	cJSON_Delete(j);
	free(dom);
	free(console);
	free(url);

	cr_assert(asprintf(&png, "%s/report.png", art) > 0);
	remove(png);
	cr_assert(asprintf(&url, "file://%s", html) > 0);
	dom = browse(url, png, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	cr_assert(file_exists(png), "no screenshot");
	free(dom);
	free(console);
	free(url);
	free(png);
	free(art);
	free(svg);
	free(html);
	free(folded);
	free(dir);
}

/* The real path: reconperf bench --html, then the page in the browser. */
Test(html, bench_html_report_opens_without_errors, .timeout = 600)
{
	char *dir = tmpdir_new(), *url, *dom, *console;
	struct run_result r;
	cJSON *j;

	need_chromium();
	run_sh(&r, "%s bench -q --objects 200 --seed 3 --html %s/bench.html -o %s/bench.txt",
	       rp_bin(), dir, dir);
	cr_assert_eq(r.status, 0, "bench: %s", r.err);
	run_result_fini(&r);
	cr_assert(asprintf(&url, "file://%s/bench.html#selftest", dir) > 0);
	dom = browse(url, NULL, &console);
	cr_assert_str_empty(console, "console output: %s", console);
	j = selftest_json(dom, "report-selftest");
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")), 0);
	cr_assert_gt(num(j, "charts.latency-0.marks"), 4, "bars and percentile markers");
	cr_assert(strstr(dom, "Reconcile latency"));
	cJSON_Delete(j);
	free(dom);
	free(console);
	free(url);
	free(dir);
}
