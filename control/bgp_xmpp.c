/* bgp_xmpp: vRouter agents as route peers of the control node.  See bgp_xmpp.h. */
#include "bgp_xmpp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bgp_mcast.h"
#include "http.h"
#include "introspect.h"
#include "json_util.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "xmpp_proto.h"
#include "xmpp_session.h"

LOG_MODULE(bgp_xmpp);

static MEM_TYPE(mem_xagent, "xmpp_agent");
static MEM_TYPE(mem_xsub, "xmpp_subscription");
static MEM_TYPE(mem_xpend, "xmpp_pending");

/* Routes wait in the pending set while more than this is queued for an agent. */
#define XMPP_OUT_HIGH_WATER (64 * 1024)

/* The XMPP families an instance has, with their tables. */
static const struct {
    enum bgp_family table;
    enum xmpp_family xfam;
} fams[] = {
    { BGP_FAM_INET, XMPP_FAM_INET },
    { BGP_FAM_INET6, XMPP_FAM_INET6 },
    { BGP_FAM_EVPN, XMPP_FAM_ENET },
};
#define N_FAMS (sizeof fams / sizeof *fams)

struct xagent {
    struct hmap_node node;          /* In bgp_xmpp.agents, by name. */
    struct bgp_xmpp *x;
    char *name;
    struct xmpp_session *sess;      /* NULL while down (kept for graceful restart). */
    struct bgp_source src;
    struct hmap subs;               /* struct xsub, by instance name. */
    struct hmap pending;            /* struct xpend: routes to send. */
    struct list dirty;              /* struct xsub with routes pending, served in turn. */
    struct event *flush_ev;
    struct event *eor_ev;           /* End-of-RIB to the agent after its first dumps. */
    struct event *gr_ev;            /* Restart time while its paths are stale. */
    bool eor_sent;
    bool stale;                     /* It has stale paths (restarting). */
    bool config_subscribed;
    bool closed_by_us;              /* We closed the session (no graceful restart). */
    bool blocked;                   /* Waiting for the output queue to drain. */
    time_t up_since;
    char remote[64];
    uint64_t rx_routes, tx_items, tx_retracts, ignored, flaps;
};

struct xsub {
    struct hmap_node node;          /* In xagent.subs. */
    struct list ri_node;            /* In the instance's subscriber list (struct xri). */
    struct xagent *a;
    char *vrf;
    struct bgp_ri *ri;              /* NULL once the instance was deleted. */
    uint32_t instance_id;
    bool no_ribout;
    bool stale;                     /* From before a restart; not subscribed again yet. */
    struct list pend[3];            /* struct xpend to send, per table (fams[]), in order. */
    struct list dirty_node;         /* In xagent.dirty while anything is pending. */
    bool dirty;
};

/* Per-instance state: its subscribers. */
struct xri {
    struct list subs;
};

/* A route of a subscribed instance to send to the agent. */
struct xpend {
    struct hmap_node node;          /* In xagent.pending (no route twice). */
    struct list list_node;          /* In its subscription's list for the table. */
    struct xsub *sub;
    struct bgp_table *t;
    struct bgp_route *r;            /* Held (bgp_table_hold) while pending. */
};

/* --- Helpers ----------------------------------------------------------------------------- */

static struct xagent *
agent_find(const struct bgp_xmpp *x, const char *name)
{
    struct xagent *a;
    HMAP_FOR_EACH_WITH_HASH (a, node, hash_string(name, 0), &x->agents) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static struct xsub *
sub_find(const struct xagent *a, const char *vrf)
{
    struct xsub *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_string(vrf, 0), &a->subs) {
        if (!strcmp(s->vrf, vrf)) {
            return s;
        }
    }
    return NULL;
}

static struct xri *
xri_of(struct bgp_ri *ri)
{
    if (!ri->user) {
        struct xri *r = mem_zalloc(&mem_xsub, sizeof *r);
        list_init(&r->subs);
        ri->user = r;
    }
    return ri->user;
}

static int
table_index(enum bgp_family f)
{
    for (size_t i = 0; i < N_FAMS; i++) {
        if (fams[i].table == f) {
            return (int) i;
        }
    }
    return -1;
}

/* Extended community values. */
#define EC_ENCAP(T) (UINT64_C(0x030c) << 48 | (T))
static const struct {
    unsigned bit;
    uint16_t code;
} encaps[] = {
    { XMPP_ENCAP_GRE, 2 }, { XMPP_ENCAP_UDP, 13 }, { XMPP_ENCAP_VXLAN, 8 },
    { XMPP_ENCAP_NATIVE, 16 }, { XMPP_ENCAP_MPLS, 10 },
};

static const struct {
    const char *name;
    uint32_t value;
} well_known[] = {
    { "no-export", 0xffffff01 }, { "no-advertise", 0xffffff02 },
    { "no-export-subconfed", 0xffffff03 }, { "accept-own", 0xffff0001 },
    { "no-reoriginate", 0xffff0000 }, { "llgr-stale", 0xffff0006 }, { "no-llgr", 0xffff0007 },
};

static bool
community_parse(const char *s, uint32_t *c)
{
    for (size_t i = 0; i < sizeof well_known / sizeof *well_known; i++) {
        if (!strcmp(s, well_known[i].name)) {
            *c = well_known[i].value;
            return true;
        }
    }
    unsigned a, b;
    char extra;
    if (sscanf(s, "%u:%u%c", &a, &b, &extra) == 2 && a <= 0xffff && b <= 0xffff) {
        *c = a << 16 | b;
        return true;
    }
    return false;
}

static void
community_format(uint32_t c, char *buf, size_t size)
{
    for (size_t i = 0; i < sizeof well_known / sizeof *well_known; i++) {
        if (well_known[i].value == c) {
            snprintf(buf, size, "%s", well_known[i].name);
            return;
        }
    }
    snprintf(buf, size, "%u:%u", c >> 16, c & 0xffff);
}

/* --- Agent -> tables --------------------------------------------------------------------- */

