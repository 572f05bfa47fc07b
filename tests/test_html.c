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

static double num(const cJSON *j, const char *path)
{
	char buf[128], *tok, *save = NULL;
	const cJSON *c = j;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		c = cJSON_GetObjectItemCaseSensitive(c, tok);
		cr_assert(c, "no %s in the self-test result", path);
	}
	if (cJSON_IsBool(c))
		return cJSON_IsTrue(c);
	cr_assert(cJSON_IsNumber(c), "%s is not a number", path);
	return c->valuedouble;
}

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
