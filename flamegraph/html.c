/* html — see html.h. */
#include "flamegraph/html.h"
#include "flamegraph/svg.h"
#include "common/units.h"

extern const char fg_report_js[];	/* generated from flamegraph/report.js */

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Chart geometry, px. */
#define CW 760
#define CH 230
#define ML 64
#define MR 16
#define MT 16
#define MB 40
#define PW (CW - ML - MR)
#define PH (CH - MT - MB)
#define BINS_PER_DECADE 10

static void put(FILE *fp, const char *s)
{
	fg_xml_put(fp, s, strlen(s));
}

static const char *fmt_ns(double ns, char *buf)
{
	return units_fmt_ns(ns, buf, 32);
}

static void put_base64(FILE *fp, const char *s, size_t n)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)s;
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);

		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		fwrite(q, 1, 4, fp);
	}
}

static const char style[] =
	"body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1240px}"
	"h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;"
	"margin-top:32px}h3{font-size:15px;margin:20px 0 6px}"
	"table{border-collapse:collapse;font-size:13px;margin:6px 0}"
	"td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f3f3f3}"
	"svg.chart{background:#fcfcfc;border:1px solid #e4e4e4;display:block}"
	"svg.chart text{font-size:11px;fill:#444}.axis{stroke:#888}.grid{stroke:#eee}"
	".bar{fill:#4a7fc1}.bar:hover{fill:#e07b1a}.pct{stroke:#c0392b;stroke-dasharray:3 2}"
	"text.pct-l{fill:#c0392b}.series{fill:none;stroke:#2c7a4b;stroke-width:1.5}"
	".series2{fill:none;stroke:#8e44ad;stroke-width:1.2;stroke-dasharray:4 2}"
	"iframe.flame{border:1px solid #ddd;display:block;max-width:100%}"
	".bad{color:#b00;font-weight:bold}.ok{color:#17732e;font-weight:bold}"
	".muted{color:#777}";

static void put_row(FILE *fp, const char *k, const char *v)
{
	fputs("<tr><th>", fp);
	put(fp, k);
	fputs("</th><td>", fp);
	put(fp, v);
	fputs("</td></tr>\n", fp);
}

static void put_context(FILE *fp, const struct bench_report *rep)
{
	char seed[32], runs[32];

	snprintf(seed, sizeof(seed), "%llu", (unsigned long long)rep->seed);
	snprintf(runs, sizeof(runs), "%zu", rep->nruns);
	fputs("<section id=\"context\"><table>\n", fp);
	put_row(fp, "scenario", rep->scenario);
	put_row(fp, "scenario file", rep->scenario_file);
	put_row(fp, "date", rep->date);
	put_row(fp, "host", rep->host);
	put_row(fp, "reconperf", rep->version);
	put_row(fp, "seed", seed);
	put_row(fp, "command", rep->options);
	put_row(fp, "runs", runs);
	fputs("</table></section>\n", fp);
}

/* x position in the plot of a log10 value. */
static double lx(double lg, double lmin, double lmax)
{
	return ML + (lg - lmin) / (lmax - lmin) * PW;
}

