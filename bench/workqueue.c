/*
 * workqueue — client-go's workqueue and controller-runtime's priority queue (see
 * workqueue.h for the rules both follow).
 *
 * Layout: every key with any state has one entry in a slab (stable 32-bit index, reused
 * through a free list) and a keymap uid -> index. The entry carries every flag and time:
 * client-go's dirty set, processing set, waiting-for-delay set and metric timestamps are
 * bits and fields of it, so one lookup serves an operation. Entries leave when their flags
 * reach 0, so the queue holds only keys that are waiting or processing.
 *
 *   client-go: FIFO ring of indices (never full: its capacity follows the slab's) and a
 *              min-heap of delayed entries by ready time.
 *   priority:  heap R (no delay: priority, then insertion), heap RD (delay passed: ready
 *              time, priority, insertion), heap D (delay pending, same order); Get takes R
 *              before RD, exactly the btree order of controller-runtime's priorityqueue.
 *              A processing key that is queued again is parked outside the heaps until Done.
 *
 * Processing entries also sit on a list in Get order, so the oldest (the longest running
 * processor) is its head and the unfinished-work sum walks only the processing keys.
 *
 * Invariants (under q->mu): F_DIRTY && !F_PROC <=> in the ring (client-go); F_WAIT <=> in
 * D (client-go); F_READY <=> counted in depth (priority queue); an entry with flags == 0
 * is on the free list and not in the keymap.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/keymap.h"
#include "bench/workqueue.h"

#define F_DIRTY 1u	/* client-go: waiting to be handed out (parked while F_PROC) */
#define F_PROC 2u	/* handed out by Get, not Done yet */
#define F_WAIT 4u	/* client-go: a delayed entry in heap D */
#define F_QUEUED 8u	/* priority: in controller-runtime's items map */
#define F_READY 16u	/* priority: ready and counted in depth; add_ns is valid */

#define NOPOS UINT32_MAX
#define NEVER UINT64_MAX	/* priority: no delay at all (ReadyAt == nil) */

enum { H_NONE, H_D, H_R, H_RD, H__N };

struct wq_ent {
	uint64_t key;
	uint64_t add_ns;	/* metrics: first add not yet observed by a Get */
	uint64_t start_ns;	/* metrics: Get time while processing */
	uint64_t ready_ns;	/* delayed: when it is ready (priority: NEVER = no delay) */
	uint64_t seq;		/* insertion order, breaks ties in the heaps */
	uint32_t flags;
	uint32_t pos;		/* index in heap `heap` */
	uint32_t prev, next;	/* processing list; next links the free list */
	int prio;
	uint8_t heap;
};

struct wq_heap {
	uint32_t *v;
	uint32_t n, cap;
};

struct wq {
	enum wq_kind kind;
	bool metrics;
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	struct rl *rl;

	pthread_mutex_t mu;
	pthread_cond_t cv;		/* getters */
	pthread_cond_t drain_cv;	/* ShutDownWithDrain */
	uint32_t sleepers, timed;	/* getters asleep; of them, asleep with a deadline */
	bool shutting, draining;

	struct keymap map;
	struct wq_ent *ents;
	uint32_t nents, cap_ents, free_head;

	uint32_t *ring;			/* client-go FIFO */
	uint32_t ring_head, ring_n, ring_mask;

	struct wq_heap heaps[H__N];
	uint64_t seq;

	uint32_t proc_head, proc_tail, nproc;

	uint64_t depth, depth_max, adds, retries, dropped;
	struct hist *qd, *wd;
};

/* A clock read done at most once per operation. */
struct wq_now {
	uint64_t t;
	bool have;
};

static uint64_t wq_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t wq_now(struct wq *q, struct wq_now *n)
{
	if (!n->have) {
		n->t = q->clock ? q->clock(q->clock_arg) : wq_mono_ns();
		n->have = true;
	}
	return n->t;
}

/* ---- entries ---- */

