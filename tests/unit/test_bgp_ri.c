/* Unit tests for control/bgp/bgp_ri: routing instances, replication into and out of the VPN
 * tables by route target (reference §3.5), ECMP replicas, route-target routes for
 * subscribed instances (§3.6), and instance deletion. */
#include "bgp_ri.h"

#include <arpa/inet.h>
#include <string.h>

#include "check.h"

#define RT(N) (UINT64_C(0x0002) << 48 | UINT64_C(64512) << 32 | (N))

static struct bgp_ri_mgr m;
static int n_changed;

static void
changed(struct bgp_ri *ri, struct bgp_table *t, struct bgp_route *r, void *aux)
{
    n_changed++;
}

static struct bgp_nlri
inet(const char *addr, uint8_t plen, uint32_t label)
{
    struct bgp_nlri n;
    memset(&n, 0, sizeof n);
    n.p.family = BGP_FAM_INET;
    n.p.plen = plen;
    CHECK(inet_pton(AF_INET, addr, n.p.addr) == 1);
    n.label = label;
    return n;
}

/* Attributes of an agent's path: next hop NH, source RD NH:ID. */
static void
agent_attrs(struct bgp_attrs *a, const char *nh, uint16_t id)
{
    memset(a, 0, sizeof *a);
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH)
        | BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF);
    a->local_pref = 100;
    a->nexthop.family = 4;
    CHECK(inet_pton(AF_INET, nh, a->nexthop.addr) == 1);
    a->source_rd[1] = 1;
    memcpy(a->source_rd + 2, a->nexthop.addr, 4);
    a->source_rd[6] = (uint8_t) (id >> 8);
    a->source_rd[7] = (uint8_t) id;
}

static struct bgp_route *
find(struct bgp_ri *ri, enum bgp_family f, const struct bgp_prefix *p)
{
    return bgp_table_find(ri->tables[f], p);
}

/* The VPN form of P with RD NH:ID. */
static struct bgp_prefix
vpn(const struct bgp_prefix *p, const char *nh, uint16_t id)
{
    struct bgp_prefix v = *p;
    v.family = BGP_FAM_INET_VPN;
    v.rd[1] = 1;
    CHECK(inet_pton(AF_INET, nh, v.rd + 2) == 1);
    v.rd[6] = (uint8_t) (id >> 8);
    v.rd[7] = (uint8_t) id;
    return v;
}

static bool
has_ec(const struct bgp_attrs *a, uint64_t ec)
{
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        if (a->ext_communities[i] == ec) {
            return true;
        }
    }
    return false;
}

