/* Unit tests for vr_flow: insert/lookup, bucket overflow chains, table full, free and reuse
 * with a new generation, reverse-flow unlinking, HOLD accounting, aging. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "vr_flow.h"

static struct vr_flow_key
key(uint32_t i)
{
    struct vr_flow_key k;
    memset(&k, 0, sizeof k);
    k.family = 4;
    k.proto = 17;
    k.sport = (uint16_t) i;
    k.dport = 53;
    k.nh_id = 7;
    k.sip[0] = 203;
    k.sip[3] = (uint8_t) (i >> 16);
    k.dip[0] = 198;
    k.dip[3] = (uint8_t) (i >> 8);
    return k;
}

static int freed_held;

static void
free_held(void *p)
{
    freed_held++;
    (void) p;
}

int
main(void)
{
    struct vr_flow_table t;
    CHECK_EQ_INT(vr_flow_table_init(&t, 64, 16), 0);
    CHECK_EQ_INT(vr_flow_table_size(&t), 80);
    t.free_held = free_held;
    uint32_t idx[80];
    int stored = 0;
    /* Fill until full: 64 main + 16 overflow, whatever the hash distribution allows. */
    for (uint32_t i = 0; i < 200; i++) {
        struct vr_flow_key k = key(i);
        uint32_t index;
        if (vr_flow_alloc(&t, &k, 1000, &index)) {
            continue;
        }
        CHECK(index < 80);
        idx[stored++] = index;
        if (stored == 80) {
            break;
        }
    }
    CHECK(stored > 64);          /* overflow entries were used */
    CHECK_EQ_INT(t.used, stored);
    CHECK_EQ_INT(t.hold, stored);
    /* Every stored key is found at its index. */
    int found = 0;
    for (uint32_t i = 0; i < 200; i++) {
        struct vr_flow_key k = key(i);
        uint32_t index;
        struct vr_flow_entry *e = vr_flow_lookup(&t, &k, &index);
        if (e) {
            found++;
            CHECK(vr_flow_key_eq(&e->key, &k));
            CHECK(vr_flow_get(&t, index) == e);
        }
    }
    CHECK_EQ_INT(found, stored);
    /* Reverse links: freeing one side invalidates the other's. */
    struct vr_flow_entry *a = vr_flow_get(&t, idx[0]), *b = vr_flow_get(&t, idx[1]);
    a->rindex = idx[1];
    a->flags |= VR_RFLOW_VALID;
    b->rindex = idx[0];
    b->flags |= VR_RFLOW_VALID;
    a->hold[0] = &t;
    a->n_hold = 1;
    uint8_t gen = a->gen_id;
    struct vr_flow_key ka = a->key;
    vr_flow_free(&t, idx[0]);
    CHECK_EQ_INT(freed_held, 1);
    CHECK(!(b->flags & VR_RFLOW_VALID));
    CHECK(vr_flow_get(&t, idx[0]) == NULL);
    uint32_t index;
    CHECK(vr_flow_lookup(&t, &ka, &index) == NULL);
    /* Reuse: same slot (first free in the bucket), new generation. */
    CHECK_EQ_INT(vr_flow_alloc(&t, &ka, 2000, &index), 0);
    CHECK_EQ_INT(index, idx[0]);
    CHECK_EQ_INT(vr_flow_get(&t, index)->gen_id, (uint8_t) (gen + 1));
    /* Overflow entries come back to the pool when freed. */
    uint64_t oflow = t.oflow_used;
    for (int i = 0; i < stored; i++) {
        if (idx[i] >= 64) {
            vr_flow_free(&t, idx[i]);
        }
    }
    CHECK_EQ_INT(t.oflow_used, 0);
    CHECK(oflow > 0);
    /* HOLD accounting follows the action. */
    uint64_t hold = t.hold;
    vr_flow_set_action(&t, vr_flow_get(&t, idx[1]), VR_FLOW_ACTION_FORWARD);
    CHECK_EQ_INT(t.hold, hold - 1);
    /* Aging: entries used at 1000 ms are older than 500 ms at 5000 ms, the one used at 2000
     * ms too; with aging off nothing goes. */
    t.aging_ms = 0;
    CHECK_EQ_INT(vr_flow_age(&t, 5000, 1000), 0);
    t.aging_ms = 500;
    uint64_t before = t.used;
    CHECK_EQ_INT(vr_flow_age(&t, 5000, 1000), before);
    CHECK_EQ_INT(t.used, 0);
    CHECK_EQ_INT(t.hold, 0);
    vr_flow_table_destroy(&t);
    CHECK_EQ_INT(vr_flow_table_init(&t, 2, 0), EINVAL);
    return check_finish();
}
