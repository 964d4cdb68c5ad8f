/* hmap: intrusive hash map with chaining (the Open vSwitch shape).
 *
 * The caller embeds a `struct hmap_node` in its own struct, computes the hash, and compares
 * keys itself while walking a bucket with HMAP_FOR_EACH_WITH_HASH.  The table doubles when it
 * holds more than two nodes per bucket on average and never shrinks below its initial size. */
#ifndef CONTRAIL_HMAP_H
#define CONTRAIL_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap_node {
    uint32_t hash;
    struct hmap_node *next;
};

struct hmap {
    struct hmap_node **buckets;
    size_t mask;                /* n_buckets - 1. */
    size_t count;
};

#define CONTAINER_OF(PTR, TYPE, MEMBER) \
    ((TYPE *) (void *) ((char *) (PTR) - offsetof(TYPE, MEMBER)))

void hmap_init(struct hmap *);
void hmap_destroy(struct hmap *);     /* Frees the buckets only; nodes are the caller's. */
void hmap_insert(struct hmap *, struct hmap_node *, uint32_t hash);
void hmap_remove(struct hmap *, struct hmap_node *);
static inline size_t hmap_count(const struct hmap *h) { return h->count; }

struct hmap_node *hmap_first_with_hash(const struct hmap *, uint32_t hash);
struct hmap_node *hmap_next_with_hash(const struct hmap_node *);
/* Iteration: the first node, and the node after NODE, in bucket order (NULL at the end). */
struct hmap_node *hmap_first(const struct hmap *);
struct hmap_node *hmap_next(const struct hmap *, const struct hmap_node *);

#define HMAP_FOR_EACH_WITH_HASH(NODE, MEMBER, HASH, HMAP)                               \
    for (struct hmap_node *hn_##NODE = hmap_first_with_hash(HMAP, HASH);                \
         hn_##NODE && ((NODE) = CONTAINER_OF(hn_##NODE, __typeof__(*(NODE)), MEMBER), 1); \
         hn_##NODE = hmap_next_with_hash(hn_##NODE))

/* Visits every node; the current node may be removed (not others, and nothing inserted). */
#define HMAP_FOR_EACH_SAFE(NODE, MEMBER, HMAP)                                          \
    for (struct hmap_node *hn_##NODE = hmap_first(HMAP), *hnx_##NODE;                   \
         hn_##NODE && (hnx_##NODE = hmap_next(HMAP, hn_##NODE),                         \
                       (NODE) = CONTAINER_OF(hn_##NODE, __typeof__(*(NODE)), MEMBER), 1); \
         hn_##NODE = hnx_##NODE)
#define HMAP_FOR_EACH(NODE, MEMBER, HMAP) HMAP_FOR_EACH_SAFE(NODE, MEMBER, HMAP)

/* Hashes of bytes and strings (FNV-1a, 32 bits). */
uint32_t hash_bytes(const void *, size_t, uint32_t basis);
uint32_t hash_string(const char *, uint32_t basis);

#endif
