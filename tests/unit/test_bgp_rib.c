/* Unit tests for control/bgp/bgp_rib: best-path order (reference §3.7), the change hook, and
 * withdrawal of a whole source. */
#include "bgp_rib.h"

#include <stdlib.h>

#include "check.h"

static int n_changes;
static const struct bgp_path *last_best;

static void
changed(struct bgp_table *t, struct bgp_route *r, void *aux)
{
    n_changes++;
    last_best = r->best;
}

static struct bgp_nlri
vpn_nlri(const char *rd, uint8_t a, uint32_t label)
{
    struct bgp_nlri n;
    memset(&n, 0, sizeof n);
    n.p.family = BGP_FAM_INET_VPN;
    CHECK(bgp_rd_parse(rd, n.p.rd));
    n.p.plen = 24;
    n.p.addr[0] = 198;
    n.p.addr[1] = 51;
    n.p.addr[2] = a;
    n.label = label;
    return n;
}

static void
attrs(struct bgp_attrs *a, uint32_t lp, int aslen, uint8_t origin, uint32_t med)
{
    memset(a, 0, sizeof *a);
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH)
        | BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF) | BGP_ATTR_BIT(BGP_ATTR_MED);
    a->local_pref = lp;
    a->origin = origin;
    a->med = med;
    for (int i = 0; i < aslen; i++) {
        bgp_attrs_prepend_as(a, 64600);
    }
}

static void
test_order(void)
{
    struct bgp_source s1 = { .name = "a", .router_id = 1, .addr = 1 };
    struct bgp_source s2 = { .name = "b", .router_id = 2, .addr = 2 };
    struct bgp_source s3 = { .name = "c", .router_id = 3, .addr = 3, .ebgp = true };
    struct bgp_source local = { .name = "local", .local = true };
    struct bgp_attrs aa, ab;
    struct bgp_path a = { .src = &s1, .attrs = &aa }, b = { .src = &s2, .attrs = &ab };

    attrs(&aa, 200, 3, 2, 50);
    attrs(&ab, 100, 1, 0, 0);
    CHECK(bgp_path_compare(&a, &b) < 0);            /* local-pref first */
    bgp_attrs_clear(&aa);
    bgp_attrs_clear(&ab);

    attrs(&aa, 100, 1, 2, 50);
    attrs(&ab, 100, 2, 0, 0);
    CHECK(bgp_path_compare(&a, &b) < 0);            /* then AS path length */
    bgp_attrs_clear(&aa);
    bgp_attrs_clear(&ab);

    attrs(&aa, 100, 1, 0, 50);
    attrs(&ab, 100, 1, 1, 0);
    CHECK(bgp_path_compare(&a, &b) < 0);            /* then origin */
    bgp_attrs_clear(&aa);
    bgp_attrs_clear(&ab);

    attrs(&aa, 100, 1, 0, 5);
    attrs(&ab, 100, 1, 0, 50);
    CHECK(bgp_path_compare(&a, &b) < 0);            /* then MED, same neighbour AS */
    CHECK(bgp_path_compare(&b, &a) > 0);
    b.src = &local;
    CHECK(bgp_path_compare(&a, &b) < 0);            /* MED before locally originated */
    bgp_attrs_clear(&ab);
    attrs(&ab, 100, 1, 0, 5);
    CHECK(bgp_path_compare(&a, &b) > 0);            /* local wins a tie */
    b.src = &s3;
    CHECK(bgp_path_compare(&a, &b) > 0);            /* eBGP over iBGP */
    b.src = &s2;
    CHECK(bgp_path_compare(&a, &b) < 0);            /* lower router id */
    CHECK_EQ_INT(bgp_path_compare(&a, &a), 0);
    bgp_attrs_clear(&aa);
    bgp_attrs_clear(&ab);

    /* MAC mobility: the higher sequence number wins despite a longer path. */
    attrs(&aa, 100, 1, 0, 0);
    attrs(&ab, 100, 3, 0, 0);
    bgp_attrs_add_ext_community(&ab, (uint64_t) 0x0600 << 48 | 7);
    CHECK(bgp_path_compare(&b, &a) < 0);
    bgp_attrs_clear(&aa);
    bgp_attrs_clear(&ab);
}

static void
test_table(void)
{
    struct bgp_rib rib;
    bgp_rib_init(&rib, changed, NULL);
    struct bgp_table t;
    bgp_table_init(&t, &rib, BGP_FAM_INET_VPN, "bgp.l3vpn.0", NULL);
    struct bgp_source s1 = { .name = "a", .router_id = 1 };
    struct bgp_source s2 = { .name = "b", .router_id = 2 };
    struct bgp_nlri n = vpn_nlri("64512:1", 100, 16);
    struct bgp_attrs a1, a2;
    attrs(&a1, 100, 1, 0, 0);
    attrs(&a2, 200, 1, 0, 0);

    n_changes = 0;
    CHECK(bgp_table_update(&t, &s1, NULL, &n, &a1, 0));
    CHECK_EQ_INT(n_changes, 1);
    CHECK(last_best && last_best->src == &s1);
    CHECK(!bgp_table_update(&t, &s1, NULL, &n, &a1, 0));     /* the same again: nothing */
    CHECK_EQ_INT(n_changes, 1);
    CHECK(bgp_table_update(&t, &s2, NULL, &n, &a2, 0));      /* better path */
    CHECK_EQ_INT(n_changes, 2);
    CHECK(last_best && last_best->src == &s2);
    CHECK_EQ_INT(t.n_paths, 2);
    CHECK(!bgp_table_withdraw(&t, &s1, NULL, &n.p));      /* not the best: no change */
    CHECK_EQ_INT(n_changes, 2);
    CHECK(!bgp_table_update(&t, &s1, NULL, &n, &a1, 0));     /* back, but not best */
    n.label = 17;                                   /* label change of the best path */
    CHECK(bgp_table_update(&t, &s2, NULL, &n, &a2, 0));
    CHECK_EQ_INT(n_changes, 3);
    CHECK_EQ_INT(last_best->label, 17);

    struct bgp_nlri m = vpn_nlri("64512:2", 101, 5);
    bgp_table_update(&t, &s2, NULL, &m, &a2, 0);
    CHECK_EQ_INT(hmap_count(&t.routes), 2);
    n_changes = 0;
    CHECK_EQ_INT(bgp_table_withdraw_source(&t, &s2, false), 2);
    CHECK_EQ_INT(n_changes, 2);                     /* n falls back to s1, m goes */
    CHECK_EQ_INT(hmap_count(&t.routes), 1);
    struct bgp_route *r = bgp_table_find(&t, &n.p);
    CHECK(r && r->best && r->best->src == &s1);
    CHECK(bgp_table_find(&t, &m.p) == NULL);
    CHECK(bgp_table_withdraw(&t, &s1, NULL, &n.p));
    CHECK(last_best == NULL);
    CHECK_EQ_INT(hmap_count(&t.routes), 0);
    CHECK_EQ_INT(t.n_paths, 0);

    bgp_table_update(&t, &s1, NULL, &n, &a1, 0);             /* freed by destroy */
    CHECK_EQ_INT(bgp_rib_attr_sets(&rib), 1);
    bgp_attrs_clear(&a1);
    bgp_attrs_clear(&a2);
    bgp_table_destroy(&t);
    CHECK_EQ_INT(bgp_rib_attr_sets(&rib), 0);
    bgp_rib_destroy(&rib);
}

int
main(void)
{
    test_order();
    test_table();
    return check_finish();
}
