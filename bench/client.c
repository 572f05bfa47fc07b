/* client — writes with client-go's retries and the fault-injection point. See client.h. */
#include "bench/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct client {
	struct store *s;
	unsigned workers;
	client_fault_fn fault;
	void *fault_arg;
	struct client_counters *ctr;	/* [workers + 1]: the last slot for non-workers */
	void (*phase)(const char *phase);
	const char *phase_after;
};

int client_new(struct store *s, unsigned workers, struct client **out)
{
	struct client *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->ctr = calloc(workers + 1, sizeof(*c->ctr));
	if (!c->ctr) {
		free(c);
		return -ENOMEM;
	}
	c->s = s;
	c->workers = workers;
	*out = c;
	return 0;
}

void client_free(struct client *c)
{
	if (!c)
		return;
	free(c->ctr);
	free(c);
}

void client_set_faults(struct client *c, client_fault_fn fn, void *arg)
{
	c->fault = fn;
	c->fault_arg = arg;
}

void client_set_phase(struct client *c, void (*fn)(const char *phase), const char *after)
{
	c->phase = fn;
	c->phase_after = after;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A competing writer touches the object (a label write: new resourceVersion, same spec),
 * so the caller's write, based on the old resourceVersion, meets a 409. */
static void compete(struct client *c, const struct obj *o)
{
	struct obj cur;
	char val[24];

	if (store_get_uid(c->s, o->uid, &cur) != 0)
		return;
	snprintf(val, sizeof(val), "%llu", (unsigned long long)cur.rv);
	if (obj_set_label(&cur, "reconperf/touched", val) == 0)
		store_update(c->s, &cur);
	obj_fini(&cur);
}

static int do_verb(struct client *c, enum client_verb v, struct obj *o)
{
	switch (v) {
	case CV_CREATE: return store_create(c->s, o);
	case CV_UPDATE: return store_update(c->s, o);
	case CV_UPDATE_STATUS: return store_update_status(c->s, o);
	default: return store_delete(c->s, o->kind, o->ns, o->name, 0);
	}
}

static int call(struct client *c, unsigned worker, enum client_verb v, struct obj *o)
{
	struct client_counters *ctr = &c->ctr[worker < c->workers ? worker : c->workers];
	int err = 0;

	if (c->phase)
		c->phase("store");
	for (int attempt = 0; attempt <= CLIENT_MAX_RETRIES; attempt++) {
		struct client_fault f = { 0 };

		ctr->calls++;
		if (c->fault)
			c->fault(c->fault_arg, worker, v, o, attempt, &f);
		if (f.delay_ns)
			sleep_ns(f.delay_ns);
		if (f.compete && v != CV_CREATE)
			compete(c, o);
		if (f.err == -ETIMEDOUT) {
			if (f.applied)
				do_verb(c, v, o);
			err = -ETIMEDOUT;
			break;
		}
		if (f.err) {
			err = f.err;
			/* client-go retries 429 and 5xx with Retry-After, sleeping that long */
			if (f.retry_after_ns && attempt < CLIENT_MAX_RETRIES) {
				ctr->retried++;
				sleep_ns(f.retry_after_ns);
				continue;
			}
			break;
		}
		err = do_verb(c, v, o);
		break;
	}
	if (err == -EBUSY)
		ctr->conflicts++;
	else if (err && err != -ENOENT && err != -EEXIST)
		ctr->surfaced++;
	if (c->phase)
		c->phase(c->phase_after);
	return err;
}

int client_create(struct client *c, unsigned worker, struct obj *o)
{
	return call(c, worker, CV_CREATE, o);
}

int client_update(struct client *c, unsigned worker, struct obj *o)
{
	return call(c, worker, CV_UPDATE, o);
}

int client_update_status(struct client *c, unsigned worker, struct obj *o)
{
	return call(c, worker, CV_UPDATE_STATUS, o);
}

int client_delete(struct client *c, unsigned worker, const struct obj *o)
{
	struct obj tmp;
	int err;

	obj_copy(&tmp, o);
	err = call(c, worker, CV_DELETE, &tmp);
	obj_fini(&tmp);
	return err;
}

void client_counters(struct client *c, struct client_counters *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i <= c->workers; i++) {
		sum->calls += c->ctr[i].calls;
		sum->retried += c->ctr[i].retried;
		sum->surfaced += c->ctr[i].surfaced;
		sum->conflicts += c->ctr[i].conflicts;
	}
}