static inline struct wq_ent *E(struct wq *q, uint32_t i)
{
	return &q->ents[i];
}

static int wq_grow(struct wq *q)
{
	uint32_t cap = q->cap_ents * 2;
	struct wq_ent *ents = realloc(q->ents, (size_t)cap * sizeof(*ents));

	if (!ents)
		return -ENOMEM;
	q->ents = ents;
	if (q->kind == WQ_CLIENTGO) {
		uint32_t *ring = malloc((size_t)cap * sizeof(*ring));

		if (!ring)
			return -ENOMEM;
		for (uint32_t i = 0; i < q->ring_n; i++)
			ring[i] = q->ring[(q->ring_head + i) & q->ring_mask];
		free(q->ring);
		q->ring = ring;
		q->ring_head = 0;
		q->ring_mask = cap - 1;
	}
	q->cap_ents = cap;
	return 0;
}

/* The entry of key, created empty when missing; NOPOS when out of memory. Invalidates
 * entry pointers (the slab may move). */
static uint32_t wq_ent_get(struct wq *q, uint64_t key)
{
	uint32_t *v = km_find(&q->map, key), i;

	if (v)
		return *v;
	if (q->free_head != NOPOS) {
		i = q->free_head;
	} else {
		if (q->nents == q->cap_ents && wq_grow(q))
			return NOPOS;
		i = q->nents;
	}
	if (km_insert(&q->map, key, i))
		return NOPOS;
	if (i == q->free_head)
		q->free_head = E(q, i)->next;
	else
		q->nents++;
	*E(q, i) = (struct wq_ent){ .key = key, .pos = NOPOS, .prev = NOPOS, .next = NOPOS };
	return i;
}

static void wq_ent_put(struct wq *q, uint32_t i)
{
	struct wq_ent *e = E(q, i);

	if (e->flags)
		return;
	km_del(&q->map, e->key);
	e->next = q->free_head;
	q->free_head = i;
}

static struct wq_ent *wq_ent_find(struct wq *q, uint64_t key, uint32_t *idx)
{
	uint32_t *v = km_find(&q->map, key);

	if (!v)
		return NULL;
	*idx = *v;
	return E(q, *v);
}

/* ---- heaps of entry indices ---- */

/* D and RD: ready time, then priority (highest first), then insertion. */
static bool wq_less_ready(const struct wq_ent *a, const struct wq_ent *b)
{
	if (a->ready_ns != b->ready_ns)
		return a->ready_ns < b->ready_ns;
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->seq < b->seq;
}

/* R: priority, then insertion. */
static bool wq_less_prio(const struct wq_ent *a, const struct wq_ent *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->seq < b->seq;
}

static bool wq_hless(struct wq *q, int h, uint32_t a, uint32_t b)
{
	return h == H_R ? wq_less_prio(E(q, a), E(q, b)) : wq_less_ready(E(q, a), E(q, b));
}

static void wq_hset(struct wq *q, int h, uint32_t pos, uint32_t i)
{
	q->heaps[h].v[pos] = i;
	E(q, i)->pos = pos;
}

static void wq_hup(struct wq *q, int h, uint32_t pos)
{
	uint32_t *v = q->heaps[h].v, i = v[pos];

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (!wq_hless(q, h, i, v[parent]))
			break;
		wq_hset(q, h, pos, v[parent]);
		pos = parent;
	}
	wq_hset(q, h, pos, i);
}

static void wq_hdown(struct wq *q, int h, uint32_t pos)
{
	struct wq_heap *hp = &q->heaps[h];
	uint32_t i = hp->v[pos];

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= hp->n)
			break;
		if (c + 1 < hp->n && wq_hless(q, h, hp->v[c + 1], hp->v[c]))
			c++;
		if (!wq_hless(q, h, hp->v[c], i))
			break;
		wq_hset(q, h, pos, hp->v[c]);
		pos = c;
	}
	wq_hset(q, h, pos, i);
}

