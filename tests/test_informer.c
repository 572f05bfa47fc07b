/* The informer: list+watch, cache before handlers, per-key order, relist with tombstones,
 * rewatch after a drop, resync, secondary indexes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/informer.h"
#include "bench/store.h"

#define SEC 1000000000ull
#define WAIT (30 * SEC)	/* generous: the machine is shared */

/* ---- a recording handler ---- */

enum { EV_ADD, EV_UPDATE, EV_DELETE };
struct rec {
	int type;
	bool flag;		/* initial_list or tombstone */
	uint64_t uid, rv, old_rv;
	char name[96];
	int64_t spec0;
};

struct recorder {
	struct informer *inf;
	pthread_mutex_t mu;
	struct rec *r;
	size_t n, cap;
	bool cache_ok;		/* the cache held cur whenever a handler ran */
};

static void rec_push(struct recorder *h, int type, bool flag, const struct obj *o, uint64_t old_rv)
{
	pthread_mutex_lock(&h->mu);
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		h->r = realloc(h->r, h->cap * sizeof(*h->r));
	}
	h->r[h->n++] = (struct rec){ .type = type, .flag = flag, .uid = o->uid, .rv = o->rv,
				     .old_rv = old_rv, .spec0 = o->spec[0] };
	strcpy(h->r[h->n - 1].name, o->name);
	pthread_mutex_unlock(&h->mu);
}

static void check_cache(struct recorder *h, const struct obj *o, bool present)
{
	struct obj c;
	int rc = informer_get_uid(h->inf, o->uid, &c);

	if (present ? (rc || c.rv != o->rv) : rc != -ENOENT)
		h->cache_ok = false;
	if (!rc)
		obj_fini(&c);
}

static void on_add(void *arg, const struct obj *o, bool initial)
{
	check_cache(arg, o, true);
	rec_push(arg, EV_ADD, initial, o, 0);
}

static void on_update(void *arg, const struct obj *old, const struct obj *cur)
{
	check_cache(arg, cur, true);
	rec_push(arg, EV_UPDATE, false, cur, old->rv);
}

static void on_delete(void *arg, const struct obj *o, bool tombstone)
{
	check_cache(arg, o, false);
	rec_push(arg, EV_DELETE, tombstone, o, 0);
}

static void recorder_init(struct recorder *h, struct informer *inf)
{
	struct informer_handler hd = { on_add, on_update, on_delete, h };

	memset(h, 0, sizeof(*h));
	h->inf = inf;
	h->cache_ok = true;
	pthread_mutex_init(&h->mu, NULL);
	cr_assert_eq(informer_add_handler(inf, &hd), 0);
}

/* Frees the records when a test's recorder goes out of scope (after its informer stopped). */
static void recorder_fini(struct recorder *h)
{
	free(h->r);
	pthread_mutex_destroy(&h->mu);
}

static size_t count(struct recorder *h, int type, bool flag, const char *name)
{
	size_t n = 0;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->n; i++)
		n += h->r[i].type == type && h->r[i].flag == flag &&
		     (!name || !strcmp(h->r[i].name, name));
	pthread_mutex_unlock(&h->mu);
	return n;
}

static struct obj create(struct store *s, const char *name, const char *policy)
{
	struct obj o;

	cr_assert_eq(obj_init(&o, "Backup", "ns", name), 0);
	if (policy)
		obj_set_label(&o, "policy", policy);
	cr_assert_eq(store_create(s, &o), 0);
	return o;
}

static struct informer *mkinf(struct store *s, uint64_t resync)
{
	struct informer_opts io = { .kind = "Backup", .resync_ns = resync,
				    .backoff_min_ns = 1000000, .backoff_max_ns = 10000000 };
	struct informer *inf = informer_new(s, &io);

	cr_assert_not_null(inf);
	return inf;
}

static void sync_to(struct informer *inf, struct store *s)
{
	cr_assert_eq(informer_wait_rv(inf, store_revision(s), WAIT), 0, "informer at %llu of %llu",
		     (unsigned long long)informer_last_rv(inf),
		     (unsigned long long)store_revision(s));
}

