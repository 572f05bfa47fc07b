/*
 * workqueue — client-go's workqueue and controller-runtime's priority queue (see
 * workqueue.h for the rules both follow).
 *
 * Layout: every key with any state has one entry in a slab (stable 32-bit index, reused
 * through a free list) and a keymap uid -> index. The entry carries every flag and time:
 * client-go's dirty set, processing set, waiting-for-delay set and metric timestamps are
 * bits and fields of it, so one lookup serves an operation. Entries leave when their flags
 * reach 0 are idle: kept for the key's return, and swept once they outnumber the live ones.
 *
 *   client-go: FIFO ring of indices (never full: its capacity follows the slab's) and a
 *              min-heap of delayed entries by ready time.
 *   priority:  heap R (no delay: priority, then insertion), heap RD (delay passed: ready
 *              time, priority, insertion), heap D (delay pending, same order); Get takes R
 *              before RD, exactly the btree order of controller-runtime's priorityqueue.
 *              A processing key that is queued again is parked outside the heaps until Done.
 *
 * Processing entries are found by a scan of the slab when metrics are read (the longest
 * running processor, the unfinished-work sum): Get and Done write only their own entry.
 *
 * Invariants (under q->mu): F_DIRTY && !F_PROC <=> in the ring (client-go); F_WAIT <=> in
 * D (client-go); F_READY <=> counted in depth (priority queue); an entry with flags == 0
 * is on the free list and not in the keymap; F_IDLE is alone when set.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/keymap.h"
#include "bench/workqueue.h"
#include "common/fastclock.h"

#define F_DIRTY 1u	/* client-go: waiting to be handed out (parked while F_PROC) */
#define F_PROC 2u	/* handed out by Get, not Done yet */
#define F_WAIT 4u	/* client-go: a delayed entry in heap D */
#define F_QUEUED 8u	/* priority: in controller-runtime's items map */
#define F_READY 16u	/* priority: ready and counted in depth; add_ns is valid */
#define F_IDLE 32u	/* no state left, kept in the map for reuse (wq_ent_put) */

#define NOPOS UINT32_MAX
#define WQ_CHUNK_BITS 12
#define WQ_CHUNK (1u << WQ_CHUNK_BITS)
#define WQ_MAX_CHUNKS (1u << 16)	/* 2^28 keys */
#define WQ_IDLE_MAX 65536u		/* idle entries kept before a sweep (~6 MiB) */
#define NEVER UINT64_MAX	/* priority: no delay at all (ReadyAt == nil) */

enum { H_NONE, H_D, H_R, H_RD, H__N };

struct wq_ent {
	uint64_t st;		/* generation << 32 | flags; atomic stores (see wq_add_collapses) */
	uint64_t key;		/* atomic stores */
	uint64_t add_ns;	/* metrics: first add not yet observed by a Get */
	uint64_t start_ns;	/* metrics: Get time while processing */
	uint64_t ready_ns;	/* delayed: when it is ready (priority: NEVER = no delay) */
	uint32_t seq;		/* insertion order, breaks ties in the heaps (wraps) */
	uint32_t pos;		/* index in heap `heap` */
	uint32_t spare, next;	/* next links the free list */
	int prio;
	uint8_t heap;
};

_Static_assert(sizeof(struct wq_ent) == 64, "one workqueue entry, one cache line");

struct wq_heap {
	uint32_t *v;
	uint32_t n, cap;
};

/*
 * The metric histograms, one pair per thread that records (up to WQ_TSLOTS - 1 threads,
 * then they share slot 0). Written under q->mu like everything else, so a snapshot merges
 * them safely; per thread, so two workers do not pass the histograms' lines back and forth
 * on every Get and Done (the lock's line already travels).
 */
#define WQ_TSLOTS 8

struct wq_tstat {
	struct hist *qd, *wd;
	uint64_t owner;		/* wq_thread_id() of its thread; 0 = shared */
} __attribute__((aligned(64)));

/*
 * Laid out by who writes what: the first lines are read-mostly (shared by every core without
 * bouncing; the producer's lock-free peek reads map, chunks and nents); the mutex shares its
 * lines with the fields every locked operation writes, so taking the lock brings them along.
 */
