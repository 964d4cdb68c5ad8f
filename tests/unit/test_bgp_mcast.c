/* Unit tests for control/bgp/bgp_mcast: the multicast distribution trees of degree 4 (reference
 * §3.9): their shape for 1, 2, 5 and 21 forwarders, labels from each agent's block, symmetric
 * olists, rebalancing and "gone" reports on removal, exhausted blocks, labels kept across
 * unrelated changes, independent (G,S) entries and instances, the broadcast entry, the event
 * mode, introspect, and a randomised run checked against what the callbacks reported. */
#include "bgp_mcast.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mem.h"

/* --- Recording the callbacks ------------------------------------------------------------- */

struct rec {
    char instance[32], agent[32];
    uint8_t group[4], source[4];
    bool gone;
    uint32_t label;
    struct bgp_mcast_olist_entry olist[BGP_MCAST_MAX_OLIST];
    size_t n_olist;
};

static struct rec *recs;
static size_t n_recs, cap_recs;

static void
record(void *aux, const struct bgp_mcast_update *u)
{
    (void) aux;
    if (n_recs == cap_recs) {
        cap_recs = cap_recs ? 2 * cap_recs : 64;
        recs = realloc(recs, cap_recs * sizeof *recs);
    }
    struct rec *r = &recs[n_recs++];
    memset(r, 0, sizeof *r);
    snprintf(r->instance, sizeof r->instance, "%s", u->instance);
    snprintf(r->agent, sizeof r->agent, "%s", u->agent);
    memcpy(r->group, u->group, 4);
    memcpy(r->source, u->source, 4);
    r->gone = u->gone;
    r->label = u->label;
    CHECK(u->n_olist <= BGP_MCAST_MAX_OLIST);
    r->n_olist = u->n_olist < BGP_MCAST_MAX_OLIST ? u->n_olist : BGP_MCAST_MAX_OLIST;
    if (r->n_olist) {
        memcpy(r->olist, u->olist, r->n_olist * sizeof *r->olist);
    }
}

static const struct rec *
find_rec(const char *instance, const char *agent)
{
    const struct rec *found = NULL;
    for (size_t i = 0; i < n_recs; i++) {
        if (!strcmp(recs[i].instance, instance) && !strcmp(recs[i].agent, agent)) {
            found = &recs[i];
        }
    }
    return found;
}

static const struct bgp_mcast_ops ops = { .update = record };

/* --- Helpers ----------------------------------------------------------------------------- */

static const uint8_t G1[4] = { 224, 1, 1, 1 }, G2[4] = { 239, 2, 2, 2 };
static const uint8_t S0[4] = { 0, 0, 0, 0 }, S1[4] = { 10, 9, 9, 9 };
static const uint8_t BCAST[4] = { 255, 255, 255, 255 };

#define BLOCK_FIRST(I) (1024 + 2048 * (uint32_t) (I))
#define BLOCK_LAST(I) (BLOCK_FIRST(I) + 2047)

static void
agent_name(int i, char *buf, size_t size)
{
    snprintf(buf, size, "compute%02d", i);
}

/* Agent I's address: 10.1.X.Y where the order of addresses is not the order of I, so that
 * the tree order has to come from sorting. */
static void
agent_addr(int i, uint8_t a[4])
{
    unsigned v = (unsigned) (i * 37 % 101) + 1;
    a[0] = 10;
    a[1] = 1;
    a[2] = v / 250;
    a[3] = v % 250 + 1;
}

static uint32_t
addr_u32(const uint8_t a[4])
{
    return (uint32_t) a[0] << 24 | (uint32_t) a[1] << 16 | (uint32_t) a[2] << 8 | a[3];
}

/* Adds agent I to (INST, G, S) with the first SIZE labels of its block. */
static int
add_agent_block(struct bgp_mcast *mc, const char *inst, const uint8_t g[4], const uint8_t s[4],
                int i, uint32_t size)
{
    char name[32];
    uint8_t a[4];
    agent_name(i, name, sizeof name);
    agent_addr(i, a);
    return bgp_mcast_add(mc, inst, g, s, name, a, BLOCK_FIRST(i), BLOCK_FIRST(i) + size - 1,
                         1u << (i % 3));
}

static int
add_agent(struct bgp_mcast *mc, const char *inst, const uint8_t g[4], const uint8_t s[4],
          int i)
{
    return add_agent_block(mc, inst, g, s, i, 2048);
}

static int
cmp_u32(const void *a_, const void *b_)
{
    uint32_t a = *(const uint32_t *) a_, b = *(const uint32_t *) b_;
    return a < b ? -1 : a > b;
}

