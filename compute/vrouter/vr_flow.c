/* vr_flow: hashed flow table with per-bucket overflow chains (see vr_flow.h). */
#include "vr_flow.h"

#include <errno.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_flow_table, "vr_flow_table");

int
vr_flow_table_init(struct vr_flow_table *t, uint32_t entries, uint32_t oflow)
{
    memset(t, 0, sizeof *t);
    if (entries < VR_FLOW_BUCKET || entries > (1u << 26) || oflow > (1u << 24)) {
        return EINVAL;
    }
    t->n_buckets = (entries + VR_FLOW_BUCKET - 1) / VR_FLOW_BUCKET;
    t->n_main = t->n_buckets * VR_FLOW_BUCKET;
    t->n_oflow = oflow;
    t->entries = mem_zalloc(&mem_type_flow_table,
                            (size_t) (t->n_main + t->n_oflow) * sizeof *t->entries);
    t->oflow_head = mem_zalloc(&mem_type_flow_table, (size_t) t->n_buckets * sizeof(uint32_t));
    memset(t->oflow_head, 0xff, (size_t) t->n_buckets * sizeof(uint32_t));
    /* Chain the overflow entries into the free list, lowest index first. */
    t->oflow_free = VR_FLOW_INDEX_NONE;
    for (uint32_t i = t->n_oflow; i-- > 0;) {
        t->entries[t->n_main + i].next = t->oflow_free;
        t->oflow_free = t->n_main + i;
    }
    t->hold_limit = 8192;
    t->aging_ms = 180000;
    return 0;
}

void
vr_flow_table_destroy(struct vr_flow_table *t)
{
    if (!t || !t->entries) {
        return;
    }
    vr_flow_flush(t);
    mem_free(&mem_type_flow_table, t->entries);
    mem_free(&mem_type_flow_table, t->oflow_head);
    t->entries = NULL;
    t->oflow_head = NULL;
}

static inline uint32_t
mix(uint32_t h, uint32_t k)
{
    k *= 0xcc9e2d51u;
    k = (k << 15) | (k >> 17);
    k *= 0x1b873593u;
    h ^= k;
    h = (h << 13) | (h >> 19);
    return h * 5 + 0xe6546b64u;
}

