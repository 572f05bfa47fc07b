/*
 * html — a bench report as one self-contained HTML page: no network, no other file.
 *
 * Shows the context (scenario, date, host, version, seed, command line); per run a summary,
 * the reconcile latency and queue wait histograms as charts with a log-scaled time axis and
 * percentile markers, a percentile table, throughput, queue depth and unconverged objects
 * over the run (bench_run.points), the fault convergence table and stuck objects; then the
 * CPU and allocation flame graphs when given. Charts are inline SVG drawn here; the flame
 * graphs are the SVGs `reconperf flame` writes, embedded as data: URLs in iframes so each
 * keeps its own script and ids.
 *
 * With #selftest in the URL the page checks its charts, asks each flame graph to run its
 * own zoom-and-search self-test (postMessage), and writes the results as JSON into the
 * element #report-selftest (what tests/test_html.c reads).
 *
 * Pure function of its inputs; any thread.
 */
#ifndef RECONPERF_HTML_H
#define RECONPERF_HTML_H

#include <stdio.h>

#include "bench/result.h"

/*
 * Writes the page. cpu_svg and mem_svg are whole SVG documents (as fg_svg_write makes) or
 * NULL when that profile was not taken. Returns 0, -ENOMEM, or -EIO when fp reports an
 * error. The caller owns fp (use common/afile.h for files).
 */
int html_report_write(FILE *fp, const struct bench_report *rep, const char *cpu_svg,
		      const char *mem_svg);

#endif
