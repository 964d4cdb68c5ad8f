/* idalloc: allocator of small integer ids from a range (virtual-network ids, security-group
 * ids, route-target numbers), a bitmap with a next-free hint, as the original's
 * IndexAllocator.  State is rebuilt at start by reserving the ids found in the store. */
#ifndef CONTRAIL_IDALLOC_H
#define CONTRAIL_IDALLOC_H

#include <stdbool.h>
#include <stdint.h>

struct idalloc {
    uint64_t *bits;
    uint32_t base, size;        /* Ids base .. base + size - 1. */
    uint32_t hint;              /* Every index below it is in use. */
    uint32_t used;
};

void idalloc_init(struct idalloc *, uint32_t base, uint32_t size);
void idalloc_destroy(struct idalloc *);
/* Allocates the lowest free id (as the original's IndexAllocator: first zero bit).
 * Returns false when full. */
bool idalloc_alloc(struct idalloc *, uint32_t *id);
/* Reserves ID.  Returns false if out of range or already used. */
bool idalloc_reserve(struct idalloc *, uint32_t id);
void idalloc_free(struct idalloc *, uint32_t id);
bool idalloc_is_used(const struct idalloc *, uint32_t id);

#endif
