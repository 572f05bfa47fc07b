/* The simulated API server: Kubernetes write semantics, owner GC, lists, watch history. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/obj.h"
#include "bench/store.h"

static struct obj mk(const char *kind, const char *ns, const char *name)
{
	struct obj o;

	cr_assert_eq(obj_init(&o, kind, ns, name), 0);
	return o;
}

static struct obj create(struct store *s, const char *kind, const char *ns, const char *name,
			 uint64_t owner)
{
	struct obj o = mk(kind, ns, name);

	o.owner_uid = owner;
	cr_assert_eq(store_create(s, &o), 0, "create %s/%s", ns, name);
	return o;
}

/* Reads every event available now (poll). */
static int drain(struct store_watch *w, struct watch_event *evs, int max)
{
	int n = 0;

	while (n < max && store_watch_next(w, &evs[n], 0) == 0)
		n++;
	return n;
}

static void fini_events(struct watch_event *evs, int n)
{
	for (int i = 0; i < n; i++)
		obj_fini(&evs[i].obj);
}

Test(store, create_sets_uid_rv_generation_and_clears_status)
{
	struct store *s = store_new(NULL);
	struct obj o = mk("Pod", "default", "a"), b, g;

	o.status[0] = 7;
	o.observed_generation = 3;
	o.conditions = OBJ_COND_READY;
	o.generation = 42;
	cr_assert_eq(store_create(s, &o), 0);
	cr_assert_neq(o.uid, 0);
	cr_assert_eq(o.rv, 1);
	cr_assert_eq(o.generation, 1);
	cr_assert_eq(o.status[0], 0);
	cr_assert_eq(o.observed_generation, 0);
	cr_assert_eq(o.conditions, 0);
	b = create(s, "Pod", "default", "b", 0);
	cr_assert_gt(b.uid, o.uid);
	cr_assert_eq(b.rv, 2);
	cr_assert_eq(store_revision(s), 2);
	cr_assert_eq(store_get(s, "Pod", "default", "a", &g), 0);
	cr_assert_eq(g.uid, o.uid);
	cr_assert_str_eq(g.name, "a");
	cr_assert_eq(store_get_uid(s, b.uid, &g), 0);
	cr_assert_str_eq(g.name, "b");
	cr_assert_eq(store_get(s, "Pod", "other", "a", &g), -ENOENT);
	cr_assert_eq(store_get(s, "Svc", "default", "a", &g), -ENOENT);
	cr_assert_eq(store_get_uid(s, 999, &g), -ENOENT);
	store_free(s);
}

Test(store, create_of_an_existing_name_is_already_exists)
{
	struct store *s = store_new(NULL);
	struct obj o = mk("Pod", "ns", "a");

	create(s, "Pod", "ns", "a", 0);
	cr_assert_eq(store_create(s, &o), -EEXIST);
	cr_assert_eq(store_revision(s), 1);
	/* The same name in another namespace or kind is another object. */
	create(s, "Pod", "ns2", "a", 0);
	create(s, "Svc", "ns", "a", 0);
	cr_assert_eq(store_count(s, "Pod"), 2);
	cr_assert_eq(store_count(s, "Svc"), 1);
	cr_assert_eq(store_count(s, NULL), 3);
	store_free(s);
}

Test(store, malformed_objects_are_rejected)
{
	struct store *s = store_new(NULL);
	struct obj o = mk("Pod", "ns", "");

	cr_assert_eq(store_create(s, &o), -EINVAL);
	o = mk("", "ns", "a");
	cr_assert_eq(store_create(s, &o), -EINVAL);
	o = mk("Pod", "ns", "a");
	memset(o.name, 'x', sizeof(o.name));	/* not terminated */
	cr_assert_eq(store_create(s, &o), -EINVAL);
	o = mk("Pod", "ns", "a");
	o.nlabels = OBJ_MAX_LABELS + 1;
	cr_assert_eq(store_create(s, &o), -EINVAL);
	o = mk("Pod", "ns", "a");
	o.nlabels = 2;
	strcpy(o.labels[0].key, "k");
	strcpy(o.labels[1].key, "k");
	cr_assert_eq(store_create(s, &o), -EINVAL, "duplicate label keys");
	cr_assert_eq(store_revision(s), 0);
	store_free(s);
}

