/* bgp_server: listener, peers, tables and export.  See bgp_server.h. */
#include "bgp_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(bgp_server);

static MEM_TYPE(mem_bgp_local_route, "bgp_local_route");

/* --- Export ------------------------------------------------------------------------------ */

/* UPDATEs towards a peer are packed: routes changed in one turn of the event loop with the
 * same (interned) attributes go in one message, withdrawals likewise, and the partial
 * messages are sent at the end of the turn.  A prefix is in at most one pending message, so
 * an announcement followed by a withdrawal in the same turn sends the withdrawal only. */

#define OUT_GROUPS 16
#define OUT_MAX_NLRI 512

struct out_group {
    enum bgp_family family;
    const struct bgp_attrs *attrs;  /* Exported attributes (interned); NULL: withdrawals. */
    struct bgp_nlri nlri[OUT_MAX_NLRI];
    size_t n;
};

struct out_pending {
    struct hmap_node node;
    struct bgp_prefix p;
    struct out_group *g;
    size_t slot;
};

struct bgp_peer_out {
    struct bgp_server *s;
    struct bgp_peer *peer;
    struct out_group *groups[OUT_GROUPS];
    struct hmap pending;            /* struct out_pending, by prefix. */
    struct event *flush;
    /* Route-target filter (RFC 4684), from the peer's route-target routes. */
    uint64_t *rts;
    size_t n_rts;
    bool rt_any;                    /* The peer sent the default route-target route. */
    /* Graceful restart helper. */
    struct event *gr_timer;
    uint32_t gr_pending;            /* Families whose stale paths wait for End-of-RIB. */
};

static MEM_TYPE(mem_bgp_out, "bgp_peer_out");

static uint32_t
pfx_hash(const struct bgp_prefix *p)
{
    return hash_bytes(p, sizeof *p, 0);
}

static void
group_send(struct bgp_peer_out *o, struct out_group *g)
{
    uint8_t buf[BGP_MAX_MSG];
    size_t i = 0;
    /* Slots emptied by a later change of the prefix are marked with family 0xff. */
    size_t k = 0;
    for (size_t j = 0; j < g->n; j++) {
        if (g->nlri[j].p.family != 0xff) {
            g->nlri[k++] = g->nlri[j];
        }
    }
    g->n = k;
    while (i < g->n) {
        size_t done, len;
        if (g->attrs) {
            len = bgp_update_encode_reach(&o->peer->codec, g->family, g->attrs, g->nlri + i,
                                          g->n - i, buf, &done);
        } else {
            len = bgp_update_encode_unreach(g->family, g->nlri + i, g->n - i, buf, &done);
        }
        if (!done) {
            break;              /* Cannot happen with sane attributes; drop, never loop. */
        }
        bgp_peer_send(o->peer, buf, len);
        o->s->n_updates_sent++;
        i += done;
    }
    for (size_t j = 0; j < g->n; j++) {
        struct out_pending *e;
        HMAP_FOR_EACH_WITH_HASH (e, node, pfx_hash(&g->nlri[j].p), &o->pending) {
            if (!memcmp(&e->p, &g->nlri[j].p, sizeof e->p)) {
                hmap_remove(&o->pending, &e->node);
                mem_free(&mem_bgp_out, e);
                break;
            }
        }
    }
    g->n = 0;
}

static void
group_release(struct bgp_peer_out *o, int i)
{
    struct out_group *g = o->groups[i];
    group_send(o, g);
    bgp_rib_attrs_unref(&o->s->mgr->rib, g->attrs);
    mem_free(&mem_bgp_out, g);
    o->groups[i] = NULL;
}

static void
out_flush_all(struct bgp_peer_out *o)
{
    for (int i = 0; i < OUT_GROUPS; i++) {
        if (o->groups[i]) {
            group_release(o, i);
        }
    }
}

static void
out_flush_cb(evutil_socket_t fd, short what, void *aux)
{
    out_flush_all(aux);
}

/* Queues N (announced with ATTRS, or withdrawn when ATTRS is NULL) towards the peer. */
static void
out_queue(struct bgp_peer_out *o, enum bgp_family f, const struct bgp_attrs *attrs,
          const struct bgp_nlri *n)
{
    struct out_pending *e, *found = NULL;
    uint32_t h = pfx_hash(&n->p);
    HMAP_FOR_EACH_WITH_HASH (e, node, h, &o->pending) {
        if (!memcmp(&e->p, &n->p, sizeof e->p)) {
            found = e;
            break;
        }
    }
    if (found) {
        e = found;
        e->g->nlri[e->slot].p.family = 0xff;    /* Superseded. */
        hmap_remove(&o->pending, &e->node);
        mem_free(&mem_bgp_out, e);
    }
    int free_slot = -1, pick = -1;
    for (int i = 0; i < OUT_GROUPS; i++) {
        struct out_group *g = o->groups[i];
        if (!g) {
            free_slot = free_slot < 0 ? i : free_slot;
        } else if (g->family == f && g->attrs == attrs) {
            pick = i;
            break;
        }
    }
    if (pick < 0) {
        if (free_slot < 0) {
            free_slot = 0;
            for (int i = 1; i < OUT_GROUPS; i++) {
                if (o->groups[i]->n > o->groups[free_slot]->n) {
                    free_slot = i;
                }
            }
            group_release(o, free_slot);
        }
        pick = free_slot;
        struct out_group *g = mem_zalloc(&mem_bgp_out, sizeof *g);
        g->family = f;
        g->attrs = attrs ? bgp_rib_attrs_ref(attrs) : NULL;
        o->groups[pick] = g;
    }
    struct out_group *g = o->groups[pick];
    if (g->n == OUT_MAX_NLRI) {
        group_send(o, g);
    }
    g->nlri[g->n] = *n;
    e = mem_zalloc(&mem_bgp_out, sizeof *e);
    e->p = n->p;
    e->g = g;
    e->slot = g->n++;
    hmap_insert(&o->pending, &e->node, h);
    event_active(o->flush, 0, 0);
}

static void
out_discard(struct bgp_peer_out *o)
{
    for (int i = 0; i < OUT_GROUPS; i++) {
        if (o->groups[i]) {
            bgp_rib_attrs_unref(&o->s->mgr->rib, o->groups[i]->attrs);
            mem_free(&mem_bgp_out, o->groups[i]);
            o->groups[i] = NULL;
        }
    }
    struct out_pending *e;
    HMAP_FOR_EACH_SAFE (e, node, &o->pending) {
        hmap_remove(&o->pending, &e->node);
        mem_free(&mem_bgp_out, e);
    }
}

static bool
rt_filter_passes(const struct bgp_peer_out *o, const struct bgp_attrs *a)
{
    if (!(o->peer->families & (1u << BGP_FAM_RTARGET)) || o->rt_any) {
        return true;
    }
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        for (size_t j = 0; j < o->n_rts; j++) {
            if (a->ext_communities[i] == o->rts[j]) {
                return true;
            }
        }
    }
    return false;
}