/* The histogram with a log time axis: BINS_PER_DECADE bars per decade, height = count. */
static int put_hist_chart(FILE *fp, const struct hist *h, const char *id)
{
	static const double pcts[] = { 50, 90, 99, 99.9 };
	uint64_t lo, hi, cnt, maxc = 0, *bins;
	double lmin, lmax, bw;
	size_t cur = 0, nb;
	char a[32], b[32];

	lmin = floor(log10((double)(hist_min(h) ? hist_min(h) : 1)) * BINS_PER_DECADE) /
	       BINS_PER_DECADE;
	lmax = ceil(log10((double)hist_max(h) + 1) * BINS_PER_DECADE) / BINS_PER_DECADE;
	if (lmax - lmin < 1) {	/* at least one decade, centred */
		double mid = (lmax + lmin) / 2;

		lmin = floor((mid - 0.5) * BINS_PER_DECADE) / BINS_PER_DECADE;
		lmax = lmin + 1;
	}
	if (lmin < 0)
		lmin = 0;
	nb = (size_t)lround((lmax - lmin) * BINS_PER_DECADE);
	bins = calloc(nb, sizeof(*bins));
	if (!bins)
		return -ENOMEM;
	while (hist_next_bucket(h, &cur, &lo, &hi, &cnt)) {
		double mid = ((double)lo + (double)hi) / 2;
		long k = (long)floor((log10(mid < 1 ? 1 : mid) - lmin) * BINS_PER_DECADE);

		k = k < 0 ? 0 : (size_t)k >= nb ? (long)nb - 1 : k;
		bins[k] += cnt;
	}
	for (size_t i = 0; i < nb; i++)
		maxc = bins[i] > maxc ? bins[i] : maxc;
	bw = (double)PW / (double)nb;
	fprintf(fp, "<svg class=\"chart hist\" id=\"%s\" width=\"%d\" height=\"%d\" "
		    "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		id, CW, CH, CW, CH);
	for (double d = ceil(lmin); d <= lmax + 1e-9; d += 1) {	/* decades */
		double x = lx(d, lmin, lmax);

		fprintf(fp, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
			    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"%s\">%s</text>\n",
			x, MT, x, MT + PH, x, MT + PH + 14,
			x > ML + PW - 30 ? "end" : x < ML + 30 ? "start" : "middle",
			fmt_ns(pow(10, d), a));
	}
	for (size_t i = 0; i < nb; i++) {
		double hgt = maxc ? (double)bins[i] / (double)maxc * PH : 0;

		if (!bins[i])
			continue;
		fprintf(fp, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
			    "height=\"%.2f\"><title>%s to %s: %llu</title></rect>\n",
			ML + (double)i * bw, MT + PH - hgt, bw > 1.5 ? bw - 1 : bw, hgt,
			fmt_ns(pow(10, lmin + (double)i / BINS_PER_DECADE), a),
			fmt_ns(pow(10, lmin + (double)(i + 1) / BINS_PER_DECADE), b),
			(unsigned long long)bins[i]);
	}
	for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		double v = (double)hist_percentile(h, pcts[i]);
		double x = lx(log10(v < 1 ? 1 : v), lmin, lmax);

		fprintf(fp, "<line class=\"pct\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\">"
			    "<title>p%g %s</title></line><text class=\"pct-l\" x=\"%.1f\" y=\"%d\" "
			    "text-anchor=\"end\">p%g %s</text>\n",
			x, MT, x, MT + PH, pcts[i], fmt_ns(v, a), x - 3, MT + 10 + (int)i * 12,
			pcts[i], a);
	}
	fprintf(fp, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		    "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
		ML, MT + PH, ML + PW, MT + PH, ML, MT, ML, MT + PH);
	fprintf(fp, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%llu</text>"
		    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>"
		    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">latency (log scale); "
		    "bar height: reconciles per 1/%d decade</text>\n</svg>\n",
		ML - 6, MT + 10, (unsigned long long)maxc, ML - 6, MT + PH, ML + PW / 2, CH - 6,
		BINS_PER_DECADE);
	free(bins);
	return 0;
}

static void put_pct_table(FILE *fp, const struct hist *h)
{
	static const double pcts[] = { 50, 90, 99, 99.9 };
	char a[32];

	fputs("<table class=\"pcts\"><tr><th>count</th><th>min</th><th>mean</th>", fp);
	for (size_t i = 0; i < 4; i++)
		fprintf(fp, "<th>p%g</th>", pcts[i]);
	fprintf(fp, "<th>max</th></tr>\n<tr><td class=\"n\">%llu</td><td class=\"n\">%s</td>",
		(unsigned long long)hist_count(h), fmt_ns((double)hist_min(h), a));
	fprintf(fp, "<td class=\"n\">%s</td>", fmt_ns(hist_mean(h), a));
	for (size_t i = 0; i < 4; i++)
		fprintf(fp, "<td class=\"n\">%s</td>",
			fmt_ns((double)hist_percentile(h, pcts[i]), a));
	fprintf(fp, "<td class=\"n\">%s</td></tr></table>\n", fmt_ns((double)hist_max(h), a));
}