Test(informer, lists_then_watches_and_updates_the_cache_before_handlers, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct recorder h __attribute__((cleanup(recorder_fini)));
	struct obj a = create(s, "a", NULL), g;

	create(s, "b", NULL);
	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	cr_assert(informer_has_synced(inf));
	cr_assert_eq(count(&h, EV_ADD, true, NULL), 2, "initial list: on_add(initial)");
	cr_assert_eq(informer_len(inf), 2);

	a.spec[0] = 5;
	cr_assert_eq(store_update(s, &a), 0);
	create(s, "c", NULL);
	cr_assert_eq(store_delete(s, "Backup", "ns", "b", 0), 0);
	struct obj other;
	obj_init(&other, "Other", "ns", "x");
	cr_assert_eq(store_create(s, &other), 0);	/* another kind: not this informer's */
	sync_to(inf, s);

	cr_assert_eq(count(&h, EV_UPDATE, false, "a"), 1);
	cr_assert_eq(count(&h, EV_ADD, false, "c"), 1);
	cr_assert_eq(count(&h, EV_DELETE, false, "b"), 1, "a watched delete is no tombstone");
	cr_assert_eq(h.n, 5);
	cr_assert_eq(h.r[2].old_rv, 1, "on_update gets the old state");
	cr_assert_eq(h.r[2].rv, a.rv);
	cr_assert_eq(h.r[2].spec0, 5);
	cr_assert_eq(h.r[4].rv, 5, "a delete carries the deletion revision");
	cr_assert(h.cache_ok, "a handler ran before the cache held its object");
	cr_assert_eq(informer_len(inf), 2);
	cr_assert_eq(informer_get(inf, "ns", "a", &g), 0);
	cr_assert_eq(g.spec[0], 5);
	cr_assert_eq(informer_get(inf, "ns", "b", &g), -ENOENT);
	cr_assert_eq(informer_get(inf, "ns", "x", &g), -ENOENT);
	cr_assert_eq(informer_relists(inf), 0);
	informer_free(inf);
	store_free(s);
}

Test(informer, delivers_each_keys_events_in_order_exactly_once, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct recorder h __attribute__((cleanup(recorder_fini)));
	struct obj o[4];
	enum { N = 2000 };

	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	for (int k = 0; k < 4; k++) {
		char name[8];

		snprintf(name, sizeof(name), "k%d", k);
		o[k] = create(s, name, NULL);
	}
	for (int i = 1; i <= N; i++) {
		struct obj *x = &o[i % 4];

		x->spec[0] = i;
		cr_assert_eq(store_update(s, x), 0);
	}
	sync_to(inf, s);
	cr_assert_eq(h.n, 4 + N);
	for (int k = 0; k < 4; k++) {
		uint64_t last = 0;
		int64_t lastspec = -1;
		size_t n = 0;

		for (size_t i = 0; i < h.n; i++) {
			if (h.r[i].uid != o[k].uid)
				continue;
			cr_assert_gt(h.r[i].rv, last, "key %d out of order", k);
			cr_assert_gt(h.r[i].spec0, lastspec);
			if (h.r[i].type == EV_UPDATE)
				cr_assert_eq(h.r[i].old_rv, last, "old is the previous event's object");
			last = h.r[i].rv;
			lastspec = h.r[i].spec0;
			n++;
		}
		cr_assert_eq(n, 1 + N / 4);
	}
	informer_free(inf);
	store_free(s);
}

/* Handlers that take the cached versions (the _v calls) record the same fields. */
static void rec_push_v(struct recorder *h, int type, bool flag, const struct objv *v,
		       uint64_t old_rv)
{
	struct obj o;

	objv_unpack(v, &o);
	rec_push(h, type, flag, &o, old_rv);
	obj_fini(&o);
}

static void on_add_v(void *arg, const struct objv *v, bool initial)
{
	rec_push_v(arg, EV_ADD, initial, v, 0);
}

static void on_update_v(void *arg, const struct objv *old, const struct objv *cur)
{
	rec_push_v(arg, EV_UPDATE, false, cur, old->rv);
}

static void on_delete_v(void *arg, const struct objv *v, bool tombstone)
{
	rec_push_v(arg, EV_DELETE, tombstone, v, 0);
}

/* The same events, in the same order, to object handlers and version handlers, on an
 * informer that has both and on one with version handlers only (which unpacks nothing). */