/* Whether PATH of table T may go to PEER. */
static bool
export_allowed(const struct bgp_peer_out *o, const struct bgp_table *t,
               const struct bgp_path *path)
{
    const struct bgp_peer *peer = o->peer;
    if (path->src == &peer->src || (path->flags & BGP_PATH_INFEASIBLE)) {
        return false;           /* Never back to where it came from. */
    }
    if (!path->src->local && !path->src->xmpp && !path->src->ebgp && peer->codec.ibgp) {
        return false;           /* iBGP-learned paths are not reflected to iBGP peers. */
    }
    if (!peer->codec.ibgp && bgp_attrs_as_path_contains(path->attrs, peer->remote.asn)) {
        return false;           /* The peer would drop it as a loop. */
    }
    for (size_t i = 0; i < path->attrs->n_communities; i++) {
        uint32_t c = path->attrs->communities[i];
        if (c == 0xffffff02 || (c == 0xffffff01 && !peer->codec.ibgp)) {
            return false;       /* NO_ADVERTISE; NO_EXPORT towards another AS. */
        }
    }
    if (t->family == BGP_FAM_INET_VPN || t->family == BGP_FAM_INET6_VPN
        || t->family == BGP_FAM_EVPN) {
        return rt_filter_passes(o, path->attrs);
    }
    return true;
}

/* The attributes PATH goes to the peer with (a new interned reference). */
static const struct bgp_attrs *
export_attrs(struct bgp_server *s, const struct bgp_peer *peer, const struct bgp_path *path)
{
    static const uint8_t zero_rd[8];
    const struct bgp_attrs *in = path->attrs;
    bool ibgp = peer->codec.ibgp;
    bool lp_ok = !ibgp || (in->present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF));
    if (ibgp && in->nexthop.family && lp_ok && !memcmp(in->source_rd, zero_rd, 8)
        && (in->present & BGP_ATTR_BIT(BGP_ATTR_AS_PATH))
        && (in->present & BGP_ATTR_BIT(BGP_ATTR_ORIGIN))) {
        return bgp_rib_attrs_ref(in);   /* The common case: as stored. */
    }
    struct bgp_attrs a;
    bgp_attrs_copy(&a, in);
    memset(a.source_rd, 0, sizeof a.source_rd);
    a.present |= BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
    if (!ibgp) {
        bgp_attrs_prepend_as(&a, s->local.asn);
        a.present &= ~(BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF) | BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID)
                       | BGP_ATTR_BIT(BGP_ATTR_CLUSTER_LIST));
    } else if (!(a.present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF))) {
        a.present |= BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF);
        a.local_pref = 100;
    }
    if (a.nexthop.family == 0) {
        a.nexthop.family = 4;   /* Next hop self when the path has none. */
        uint32_t id = htonl(s->local.router_id);
        memcpy(a.nexthop.addr, &id, 4);
    }
    const struct bgp_attrs *r = bgp_rib_attrs_intern(&s->mgr->rib, &a);
    bgp_attrs_clear(&a);
    return r;
}

/* Advertises or withdraws route R of master table T towards the peer as its best path says. */
static void
export_route(struct bgp_peer_out *o, struct bgp_table *t, struct bgp_route *r)
{
    struct bgp_peer *peer = o->peer;
    enum bgp_family f = t->family;
    if (!peer->est || !(peer->families & (1u << f))) {
        return;
    }
    uint64_t bit = UINT64_C(1) << peer->index;
    struct bgp_nlri n = { .p = r->p };
    if (r->best && export_allowed(o, t, r->best)) {
        const struct bgp_path *best = r->best;
        const struct bgp_attrs *a = export_attrs(o->s, peer, best);
        n.label = best->label;
        n.label2 = best->label2;
        n.has_label2 = best->has_label2;
        out_queue(o, f, a, &n);
        bgp_rib_attrs_unref(&o->s->mgr->rib, a);
        r->advertised |= bit;
    } else if (r->advertised & bit) {
        out_queue(o, f, NULL, &n);
        r->advertised &= ~bit;
    }
}

static void
route_changed(struct bgp_ri *ri, struct bgp_table *t, struct bgp_route *r, void *aux)
{
    struct bgp_server *s = aux;
    if (!ri->master) {
        return;
    }
    for (int i = 0; i < s->n_peers; i++) {
        if (s->out[i]) {
            export_route(s->out[i], t, r);
        }
    }
    if (t->family == BGP_FAM_RTARGET) {
        /* A peer's route-target routes changed: its filter, and so what it gets, may too. */
        for (int i = 0; i < s->n_peers; i++) {
            struct bgp_peer_out *o = s->out[i];
            if (o && (bgp_route_path(r, &o->peer->src, NULL) || (r->advertised >> i & 1))) {
                s->rt_dirty |= UINT64_C(1) << i;
            }
        }
        if (s->rt_dirty) {
            event_active(s->rt_event, 0, 0);
        }
    }
}

/* Rebuilds the route-target filter of the peer from its paths in bgp.rtarget.0. */
static void
rebuild_rt_filter(struct bgp_server *s, struct bgp_peer_out *o)
{
    struct bgp_table *t = s->mgr->master->tables[BGP_FAM_RTARGET];
    mem_free(&mem_bgp_out, o->rts);
    o->rts = NULL;
    o->n_rts = 0;
    o->rt_any = false;
    size_t cap = 0;
    struct bgp_route *r;
    BGP_TABLE_FOR_EACH (r, t) {
        if (!bgp_route_path(r, &o->peer->src, NULL)) {
            continue;
        }
        if (r->p.plen < 64) {
            o->rt_any = true;   /* Default (or a partial prefix): everything. */
            continue;
        }
        uint64_t rt = 0;
        for (int k = 0; k < 8; k++) {
            rt = rt << 8 | r->p.rt[k];
        }
        if (o->n_rts == cap) {
            cap = cap ? 2 * cap : 16;
            o->rts = mem_realloc(&mem_bgp_out, o->rts, cap * sizeof *o->rts);
        }
        o->rts[o->n_rts++] = rt;
    }
}

static const enum bgp_family vpn_families[] = { BGP_FAM_INET_VPN, BGP_FAM_INET6_VPN,
                                                BGP_FAM_EVPN };

static void
rt_event_cb(evutil_socket_t fd, short what, void *aux)
{
    struct bgp_server *s = aux;
    uint64_t dirty = s->rt_dirty;
    s->rt_dirty = 0;
    for (int i = 0; i < s->n_peers; i++) {
        if (!(dirty >> i & 1) || !s->out[i]) {
            continue;
        }
        struct bgp_peer_out *o = s->out[i];
        rebuild_rt_filter(s, o);
        for (size_t k = 0; k < sizeof vpn_families / sizeof *vpn_families; k++) {
            struct bgp_table *t = s->mgr->master->tables[vpn_families[k]];
            struct bgp_route *r;
            BGP_TABLE_FOR_EACH (r, t) {
                export_route(o, t, r);
            }
        }
    }
}