static void
test_replication(void)
{
    bgp_ri_mgr_init(&m, 64512, 0x0a000001);
    struct bgp_ri_listener l = { .route_changed = changed };
    bgp_ri_mgr_add_listener(&m, &l);
    uint64_t rt1 = RT(1), rt2 = RT(2);
    struct bgp_ri *a = bgp_ri_locate(&m, "default-domain:p:vn1:vn1");
    struct bgp_ri *b = bgp_ri_locate(&m, "default-domain:p:vn2:vn2");
    CHECK(a != b && !a->master && m.master->master);
    CHECK(a->tables[BGP_FAM_INET] && !a->tables[BGP_FAM_INET_VPN]);
    CHECK_STREQ(a->tables[BGP_FAM_INET]->name, "default-domain:p:vn1:vn1.inet.0");
    CHECK_STREQ(m.master->tables[BGP_FAM_INET_VPN]->name, "bgp.l3vpn.0");
    bgp_ri_configure(&m, a, 1, "default-domain:p:vn1", &rt1, 1, &rt1, 1);
    bgp_ri_configure(&m, b, 2, "default-domain:p:vn2", &rt2, 1, &rt2, 1);
    bgp_ri_mgr_resync(&m);

    struct bgp_source agent1 = { .name = "agent1", .xmpp = true, .addr = 1 };
    struct bgp_source agent2 = { .name = "agent2", .xmpp = true, .addr = 2 };
    struct bgp_source peer = { .name = "gw", .router_id = 9 };
    struct bgp_attrs a1, a2;
    agent_attrs(&a1, "198.51.100.11", 3);
    agent_attrs(&a2, "198.51.100.12", 4);
    struct bgp_nlri n = inet("203.0.113.3", 32, 25);

    /* An agent's route in A goes to bgp.l3vpn.0 with A's target and origin VN, not to B. */
    bgp_table_update(a->tables[BGP_FAM_INET], &agent1, NULL, &n, &a1, 0);
    struct bgp_prefix v1 = vpn(&n.p, "198.51.100.11", 3);
    struct bgp_route *r = find(m.master, BGP_FAM_INET_VPN, &v1);
    CHECK(r && r->best && r->best->src == &agent1 && r->best->label == 25);
    CHECK(r && has_ec(r->best->attrs, rt1));
    CHECK(r && has_ec(r->best->attrs, bgp_ri_origin_vn(64512, 1)));
    CHECK(r && bgp_ri_attrs_origin_vn(r->best->attrs) == 1);
    CHECK(!find(b, BGP_FAM_INET, &n.p));
    CHECK_EQ_INT(m.n_replicated, 1);

    /* B starts importing target 1: the route is leaked into B; then stops. */
    uint64_t both[2] = { rt1, rt2 };
    bgp_ri_configure(&m, b, 2, "default-domain:p:vn2", both, 2, &rt2, 1);
    bgp_ri_mgr_resync(&m);
    r = find(b, BGP_FAM_INET, &n.p);
    CHECK(r && r->best && r->best->src == &agent1 && r->best->origin);
    CHECK(r && bgp_ri_attrs_origin_vn(r->best->attrs) == 1);
    CHECK_EQ_INT(m.n_replicated, 2);
    bgp_ri_configure(&m, b, 2, "default-domain:p:vn2", &rt2, 1, &rt2, 1);
    bgp_ri_mgr_resync(&m);
    CHECK(!find(b, BGP_FAM_INET, &n.p));
    CHECK_EQ_INT(m.n_replicated, 1);

    /* A second agent with the same prefix: ECMP, both go to the VPN table (distinct RDs). */
    bgp_table_update(a->tables[BGP_FAM_INET], &agent2, NULL, &n, &a2, 0);
    struct bgp_prefix v2 = vpn(&n.p, "198.51.100.12", 4);
    CHECK(find(m.master, BGP_FAM_INET_VPN, &v1) && find(m.master, BGP_FAM_INET_VPN, &v2));
    CHECK_EQ_INT(m.n_replicated, 2);
    /* A better path from agent 2 (local-pref) makes agent 1's path non-ECMP: its VPN copy
     * goes. */
    a2.local_pref = 200;
    bgp_table_update(a->tables[BGP_FAM_INET], &agent2, NULL, &n, &a2, 0);
    CHECK(!find(m.master, BGP_FAM_INET_VPN, &v1) && find(m.master, BGP_FAM_INET_VPN, &v2));
    a2.local_pref = 100;
    bgp_table_update(a->tables[BGP_FAM_INET], &agent2, NULL, &n, &a2, 0);
    CHECK(find(m.master, BGP_FAM_INET_VPN, &v1));

    /* A gateway's VPN route with target 2 lands in B only, in instance form. */
    struct bgp_nlri g = inet("203.0.113.64", 26, 100);
    struct bgp_prefix gv = vpn(&g.p, "198.51.100.1", 7);
    g.p = gv;
    struct bgp_attrs ga;
    agent_attrs(&ga, "198.51.100.1", 0);
    memset(ga.source_rd, 0, sizeof ga.source_rd);
    bgp_attrs_add_ext_community(&ga, rt2);
    bgp_table_update(m.master->tables[BGP_FAM_INET_VPN], &peer, NULL, &g, &ga, 0);
    struct bgp_prefix gi;
    bgp_ri_vrf_prefix(&gv, &gi);
    CHECK_EQ_INT(gi.family, BGP_FAM_INET);
    r = find(b, BGP_FAM_INET, &gi);
    CHECK(r && r->best && r->best->src == &peer && r->best->label == 100);
    CHECK(!find(a, BGP_FAM_INET, &gi));
    /* Replicas are not replicated again: B's copy does not come back into the VPN table
     * under another RD. */
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_INET_VPN]->routes), 3);

    /* Route-target routes follow subscriptions. */
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_RTARGET]->routes), 0);
    bgp_ri_subscribe(&m, a);
    bgp_ri_subscribe(&m, a);
    bgp_ri_subscribe(&m, b);
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_RTARGET]->routes), 2);
    bgp_ri_unsubscribe(&m, a);
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_RTARGET]->routes), 2);
    bgp_ri_unsubscribe(&m, a);
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_RTARGET]->routes), 1);

    /* Deleting B takes the gateway route's replica with it; deleting the agents' paths takes
     * their VPN copies. */
    bgp_ri_delete(&m, b);
    CHECK(bgp_ri_find(&m, "default-domain:p:vn2:vn2") == NULL);
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_RTARGET]->routes), 0);
    r = find(m.master, BGP_FAM_INET_VPN, &gv);
    CHECK(r && r->repl == NULL);
    CHECK_EQ_INT(bgp_table_withdraw_source(a->tables[BGP_FAM_INET], &agent1, false), 1);
    CHECK(!find(m.master, BGP_FAM_INET_VPN, &v1));
    bgp_table_withdraw(a->tables[BGP_FAM_INET], &agent2, NULL, &n.p);
    bgp_table_withdraw(m.master->tables[BGP_FAM_INET_VPN], &peer, NULL, &gv);
    CHECK_EQ_INT(m.n_replicated, 0);
    CHECK_EQ_INT(hmap_count(&m.master->tables[BGP_FAM_INET_VPN]->routes), 0);
    CHECK_EQ_INT(bgp_rib_attr_sets(&m.rib), 0);
    CHECK(n_changed > 0);

    bgp_attrs_clear(&a1);
    bgp_attrs_clear(&a2);
    bgp_attrs_clear(&ga);
    bgp_ri_mgr_destroy(&m);
}

