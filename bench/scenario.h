/*
 * scenario — what a benchmark run does, read from YAML (libyaml) or set field by field.
 *
 * One table maps dotted keys ("queue.qps", "reconcile.cpu") to fields, types and ranges; the
 * YAML reader and scenario_set() (for --set key=value and the --workers style overrides)
 * both go through it, so they accept exactly the same things. Errors name the file, line and
 * column, and the field: "scenarios/x.yaml:7:10: 'workers' must be 1..1024, got '0'".
 *
 * Faults are kept as a type plus key=value parameters (with their line numbers); the fault
 * module interprets and validates them.
 *
 * Plain data, no threads; a struct scenario may be copied with memcpy.
 */
#ifndef RECONPERF_SCENARIO_H
#define RECONPERF_SCENARIO_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum sc_workload { SC_WL_NOOP, SC_WL_REPLICASET, SC_WL_BACKUP, SC_WL_ROLLOUT, SC_WL_PLUGIN };
/* queue: one producer adds `objects` distinct keys round-robin straight into the workqueue
 *        (the client-go workqueue measurement); no store, no informer.
 * e2e:   the whole path: store write -> watch -> informer -> handlers -> queue -> reconcile. */
enum sc_mode { SC_MODE_E2E, SC_MODE_QUEUE };
enum sc_queue_kind { SC_Q_CLIENTGO, SC_Q_PRIORITY };
/* default: max(exponential 5ms*2^n capped, token bucket 10 qps burst 100), client-go's
 * DefaultControllerRateLimiter. */
enum sc_limiter { SC_RL_DEFAULT, SC_RL_EXPONENTIAL, SC_RL_BUCKET, SC_RL_NONE };
enum sc_list { SC_LIST_SCAN, SC_LIST_INDEX };

#define SC_MAX_FAULTS 32
#define SC_MAX_FAULT_PARAMS 16

struct sc_fault_param {
	char key[32];
	char val[96];
	int line, col;
};

struct sc_fault {
	char type[32];
	int line, col;
	size_t nparams;
	struct sc_fault_param params[SC_MAX_FAULT_PARAMS];
};

struct scenario {
	char name[64];
	char description[256];
	char file[PATH_MAX];	/* where it came from; "<embedded>" for the default */

	enum sc_workload workload;
	char plugin[PATH_MAX];	/* shared library for SC_WL_PLUGIN */
	enum sc_mode mode;
	uint64_t objects;	/* primary objects (keys) */
	uint32_t workers;
	uint64_t duration_ns;	/* load phase; 0 = run until converged */
	uint64_t deadline_ns;	/* give up converging after this (from the end of load) */
	uint64_t seed;
	uint32_t repeat;
	uint64_t resync_ns;	/* informer resync period, 0 = off */
	uint64_t watch_history;	/* events the store keeps before compaction */
	uint64_t sample_interval_ns; /* time-series sampling (throughput, depth) */

	struct {
		enum sc_queue_kind kind;
		enum sc_limiter limiter;
		uint64_t base_delay_ns;	/* 5ms */
		uint64_t max_delay_ns;	/* 1000s */
		double qps;		/* 10 */
		uint32_t burst;		/* 100 */
	} queue;

	struct {
		uint64_t cpu_ns;	/* busy CPU work per reconcile */
		uint32_t allocs;	/* allocations per reconcile */
		uint64_t alloc_size;	/* bytes each */
		double fail_rate;	/* share of reconciles returning an error */
		double terminal_rate;	/* share returning a terminal error */
		double panic_rate;	/* share that panic (recovered) */
		double requeue_after_rate;
		uint64_t requeue_after_ns;
		bool generation_predicate; /* filter update events to generation changes */
	} reconcile;

	struct {
		uint32_t replicas;		/* replicaset: children per object */
		uint32_t backups_per_policy;	/* backup */
		enum sc_list list;		/* backup: scan | index */
		uint32_t dependants;		/* rollout: dependants per config */
		uint64_t payload_size;		/* rollout: config payload bytes */
	} wl;

	struct {
		double creates_per_s;
		double updates_per_s;
		double deletes_per_s;
	} churn;

	size_t nfaults;
	struct sc_fault faults[SC_MAX_FAULTS];
};

void scenario_defaults(struct scenario *sc);
/* Each returns 0, or -EINVAL with a message "file:line:col: ..." in err. */
int scenario_load_file(struct scenario *sc, const char *path, char *err, size_t errlen);
int scenario_load_string(struct scenario *sc, const char *yaml, size_t len, const char *name,
			 char *err, size_t errlen);
int scenario_load_embedded(struct scenario *sc, char *err, size_t errlen);
/* key is dotted ("queue.qps"); also accepts "fault" with value "TYPE[:k=v,...]". */
int scenario_set(struct scenario *sc, const char *key, const char *value, char *err,
		 size_t errlen);
/* Checks cross-field rules (e.g. plugin path set for SC_WL_PLUGIN). */
int scenario_validate(const struct scenario *sc, char *err, size_t errlen);

const char *scenario_workload_name(enum sc_workload w);
/* Writes the scenario as YAML that scenario_load_string reads back to the same struct. */
int scenario_write_yaml(const struct scenario *sc, FILE *fp);

/* The i-th settable dotted key (in YAML order), NULL past the end: for docs and tests. */
const char *scenario_key_name(size_t i);
/* Formats the value of a dotted key as text that scenario_set() accepts back.
 * Returns 0 or -ENOENT for an unknown key. */
int scenario_get(const struct scenario *sc, const char *key, char *buf, size_t len);

/* A fault parameter by key, or NULL. */
const struct sc_fault_param *sc_fault_param(const struct sc_fault *f, const char *key);

#endif