/* Sends every route of FAMILY to PEER, then End-of-RIB. */
static void
dump_table(struct bgp_server *s, struct bgp_peer_out *o, enum bgp_family f)
{
    struct bgp_table *t = s->mgr->master->tables[f];
    if (t) {
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, t) {
            export_route(o, t, r);
        }
    }
    out_flush_all(o);
    uint8_t buf[BGP_MAX_MSG];
    bgp_peer_send(o->peer, buf, bgp_update_encode_eor(f, buf));
}

static size_t
withdraw_peer(struct bgp_server *s, struct bgp_peer *peer, uint32_t families, bool only_stale)
{
    size_t n = 0;
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = s->mgr->master->tables[f];
        if (t && (families & (1u << f))) {
            n += bgp_table_withdraw_source(t, &peer->src, only_stale);
        }
    }
    return n;
}

static void
peer_established(struct bgp_peer *peer, void *aux)
{
    struct bgp_server *s = aux;
    struct bgp_peer_out *o = s->out[peer->index];
    rebuild_rt_filter(s, o);
    /* Route targets first (RFC 4684 §6: the peer builds its filter before the VPN routes). */
    if (peer->families & (1u << BGP_FAM_RTARGET)) {
        dump_table(s, o, BGP_FAM_RTARGET);
    }
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (f != BGP_FAM_RTARGET && (peer->families & (1u << f))) {
            dump_table(s, o, f);
        }
    }
    if (o->gr_pending) {
        /* RFC 4724 4.2: families the peer no longer preserves (no F bit now) lose their
         * stale paths at once; the others wait for the peer's End-of-RIB. */
        uint32_t drop = o->gr_pending & ~(peer->remote.gr_cap ? peer->remote.gr_forwarding : 0);
        drop |= o->gr_pending & ~peer->families;
        size_t n = withdraw_peer(s, peer, drop, true);
        o->gr_pending &= ~drop;
        if (!o->gr_pending) {
            evtimer_del(o->gr_timer);
        }
        LOG_INFO("peer %s back: %zu stale paths removed, the rest wait for End-of-RIB",
                 peer->cfg.name, n);
    }
}

static void
gr_timeout(evutil_socket_t fd, short what, void *aux)
{
    struct bgp_peer_out *o = aux;
    size_t n = withdraw_peer(o->s, o->peer, o->gr_pending, true);
    LOG_INFO("peer %s: graceful restart time over, %zu stale paths removed", o->peer->cfg.name,
             n);
    o->gr_pending = 0;
}

static void
peer_down(struct bgp_peer *peer, void *aux)
{
    struct bgp_server *s = aux;
    struct bgp_peer_out *o = s->out[peer->index];
    out_discard(o);
    /* Nothing is advertised to it any more. */
    uint64_t bit = UINT64_C(1) << peer->index;
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = s->mgr->master->tables[f];
        struct bgp_route *r;
        if (t) {
            BGP_TABLE_FOR_EACH (r, t) {
                r->advertised &= ~bit;
            }
        }
    }
    /* Graceful restart helper (RFC 4724 4.2): keep the paths of the families listed in the
     * peer's capability as stale for its restart time; the rest go now. */
    uint32_t keep = 0;
    if (s->cfg.gr_helper && peer->remote.gr_cap && peer->remote.gr_time > 0) {
        keep = peer->remote.gr_families;
    }
    size_t stale = 0;
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = s->mgr->master->tables[f];
        if (t && (keep & (1u << f))) {
            stale += bgp_table_mark_stale(t, &peer->src);
        }
    }
    size_t n = withdraw_peer(s, peer, ~keep, false);
    if (keep) {
        o->gr_pending |= keep;
        struct timeval tv = { .tv_sec = peer->remote.gr_time };
        evtimer_add(o->gr_timer, &tv);
    }
    LOG_INFO("peer %s down: %zu paths removed, %zu kept stale", peer->cfg.name, n, stale);
}

static void
peer_update(struct bgp_peer *peer, const struct bgp_update *u, void *aux)
{
    struct bgp_server *s = aux;
    struct bgp_ri *master = s->mgr->master;
    struct bgp_peer_out *o = s->out[peer->index];
    if (u->eor) {
        uint32_t bit = 1u << u->eor_family;
        if (o->gr_pending & bit) {
            size_t n = withdraw_peer(s, peer, bit, true);
            o->gr_pending &= ~bit;
            LOG_INFO("peer %s: End-of-RIB for %s, %zu stale paths removed", peer->cfg.name,
                     bgp_family_name(u->eor_family), n);
            if (!o->gr_pending) {
                evtimer_del(o->gr_timer);
            }
        }
        return;
    }
    for (size_t i = 0; i < u->n_unreach; i++) {
        struct bgp_table *t = master->tables[u->unreach[i].p.family];
        if (t) {
            bgp_table_withdraw(t, &peer->src, NULL, &u->unreach[i].p);
        }
    }
    bool drop = u->treat_as_withdraw
        || bgp_attrs_as_path_contains(&u->attrs, s->local.asn)
        || ((u->attrs.present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
            && u->attrs.originator_id == s->local.router_id);
    const struct bgp_attrs *a = NULL;
    for (size_t i = 0; i < u->n_reach; i++) {
        const struct bgp_nlri *n = &u->reach[i];
        struct bgp_table *t = master->tables[n->p.family];
        if (!t || !(peer->families & (1u << n->p.family))) {
            continue;           /* A family that was not negotiated: ignored. */
        }
        if (drop) {
            bgp_table_withdraw(t, &peer->src, NULL, &n->p);
        } else {
            if (!a) {
                a = bgp_rib_attrs_intern(&s->mgr->rib, &u->attrs);
            }
            bgp_table_update(t, &peer->src, NULL, n, a, 0);
        }
    }
    bgp_rib_attrs_unref(&s->mgr->rib, a);
}

static void
peer_route_refresh(struct bgp_peer *peer, enum bgp_family f, void *aux)
{
    struct bgp_server *s = aux;
    struct bgp_table *t = s->mgr->master->tables[f];
    if (!t) {
        return;
    }
    uint64_t bit = UINT64_C(1) << peer->index;
    struct bgp_route *r;
    BGP_TABLE_FOR_EACH (r, t) {
        r->advertised &= ~bit;
    }
    dump_table(s, s->out[peer->index], f);
}

static const struct bgp_peer_hooks no_hooks;

static const struct bgp_peer_hooks server_hooks = {
    .established = peer_established,
    .down = peer_down,
    .update = peer_update,
    .route_refresh = peer_route_refresh,
};

/* --- Listener and peers ------------------------------------------------------------------ */

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        return ((const struct sockaddr_in *) a)->sin_addr.s_addr
            == ((const struct sockaddr_in *) (const void *) b)->sin_addr.s_addr;
    }
    return !memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
                   &((const struct sockaddr_in6 *) (const void *) b)->sin6_addr, 16);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
          void *aux)
{
    struct bgp_server *s = aux;
    for (int i = 0; i < s->n_peers; i++) {
        if (s->peers[i] && same_addr(&s->peers[i]->cfg.addr, sa)) {
            bgp_peer_accept(s->peers[i], fd);
            return;
        }
    }
    s->n_rejected_connections++;
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) sa)->sin_addr, host, sizeof host);
    }
    LOG_WARN("connection from unknown peer %s refused", host);
    close(fd);
}

