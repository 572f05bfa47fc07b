/*
 * heapprof — the sampled heap: buckets, live blocks and the pprof heap profile (heapprof.h).
 */
#include "profiler/heapprof.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "profiler/pprof.h"

struct hp_bucket {
	struct hp_bucket *next;	/* hash chain, then the all-buckets list order */
	struct hp_bucket *all;
	uint64_t hash;
	size_t size;		/* block size: the `bytes` label */
	uint64_t allocs;	/* sampled allocations (under buckets_mu) */
	uint64_t frees;		/* sampled frees (atomic) */
	int nlabels;
	const char *labels[HEAPPROF_MAX_LABELS][2];	/* part of the key, by pointer */
	int npcs;
	uint64_t pcs[];
};

struct hp_live {
	struct hp_live *next;
	void *addr;
	struct hp_bucket *bucket;
};

#define NCHAINS 4096
#define NSTRIPES 64
#define STRIPE_CHAINS 1024

struct hp_stripe {
	pthread_mutex_t mu;
	struct hp_live **chains;	/* STRIPE_CHAINS */
	struct hp_live *spare;		/* freed nodes, reused */
} __attribute__((aligned(64)));

uint8_t heapprof_filter[1u << HEAPPROF_FILTER_BITS];

static pthread_mutex_t buckets_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hp_bucket **chains;
static struct hp_bucket *all_buckets;
static struct hp_stripe stripes[NSTRIPES];
static uint64_t nlive;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_tables(void)
{
	chains = calloc(NCHAINS, sizeof(*chains));
	if (!chains) {
		init_rc = -ENOMEM;
		return;
	}
	for (int i = 0; i < NSTRIPES; i++) {
		pthread_mutex_init(&stripes[i].mu, NULL);
		stripes[i].chains = calloc(STRIPE_CHAINS, sizeof(struct hp_live *));
		if (!stripes[i].chains) {
			init_rc = -ENOMEM;
			return;
		}
	}
	pthread_atfork(heapprof_atfork_prepare, heapprof_atfork_parent, heapprof_atfork_child);
}

int heapprof_init(void)
{
	pthread_once(&init_once, init_tables);
	return init_rc;
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	return h * 0xBF58476D1CE4E5B9ull;
}

static struct hp_bucket *bucket_get(size_t n, const uint64_t *pcs, int npcs,
				     const char *const labels[][2], int nlabels)
{
	uint64_t h = mix(0, n);
	struct hp_bucket *b;
	size_t idx;

	for (int i = 0; i < npcs; i++)
		h = mix(h, pcs[i]);
	for (int i = 0; i < nlabels; i++)
		h = mix(mix(h, (uintptr_t)labels[i][0]), (uintptr_t)labels[i][1]);
	idx = h % NCHAINS;
	pthread_mutex_lock(&buckets_mu);
	for (b = chains[idx]; b; b = b->next)
		if (b->hash == h && b->size == n && b->npcs == npcs && b->nlabels == nlabels &&
		    !memcmp(b->pcs, pcs, npcs * sizeof(*pcs)) &&
		    !memcmp(b->labels, labels, nlabels * sizeof(labels[0])))
			break;
	if (!b) {
		b = calloc(1, sizeof(*b) + npcs * sizeof(*pcs));
		if (b) {
			b->hash = h;
			b->size = n;
			b->npcs = npcs;
			memcpy(b->pcs, pcs, npcs * sizeof(*pcs));
			b->nlabels = nlabels;
			memcpy(b->labels, labels, nlabels * sizeof(labels[0]));
			b->next = chains[idx];
			chains[idx] = b;
			b->all = all_buckets;
			all_buckets = b;
		}
	}
	if (b)
		b->allocs++;
	pthread_mutex_unlock(&buckets_mu);
	return b;
}

static inline struct hp_stripe *stripe_of(const void *p, size_t *chain)
{
	uint64_t h = ((uintptr_t)p >> 4) * 0xD6E8FEB86659FD93ull;

	*chain = (h >> 20) % STRIPE_CHAINS;
	return &stripes[(h >> 52) % NSTRIPES];
}

void heapprof_record(void *p, size_t n, const uint64_t *pcs, int npcs,
		     const char *const labels[][2], int nlabels)
{
	struct hp_bucket *b;

	if (nlabels > HEAPPROF_MAX_LABELS)
		nlabels = HEAPPROF_MAX_LABELS;
	b = bucket_get(n, pcs, npcs, labels, nlabels);
	struct hp_stripe *s;
	struct hp_live *l;
	size_t c;
	uint8_t *f;

	if (!b)
		return;
	s = stripe_of(p, &c);
	pthread_mutex_lock(&s->mu);
	l = s->spare;
	if (l)
		s->spare = l->next;
	else
		l = malloc(sizeof(*l));
	if (l) {
		l->addr = p;
		l->bucket = b;
		l->next = s->chains[c];
		s->chains[c] = l;
		/* Raised before the block is handed out: its free cannot miss the filter. */
		f = &heapprof_filter[heapprof_filter_slot(p)];
		if (__atomic_load_n(f, __ATOMIC_RELAXED) < UINT8_MAX)
			__atomic_fetch_add(f, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&nlive, 1, __ATOMIC_RELAXED);
	} else {
		__atomic_fetch_add(&b->frees, 1, __ATOMIC_RELAXED);	/* untracked: not in use */
	}
	pthread_mutex_unlock(&s->mu);
}