/* Checks the tree of (INST, G, S) made of the agents IDS[0..N-1] (each with its own block, as
 * add_agent gives them): the degree 4 shape over the sorted addresses, each label within its
 * agent's block, and each edge present at both ends with the neighbour's label and encaps. */
static void
check_tree(const struct bgp_mcast *mc, const char *inst, const uint8_t g[4], const uint8_t s[4],
           const int *ids, size_t n)
{
    uint32_t *sorted = calloc(n + 1, sizeof *sorted);
    uint32_t *labels = calloc(n + 1, sizeof *labels);
    struct bgp_mcast_olist_entry (*ol)[BGP_MCAST_MAX_OLIST] = calloc(n + 1, sizeof *ol);
    size_t *n_ol = calloc(n + 1, sizeof *n_ol);

    for (size_t i = 0; i < n; i++) {
        uint8_t a[4];
        agent_addr(ids[i], a);
        sorted[i] = addr_u32(a);
    }
    qsort(sorted, n, sizeof *sorted, cmp_u32);

    for (size_t i = 0; i < n; i++) {
        char name[32];
        agent_name(ids[i], name, sizeof name);
        CHECK_EQ_INT(bgp_mcast_get(mc, inst, g, s, name, &labels[i], ol[i], &n_ol[i]), 0);
        CHECK(labels[i] >= BLOCK_FIRST(ids[i]) && labels[i] <= BLOCK_LAST(ids[i]));

        /* The position of this agent in address order gives its expected neighbours. */
        uint8_t a[4];
        agent_addr(ids[i], a);
        size_t pos = 0;
        while (sorted[pos] != addr_u32(a)) {
            pos++;
        }
        size_t expect = (pos > 0) + 0;
        for (size_t c = 4 * pos + 1; c <= 4 * pos + 4 && c < n; c++) {
            expect++;
        }
        CHECK_EQ_INT(n_ol[i], expect);
        if (pos > 0 && n_ol[i] > 0) {
            CHECK_EQ_INT(addr_u32(ol[i][0].addr), sorted[(pos - 1) / 4]);
        }
        for (size_t c = 4 * pos + 1, k = pos > 0; c <= 4 * pos + 4 && c < n && k < n_ol[i];
             c++, k++) {
            CHECK_EQ_INT(addr_u32(ol[i][k].addr), sorted[c]);
        }
    }

    /* Symmetry: A lists B with B's label and encaps iff B lists A with A's. */
    for (size_t i = 0; i < n; i++) {
        uint8_t ai[4];
        agent_addr(ids[i], ai);
        for (size_t k = 0; k < n_ol[i]; k++) {
            size_t j = 0;
            uint8_t aj[4];
            for (j = 0; j < n; j++) {
                agent_addr(ids[j], aj);
                if (!memcmp(aj, ol[i][k].addr, 4)) {
                    break;
                }
            }
            CHECK(j < n);
            if (j == n) {
                continue;
            }
            CHECK_EQ_INT(ol[i][k].label, labels[j]);
            CHECK_EQ_INT(ol[i][k].encap, 1u << (ids[j] % 3));
            bool back = false;
            for (size_t m = 0; m < n_ol[j]; m++) {
                if (!memcmp(ol[j][m].addr, ai, 4)) {
                    back = true;
                    CHECK_EQ_INT(ol[j][m].label, labels[i]);
                }
            }
            CHECK(back);
        }
    }
    free(sorted);
    free(labels);
    free(ol);
    free(n_ol);
}

static uint32_t
label_of(const struct bgp_mcast *mc, const char *inst, const uint8_t g[4], const uint8_t s[4],
         int id)
{
    char name[32];
    uint32_t label = 0;
    struct bgp_mcast_olist_entry ol[BGP_MCAST_MAX_OLIST];
    size_t n;
    agent_name(id, name, sizeof name);
    if (bgp_mcast_get(mc, inst, g, s, name, &label, ol, &n)) {
        return UINT32_MAX;
    }
    return label;
}

/* --- Tests ------------------------------------------------------------------------------- */