int
bgp_server_open(struct bgp_server *s, struct event_base *base,
                const struct bgp_server_config *cfg, struct bgp_ri_mgr *mgr, char *err,
                size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->local.base = base;
    s->local.asn = cfg->asn;
    s->local.router_id = cfg->router_id;
    s->mgr = mgr;
    s->file_src.name = "local";
    s->file_src.local = true;
    s->file_src.router_id = cfg->router_id;
    s->rt_event = event_new(base, -1, 0, rt_event_cb, s);
    struct bgp_ri_listener l = { .route_changed = route_changed, .aux = s };
    bgp_ri_mgr_add_listener(mgr, &l);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    socklen_t len;
    if (inet_pton(AF_INET, cfg->address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) cfg->port);
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, cfg->address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) cfg->port);
        len = sizeof *sin6;
    } else {
        snprintf(err, errlen, "bad BGP listen address '%s'", cfg->address);
        return EINVAL;
    }
    s->listener = evconnlistener_new_bind(base, accept_cb, s,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE
                                          | LEV_OPT_CLOSE_ON_EXEC, 16,
                                          (struct sockaddr *) &ss, (int) len);
    if (!s->listener) {
        int e = errno ? errno : EADDRINUSE;
        snprintf(err, errlen, "cannot listen for BGP on %s port %d: %s", cfg->address,
                 cfg->port, strerror(e));
        return e;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *) &bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *) &bound)->sin_port
                                               : ((struct sockaddr_in6 *) &bound)->sin6_port);
    LOG_NOTICE("BGP listening on %s port %d (AS %u)", cfg->address, s->port, cfg->asn);
    return 0;
}

int
bgp_server_port(const struct bgp_server *s)
{
    return s->port;
}

static void
out_free(struct bgp_peer_out *o)
{
    out_discard(o);
    event_free(o->flush);
    event_free(o->gr_timer);
    mem_free(&mem_bgp_out, o->rts);
    hmap_destroy(&o->pending);
    mem_free(&mem_bgp_out, o);
}

void
bgp_server_close(struct bgp_server *s)
{
    /* The peers go without touching the tables: they belong to the routing instances. */
    for (int i = 0; i < s->n_peers; i++) {
        if (s->peers[i]) {
            s->peers[i]->hooks = &no_hooks;
        }
    }
    for (int i = 0; i < s->n_peers; i++) {
        if (!s->peers[i]) {
            continue;
        }
        bgp_peer_destroy(s->peers[i]);
        out_free(s->out[i]);
    }
    s->n_peers = 0;
    if (s->rt_event) {
        event_free(s->rt_event);
        s->rt_event = NULL;
    }
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
}

static bool
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !isdigit((unsigned char) *s)) {
        return false;
    }
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_sockaddr(const char *text, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        return true;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        return true;
    }
    return false;
}

/* Splits TEXT (modified) into at most MAX whitespace-separated words. */
static int
split_words(char *text, char **words, int max)
{
    int n = 0;
    for (char *save, *w = strtok_r(text, " \t\r\n", &save); w && n < max;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        words[n++] = w;
    }
    return n;
}