Test(store, update_with_a_stale_resource_version_is_a_conflict)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0), stale = a;

	a.spec[0] = 1;
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.rv, 2);
	stale.spec[0] = 2;
	cr_assert_eq(store_update(s, &stale), -EBUSY);
	cr_assert_eq(store_get(s, "Pod", "ns", "a", &stale), 0);
	cr_assert_eq(stale.spec[0], 1, "the conflicting write must not land");
	stale.uid = a.uid + 100;	/* uid precondition */
	cr_assert_eq(store_update(s, &stale), -EBUSY);
	/* rv 0 is an unconditional update, as the API server allows. */
	stale.uid = 0;
	stale.rv = 0;
	stale.spec[0] = 3;
	cr_assert_eq(store_update(s, &stale), 0);
	cr_assert_eq(stale.rv, 3);
	cr_assert_eq(stale.spec[0], 3);
	struct obj missing = mk("Pod", "ns", "zz");
	cr_assert_eq(store_update(s, &missing), -ENOENT);
	cr_assert_eq(store_update_status(s, &missing), -ENOENT);
	store_free(s);
}

Test(store, a_write_that_changes_nothing_bumps_nothing_and_emits_nothing)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0);
	struct store_watch *w = store_watch_open(s, NULL, store_revision(s));
	struct watch_event ev;
	uint64_t rv = a.rv;

	obj_set_label(&a, "app", "web");
	obj_set_label(&a, "tier", "fe");
	a.spec[1] = 5;
	cr_assert_eq(store_update(s, &a), 0);
	rv = a.rv;
	/* Same labels in another order, same spec; status is ignored by update. */
	struct obj b = mk("Pod", "ns", "a");
	obj_set_label(&b, "tier", "fe");
	obj_set_label(&b, "app", "web");
	b.spec[1] = 5;
	b.status[0] = 99;
	cr_assert_eq(store_update(s, &b), 0);
	cr_assert_eq(b.rv, rv, "no-op update bumped rv");
	cr_assert_eq(b.generation, 2);
	cr_assert_eq(b.status[0], 0, "on success the caller sees the stored object");
	cr_assert_eq(store_revision(s), rv);
	/* Same status: no-op too. */
	cr_assert_eq(store_update_status(s, &b), 0);
	cr_assert_eq(store_revision(s), rv);
	cr_assert_eq(store_watch_next(w, &ev, 0), 0);
	cr_assert_eq(ev.type, WATCH_MODIFIED);
	obj_fini(&ev.obj);
	cr_assert_eq(store_watch_next(w, &ev, 0), -ETIMEDOUT, "a no-op write emitted an event");
	store_watch_close(w);
	store_free(s);
}

Test(store, generation_bumps_on_spec_changes_only)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0);
	struct blob *p1 = blob_new("abc", 3), *p2 = blob_new("abc", 3), *p3 = blob_new("abd", 3);

	cr_assert_eq(a.generation, 1);
	a.spec[2] = 7;
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.generation, 2);
	obj_set_label(&a, "x", "y");	/* metadata: rv moves, generation does not */
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.generation, 2);
	cr_assert_eq(a.rv, 3);
	a.owner_uid = 0;
	obj_set_data(&a, p1);
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.generation, 3, "a payload is part of the spec");
	obj_set_data(&a, p2);	/* another blob with the same bytes: no change */
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.generation, 3);
	cr_assert_eq(a.rv, 4);
	obj_set_data(&a, p3);
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.generation, 4);
	cr_assert_eq(blob_len(a.spec_data), 3);
	cr_assert_eq(memcmp(blob_data(a.spec_data), "abd", 3), 0);
	a.status[1] = 9;	/* status through the main resource: ignored */
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.status[1], 0);
	cr_assert_eq(a.rv, 5);
	blob_unref(p1);
	blob_unref(p2);
	blob_unref(p3);
	obj_fini(&a);
	store_free(s);
}

Test(store, status_subresource_writes_only_status)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0), stale;

	a.spec[0] = 1;
	cr_assert_eq(store_update(s, &a), 0);
	stale = a;
	a.spec[0] = 100;		/* ignored by update_status */
	obj_set_label(&a, "l", "v");	/* ignored too */
	a.observed_generation = a.generation;
	a.status[3] = 4;
	a.conditions = OBJ_COND_READY;
	cr_assert_eq(store_update_status(s, &a), 0);
	cr_assert_eq(a.spec[0], 1);
	cr_assert_eq(a.nlabels, 0);
	cr_assert_eq(a.generation, 2, "status writes never bump generation");
	cr_assert_eq(a.observed_generation, 2);
	cr_assert_eq(a.status[3], 4);
	cr_assert_eq(a.conditions, OBJ_COND_READY);
	cr_assert_eq(a.rv, 3);
	stale.status[0] = 1;
	cr_assert_eq(store_update_status(s, &stale), -EBUSY, "status writes check rv too");
	/* A later spec update keeps the status. */
	a.spec[0] = 2;
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(a.status[3], 4);
	cr_assert_eq(a.conditions, OBJ_COND_READY);
	cr_assert_eq(a.generation, 3);
	store_free(s);
}

