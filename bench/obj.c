/* obj — API objects, payload blobs, label selectors and packed stored versions. See obj.h. */
#include "bench/obj.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- blobs ---- */

struct blob {
	atomic_uint refs;
	size_t len;
	unsigned char data[];
};

struct blob *blob_new(const void *data, size_t len)
{
	struct blob *b = malloc(sizeof(*b) + len);

	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	return b;
}

struct blob *blob_ref(struct blob *b)
{
	if (b)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

void blob_unref(struct blob *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		free(b);
}

const void *blob_data(const struct blob *b)
{
	return b ? b->data : NULL;
}

size_t blob_len(const struct blob *b)
{
	return b ? b->len : 0;
}

bool blob_equal(const struct blob *a, const struct blob *b)
{
	if (a == b)
		return true;
	if (!a || !b || a->len != b->len)
		return false;
	return !memcmp(a->data, b->data, a->len);
}

/* ---- struct obj ---- */

static int copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int obj_init(struct obj *o, const char *kind, const char *ns, const char *name)
{
	int rc;

	memset(o, 0, sizeof(*o));
	if ((rc = copy_str(o->kind, sizeof(o->kind), kind)) ||
	    (rc = copy_str(o->ns, sizeof(o->ns), ns ? ns : "")) ||
	    (rc = copy_str(o->name, sizeof(o->name), name)))
		return rc;
	return 0;
}

void obj_copy(struct obj *dst, const struct obj *src)
{
	if (dst == src)
		return;
	memcpy(dst, src, sizeof(*dst));
	blob_ref(dst->spec_data);
}

void obj_fini(struct obj *o)
{
	if (!o)
		return;
	blob_unref(o->spec_data);
	o->spec_data = NULL;
}

void obj_set_data(struct obj *o, struct blob *b)
{
	blob_ref(b);
	blob_unref(o->spec_data);
	o->spec_data = b;
}

static int label_index(const struct obj *o, const char *key)
{
	for (uint32_t i = 0; i < o->nlabels && i < OBJ_MAX_LABELS; i++)
		if (!strcmp(o->labels[i].key, key))
			return (int)i;
	return -1;
}

const char *obj_label(const struct obj *o, const char *key)
{
	int i = label_index(o, key);

	return i < 0 ? NULL : o->labels[i].val;
}

int obj_set_label(struct obj *o, const char *key, const char *val)
{
	int i = label_index(o, key);

	if (!*key)
		return -EINVAL;
	if (strlen(key) >= sizeof(o->labels[0].key) || strlen(val) >= sizeof(o->labels[0].val))
		return -ENAMETOOLONG;
	if (i < 0) {
		if (o->nlabels >= OBJ_MAX_LABELS)
			return -ENOSPC;
		i = (int)o->nlabels++;
		strcpy(o->labels[i].key, key);
	}
	strcpy(o->labels[i].val, val);
	return 0;
}

int obj_del_label(struct obj *o, const char *key)
{
	int i = label_index(o, key);

	if (i < 0)
		return -ENOENT;
	o->nlabels--;
	if ((uint32_t)i != o->nlabels)
		o->labels[i] = o->labels[o->nlabels];
	memset(&o->labels[o->nlabels], 0, sizeof(o->labels[0]));
	return 0;
}

static bool terminated(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

int obj_validate(const struct obj *o)
{
	if (!terminated(o->kind, sizeof(o->kind)) || !terminated(o->ns, sizeof(o->ns)) ||
	    !terminated(o->name, sizeof(o->name)) || !o->kind[0] || !o->name[0])
		return -EINVAL;
	if (o->nlabels > OBJ_MAX_LABELS)
		return -EINVAL;
	for (uint32_t i = 0; i < o->nlabels; i++) {
		const struct obj_label *l = &o->labels[i];

		if (!terminated(l->key, sizeof(l->key)) || !terminated(l->val, sizeof(l->val)) ||
		    !l->key[0])
			return -EINVAL;
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(o->labels[j].key, l->key))
				return -EINVAL;
	}
	return 0;
}

bool obj_spec_equal(const struct obj *a, const struct obj *b)
{
	return !memcmp(a->spec, b->spec, sizeof(a->spec)) && blob_equal(a->spec_data, b->spec_data);
}

bool obj_meta_equal(const struct obj *a, const struct obj *b)
{
	if (a->owner_uid != b->owner_uid || a->nlabels != b->nlabels)
		return false;
	for (uint32_t i = 0; i < a->nlabels && i < OBJ_MAX_LABELS; i++) {
		const char *v = obj_label(b, a->labels[i].key);

		if (!v || strcmp(v, a->labels[i].val))
			return false;
	}
	return true;
}

/* ---- hashing ---- */

#define HK 0x9E3779B97F4A7C15ull

/* Word-at-a-time multiply-xorshift; the length goes into the last word so that
 * ("ab", "c") and ("a", "bc") hash apart. */
static uint64_t hash_str(uint64_t h, const char *p)
{
	size_t n = strlen(p), len = n;
	uint64_t w;

	while (n >= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * HK;
		h ^= h >> 29;
		p += 8;
		n -= 8;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w ^ ((uint64_t)len << 56)) * HK;
	return h ^ (h >> 32);
}

uint32_t obj_name_hash(const char *kind, const char *ns, const char *name)
{
	return (uint32_t)hash_str(hash_str(hash_str(0x51ed27, kind), ns), name);
}

/* ---- selectors ---- */

static int sel_term(struct obj_selector *sel, const char *s, size_t n)
{
	char buf[128], *k, *v = NULL, *op;
	enum obj_sel_op kind;

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (!n || n >= sizeof(buf))
		return -EINVAL;
	if (sel->n >= OBJ_SEL_MAX)
		return -E2BIG;
	memcpy(buf, s, n);
	buf[n] = 0;
	k = buf;
	if (*k == '!') {
		kind = OBJ_SEL_NOT_EXISTS;
		k++;
	} else if ((op = strstr(k, "!=")) != NULL) {
		kind = OBJ_SEL_NE;
		*op = 0;
		v = op + 2;
	} else if ((op = strchr(k, '=')) != NULL) {
		kind = OBJ_SEL_EQ;
		*op = 0;
		v = op + 1 + (op[1] == '=');
	} else {
		kind = OBJ_SEL_EXISTS;
	}
	/* Trim around the operator; keys and values are single words. */
	for (char *e = k + strlen(k); e > k && (e[-1] == ' ' || e[-1] == '\t');)
		*--e = 0;
	while (v && (*v == ' ' || *v == '\t'))
		v++;
	if (!*k || strpbrk(k, " \t=!(),") || (v && strpbrk(v, " \t=!(),")))
		return -EINVAL;
	if (strlen(k) >= sizeof(sel->t[0].key) || (v && strlen(v) >= sizeof(sel->t[0].val)))
		return -EINVAL;
	sel->t[sel->n].op = kind;
	strcpy(sel->t[sel->n].key, k);
	strcpy(sel->t[sel->n].val, v ? v : "");
	sel->n++;
	return 0;
}

int obj_selector_parse(struct obj_selector *sel, const char *s)
{
	const char *p, *c;
	int rc;

	sel->n = 0;
	if (!s || !*s)
		return 0;
	for (p = s;; p = c + 1) {
		c = strchr(p, ',');
		rc = sel_term(sel, p, c ? (size_t)(c - p) : strlen(p));
		if (rc) {
			sel->n = 0;
			return rc;
		}
		if (!c)
			return 0;
	}
}

static bool sel_match(const struct obj_selector *sel, const void *o,
		      const char *(*get)(const void *o, const char *key))
{
	for (int i = 0; i < sel->n; i++) {
		const char *v = get(o, sel->t[i].key);

		switch (sel->t[i].op) {
		case OBJ_SEL_EQ:
			if (!v || strcmp(v, sel->t[i].val))
				return false;
			break;
		case OBJ_SEL_NE:
			if (v && !strcmp(v, sel->t[i].val))
				return false;
			break;
		case OBJ_SEL_EXISTS:
			if (!v)
				return false;
			break;
		case OBJ_SEL_NOT_EXISTS:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

static const char *get_obj_label(const void *o, const char *key)
{
	return obj_label(o, key);
}

static const char *get_objv_label(const void *v, const char *key)
{
	return objv_label(v, key);
}

bool obj_selector_match(const struct obj_selector *sel, const struct obj *o)
{
	return !sel || sel_match(sel, o, get_obj_label);
}

bool objv_selector_match(const struct obj_selector *sel, const struct objv *v)
{
	return !sel || sel_match(sel, v, get_objv_label);
}

/* ---- stored versions ---- */

static const char *labels_start(const struct objv *v)
{
	return v->str + v->kind_len + v->ns_len + v->name_len + 3;
}

struct objv *objv_pack(const struct obj *o, atomic_llong *acct)
{
	size_t kl = strlen(o->kind), nl = strlen(o->ns), ml = strlen(o->name), ll = 0, size;
	uint32_t n = o->nlabels < OBJ_MAX_LABELS ? o->nlabels : OBJ_MAX_LABELS;
	const struct obj_label *sorted[OBJ_MAX_LABELS];
	struct objv *v;
	char *p;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;

		ll += strlen(o->labels[i].key) + strlen(o->labels[i].val) + 2;
		while (j && strcmp(sorted[j - 1]->key, o->labels[i].key) > 0) {
			sorted[j] = sorted[j - 1];
			j--;
		}
		sorted[j] = &o->labels[i];
	}
	size = sizeof(*v) + kl + nl + ml + 3 + ll;
	v = malloc(size);
	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	v->name_hash = obj_name_hash(o->kind, o->ns, o->name);
	v->conditions = o->conditions;
	v->size = (uint16_t)size;
	v->kind_len = (uint8_t)kl;
	v->ns_len = (uint8_t)nl;
	v->name_len = (uint8_t)ml;
	v->nlabels = (uint8_t)n;
	v->labels_len = (uint16_t)ll;
	v->uid = o->uid;
	v->rv = o->rv;
	v->owner_uid = o->owner_uid;
	v->generation = o->generation;
	v->observed_generation = o->observed_generation;
	memcpy(v->spec, o->spec, sizeof(v->spec));
	memcpy(v->status, o->status, sizeof(v->status));
	v->spec_data = blob_ref(o->spec_data);
	v->acct = acct;
	p = v->str;
	memcpy(p, o->kind, kl + 1);
	p += kl + 1;
	memcpy(p, o->ns, nl + 1);
	p += nl + 1;
	memcpy(p, o->name, ml + 1);
	p += ml + 1;
	for (uint32_t i = 0; i < n; i++) {
		size_t k = strlen(sorted[i]->key) + 1, l = strlen(sorted[i]->val) + 1;

		memcpy(p, sorted[i]->key, k);
		memcpy(p + k, sorted[i]->val, l);
		p += k + l;
	}
	if (acct)
		atomic_fetch_add_explicit(acct, (long long)size, memory_order_relaxed);
	return v;
}

struct objv *objv_clone(const struct objv *src)
{
	struct objv *v = malloc(src->size);

	if (!v)
		return NULL;
	/* Everything but the refcount, which other threads may be changing. */
	memcpy((char *)v + offsetof(struct objv, name_hash),
	       (const char *)src + offsetof(struct objv, name_hash),
	       src->size - offsetof(struct objv, name_hash));
	atomic_init(&v->refs, 1);
	blob_ref(v->spec_data);
	if (v->acct)
		atomic_fetch_add_explicit(v->acct, (long long)v->size, memory_order_relaxed);
	return v;
}

void objv_unref(struct objv *v)
{
	if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (v->acct)
		atomic_fetch_sub_explicit(v->acct, (long long)v->size, memory_order_relaxed);
	blob_unref(v->spec_data);
	free(v);
}

/* Hot (twice per informer event): no memset of the whole struct, which cost more than the
 * rest of the unpack; strings are copied with their NUL and unused label slots emptied. */
void objv_unpack(const struct objv *v, struct obj *o)
{
	const char *p = labels_start(v);
	uint32_t i;

	o->uid = v->uid;
	memcpy(o->kind, objv_kind(v), v->kind_len + 1u);
	memcpy(o->ns, objv_ns(v), v->ns_len + 1u);
	memcpy(o->name, objv_name(v), v->name_len + 1u);
	o->rv = v->rv;
	o->generation = v->generation;
	o->owner_uid = v->owner_uid;
	o->nlabels = v->nlabels;
	for (i = 0; i < v->nlabels; i++) {
		size_t k = strlen(p) + 1, l = strlen(p + k) + 1;

		memcpy(o->labels[i].key, p, k);
		memcpy(o->labels[i].val, p + k, l);
		p += k + l;
	}
	for (; i < OBJ_MAX_LABELS; i++)
		o->labels[i].key[0] = o->labels[i].val[0] = 0;
	o->deletion_rv = 0;
	memcpy(o->spec, v->spec, sizeof(o->spec));
	o->spec_data = blob_ref(v->spec_data);
	o->observed_generation = v->observed_generation;
	memcpy(o->status, v->status, sizeof(o->status));
	o->conditions = v->conditions;
}

bool objv_is(const struct objv *v, uint32_t hash, const char *kind, const char *ns,
	     const char *name)
{
	return v->name_hash == hash && !strcmp(objv_name(v), name) && !strcmp(objv_ns(v), ns) &&
	       !strcmp(objv_kind(v), kind);
}

const char *objv_label(const struct objv *v, const char *key)
{
	const char *p = labels_start(v);

	for (uint32_t i = 0; i < v->nlabels; i++) {
		size_t k = strlen(p);
		const char *val = p + k + 1;

		if (!strcmp(p, key))
			return val;
		p = val + strlen(val) + 1;
	}
	return NULL;
}

bool objv_same_spec(const struct objv *a, const struct objv *b)
{
	return !memcmp(a->spec, b->spec, sizeof(a->spec)) && blob_equal(a->spec_data, b->spec_data);
}

bool objv_same_meta_spec(const struct objv *a, const struct objv *b)
{
	return a->owner_uid == b->owner_uid && a->nlabels == b->nlabels &&
	       a->labels_len == b->labels_len &&
	       !memcmp(labels_start(a), labels_start(b), a->labels_len) && objv_same_spec(a, b);
}

bool objv_same_status(const struct objv *v, const struct obj *o)
{
	return v->observed_generation == o->observed_generation && v->conditions == o->conditions &&
	       !memcmp(v->status, o->status, sizeof(v->status));
}
