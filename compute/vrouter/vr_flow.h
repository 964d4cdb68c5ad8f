/* vr_flow: the flow table (engine-neutral storage, as the original's vr_flow_entry table).
 *
 * A fixed array of entries: the main part is hashed in buckets of VR_FLOW_BUCKET entries, and
 * overflow entries are chained per bucket when a bucket is full.  An entry's index is stable
 * for its life (the agent and the reverse-flow links name flows by index); its generation
 * number changes every time the slot is reused, so a stale index is detected.  The table
 * memory is allocated zeroed and touched only as entries are used. */
#ifndef CONTRAIL_VR_FLOW_H
#define CONTRAIL_VR_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "vr_proto.h"

#define VR_FLOW_BUCKET 4

struct vr_flow_key {
    uint8_t family;             /* 4 or 6 */
    uint8_t proto;
    uint16_t pad;               /* always 0 */
    uint16_t sport, dport;      /* host order */
    uint32_t nh_id;
    uint8_t sip[16], dip[16];   /* IPv4: first 4 bytes, rest 0 */
};

struct vr_flow_entry {
    struct vr_flow_key key;
    bool in_use;
    uint8_t action;             /* enum vr_flow_action */
    uint8_t gen_id;
    uint8_t drop_reason;
    uint8_t tcp_flags;
    uint8_t n_hold;
    uint16_t flags;
    uint16_t udp_src_port;
    uint32_t rindex, vrf, dvrf, ecmp_nh_index, src_nh_index, mirror_id;
    uint32_t next;              /* overflow chain */
    uint64_t packets, bytes;
    uint64_t last_used_ms;
    void *hold[VR_FLOW_HOLD_QUEUE];
};

struct vr_flow_table {
    struct vr_flow_entry *entries;
    uint32_t n_main, n_oflow, n_buckets;
    uint32_t *oflow_head;       /* per bucket */
    uint32_t oflow_free;        /* free overflow entries, chained by next */
    uint32_t hold_limit;        /* HOLD entries allowed at once */
    uint32_t aging_ms;          /* idle time before removal; 0: never */
    uint32_t age_cursor;
    void (*free_held)(void *);  /* frees a held packet */
    uint64_t used, oflow_used, hold, created, added, deleted, changed, processed;
};

/* Sizes the table: ENTRIES main entries (rounded up to a bucket) and OFLOW overflow ones.
 * Returns 0 or EINVAL. */
int vr_flow_table_init(struct vr_flow_table *, uint32_t entries, uint32_t oflow);
void vr_flow_table_destroy(struct vr_flow_table *);
static inline uint32_t vr_flow_table_size(const struct vr_flow_table *t)
{
    return t->n_main + t->n_oflow;
}

uint32_t vr_flow_key_hash(const struct vr_flow_key *);
bool vr_flow_key_eq(const struct vr_flow_key *, const struct vr_flow_key *);

/* The entry for KEY, or NULL; *INDEX gets its index. */
struct vr_flow_entry *vr_flow_lookup(const struct vr_flow_table *, const struct vr_flow_key *,
                                     uint32_t *index);
/* The in-use entry at INDEX, or NULL. */
struct vr_flow_entry *vr_flow_get(const struct vr_flow_table *, uint32_t index);
/* Takes a free entry for KEY (which must not be in the table), with action HOLD, a new
 * generation and no stats.  Returns 0, or ENOSPC when the bucket and the overflow pool are
 * full. */
int vr_flow_alloc(struct vr_flow_table *, const struct vr_flow_key *, uint64_t now_ms,
                  uint32_t *index);
/* Frees the entry at INDEX (held packets too), unlinking its reverse flow. */
void vr_flow_free(struct vr_flow_table *, uint32_t index);
/* Sets the entry's action, keeping the HOLD count right. */
void vr_flow_set_action(struct vr_flow_table *, struct vr_flow_entry *, uint8_t action);
/* Examines up to MAX entries from the aging cursor and frees those idle longer than the
 * aging time.  Returns how many were freed. */
uint32_t vr_flow_age(struct vr_flow_table *, uint64_t now_ms, uint32_t max);
/* Frees every entry. */
void vr_flow_flush(struct vr_flow_table *);

#endif