Test(store, delete_checks_existence_and_resource_version)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0), g;

	cr_assert_eq(store_delete(s, "Pod", "ns", "nope", 0), -ENOENT);
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", a.rv + 1), -EBUSY);
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", a.rv), 0);
	cr_assert_eq(store_get(s, "Pod", "ns", "a", &g), -ENOENT);
	cr_assert_eq(store_get_uid(s, a.uid, &g), -ENOENT);
	cr_assert_eq(store_count(s, "Pod"), 0);
	/* Recreating a name gives a new uid: uids are never reused. */
	struct obj b = create(s, "Pod", "ns", "a", 0);
	cr_assert_gt(b.uid, a.uid);
	store_free(s);
}

Test(store, deleting_an_owner_deletes_its_dependents_owner_first)
{
	struct store *s = store_new(NULL);
	struct obj rs = create(s, "RS", "ns", "rs", 0), other = create(s, "RS", "ns", "o", 0);
	struct obj p1 = create(s, "Pod", "ns", "p1", rs.uid);
	struct obj p2 = create(s, "Pod", "ns", "p2", rs.uid);
	struct obj c = create(s, "Ctr", "ns", "c", p1.uid);	/* grandchild */
	struct obj keep = create(s, "Pod", "ns", "keep", other.uid);
	struct store_watch *w = store_watch_open(s, NULL, store_revision(s));
	struct watch_event evs[8];
	uint64_t rv0 = store_revision(s);
	bool seen[4] = { 0 };
	int n;

	cr_assert_eq(store_delete(s, "RS", "ns", "rs", 0), 0);
	n = drain(w, evs, 8);
	cr_assert_eq(n, 4, "owner, two pods and the grandchild");
	cr_assert_eq(evs[0].obj.uid, rs.uid, "the owner goes first");
	for (int i = 0; i < n; i++) {
		cr_assert_eq(evs[i].type, WATCH_DELETED);
		cr_assert_eq(evs[i].rv, rv0 + 1 + i, "contiguous revisions");
		cr_assert_eq(evs[i].obj.deletion_rv, evs[i].rv);
		seen[0] |= evs[i].obj.uid == rs.uid;
		seen[1] |= evs[i].obj.uid == p1.uid;
		seen[2] |= evs[i].obj.uid == p2.uid;
		seen[3] |= evs[i].obj.uid == c.uid;
		if (evs[i].obj.uid == c.uid)
			cr_assert(seen[1], "a grandchild goes after its parent");
	}
	cr_assert(seen[0] && seen[1] && seen[2] && seen[3]);
	fini_events(evs, n);
	cr_assert_eq(store_count(s, NULL), 2);
	struct obj g;
	cr_assert_eq(store_get_uid(s, keep.uid, &g), 0);
	/* Deleting a dependent unlinks it: the owner's later delete does not see it. */
	cr_assert_eq(store_delete(s, "Pod", "ns", "keep", 0), 0);
	cr_assert_eq(store_delete(s, "RS", "ns", "o", 0), 0);
	cr_assert_eq(store_count(s, NULL), 0);
	store_watch_close(w);
	store_free(s);
}

