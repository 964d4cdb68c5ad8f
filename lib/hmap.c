/* hmap: intrusive chained hash map (see hmap.h). */
#include "hmap.h"

#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_hmap, "hmap_buckets");

#define HMAP_MIN_BUCKETS 16

void
hmap_init(struct hmap *h)
{
    h->buckets = mem_zalloc(&mem_type_hmap, HMAP_MIN_BUCKETS * sizeof *h->buckets);
    h->mask = HMAP_MIN_BUCKETS - 1;
    h->count = 0;
}

void
hmap_destroy(struct hmap *h)
{
    if (h) {
        mem_free(&mem_type_hmap, h->buckets);
        h->buckets = NULL;
        h->count = 0;
    }
}

static void
hmap_resize(struct hmap *h, size_t n)
{
    struct hmap_node **nb = mem_zalloc(&mem_type_hmap, n * sizeof *nb);
    for (size_t i = 0; i <= h->mask; i++) {
        for (struct hmap_node *node = h->buckets[i], *next; node; node = next) {
            next = node->next;
            struct hmap_node **b = &nb[node->hash & (n - 1)];
            node->next = *b;
            *b = node;
        }
    }
    mem_free(&mem_type_hmap, h->buckets);
    h->buckets = nb;
    h->mask = n - 1;
}

void
hmap_insert(struct hmap *h, struct hmap_node *node, uint32_t hash)
{
    node->hash = hash;
    struct hmap_node **b = &h->buckets[hash & h->mask];
    node->next = *b;
    *b = node;
    if (++h->count > 2 * (h->mask + 1)) {
        hmap_resize(h, 2 * (h->mask + 1));
    }
}

void
hmap_remove(struct hmap *h, struct hmap_node *node)
{
    struct hmap_node **p = &h->buckets[node->hash & h->mask];
    while (*p != node) {
        p = &(*p)->next;
    }
    *p = node->next;
    h->count--;
}

struct hmap_node *
hmap_first_with_hash(const struct hmap *h, uint32_t hash)
{
    struct hmap_node *n = h->buckets[hash & h->mask];
    while (n && n->hash != hash) {
        n = n->next;
    }
    return n;
}

struct hmap_node *
hmap_next_with_hash(const struct hmap_node *node)
{
    uint32_t hash = node->hash;
    struct hmap_node *n = node->next;
    while (n && n->hash != hash) {
        n = n->next;
    }
    return n;
}

static struct hmap_node *
hmap_scan(const struct hmap *h, size_t bucket)
{
    for (; bucket <= h->mask; bucket++) {
        if (h->buckets[bucket]) {
            return h->buckets[bucket];
        }
    }
    return NULL;
}

struct hmap_node *
hmap_first(const struct hmap *h)
{
    return hmap_scan(h, 0);
}

struct hmap_node *
hmap_next(const struct hmap *h, const struct hmap_node *node)
{
    return node->next ? node->next : hmap_scan(h, (node->hash & h->mask) + 1);
}

uint32_t
hash_bytes(const void *p, size_t n, uint32_t basis)
{
    /* Eight bytes a step (route keys are tens of bytes): multiply-xorshift mixing of each
     * word into a 64-bit state, then a final avalanche so that the low bits (the bucket
     * index) mix well. */
    const uint8_t *b = p;
    uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ basis ^ ((uint64_t) n << 32);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        w *= UINT64_C(0xff51afd7ed558ccd);
        w ^= w >> 32;
        h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
        b += 8;
        n -= 8;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, b, n);
        w *= UINT64_C(0xff51afd7ed558ccd);
        w ^= w >> 32;
        h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    return (uint32_t) h;
}

uint32_t
hash_string(const char *s, uint32_t basis)
{
    return hash_bytes(s, strlen(s), basis);
}