/* The table key of an agent's route R (instance form: no RD). */
static bool
route_prefix(const struct xmpp_route *r, struct bgp_prefix *p)
{
    memset(p, 0, sizeof *p);
    switch (r->family) {
    case XMPP_FAM_INET:
    case XMPP_FAM_INET6:
        p->family = r->family == XMPP_FAM_INET ? BGP_FAM_INET : BGP_FAM_INET6;
        p->plen = r->plen;
        memcpy(p->addr, r->addr, r->family == XMPP_FAM_INET ? 4 : 16);
        return true;
    case XMPP_FAM_ENET:
        p->family = BGP_FAM_EVPN;
        p->evpn_type = 2;
        memcpy(p->mac, r->mac, 6);
        p->etag = r->etag;
        if (r->ip_family == 4 || r->ip_family == 6) {
            p->ip_len = r->ip_family == 4 ? 32 : 128;
            memcpy(p->addr, r->addr, r->ip_family == 4 ? 4 : 16);
        }
        return true;
    default:
        return false;
    }
}

/* Builds the path attributes of agent route R published in subscription S.  Returns false
 * (with a reason) when the route is not acceptable. */
static bool
route_attrs(const struct xsub *s, const struct xmpp_route *r, struct bgp_nlri *n,
            struct bgp_attrs *a, uint8_t *flags, const char **why)
{
    memset(a, 0, sizeof *a);
    *flags = 0;
    if (r->n_nh != 1) {
        *why = r->n_nh ? "more than one next hop" : "no next hop";
        return false;
    }
    const struct xmpp_nexthop *nh = &r->nh[0];
    if (r->family != XMPP_FAM_ENET && nh->label == 0) {
        *why = "label 0";
        return false;
    }
    if (nh->label > 0xffffff) {
        *why = "label over 24 bits";
        return false;
    }
    n->label = nh->label;
    if (r->family == XMPP_FAM_ENET && nh->l3_label) {
        n->label2 = nh->l3_label;
        n->has_label2 = true;
    }
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH)
        | BGP_ATTR_BIT(BGP_ATTR_NEXT_HOP) | BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)
        | BGP_ATTR_BIT(BGP_ATTR_MED);
    a->origin = 0;
    a->nexthop.family = nh->family;
    memcpy(a->nexthop.addr, nh->addr, nh->family == 6 ? 16 : 4);
    a->local_pref = r->local_pref ? r->local_pref : 100;
    if (r->med) {
        a->med = r->med;
    } else if (a->local_pref == 100) {
        a->med = 200;
    } else if (a->local_pref == 200) {
        a->med = 100;
    } else {
        a->med = 0xffffffffu - a->local_pref;
    }
    /* Source RD: agent address (IPv4) : instance-id, type 1. */
    if (nh->family == 4) {
        a->source_rd[1] = 1;
        memcpy(a->source_rd + 2, nh->addr, 4);
        a->source_rd[6] = (uint8_t) (s->instance_id >> 8);
        a->source_rd[7] = (uint8_t) s->instance_id;
    }
    unsigned encap = nh->encap;
    if (!encap && !nh->n_unknown_encap && nh->label) {
        encap = XMPP_ENCAP_GRE;     /* A label without encapsulations: GRE implied. */
    }
    for (size_t i = 0; i < sizeof encaps / sizeof *encaps; i++) {
        if (encap & encaps[i].bit) {
            bgp_attrs_add_ext_community(a, EC_ENCAP(encaps[i].code));
        }
    }
    if (!encap) {
        *flags |= BGP_PATH_INFEASIBLE;
    }
    if (nh->has_mac) {
        uint64_t ec = UINT64_C(0x0603) << 48;
        for (int i = 0; i < 6; i++) {
            ec |= (uint64_t) nh->mac[i] << (40 - 8 * i);
        }
        bgp_attrs_add_ext_community(a, ec);
    }
    uint32_t asn = s->a->x->mgr->asn;
    for (size_t i = 0; i < r->n_sgs; i++) {
        bgp_attrs_add_ext_community(a, UINT64_C(0x8004) << 48 | (uint64_t) (asn & 0xffff) << 32
                                    | r->sgs[i]);
    }
    for (size_t i = 0; i < nh->n_tags; i++) {
        bgp_attrs_add_ext_community(a, UINT64_C(0x8084) << 48 | (uint64_t) (asn & 0xffff) << 32
                                    | nh->tags[i]);
    }
    if (r->has_mobility || r->seq) {
        uint32_t seq = r->has_mobility ? r->mobility_seq : r->seq;
        bgp_attrs_add_ext_community(a, UINT64_C(0x0600) << 48
                                    | (uint64_t) (r->sticky ? 1 : 0) << 40 | seq);
    }
    for (size_t i = 0; i < r->n_communities; i++) {
        uint32_t c;
        if (community_parse(r->communities[i], &c)) {
            bgp_attrs_add_community(a, c);
        }
    }
    if (a->n_communities) {
        a->present |= BGP_ATTR_BIT(BGP_ATTR_COMMUNITIES);
    }
    if (a->n_ext_communities) {
        a->present |= BGP_ATTR_BIT(BGP_ATTR_EXT_COMMUNITIES);
    }
    return true;
}

static void agent_close(struct xagent *, const char *reason);

/* Binds subscription S to its instance (again, when the configuration deleted the instance
 * and the agent goes on publishing: the instance comes back, unconfigured until the
 * configuration says otherwise). */
static void
sub_bind(struct xsub *s)
{
    if (s->ri) {
        return;
    }
    s->ri = bgp_ri_locate(s->a->x->mgr, s->vrf);
    list_push_back(&xri_of(s->ri)->subs, &s->ri_node);
    bgp_ri_subscribe(s->a->x->mgr, s->ri);
}