int
bgp_server_parse_peer(const struct bgp_server *s, const char *text, struct bgp_peer_config *pc,
                      char *err, size_t errlen)
{
    memset(pc, 0, sizeof *pc);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *w[64];
    int n = split_words(buf, w, 64);
    if (n == 0) {
        snprintf(err, errlen, "empty peer specification");
        return EINVAL;
    }
    unsigned long port = 179, asn = s->local.asn, hold = s->cfg.hold_time;
    unsigned long retry = (unsigned long) s->cfg.connect_retry;
    pc->families = 1u << BGP_FAM_INET | 1u << BGP_FAM_INET_VPN;
    snprintf(pc->name, sizeof pc->name, "%s", w[0]);
    for (int i = 1; i < n; i++) {
        const char *k = w[i], *v = i + 1 < n ? w[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(k, "passive")) {
            pc->passive = true;
            continue;
        }
        if (!v) {
            snprintf(err, errlen, "peer %s: '%s' needs a value", w[0], k);
            return EINVAL;
        }
        i++;
        if (!strcmp(k, "port")) {
            ok = parse_uint(v, 65535, &port) && port > 0;
        } else if (!strcmp(k, "as")) {
            ok = parse_uint(v, 0xffffffffUL, &asn) && asn > 0;
        } else if (!strcmp(k, "hold")) {
            ok = parse_uint(v, 65535, &hold) && hold != 1 && hold != 2;
        } else if (!strcmp(k, "connect-retry")) {
            ok = parse_uint(v, 3600, &retry) && retry > 0;
        } else if (!strcmp(k, "password")) {
            ok = strlen(v) < sizeof pc->password;
            if (ok) {
                memcpy(pc->password, v, strlen(v) + 1);
            }
        } else if (!strcmp(k, "name")) {
            snprintf(pc->name, sizeof pc->name, "%s", v);
        } else if (!strcmp(k, "source")) {
            ok = parse_sockaddr(v, 0, &pc->local);
        } else if (!strcmp(k, "families")) {
            pc->families = 0;
            char fb[256];
            snprintf(fb, sizeof fb, "%s", v);
            for (char *save, *f = strtok_r(fb, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                int fam = bgp_family_from_name(f);
                if (fam < 0) {
                    snprintf(err, errlen, "peer %s: unknown family '%s'", w[0], f);
                    return EINVAL;
                }
                pc->families |= 1u << fam;
            }
            ok = pc->families != 0;
        } else {
            snprintf(err, errlen, "peer %s: unknown keyword '%s'", w[0], k);
            return EINVAL;
        }
        if (!ok) {
            snprintf(err, errlen, "peer %s: bad %s '%s'", w[0], k, v);
            return EINVAL;
        }
    }
    if (!parse_sockaddr(w[0], (int) port, &pc->addr)) {
        snprintf(err, errlen, "peer: bad address '%s'", w[0]);
        return EINVAL;
    }
    if (!pc->local.ss_family && s->cfg.address) {
        parse_sockaddr(s->cfg.address, 0, &pc->local);
    }
    pc->peer_as = (uint32_t) asn;
    pc->hold_time = (uint16_t) hold;
    pc->connect_retry = (int) retry;
    return 0;
}

int
bgp_server_add_peer(struct bgp_server *s, const struct bgp_peer_config *pc, char *err,
                    size_t errlen)
{
    for (int i = 0; i < s->n_peers; i++) {
        if (s->peers[i] && same_addr(&s->peers[i]->cfg.addr,
                                     (const struct sockaddr *) &pc->addr)) {
            snprintf(err, errlen, "peer %s configured twice", pc->name);
            return EEXIST;
        }
    }
    int slot = 0;
    while (slot < s->n_peers && s->peers[slot]) {
        slot++;
    }
    if (slot >= BGP_SERVER_MAX_PEERS) {
        snprintf(err, errlen, "too many peers (at most %d)", BGP_SERVER_MAX_PEERS);
        return ENOSPC;
    }
    if (pc->password[0] && s->listener) {
        int rc = bgp_md5_set(evconnlistener_get_fd(s->listener), &pc->addr, pc->password);
        if (rc) {
            snprintf(err, errlen, "peer %s: TCP MD5 on the listener: %s", pc->name,
                     strerror(rc));
            return rc;
        }
    }
    struct bgp_peer *peer = bgp_peer_create(&s->local, pc, &server_hooks, s);
    peer->index = slot;
    struct bgp_peer_out *o = mem_zalloc(&mem_bgp_out, sizeof *o);
    o->s = s;
    o->peer = peer;
    hmap_init(&o->pending);
    o->flush = event_new(s->local.base, -1, 0, out_flush_cb, o);
    o->gr_timer = evtimer_new(s->local.base, gr_timeout, o);
    s->out[slot] = o;
    s->peers[slot] = peer;
    if (slot == s->n_peers) {
        s->n_peers++;
    }
    bgp_peer_start(peer);
    return 0;
}

struct bgp_peer *
bgp_server_find_peer(const struct bgp_server *s, const struct sockaddr_storage *addr)
{
    for (int i = 0; i < s->n_peers; i++) {
        if (s->peers[i] && same_addr(&s->peers[i]->cfg.addr, (const struct sockaddr *) addr)) {
            return s->peers[i];
        }
    }
    return NULL;
}

void
bgp_server_remove_peer(struct bgp_server *s, struct bgp_peer *peer)
{
    int i = peer->index;
    if (i < 0 || i >= s->n_peers || s->peers[i] != peer) {
        return;
    }
    LOG_NOTICE("peer %s removed", peer->cfg.name);
    /* Its session ends (Cease); its paths go as for any session loss, but without a restart
     * to wait for. */
    struct bgp_peer_out *o = s->out[i];
    evtimer_del(o->gr_timer);
    if (peer->cfg.password[0] && s->listener) {
        bgp_md5_set(evconnlistener_get_fd(s->listener), &peer->cfg.addr, "");
    }
    peer->hooks = &no_hooks;
    withdraw_peer(s, peer, ~0u, false);
    bgp_peer_destroy(peer);
    uint64_t bit = UINT64_C(1) << i;
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = s->mgr->master->tables[f];
        struct bgp_route *r;
        if (t) {
            BGP_TABLE_FOR_EACH (r, t) {
                r->advertised &= ~bit;
            }
        }
    }
    s->rt_dirty &= ~bit;
    out_free(o);
    s->peers[i] = NULL;
    s->out[i] = NULL;
    while (s->n_peers && !s->peers[s->n_peers - 1]) {
        s->n_peers--;
    }
}

int
bgp_server_add_peers(struct bgp_server *s, const char *list, char *err, size_t errlen)
{
    char *copy = xstrdup(list);
    int rc = 0;
    for (char *save, *spec = strtok_r(copy, ";", &save); spec && !rc;
         spec = strtok_r(NULL, ";", &save)) {
        struct bgp_peer_config pc;
        char *p = spec;
        while (isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            continue;
        }
        rc = bgp_server_parse_peer(s, p, &pc, err, errlen);
        if (!rc) {
            rc = bgp_server_add_peer(s, &pc, err, errlen);
        }
    }
    xfree(copy);
    return rc;
}

/* --- Local routes ------------------------------------------------------------------------ */

static bool
parse_prefix(const char *text, enum bgp_family f, struct bgp_prefix *p)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (!slash) {
        return false;
    }
    *slash = '\0';
    bool v6 = f == BGP_FAM_INET6 || f == BGP_FAM_INET6_VPN;
    unsigned long plen;
    if (!parse_uint(slash + 1, v6 ? 128 : 32, &plen)
        || inet_pton(v6 ? AF_INET6 : AF_INET, buf, p->addr) != 1) {
        return false;
    }
    p->plen = (uint8_t) plen;
    for (unsigned int bit = (unsigned int) plen; bit < (v6 ? 128u : 32u); bit++) {
        if (p->addr[bit / 8] & (0x80 >> (bit % 8))) {
            return false;       /* Host bits set. */
        }
    }
    return true;
}

/* "RD:PREFIX": the RD is everything up to the colon before the address. */
static bool
parse_vpn_prefix(const char *text, enum bgp_family f, struct bgp_prefix *p)
{
    /* The RD has exactly one colon: split after its second field. */
    const char *c1 = strchr(text, ':');
    if (!c1) {
        return false;
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2) {
        return false;
    }
    char rd[64];
    size_t n = (size_t) (c2 - text);
    if (n >= sizeof rd) {
        return false;
    }
    memcpy(rd, text, n);
    rd[n] = '\0';
    return bgp_rd_parse(rd, p->rd) && parse_prefix(c2 + 1, f, p);
}

static bool
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char extra;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &extra) != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255) {
            return false;
        }
        mac[i] = (uint8_t) b[i];
    }
    return true;
}

