/* idalloc: bitmap id allocator (see idalloc.h). */
#include "idalloc.h"

#include "mem.h"

static MEM_TYPE(mem_type_idalloc, "idalloc");

void
idalloc_init(struct idalloc *a, uint32_t base, uint32_t size)
{
    a->bits = mem_zalloc(&mem_type_idalloc, ((size_t) size + 63) / 64 * sizeof *a->bits);
    a->base = base;
    a->size = size;
    a->hint = 0;
    a->used = 0;
}

void
idalloc_destroy(struct idalloc *a)
{
    mem_free(&mem_type_idalloc, a->bits);
    a->bits = NULL;
}

static bool
test(const struct idalloc *a, uint32_t i)
{
    return a->bits[i / 64] >> (i % 64) & 1;
}

bool
idalloc_alloc(struct idalloc *a, uint32_t *id)
{
    /* Every index below the hint is in use: the first free one is at or after it. */
    for (uint32_t i = a->hint; i < a->size; i++) {
        if (!(i % 64) && a->bits[i / 64] == UINT64_MAX) {
            i += 63;
            continue;
        }
        if (!test(a, i)) {
            a->bits[i / 64] |= (uint64_t) 1 << (i % 64);
            a->used++;
            a->hint = i + 1;
            *id = a->base + i;
            return true;
        }
    }
    a->hint = a->size;
    return false;
}

bool
idalloc_reserve(struct idalloc *a, uint32_t id)
{
    if (id < a->base || id - a->base >= a->size || test(a, id - a->base)) {
        return false;
    }
    uint32_t i = id - a->base;
    a->bits[i / 64] |= (uint64_t) 1 << (i % 64);
    a->used++;
    return true;
}

void
idalloc_free(struct idalloc *a, uint32_t id)
{
    if (id >= a->base && id - a->base < a->size && test(a, id - a->base)) {
        uint32_t i = id - a->base;
        a->bits[i / 64] &= ~((uint64_t) 1 << (i % 64));
        a->used--;
        if (i < a->hint) {
            a->hint = i;
        }
    }
}

bool
idalloc_is_used(const struct idalloc *a, uint32_t id)
{
    return id >= a->base && id - a->base < a->size && test(a, id - a->base);
}