Test(informer, version_handlers_see_what_object_handlers_see, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *both = mkinf(s, 0), *vonly = mkinf(s, 0);
	struct recorder h __attribute__((cleanup(recorder_fini)));
	struct recorder hv __attribute__((cleanup(recorder_fini)));
	struct recorder hv2 __attribute__((cleanup(recorder_fini)));
	struct obj o[3];

	recorder_init(&h, both);
	memset(&hv, 0, sizeof(hv));
	memset(&hv2, 0, sizeof(hv2));
	pthread_mutex_init(&hv.mu, NULL);
	pthread_mutex_init(&hv2.mu, NULL);
	struct informer_handler v1 = { .arg = &hv, .on_add_v = on_add_v,
				       .on_update_v = on_update_v, .on_delete_v = on_delete_v };
	struct informer_handler v2 = v1;
	v2.arg = &hv2;
	cr_assert_eq(informer_add_handler(both, &v1), 0);
	cr_assert_eq(informer_add_handler(vonly, &v2), 0);
	o[0] = create(s, "a", NULL);	/* before the start: the initial list */
	cr_assert_eq(informer_start(both), 0);
	cr_assert_eq(informer_start(vonly), 0);
	cr_assert_eq(informer_wait_synced(both, WAIT), 0);
	cr_assert_eq(informer_wait_synced(vonly, WAIT), 0);
	o[1] = create(s, "b", NULL);
	o[2] = create(s, "c", NULL);
	for (int i = 1; i <= 30; i++) {
		o[i % 3].spec[0] = i;
		cr_assert_eq(store_update(s, &o[i % 3]), 0);
	}
	cr_assert_eq(store_delete(s, "Backup", "ns", "b", 0), 0);
	sync_to(both, s);
	sync_to(vonly, s);
	cr_assert_eq(h.n, 3 + 30 + 1);
	cr_assert_eq(count(&h, EV_ADD, true, "a"), 1);
	cr_assert_eq(count(&h, EV_DELETE, false, "b"), 1);
	for (struct recorder *x = &hv; x; x = x == &hv ? &hv2 : NULL) {
		cr_assert_eq(x->n, h.n);
		for (size_t i = 0; i < h.n; i++) {
			cr_assert_eq(x->r[i].type, h.r[i].type, "event %zu", i);
			cr_assert_eq(x->r[i].flag, h.r[i].flag, "event %zu", i);
			cr_assert_eq(x->r[i].uid, h.r[i].uid, "event %zu", i);
			cr_assert_eq(x->r[i].old_rv, h.r[i].old_rv, "event %zu", i);
			cr_assert_eq(x->r[i].spec0, h.r[i].spec0, "event %zu", i);
			cr_assert_str_eq(x->r[i].name, h.r[i].name, "event %zu", i);
			if (h.r[i].type != EV_DELETE)	/* a delete's object carries its rv */
				cr_assert_eq(x->r[i].rv, h.r[i].rv, "event %zu", i);
		}
	}
	informer_free(both);
	informer_free(vonly);
	for (int k = 0; k < 3; k++)
		obj_fini(&o[k]);
	store_free(s);
}