static void
test_shapes(void)
{
    static const size_t sizes[] = { 1, 2, 5, 21 };
    for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
        size_t n = sizes[t];
        struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
        int ids[32];
        n_recs = 0;
        /* Join in an order unrelated to the addresses. */
        for (size_t i = 0; i < n; i++) {
            ids[i] = (int) ((i * 13 + 3) % n);   /* 13 is prime to every n. */
        }
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_INT(add_agent(mc, "vn1", G1, S0, ids[i]), 0);
        }
        CHECK(bgp_mcast_pending(mc));
        CHECK_EQ_INT(n_recs, 0);
        bgp_mcast_flush(mc);
        CHECK(!bgp_mcast_pending(mc));
        CHECK_EQ_INT(n_recs, n);        /* Each forwarder reported once. */
        check_tree(mc, "vn1", G1, S0, ids, n);

        /* The reports say what bgp_mcast_get says. */
        for (size_t i = 0; i < n_recs; i++) {
            uint32_t label;
            struct bgp_mcast_olist_entry ol[BGP_MCAST_MAX_OLIST];
            size_t n_ol;
            CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", G1, S0, recs[i].agent, &label, ol, &n_ol), 0);
            CHECK(!recs[i].gone);
            CHECK_EQ_INT(recs[i].label, label);
            CHECK_EQ_INT(recs[i].n_olist, n_ol);
            CHECK(!memcmp(recs[i].olist, ol, n_ol * sizeof *ol));
            CHECK_STREQ(recs[i].instance, "vn1");
            CHECK(!memcmp(recs[i].group, G1, 4) && !memcmp(recs[i].source, S0, 4));
        }
        if (n == 1) {
            CHECK_EQ_INT(recs[0].n_olist, 0);
            CHECK(!bgp_mcast_update_advertise(&(struct bgp_mcast_update) {
                .label = recs[0].label, .n_olist = 0 }));
        }
        if (n == 21) {
            /* Root: 4 children; the next four: a parent and 4 children; the rest leaves. */
            size_t deg[6] = { 0 };
            for (size_t i = 0; i < n_recs; i++) {
                deg[recs[i].n_olist]++;
            }
            CHECK_EQ_INT(deg[4], 1);
            CHECK_EQ_INT(deg[5], 4);
            CHECK_EQ_INT(deg[1], 16);
        }

        /* Nothing changed: nothing to report. */
        n_recs = 0;
        for (size_t i = 0; i < n; i++) {
            CHECK_EQ_INT(add_agent(mc, "vn1", G1, S0, ids[i]), 0);
        }
        CHECK(!bgp_mcast_pending(mc));
        bgp_mcast_flush(mc);
        CHECK_EQ_INT(n_recs, 0);
        bgp_mcast_destroy(mc);
    }
}