static void
publish(struct xagent *a, const struct xmpp_event *ev, bool add)
{
    struct bgp_xmpp *x = a->x;
    const struct xmpp_route *r = &ev->routes[0];
    struct xsub *s = r->vrf ? sub_find(a, r->vrf) : NULL;
    if (!s || s->stale) {
        agent_close(a, "publish to an instance not subscribed");
        return;
    }
    x->n_rx_routes++;
    a->rx_routes++;
    if (r->family == XMPP_FAM_MCAST) {
        int rc = 0;
        if (!add) {
            bgp_mcast_remove(x->mcast, s->vrf, r->group, r->source, a->name);
        } else if (r->n_nh != 1 || r->nh[0].family != 4) {
            rc = EINVAL;
        } else {
            const struct xmpp_nexthop *nh = &r->nh[0];
            rc = bgp_mcast_add(x->mcast, s->vrf, r->group, r->source, a->name, nh->addr,
                               nh->label, nh->label_last,
                               nh->encap ? nh->encap : XMPP_ENCAP_GRE);
        }
        if (rc) {
            LOG_WARN("agent %s: multicast route %s in %s ignored", a->name, r->key, s->vrf);
            a->ignored++;
            x->n_ignored_routes++;
        }
        return;
    }
    struct bgp_nlri n = { 0 };
    if (!route_prefix(r, &n.p) || !s->ri) {
        a->ignored++;
        x->n_ignored_routes++;
        return;
    }
    struct bgp_table *t = s->ri->tables[n.p.family];
    if (!add) {
        bgp_table_withdraw(t, &a->src, NULL, &n.p);
        return;
    }
    struct bgp_attrs attrs;
    uint8_t flags;
    const char *why = NULL;
    if (!route_attrs(s, r, &n, &attrs, &flags, &why)) {
        LOG_WARN("agent %s: route %s in %s ignored: %s", a->name, r->key, s->vrf, why);
        a->ignored++;
        x->n_ignored_routes++;
        bgp_attrs_clear(&attrs);
        return;
    }
    if (!a->src.addr && attrs.nexthop.family == 4) {
        memcpy(&a->src.addr, attrs.nexthop.addr, 4);
        a->src.addr = ntohl(a->src.addr);
        a->src.router_id = a->src.addr;
    }
    bgp_table_update(t, &a->src, NULL, &n, &attrs, flags);
    bgp_attrs_clear(&attrs);
}

/* --- Tables -> agent --------------------------------------------------------------------- */

static uint32_t
pend_hash(const struct xsub *s, const struct bgp_route *r)
{
    uintptr_t k[2] = { (uintptr_t) s, (uintptr_t) r };
    return hash_bytes(k, sizeof k, 0);
}

static void
pend_add(struct xagent *a, struct xsub *s, struct bgp_table *t, struct bgp_route *r)
{
    uint32_t h = pend_hash(s, r);
    struct xpend *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, h, &a->pending) {
        if (e->sub == s && e->r == r) {
            return;             /* Already waiting: it is sent as the route is then. */
        }
    }
    int k = table_index(t->family);
    if (k < 0) {
        return;
    }
    e = mem_zalloc(&mem_xpend, sizeof *e);
    e->sub = s;
    e->t = t;
    e->r = r;
    bgp_table_hold(r);
    hmap_insert(&a->pending, &e->node, h);
    list_push_back(&s->pend[k], &e->list_node);
    if (!s->dirty) {
        s->dirty = true;
        list_push_back(&a->dirty, &s->dirty_node);
    }
    if (!a->blocked) {
        event_active(a->flush_ev, 0, 0);
    }
}

static void
pend_free(struct xagent *a, struct xpend *e)
{
    hmap_remove(&a->pending, &e->node);
    list_remove(&e->list_node);
    bgp_table_release(e->t, e->r);
    mem_free(&mem_xpend, e);
}

/* Forgets what is pending for subscription S. */
static void
pend_drop_one(struct xagent *a, struct xsub *s)
{
    for (size_t k = 0; k < N_FAMS; k++) {
        while (!list_is_empty(&s->pend[k])) {
            pend_free(a, CONTAINER_OF(s->pend[k].next, struct xpend, list_node));
        }
    }
    if (s->dirty) {
        list_remove(&s->dirty_node);
        s->dirty = false;
    }
}

/* Forgets what is pending for S, or for every subscription of A (S NULL). */
static void
pend_drop_sub(struct xagent *a, struct xsub *s)
{
    if (s) {
        pend_drop_one(a, s);
        return;
    }
    struct xsub *t;
    HMAP_FOR_EACH (t, node, &a->subs) {
        pend_drop_one(a, t);
    }
}

/* The virtual network name of VN index IDX (from the instances' configuration). */
static const char *
vn_name(const struct bgp_ri_mgr *m, uint32_t idx)
{
    if (!idx) {
        return NULL;
    }
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &m->instances) {
        if (ri->vn_index == idx && ri->vn_name) {
            return ri->vn_name;
        }
    }
    return NULL;
}

static void
add_nexthop(struct bgp_xmpp *x, struct xmpp_route *xr, const struct bgp_path *p,
            const struct bgp_ri *ri)
{
    const struct bgp_attrs *a = p->attrs;
    if (!a->nexthop.family) {
        return;
    }
    struct xmpp_nexthop *nh = xmpp_route_add_nexthop(xr);
    char text[INET6_ADDRSTRLEN];
    inet_ntop(a->nexthop.family == 6 ? AF_INET6 : AF_INET, a->nexthop.addr, text, sizeof text);
    xmpp_nexthop_set_address(nh, text);
    nh->label = p->label;
    nh->label_last = p->label;
    if (p->has_label2) {
        nh->l3_label = p->label2;
    }
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        uint64_t ec = a->ext_communities[i];
        if ((ec >> 48) == 0x030c) {
            for (size_t k = 0; k < sizeof encaps / sizeof *encaps; k++) {
                if ((uint16_t) ec == encaps[k].code) {
                    nh->encap |= encaps[k].bit;
                }
            }
        } else if ((ec >> 48) == 0x0603) {
            nh->has_mac = true;
            for (int k = 0; k < 6; k++) {
                nh->mac[k] = (uint8_t) (ec >> (40 - 8 * k));
            }
        } else if ((ec >> 48) == 0x8084) {
            xmpp_nexthop_add_tag(nh, (uint32_t) ec);
        }
    }
    const char *vn = vn_name(x->mgr, bgp_ri_attrs_origin_vn(a));
    if (!vn && !p->origin) {
        vn = ri->vn_name;       /* The instance's own path: not tagged yet. */
    }
    xmpp_nexthop_set_vn(nh, vn ? vn : "unresolved");
}

/* Fills XR with route R of table T of instance RI as an agent sees it.  Returns false when
 * there is nothing to send (no usable path: a retract). */