static void put_hist(FILE *fp, const struct hist *h, const char *title, const char *id)
{
	fprintf(fp, "<h3>%s</h3>\n", title);
	if (!h || !hist_count(h)) {
		fputs("<p class=\"muted\">not measured</p>\n", fp);
		return;
	}
	put_pct_table(fp, h);
	put_hist_chart(fp, h, id);
}

enum series { S_RATE, S_DEPTH, S_UNCONVERGED };

static double point_value(const struct bench_point *p, enum series s)
{
	switch (s) {
	case S_RATE: return p->reconciles_per_s;
	case S_DEPTH: return (double)p->depth;
	default: return (double)p->unconverged;
	}
}

/* A round axis maximum at or above v: 1, 2 or 5 times a power of ten. */
static double nice_max(double v)
{
	double p;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	return v <= p ? p : v <= 2 * p ? 2 * p : v <= 5 * p ? 5 * p : 10 * p;
}

static void put_polyline(FILE *fp, const struct bench_run *r, enum series s, double tmax,
			 double ymax, const char *cls)
{
	fprintf(fp, "<polyline class=\"%s\" points=\"", cls);
	for (size_t i = 0; i < r->npoints; i++) {
		const struct bench_point *p = &r->points[i];
		double x = ML + (double)p->t_ns / 1e9 / tmax * PW;
		double y = MT + PH - point_value(p, s) / ymax * PH;

		fprintf(fp, "%s%.1f,%.1f", i ? " " : "", x, y);
	}
	fputs("\"/>\n", fp);
}

/* A time series chart of one or two series of bench_run.points. */
static void put_series(FILE *fp, const struct bench_run *r, enum series s, int with_unconv,
		       const char *title, const char *ylabel, const char *id)
{
	double tmax = 0, ymax = 0;

	fprintf(fp, "<h3>%s</h3>\n", title);
	if (!r->npoints) {
		fputs("<p class=\"muted\">no time series sampled</p>\n", fp);
		return;
	}
	for (size_t i = 0; i < r->npoints; i++) {
		double v = point_value(&r->points[i], s);

		if (with_unconv && point_value(&r->points[i], S_UNCONVERGED) > v)
			v = point_value(&r->points[i], S_UNCONVERGED);
		tmax = (double)r->points[i].t_ns / 1e9 > tmax ? (double)r->points[i].t_ns / 1e9
							       : tmax;
		ymax = v > ymax ? v : ymax;
	}
	tmax = tmax > 0 ? tmax : 1;
	ymax = nice_max(ymax);
	fprintf(fp, "<svg class=\"chart ts\" id=\"%s\" width=\"%d\" height=\"%d\" "
		    "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
		id, CW, CH, CW, CH);
	for (int k = 0; k <= 4; k++) {
		double y = MT + PH - k * PH / 4.0, x = ML + k * PW / 4.0;

		fprintf(fp, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
			    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>"
			    "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3gs</text>\n",
			ML, y, ML + PW, y, ML - 6, y + 4, ymax * k / 4, x, MT + PH + 14,
			tmax * k / 4);
	}
	put_polyline(fp, r, s, tmax, ymax, "series");
	if (with_unconv)
		put_polyline(fp, r, S_UNCONVERGED, tmax, ymax, "series2");
	fprintf(fp, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		    "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
		    "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">time since start; %s</text>"
		    "\n</svg>\n",
		ML, MT + PH, ML + PW, MT + PH, ML, MT, ML, MT + PH, ML + PW / 2, CH - 6, ylabel);
}