int
bgp_server_parse_route(const char *line, struct bgp_nlri *n, struct bgp_attrs *a, char *err,
                       size_t errlen)
{
    memset(n, 0, sizeof *n);
    memset(a, 0, sizeof *a);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", line);
    char *w[128];
    int nw = split_words(buf, w, 128);
    if (nw < 2) {
        snprintf(err, errlen, "a route needs a family and a prefix");
        return EINVAL;
    }
    int f = bgp_family_from_name(w[0]);
    if (f < 0) {
        snprintf(err, errlen, "unknown family '%s'", w[0]);
        return EINVAL;
    }
    n->p.family = (uint8_t) f;
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
    int i = 1;
    switch (f) {
    case BGP_FAM_INET:
    case BGP_FAM_INET6:
        if (!parse_prefix(w[i], f, &n->p)) {
            snprintf(err, errlen, "bad prefix '%s'", w[i]);
            return EINVAL;
        }
        i++;
        break;
    case BGP_FAM_INET_VPN:
    case BGP_FAM_INET6_VPN:
        if (!parse_vpn_prefix(w[i], f, &n->p)) {
            snprintf(err, errlen, "bad RD:prefix '%s'", w[i]);
            return EINVAL;
        }
        i++;
        break;
    case BGP_FAM_RTARGET:
        if (!strcmp(w[i], "default")) {
            i++;
            break;
        } else {
            unsigned long as;
            uint64_t rt;
            if (i + 1 >= nw || !parse_uint(w[i], 0xffffffffUL, &as)
                || !bgp_ext_community_parse(w[i + 1], &rt) || (rt >> 48) % 256 != 2) {
                snprintf(err, errlen, "route-target needs ORIGIN_AS target:X:Y");
                return EINVAL;
            }
            n->p.origin_as = (uint32_t) as;
            n->p.plen = 64;
            for (int k = 0; k < 8; k++) {
                n->p.rt[k] = (uint8_t) (rt >> (56 - 8 * k));
            }
            i += 2;
        }
        break;
    case BGP_FAM_EVPN:
        break;                  /* Everything is keyword-value. */
    }
    bool have_rd = false, have_label = false;
    for (; i < nw; i++) {
        const char *k = w[i], *v = i + 1 < nw ? w[i + 1] : NULL;
        if (!v) {
            snprintf(err, errlen, "'%s' needs a value", k);
            return EINVAL;
        }
        i++;
        unsigned long x;
        bool ok = true;
        if (!strcmp(k, "nexthop")) {
            if (inet_pton(AF_INET, v, a->nexthop.addr) == 1) {
                a->nexthop.family = 4;
            } else if (inet_pton(AF_INET6, v, a->nexthop.addr) == 1) {
                a->nexthop.family = 6;
            } else {
                ok = false;
            }
        } else if (!strcmp(k, "label")) {
            ok = parse_uint(v, 0xfffff, &x);
            n->label = (uint32_t) x;
            have_label = ok;
        } else if (!strcmp(k, "label2") && f == BGP_FAM_EVPN) {
            ok = parse_uint(v, 0xfffff, &x);
            n->label2 = (uint32_t) x;
            n->has_label2 = true;
        } else if (!strcmp(k, "target") || !strcmp(k, "encap")) {
            char t[96];
            snprintf(t, sizeof t, "%s:%s", !strcmp(k, "target") ? "target" : "encapsulation",
                     v);
            uint64_t ec;
            ok = bgp_ext_community_parse(t, &ec);
            if (ok) {
                bgp_attrs_add_ext_community(a, ec);
            }
        } else if (!strcmp(k, "local-pref")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            a->local_pref = (uint32_t) x;
            a->present |= BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF);
        } else if (!strcmp(k, "med")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            a->med = (uint32_t) x;
            a->present |= BGP_ATTR_BIT(BGP_ATTR_MED);
        } else if (!strcmp(k, "origin")) {
            ok = !strcmp(v, "igp") || !strcmp(v, "egp") || !strcmp(v, "incomplete");
            a->origin = !strcmp(v, "igp") ? 0 : !strcmp(v, "egp") ? 1 : 2;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "type")) {
            ok = parse_uint(v, 3, &x) && x >= 2;
            n->p.evpn_type = (uint8_t) x;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "rd")) {
            ok = bgp_rd_parse(v, n->p.rd);
            have_rd = ok;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "mac")) {
            ok = parse_mac(v, n->p.mac);
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "etag")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            n->p.etag = (uint32_t) x;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "ip")) {
            if (inet_pton(AF_INET, v, n->p.addr) == 1) {
                n->p.ip_len = 32;
            } else if (inet_pton(AF_INET6, v, n->p.addr) == 1) {
                n->p.ip_len = 128;
            } else {
                ok = false;
            }
        } else {
            snprintf(err, errlen, "unknown keyword '%s'", k);
            bgp_attrs_clear(a);
            return EINVAL;
        }
        if (!ok) {
            snprintf(err, errlen, "bad %s '%s'", k, v);
            bgp_attrs_clear(a);
            return EINVAL;
        }
    }
    const char *missing = NULL;
    if ((f == BGP_FAM_INET_VPN || f == BGP_FAM_INET6_VPN) && !have_label) {
        missing = "label";
    } else if (f == BGP_FAM_EVPN && !n->p.evpn_type) {
        missing = "type";
    } else if (f == BGP_FAM_EVPN && !have_rd) {
        missing = "rd";
    } else if (f == BGP_FAM_EVPN && n->p.evpn_type == 3 && !n->p.ip_len) {
        missing = "ip";
    } else if (f == BGP_FAM_EVPN && n->p.evpn_type == 2 && !have_label) {
        missing = "label";
    }
    if (missing) {
        snprintf(err, errlen, "%s route needs '%s'", w[0], missing);
        bgp_attrs_clear(a);
        return EINVAL;
    }
    return 0;
}

struct local_route {
    struct bgp_table *t;
    struct bgp_nlri n;
    struct bgp_attrs a;
};

/* Whether table T holds a local path for P that the new list V[N] no longer has. */
static bool
listed(const struct local_route *v, size_t n, const struct bgp_table *t,
       const struct bgp_prefix *p)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].t == t && !memcmp(&v[i].n.p, p, sizeof *p)) {
            return true;
        }
    }
    return false;
}

/* Withdraws the local paths of table T not in V[N]. */
static void
withdraw_unlisted(struct bgp_server *s, struct bgp_table *t, const struct local_route *v,
                  size_t n)
{
    const struct bgp_source *src = &s->file_src;
    for (;;) {
        struct bgp_prefix gone[64];
        size_t k = 0;
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, t) {
            if (k < 64 && bgp_route_path(r, src, NULL) && !listed(v, n, t, &r->p)) {
                gone[k++] = r->p;
            }
        }
        for (size_t i = 0; i < k; i++) {
            bgp_table_withdraw(t, src, NULL, &gone[i]);
        }
        if (k < 64) {
            break;
        }
    }
}