struct wq {
	enum wq_kind kind;
	bool metrics;
	uint64_t (*clock)(void *arg);
	void *clock_arg;
	struct rl *rl;
	uint64_t id;			/* unique per queue ever made (wq_tcache) */
	uint32_t *ring;			/* client-go FIFO */
	uint32_t ring_mask;
	struct wq_ent **chunks;		/* WQ_CHUNK entries each; never move, freed at wq_free */
	struct keymap map;		/* retaining: wq_add_collapses() peeks without the lock */
	uint32_t nents, cap_ents;	/* nents: atomic stores (read by the peek) */

	pthread_mutex_t mu __attribute__((aligned(64)));
	uint32_t ring_head, ring_n;
	uint32_t nproc;
	uint32_t sleepers, timed;	/* getters asleep; of them, asleep with a deadline */
	uint64_t depth, depth_max, adds;
	uint32_t free_head, nidle;	/* nidle: entries with F_IDLE */
	uint32_t seq;
	bool shutting, draining;
	uint64_t retries, dropped;
	struct wq_heap heaps[H__N];

	pthread_cond_t cv __attribute__((aligned(64)));	/* getters */
	pthread_cond_t drain_cv;	/* ShutDownWithDrain */

	uint32_t nts;			/* slots in use; under mu */
	struct wq_tstat ts[WQ_TSLOTS];
};

static _Atomic uint64_t wq_next_id = 1;	/* queue ids and thread ids */
static _Thread_local uint64_t wq_tid;
static _Thread_local struct {		/* this thread's slot in the queue it used last */
	uint64_t qid;
	uint32_t slot;
} wq_tcache;

/* This thread's histograms in q. Under q->mu. */
static struct wq_tstat *wq_ts(struct wq *q)
{
	uint32_t i;

	if (wq_tcache.qid == q->id)
		return &q->ts[wq_tcache.slot];
	if (!wq_tid)
		wq_tid = atomic_fetch_add(&wq_next_id, 1);
	for (i = 1; i < q->nts && q->ts[i].owner != wq_tid; i++)
		;
	if (i == q->nts) {
		if (i < WQ_TSLOTS && (q->ts[i].qd = hist_new()) && (q->ts[i].wd = hist_new())) {
			q->ts[i].owner = wq_tid;
			q->nts++;
		} else {
			if (i < WQ_TSLOTS) {	/* out of memory: share slot 0 */
				hist_free(q->ts[i].qd);
				q->ts[i].qd = NULL;
			}
			i = 0;
		}
	}
	wq_tcache.qid = q->id;
	wq_tcache.slot = i;
	return &q->ts[i];
}

/* A clock read done at most once per operation. */
struct wq_now {
	uint64_t t;
	bool have;
};

static inline __attribute__((always_inline)) uint64_t wq_now(struct wq *q, struct wq_now *n)
{
	if (!n->have) {
		n->t = q->clock ? q->clock(q->clock_arg) : fastclock_ns();
		n->have = true;
	}
	return n->t;
}

/* With metrics on nearly every operation needs the time: read it before taking the lock,
 * so the critical section stays short. Times are then early by the lock wait at most. */
static struct wq_now wq_now_pre(struct wq *q)
{
	struct wq_now n = { 0 };

	if (q->metrics)
		wq_now(q, &n);
	return n;
}

/* ---- entries ---- */

static inline struct wq_ent *E(struct wq *q, uint32_t i)
{
	return &q->chunks[i >> WQ_CHUNK_BITS][i & (WQ_CHUNK - 1)];
}

static inline uint32_t FL(const struct wq_ent *e)
{
	return (uint32_t)e->st;
}

/* Flags change under the lock, with a release store for the lock-free reader. */
static inline void wq_setfl(struct wq_ent *e, uint32_t f)
{
	__atomic_store_n(&e->st, (e->st & ~0xffffffffull) | f, __ATOMIC_RELEASE);
}