Test(store, a_dependent_of_a_missing_owner_is_collected)
{
	struct store *s = store_new(NULL);
	struct obj rs = create(s, "RS", "ns", "rs", 0), orphan = mk("Pod", "ns", "p"), g;
	struct store_watch *w;
	struct watch_event evs[4];

	cr_assert_eq(store_delete(s, "RS", "ns", "rs", 0), 0);
	w = store_watch_open(s, NULL, store_revision(s));
	orphan.owner_uid = rs.uid;	/* a controller acting on a stale cache */
	cr_assert_eq(store_create(s, &orphan), 0);
	cr_assert_eq(store_get(s, "Pod", "ns", "p", &g), -ENOENT);
	cr_assert_eq(drain(w, evs, 4), 2);
	cr_assert_eq(evs[0].type, WATCH_ADDED);
	cr_assert_eq(evs[1].type, WATCH_DELETED);
	fini_events(evs, 2);
	/* Re-owning an object by update links it to its new owner. */
	struct obj o2 = create(s, "RS", "ns", "o2", 0), p = create(s, "Pod", "ns", "q", 0);
	p.owner_uid = o2.uid;
	cr_assert_eq(store_update(s, &p), 0);
	cr_assert_eq(p.generation, 1);
	cr_assert_eq(store_delete(s, "RS", "ns", "o2", 0), 0);
	cr_assert_eq(store_get(s, "Pod", "ns", "q", &g), -ENOENT);
	store_watch_close(w);
	store_free(s);
}

struct collect {
	int n;
	char names[64][96];
};

static int collect_fn(void *arg, const struct obj *o)
{
	struct collect *c = arg;

	if (c->n < 64)
		strcpy(c->names[c->n], o->name);
	c->n++;
	return 0;
}

static bool has(const struct collect *c, const char *name)
{
	for (int i = 0; i < c->n && i < 64; i++)
		if (!strcmp(c->names[i], name))
			return true;
	return false;
}

Test(store, list_filters_by_kind_namespace_and_label_selector)
{
	struct store *s = store_new(NULL);
	const char *names[] = { "a", "b", "c", "d" };
	const char *apps[] = { "web", "web", "db", NULL };
	struct collect c;
	uint64_t rv;

	for (int i = 0; i < 4; i++) {
		struct obj o = mk("Pod", i < 3 ? "ns1" : "ns2", names[i]);

		if (apps[i])
			obj_set_label(&o, "app", apps[i]);
		if (i == 0)
			obj_set_label(&o, "canary", "true");
		cr_assert_eq(store_create(s, &o), 0);
	}
	create(s, "Svc", "ns1", "web", 0);

#define LIST(ns, sel) (memset(&c, 0, sizeof(c)), store_list(s, "Pod", ns, sel, collect_fn, &c, &rv))
	cr_assert_eq(LIST(NULL, NULL), 0);
	cr_assert_eq(c.n, 4);
	cr_assert_eq(rv, 5);
	cr_assert_eq(LIST("ns1", NULL), 0);
	cr_assert_eq(c.n, 3);
	cr_assert_eq(LIST(NULL, "app=web"), 0);
	cr_assert_eq(c.n, 2);
	cr_assert(has(&c, "a") && has(&c, "b"));
	cr_assert_eq(LIST(NULL, "app==web,canary"), 0);
	cr_assert_eq(c.n, 1);
	cr_assert(has(&c, "a"));
	cr_assert_eq(LIST(NULL, "app!=web"), 0);
	cr_assert_eq(c.n, 2, "!= also selects objects without the label");
	cr_assert(has(&c, "c") && has(&c, "d"));
	cr_assert_eq(LIST(NULL, "!app"), 0);
	cr_assert_eq(c.n, 1);
	cr_assert(has(&c, "d"));
	cr_assert_eq(LIST("ns1", " app = web , !canary "), 0);
	cr_assert_eq(c.n, 1);
	cr_assert(has(&c, "b"));
	cr_assert_eq(LIST(NULL, "app in (web)"), -EINVAL);
	cr_assert_eq(LIST(NULL, "=web"), -EINVAL);
	cr_assert_eq(LIST(NULL, "a,,b"), -EINVAL);
	cr_assert_eq(store_list(s, "Svc", NULL, NULL, collect_fn, (memset(&c, 0, sizeof(c)), &c),
				NULL), 0);
	cr_assert_eq(c.n, 1);
#undef LIST
	store_free(s);
}

static int stop_after_two(void *arg, const struct obj *o)
{
	(void)o;
	return ++*(int *)arg == 2 ? 7 : 0;
}

Test(store, list_stops_when_the_callback_says_so)
{
	struct store *s = store_new(NULL);
	int n = 0;

	for (int i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%d", i);
		create(s, "Pod", "ns", name, 0);
	}
	cr_assert_eq(store_list(s, "Pod", NULL, NULL, stop_after_two, &n, NULL), 7);
	cr_assert_eq(n, 2);
	store_free(s);
}