static bool
build_item(struct bgp_xmpp *x, const struct bgp_ri *ri, const struct bgp_table *t,
           const struct bgp_route *r, struct xmpp_route *xr)
{
    memset(xr, 0, sizeof *xr);
    int k = table_index(t->family);
    xr->family = fams[k < 0 ? 0 : k].xfam;
    if (t->family == BGP_FAM_EVPN) {
        memcpy(xr->mac, r->p.mac, 6);
        xr->etag = r->p.etag;
        xr->ip_family = r->p.ip_len == 32 ? 4 : r->p.ip_len == 128 ? 6 : 0;
        memcpy(xr->addr, r->p.addr, 16);
        xr->plen = r->p.ip_len;
    } else {
        xr->ip_family = t->family == BGP_FAM_INET ? 4 : 6;
        memcpy(xr->addr, r->p.addr, 16);
        xr->plen = r->p.plen;
    }
    xmpp_route_format_key(xr);
    const struct bgp_path *best = r ? r->best : NULL;
    if (!best || (best->flags & BGP_PATH_INFEASIBLE)) {
        return false;
    }
    for (const struct bgp_path *p = r->paths; p; p = p->next) {
        if (p == best || (!(p->flags & BGP_PATH_INFEASIBLE) && bgp_path_ecmp(p, best))) {
            add_nexthop(x, xr, p, ri);
        }
    }
    const struct bgp_attrs *a = best->attrs;
    xr->local_pref = (a->present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)) ? a->local_pref : 100;
    xr->med = a->med;
    const char *vn = vn_name(x->mgr, bgp_ri_attrs_origin_vn(a));
    if (!vn && !best->origin) {
        vn = ri->vn_name;
    }
    xmpp_route_set_vn(xr, vn ? vn : "unresolved");
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        uint64_t ec = a->ext_communities[i];
        if ((ec >> 48) == 0x8004) {
            xmpp_route_add_sg(xr, (uint32_t) ec);
        } else if ((ec >> 48) == 0x0600) {
            xr->has_mobility = true;
            xr->mobility_seq = (uint32_t) ec;
            xr->sticky = (ec >> 40) & 1;
            xr->seq = xr->mobility_seq;
        }
    }
    for (size_t i = 0; i < a->n_communities; i++) {
        char c[32];
        community_format(a->communities[i], c, sizeof c);
        xmpp_route_add_community(xr, c);
    }
    return xr->n_nh > 0;
}

/* --- Encoded items, shared by the agents --------------------------------------------------- */

/* The <item> (or retract) of a route of an instance table as agents are sent it.  Every
 * subscriber of the instance gets the same bytes: they are made once per route change
 * (route_changed drops the entry) and copied to each agent's message. */
struct xcache {
    struct hmap_node node;
    const struct bgp_table *t;
    struct bgp_prefix p;
    bool reach;                 /* An item; else a retract. */
    size_t len;
    char data[];                /* The <item> element, or the retract key (NUL-terminated). */
};

static uint32_t
cache_hash(const struct bgp_table *t, const struct bgp_prefix *p)
{
    return hash_bytes(p, sizeof *p, (uint32_t) (uintptr_t) t);
}

static struct xcache *
cache_find(const struct bgp_xmpp *x, const struct bgp_table *t, const struct bgp_prefix *p)
{
    struct xcache *c;
    HMAP_FOR_EACH_WITH_HASH (c, node, cache_hash(t, p), &x->cache) {
        if (c->t == t && !memcmp(&c->p, p, sizeof *p)) {
            return c;
        }
    }
    return NULL;
}

static void
cache_drop(struct bgp_xmpp *x, const struct bgp_table *t, const struct bgp_prefix *p)
{
    struct xcache *c = cache_find(x, t, p);
    if (c) {
        hmap_remove(&x->cache, &c->node);
        mem_free(&mem_xpend, c);
    }
}

/* Drops every entry (T NULL) or those of table T. */
static void
cache_clear(struct bgp_xmpp *x, const struct bgp_table *t)
{
    struct xcache *c;
    HMAP_FOR_EACH_SAFE (c, node, &x->cache) {
        if (!t || c->t == t) {
            hmap_remove(&x->cache, &c->node);
            mem_free(&mem_xpend, c);
        }
    }
}

/* The encoded form of the route at P in table T of instance RI.  A retract is the caller's
 * to free (mem_free(&mem_xpend, ...)); an item belongs to the cache. */
static struct xcache *
cache_get(struct bgp_xmpp *x, const struct bgp_ri *ri, const struct bgp_table *t,
          const struct bgp_prefix *p)
{
    struct xcache *c = cache_find(x, t, p);
    if (c) {
        return c;
    }
    struct bgp_route *r = bgp_table_find(t, p);
    struct bgp_route dead = { .p = *p };
    struct xmpp_route item;
    bool reach = build_item(x, ri, t, r ? r : &dead, &item);
    struct evbuffer *b = evbuffer_new();
    if (reach) {
        xmpp_encode_item(b, &item);
    } else {
        evbuffer_add(b, item.key, strlen(item.key));
    }
    size_t len = evbuffer_get_length(b);
    c = mem_zalloc(&mem_xpend, sizeof *c + len + 1);
    c->t = t;
    c->p = *p;
    c->reach = reach;
    c->len = len;
    evbuffer_remove(b, c->data, len);
    evbuffer_free(b);
    xmpp_route_clear(&item);
    if (reach) {
        hmap_insert(&x->cache, &c->node, cache_hash(t, p));
    }
    /* A retract is not kept (the caller frees it): deleted prefixes leave nothing behind. */
    return c;
}