static int wq_hpush(struct wq *q, int h, uint32_t i)
{
	struct wq_heap *hp = &q->heaps[h];

	if (hp->n == hp->cap) {
		uint32_t cap = hp->cap ? hp->cap * 2 : 64;
		uint32_t *v = realloc(hp->v, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		hp->v = v;
		hp->cap = cap;
	}
	E(q, i)->heap = (uint8_t)h;
	hp->v[hp->n++] = i;
	wq_hup(q, h, hp->n - 1);
	return 0;
}

static void wq_hremove(struct wq *q, uint32_t i)
{
	struct wq_ent *e = E(q, i);
	int h = e->heap;
	struct wq_heap *hp = &q->heaps[h];
	uint32_t pos = e->pos, last;

	if (h == H_NONE)
		return;
	e->heap = H_NONE;
	e->pos = NOPOS;
	last = hp->v[--hp->n];
	if (pos == hp->n)
		return;
	wq_hset(q, h, pos, last);
	wq_hdown(q, h, pos);
	wq_hup(q, h, E(q, last)->pos);
}

static uint32_t wq_htop(struct wq *q, int h)
{
	return q->heaps[h].n ? q->heaps[h].v[0] : NOPOS;
}

/* ---- the processing list and metrics ---- */

static void wq_proc_start(struct wq *q, uint32_t i, struct wq_now *now)
{
	struct wq_ent *e = E(q, i);

	e->flags |= F_PROC;
	q->nproc++;
	q->depth--;
	if (!q->metrics)
		return;
	uint64_t t = wq_now(q, now);

	hist_record(q->qd, t > e->add_ns ? t - e->add_ns : 0);
	e->start_ns = t;
	e->prev = q->proc_tail;
	e->next = NOPOS;
	if (q->proc_tail != NOPOS)
		E(q, q->proc_tail)->next = i;
	else
		q->proc_head = i;
	q->proc_tail = i;
}

static void wq_proc_end(struct wq *q, uint32_t i, struct wq_now *now)
{
	struct wq_ent *e = E(q, i);

	e->flags &= ~F_PROC;
	q->nproc--;
	if (!q->metrics)
		return;
	uint64_t t = wq_now(q, now);

	hist_record(q->wd, t > e->start_ns ? t - e->start_ns : 0);
	if (e->prev != NOPOS)
		E(q, e->prev)->next = e->next;
	else
		q->proc_head = e->next;
	if (e->next != NOPOS)
		E(q, e->next)->prev = e->prev;
	else
		q->proc_tail = e->prev;
}

static void wq_count_add(struct wq *q, struct wq_ent *e, uint64_t add_ns)
{
	q->adds++;
	if (++q->depth > q->depth_max)
		q->depth_max = q->depth;
	e->add_ns = add_ns;
}

static void wq_wake_one(struct wq *q)
{
	if (q->sleepers)
		pthread_cond_signal(&q->cv);
}

/* ---- client-go ---- */

/* Typed.Add; add_ns is the metrics add time (now, or a delayed entry's ready time). */
static void cg_add(struct wq *q, uint64_t key, struct wq_now *now, uint64_t add_ns)
{
	uint32_t i = wq_ent_get(q, key);

	if (i == NOPOS) {
		q->dropped++;
		return;
	}
	struct wq_ent *e = E(q, i);

	if (e->flags & F_DIRTY)
		return;
	e->flags |= F_DIRTY;
	wq_count_add(q, e, add_ns ? add_ns : q->metrics ? wq_now(q, now) : 0);
	if (e->flags & F_PROC)
		return;
	q->ring[(q->ring_head + q->ring_n++) & q->ring_mask] = i;
	wq_wake_one(q);
}

/* delayingType's waitingLoop, run lazily: every delayed entry whose time came is added, in
 * ready-time order, with its ready time as the add time. Stops at shutdown, as the loop. */
static void cg_promote(struct wq *q, struct wq_now *now)
{
	uint32_t i;

	while (!q->shutting && (i = wq_htop(q, H_D)) != NOPOS &&
	       E(q, i)->ready_ns <= wq_now(q, now)) {
		struct wq_ent *e = E(q, i);
		uint64_t key = e->key, ready = e->ready_ns;

		wq_hremove(q, i);
		e->flags &= ~F_WAIT;
		cg_add(q, key, now, ready);	/* ready >= 1: it is now + a delay > 0 */
		wq_ent_put(q, i);	/* only when the add failed */
	}
}

static void cg_add_after(struct wq *q, uint64_t key, uint64_t delay, struct wq_now *now)
{
	if (q->shutting)
		return;
	q->retries++;
	if (!delay) {
		cg_add(q, key, now, 0);
		return;
	}
	uint64_t ready = wq_now(q, now) + delay;
	uint32_t i = wq_ent_get(q, key), top = wq_htop(q, H_D);

	if (i == NOPOS) {
		q->dropped++;
		return;
	}
	struct wq_ent *e = E(q, i);

	if (e->flags & F_WAIT) {
		if (ready >= e->ready_ns)
			return;
		e->ready_ns = ready;
		wq_hup(q, H_D, e->pos);
	} else {
		e->ready_ns = ready;
		e->seq = q->seq++;
		if (wq_hpush(q, H_D, i)) {
			q->dropped++;
			wq_ent_put(q, i);
			return;
		}
		E(q, i)->flags |= F_WAIT;
	}
	/* A new earliest deadline: sleeping getters must re-arm their timed wait. */
	if (wq_htop(q, H_D) != top && q->sleepers)
		pthread_cond_broadcast(&q->cv);
}

static bool cg_take(struct wq *q, uint32_t *out, struct wq_now *now)
{
	if (!q->ring_n)
		return false;
	uint32_t i = q->ring[q->ring_head];

	q->ring_head = (q->ring_head + 1) & q->ring_mask;
	q->ring_n--;
	E(q, i)->flags &= ~F_DIRTY;
	wq_proc_start(q, i, now);
	*out = i;
	return true;
}

static void cg_done(struct wq *q, uint32_t i, struct wq_now *now)
{
	wq_proc_end(q, i, now);
	if (E(q, i)->flags & F_DIRTY) {
		q->ring[(q->ring_head + q->ring_n++) & q->ring_mask] = i;
		wq_wake_one(q);
	} else {
		if (!q->nproc && q->draining)
			pthread_cond_broadcast(&q->drain_cv);
		wq_ent_put(q, i);
	}
}

/* ---- controller-runtime priority queue ---- */

/* Puts a queued entry where the rules say: D while its delay is pending, parked while it
 * is processing, else R (no delay) or RD (delay passed). Becoming ready counts the add. */
static void pq_place(struct wq *q, uint32_t i, struct wq_now *now)
{
	struct wq_ent *e = E(q, i);
	uint64_t t = wq_now(q, now);
	bool ready = e->ready_ns == NEVER || e->ready_ns <= t;
	int h;

	if (ready && !(e->flags & F_READY)) {
		e->flags |= F_READY;
		wq_count_add(q, e, e->ready_ns == NEVER ? t : e->ready_ns);
	}
	if (!ready)
		h = H_D;
	else if (e->flags & F_PROC)
		return;
	else
		h = e->ready_ns == NEVER ? H_R : H_RD;
	if (wq_hpush(q, h, i)) {
		/* Out of memory: the key is lost, and says so. */
		q->dropped++;
		if (e->flags & F_READY)
			q->depth--;
		e->flags &= ~(F_QUEUED | F_READY);
		wq_ent_put(q, i);
		return;
	}
	if (h != H_D)
		wq_wake_one(q);
}

static void pq_promote(struct wq *q, struct wq_now *now)
{
	uint32_t i;

	while ((i = wq_htop(q, H_D)) != NOPOS && E(q, i)->ready_ns <= wq_now(q, now)) {
		wq_hremove(q, i);
		pq_place(q, i, now);
	}
}

/* AddWithOpts for one key, with the delay already resolved. */
static void pq_add(struct wq *q, uint64_t key, uint64_t after, int prio, struct wq_now *now)
{
	uint64_t ready = NEVER;
	uint32_t i, top;

	pq_promote(q, now);
	if (after) {
		ready = wq_now(q, now) + after;
		q->retries++;
	}
	i = wq_ent_get(q, key);
	if (i == NOPOS) {
		q->dropped++;
		return;
	}
	struct wq_ent *e = E(q, i);

	top = wq_htop(q, H_D);
	if (!(e->flags & F_QUEUED)) {
		e->flags |= F_QUEUED;
		e->seq = q->seq++;
		e->prio = prio;
		e->ready_ns = ready;
	} else {
		wq_hremove(q, i);
		if (prio > e->prio)
			e->prio = prio;
		if (e->ready_ns != NEVER && (ready == NEVER || ready < e->ready_ns))
			e->ready_ns = ready;
	}
	pq_place(q, i, now);
	if (wq_htop(q, H_D) != top && q->sleepers)
		pthread_cond_broadcast(&q->cv);
}

static bool pq_take(struct wq *q, uint32_t *out, struct wq_now *now)
{
	uint32_t i = wq_htop(q, H_R);

	if (i == NOPOS)
		i = wq_htop(q, H_RD);
	if (i == NOPOS)
		return false;
	wq_hremove(q, i);
	E(q, i)->flags &= ~(F_QUEUED | F_READY);
	wq_proc_start(q, i, now);
	*out = i;
	return true;
}

static void pq_done(struct wq *q, uint32_t i, struct wq_now *now)
{
	wq_proc_end(q, i, now);
	if ((E(q, i)->flags & F_QUEUED) && E(q, i)->heap == H_NONE)
		pq_place(q, i, now);	/* parked while processing */
	else
		wq_ent_put(q, i);
}

/* ---- public ---- */

struct wq *wq_new(const struct wq_opts *o)
{
	struct wq_opts d = o ? *o : (struct wq_opts){ 0 };
	struct wq *q;
	pthread_condattr_t ca;
	uint32_t cap = 64;

	if (d.kind != WQ_CLIENTGO && d.kind != WQ_PRIORITY) {
		errno = EINVAL;
		return NULL;
	}
	/* controller-runtime's default limiter for the priority queue has no bucket. */
	if (d.kind == WQ_PRIORITY && d.rl.kind == RL_DEFAULT)
		d.rl.kind = RL_EXPONENTIAL;
	while (cap < (d.size_hint ? d.size_hint : 1024) && cap < (1u << 30))
		cap <<= 1;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->kind = d.kind;
	q->metrics = !d.metrics_off;
	q->clock = d.clock;
	q->clock_arg = d.clock_arg;
	q->free_head = q->proc_head = q->proc_tail = NOPOS;
	q->cap_ents = cap;
	q->rl = rl_new(&d.rl);
	if (!q->rl)
		goto err;
	q->ents = malloc((size_t)cap * sizeof(*q->ents));
	if (!q->ents || km_init(&q->map, cap))
		goto err_nomem;
	if (d.kind == WQ_CLIENTGO) {
		q->ring = malloc((size_t)cap * sizeof(*q->ring));
		if (!q->ring)
			goto err_nomem;
		q->ring_mask = cap - 1;
	}
	if (q->metrics) {
		q->qd = hist_new();
		q->wd = hist_new();
		if (!q->qd || !q->wd)
			goto err_nomem;
	}
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &ca);
	pthread_cond_init(&q->drain_cv, &ca);
	pthread_condattr_destroy(&ca);
	return q;
err_nomem:
	errno = ENOMEM;
err:
	rl_free(q->rl);
	free(q->ents);
	free(q->ring);
	km_fini(&q->map);
	hist_free(q->qd);
	hist_free(q->wd);
	free(q);
	return NULL;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	for (int h = 0; h < H__N; h++)
		free(q->heaps[h].v);
	pthread_cond_destroy(&q->cv);
	pthread_cond_destroy(&q->drain_cv);
	pthread_mutex_destroy(&q->mu);
	rl_free(q->rl);
	km_fini(&q->map);
	free(q->ents);
	free(q->ring);
	hist_free(q->qd);
	hist_free(q->wd);
	free(q);
}