uint32_t
vr_flow_key_hash(const struct vr_flow_key *k)
{
    uint32_t w[sizeof *k / 4];
    memcpy(w, k, sizeof w);
    uint32_t h = 0x9747b28cu;
    int n = k->family == 4 ? 0 : 1;
    /* IPv4 keys hash only the words that can be non-zero. */
    h = mix(h, w[0]);
    h = mix(h, w[1]);
    h = mix(h, w[2]);
    h = mix(h, w[3]);
    if (n) {
        for (size_t i = 4; i < sizeof w / sizeof w[0]; i++) {
            h = mix(h, w[i]);
        }
    } else {
        h = mix(h, w[7]);
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

bool
vr_flow_key_eq(const struct vr_flow_key *a, const struct vr_flow_key *b)
{
    return !memcmp(a, b, sizeof *a);
}

struct vr_flow_entry *
vr_flow_lookup(const struct vr_flow_table *t, const struct vr_flow_key *key, uint32_t *index)
{
    uint32_t b = vr_flow_key_hash(key) % t->n_buckets;
    struct vr_flow_entry *e = &t->entries[b * VR_FLOW_BUCKET];
    for (uint32_t i = 0; i < VR_FLOW_BUCKET; i++) {
        if (e[i].in_use && vr_flow_key_eq(&e[i].key, key)) {
            *index = b * VR_FLOW_BUCKET + i;
            return &e[i];
        }
    }
    for (uint32_t i = t->oflow_head[b]; i != VR_FLOW_INDEX_NONE; i = t->entries[i].next) {
        if (vr_flow_key_eq(&t->entries[i].key, key)) {
            *index = i;
            return &t->entries[i];
        }
    }
    return NULL;
}

struct vr_flow_entry *
vr_flow_get(const struct vr_flow_table *t, uint32_t index)
{
    if (index >= t->n_main + t->n_oflow || !t->entries[index].in_use) {
        return NULL;
    }
    return &t->entries[index];
}

static void
init_entry(struct vr_flow_table *t, struct vr_flow_entry *e, const struct vr_flow_key *key,
           uint64_t now_ms)
{
    uint8_t gen = (uint8_t) (e->gen_id + 1);
    uint32_t next = e->next;
    memset(e, 0, sizeof *e);
    e->key = *key;
    e->in_use = true;
    e->gen_id = gen;
    e->next = next;
    e->action = VR_FLOW_ACTION_HOLD;
    e->flags = VR_FLOW_FLAG_ACTIVE | VR_FLOW_FLAG_NEW_FLOW;
    e->rindex = VR_FLOW_INDEX_NONE;
    e->ecmp_nh_index = VR_FLOW_INDEX_NONE;
    e->src_nh_index = VR_FLOW_INDEX_NONE;
    e->mirror_id = VR_FLOW_INDEX_NONE;
    e->last_used_ms = now_ms;
    t->used++;
    t->hold++;
    t->created++;
}

int
vr_flow_alloc(struct vr_flow_table *t, const struct vr_flow_key *key, uint64_t now_ms,
              uint32_t *index)
{
    uint32_t b = vr_flow_key_hash(key) % t->n_buckets;
    for (uint32_t i = 0; i < VR_FLOW_BUCKET; i++) {
        uint32_t idx = b * VR_FLOW_BUCKET + i;
        if (!t->entries[idx].in_use) {
            init_entry(t, &t->entries[idx], key, now_ms);
            *index = idx;
            return 0;
        }
    }
    uint32_t idx = t->oflow_free;
    if (idx == VR_FLOW_INDEX_NONE) {
        return ENOSPC;
    }
    struct vr_flow_entry *e = &t->entries[idx];
    t->oflow_free = e->next;
    e->next = t->oflow_head[b];
    t->oflow_head[b] = idx;
    init_entry(t, e, key, now_ms);
    t->oflow_used++;
    *index = idx;
    return 0;
}

void
vr_flow_set_action(struct vr_flow_table *t, struct vr_flow_entry *e, uint8_t action)
{
    if (e->action == VR_FLOW_ACTION_HOLD && action != VR_FLOW_ACTION_HOLD) {
        t->hold--;
    } else if (e->action != VR_FLOW_ACTION_HOLD && action == VR_FLOW_ACTION_HOLD) {
        t->hold++;
    }
    e->action = action;
}

void
vr_flow_free(struct vr_flow_table *t, uint32_t index)
{
    struct vr_flow_entry *e = vr_flow_get(t, index);
    if (!e) {
        return;
    }
    for (uint8_t i = 0; i < e->n_hold; i++) {
        if (t->free_held) {
            t->free_held(e->hold[i]);
        }
    }
    if (e->flags & VR_RFLOW_VALID) {
        struct vr_flow_entry *r = vr_flow_get(t, e->rindex);
        if (r && r->rindex == index) {
            r->flags &= (uint16_t) ~VR_RFLOW_VALID;
            r->rindex = VR_FLOW_INDEX_NONE;
        }
    }
    if (e->action == VR_FLOW_ACTION_HOLD) {
        t->hold--;
    }
    if (index >= t->n_main) {
        uint32_t b = vr_flow_key_hash(&e->key) % t->n_buckets;
        uint32_t *p = &t->oflow_head[b];
        while (*p != VR_FLOW_INDEX_NONE && *p != index) {
            p = &t->entries[*p].next;
        }
        if (*p == index) {
            *p = e->next;
        }
        e->next = t->oflow_free;
        t->oflow_free = index;
        t->oflow_used--;
    }
    uint8_t gen = e->gen_id;
    uint32_t next = e->next;
    memset(e, 0, sizeof *e);
    e->gen_id = gen;
    e->next = next;
    t->used--;
    t->deleted++;
}

uint32_t
vr_flow_age(struct vr_flow_table *t, uint64_t now_ms, uint32_t max)
{
    uint32_t n = t->n_main + t->n_oflow, freed = 0;
    if (!t->aging_ms || !n) {
        return 0;
    }
    if (max > n) {
        max = n;
    }
    for (uint32_t i = 0; i < max; i++) {
        uint32_t idx = t->age_cursor;
        t->age_cursor = (t->age_cursor + 1) % n;
        struct vr_flow_entry *e = &t->entries[idx];
        if (e->in_use && now_ms - e->last_used_ms >= t->aging_ms) {
            vr_flow_free(t, idx);
            freed++;
        }
    }
    return freed;
}

void
vr_flow_flush(struct vr_flow_table *t)
{
    for (uint32_t i = 0; i < t->n_main + t->n_oflow; i++) {
        if (t->entries[i].in_use) {
            vr_flow_free(t, i);
        }
    }
}