/* Sends the pending routes of one (subscription, table) group: at most XMPP_MAX_REACH. */
static void
flush_group(struct xagent *a, struct xsub *s, struct bgp_table *t, struct xpend **v, size_t n)
{
    struct bgp_xmpp *x = a->x;
    struct evbuffer *out = a->sess ? xmpp_session_output(a->sess) : NULL;
    if (!out || !s->ri) {
        return;
    }
    int k = table_index(t->family);
    enum xmpp_family xf = fams[k < 0 ? 0 : k].xfam;
    struct xcache *items[XMPP_MAX_REACH];
    size_t n_reach = 0, n_unreach = 0;
    for (size_t i = 0; i < n && i < XMPP_MAX_REACH; i++) {
        items[i] = cache_get(x, s->ri, t, &v[i]->r->p);
    }
    n = n < XMPP_MAX_REACH ? n : XMPP_MAX_REACH;
    for (int pass = 0; pass < 2; pass++) {
        bool want_reach = pass == 0;
        bool head = false;
        for (size_t i = 0; i < n; i++) {
            if (items[i]->reach != want_reach) {
                continue;
            }
            if (!head) {
                xmpp_encode_items_head(out, a->name, xf, s->vrf);
                head = true;
            }
            if (want_reach) {
                evbuffer_add(out, items[i]->data, items[i]->len);
                n_reach++;
            } else {
                xmpp_encode_retract(out, items[i]->data);
                n_unreach++;
            }
        }
        if (head) {
            xmpp_encode_items_tail(out);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (!items[i]->reach) {
            mem_free(&mem_xpend, items[i]);
        }
    }
    a->tx_items += n_reach;
    a->tx_retracts += n_unreach;
    x->n_tx_items += n_reach;
    x->n_tx_retracts += n_unreach;
}

/* Sends what is pending, a message per subscription and table in turn, while the agent's
 * output queue is short; the rest waits for the queue to drain (on_drained). */
static void
flush_cb(evutil_socket_t fd, short what, void *aux)
{
    struct xagent *a = aux;
    while (!list_is_empty(&a->dirty)) {
        if (a->sess && xmpp_session_queued(a->sess) > XMPP_OUT_HIGH_WATER) {
            a->blocked = true;
            return;
        }
        struct xsub *s = CONTAINER_OF(a->dirty.next, struct xsub, dirty_node);
        bool more = false;
        for (size_t k = 0; k < N_FAMS; k++) {
            struct xpend *v[XMPP_MAX_REACH];
            size_t n = 0;
            while (n < XMPP_MAX_REACH && !list_is_empty(&s->pend[k])) {
                v[n++] = CONTAINER_OF(s->pend[k].next, struct xpend, list_node);
                list_remove(&v[n - 1]->list_node);
                list_init(&v[n - 1]->list_node);
            }
            if (n && s->ri) {
                flush_group(a, s, s->ri->tables[fams[k].table], v, n);
            }
            for (size_t i = 0; i < n; i++) {
                pend_free(a, v[i]);
            }
            more |= !list_is_empty(&s->pend[k]);
        }
        list_remove(&s->dirty_node);
        if (more) {
            list_push_back(&a->dirty, &s->dirty_node);     /* Its turn again later. */
        } else {
            s->dirty = false;
        }
    }
}

static void
on_drained(struct xmpp_session *sess, void *aux)
{
    struct xagent *a = xmpp_session_user(sess);
    if (a && a->blocked) {
        a->blocked = false;
        event_active(a->flush_ev, 0, 0);
    }
}

static void
route_changed(struct bgp_ri *ri, struct bgp_table *t, struct bgp_route *r, void *aux)
{
    if (ri->master || !ri->user || table_index(t->family) < 0) {
        return;
    }
    struct bgp_xmpp *x = aux;
    cache_drop(x, t, &r->p);
    struct xri *xr = ri->user;
    struct xsub *s;
    LIST_FOR_EACH (s, ri_node, &xr->subs) {
        if (!s->no_ribout && !s->stale && s->a->sess) {
            pend_add(s->a, s, t, r);
        }
    }
}

static void
ri_deleted(struct bgp_ri *ri, void *aux)
{
    struct bgp_xmpp *x = aux;
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (ri->tables[f]) {
            cache_clear(x, ri->tables[f]);
        }
    }
    struct xri *xr = ri->user;
    if (!xr) {
        return;
    }
    struct xsub *s;
    LIST_FOR_EACH_SAFE (s, ri_node, &xr->subs) {
        pend_drop_sub(s->a, s);
        list_remove(&s->ri_node);
        list_init(&s->ri_node);
        s->ri = NULL;
    }
    mem_free(&mem_xsub, xr);
    ri->user = NULL;
}

/* The names agents are sent (virtual-network, from the origin VN index) may have changed:
 * items are encoded again. */
static void
ri_vn_changed(struct bgp_ri *ri, void *aux)
{
    cache_clear(aux, NULL);
}

/* Queues every route of the instance for the agent (initial dump). */
static void
dump_sub(struct xsub *s)
{
    if (s->no_ribout || !s->ri) {
        return;
    }
    for (size_t i = 0; i < N_FAMS; i++) {
        struct bgp_table *t = s->ri->tables[fams[i].table];
        struct bgp_route *r;
        if (t) {
            BGP_TABLE_FOR_EACH (r, t) {
                if (r->best) {
                    pend_add(s->a, s, t, r);
                }
            }
        }
    }
}

/* --- Subscriptions ----------------------------------------------------------------------- */

static void
withdraw_sub(struct xsub *s, bool only_stale)
{
    if (!s->ri) {
        return;
    }
    for (size_t i = 0; i < N_FAMS; i++) {
        struct bgp_table *t = s->ri->tables[fams[i].table];
        if (t) {
            bgp_table_withdraw_source(t, &s->a->src, only_stale);
        }
    }
}

static void
sub_free(struct xsub *s)
{
    struct xagent *a = s->a;
    /* Out of the instance's subscribers first: the withdrawals below must not queue
     * anything for this subscription. */
    if (s->ri) {
        list_remove(&s->ri_node);
        list_init(&s->ri_node);
    }
    withdraw_sub(s, false);
    pend_drop_sub(a, s);
    bgp_mcast_remove_agent(a->x->mcast, a->name, s->vrf);
    if (s->ri) {
        bgp_ri_unsubscribe(a->x->mgr, s->ri);
    }
    hmap_remove(&a->subs, &s->node);
    mem_free(&mem_xsub, s->vrf);
    mem_free(&mem_xsub, s);
}

