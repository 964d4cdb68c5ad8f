/* st_rtalloc: the schema transformer's route-target number allocator (config-plane reference
 * §3.2): one number from 8000000 up per owner (a routing instance or a logical router, keyed
 * by a string), as the original's /id/bgp/route-targets IndexAllocator.
 *
 * The original kept the allocation in ZooKeeper and Cassandra; here it is rebuilt from the
 * config graph itself, which holds it already: every route-target object named
 * "target:<asn>:<n>" with n >= 8000000 keeps n in use while it exists (st_rtalloc_hold), and
 * the owner that refers to it claims it (st_rtalloc_claim).  A number is handed out again only
 * once it has no owner and no object, so two owners never share one, even across restarts and
 * takeovers. */
#ifndef CONTRAIL_ST_RTALLOC_H
#define CONTRAIL_ST_RTALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "hmap.h"
#include "idalloc.h"

#define ST_RTALLOC_MIN 8000000u
#define ST_RTALLOC_SIZE (1u << 24)

struct st_rtalloc {
    struct idalloc ids;
    struct hmap by_owner;       /* struct st_rtalloc_entry, by owner. */
    struct hmap by_number;      /* struct st_rtalloc_entry, by number. */
    uint32_t n_owned;
};

void st_rtalloc_init(struct st_rtalloc *);
void st_rtalloc_destroy(struct st_rtalloc *);
/* Forgets everything (before a rebuild). */
void st_rtalloc_clear(struct st_rtalloc *);

/* The number of OWNER, or 0 when it has none. */
uint32_t st_rtalloc_get(const struct st_rtalloc *, const char *owner);
/* The owner of number N, or NULL. */
const char *st_rtalloc_owner(const struct st_rtalloc *, uint32_t n);
/* The number of OWNER, allocating the lowest free one when it has none.  Returns 0 when the
 * range is exhausted. */
uint32_t st_rtalloc_alloc(struct st_rtalloc *, const char *owner);
/* Gives number N to OWNER (rebuild from the graph).  Returns false when N is out of range,
 * already owned by another owner, or OWNER already has another number. */
bool st_rtalloc_claim(struct st_rtalloc *, const char *owner, uint32_t n);
/* OWNER gives its number up (the number stays in use while objects hold it). */
void st_rtalloc_release(struct st_rtalloc *, const char *owner);
/* A route-target object with number N appeared (HOLD) or went away (!HOLD). */
void st_rtalloc_hold(struct st_rtalloc *, uint32_t n, bool hold);
bool st_rtalloc_in_use(const struct st_rtalloc *, uint32_t n);

/* Parses "target:<asn>:<n>" with n in the allocator's range: returns n (and the ASN in *ASN
 * when not NULL), or 0 for any other name. */
uint32_t st_rtalloc_parse(const char *name, uint32_t *asn);

#endif
