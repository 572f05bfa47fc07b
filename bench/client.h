/*
 * client — the controller's API client: what reconcilers call to write to the store, with
 * client-go's retry behaviour and the fault-injection point of the harness.
 *
 * Every write goes through one place, so a fault injector can delay it, fail it (500, 429
 * with Retry-After, a timeout that may or may not have taken effect) or race a competing
 * writer in just before it (a 409 conflict). As client-go's REST client does, a 429 and a
 * 5xx that carries Retry-After are retried after that delay up to 10 times; other errors
 * are surfaced to the reconciler. Reads come from the informer cache, not through here.
 *
 * Threads: any worker; counters are per worker (single writer) and summed on demand.
 */
#ifndef RECONPERF_CLIENT_H
#define RECONPERF_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/obj.h"
#include "bench/store.h"

enum client_verb { CV_CREATE, CV_UPDATE, CV_UPDATE_STATUS, CV_DELETE, CV__COUNT };

#define CLIENT_MAX_RETRIES 10

/* What an injector decides for one attempt of one call. */
struct client_fault {
	uint64_t delay_ns;	/* added latency before the call */
	int err;		/* 0, -EIO (500), -EAGAIN (429), -ETIMEDOUT */
	uint64_t retry_after_ns; /* with -EIO or -EAGAIN: the Retry-After the server sent */
	bool applied;		/* with -ETIMEDOUT: the call took effect all the same */
	bool compete;		/* a competing writer updates the object just before */
};

typedef void (*client_fault_fn)(void *arg, unsigned worker, enum client_verb verb,
				const struct obj *o, int attempt, struct client_fault *f);

struct client_counters {
	uint64_t calls;		/* attempts */
	uint64_t retried;	/* attempts retried inside the client */
	uint64_t surfaced;	/* errors returned to the reconciler (not 409/404/AlreadyExists) */
	uint64_t conflicts;	/* 409s returned */
};

struct client;

int client_new(struct store *s, unsigned workers, struct client **out);
void client_free(struct client *c);
/* Installs the injector (before workers start). */
void client_set_faults(struct client *c, client_fault_fn fn, void *arg);
/* Called with "store" before each call and `after` once it returns (profiler labels). */
void client_set_phase(struct client *c, void (*fn)(const char *phase), const char *after);

int client_create(struct client *c, unsigned worker, struct obj *o);
int client_update(struct client *c, unsigned worker, struct obj *o);
int client_update_status(struct client *c, unsigned worker, struct obj *o);
int client_delete(struct client *c, unsigned worker, const struct obj *o);

void client_counters(struct client *c, struct client_counters *sum);

#endif