static void
test_removal(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    int ids[21];
    for (int i = 0; i < 21; i++) {
        ids[i] = i;
        add_agent(mc, "vn1", G1, S0, i);
    }
    bgp_mcast_flush(mc);
    check_tree(mc, "vn1", G1, S0, ids, 21);
    uint32_t before[21];
    for (int i = 0; i < 21; i++) {
        before[i] = label_of(mc, "vn1", G1, S0, i);
    }

    /* Remove an inner node (the one with the 2nd lowest address: a parent of 4). */
    uint32_t lowest[2] = { UINT32_MAX, UINT32_MAX };
    int victim = -1, first = -1;
    for (int i = 0; i < 21; i++) {
        uint8_t a[4];
        agent_addr(i, a);
        uint32_t v = addr_u32(a);
        if (v < lowest[0]) {
            lowest[1] = lowest[0];
            victim = first;
            lowest[0] = v;
            first = i;
        } else if (v < lowest[1]) {
            lowest[1] = v;
            victim = i;
        }
    }
    char vname[32];
    agent_name(victim, vname, sizeof vname);
    n_recs = 0;
    CHECK_EQ_INT(bgp_mcast_remove(mc, "vn1", G1, S0, vname), 0);
    CHECK_EQ_INT(bgp_mcast_remove(mc, "vn1", G1, S0, vname), ENOENT);
    CHECK_EQ_INT(bgp_mcast_remove(mc, "vn2", G1, S0, vname), ENOENT);
    bgp_mcast_flush(mc);
    const struct rec *g = find_rec("vn1", vname);
    CHECK(g && g->gone && g->label == 0 && g->n_olist == 0);
    CHECK(g && !bgp_mcast_update_advertise(&(struct bgp_mcast_update) { .gone = true }));
    /* Everyone whose olist changed was told; the rest were not. */
    CHECK(n_recs > 1 && n_recs < 21);
    int rest[20], n_rest = 0;
    for (int i = 0; i < 21; i++) {
        if (i != victim) {
            rest[n_rest++] = i;
        }
    }
    check_tree(mc, "vn1", G1, S0, rest, (size_t) n_rest);
    for (int i = 0; i < 21; i++) {
        if (i != victim) {
            CHECK_EQ_INT(label_of(mc, "vn1", G1, S0, i), before[i]);
        }
    }
    CHECK_EQ_INT(label_of(mc, "vn1", G1, S0, victim), UINT32_MAX);

    /* Session down of an agent present in two entries: a gone report for each. */
    add_agent(mc, "vn1", G2, S1, 3);
    add_agent(mc, "vn1", G2, S1, 4);
    bgp_mcast_flush(mc);
    n_recs = 0;
    char name3[32];
    agent_name(3, name3, sizeof name3);
    CHECK_EQ_INT(bgp_mcast_remove_agent(mc, name3, NULL), 2);
    CHECK_EQ_INT(bgp_mcast_remove_agent(mc, name3, NULL), 0);
    bgp_mcast_flush(mc);
    size_t n_gone = 0;
    for (size_t i = 0; i < n_recs; i++) {
        if (recs[i].gone) {
            CHECK_STREQ(recs[i].agent, name3);
            n_gone++;
        }
    }
    CHECK_EQ_INT(n_gone, 2);
    /* compute04 is alone in (G2, S1) now: it is told its olist is empty. */
    char name4[32];
    agent_name(4, name4, sizeof name4);
    const struct rec *r4 = find_rec("vn1", name4);
    CHECK(r4 && !r4->gone && r4->n_olist == 0 && !memcmp(r4->group, G2, 4));

    /* Unsubscribe from one instance removes only that instance's forwarders. */
    add_agent(mc, "vn2", G1, S0, 4);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(bgp_mcast_remove_agent(mc, name4, "vn2"), 1);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(label_of(mc, "vn2", G1, S0, 4), UINT32_MAX);
    CHECK(label_of(mc, "vn1", G1, S0, 4) != UINT32_MAX);

    /* Added and removed within one batch: never reported, no "gone" either. */
    n_recs = 0;
    add_agent(mc, "vn3", G1, S0, 7);
    char name7[32];
    agent_name(7, name7, sizeof name7);
    CHECK_EQ_INT(bgp_mcast_remove(mc, "vn3", G1, S0, name7), 0);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(n_recs, 0);

    /* Removing all: every one told gone, the entry and instance disappear. */
    for (int i = 0; i < 21; i++) {
        char name[32];
        agent_name(i, name, sizeof name);
        bgp_mcast_remove_agent(mc, name, NULL);
    }
    n_recs = 0;
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(n_recs, 19 + 1);       /* vn1 (G1,S0) less the victim and compute03; compute04. */
    json_t *j = bgp_mcast_to_json(mc, NULL);
    CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "agents")), 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "forwarders")), 0);
    json_decref(j);
    bgp_mcast_destroy(mc);
}