static void
eor_cb(evutil_socket_t fd, short what, void *aux)
{
    struct xagent *a = aux;
    struct evbuffer *out = a->sess ? xmpp_session_output(a->sess) : NULL;
    if (out && !a->eor_sent) {
        flush_cb(-1, 0, a);
        if (!list_is_empty(&a->dirty)) {
            /* The dump is still waiting for the agent to read: End-of-RIB after it. */
            struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
            evtimer_add(a->eor_ev, &tv);
            return;
        }
        xmpp_encode_eor(out, XMPP_CONTROL_JID, a->name);
        a->eor_sent = true;
    }
}

static void
subscribe(struct xagent *a, const struct xmpp_event *ev)
{
    struct bgp_xmpp *x = a->x;
    struct xsub *s = sub_find(a, ev->node);
    if (s && !s->stale) {
        agent_close(a, "duplicate subscribe");
        return;
    }
    if (s) {
        /* Back after a restart: the subscription lives on, its paths stay stale until
         * End-of-RIB. */
        s->stale = false;
        s->instance_id = ev->instance_id;
        s->no_ribout = ev->no_ribout;
    } else {
        s = mem_zalloc(&mem_xsub, sizeof *s);
        s->a = a;
        s->vrf = mem_strdup(&mem_xsub, ev->node);
        s->instance_id = ev->instance_id;
        s->no_ribout = ev->no_ribout;
        list_init(&s->ri_node);
        for (size_t k = 0; k < N_FAMS; k++) {
            list_init(&s->pend[k]);
        }
        hmap_insert(&a->subs, &s->node, hash_string(s->vrf, 0));
        sub_bind(s);
    }
    sub_bind(s);
    dump_sub(s);
    if (!a->eor_sent) {
        struct timeval tv = { .tv_sec = x->cfg.eor_delay_ms / 1000,
                              .tv_usec = (x->cfg.eor_delay_ms % 1000) * 1000 };
        evtimer_add(a->eor_ev, &tv);
    }
}

static void
unsubscribe(struct xagent *a, const struct xmpp_event *ev)
{
    struct xsub *s = sub_find(a, ev->node);
    if (!s || s->stale) {
        agent_close(a, "unsubscribe from an instance not subscribed");
        return;
    }
    sub_free(s);
}

/* Removes stale paths and stale subscriptions (End-of-RIB, or the restart time ended). */
static void
sweep(struct xagent *a)
{
    struct xsub *s;
    size_t n = 0;
    HMAP_FOR_EACH_SAFE (s, node, &a->subs) {
        if (s->stale) {
            sub_free(s);
            n++;
        } else {
            withdraw_sub(s, true);
        }
    }
    a->stale = false;
    evtimer_del(a->gr_ev);
    LOG_INFO("agent %s: stale paths swept (%zu subscriptions not renewed)", a->name, n);
}

/* --- Sessions ---------------------------------------------------------------------------- */

static void
agent_free(struct xagent *a)
{
    struct xsub *s;
    HMAP_FOR_EACH_SAFE (s, node, &a->subs) {
        sub_free(s);
    }
    pend_drop_sub(a, NULL);
    hmap_destroy(&a->subs);
    hmap_destroy(&a->pending);
    event_free(a->flush_ev);
    event_free(a->eor_ev);
    event_free(a->gr_ev);
    hmap_remove(&a->x->agents, &a->node);
    mem_free(&mem_xagent, a->name);
    mem_free(&mem_xagent, a);
}

static void
gr_timeout(evutil_socket_t fd, short what, void *aux)
{
    struct xagent *a = aux;
    LOG_INFO("agent %s: restart time over", a->name);
    if (!a->sess) {
        agent_free(a);
    } else {
        sweep(a);
    }
}

static void
agent_close(struct xagent *a, const char *reason)
{
    a->x->n_closed_policy++;
    LOG_WARN("agent %s: closing the session: %s", a->name, reason);
    a->closed_by_us = true;
    if (a->sess) {
        xmpp_session_close(a->sess, "policy-violation", reason);
    }
}

static const char *
on_open(struct xmpp_session *sess, const struct xmpp_open *open, void *aux)
{
    struct bgp_xmpp *x = aux;
    const char *want = x->cfg.subcluster ? x->cfg.subcluster : "";
    const char *have = open->subcluster ? open->subcluster : "";
    if (x->cfg.subcluster && strcmp(want, have)) {
        LOG_WARN("agent %s refused: subcluster mismatch ('%s', not '%s')",
                 open->from ? open->from : "?", have, want);
        return "invalid-namespace";
    }
    if (!open->from || !*open->from) {
        return "improper-addressing";
    }
    return NULL;
}

static void
on_up(struct xmpp_session *sess, void *aux)
{
    struct bgp_xmpp *x = aux;
    const char *name = xmpp_session_peer_name(sess);
    struct xagent *a = agent_find(x, name);
    if (a && a->sess) {
        /* The same agent again on a new connection: the old one is gone. */
        xmpp_session_set_user(a->sess, NULL);
        xmpp_session_close(a->sess, "conflict", "replaced by a new connection");
        a->sess = NULL;
    }
    if (!a) {
        a = mem_zalloc(&mem_xagent, sizeof *a);
        a->x = x;
        a->name = mem_strdup(&mem_xagent, name);
        a->src.name = a->name;
        a->src.xmpp = true;
        hmap_init(&a->subs);
        hmap_init(&a->pending);
        list_init(&a->dirty);
        a->flush_ev = event_new(x->base, -1, 0, flush_cb, a);
        a->eor_ev = evtimer_new(x->base, eor_cb, a);
        a->gr_ev = evtimer_new(x->base, gr_timeout, a);
        hmap_insert(&x->agents, &a->node, hash_string(a->name, 0));
    }
    a->sess = sess;
    a->eor_sent = false;
    a->closed_by_us = false;
    a->blocked = false;
    a->up_since = time(NULL);
    snprintf(a->remote, sizeof a->remote, "%s", xmpp_session_remote(sess));
    xmpp_session_set_user(sess, a);
    LOG_INFO("agent %s up from %s%s", a->name, a->remote, a->stale ? " (restarting)" : "");
}

