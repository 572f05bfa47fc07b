/*
 * report_int — helpers shared by the renderers in report.c and report_json.c; not public.
 */
#ifndef RECONPERF_REPORT_INT_H
#define RECONPERF_REPORT_INT_H

#include <stdio.h>

#include "bench/result.h"

/* result="..." label of enum bench_result i. */
const char *report_result_name(int i);
/* How many runs in rep share r's name (its repetitions). */
int report_repetitions(const struct bench_report *rep, const struct bench_run *r);
/* 0, or -EIO when the stream has seen an error. */
int report_stream_status(FILE *fp);

#endif