static void
test_exhausted(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    uint8_t a1[4] = { 10, 0, 0, 1 }, a2[4] = { 10, 0, 0, 2 }, a3[4] = { 10, 0, 0, 3 };

    /* Agent A's block holds two labels; it joins three trees. */
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "A", a1, 100, 101, 1), 0);
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G2, S0, "A", a1, 100, 101, 1), 0);
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", BCAST, S0, "A", a1, 100, 101, 1), 0);
    for (int t = 0; t < 3; t++) {
        const uint8_t *g = t == 0 ? G1 : t == 1 ? G2 : BCAST;
        CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", g, S0, "B", a2, 200, 299, 2), 0);
        CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", g, S0, "C", a3, 300, 399, 2), 0);
    }
    n_recs = 0;
    bgp_mcast_flush(mc);
    uint32_t l[3];
    struct bgp_mcast_olist_entry ol[BGP_MCAST_MAX_OLIST];
    size_t n;
    int without = -1;
    const uint8_t *gs[3] = { G1, G2, BCAST };
    for (int t = 0; t < 3; t++) {
        CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", gs[t], S0, "A", &l[t], ol, &n), 0);
        if (!l[t]) {
            without = t;
            CHECK_EQ_INT(n, 0);
            /* B and C form the tree alone. */
            uint32_t lb;
            CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", gs[t], S0, "B", &lb, ol, &n), 0);
            CHECK_EQ_INT(n, 1);
            CHECK(!memcmp(ol[0].addr, a3, 4));
        } else {
            CHECK(l[t] == 100 || l[t] == 101);
            CHECK_EQ_INT(n, 2);         /* A is the root (lowest address). */
        }
    }
    CHECK(without >= 0);
    CHECK(l[(without + 1) % 3] != l[(without + 2) % 3]);
    /* A got no report for the tree it is not in; B and C did. */
    size_t n_a = 0;
    for (size_t i = 0; i < n_recs; i++) {
        n_a += !strcmp(recs[i].agent, "A");
    }
    CHECK_EQ_INT(n_a, 2);
    CHECK_EQ_INT(n_recs, 2 + 6);

    /* A leaves another tree: its label frees up, and the waiting tree takes it in. */
    int leave = (without + 1) % 3;
    uint32_t freed = l[leave];
    CHECK_EQ_INT(bgp_mcast_remove(mc, "vn1", gs[leave], S0, "A"), 0);
    n_recs = 0;
    bgp_mcast_flush(mc);
    uint32_t got;
    CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", gs[without], S0, "A", &got, ol, &n), 0);
    CHECK_EQ_INT(got, freed);
    CHECK_EQ_INT(n, 2);
    const struct rec *ra = NULL, *rgone = NULL;
    for (size_t i = 0; i < n_recs; i++) {
        if (!strcmp(recs[i].agent, "A") && !memcmp(recs[i].group, gs[without], 4)) {
            ra = &recs[i];
        }
        if (!strcmp(recs[i].agent, "A") && recs[i].gone) {
            rgone = &recs[i];
        }
    }
    CHECK(ra && ra->label == freed && ra->n_olist == 2);
    /* The retract of the label's old use comes before its new use. */
    CHECK(rgone && !memcmp(rgone->group, gs[leave], 4) && rgone < ra);

    /* A moves one tree to a new block of one label and gets it; a second tree moved to the
     * same block finds it exhausted, leaves its tree, and A is told so. */
    int keep = (without + 2) % 3;
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", gs[keep], S0, "A", a1, 500, 500, 1), 0);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", gs[keep], S0, "A", &got, ol, &n), 0);
    CHECK_EQ_INT(got, 500);
    n_recs = 0;
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", gs[without], S0, "A", a1, 500, 500, 1), 0);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", gs[without], S0, "A", &got, ol, &n), 0);
    CHECK_EQ_INT(got, 0);
    CHECK_EQ_INT(n, 0);
    ra = NULL;
    for (size_t i = 0; i < n_recs; i++) {
        if (!strcmp(recs[i].agent, "A")) {
            ra = &recs[i];
        }
    }
    CHECK(ra && !ra->gone && ra->label == 0 && ra->n_olist == 0);
    /* B and C were told A left their tree. */
    const struct rec *rb = find_rec("vn1", "B");
    CHECK(rb && rb->n_olist == 1 && !memcmp(rb->group, gs[without], 4));

    /* Bad blocks. */
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "D", a1, 0, 10, 1), EINVAL);
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "D", a1, 20, 10, 1), EINVAL);
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "D", a1, 20, 0x100000, 1), EINVAL);
    bgp_mcast_destroy(mc);
}

static void
test_labels_kept(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    for (int i = 0; i < 9; i++) {
        add_agent(mc, "vn1", G1, S0, i);
    }
    bgp_mcast_flush(mc);
    uint32_t before[9];
    for (int i = 0; i < 9; i++) {
        before[i] = label_of(mc, "vn1", G1, S0, i);
    }

    /* Unrelated changes: other entries, other instances, new and departing forwarders, and a
     * forwarder's address and encapsulation changing. */
    for (int i = 0; i < 9; i++) {
        add_agent(mc, "vn1", G2, S1, i);
        add_agent(mc, "vn2", G1, S0, i);
    }
    for (int i = 9; i < 30; i++) {
        add_agent(mc, "vn1", G1, S0, i);
    }
    bgp_mcast_flush(mc);
    char name[32];
    agent_name(12, name, sizeof name);
    bgp_mcast_remove(mc, "vn1", G1, S0, name);
    agent_name(5, name, sizeof name);
    uint8_t moved[4] = { 10, 200, 0, 1 };
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, name, moved, BLOCK_FIRST(5), BLOCK_LAST(5),
                               7), 0);
    n_recs = 0;
    bgp_mcast_flush(mc);
    for (int i = 0; i < 9; i++) {
        CHECK_EQ_INT(label_of(mc, "vn1", G1, S0, i), before[i]);
    }
    /* compute05 moved to the end of the tree, a leaf (it is reported only if its parent
     * changed); its neighbours were told its new address and encapsulation. */
    uint32_t l5;
    struct bgp_mcast_olist_entry ol5[BGP_MCAST_MAX_OLIST];
    size_t n5;
    CHECK_EQ_INT(bgp_mcast_get(mc, "vn1", G1, S0, name, &l5, ol5, &n5), 0);
    CHECK_EQ_INT(n5, 1);
    CHECK_EQ_INT(l5, before[5]);
    size_t n_seen = 0;
    for (size_t i = 0; i < n_recs; i++) {
        for (size_t k = 0; k < recs[i].n_olist; k++) {
            if (!memcmp(recs[i].olist[k].addr, moved, 4)) {
                CHECK_EQ_INT(recs[i].olist[k].encap, 7);
                CHECK_EQ_INT(recs[i].olist[k].label, before[5]);
                n_seen++;
            }
        }
    }
    CHECK_EQ_INT(n_seen, 1);

    /* The same agent in several trees has one block: distinct labels. */
    uint32_t a = label_of(mc, "vn1", G1, S0, 3), b = label_of(mc, "vn1", G2, S1, 3);
    uint32_t c = label_of(mc, "vn2", G1, S0, 3);
    CHECK(a != b && b != c && a != c);
    CHECK(a >= BLOCK_FIRST(3) && b >= BLOCK_FIRST(3) && c >= BLOCK_FIRST(3));
    bgp_mcast_destroy(mc);
}