Test(store, watch_delivers_every_change_in_revision_order)
{
	struct store *s = store_new(NULL);
	struct obj a = create(s, "Pod", "ns", "a", 0);
	struct store_watch *w = store_watch_open(s, NULL, 0), *wk;
	struct watch_event evs[16];
	int n;

	create(s, "Svc", "ns", "s", 0);
	a.spec[0] = 1;
	cr_assert_eq(store_update(s, &a), 0);
	a.status[0] = 1;
	cr_assert_eq(store_update_status(s, &a), 0);
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", 0), 0);
	n = drain(w, evs, 16);
	cr_assert_eq(n, 5);
	for (int i = 0; i < n; i++)
		cr_assert_eq(evs[i].rv, (uint64_t)i + 1);
	cr_assert_eq(evs[0].type, WATCH_ADDED);
	cr_assert_str_eq(evs[1].obj.kind, "Svc");
	cr_assert_eq(evs[2].type, WATCH_MODIFIED);
	cr_assert_eq(evs[2].obj.spec[0], 1);
	cr_assert_eq(evs[2].obj.rv, 3);
	cr_assert_eq(evs[3].obj.status[0], 1);
	cr_assert_eq(evs[4].type, WATCH_DELETED);
	cr_assert_eq(evs[4].obj.rv, 5, "a DELETED event carries the deletion revision");
	cr_assert_eq(evs[4].obj.status[0], 1, "and the last state");
	fini_events(evs, n);
	/* A kind filter and a start revision. */
	wk = store_watch_open(s, "Pod", 2);
	n = drain(wk, evs, 16);
	cr_assert_eq(n, 3);
	cr_assert_eq(evs[0].rv, 3);
	cr_assert_eq(evs[2].rv, 5);
	fini_events(evs, n);
	cr_assert_eq(store_watch_next(wk, &evs[0], 1000000), -ETIMEDOUT);
	store_watch_close(wk);
	store_watch_close(w);
	store_free(s);
}

Test(store, a_watcher_behind_the_history_gets_gone)
{
	struct store_opts so = { .watch_history = 4 };
	struct store *s = store_new(&so);
	struct obj a = create(s, "Pod", "ns", "a", 0);
	struct store_watch *w = store_watch_open(s, NULL, 0), *w2;
	struct watch_event ev;

	for (int i = 1; i <= 4; i++) {
		a.spec[0] = i;
		cr_assert_eq(store_update(s, &a), 0);
	}
	/* Revisions 2..5 are kept; the watcher wants 1. */
	cr_assert_eq(store_watch_next(w, &ev, 0), -ESTALE);
	cr_assert_eq(store_watch_next(w, &ev, 0), -ESTALE, "gone stays gone");
	w2 = store_watch_open(s, NULL, 1);
	cr_assert_eq(store_watch_next(w2, &ev, 0), 0);
	cr_assert_eq(ev.rv, 2);
	obj_fini(&ev.obj);
	/* Explicit compaction past the watcher's position. */
	cr_assert_eq(store_compact(s, 4), 0);
	cr_assert_eq(store_watch_next(w2, &ev, 0), -ESTALE);
	store_watch_close(w2);
	w2 = store_watch_open(s, NULL, 4);
	cr_assert_eq(store_watch_next(w2, &ev, 0), 0);
	cr_assert_eq(ev.rv, 5);
	obj_fini(&ev.obj);
	store_watch_close(w2);
	store_watch_close(w);
	store_free(s);
}

static void *breaker(void *arg)
{
	struct timespec ts = { 0, 20000000 };

	nanosleep(&ts, NULL);
	store_watch_break(arg);
	return NULL;
}

Test(store, a_broken_watch_wakes_its_reader_with_shutdown)
{
	struct store *s = store_new(NULL);
	struct store_watch *w = store_watch_open(s, NULL, 0);
	struct watch_event ev;
	pthread_t t;

	pthread_create(&t, NULL, breaker, w);
	cr_assert_eq(store_watch_next(w, &ev, UINT64_MAX), -ESHUTDOWN);
	pthread_join(t, NULL);
	store_watch_close(w);
	store_free(s);
}

struct faults {
	int calls[SV__COUNT];
	int fail_verb, rc;
	bool apply;
};

static int fault_fn(void *arg, enum store_verb verb, const struct obj *o, bool *applied)
{
	struct faults *f = arg;

	(void)o;
	f->calls[verb]++;
	if ((int)verb != f->fail_verb)
		return 0;
	*applied = f->apply;
	return f->rc;
}

