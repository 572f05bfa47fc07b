/*
 * obj — an API object of the simulated control plane, and its stored, shared form.
 *
 * struct obj is what callers hold and edit: plain data, fixed size, copied by value (with
 * obj_copy, which takes a reference on the optional payload). The payload (spec_data) is an
 * immutable, atomically refcounted blob shared by every copy.
 *
 * struct objv is one stored *version* of an object: immutable once published, refcounted,
 * compact (strings packed after the fixed fields, about 200 bytes for a typical object
 * instead of sizeof(struct obj)). The store keeps the current version of every object and
 * its watch history as objv references; informers cache the same objv pointers, so an
 * object costs one allocation per version no matter how many caches hold it. Only the
 * store and the informer build and read objvs; everyone else sees struct obj.
 *
 * Invariants of an objv: strings are NUL-terminated and within the limits of struct obj;
 * labels are sorted by key with no duplicate keys (so two label sets are equal iff their
 * packed bytes are equal); name_hash = obj_name_hash(kind, ns, name).
 *
 * Label selectors are client-go's equality-based ones: "k=v", "k==v", "k!=v", "k" (exists),
 * "!k" (does not exist), comma-separated (AND). The empty string selects everything.
 *
 * Threading: struct obj and struct obj_selector are plain data. objv and blob references
 * may be taken and dropped from any thread; their contents never change after publication.
 */
#ifndef RECONPERF_OBJ_H
#define RECONPERF_OBJ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OBJ_MAX_LABELS 4
#define OBJ_COND_READY 1u

struct obj_label {
	char key[32];
	char val[64];
};

/* An immutable, refcounted byte string. blob_new copies data; NULL on ENOMEM. */
struct blob;
struct blob *blob_new(const void *data, size_t len);
struct blob *blob_ref(struct blob *b);		/* NULL-safe; returns b */
void blob_unref(struct blob *b);		/* NULL-safe */
const void *blob_data(const struct blob *b);
size_t blob_len(const struct blob *b);
bool blob_equal(const struct blob *a, const struct blob *b);	/* same bytes (NULL == NULL) */

struct obj {
	uint64_t uid;		/* set by store_create, unique, never reused; the workqueue key */
	char kind[24];
	char ns[48];
	char name[96];
	uint64_t rv;		/* resourceVersion: the store revision of its last change */
	int64_t generation;	/* 1 on create, +1 on each spec change (not labels, not status) */
	uint64_t owner_uid;	/* controller owner reference, 0 = none */
	uint32_t nlabels;
	struct obj_label labels[OBJ_MAX_LABELS];
	int64_t spec[4];	/* workload-defined spec fields */
	struct blob *spec_data;	/* optional payload, part of the spec (may be NULL) */
	int64_t observed_generation;	/* status */
	int64_t status[4];		/* workload-defined status fields */
	uint32_t conditions;		/* status condition bits, OBJ_COND_READY */
	uint64_t deletion_rv;		/* revision of its deletion, in DELETED events; else 0 */
};

/* Zeroes o and sets its identity. -ENAMETOOLONG when a string does not fit. */
int obj_init(struct obj *o, const char *kind, const char *ns, const char *name);
void obj_copy(struct obj *dst, const struct obj *src);	/* refs the blob; dst is overwritten */
void obj_fini(struct obj *o);				/* unrefs the blob; NULL-safe */
/* Replaces the payload (takes a new reference on b, drops the old one). */
void obj_set_data(struct obj *o, struct blob *b);
const char *obj_label(const struct obj *o, const char *key);	/* NULL when absent */
/* Sets or replaces a label: -ENAMETOOLONG, -ENOSPC (OBJ_MAX_LABELS), -EINVAL (empty key). */
int obj_set_label(struct obj *o, const char *key, const char *val);
int obj_del_label(struct obj *o, const char *key);	/* -ENOENT when absent */
/* 0, or -EINVAL when a string is empty (kind, name) or not terminated, or nlabels is bad. */
int obj_validate(const struct obj *o);

bool obj_spec_equal(const struct obj *a, const struct obj *b);	/* spec[] and spec_data */
bool obj_meta_equal(const struct obj *a, const struct obj *b);	/* labels (any order), owner */

/* The hash used by every by-name table: kind, namespace and name together. */
uint32_t obj_name_hash(const char *kind, const char *ns, const char *name);

/* ---- label selectors ---- */
#define OBJ_SEL_MAX 8
enum obj_sel_op { OBJ_SEL_EQ, OBJ_SEL_NE, OBJ_SEL_EXISTS, OBJ_SEL_NOT_EXISTS };
struct obj_selector {
	int n;
	struct {
		enum obj_sel_op op;
		char key[32];
		char val[64];
	} t[OBJ_SEL_MAX];
};
/* NULL or "" selects everything. -EINVAL on a malformed selector, -E2BIG past OBJ_SEL_MAX. */
int obj_selector_parse(struct obj_selector *sel, const char *s);
bool obj_selector_match(const struct obj_selector *sel, const struct obj *o);

/* ---- stored versions (store and informer internals) ---- */
struct objv {
	atomic_uint refs;
	uint32_t name_hash;
	uint32_t conditions;
	uint16_t size;		/* bytes of this allocation */
	uint8_t kind_len, ns_len, name_len, nlabels;
	uint16_t labels_len;	/* bytes of the packed labels after the name */
	uint64_t uid;
	uint64_t rv;
	uint64_t owner_uid;
	int64_t generation;
	int64_t observed_generation;
	int64_t spec[4];
	int64_t status[4];
	struct blob *spec_data;
	atomic_llong *acct;	/* bytes counter of the store that made it, or NULL */
	char str[];		/* kind\0 ns\0 name\0 then key\0 val\0 per label, sorted by key */
};

/* Packs o (validated by the caller) into a new version with refs = 1; acct, when not NULL,
 * grows by the allocation size now and shrinks when the version is freed. NULL on ENOMEM. */
struct objv *objv_pack(const struct obj *o, atomic_llong *acct);
/* A private copy of v (refs = 1) whose fixed fields the caller may still change. */
struct objv *objv_clone(const struct objv *v);
static inline struct objv *objv_ref(struct objv *v)
{
	atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
	return v;
}
void objv_unref(struct objv *v);	/* NULL-safe */
/* Overwrites every field of o with v's contents and takes a payload reference (o's old one
 * is NOT dropped: o is raw). Bytes after each string's NUL are left as they were. */
void objv_unpack(const struct objv *v, struct obj *o);
static inline const char *objv_kind(const struct objv *v) { return v->str; }
static inline const char *objv_ns(const struct objv *v) { return v->str + v->kind_len + 1; }
static inline const char *objv_name(const struct objv *v)
{
	return v->str + v->kind_len + 1 + v->ns_len + 1;
}
bool objv_is(const struct objv *v, uint32_t hash, const char *kind, const char *ns,
	     const char *name);
const char *objv_label(const struct objv *v, const char *key);
bool objv_selector_match(const struct obj_selector *sel, const struct objv *v);
/* Labels, owner and spec (the fields a main-resource update may change) all equal. */
bool objv_same_meta_spec(const struct objv *a, const struct objv *b);
bool objv_same_spec(const struct objv *a, const struct objv *b);
/* v's status (observedGeneration, status[], conditions) equals o's. */
bool objv_same_status(const struct objv *v, const struct obj *o);

#endif