static void put_summary(FILE *fp, const struct bench_run *r)
{
	char a[32], b[32];

	fputs("<table class=\"summary\">\n", fp);
	fprintf(fp, "<tr><th>objects</th><td class=\"n\">%llu</td><th>workers</th>"
		    "<td class=\"n\">%u</td></tr>\n", (unsigned long long)r->objects, r->workers);
	fprintf(fp, "<tr><th>wall</th><td class=\"n\">%s</td><th>CPU</th><td class=\"n\">%s"
		    "</td></tr>\n", fmt_ns((double)r->wall_ns, a), fmt_ns((double)r->cpu_ns, b));
	fprintf(fp, "<tr><th>reconciles</th><td class=\"n\">%llu</td><th>per second</th>"
		    "<td class=\"n\">%.1f</td></tr>\n", (unsigned long long)r->reconciles,
		r->per_second);
	fprintf(fp, "<tr><th>results</th><td colspan=\"3\">success %llu, error %llu, requeue "
		    "%llu, requeue_after %llu</td></tr>\n",
		(unsigned long long)r->results[BR_SUCCESS], (unsigned long long)r->results[BR_ERROR],
		(unsigned long long)r->results[BR_REQUEUE],
		(unsigned long long)r->results[BR_REQUEUE_AFTER]);
	fprintf(fp, "<tr><th>retries</th><td class=\"n\">%llu</td><th>conflicts (409)</th>"
		    "<td class=\"n\">%llu</td></tr>\n", (unsigned long long)r->retries,
		(unsigned long long)r->conflicts);
	fprintf(fp, "<tr><th>API errors</th><td class=\"n\">%llu</td><th>relists / restarts</th>"
		    "<td class=\"n\">%llu / %llu</td></tr>\n", (unsigned long long)r->api_errors,
		(unsigned long long)r->relists, (unsigned long long)r->restarts);
	fprintf(fp, "<tr><th>queue adds</th><td class=\"n\">%llu</td><th>max depth</th>"
		    "<td class=\"n\">%llu</td></tr>\n", (unsigned long long)r->wq.adds,
		(unsigned long long)r->wq.depth_max);
	if (!isnan(r->allocs_per_reconcile))
		fprintf(fp, "<tr><th>allocs/reconcile</th><td class=\"n\">%.1f</td>"
			    "<th>bytes/reconcile</th><td class=\"n\">%.0f</td></tr>\n",
			r->allocs_per_reconcile, r->bytes_per_reconcile);
	fprintf(fp, "<tr><th>converged</th><td colspan=\"3\"><span class=\"%s\">%s</span>",
		r->convergence.converged ? "ok" : "bad", r->convergence.converged ? "yes" : "no");
	if (r->convergence.converged)
		fprintf(fp, " in %s after the last perturbation",
			fmt_ns((double)r->convergence.time_ns, a));
	fprintf(fp, "; lost objects %llu, concurrent reconciles of one key %llu</td></tr>\n"
		    "</table>\n", (unsigned long long)r->convergence.lost_objects,
		(unsigned long long)r->convergence.concurrent_reconciles);
}

static void put_faults(FILE *fp, const struct bench_run *r)
{
	char a[32], b[32], c[32];

	if (!r->nfaults)
		return;
	fputs("<h3>Faults and convergence</h3>\n<table class=\"faults\"><tr><th>fault</th>"
	      "<th>injected</th><th>not converged</th><th>converge p50</th><th>p99</th>"
	      "<th>max</th></tr>\n", fp);
	for (size_t i = 0; i < r->nfaults; i++) {
		const struct bench_fault_stat *f = &r->faults[i];
		const struct hist *h = f->converge;
		int has = h && hist_count(h);

		fputs("<tr><td>", fp);
		put(fp, f->type);
		fprintf(fp, "</td><td class=\"n\">%llu</td><td class=\"n%s\">%llu</td>"
			    "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
			    "</tr>\n", (unsigned long long)f->injected, f->failed ? " bad" : "",
			(unsigned long long)f->failed,
			has ? fmt_ns((double)hist_percentile(h, 50), a) : "-",
			has ? fmt_ns((double)hist_percentile(h, 99), b) : "-",
			has ? fmt_ns((double)hist_max(h), c) : "-");
	}
	fputs("</table>\n", fp);
}