Test(store, fault_hook_fails_calls_before_or_after_they_apply)
{
	struct store *s = store_new(NULL);
	struct faults f = { .fail_verb = SV_CREATE, .rc = -EIO };
	struct obj o = mk("Pod", "ns", "a"), g;

	store_set_fault_hook(s, fault_fn, &f);
	cr_assert_eq(store_create(s, &o), -EIO);
	cr_assert_eq(store_count(s, NULL), 0, "a 500 before the write: nothing happened");
	f.rc = -ETIMEDOUT;
	f.apply = true;
	cr_assert_eq(store_create(s, &o), -ETIMEDOUT);
	cr_assert_eq(store_count(s, NULL), 1, "a timeout after the write: it happened");
	f.fail_verb = SV_GET;
	f.rc = -EAGAIN;
	cr_assert_eq(store_get(s, "Pod", "ns", "a", &g), -EAGAIN);
	f.fail_verb = -1;
	cr_assert_eq(store_get(s, "Pod", "ns", "a", &g), 0);
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", 0), 0);
	cr_assert_eq(f.calls[SV_CREATE], 2);
	cr_assert_eq(f.calls[SV_GET], 2);
	cr_assert_eq(f.calls[SV_DELETE], 1);
	store_free(s);
}

struct hooklog {
	uint64_t rvs[16];
	int types[16];
	int n;
};

static void commit_fn(void *arg, const struct watch_event *ev)
{
	struct hooklog *l = arg;

	l->rvs[l->n] = ev->rv;
	l->types[l->n++] = ev->type;
}

Test(store, commit_hook_sees_every_change_in_order)
{
	struct store *s = store_new(NULL);
	struct hooklog l = { 0 };
	struct obj a;

	store_set_commit_hook(s, commit_fn, &l);
	a = create(s, "Pod", "ns", "a", 0);
	create(s, "Pod", "ns", "b", a.uid);
	a.spec[0] = 1;
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(store_update(s, &a), 0);	/* no-op: no commit */
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", 0), 0);
	cr_assert_eq(l.n, 5);
	for (int i = 0; i < l.n; i++)
		cr_assert_eq(l.rvs[i], (uint64_t)i + 1);
	cr_assert_eq(l.types[3], WATCH_DELETED);
	cr_assert_eq(l.types[4], WATCH_DELETED);
	store_free(s);
}

/* The version hook's per-object cookie: NULL at an object's first commit, then whatever
 * the hook left there, per object; NULL again after a hook is set. */
struct cookielog {
	int n, seen_null, seen_mine;
	uintptr_t next;
};

static void cookie_fn(void *arg, enum watch_type type, uint64_t rv, const struct objv *v,
		      void **cookie)
{
	struct cookielog *l = arg;

	(void)type;
	(void)rv;
	l->n++;
	if (!*cookie) {
		l->seen_null++;
		*cookie = (void *)(uintptr_t)v->uid;	/* this object's own mark */
	} else {
		cr_assert_eq((uintptr_t)*cookie, (uintptr_t)v->uid, "another object's cookie");
		l->seen_mine++;
	}
}

Test(store, version_hook_keeps_a_cookie_per_object)
{
	struct store *s = store_new(NULL);
	struct cookielog l = { 0 };
	struct obj a, b;

	store_set_commit_hook_v(s, cookie_fn, &l);
	a = create(s, "Pod", "ns", "a", 0);
	b = create(s, "Pod", "ns", "b", 0);
	cr_assert_eq(l.seen_null, 2);
	for (int i = 1; i <= 3; i++) {
		a.spec[0] = b.spec[0] = i;
		cr_assert_eq(store_update(s, &a), 0);
		cr_assert_eq(store_update(s, &b), 0);
	}
	cr_assert_eq(l.seen_mine, 6);
	store_set_commit_hook_v(s, cookie_fn, &l);	/* a new hook: no cookies */
	a.spec[0] = 10;
	cr_assert_eq(store_update(s, &a), 0);
	cr_assert_eq(l.seen_null, 3);
	cr_assert_eq(store_delete(s, "Pod", "ns", "a", 0), 0);
	cr_assert_eq(l.seen_mine, 7, "the delete sees the cookie");
	a = create(s, "Pod", "ns", "a", 0);	/* a new object in a reused entry */
	cr_assert_eq(l.seen_null, 4);
	cr_assert_eq(l.n, 2 + 6 + 1 + 1 + 1);
	store_set_commit_hook(s, NULL, NULL);
	store_free(s);
}