/* A forwarder's encapsulation or block changes but not its place: exactly its neighbours are
 * told (and itself, for a new label). */
static void
test_attr_change(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    uint8_t a[4] = { 10, 0, 0, 0 };
    char name[32];
    for (int i = 0; i < 21; i++) {
        a[3] = (uint8_t) (i + 1);
        snprintf(name, sizeof name, "n%02d", i);
        bgp_mcast_add(mc, "vn1", G1, S0, name, a, 1000, 1999, 1);
    }
    bgp_mcast_flush(mc);

    /* n01 (index 1: parent n00, children n05..n08) changes its encapsulation. */
    a[3] = 2;
    n_recs = 0;
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "n01", a, 1000, 1999, 3), 0);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(n_recs, 5);
    for (size_t i = 0; i < n_recs; i++) {
        int idx = atoi(recs[i].agent + 1);
        CHECK(idx == 0 || (idx >= 5 && idx <= 8));
        bool seen = false;
        for (size_t k = 0; k < recs[i].n_olist; k++) {
            if (recs[i].olist[k].addr[3] == 2) {
                CHECK_EQ_INT(recs[i].olist[k].encap, 3);
                seen = true;
            }
        }
        CHECK(seen);
    }

    /* n02 moves to another block: itself and its neighbours learn its new label. */
    a[3] = 3;
    n_recs = 0;
    CHECK_EQ_INT(bgp_mcast_add(mc, "vn1", G1, S0, "n02", a, 5000, 5009, 1), 0);
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(n_recs, 6);
    for (size_t i = 0; i < n_recs; i++) {
        int idx = atoi(recs[i].agent + 1);
        CHECK(idx == 0 || idx == 2 || (idx >= 9 && idx <= 12));
        if (idx == 2) {
            CHECK_EQ_INT(recs[i].label, 5000);
        }
        for (size_t k = 0; k < recs[i].n_olist; k++) {
            if (recs[i].olist[k].addr[3] == 3) {
                CHECK_EQ_INT(recs[i].olist[k].label, 5000);
            }
        }
    }
    bgp_mcast_destroy(mc);
}