/* Graceful restart marks: stale paths stay until swept. */
static void
test_stale(void)
{
    bgp_ri_mgr_init(&m, 64512, 0x0a000001);
    struct bgp_source peer = { .name = "gw", .router_id = 9 };
    struct bgp_nlri g = inet("203.0.113.64", 26, 100);
    g.p.family = BGP_FAM_INET_VPN;
    g.p.rd[1] = 7;
    struct bgp_attrs ga;
    agent_attrs(&ga, "198.51.100.1", 0);
    struct bgp_table *t = m.master->tables[BGP_FAM_INET_VPN];
    bgp_table_update(t, &peer, NULL, &g, &ga, 0);
    CHECK_EQ_INT(bgp_table_mark_stale(t, &peer), 1);
    CHECK(bgp_table_find(t, &g.p)->best->flags & BGP_PATH_STALE);
    bgp_table_update(t, &peer, NULL, &g, &ga, 0);     /* refreshed: no longer stale */
    CHECK(!(bgp_table_find(t, &g.p)->best->flags & BGP_PATH_STALE));
    CHECK_EQ_INT(bgp_table_withdraw_source(t, &peer, true), 0);
    bgp_table_mark_stale(t, &peer);
    CHECK_EQ_INT(bgp_table_withdraw_source(t, &peer, true), 1);
    CHECK(!bgp_table_find(t, &g.p));
    bgp_attrs_clear(&ga);
    bgp_ri_mgr_destroy(&m);
}

int
main(void)
{
    test_replication();
    test_stale();
    return check_finish();
}