Test(store, tables_survive_growth_and_deletes)
{
	struct store *s = store_new(NULL);
	enum { N = 20000 };
	static uint64_t uids[N];
	struct obj g;
	char name[32];

	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "obj-%d", i);
		uids[i] = create(s, "Pod", i % 2 ? "odd" : "even", name, 0).uid;
	}
	for (int i = 0; i < N; i += 3) {
		snprintf(name, sizeof(name), "obj-%d", i);
		cr_assert_eq(store_delete(s, "Pod", i % 2 ? "odd" : "even", name, 0), 0);
	}
	for (int i = 0; i < N; i++) {
		int want = i % 3 ? 0 : -ENOENT;

		snprintf(name, sizeof(name), "obj-%d", i);
		cr_assert_eq(store_get(s, "Pod", i % 2 ? "odd" : "even", name, &g), want, "%s", name);
		cr_assert_eq(store_get_uid(s, uids[i], &g), want, "uid of %s", name);
		if (!want)
			cr_assert_eq(g.uid, uids[i]);
	}
	cr_assert_eq(store_count(s, "Pod"), N - (N + 2) / 3);
	store_free(s);
}

Test(store, memory_per_object_is_compact)
{
	struct store_opts so = { .watch_history = 1024 };
	struct store *s = store_new(&so);
	size_t before = store_bytes(s), per;
	enum { N = 50000 };
	char name[32];

	for (int i = 0; i < N; i++) {
		struct obj o = mk("Backup", "team-a", "x");

		snprintf(o.name, sizeof(o.name), "backup-%06d", i);
		snprintf(name, sizeof(name), "policy-%d", i % 100);
		obj_set_label(&o, "policy", name);
		cr_assert_eq(store_create(s, &o), 0);
	}
	per = (store_bytes(s) - before) / N;
	/* objv ~200 B (malloc overhead not counted) + entry 32 B + tables <= 32 B */
	cr_assert_lt(per, 320, "%zu bytes per object", per);
	cr_assert_gt(per, sizeof(struct objv), "%zu bytes per object", per);
	store_free(s);
}

/* ---- concurrency ---- */

struct writer_arg {
	struct store *s;
	int id, iters;
	uint64_t conflicts;
};

static void *writer(void *p)
{
	struct writer_arg *a = p;
	char name[16];

	for (int i = 0; i < a->iters; i++) {
		struct obj o;

		/* Every writer increments the shared counter object: read-modify-write with
		 * conflict retries, as a controller does. */
		for (;;) {
			cr_assert_eq(store_get(a->s, "Cnt", "ns", "shared", &o), 0);
			o.spec[0]++;
			int rc = store_update(a->s, &o);
			obj_fini(&o);
			if (!rc)
				break;
			cr_assert_eq(rc, -EBUSY);
			a->conflicts++;
		}
		snprintf(name, sizeof(name), "w%d-%d", a->id, i);
		o = mk("Pod", "ns", name);
		cr_assert_eq(store_create(a->s, &o), 0);
		if (i % 2)
			cr_assert_eq(store_delete(a->s, "Pod", "ns", name, 0), 0);
	}
	return NULL;
}

struct reader_arg {
	struct store *s;
	uint64_t until, last, events;
	bool ordered;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;
	struct store_watch *w = store_watch_open(r->s, NULL, 0);
	struct store_wev evs[64];

	r->ordered = true;
	while (r->last < r->until) {
		int n = store_watch_next_v(w, evs, 64, 2000000000ull);

		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			r->ordered &= evs[i].rv == r->last + 1;
			r->last = evs[i].rv;
			objv_unref(evs[i].v);
		}
		r->events += n;
	}
	store_watch_close(w);
	return NULL;
}