int
bgp_server_load_routes(struct bgp_server *s, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e;
    }
    struct local_route *v = NULL;
    size_t n = 0, cap = 0;
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *p = line;
        while (isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            continue;
        }
        struct bgp_ri *ri = s->mgr->master;
        if (!strncmp(p, "instance ", 9)) {
            p += 9;
            while (isspace((unsigned char) *p)) {
                p++;
            }
            char *name = p;
            while (*p && !isspace((unsigned char) *p)) {
                p++;
            }
            if (*p) {
                *p++ = '\0';
            }
            ri = bgp_ri_locate(s->mgr, name);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = mem_realloc(&mem_bgp_local_route, v, cap * sizeof *v);
        }
        char e[256];
        if (bgp_server_parse_route(p, &v[n].n, &v[n].a, e, sizeof e)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
            rc = EINVAL;
            break;
        }
        v[n].t = ri->tables[v[n].n.p.family];
        if (!v[n].t) {
            snprintf(err, errlen, "%s:%d: instance %s has no %s table", path, lineno, ri->name,
                     bgp_family_name(v[n].n.p.family));
            bgp_attrs_clear(&v[n].a);
            rc = EINVAL;
            break;
        }
        n++;
    }
    fclose(fp);
    if (!rc) {
        /* Withdraw local paths no longer listed, then add or change the listed ones. */
        struct bgp_ri *ri;
        HMAP_FOR_EACH (ri, node, &s->mgr->instances) {
            for (int f = 0; f < BGP_FAM_N; f++) {
                if (ri->tables[f]) {
                    withdraw_unlisted(s, ri->tables[f], v, n);
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            bgp_table_update(v[i].t, &s->file_src, NULL, &v[i].n, &v[i].a, 0);
        }
        s->n_local_routes = n;
        LOG_NOTICE("%zu local routes loaded from %s", n, path);
    }
    for (size_t i = 0; i < n; i++) {
        bgp_attrs_clear(&v[i].a);
    }
    mem_free(&mem_bgp_local_route, v);
    return rc;
}

/* --- Introspect -------------------------------------------------------------------------- */

static json_t *
families_json(uint32_t mask)
{
    json_t *a = json_array();
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (mask & (1u << f)) {
            json_array_append_new(a, json_string(bgp_family_name(f)));
        }
    }
    return a;
}

static json_t *
counters_json(const uint64_t *c)
{
    return xjson_pack("{sIsIsIsIsI}", "open", (json_int_t) c[1], "update", (json_int_t) c[2],
                      "notification", (json_int_t) c[3], "keepalive", (json_int_t) c[4],
                      "route_refresh", (json_int_t) c[5]);
}

static json_t *
error_json(bool any, const struct bgp_error *e)
{
    if (!any) {
        return json_null();
    }
    return xjson_pack("{sisiss}", "code", e->code, "subcode", e->subcode, "name",
                      bgp_error_name(e->code));
}

static void
format_sockaddr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *) ss)->sin_addr, buf, (socklen_t) size);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ss)->sin6_addr, buf,
                  (socklen_t) size);
    } else {
        snprintf(buf, size, "-");
    }
}

static json_t *
page_neighbors(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    json_t *list = json_array();
    time_t now = time(NULL);
    for (int i = 0; i < s->n_peers; i++) {
        const struct bgp_peer *p = s->peers[i];
        if (!p) {
            continue;
        }
        char addr[INET6_ADDRSTRLEN], id[INET_ADDRSTRLEN];
        format_sockaddr(&p->cfg.addr, addr, sizeof addr);
        uint32_t rid = htonl(p->remote.bgp_id);
        inet_ntop(AF_INET, &rid, id, sizeof id);
        uint64_t n_paths = 0;
        for (int f = 0; f < BGP_FAM_N; f++) {
            struct bgp_route *r;
            if (!s->mgr->master->tables[f]) {
                continue;
            }
            BGP_TABLE_FOR_EACH (r, s->mgr->master->tables[f]) {
                for (struct bgp_path *pp = r->paths; pp; pp = pp->next) {
                    n_paths += pp->src == &p->src && !pp->origin;
                }
            }
        }
        bool up = p->state == BGP_ESTABLISHED;
        json_array_append_new(list, xjson_pack(
            "{sssssisIsIsssbsbsIsIsosososososososssIsIsIsbsbsb}",
            "peer", p->cfg.name, "peer_address", addr,
            "peer_port", ntohs(((const struct sockaddr_in *) &p->cfg.addr)->sin_port),
            "peer_asn", (json_int_t) p->cfg.peer_as,
            "local_asn", (json_int_t) s->local.asn,
            "state", bgp_state_name(p->state),
            "passive", p->cfg.passive,
            "auth", p->cfg.password[0] != '\0',
            "uptime", (json_int_t) (up ? now - p->established_at : 0),
            "flap_count", (json_int_t) p->flaps,
            "configured_families", families_json(p->cfg.families),
            "peer_families", up ? families_json(p->remote.families) : json_array(),
            "negotiated_families", up ? families_json(p->families) : json_array(),
            "rx", counters_json(p->msgs[BGP_STAT_RX]),
            "tx", counters_json(p->msgs[BGP_STAT_TX]),
            "last_notification_sent", error_json(p->sent_any, &p->last_sent),
            "last_notification_received", error_json(p->received_any, &p->last_received),
            "last_event", p->last_reason,
            "hold_time", (json_int_t) (up ? p->hold_time : p->cfg.hold_time),
            "paths", (json_int_t) n_paths,
            "treat_as_withdraw", (json_int_t) p->updates_withdrawn_7606,
            "as4", up && p->remote.as4_cap,
            "route_refresh", up && p->remote.route_refresh,
            "graceful_restart", up && p->remote.gr_cap));
        json_t *last = json_array_get(list, json_array_size(list) - 1);
        json_object_set_new(last, "peer_id", json_string(up ? id : ""));
        json_object_set_new(last, "attrs_discarded", json_integer((json_int_t) p->attrs_discarded));
    }
    return xjson_pack("{so}", "neighbors", list);
}

static json_t *
path_json(const struct bgp_route *r, const struct bgp_path *p)
{
    char nh[INET6_ADDRSTRLEN] = "";
    if (p->attrs->nexthop.family) {
        inet_ntop(p->attrs->nexthop.family == 4 ? AF_INET : AF_INET6, p->attrs->nexthop.addr, nh,
                  sizeof nh);
    }
    json_t *aspath = json_array();
    for (size_t i = 0; i < p->attrs->as_path_n; ) {
        unsigned int count = p->attrs->as_path[i] & 0xff;
        bool set = (p->attrs->as_path[i] >> 8) == BGP_AS_SET;
        json_t *seg = set ? json_array() : aspath;
        for (unsigned int j = 1; j <= count; j++) {
            json_array_append_new(seg, json_integer(p->attrs->as_path[i + j]));
        }
        if (set) {
            json_array_append_new(aspath, seg);
        }
        i += 1 + count;
    }
    json_t *ecs = json_array(), *cs = json_array();
    char t[64];
    for (size_t i = 0; i < p->attrs->n_ext_communities; i++) {
        json_array_append_new(ecs, json_string(bgp_ext_community_format(
                                  p->attrs->ext_communities[i], t, sizeof t)));
    }
    for (size_t i = 0; i < p->attrs->n_communities; i++) {
        json_array_append_new(cs, json_string(bgp_community_format(p->attrs->communities[i], t,
                                                                   sizeof t)));
    }
    static const char *origins[] = { "igp", "egp", "incomplete" };
    json_t *j = xjson_pack("{sssbsssIsosssIsososI}",
                           "source", p->src->name, "best", p == r->best, "next_hop", nh,
                           "label", (json_int_t) p->label, "as_path", aspath,
                           "origin", origins[p->attrs->origin % 3],
                           "local_pref", (json_int_t) ((p->attrs->present
                                                        & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF))
                                                       ? p->attrs->local_pref : 100),
                           "ext_communities", ecs, "communities", cs,
                           "age", (json_int_t) ((uint32_t) time(NULL) - p->since));
    if (p->attrs->present & BGP_ATTR_BIT(BGP_ATTR_MED)) {
        json_object_set_new(j, "med", json_integer(p->attrs->med));
    }
    if (p->has_label2) {
        json_object_set_new(j, "label2", json_integer(p->label2));
    }
    if (p->origin) {
        json_object_set_new(j, "replicated", json_true());
    }
    if (p->flags & BGP_PATH_STALE) {
        json_object_set_new(j, "stale", json_true());
    }
    if (p->flags & BGP_PATH_INFEASIBLE) {
        json_object_set_new(j, "infeasible", json_true());
    }
    return j;
}