/* A fault hook that holds the informer's watch request until the test releases it. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool armed, entered, open;
	int list_fails, lists, watches;
};

static int gate_fault(void *arg, enum store_verb verb, const struct obj *o, bool *applied)
{
	struct gate *g = arg;
	int rc = 0;

	(void)o;
	(void)applied;
	pthread_mutex_lock(&g->mu);
	if (verb == SV_LIST) {
		g->lists++;
		if (g->list_fails > 0) {
			g->list_fails--;
			rc = -EIO;
		}
	}
	if (verb == SV_WATCH) {
		g->watches++;
		if (g->armed) {
			g->armed = false;
			g->entered = true;
			pthread_cond_broadcast(&g->cv);
			while (!g->open)
				pthread_cond_wait(&g->cv, &g->mu);
		}
	}
	pthread_mutex_unlock(&g->mu);
	return rc;
}

Test(informer, a_watch_too_old_for_the_history_relists_with_tombstones, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct gate gt = { .armed = true };
	struct recorder h __attribute__((cleanup(recorder_fini)));
	struct obj a = create(s, "a", NULL), g;

	create(s, "b", NULL);
	create(s, "c", NULL);
	pthread_mutex_init(&gt.mu, NULL);
	pthread_cond_init(&gt.cv, NULL);
	store_set_fault_hook(s, gate_fault, &gt);
	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	pthread_mutex_lock(&gt.mu);
	while (!gt.entered)
		pthread_cond_wait(&gt.cv, &gt.mu);
	pthread_mutex_unlock(&gt.mu);

	/* While the reflector's watch request hangs: changes it will never see as events. */
	cr_assert_eq(store_delete(s, "Backup", "ns", "b", 0), 0);
	a.spec[0] = 9;
	cr_assert_eq(store_update(s, &a), 0);
	create(s, "d", NULL);
	cr_assert_eq(store_compact(s, store_revision(s)), 0);
	pthread_mutex_lock(&gt.mu);
	gt.open = true;
	pthread_cond_broadcast(&gt.cv);
	pthread_mutex_unlock(&gt.mu);

	sync_to(inf, s);
	cr_assert_eq(informer_relists(inf), 1, "410 Gone makes the reflector relist");
	cr_assert_eq(count(&h, EV_DELETE, true, "b"), 1, "the missed delete comes as a tombstone");
	cr_assert_eq(count(&h, EV_DELETE, false, NULL), 0);
	cr_assert_eq(count(&h, EV_UPDATE, false, "a"), 1, "relist: on_update for cached objects");
	cr_assert_eq(count(&h, EV_UPDATE, false, "c"), 1, "even unchanged ones");
	cr_assert_eq(count(&h, EV_ADD, false, "d"), 1, "and on_add for new ones");
	cr_assert_eq(count(&h, EV_ADD, true, NULL), 3);
	cr_assert_eq(informer_len(inf), 3);
	cr_assert_eq(informer_get(inf, "ns", "a", &g), 0);
	cr_assert_eq(g.spec[0], 9);
	cr_assert(h.cache_ok);
	/* After the relist the informer watches again. */
	create(s, "e", NULL);
	sync_to(inf, s);
	cr_assert_eq(count(&h, EV_ADD, false, "e"), 1);
	cr_assert_eq(gt.lists, 2);
	informer_free(inf);
	store_free(s);
}

Test(informer, a_dropped_watch_resumes_from_the_last_revision_without_a_relist, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct recorder h __attribute__((cleanup(recorder_fini)));

	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	create(s, "a", NULL);
	sync_to(inf, s);	/* the watch delivered something: not a "very short watch" */
	informer_break_watch(inf);
	create(s, "b", NULL);
	create(s, "c", NULL);
	sync_to(inf, s);
	cr_assert_eq(informer_relists(inf), 0);
	cr_assert_eq(informer_rewatches(inf), 1);
	cr_assert_eq(h.n, 3);
	cr_assert_eq(count(&h, EV_ADD, false, NULL), 3);
	informer_free(inf);
	store_free(s);
}

Test(informer, relist_on_drop_relists_after_every_dropped_watch, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer_opts io = { .kind = "Backup", .backoff_min_ns = 1000000,
				    .backoff_max_ns = 2000000, .relist_on_drop = true };
	struct informer *inf = informer_new(s, &io);
	struct recorder h __attribute__((cleanup(recorder_fini)));

	create(s, "a", NULL);
	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	create(s, "b", NULL);
	sync_to(inf, s);
	informer_break_watch(inf);
	create(s, "c", NULL);
	sync_to(inf, s);
	cr_assert_eq(informer_relists(inf), 1);
	cr_assert_eq(count(&h, EV_ADD, false, "c"), 1);
	cr_assert_eq(h.n, 3 + 2, "c, plus on_update for a and b from the relist");
	cr_assert_eq(count(&h, EV_UPDATE, false, NULL), 2);
	informer_free(inf);
	store_free(s);
}

Test(informer, failed_lists_back_off_and_retry, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct gate gt = { .list_fails = 3 };

	pthread_mutex_init(&gt.mu, NULL);
	pthread_cond_init(&gt.cv, NULL);
	create(s, "a", NULL);
	store_set_fault_hook(s, gate_fault, &gt);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	cr_assert_eq(gt.lists, 4);
	cr_assert_eq(informer_relists(inf), 0, "failed lists are not relists");
	cr_assert_eq(informer_len(inf), 1);
	informer_free(inf);
	store_free(s);
}