Test(store, concurrent_writers_serialize_and_watchers_see_every_revision, .timeout = 120)
{
	struct store_opts so = { .watch_history = 1 << 20 };
	struct store *s = store_new(&so);
	enum { W = 4, ITERS = 2000 };
	struct writer_arg wa[W];
	struct reader_arg ra;
	pthread_t wt[W], rt;
	struct obj cnt = create(s, "Cnt", "ns", "shared", 0), g;
	uint64_t conflicts = 0, expect;

	/* counter updates + creates + half deletes, plus the first create */
	expect = 1 + (uint64_t)W * ITERS * 2 + (uint64_t)W * ITERS / 2;
	ra = (struct reader_arg){ .s = s, .until = expect };
	pthread_create(&rt, NULL, reader, &ra);
	for (int i = 0; i < W; i++) {
		wa[i] = (struct writer_arg){ .s = s, .id = i, .iters = ITERS };
		pthread_create(&wt[i], NULL, writer, &wa[i]);
	}
	for (int i = 0; i < W; i++) {
		pthread_join(wt[i], NULL);
		conflicts += wa[i].conflicts;
	}
	pthread_join(rt, NULL);
	cr_assert_eq(store_get(s, "Cnt", "ns", "shared", &g), 0);
	cr_assert_eq(g.spec[0], W * ITERS, "no lost update (conflicts retried: %llu)",
		     (unsigned long long)conflicts);
	cr_assert_eq(g.generation, 1 + W * ITERS);
	cr_assert_eq(store_revision(s), expect);
	cr_assert_eq(store_count(s, "Pod"), W * ITERS / 2);
	cr_assert(ra.ordered, "a watcher saw a gap or a reordering");
	cr_assert_eq(ra.events, expect);
	(void)cnt;
	store_free(s);
}

/* ---- selectors and objects ---- */

struct selcase {
	char sel[48];
	int rc;
	int n;
};

ParameterizedTestParameters(obj, selector_parse_table)
{
	static struct selcase cases[] = {
		{ "", 0, 0 }, { "a=b", 0, 1 }, { "a==b,c!=d", 0, 2 }, { "!a", 0, 1 },
		{ "a", 0, 1 }, { " a = b ", 0, 1 }, { "a=", 0, 1 }, { "=b", -EINVAL, 0 },
		{ "a,", -EINVAL, 0 }, { ",a", -EINVAL, 0 }, { "a b=c", -EINVAL, 0 },
		{ "a in (b)", -EINVAL, 0 }, { "a=b=c", -EINVAL, 0 },
		{ "1,2,3,4,5,6,7,8,9", -E2BIG, 0 },
		{ "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=v", -EINVAL, 0 },
	};
	return cr_make_param_array(struct selcase, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct selcase *c, obj, selector_parse_table)
{
	struct obj_selector sel;
	int rc = obj_selector_parse(&sel, c->sel);

	cr_assert_eq(rc, c->rc, "'%s': rc %d, want %d", c->sel, rc, c->rc);
	cr_assert_eq(sel.n, c->n, "'%s': %d terms", c->sel, sel.n);
}

Test(obj, labels_pack_and_unpack_in_key_order)
{
	struct obj o = mk("K", "ns", "n"), u;
	struct objv *v;
	struct blob *b = blob_new("xy", 2);

	cr_assert_eq(obj_set_label(&o, "zeta", "1"), 0);
	cr_assert_eq(obj_set_label(&o, "alpha", "2"), 0);
	cr_assert_eq(obj_set_label(&o, "mid", "3"), 0);
	cr_assert_eq(obj_set_label(&o, "alpha", "4"), 0, "replace in place");
	cr_assert_eq(obj_set_label(&o, "x", "5"), 0);
	cr_assert_eq(obj_set_label(&o, "y", "6"), -ENOSPC);
	cr_assert_eq(obj_set_label(&o, "", "6"), -EINVAL);
	cr_assert_eq(obj_del_label(&o, "x"), 0);
	cr_assert_eq(obj_del_label(&o, "x"), -ENOENT);
	obj_set_data(&o, b);
	blob_unref(b);
	o.spec[3] = -5;
	v = objv_pack(&o, NULL);
	cr_assert_not_null(v);
	cr_assert_str_eq(objv_label(v, "alpha"), "4");
	cr_assert_null(objv_label(v, "x"));
	objv_unpack(v, &u);
	cr_assert_eq(u.nlabels, 3);
	cr_assert_str_eq(u.labels[0].key, "alpha");
	cr_assert_str_eq(u.labels[2].key, "zeta");
	cr_assert(obj_meta_equal(&o, &u));
	cr_assert(obj_spec_equal(&o, &u));
	cr_assert_eq(u.spec_data, o.spec_data, "copies share the payload");
	objv_unref(v);
	obj_fini(&u);
	cr_assert_eq(blob_len(o.spec_data), 2, "the payload outlives other copies");
	obj_fini(&o);
	cr_assert_eq(obj_init(&o, "K", "ns", "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
			      "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"), -ENAMETOOLONG);
}
