/*
 * report — renders a struct bench_report (bench/result.h) to a FILE *.
 *
 *   table    for people: per run, the fault table first (when faults were injected), then
 *            throughput, latency percentiles, queue wait, results, convergence, costs.
 *   json     the JSON contract of docs/formats.md: `context`, `benchmarks` (Google
 *            Benchmark's schema, so its tools read it) and `scenarios[]` (everything).
 *   prom     Prometheus text exposition 0.0.4 with controller-runtime's and client-go's
 *            metric names, plus reconperf_* for convergence and faults.
 *   gobench  Go benchmark lines (`BenchmarkReconcile/<scenario>-<workers> N x unit ...`) so
 *            benchstat reads them.
 *
 * A field that was not measured (NAN double, NULL hist) is omitted, never printed as 0.
 * Each writer returns 0, -ENOMEM, or -EIO when the stream reports an error. The caller
 * owns the FILE * (use common/afile.h for files). Any thread; reads the report only.
 */
#ifndef RECONPERF_REPORT_H
#define RECONPERF_REPORT_H

#include <stdio.h>

#include "bench/result.h"

enum report_format { REPORT_TABLE, REPORT_JSON, REPORT_PROM, REPORT_GOBENCH };

/* "table", "json", "prom", "gobench" -> 0 with *out set, else -EINVAL. */
int report_format_parse(const char *s, enum report_format *out);
const char *report_format_name(enum report_format f);

int report_write(FILE *fp, const struct bench_report *rep, enum report_format f);
int report_write_table(FILE *fp, const struct bench_report *rep);
int report_write_json(FILE *fp, const struct bench_report *rep);
int report_write_prom(FILE *fp, const struct bench_report *rep);
int report_write_gobench(FILE *fp, const struct bench_report *rep);

/* The JSON document as a cJSON tree (for the HTML report); caller cJSON_Delete()s it.
 * NULL when out of memory. */
struct cJSON *report_to_json(const struct bench_report *rep);

#endif