Test(informer, owner_deletion_reaches_the_cache_for_every_dependent, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct recorder h __attribute__((cleanup(recorder_fini)));
	struct obj owner, p;

	obj_init(&owner, "Policy", "ns", "p");
	cr_assert_eq(store_create(s, &owner), 0);
	for (int i = 0; i < 10; i++) {
		char name[8];

		snprintf(name, sizeof(name), "b%d", i);
		obj_init(&p, "Backup", "ns", name);
		p.owner_uid = owner.uid;
		cr_assert_eq(store_create(s, &p), 0);
	}
	recorder_init(&h, inf);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	cr_assert_eq(informer_len(inf), 10);
	cr_assert_eq(store_delete(s, "Policy", "ns", "p", 0), 0);
	sync_to(inf, s);
	cr_assert_eq(informer_len(inf), 0);
	cr_assert_eq(count(&h, EV_DELETE, false, NULL), 10);
	informer_free(inf);
	store_free(s);
}

struct resync_count {
	pthread_mutex_t mu;
	size_t same, other;
};

static void resync_update(void *arg, const struct obj *old, const struct obj *cur)
{
	struct resync_count *c = arg;

	pthread_mutex_lock(&c->mu);
	if (old->rv == cur->rv && old->uid == cur->uid)
		c->same++;
	else
		c->other++;
	pthread_mutex_unlock(&c->mu);
}

Test(informer, resync_calls_on_update_for_every_cached_object, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 20000000);	/* 20 ms */
	struct resync_count c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct informer_handler hd = { .on_update = resync_update, .arg = &c };
	size_t same;

	for (int i = 0; i < 5; i++) {
		char name[8];

		snprintf(name, sizeof(name), "r%d", i);
		create(s, name, NULL);
	}
	cr_assert_eq(informer_add_handler(inf, &hd), 0);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	for (int i = 0; i < 3000; i++) {
		struct timespec ts = { 0, 10000000 };

		pthread_mutex_lock(&c.mu);
		same = c.same;
		pthread_mutex_unlock(&c.mu);
		if (same >= 15)
			break;
		nanosleep(&ts, NULL);
	}
	informer_stop(inf);
	cr_assert_geq(c.same, 15, "three resyncs of 5 objects");
	cr_assert_eq(c.same % 5, 0, "every resync covers every object");
	cr_assert_eq(c.other, 0);
	informer_free(inf);
	store_free(s);
}

static int by_policy(const struct obj *o, char vals[][64], int max)
{
	const char *p = obj_label(o, "policy");

	(void)max;
	if (!p)
		return 0;
	snprintf(vals[0], 64, "%s", p);
	return 1;
}

static int by_spec_bits(const struct obj *o, char vals[][64], int max)
{
	int n = 0;

	for (int b = 0; b < 4 && n < max; b++)
		if (o->spec[1] & (1 << b))
			snprintf(vals[n++], 64, "bit%d", b);
	return n;
}

struct names {
	int n;
	char name[32][96];
};

static int names_fn(void *arg, const struct obj *o)
{
	struct names *x = arg;

	if (x->n < 32)
		strcpy(x->name[x->n], o->name);
	x->n++;
	return 0;
}

static int idx_count(struct informer *inf, const char *index, const char *val)
{
	struct names x = { 0 };
	int rc = informer_by_index(inf, index, val, names_fn, &x);

	return rc ? rc : x.n;
}

static int list_count(struct informer *inf, const char *ns, const char *sel)
{
	struct names x = { 0 };
	int rc = informer_list(inf, ns, sel, names_fn, &x);

	return rc ? rc : x.n;
}