void heapprof_forget_slow(void *p)
{
	struct hp_stripe *s;
	struct hp_live **pp, *l;
	size_t c;
	uint8_t *f;

	if (!chains)
		return;
	s = stripe_of(p, &c);
	pthread_mutex_lock(&s->mu);
	for (pp = &s->chains[c]; (l = *pp); pp = &l->next)
		if (l->addr == p)
			break;
	if (l) {
		*pp = l->next;
		__atomic_fetch_add(&l->bucket->frees, 1, __ATOMIC_RELAXED);
		l->next = s->spare;
		s->spare = l;
		f = &heapprof_filter[heapprof_filter_slot(p)];
		if (__atomic_load_n(f, __ATOMIC_RELAXED) < UINT8_MAX)	/* saturated stays */
			__atomic_fetch_sub(f, 1, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&nlive, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&s->mu);
}

uint64_t heapprof_live(void)
{
	return __atomic_load_n(&nlive, __ATOMIC_RELAXED);
}

/* Go's runtime/pprof scaleHeapSample: a block of s bytes is sampled with 1 - exp(-s/rate). */
static void unsample(uint64_t count, uint64_t bytes, uint64_t size, uint64_t rate,
		     int64_t *ocount, int64_t *obytes)
{
	double scale = 1;

	if (count && size && rate > 1)
		scale = 1 / (1 - exp(-(double)size / (double)rate));
	*ocount = (int64_t)llround((double)count * scale);
	*obytes = (int64_t)llround((double)bytes * scale);
}

static const struct pprof_value_type heap_types[] = {
	{ "alloc_objects", "count" },
	{ "alloc_space", "bytes" },
	{ "inuse_objects", "count" },
	{ "inuse_space", "bytes" },	/* last: what pprof shows by default, as for Go */
};

int heapprof_write(const char *path, uint64_t rate)
{
	struct pprof_builder_opts o = {
		.sample_types = heap_types,
		.nsample_types = 4,
		.period_type = { "space", "bytes" },
		.period = (int64_t)rate,
	};
	struct pprof_builder *pb;
	struct hp_bucket *b, *head;
	int rc = 0;

	pb = pprof_builder_new(&o);
	if (!pb)
		return -ENOMEM;
	pthread_mutex_lock(&buckets_mu);
	head = all_buckets;	/* buckets are only prepended: the rest is stable */
	pthread_mutex_unlock(&buckets_mu);
	for (b = head; b && !rc; b = b->all) {
		uint64_t allocs, frees, inuse;
		int64_t v[4];
		struct pprof_label_kv label[1 + HEAPPROF_MAX_LABELS] = {
			{ .key = "bytes", .num = (int64_t)b->size },
		};

		pthread_mutex_lock(&buckets_mu);
		allocs = b->allocs;
		pthread_mutex_unlock(&buckets_mu);
		frees = __atomic_load_n(&b->frees, __ATOMIC_RELAXED);
		inuse = allocs > frees ? allocs - frees : 0;
		unsample(allocs, allocs * b->size, b->size, rate, &v[0], &v[1]);
		unsample(inuse, inuse * b->size, b->size, rate, &v[2], &v[3]);
		for (int i = 0; i < b->nlabels; i++)
			label[1 + i] = (struct pprof_label_kv){ .key = b->labels[i][0],
								.str = b->labels[i][1] };
		rc = pprof_builder_add(pb, b->pcs, b->npcs, v, label, 1 + b->nlabels);
	}
	if (!rc)
		rc = pprof_builder_symbolize(pb, 0);
	if (!rc)
		rc = pprof_builder_write(pb, path);
	pprof_builder_free(pb);
	return rc;
}

void heapprof_reset(void)
{
	struct hp_bucket *b, *nb;
	struct hp_live *l, *nl;

	if (!chains)
		return;
	for (int i = 0; i < NSTRIPES; i++) {
		struct hp_stripe *s = &stripes[i];

		pthread_mutex_lock(&s->mu);
		for (int c = 0; c < STRIPE_CHAINS; c++) {
			for (l = s->chains[c]; l; l = nl) {
				nl = l->next;
				free(l);
			}
			s->chains[c] = NULL;
		}
		for (l = s->spare; l; l = nl) {
			nl = l->next;
			free(l);
		}
		s->spare = NULL;
		pthread_mutex_unlock(&s->mu);
	}
	memset(heapprof_filter, 0, sizeof(heapprof_filter));
	__atomic_store_n(&nlive, 0, __ATOMIC_RELAXED);
	pthread_mutex_lock(&buckets_mu);
	for (b = all_buckets; b; b = nb) {
		nb = b->all;
		free(b);
	}
	all_buckets = NULL;
	memset(chains, 0, NCHAINS * sizeof(*chains));
	pthread_mutex_unlock(&buckets_mu);
}

void heapprof_atfork_prepare(void)
{
	pthread_mutex_lock(&buckets_mu);
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_lock(&stripes[i].mu);
}

void heapprof_atfork_parent(void)
{
	for (int i = NSTRIPES - 1; i >= 0; i--)
		pthread_mutex_unlock(&stripes[i].mu);
	pthread_mutex_unlock(&buckets_mu);
}

void heapprof_atfork_child(void)
{
	for (int i = 0; i < NSTRIPES; i++)
		pthread_mutex_init(&stripes[i].mu, NULL);
	pthread_mutex_init(&buckets_mu, NULL);
}
