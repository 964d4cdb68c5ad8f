/* st_rtalloc: route-target number allocator (see st_rtalloc.h). */
#include "st_rtalloc.h"

#include <stdlib.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_rtalloc, "st_rtalloc");

/* One number in use: by an owner, by route-target objects, or both. */
struct st_rtalloc_entry {
    struct hmap_node owner_node;    /* In by_owner when OWNER is set. */
    struct hmap_node number_node;
    uint32_t number;
    char *owner;
    unsigned holds;                 /* Route-target objects carrying the number. */
};

static uint32_t
hash_number(uint32_t n)
{
    return hash_bytes(&n, sizeof n, 0);
}

void
st_rtalloc_init(struct st_rtalloc *a)
{
    idalloc_init(&a->ids, ST_RTALLOC_MIN, ST_RTALLOC_SIZE);
    hmap_init(&a->by_owner);
    hmap_init(&a->by_number);
    a->n_owned = 0;
}

void
st_rtalloc_clear(struct st_rtalloc *a)
{
    struct st_rtalloc_entry *e;
    HMAP_FOR_EACH_SAFE (e, number_node, &a->by_number) {
        hmap_remove(&a->by_number, &e->number_node);
        if (e->owner) {
            hmap_remove(&a->by_owner, &e->owner_node);
        }
        idalloc_free(&a->ids, e->number);
        mem_free(&mem_type_rtalloc, e->owner);
        mem_free(&mem_type_rtalloc, e);
    }
    a->n_owned = 0;
}

void
st_rtalloc_destroy(struct st_rtalloc *a)
{
    st_rtalloc_clear(a);
    hmap_destroy(&a->by_owner);
    hmap_destroy(&a->by_number);
    idalloc_destroy(&a->ids);
}

static struct st_rtalloc_entry *
by_owner(const struct st_rtalloc *a, const char *owner)
{
    struct st_rtalloc_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, owner_node, hash_string(owner, 0), &a->by_owner) {
        if (!strcmp(e->owner, owner)) {
            return e;
        }
    }
    return NULL;
}

static struct st_rtalloc_entry *
by_number(const struct st_rtalloc *a, uint32_t n)
{
    struct st_rtalloc_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, number_node, hash_number(n), &a->by_number) {
        if (e->number == n) {
            return e;
        }
    }
    return NULL;
}

static struct st_rtalloc_entry *
entry_new(struct st_rtalloc *a, uint32_t n)
{
    struct st_rtalloc_entry *e = mem_zalloc(&mem_type_rtalloc, sizeof *e);
    e->number = n;
    hmap_insert(&a->by_number, &e->number_node, hash_number(n));
    return e;
}

static void
set_owner(struct st_rtalloc *a, struct st_rtalloc_entry *e, const char *owner)
{
    e->owner = mem_strdup(&mem_type_rtalloc, owner);
    hmap_insert(&a->by_owner, &e->owner_node, hash_string(owner, 0));
    a->n_owned++;
}

/* Frees E's number when nothing holds it any more. */
static void
entry_maybe_free(struct st_rtalloc *a, struct st_rtalloc_entry *e)
{
    if (e->owner || e->holds) {
        return;
    }
    hmap_remove(&a->by_number, &e->number_node);
    idalloc_free(&a->ids, e->number);
    mem_free(&mem_type_rtalloc, e);
}

uint32_t
st_rtalloc_get(const struct st_rtalloc *a, const char *owner)
{
    struct st_rtalloc_entry *e = by_owner(a, owner);
    return e ? e->number : 0;
}

const char *
st_rtalloc_owner(const struct st_rtalloc *a, uint32_t n)
{
    struct st_rtalloc_entry *e = by_number(a, n);
    return e ? e->owner : NULL;
}

uint32_t
st_rtalloc_alloc(struct st_rtalloc *a, const char *owner)
{
    struct st_rtalloc_entry *e = by_owner(a, owner);
    if (e) {
        return e->number;
    }
    uint32_t n;
    if (!idalloc_alloc(&a->ids, &n)) {
        return 0;
    }
    e = entry_new(a, n);
    set_owner(a, e, owner);
    return n;
}

bool
st_rtalloc_claim(struct st_rtalloc *a, const char *owner, uint32_t n)
{
    if (n < ST_RTALLOC_MIN || n - ST_RTALLOC_MIN >= ST_RTALLOC_SIZE) {
        return false;
    }
    struct st_rtalloc_entry *mine = by_owner(a, owner);
    if (mine) {
        return mine->number == n;
    }
    struct st_rtalloc_entry *e = by_number(a, n);
    if (e && e->owner) {
        return false;
    }
    if (!e) {
        if (!idalloc_reserve(&a->ids, n)) {
            return false;
        }
        e = entry_new(a, n);
    }
    set_owner(a, e, owner);
    return true;
}

void
st_rtalloc_release(struct st_rtalloc *a, const char *owner)
{
    struct st_rtalloc_entry *e = by_owner(a, owner);
    if (!e) {
        return;
    }
    hmap_remove(&a->by_owner, &e->owner_node);
    mem_free(&mem_type_rtalloc, e->owner);
    e->owner = NULL;
    a->n_owned--;
    entry_maybe_free(a, e);
}

void
st_rtalloc_hold(struct st_rtalloc *a, uint32_t n, bool hold)
{
    if (n < ST_RTALLOC_MIN || n - ST_RTALLOC_MIN >= ST_RTALLOC_SIZE) {
        return;
    }
    struct st_rtalloc_entry *e = by_number(a, n);
    if (hold) {
        if (!e) {
            if (!idalloc_reserve(&a->ids, n)) {
                return;
            }
            e = entry_new(a, n);
        }
        e->holds++;
    } else if (e && e->holds) {
        e->holds--;
        entry_maybe_free(a, e);
    }
}

bool
st_rtalloc_in_use(const struct st_rtalloc *a, uint32_t n)
{
    return by_number(a, n) != NULL;
}

uint32_t
st_rtalloc_parse(const char *name, uint32_t *asn)
{
    if (strncmp(name, "target:", 7)) {
        return 0;
    }
    const char *p = name + 7;
    char *end;
    unsigned long long as = strtoull(p, &end, 10);
    if (end == p || *end != ':' || as > UINT32_MAX) {
        return 0;
    }
    p = end + 1;
    unsigned long long n = strtoull(p, &end, 10);
    if (end == p || *end || n < ST_RTALLOC_MIN || n - ST_RTALLOC_MIN >= ST_RTALLOC_SIZE) {
        return 0;
    }
    if (asn) {
        *asn = (uint32_t) as;
    }
    return (uint32_t) n;
}