/* One more chunk of entries (and, for client-go, a ring that can hold them all). */
static int wq_grow(struct wq *q)
{
	uint32_t c = q->cap_ents >> WQ_CHUNK_BITS, cap = q->cap_ents + WQ_CHUNK;
	struct wq_ent *chunk;

	/* Cache-line aligned: an entry is one line (see the static assert). */
	if (c >= WQ_MAX_CHUNKS || !(chunk = aligned_alloc(64, WQ_CHUNK * sizeof(*chunk))))
		return -ENOMEM;
	memset(chunk, 0, WQ_CHUNK * sizeof(*chunk));
	if (q->kind == WQ_CLIENTGO && cap > q->ring_mask + 1) {
		uint32_t rcap = (q->ring_mask + 1) * 2;
		uint32_t *ring = malloc((size_t)rcap * sizeof(*ring));

		if (!ring) {
			free(chunk);
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < q->ring_n; i++)
			ring[i] = q->ring[(q->ring_head + i) & q->ring_mask];
		free(q->ring);
		q->ring = ring;
		q->ring_head = 0;
		q->ring_mask = rcap - 1;
	}
	__atomic_store_n(&q->chunks[c], chunk, __ATOMIC_RELAXED);
	q->cap_ents = cap;
	return 0;
}

/* The entry of key, created empty when missing; NOPOS when out of memory. Invalidates
 * entry pointers (the slab may move). hint: where a lock-free peek saw the key (NOPOS for
 * none); an entry with flags is in the map, so one holding key is key's, without a lookup. */
static uint32_t wq_ent_get_hint(struct wq *q, uint64_t key, uint32_t hint)
{
	uint32_t *v = NULL, i;

	if (hint < q->nents && FL(E(q, hint)) && E(q, hint)->key == key)
		v = &hint;
	else
		v = km_find(&q->map, key);
	if (v) {
		if (FL(E(q, *v)) == F_IDLE) {
			wq_setfl(E(q, *v), 0);
			q->nidle--;
		}
		return *v;
	}
	if (q->free_head != NOPOS) {
		i = q->free_head;
	} else {
		if (q->nents == q->cap_ents && wq_grow(q))
			return NOPOS;
		i = q->nents;
	}
	if (km_insert(&q->map, key, i))
		return NOPOS;
	struct wq_ent *e = E(q, i);

	if (i == q->free_head)
		q->free_head = e->next;
	else
		__atomic_store_n(&q->nents, q->nents + 1, __ATOMIC_RELEASE);
	/* Seqlock writer: a new generation, then the key (see wq_add_collapses). */
	__atomic_store_n(&e->st, ((e->st >> 32) + 1) << 32, __ATOMIC_RELAXED);
	__atomic_store_n(&e->key, key, __ATOMIC_RELEASE);
	e->add_ns = e->start_ns = e->ready_ns = e->seq = 0;
	e->pos = e->next = NOPOS;
	e->prio = 0;
	e->heap = H_NONE;
	return i;
}

static uint32_t wq_ent_get(struct wq *q, uint64_t key)
{
	return wq_ent_get_hint(q, key, NOPOS);
}

static void wq_ent_free(struct wq *q, uint32_t i)
{
	struct wq_ent *e = E(q, i);

	wq_setfl(e, 0);
	km_del(&q->map, e->key);
	e->next = q->free_head;
	q->free_head = i;
}

/*
 * An entry whose flags reached 0 stays in the map, idle, so a key that comes back (the
 * common case: the same objects are reconciled again and again) costs no map insert and
 * delete, and lock-free readers of the map see lines that do not change. When idle entries
 * outnumber live ones and pass WQ_IDLE_MAX (so that workers draining the whole queue do not
 * trigger it), one sweep frees them all: amortised O(1), bounded memory.
 */
static void wq_ent_put(struct wq *q, uint32_t i)
{
	struct wq_ent *e = E(q, i);

	if (FL(e))
		return;
	wq_setfl(e, F_IDLE);
	if (++q->nidle <= WQ_IDLE_MAX || q->nidle <= q->map.n - q->nidle)
		return;
	for (uint32_t j = 0; j < q->nents; j++)
		if (FL(E(q, j)) == F_IDLE)
			wq_ent_free(q, j);
	q->nidle = 0;
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
	return (int32_t)(a->seq - b->seq) < 0;	/* keys queued < 2^31 adds apart */
}