static void put_stuck(FILE *fp, const struct bench_run *r)
{
	if (!r->convergence.nstuck)
		return;
	fputs("<h3>Stuck objects</h3>\n<table class=\"stuck\"><tr><th>object</th><th>why</th>"
	      "</tr>\n", fp);
	for (size_t i = 0; i < r->convergence.nstuck; i++) {
		fputs("<tr><td>", fp);
		put(fp, r->convergence.stuck[i].key);
		fputs("</td><td>", fp);
		put(fp, r->convergence.stuck[i].reason);
		fputs("</td></tr>\n", fp);
	}
	fputs("</table>\n", fp);
}

static int put_run(FILE *fp, const struct bench_run *r, size_t idx)
{
	char id[48];

	fprintf(fp, "<section class=\"run\" id=\"run-%zu\">\n<h2>", idx);
	put(fp, r->name);
	fprintf(fp, " <span class=\"muted\">repetition %d</span></h2>\n", r->repetition + 1);
	put_summary(fp, r);
	snprintf(id, sizeof(id), "latency-%zu", idx);
	put_hist(fp, r->latency, "Reconcile latency (controller_runtime_reconcile_time_seconds)",
		 id);
	snprintf(id, sizeof(id), "queue-wait-%zu", idx);
	put_hist(fp, r->queue_wait, "Queue wait (workqueue_queue_duration_seconds)", id);
	if (r->probe_latency) {
		snprintf(id, sizeof(id), "probe-%zu", idx);
		put_hist(fp, r->probe_latency, "Reconcile latency seen by the kernel probe", id);
	}
	snprintf(id, sizeof(id), "throughput-%zu", idx);
	put_series(fp, r, S_RATE, 0, "Throughput", "reconciles per second", id);
	snprintf(id, sizeof(id), "depth-%zu", idx);
	put_series(fp, r, S_DEPTH, 1, "Queue depth and unconverged objects",
		   "workqueue_depth (solid), unconverged objects (dashed)", id);
	put_faults(fp, r);
	put_stuck(fp, r);
	fputs("</section>\n", fp);
	return 0;
}

/* The height attribute of an SVG document's root element, for the iframe. */
static int svg_height(const char *svg)
{
	const char *p = strstr(svg, "<svg");
	const char *h = p ? strstr(p, " height=\"") : NULL;
	int v = h ? atoi(h + 9) : 0;

	return v > 0 && v < 100000 ? v : 600;
}

static void put_flame(FILE *fp, const char *svg, const char *title, const char *id)
{
	fprintf(fp, "<h3>%s</h3>\n", title);
	if (!svg) {
		fputs("<p class=\"muted\">no profile taken in this run</p>\n", fp);
		return;
	}
	fprintf(fp, "<iframe class=\"flame\" id=\"%s\" title=\"%s\" width=\"1210\" height=\"%d\" "
		    "src=\"data:image/svg+xml;base64,", id, title, svg_height(svg) + 6);
	put_base64(fp, svg, strlen(svg));
	fputs("\"></iframe>\n", fp);
}

int html_report_write(FILE *fp, const struct bench_report *rep, const char *cpu_svg,
		      const char *mem_svg)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>"
	      "reconperf: ", fp);
	put(fp, rep->scenario);
	fprintf(fp, "</title>\n<style>%s</style>\n</head><body>\n<h1>reconperf bench: ", style);
	put(fp, rep->scenario);
	fputs("</h1>\n", fp);
	put_context(fp, rep);
	for (size_t i = 0; i < rep->nruns; i++)
		put_run(fp, rep->runs[i], i);
	fputs("<section id=\"profiles\"><h2>Profiles</h2>\n", fp);
	put_flame(fp, cpu_svg, "CPU flame graph", "flame-cpu");
	put_flame(fp, mem_svg, "Allocation flame graph", "flame-mem");
	fputs("<p class=\"muted\">Click a frame to zoom, Search (or Ctrl-F in the graph) for a "
	      "regular expression.</p></section>\n", fp);
	fprintf(fp, "<pre id=\"report-selftest\" hidden></pre>\n<script>\n%s</script>\n"
		    "</body></html>\n", fg_report_js);
	return ferror(fp) ? -EIO : 0;
}