static void
test_independent(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    int ids[6] = { 0, 1, 2, 3, 4, 5 };
    for (int i = 0; i < 6; i++) {
        add_agent(mc, "vn1", G1, S0, i);
        add_agent(mc, "vn1", G1, S1, i);        /* Same group, another source. */
        if (i < 4) {
            add_agent(mc, "vn2", G1, S0, i);    /* Same (G,S), another instance. */
        }
    }
    bgp_mcast_flush(mc);
    check_tree(mc, "vn1", G1, S0, ids, 6);
    check_tree(mc, "vn1", G1, S1, ids, 6);
    check_tree(mc, "vn2", G1, S0, ids, 4);

    /* A change in one entry reports nothing of the others. */
    n_recs = 0;
    char name[32];
    agent_name(0, name, sizeof name);
    bgp_mcast_remove(mc, "vn1", G1, S1, name);
    bgp_mcast_flush(mc);
    CHECK(n_recs > 0);
    for (size_t i = 0; i < n_recs; i++) {
        CHECK_STREQ(recs[i].instance, "vn1");
        CHECK(!memcmp(recs[i].source, S1, 4));
    }
    check_tree(mc, "vn1", G1, S0, ids, 6);
    check_tree(mc, "vn1", G1, S1, ids + 1, 5);
    check_tree(mc, "vn2", G1, S0, ids, 4);

    n_recs = 0;
    add_agent(mc, "vn2", G1, S0, 5);
    bgp_mcast_flush(mc);
    CHECK(n_recs > 0);
    for (size_t i = 0; i < n_recs; i++) {
        CHECK_STREQ(recs[i].instance, "vn2");
    }
    static const int vn2_ids[5] = { 0, 1, 2, 3, 5 };
    check_tree(mc, "vn2", G1, S0, vn2_ids, 5);

    /* Introspect shows both instances, sorted, and filters by instance. */
    json_t *j = bgp_mcast_to_json(mc, NULL);
    json_t *insts = json_object_get(j, "instances");
    CHECK_EQ_INT(json_array_size(insts), 2);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(insts, 0), "name")), "vn1");
    json_t *entries = json_object_get(json_array_get(insts, 0), "entries");
    CHECK_EQ_INT(json_array_size(entries), 2);
    json_t *e0 = json_array_get(entries, 0);
    CHECK_STREQ(json_string_value(json_object_get(e0, "group")), "224.1.1.1");
    CHECK_STREQ(json_string_value(json_object_get(e0, "source")), "0.0.0.0");
    json_t *fw = json_object_get(e0, "forwarders");
    CHECK_EQ_INT(json_array_size(fw), 6);
    json_t *root = json_array_get(fw, 0);
    CHECK_EQ_INT(json_array_size(json_object_get(root, "olist")), 4);
    CHECK(json_integer_value(json_object_get(root, "label")) > 0);
    CHECK(json_string_value(json_object_get(root, "label_block")) != NULL);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "agents")), 6);
    CHECK_EQ_INT(json_integer_value(json_object_get(j, "forwarders")), 6 + 5 + 5);
    CHECK(json_integer_value(json_object_get(j, "rebuilds")) > 0);
    json_decref(j);
    j = bgp_mcast_to_json(mc, "vn2");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 1);
    json_decref(j);
    j = bgp_mcast_to_json(mc, "nope");
    CHECK_EQ_INT(json_array_size(json_object_get(j, "instances")), 0);
    json_decref(j);
    bgp_mcast_destroy(mc);
}

static void
test_broadcast(void)
{
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    int ids[7];
    for (int i = 0; i < 7; i++) {
        ids[i] = i;
        add_agent(mc, "default-domain:p:vn:vn", BCAST, S0, i);
    }
    n_recs = 0;
    bgp_mcast_flush(mc);
    CHECK_EQ_INT(n_recs, 7);
    CHECK(!memcmp(recs[0].group, BCAST, 4) && !memcmp(recs[0].source, S0, 4));
    check_tree(mc, "default-domain:p:vn:vn", BCAST, S0, ids, 7);
    json_t *j = bgp_mcast_to_json(mc, NULL);
    json_t *e = json_array_get(json_object_get(json_array_get(json_object_get(j, "instances"),
                                                              0), "entries"), 0);
    CHECK_STREQ(json_string_value(json_object_get(e, "group")), "255.255.255.255");
    json_decref(j);
    bgp_mcast_destroy(mc);
}

static char *
fake_encap_format(unsigned mask, char *buf, size_t size)
{
    snprintf(buf, size, "encap-%u", mask);
    return buf;
}

static void
test_event_mode(void)
{
    struct event_base *base = event_base_new();
    struct bgp_mcast_ops o = ops;
    o.encap_format = fake_encap_format;
    struct bgp_mcast *mc = bgp_mcast_create(base, &o);
    n_recs = 0;
    add_agent(mc, "vn1", G1, S0, 1);
    add_agent(mc, "vn1", G1, S0, 2);
    CHECK(bgp_mcast_pending(mc));
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK(!bgp_mcast_pending(mc));
    CHECK_EQ_INT(n_recs, 2);
    CHECK(bgp_mcast_update_advertise(&(struct bgp_mcast_update) {
        .label = recs[0].label, .n_olist = recs[0].n_olist }));

    json_t *j = bgp_mcast_to_json(mc, "vn1");
    json_t *f = json_array_get(json_object_get(json_array_get(json_object_get(
        json_array_get(json_object_get(j, "instances"), 0), "entries"), 0), "forwarders"), 0);
    CHECK_CONTAINS(json_string_value(json_object_get(f, "encap")), "encap-");
    json_decref(j);

    /* Pending changes at destroy are dropped, the event with them. */
    add_agent(mc, "vn1", G1, S0, 3);
    bgp_mcast_destroy(mc);
    n_recs = 0;
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_EQ_INT(n_recs, 0);
    event_base_free(base);
}

/* A random run: after each flush, the last report of every forwarder equals its state, the
 * removed ones were reported gone, and the labelled forwarders form a tree of the right
 * shape.  With blocks of BLOCK_SIZE labels (fewer than the 4 trees an agent may join), a
 * forwarder is without a label only while every label of its block is in use. */