Test(informer, secondary_indexes_follow_every_change, .timeout = 60)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	struct obj o[12];

	cr_assert_eq(informer_add_index(inf, "policy", by_policy), 0);
	cr_assert_eq(informer_add_index(inf, "bits", by_spec_bits), 0);
	cr_assert_eq(informer_add_index(inf, "policy", by_policy), -EEXIST);
	for (int i = 0; i < 12; i++) {
		char name[8], pol[8];

		snprintf(name, sizeof(name), "b%d", i);
		snprintf(pol, sizeof(pol), "p%d", i % 3);
		o[i] = create(s, name, i == 11 ? NULL : pol);
	}
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_add_index(inf, "late", by_policy), -EBUSY);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	cr_assert_eq(idx_count(inf, "policy", "p0"), 4);
	cr_assert_eq(idx_count(inf, "policy", "p2"), 3);
	cr_assert_eq(idx_count(inf, "policy", "nope"), 0);
	cr_assert_eq(idx_count(inf, "missing", "p0"), -ENOENT);

	/* Relabel b0 from p0 to p2; delete b1 (p1); give b3 several index values. */
	obj_set_label(&o[0], "policy", "p2");
	cr_assert_eq(store_update(s, &o[0]), 0);
	cr_assert_eq(store_delete(s, "Backup", "ns", "b1", 0), 0);
	o[3].spec[1] = 0xb;
	cr_assert_eq(store_update(s, &o[3]), 0);
	sync_to(inf, s);
	cr_assert_eq(idx_count(inf, "policy", "p0"), 3);
	cr_assert_eq(idx_count(inf, "policy", "p2"), 4);
	cr_assert_eq(idx_count(inf, "policy", "p1"), 3);
	cr_assert_eq(idx_count(inf, "bits", "bit0"), 1);
	cr_assert_eq(idx_count(inf, "bits", "bit1"), 1);
	cr_assert_eq(idx_count(inf, "bits", "bit2"), 0);
	cr_assert_eq(idx_count(inf, "bits", "bit3"), 1);
	o[3].spec[1] = 0x4;
	cr_assert_eq(store_update(s, &o[3]), 0);
	sync_to(inf, s);
	cr_assert_eq(idx_count(inf, "bits", "bit0"), 0);
	cr_assert_eq(idx_count(inf, "bits", "bit2"), 1);
	/* The label selector scan sees the same as the index. */
	cr_assert_eq(list_count(inf, NULL, "policy=p2"), 4);
	cr_assert_eq(list_count(inf, "ns", "!policy"), 1);
	cr_assert_eq(list_count(inf, "other", NULL), 0);
	cr_assert_eq(list_count(inf, NULL, NULL), 11);
	cr_assert_eq(list_count(inf, NULL, "a in (b)"), -EINVAL);
	informer_free(inf);
	store_free(s);
}

Test(informer, indexes_stay_exact_under_churn, .timeout = 120)
{
	struct store *s = store_new(NULL);
	struct informer *inf = mkinf(s, 0);
	enum { N = 600, P = 7 };
	static struct obj o[N];
	static bool live[N];
	int want[P] = { 0 };
	uint64_t x = 88172645463325252ull;

	cr_assert_eq(informer_add_index(inf, "policy", by_policy), 0);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_wait_synced(inf, WAIT), 0);
	for (int step = 0; step < 6000; step++) {
		int i, p;
		char name[16], pol[8];

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		i = (int)(x % N);
		p = (int)((x >> 20) % P);
		snprintf(name, sizeof(name), "b%d", i);
		snprintf(pol, sizeof(pol), "p%d", p);
		if (!live[i]) {
			o[i] = create(s, name, pol);
			live[i] = true;
		} else if ((x >> 40) % 3 == 0) {
			cr_assert_eq(store_delete(s, "Backup", "ns", name, 0), 0);
			live[i] = false;
		} else {
			obj_set_label(&o[i], "policy", pol);
			cr_assert_eq(store_update(s, &o[i]), 0);
		}
	}
	sync_to(inf, s);
	for (int i = 0; i < N; i++)
		if (live[i])
			want[o[i].labels[0].val[1] - '0']++;
	for (int p = 0; p < P; p++) {
		char pol[8];

		snprintf(pol, sizeof(pol), "p%d", p);
		cr_assert_eq(idx_count(inf, "policy", pol), want[p], "%s", pol);
	}
	cr_assert_eq(informer_len(inf), store_count(s, "Backup"));
	informer_free(inf);
	store_free(s);
}

Test(informer, rejects_bad_options_and_late_handlers)
{
	struct store *s = store_new(NULL);
	struct informer_opts io = { 0 };
	struct informer_handler hd = { 0 };
	struct informer *inf;

	cr_assert_null(informer_new(s, &io));
	io.kind = "";
	cr_assert_null(informer_new(s, &io));
	inf = mkinf(s, 0);
	cr_assert_eq(informer_start(inf), 0);
	cr_assert_eq(informer_add_handler(inf, &hd), -EBUSY);
	cr_assert_eq(informer_start(inf), -EBUSY);
	informer_stop(inf);
	informer_stop(inf);
	informer_free(inf);
	informer_free(NULL);
	store_free(s);
}
