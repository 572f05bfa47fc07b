/* The convergence oracle fed by a real store: owners and their children, as the bench uses
 * it with the replicaset workload (converged: spec.replicas pods, status says so). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "bench/oracle.h"
#include "bench/store.h"
#include "bench/workload.h"

struct world {
	struct store *s;
	struct oracle *o;
	struct wl_env env;
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	w->s = store_new(NULL);
	cr_assert_not_null(w->s);
	cr_assert_eq(oracle_new(&wl_replicaset, &w->env, &w->o), 0);
	store_set_commit_hook_v(w->s, oracle_on_commit_v, w->o);
}

static void world_fini(struct world *w)
{
	store_set_commit_hook(w->s, NULL, NULL);
	oracle_free(w->o);	/* first: it holds the store's versions */
	store_free(w->s);
}

/* A ReplicaSet wanting `replicas` pods whose status already says so. */
static struct obj replicaset(struct world *w, const char *name, int64_t replicas)
{
	struct obj o;

	cr_assert_eq(obj_init(&o, "ReplicaSet", "ns", name), 0);
	o.spec[0] = replicas;
	cr_assert_eq(store_create(w->s, &o), 0);
	o.observed_generation = o.generation;
	o.status[0] = replicas;
	cr_assert_eq(store_update_status(w->s, &o), 0);
	return o;
}

static struct obj pod(struct world *w, const char *name, uint64_t owner)
{
	struct obj o;

	cr_assert_eq(obj_init(&o, "Pod", "ns", name), 0);
	o.owner_uid = owner;
	cr_assert_eq(store_create(w->s, &o), 0);
	return o;
}

/* The names of the unconverged primaries, space-separated, in a static buffer. */
static const char *stuck(struct world *w)
{
	static char buf[512];
	struct bench_stuck *v;
	size_t n;

	cr_assert_eq(oracle_stuck(w->o, &v, &n, 16), 0);
	buf[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strncat(buf, v[i].key, sizeof(buf) - strlen(buf) - 2);
		strcat(buf, " ");
	}
	free(v);
	return buf;
}

Test(oracle, an_owner_converges_with_its_children)
{
	struct world w;

	world_init(&w);
	struct obj a = replicaset(&w, "a", 2);
	cr_assert_eq(oracle_primaries(w.o), 1);
	cr_assert_eq(oracle_unconverged(w.o), 1, "no pods yet: %s", stuck(&w));
	pod(&w, "p1", a.uid);
	cr_assert_eq(oracle_unconverged(w.o), 1);
	pod(&w, "p2", a.uid);
	cr_assert_eq(oracle_unconverged(w.o), 0, "two pods: %s", stuck(&w));
	cr_assert_eq(store_delete(w.s, "Pod", "ns", "p1", 0), 0);
	cr_assert_eq(oracle_unconverged(w.o), 1);
	cr_assert(strstr(stuck(&w), "ReplicaSet/ns/a"));
	world_fini(&w);
}

/* A pod moved to another owner counts for the new one only; deleting it afterwards must
 * not touch the old owner (it once kept a pointer to the freed child). */
Test(oracle, a_reowned_child_moves_to_its_new_owner)
{
	struct world w;

	world_init(&w);
	struct obj a = replicaset(&w, "a", 1), b = replicaset(&w, "b", 1);
	struct obj p = pod(&w, "p", a.uid);
	cr_assert_eq(oracle_unconverged(w.o), 1);
	cr_assert(strstr(stuck(&w), "ReplicaSet/ns/b"), "%s", stuck(&w));

	p.owner_uid = b.uid;
	cr_assert_eq(store_update(w.s, &p), 0);
	cr_assert_eq(oracle_unconverged(w.o), 1);
	cr_assert(strstr(stuck(&w), "ReplicaSet/ns/a") && !strstr(stuck(&w), "ReplicaSet/ns/b"),
		  "a lost its pod, b gained it: %s", stuck(&w));

	cr_assert_eq(store_delete(w.s, "Pod", "ns", "p", 0), 0);
	cr_assert_eq(oracle_unconverged(w.o), 2, "%s", stuck(&w));
	world_fini(&w);
}

/* Deleting an owner deletes its children (the store's garbage collector); the oracle
 * forgets all of them and counts nothing as unconverged. */
Test(oracle, deleting_an_owner_forgets_it_and_its_children)
{
	struct world w;

	world_init(&w);
	struct obj a = replicaset(&w, "a", 2);
	pod(&w, "p1", a.uid);
	pod(&w, "p2", a.uid);
	cr_assert_eq(oracle_unconverged(w.o), 0);
	cr_assert_eq(store_delete(w.s, "ReplicaSet", "ns", "a", 0), 0);
	cr_assert_eq(oracle_primaries(w.o), 0);
	cr_assert_eq(oracle_unconverged(w.o), 0);
	cr_assert_not(oracle_has(w.o, a.uid));
	world_fini(&w);
}