static json_t *
table_json(const struct bgp_table *t, bool with_routes, long limit)
{
    json_t *j = xjson_pack("{sssssIsI}", "name", t->name, "family", bgp_family_name(t->family),
                           "prefixes", (json_int_t) hmap_count(&t->routes),
                           "paths", (json_int_t) t->n_paths);
    if (with_routes) {
        json_t *routes = json_array();
        struct bgp_route *r;
        long n = 0;
        BGP_TABLE_FOR_EACH (r, t) {
            if (limit >= 0 && n++ >= limit) {
                break;
            }
            char pfx[BGP_PREFIX_STRLEN];
            json_t *paths = json_array();
            for (const struct bgp_path *p = r->paths; p; p = p->next) {
                json_array_append_new(paths, path_json(r, p));
            }
            json_array_append_new(routes, xjson_pack("{ssso}", "prefix",
                                                     bgp_prefix_format(&r->p, pfx, sizeof pfx),
                                                     "paths", paths));
        }
        json_object_set_new(j, "routes", routes);
    }
    return j;
}

/* ?table=NAME (a table's full name, or a family name for the master's table), ?instance=NAME
 * (every table of one instance), ?limit=N (routes per table). */
static json_t *
page_routes(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    const char *want = http_req_query(req, "table");
    const char *inst = http_req_query(req, "instance");
    const char *lim = http_req_query(req, "limit");
    long limit = lim ? strtol(lim, NULL, 10) : -1;
    json_t *tables = json_array();
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &s->mgr->instances) {
        if (inst && strcmp(inst, ri->name)) {
            continue;
        }
        for (int f = 0; f < BGP_FAM_N; f++) {
            const struct bgp_table *t = ri->tables[f];
            if (!t || (want && strcmp(want, t->name)
                       && !(ri->master && !strcmp(want, bgp_family_name(f))))) {
                continue;
            }
            json_array_append_new(tables, table_json(t, true, limit));
        }
    }
    return xjson_pack("{so}", "tables", tables);
}

static json_t *
page_summary(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    json_t *tables = json_array();
    struct bgp_ri *ri;
    uint64_t prefixes = 0, paths = 0;
    HMAP_FOR_EACH (ri, node, &s->mgr->instances) {
        for (int f = 0; f < BGP_FAM_N; f++) {
            if (ri->tables[f]) {
                prefixes += hmap_count(&ri->tables[f]->routes);
                paths += ri->tables[f]->n_paths;
                if (ri->master || hmap_count(&ri->tables[f]->routes)) {
                    json_array_append_new(tables, table_json(ri->tables[f], false, 0));
                }
            }
        }
    }
    int up = 0;
    int configured = 0;
    for (int i = 0; i < s->n_peers; i++) {
        up += s->peers[i] && s->peers[i]->state == BGP_ESTABLISHED;
        configured += s->peers[i] != NULL;
    }
    json_t *j = xjson_pack("{sIsisisisIsIso}", "asn", (json_int_t) s->local.asn,
                           "bgp_port", s->port, "neighbors", configured, "neighbors_up", up,
                           "local_routes", (json_int_t) s->n_local_routes,
                           "updates_sent", (json_int_t) s->n_updates_sent, "tables", tables);
    json_object_set_new(j, "routing_instances",
                        json_integer((json_int_t) hmap_count(&s->mgr->instances)));
    json_object_set_new(j, "total_prefixes", json_integer((json_int_t) prefixes));
    json_object_set_new(j, "total_paths", json_integer((json_int_t) paths));
    json_object_set_new(j, "attribute_sets",
                        json_integer((json_int_t) bgp_rib_attr_sets(&s->mgr->rib)));
    json_object_set_new(j, "replicated_paths", json_integer((json_int_t) s->mgr->n_replicated));
    return j;
}

static json_t *
targets_json(const uint64_t *v, size_t n)
{
    json_t *a = json_array();
    char t[64];
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(bgp_ext_community_format(v[i], t, sizeof t)));
    }
    return a;
}

/* ?name=NAME for one instance. */
static json_t *
page_instances(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    const char *want = http_req_query(req, "name");
    json_t *list = json_array();
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &s->mgr->instances) {
        if (want && strcmp(want, ri->name)) {
            continue;
        }
        json_t *tables = json_array();
        for (int f = 0; f < BGP_FAM_N; f++) {
            if (ri->tables[f]) {
                json_array_append_new(tables, table_json(ri->tables[f], false, 0));
            }
        }
        json_array_append_new(list, xjson_pack(
            "{sssbsIsIsosososIso}", "name", ri->name, "master", ri->master,
            "index", (json_int_t) ri->index, "vn_index", (json_int_t) ri->vn_index,
            "virtual_network", ri->vn_name ? json_string(ri->vn_name) : json_null(),
            "import_targets", targets_json(ri->import_rts, ri->n_import),
            "export_targets", targets_json(ri->export_rts, ri->n_export),
            "subscribers", (json_int_t) ri->subscribers, "tables", tables));
    }
    return xjson_pack("{so}", "instances", list);
}

void
bgp_server_register_introspect(struct bgp_server *s, struct introspect *is)
{
    introspect_add_page(is, "/Snh_BgpNeighborReq", "BGP neighbors", page_neighbors, s);
    introspect_add_page(is, "/Snh_ShowRouteReq", "BGP route tables (?table=NAME)", page_routes,
                        s);
    introspect_add_page(is, "/Snh_ShowRouteSummaryReq", "BGP route table summary",
                        page_summary, s);
    introspect_add_page(is, "/Snh_ShowRoutingInstanceReq", "routing instances (?name=NAME)",
                        page_instances, s);
    introspect_add_counter(is, "bgp_updates_sent", "BGP UPDATE messages sent",
                           &s->n_updates_sent);
    introspect_add_counter(is, "bgp_rejected_connections",
                           "TCP connections from unconfigured peers",
                           &s->n_rejected_connections);
}