static void
on_event(struct xmpp_session *sess, const struct xmpp_event *ev, void *aux)
{
    struct bgp_xmpp *x = aux;
    struct xagent *a = xmpp_session_user(sess);
    if (!a) {
        return;
    }
    switch (ev->type) {
    case XMPP_EV_ROUTE_SUBSCRIBE:
        subscribe(a, ev);
        break;
    case XMPP_EV_ROUTE_UNSUBSCRIBE:
        unsubscribe(a, ev);
        break;
    case XMPP_EV_ROUTE_ADD:
    case XMPP_EV_ROUTE_DELETE:
        publish(a, ev, ev->type == XMPP_EV_ROUTE_ADD);
        break;
    case XMPP_EV_EOR:
        if (a->stale) {
            sweep(a);
        }
        break;
    case XMPP_EV_CONFIG_SUBSCRIBE:
    case XMPP_EV_CONFIG_UNSUBSCRIBE:
        if (x->config_ops.subscribe) {
            int rc = x->config_ops.subscribe(x->config_ops.aux, a->name, ev->node,
                                             ev->type == XMPP_EV_CONFIG_SUBSCRIBE);
            if (rc) {
                char why[128];
                snprintf(why, sizeof why, "config %ssubscribe %s: %s",
                         ev->type == XMPP_EV_CONFIG_SUBSCRIBE ? "" : "un", ev->node,
                         strerror(rc));
                agent_close(a, why);
                return;
            }
            a->config_subscribed = true;
        }
        break;
    default:
        break;                  /* Control -> agent stanzas from an agent: ignored. */
    }
}

static void
on_down(struct xmpp_session *sess, const char *reason, void *aux)
{
    struct bgp_xmpp *x = aux;
    struct xagent *a = xmpp_session_user(sess);
    if (!a || a->sess != sess) {
        return;
    }
    LOG_INFO("agent %s down: %s", a->name, reason);
    xmpp_session_set_user(sess, NULL);
    a->sess = NULL;
    a->flaps++;
    pend_drop_sub(a, NULL);
    evtimer_del(a->eor_ev);
    bgp_mcast_remove_agent(x->mcast, a->name, NULL);     /* No graceful restart for trees. */
    if (a->config_subscribed && x->config_ops.agent_down) {
        x->config_ops.agent_down(x->config_ops.aux, a->name);
    }
    a->config_subscribed = false;
    /* A stream error we sent for bad input ends the session for good; a hold-timer expiry
     * (connection-timeout) is a peer that may be restarting. */
    const char *cond = xmpp_session_sent_condition(sess);
    if (cond && strcmp(cond, "connection-timeout")) {
        a->closed_by_us = true;
    }
    if (xmpp_session_peer_closed(sess)) {
        a->closed_by_us = true;     /* The agent said goodbye: it is not restarting. */
    }
    if (!x->cfg.gr_helper || hmap_count(&a->subs) == 0 || a->closed_by_us) {
        /* No helper, nothing to keep, or a session we ended for a protocol violation (the
         * agent is not restarting): the paths go now. */
        agent_free(a);
        return;
    }
    /* Graceful restart helper: the paths stay, stale, for the restart time. */
    size_t n = 0;
    struct xsub *s;
    HMAP_FOR_EACH (s, node, &a->subs) {
        s->stale = true;
        for (size_t i = 0; s->ri && i < N_FAMS; i++) {
            struct bgp_table *t = s->ri->tables[fams[i].table];
            if (t) {
                n += bgp_table_mark_stale(t, &a->src);
            }
        }
    }
    a->stale = true;
    struct timeval tv = { .tv_sec = x->cfg.gr_time };
    evtimer_add(a->gr_ev, &tv);
    LOG_INFO("agent %s: %zu paths kept stale for %u s", a->name, n, x->cfg.gr_time);
}

static void
on_connect_failed(struct xmpp_session *sess, const char *reason, void *aux)
{
}

static const struct xmpp_session_hooks hooks = {
    .open = on_open,
    .up = on_up,
    .event = on_event,
    .down = on_down,
    .connect_failed = on_connect_failed,
    .drained = on_drained,
};

/* --- Multicast ---------------------------------------------------------------------------- */

/* A forwarder's place in its tree changed: its label and olist go to the agent, or a retract
 * when it has none (gone, no label, alone in the tree). */
static void
mcast_update(void *aux, const struct bgp_mcast_update *u)
{
    struct bgp_xmpp *x = aux;
    struct xagent *a = agent_find(x, u->agent);
    struct evbuffer *out = a && a->sess ? xmpp_session_output(a->sess) : NULL;
    if (!out) {
        return;
    }
    struct xmpp_route r;
    memset(&r, 0, sizeof r);
    r.family = XMPP_FAM_MCAST;
    memcpy(r.group, u->group, 4);
    memcpy(r.source, u->source, 4);
    xmpp_route_format_key(&r);
    const struct xmpp_route *one = &r;
    if (bgp_mcast_update_advertise(u)) {
        r.source_label = u->label;
        for (size_t i = 0; i < u->n_olist; i++) {
            struct xmpp_nexthop *nh = xmpp_route_add_olist(&r);
            char text[INET_ADDRSTRLEN];
            inet_ntop(AF_INET, u->olist[i].addr, text, sizeof text);
            xmpp_nexthop_set_address(nh, text);
            nh->label = nh->label_last = u->olist[i].label;
            nh->encap = u->olist[i].encap;
        }
        xmpp_encode_routes(out, a->name, XMPP_FAM_MCAST, u->instance, &one, 1, NULL, 0);
        a->tx_items++;
        x->n_tx_items++;
    } else {
        xmpp_encode_routes(out, a->name, XMPP_FAM_MCAST, u->instance, NULL, 0, &one, 1);
        a->tx_retracts++;
        x->n_tx_retracts++;
    }
    xmpp_route_clear(&r);
}

static json_t *
page_mcast(struct http_req *req, void *aux)
{
    struct bgp_xmpp *x = aux;
    return bgp_mcast_to_json(x->mcast, http_req_query(req, "instance"));
}

/* --- Lifecycle --------------------------------------------------------------------------- */