/* R: priority, then insertion. */
static bool wq_less_prio(const struct wq_ent *a, const struct wq_ent *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return (int32_t)(a->seq - b->seq) < 0;	/* keys queued < 2^31 adds apart */
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

/* depth changes under the lock; wq_depth_hint() reads it without. */
static inline void wq_depth_set(struct wq *q, uint64_t d)
{
	__atomic_store_n(&q->depth, d, __ATOMIC_RELAXED);
}

static void wq_proc_start(struct wq *q, uint32_t i, struct wq_now *now)
{
	struct wq_ent *e = E(q, i);

	wq_setfl(e, FL(e) | F_PROC);
	q->nproc++;
	wq_depth_set(q, q->depth - 1);
	if (!q->metrics)
		return;
	uint64_t t = wq_now(q, now);

	hist_record(wq_ts(q)->qd, t > e->add_ns ? t - e->add_ns : 0);
	e->start_ns = t;
}

static void wq_proc_end(struct wq *q, uint32_t i, struct wq_now *now)
{
	struct wq_ent *e = E(q, i);

	wq_setfl(e, FL(e) & ~F_PROC);
	q->nproc--;
	if (!q->metrics)
		return;
	uint64_t t = wq_now(q, now);

	hist_record(wq_ts(q)->wd, t > e->start_ns ? t - e->start_ns : 0);
}

static void wq_count_add(struct wq *q, struct wq_ent *e, uint64_t add_ns)
{
	q->adds++;
	wq_depth_set(q, q->depth + 1);
	if (q->depth > q->depth_max)
		q->depth_max = q->depth;
	e->add_ns = add_ns;
}

static void wq_wake_one(struct wq *q)
{
	if (q->sleepers)
		pthread_cond_signal(&q->cv);
}

/* Keys ready to hand out (the ring, or the priority queue's R and RD heaps). */
static uint32_t wq_nready(const struct wq *q)
{
	return q->kind == WQ_CLIENTGO ? q->ring_n : q->heaps[H_R].n + q->heaps[H_RD].n;
}

/*
 * After a key became ready. Waking a sleeping getter costs a futex call (microseconds), so
 * only the move from nothing ready to something ready wakes one; a getter that leaves with
 * keys still ready wakes the next (wq_get_priority), a chain that reaches every sleeper
 * while work remains. No key is stranded: a getter checks for ready keys under the lock
 * before it sleeps, so while keys are ready either one is awake or one was signalled.
 */
static void wq_readied(struct wq *q)
{
	if (wq_nready(q) == 1)
		wq_wake_one(q);
}

/* ---- client-go ---- */

/* Typed.Add; add_ns is the metrics add time (now, or a delayed entry's ready time); hint
 * as wq_ent_get_hint. */
static void cg_add_hint(struct wq *q, uint64_t key, struct wq_now *now, uint64_t add_ns,
			uint32_t hint)
{
	uint32_t i = wq_ent_get_hint(q, key, hint);

	if (i == NOPOS) {
		q->dropped++;
		return;
	}
	struct wq_ent *e = E(q, i);

	if (FL(e) & F_DIRTY)
		return;
	wq_setfl(e, FL(e) | F_DIRTY);
	wq_count_add(q, e, add_ns ? add_ns : q->metrics ? wq_now(q, now) : 0);
	if (FL(e) & F_PROC)
		return;
	q->ring[(q->ring_head + q->ring_n++) & q->ring_mask] = i;
	wq_readied(q);
}

static void cg_add(struct wq *q, uint64_t key, struct wq_now *now, uint64_t add_ns)
{
	cg_add_hint(q, key, now, add_ns, NOPOS);
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
		wq_setfl(e, FL(e) & ~F_WAIT);
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

	if (FL(e) & F_WAIT) {
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
		wq_setfl(E(q, i), FL(E(q, i)) | F_WAIT);
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
	wq_setfl(E(q, i), FL(E(q, i)) & ~F_DIRTY);
	wq_proc_start(q, i, now);
	*out = i;
	return true;
}

static void cg_done(struct wq *q, uint32_t i, struct wq_now *now)
{
	wq_proc_end(q, i, now);
	if (FL(E(q, i)) & F_DIRTY) {
		q->ring[(q->ring_head + q->ring_n++) & q->ring_mask] = i;
		wq_readied(q);
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

	if (ready && !(FL(e) & F_READY)) {
		wq_setfl(e, FL(e) | F_READY);
		wq_count_add(q, e, e->ready_ns == NEVER ? t : e->ready_ns);
	}
	if (!ready)
		h = H_D;
	else if (FL(e) & F_PROC)
		return;
	else
		h = e->ready_ns == NEVER ? H_R : H_RD;
	if (wq_hpush(q, h, i)) {
		/* Out of memory: the key is lost, and says so. */
		q->dropped++;
		if (FL(e) & F_READY)
			wq_depth_set(q, q->depth - 1);
		wq_setfl(e, FL(e) & ~(F_QUEUED | F_READY));
		wq_ent_put(q, i);
		return;
	}
	if (h != H_D)
		wq_readied(q);
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
	if (!(FL(e) & F_QUEUED)) {
		wq_setfl(e, FL(e) | F_QUEUED);
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
	wq_setfl(E(q, i), FL(E(q, i)) & ~(F_QUEUED | F_READY));
	wq_proc_start(q, i, now);
	*out = i;
	return true;
}

static void pq_done(struct wq *q, uint32_t i, struct wq_now *now)
{
	wq_proc_end(q, i, now);
	if ((FL(E(q, i)) & F_QUEUED) && E(q, i)->heap == H_NONE)
		pq_place(q, i, now);	/* parked while processing */
	else
		wq_ent_put(q, i);
}

/* ---- public ---- */

static void wq_free_mem(struct wq *q)
{
	for (int h = 0; h < H__N; h++)
		free(q->heaps[h].v);
	for (uint32_t c = 0; q->chunks && c < WQ_MAX_CHUNKS && q->chunks[c]; c++)
		free(q->chunks[c]);
	free(q->chunks);
	rl_free(q->rl);
	if (q->map.t)
		km_fini(&q->map);
	free(q->ring);
	for (uint32_t i = 0; i < WQ_TSLOTS; i++) {
		hist_free(q->ts[i].qd);
		hist_free(q->ts[i].wd);
	}
	free(q);
}

struct wq *wq_new(const struct wq_opts *o)
{
	struct wq_opts d = o ? *o : (struct wq_opts){ 0 };
	struct wq *q;
	pthread_condattr_t ca;
	uint32_t hint = d.size_hint ? d.size_hint : 1024, rcap = 64;

	if (d.kind != WQ_CLIENTGO && d.kind != WQ_PRIORITY) {
		errno = EINVAL;
		return NULL;
	}
	/* controller-runtime's default limiter for the priority queue has no bucket. */
	if (d.kind == WQ_PRIORITY && d.rl.kind == RL_DEFAULT)
		d.rl.kind = RL_EXPONENTIAL;
	q = aligned_alloc(64, (sizeof(*q) + 63) & ~(size_t)63);	/* its lines are aligned */
	if (!q)
		return NULL;
	memset(q, 0, sizeof(*q));
	q->id = atomic_fetch_add(&wq_next_id, 1);
	q->kind = d.kind;
	q->metrics = !d.metrics_off;
	q->clock = d.clock;
	q->clock_arg = d.clock_arg;
	q->free_head = NOPOS;
	q->rl = rl_new(&d.rl);
	if (!q->rl)
		goto err;
	/* The directory is large but calloc'ed: untouched pages cost nothing. */
	q->chunks = calloc(WQ_MAX_CHUNKS, sizeof(*q->chunks));
	if (!q->chunks || km_init(&q->map, hint, true))
		goto err_nomem;
	if (d.kind == WQ_CLIENTGO) {
		while (rcap < WQ_CHUNK)
			rcap <<= 1;
		q->ring = malloc((size_t)rcap * sizeof(*q->ring));
		if (!q->ring)
			goto err_nomem;
		q->ring_mask = rcap - 1;
	}
	while (q->cap_ents < hint)
		if (wq_grow(q))
			goto err_nomem;
	if (q->metrics) {
		q->ts[0].qd = hist_new();
		q->ts[0].wd = hist_new();
		q->nts = 1;
		if (!q->ts[0].qd || !q->ts[0].wd)
			goto err_nomem;
	}
	/* A plain mutex: with more runnable threads than CPUs (one producer and two workers
	 * on two vCPUs), spinning in an adaptive one burns the time slice the preempted holder
	 * needs; measured, it halved the throughput. */
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
	wq_free_mem(q);
	return NULL;
}

void wq_free(struct wq *q)
{
	if (!q)
		return;
	pthread_cond_destroy(&q->cv);
	pthread_cond_destroy(&q->drain_cv);
	pthread_mutex_destroy(&q->mu);
	wq_free_mem(q);
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

/*
 * client-go's Add of a dirty key returns at once, changing nothing (not even metrics). A
 * producer re-adding keys that are still waiting (a resync, a storm of updates) does that
 * most of the time, so it is answered without the lock: find the entry through a peek at
 * the retaining keymap, then read its state like a seqlock reader (st, key, st again).
 * Entry chunks never move, and a generation in st changes whenever an entry is given to
 * another key, so seeing the same st twice with our key in between proves the key was
 * dirty at that moment: the Add linearises there. Anything else takes the lock.
 */
static bool wq_add_collapses(struct wq *q, uint64_t key, uint32_t *hint)
{
	uint32_t i;

	*hint = NOPOS;
	if (!km_peek(&q->map, key, &i) || i >= __atomic_load_n(&q->nents, __ATOMIC_ACQUIRE))
		return false;
	*hint = i;
	struct wq_ent *chunk = __atomic_load_n(&q->chunks[i >> WQ_CHUNK_BITS], __ATOMIC_RELAXED);
	struct wq_ent *e = &chunk[i & (WQ_CHUNK - 1)];
	uint64_t s1 = __atomic_load_n(&e->st, __ATOMIC_ACQUIRE);

	if (!(s1 & F_DIRTY))
		return false;
	/* Acquire: a key stored after a new generation makes the second st read see it. */
	uint64_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);

	return k == key && __atomic_load_n(&e->st, __ATOMIC_RELAXED) == s1;
}

void wq_add_priority(struct wq *q, uint64_t key, int priority)
{
	uint32_t hint = NOPOS;

	if (q->kind == WQ_CLIENTGO && wq_add_collapses(q, key, &hint))
		return;
	struct wq_now now = wq_now_pre(q);

	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_CLIENTGO) {
		/* wq_add_locked, with the peek's entry index saving the map lookup */
		cg_promote(q, &now);
		if (!q->shutting)
			cg_add_hint(q, key, &now, 0, hint);
	} else {
		wq_add_locked(q, key, 0, priority, &now);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_add_after(struct wq *q, uint64_t key, uint64_t delay_ns)
{
	struct wq_now now = wq_now_pre(q);

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
		dl = q->clock ? fastclock_mono_ns() + 1000000 : fastclock_to_mono(E(q, top)->ready_ns);
		ts.tv_sec = (time_t)(dl / 1000000000ull);
		ts.tv_nsec = (long)(dl % 1000000000ull);
		q->timed++;
		pthread_cond_timedwait(&q->cv, &q->mu, &ts);
		q->timed--;
	}
	q->sleepers--;
	now->have = false;
}

/* The entry this thread got last: Done usually follows its own Get on the same thread, and
 * then needs no map lookup (a cache miss with many keys). */
static _Thread_local struct {
	const struct wq *q;
	uint64_t key;
	uint32_t idx;
} wq_last;

static int wq_get_locked(struct wq *q, uint64_t *key, int *priority, struct wq_now *now)
{
	uint32_t i;

	for (;;) {
		if (q->kind == WQ_PRIORITY && q->shutting)
			return -ESHUTDOWN;
		if (wq_take(q, &i, now))
			break;
		if (q->shutting)
			return -ESHUTDOWN;
		wq_sleep(q, now);
	}
	*key = E(q, i)->key;
	if (priority)
		*priority = E(q, i)->prio;
	wq_last.q = q;
	wq_last.key = *key;
	wq_last.idx = i;
	/* Leaving with keys still ready, or with delayed entries pending and no timed
	 * sleeper: wake the next getter (see wq_readied). */
	if (wq_nready(q) || (q->heaps[H_D].n && !q->timed))
		wq_wake_one(q);
	return 0;
}

static void wq_done_locked(struct wq *q, uint64_t key, struct wq_now *now)
{
	struct wq_ent *e = NULL;
	uint32_t i = wq_last.idx;

	/* A processing entry with this key is the key's only live entry. */
	if (wq_last.q == q && wq_last.key == key && i < q->nents) {
		e = E(q, i);
		if (e->key != key || !(FL(e) & F_PROC))
			e = NULL;
	}
	if (!e)
		e = wq_ent_find(q, key, &i);
	if (!e || !(FL(e) & F_PROC))
		return;
	if (q->kind == WQ_PRIORITY)
		pq_done(q, i, now);
	else
		cg_done(q, i, now);
}

/* The time this operation stamped its metrics with, when it is a fastclock reading. */
static uint64_t wq_stamp(const struct wq *q, const struct wq_now *now)
{
	return !q->clock && now->have ? now->t : 0;
}

static int wq_get_full(struct wq *q, uint64_t *key, int *priority, uint64_t *stamp)
{
	struct wq_now now = wq_now_pre(q);
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = wq_get_locked(q, key, priority, &now);
	pthread_mutex_unlock(&q->mu);
	if (stamp)
		*stamp = wq_stamp(q, &now);
	return rc;
}

int wq_get_priority(struct wq *q, uint64_t *key, int *priority)
{
	return wq_get_full(q, key, priority, NULL);
}

int wq_get_stamped(struct wq *q, uint64_t *key, uint64_t *stamp)
{
	return wq_get_full(q, key, NULL, stamp);
}

int wq_done_get(struct wq *q, uint64_t done_key, uint64_t *key)
{
	struct wq_now now = wq_now_pre(q);
	int rc;

	pthread_mutex_lock(&q->mu);
	wq_done_locked(q, done_key, &now);
	rc = wq_get_locked(q, key, NULL, &now);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int wq_get(struct wq *q, uint64_t *key)
{
	return wq_get_priority(q, key, NULL);
}

int wq_try_get(struct wq *q, uint64_t *key)
{
	struct wq_now now = wq_now_pre(q);
	uint32_t i;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->kind == WQ_PRIORITY && q->shutting)
		rc = -ESHUTDOWN;
	else if (wq_take(q, &i, &now)) {
		*key = E(q, i)->key;
		wq_last.q = q;
		wq_last.key = *key;
		wq_last.idx = i;
	} else
		rc = q->shutting ? -ESHUTDOWN : -EAGAIN;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void wq_done_stamped(struct wq *q, uint64_t key, uint64_t *stamp)
{
	struct wq_now now = wq_now_pre(q);

	pthread_mutex_lock(&q->mu);
	wq_done_locked(q, key, &now);
	pthread_mutex_unlock(&q->mu);
	if (stamp)
		*stamp = wq_stamp(q, &now);
}

void wq_done(struct wq *q, uint64_t key)
{
	wq_done_stamped(q, key, NULL);
}

void wq_forget(struct wq *q, uint64_t key)
{
	rl_forget(q->rl, key);
}

uint32_t wq_num_requeues(struct wq *q, uint64_t key)
{
	return rl_num_requeues(q->rl, key);
}

uint64_t wq_depth_hint(struct wq *q)
{
	return __atomic_load_n(&q->depth, __ATOMIC_RELAXED);
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

		uint64_t longest = 0;

		/* A scan of the slab (a snapshot is rare) instead of a processing list kept in
		 * Get order, whose links made Get and Done write other keys' entries. */
		for (uint32_t i = 0, seen = 0; i < q->nents && seen < q->nproc; i++) {
			struct wq_ent *e = E(q, i);
			uint64_t age = t > e->start_ns ? t - e->start_ns : 0;

			if (!(FL(e) & F_PROC))
				continue;
			seen++;
			sum += age;
			if (age > longest)
				longest = age;
		}
		m->unfinished_work_s = (double)sum / 1e9;
		m->longest_running_s = (double)longest / 1e9;
		m->queue_duration = hist_dup(q->ts[0].qd);
		m->work_duration = hist_dup(q->ts[0].wd);
		for (uint32_t i = 1; i < q->nts && m->queue_duration && m->work_duration; i++) {
			hist_merge(m->queue_duration, q->ts[i].qd);
			hist_merge(m->work_duration, q->ts[i].wd);
		}
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