static void
test_random(uint32_t block_size)
{
    enum { N_AGENTS = 24, N_STEPS = 400 };
    struct bgp_mcast *mc = bgp_mcast_create(NULL, &ops);
    const char *insts[2] = { "vn1", "vn2" };
    const uint8_t *groups[2] = { G1, BCAST };
    bool member[2][2][N_AGENTS] = { { { false } } };
    bool reported[2][2][N_AGENTS] = { { { false } } };
    struct rec last[2][2][N_AGENTS];
    srand(12345);

    for (int step = 0; step < N_STEPS; step++) {
        int ops_this = 1 + rand() % 6;
        for (int k = 0; k < ops_this; k++) {
            int in = rand() % 2, gi = rand() % 2, id = rand() % N_AGENTS;
            char name[32];
            agent_name(id, name, sizeof name);
            int what = rand() % 10;
            if (what < 6) {
                add_agent_block(mc, insts[in], groups[gi], S0, id, block_size);
                member[in][gi][id] = true;
            } else if (what < 9) {
                int err = bgp_mcast_remove(mc, insts[in], groups[gi], S0, name);
                CHECK_EQ_INT(err, member[in][gi][id] ? 0 : ENOENT);
                member[in][gi][id] = false;
            } else {
                bgp_mcast_remove_agent(mc, name, NULL);
                for (int a = 0; a < 2; a++) {
                    for (int b = 0; b < 2; b++) {
                        member[a][b][id] = false;
                    }
                }
            }
        }
        n_recs = 0;
        bgp_mcast_flush(mc);
        for (size_t r = 0; r < n_recs; r++) {
            int in = !strcmp(recs[r].instance, "vn2");
            int gi = !memcmp(recs[r].group, BCAST, 4);
            int id = atoi(recs[r].agent + strlen("compute"));
            if (recs[r].gone) {
                CHECK(reported[in][gi][id]);
                reported[in][gi][id] = false;
            } else {
                reported[in][gi][id] = true;
                last[in][gi][id] = recs[r];
            }
        }
        uint32_t n_labelled[N_AGENTS] = { 0 }, n_without[N_AGENTS] = { 0 };
        for (int in = 0; in < 2; in++) {
            for (int gi = 0; gi < 2; gi++) {
                int ids[N_AGENTS];
                size_t n = 0;
                for (int id = 0; id < N_AGENTS; id++) {
                    char name[32];
                    agent_name(id, name, sizeof name);
                    uint32_t label;
                    struct bgp_mcast_olist_entry ol[BGP_MCAST_MAX_OLIST];
                    size_t n_ol;
                    int err = bgp_mcast_get(mc, insts[in], groups[gi], S0, name, &label, ol,
                                            &n_ol);
                    CHECK_EQ_INT(err, member[in][gi][id] ? 0 : ENOENT);
                    if (!member[in][gi][id]) {
                        CHECK(!reported[in][gi][id]);
                        continue;
                    }
                    if (!label) {
                        /* Never labelled: maybe never reported; else told it has none. */
                        n_without[id]++;
                        CHECK(!reported[in][gi][id] || last[in][gi][id].label == 0);
                        CHECK_EQ_INT(n_ol, 0);
                        continue;
                    }
                    n_labelled[id]++;
                    ids[n++] = id;
                    CHECK(reported[in][gi][id]);
                    const struct rec *lr = &last[in][gi][id];
                    CHECK_EQ_INT(lr->label, label);
                    CHECK_EQ_INT(lr->n_olist, n_ol);
                    CHECK(!memcmp(lr->olist, ol, n_ol * sizeof *ol));
                }
                if (n) {
                    check_tree(mc, insts[in], groups[gi], S0, ids, n);
                }
            }
        }
        for (int id = 0; id < N_AGENTS; id++) {
            CHECK(!n_without[id] || n_labelled[id] == block_size);
            if (n_without[id] && n_labelled[id] != block_size) {
                fprintf(stderr, "step %d: compute%02d waits with %u of %u labels in use\n",
                        step, id, n_labelled[id], block_size);
            }
        }
    }
    bgp_mcast_destroy(mc);
}

static void
count_live(const struct mem_type *t, void *aux)
{
    if (!strncmp(t->name, "bgp_mcast", 9)) {
        *(int64_t *) aux += t->live;
    }
}

int
main(void)
{
    test_shapes();
    test_removal();
    test_exhausted();
    test_labels_kept();
    test_attr_change();
    test_independent();
    test_broadcast();
    test_event_mode();
    test_random(2048);
    test_random(2);

    int64_t live = 0;
    mem_foreach(count_live, &live);
    CHECK_EQ_INT(live, 0);
    free(recs);
    return check_finish();
}