int
bgp_xmpp_open(struct bgp_xmpp *x, struct event_base *base, struct bgp_ri_mgr *mgr,
              const struct bgp_xmpp_config *cfg, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    x->base = base;
    x->mgr = mgr;
    x->cfg = *cfg;
    if (!x->cfg.gr_time) {
        x->cfg.gr_time = 300;
    }
    if (!x->cfg.eor_delay_ms) {
        x->cfg.eor_delay_ms = 1000;
    }
    hmap_init(&x->agents);
    hmap_init(&x->cache);
    /* Agents may be configured with a shorter hold time than ours (there is no
     * negotiation): keepalives go out at least every 3 s, which keeps any hold time of 9 s
     * or more alive, at 2 bytes a time. */
    unsigned hold = cfg->hold_time ? cfg->hold_time : 90;
    struct xmpp_session_config sc = {
        .local_jid = XMPP_CONTROL_JID,
        .hold_time = hold,
        .keepalive_ms = hold * 1000 / 3 < 3000 ? hold * 1000 / 3 : 3000,
    };
    int e = 0;
    x->server = xmpp_server_create(base, cfg->address, (uint16_t) cfg->port, &sc, &hooks, x,
                                   &e);
    if (!x->server) {
        snprintf(err, errlen, "cannot listen for XMPP on %s port %d: %s",
                 cfg->address ? cfg->address : "*", cfg->port, strerror(e ? e : EINVAL));
        return e ? e : EINVAL;
    }
    struct bgp_mcast_ops mops = { .update = mcast_update, .encap_format = xmpp_encap_format,
                                  .aux = x };
    x->mcast = bgp_mcast_create(base, &mops);
    struct bgp_ri_listener l = { .route_changed = route_changed, .ri_deleted = ri_deleted,
                                 .ri_vn_changed = ri_vn_changed, .aux = x };
    bgp_ri_mgr_add_listener(mgr, &l);
    LOG_NOTICE("XMPP listening on %s port %d", cfg->address ? cfg->address : "*",
               bgp_xmpp_port(x));
    return 0;
}

int
bgp_xmpp_port(const struct bgp_xmpp *x)
{
    return x->server ? xmpp_server_port(x->server) : 0;
}

void
bgp_xmpp_close(struct bgp_xmpp *x)
{
    x->cfg.gr_helper = false;   /* Sessions going down now free their agents. */
    if (x->server) {
        xmpp_server_destroy(x->server);
        x->server = NULL;
    }
    struct xagent *a;
    HMAP_FOR_EACH_SAFE (a, node, &x->agents) {
        agent_free(a);
    }
    hmap_destroy(&x->agents);
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &x->mgr->instances) {
        if (ri->user) {
            mem_free(&mem_xsub, ri->user);
            ri->user = NULL;
        }
    }
    bgp_mcast_destroy(x->mcast);
    x->mcast = NULL;
    cache_clear(x, NULL);
    hmap_destroy(&x->cache);
}

void
bgp_xmpp_set_config_ops(struct bgp_xmpp *x, const struct bgp_xmpp_config_ops *ops)
{
    x->config_ops = *ops;
}

void
bgp_xmpp_send_config(struct bgp_xmpp *x, const char *agent, const char *config_xml)
{
    struct xagent *a = agent_find(x, agent);
    struct evbuffer *out = a && a->sess ? xmpp_session_output(a->sess) : NULL;
    if (out) {
        xmpp_encode_config_element(out, a->name, config_xml);
    }
}

void
bgp_xmpp_set_gr(struct bgp_xmpp *x, bool helper, unsigned restart_time)
{
    x->cfg.gr_helper = helper;
    x->cfg.gr_time = restart_time ? restart_time : 300;
}

/* --- Introspect -------------------------------------------------------------------------- */

static json_t *
page_connections(struct http_req *req, void *aux)
{
    struct bgp_xmpp *x = aux;
    json_t *list = json_array();
    time_t now = time(NULL);
    struct xagent *a;
    HMAP_FOR_EACH (a, node, &x->agents) {
        json_t *subs = json_array();
        struct xsub *s;
        HMAP_FOR_EACH (s, node, &a->subs) {
            json_array_append_new(subs, xjson_pack("{sssIsbsbsb}", "instance", s->vrf,
                                                   "instance_id", (json_int_t) s->instance_id,
                                                   "no_ribout", s->no_ribout,
                                                   "stale", s->stale,
                                                   "configured", s->ri && s->ri->n_import));
        }
        const struct xmpp_session_stats *st = a->sess ? xmpp_session_stats(a->sess) : NULL;
        json_array_append_new(list, xjson_pack(
            "{sssssssIsIsIsIsIsIsbsbso}",
            "name", a->name, "state", a->sess ? "Established" : "Restarting",
            "remote", a->remote,
            "uptime", (json_int_t) (a->sess ? now - a->up_since : 0),
            "flaps", (json_int_t) a->flaps,
            "rx_routes", (json_int_t) a->rx_routes, "tx_items", (json_int_t) a->tx_items,
            "tx_retracts", (json_int_t) a->tx_retracts, "ignored_routes", (json_int_t) a->ignored,
            "eor_sent", a->eor_sent, "stale", a->stale, "subscriptions", subs));
        if (st) {
            json_object_set_new(json_array_get(list, json_array_size(list) - 1), "stats",
                                xjson_pack("{sIsIsI}", "rx_bytes", (json_int_t) st->rx_bytes,
                                           "tx_bytes", (json_int_t) st->tx_bytes,
                                           "rx_stanzas", (json_int_t) st->rx_stanzas));
        }
    }
    return xjson_pack("{sisIsIsosIsI}", "port", bgp_xmpp_port(x),
                      "ignored_routes", (json_int_t) x->n_ignored_routes,
                      "closed_for_violations", (json_int_t) x->n_closed_policy,
                      "connections", list, "tx_items", (json_int_t) x->n_tx_items,
                      "tx_retracts", (json_int_t) x->n_tx_retracts);
}

void
bgp_xmpp_register_introspect(struct bgp_xmpp *x, struct introspect *is)
{
    introspect_add_page(is, "/Snh_ShowXmppConnectionReq", "XMPP agents and subscriptions",
                        page_connections, x);
    introspect_add_page(is, "/Snh_ShowMulticastManagerReq",
                        "multicast trees (?instance=NAME)", page_mcast, x);
    introspect_add_counter(is, "xmpp_rx_routes", "routes published by agents", &x->n_rx_routes);
    introspect_add_counter(is, "xmpp_tx_items", "route items sent to agents", &x->n_tx_items);
}