static void wq_add_locked(struct wq *q, uint64_t key, uint64_t after, int prio,
			  struct wq_now *now)
{
	if (q->kind == WQ_PRIORITY) {
		pq_add(q, key, after, prio, now);
		return;
	}
	cg_promote(q, now);
	if (after)
		cg_add_after(q, key, after, now);
	else if (!q->shutting)
		cg_add(q, key, now, 0);
}

void wq_add(struct wq *q, uint64_t key)
{
	wq_add_priority(q, key, 0);
}

void wq_add_priority(struct wq *q, uint64_t key, int priority)
{
	struct wq_now now = { 0 };

	pthread_mutex_lock(&q->mu);
	wq_add_locked(q, key, 0, priority, &now);
	pthread_mutex_unlock(&q->mu);
}

void wq_add_after(struct wq *q, uint64_t key, uint64_t delay_ns)
{
	struct wq_now now = { 0 };

	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_CLIENTGO) {
		cg_promote(q, &now);
		cg_add_after(q, key, delay_ns, &now);	/* counts a retry even for 0 */
	} else {
		pq_add(q, key, delay_ns, 0, &now);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_add_opts(struct wq *q, uint64_t key, const struct wq_add_opts *o)
{
	struct wq_now now = { 0 };
	uint64_t after = o->after_ns;

	if (o->rate_limited) {
		uint64_t rl = rl_when(q->rl, key, wq_now(q, &now));

		if (!after || rl < after)
			after = rl;
	}
	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_CLIENTGO && o->rate_limited) {
		cg_promote(q, &now);
		cg_add_after(q, key, after, &now);	/* AddRateLimited always counts */
	} else {
		wq_add_locked(q, key, after, o->priority, &now);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_add_rate_limited(struct wq *q, uint64_t key)
{
	wq_add_opts(q, key, &(struct wq_add_opts){ .rate_limited = true });
}

static bool wq_take(struct wq *q, uint32_t *i, struct wq_now *now)
{
	if (q->kind == WQ_PRIORITY) {
		pq_promote(q, now);
		return pq_take(q, i, now);
	}
	cg_promote(q, now);
	return cg_take(q, i, now);
}

/* Sleeps until woken, or until the earliest delayed entry is due (1 ms steps with a
 * custom clock, whose time the condition variable cannot know). */
static void wq_sleep(struct wq *q, struct wq_now *now)
{
	uint32_t top = wq_htop(q, H_D);
	struct timespec ts;
	uint64_t dl;

	q->sleepers++;
	if (top == NOPOS || (q->kind == WQ_CLIENTGO && q->shutting)) {
		pthread_cond_wait(&q->cv, &q->mu);
	} else {
		dl = q->clock ? wq_mono_ns() + 1000000 : E(q, top)->ready_ns;
		ts.tv_sec = (time_t)(dl / 1000000000ull);
		ts.tv_nsec = (long)(dl % 1000000000ull);
		q->timed++;
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		q->timed--;
	}
	q->sleepers--;
	now->have = false;
}

int wq_get_priority(struct wq *q, uint64_t *key, int *priority)
{
	struct wq_now now = { 0 };
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->kind == WQ_PRIORITY && q->shutting) {
			rc = -ESHUTDOWN;
			break;
		}
		if (wq_take(q, &i, &now))
			break;
		if (q->shutting) {
			rc = -ESHUTDOWN;
			break;
		}
		wq_sleep(q, &now);
	}
	if (!rc) {
		*key = E(q, i)->key;
		if (priority)
			*priority = E(q, i)->prio;
		/* Leaving with delayed entries pending and no timed sleeper: hand the timer on. */
		if (q->heaps[H_D].n && !q->timed)
			wq_wake_one(q);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int wq_get(struct wq *q, uint64_t *key)
{
	return wq_get_priority(q, key, NULL);
}

int wq_try_get(struct wq *q, uint64_t *key)
{
	struct wq_now now = { 0 };
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_PRIORITY && q->shutting)
		rc = -ESHUTDOWN;
	else if (wq_take(q, &i, &now))
		*key = E(q, i)->key;
	else
		rc = q->shutting ? -ESHUTDOWN : -EAGAIN;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void wq_done(struct wq *q, uint64_t key)
{
	struct wq_now now = { 0 };
	struct wq_ent *e;
	uint32_t i;

	pthread_mutex_lock(&q->mu);
	e = wq_ent_find(q, key, &i);
	if (e && (e->flags & F_PROC)) {
		if (q->kind == WQ_PRIORITY)
			pq_done(q, i, &now);
		else
			cg_done(q, i, &now);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_forget(struct wq *q, uint64_t key)
{
	rl_forget(q->rl, key);
}

uint32_t wq_num_requeues(struct wq *q, uint64_t key)
{
	return rl_num_requeues(q->rl, key);
}

size_t wq_len(struct wq *q)
{
	struct wq_now now = { 0 };
	size_t n;

	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_PRIORITY) {
		pq_promote(q, &now);
		n = q->depth;
	} else {
		cg_promote(q, &now);
		n = q->ring_n;
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

void wq_shutdown(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutting = true;
	q->draining = false;
	pthread_cond_broadcast(&q->cv);
	pthread_cond_broadcast(&q->drain_cv);
	pthread_mutex_unlock(&q->mu);
}

void wq_shutdown_with_drain(struct wq *q)
{
	if (q->kind == WQ_PRIORITY) {
		wq_shutdown(q);
		return;
	}
	pthread_mutex_lock(&q->mu);
	q->shutting = true;
	q->draining = true;
	pthread_cond_broadcast(&q->cv);
	while (q->nproc && q->draining)
		pthread_cond_wait(&q->drain_cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
}

bool wq_shutting_down(struct wq *q)
{
	bool s;

	pthread_mutex_lock(&q->mu);
	s = q->shutting;
	pthread_mutex_unlock(&q->mu);
	return s;
}

int wq_metrics_snapshot(struct wq *q, struct wq_metrics *m)
{
	struct wq_now now = { 0 };
	int rc = 0;

	memset(m, 0, sizeof(*m));
	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_PRIORITY)
		pq_promote(q, &now);
	else
		cg_promote(q, &now);
	m->depth = q->depth;
	m->depth_max = q->depth_max;
	m->adds = q->adds;
	m->retries = q->retries;
	m->dropped = q->dropped;
	if (q->metrics) {
		uint64_t t = wq_now(q, &now), sum = 0;

		for (uint32_t i = q->proc_head; i != NOPOS; i = E(q, i)->next)
			sum += t > E(q, i)->start_ns ? t - E(q, i)->start_ns : 0;
		m->unfinished_work_s = (double)sum / 1e9;
		if (q->proc_head != NOPOS && t > E(q, q->proc_head)->start_ns)
			m->longest_running_s = (double)(t - E(q, q->proc_head)->start_ns) / 1e9;
		m->queue_duration = hist_dup(q->qd);
		m->work_duration = hist_dup(q->wd);
		if (!m->queue_duration || !m->work_duration)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&q->mu);
	if (rc) {
		hist_free(m->queue_duration);
		hist_free(m->work_duration);
		m->queue_duration = m->work_duration = NULL;
	}
	return rc;
}
