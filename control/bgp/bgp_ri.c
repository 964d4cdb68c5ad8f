/* bgp_ri: routing instances and replication.  See bgp_ri.h. */
#include "bgp_ri.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(bgp_ri);

static MEM_TYPE(mem_bgp_ri, "bgp_ri");
static MEM_TYPE(mem_bgp_repl, "bgp_repl");

/* One replica made from a route: the path (SRC, origin = the route) at P in TABLE. */
struct bgp_repl {
    struct bgp_repl *next;
    struct bgp_table *table;
    const struct bgp_source *src;
    struct bgp_prefix p;
};

/* --- Helpers ----------------------------------------------------------------------------- */

int
bgp_ri_vpn_family(enum bgp_family f)
{
    switch (f) {
    case BGP_FAM_INET:
        return BGP_FAM_INET_VPN;
    case BGP_FAM_INET6:
        return BGP_FAM_INET6_VPN;
    case BGP_FAM_EVPN:
        return BGP_FAM_EVPN;
    default:
        return -1;
    }
}

void
bgp_ri_vrf_prefix(const struct bgp_prefix *vpn, struct bgp_prefix *out)
{
    *out = *vpn;
    memset(out->rd, 0, sizeof out->rd);
    if (vpn->family == BGP_FAM_INET_VPN) {
        out->family = BGP_FAM_INET;
    } else if (vpn->family == BGP_FAM_INET6_VPN) {
        out->family = BGP_FAM_INET6;
    }
}

uint64_t
bgp_ri_origin_vn(uint32_t asn, uint32_t vn_index)
{
    if (asn > 0xffff) {
        return UINT64_C(0x8271) << 48 | (uint64_t) asn << 16 | (vn_index & 0xffff);
    }
    return UINT64_C(0x8071) << 48 | (uint64_t) asn << 32 | vn_index;
}

uint32_t
bgp_ri_attrs_origin_vn(const struct bgp_attrs *a)
{
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        uint64_t ec = a->ext_communities[i];
        if ((ec >> 48) == 0x8071) {
            return (uint32_t) ec;
        }
        if ((ec >> 48) == 0x8271) {
            return (uint32_t) (ec & 0xffff);
        }
    }
    return 0;
}

bool
bgp_ri_is_target(uint64_t ec)
{
    return ((ec >> 48) & 0xff) == 0x02 && (ec >> 56) <= 2;
}

static bool
has_u64(const uint64_t *v, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == x) {
            return true;
        }
    }
    return false;
}

/* Whether instance J imports a path carrying targets ECS (plus EXTRA). */
static bool
imports(const struct bgp_ri *j, const struct bgp_attrs *a, const uint64_t *extra,
        size_t n_extra)
{
    for (size_t i = 0; i < j->n_import; i++) {
        if (has_u64(a->ext_communities, a->n_ext_communities, j->import_rts[i])
            || has_u64(extra, n_extra, j->import_rts[i])) {
            return true;
        }
    }
    return false;
}

/* --- Instances --------------------------------------------------------------------------- */

static void rib_changed(struct bgp_table *, struct bgp_route *, void *aux);

void
bgp_ri_mgr_init(struct bgp_ri_mgr *m, uint32_t asn, uint32_t router_id)
{
    memset(m, 0, sizeof *m);
    m->asn = asn;
    m->router_id = router_id;
    m->next_index = 1;
    bgp_rib_init(&m->rib, rib_changed, m);
    hmap_init(&m->instances);
    m->local_src.name = "local";
    m->local_src.local = true;
    m->local_src.router_id = router_id;
    m->master = bgp_ri_locate(m, BGP_RI_MASTER);
}

void
bgp_ri_mgr_add_listener(struct bgp_ri_mgr *m, const struct bgp_ri_listener *l)
{
    if (m->n_listeners < BGP_RI_MAX_LISTENERS) {
        m->listeners[m->n_listeners++] = *l;
    }
}

static void
repl_free_all(struct bgp_route *r)
{
    while (r->repl) {
        struct bgp_repl *x = r->repl;
        r->repl = x->next;
        mem_free(&mem_bgp_repl, x);
    }
}

static void
ri_free(struct bgp_ri_mgr *m, struct bgp_ri *ri)
{
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (ri->tables[f]) {
            struct bgp_route *r;
            BGP_TABLE_FOR_EACH (r, ri->tables[f]) {
                repl_free_all(r);
            }
            bgp_table_destroy(ri->tables[f]);
            mem_free(&mem_bgp_ri, ri->tables[f]);
        }
    }
    hmap_remove(&m->instances, &ri->node);
    mem_free(&mem_bgp_ri, ri->import_rts);
    mem_free(&mem_bgp_ri, ri->export_rts);
    mem_free(&mem_bgp_ri, ri->vn_name);
    mem_free(&mem_bgp_ri, ri->name);
    mem_free(&mem_bgp_ri, ri);
}

void
bgp_ri_mgr_destroy(struct bgp_ri_mgr *m)
{
    m->rib.changed = NULL;
    struct bgp_ri *ri;
    HMAP_FOR_EACH_SAFE (ri, node, &m->instances) {
        ri_free(m, ri);
    }
    hmap_destroy(&m->instances);
    bgp_rib_destroy(&m->rib);
}

struct bgp_ri *
bgp_ri_find(const struct bgp_ri_mgr *m, const char *name)
{
    struct bgp_ri *ri;
    HMAP_FOR_EACH_WITH_HASH (ri, node, hash_string(name, 0), &m->instances) {
        if (!strcmp(ri->name, name)) {
            return ri;
        }
    }
    return NULL;
}

static void
add_table(struct bgp_ri_mgr *m, struct bgp_ri *ri, enum bgp_family f, const char *suffix)
{
    char name[1024];
    if (ri->master) {
        snprintf(name, sizeof name, "%s", suffix);
    } else {
        snprintf(name, sizeof name, "%s.%s", ri->name, suffix);
    }
    ri->tables[f] = mem_zalloc(&mem_bgp_ri, sizeof *ri->tables[f]);
    bgp_table_init(ri->tables[f], &m->rib, f, name, ri);
}

struct bgp_ri *
bgp_ri_locate(struct bgp_ri_mgr *m, const char *name)
{
    struct bgp_ri *ri = bgp_ri_find(m, name);
    if (ri) {
        return ri;
    }
    ri = mem_zalloc(&mem_bgp_ri, sizeof *ri);
    ri->name = mem_strdup(&mem_bgp_ri, name);
    ri->master = !strcmp(name, BGP_RI_MASTER);
    ri->index = ri->master ? 0 : m->next_index++;
    hmap_insert(&m->instances, &ri->node, hash_string(name, 0));
    add_table(m, ri, BGP_FAM_INET, "inet.0");
    add_table(m, ri, BGP_FAM_INET6, "inet6.0");
    if (ri->master) {
        add_table(m, ri, BGP_FAM_INET_VPN, "bgp.l3vpn.0");
        add_table(m, ri, BGP_FAM_INET6_VPN, "bgp.l3vpn-inet6.0");
        add_table(m, ri, BGP_FAM_EVPN, "bgp.evpn.0");
        add_table(m, ri, BGP_FAM_RTARGET, "bgp.rtarget.0");
    } else {
        add_table(m, ri, BGP_FAM_EVPN, "evpn.0");
    }
    return ri;
}

static uint64_t *
dup_u64(const uint64_t *v, size_t n)
{
    if (!n) {
        return NULL;
    }
    uint64_t *c = mem_realloc(&mem_bgp_ri, NULL, n * sizeof *c);
    memcpy(c, v, n * sizeof *c);
    return c;
}

void
bgp_ri_configure(struct bgp_ri_mgr *m, struct bgp_ri *ri, uint32_t vn_index,
                 const char *vn_name, const uint64_t *import, size_t n_import,
                 const uint64_t *export, size_t n_export)
{
    ri->configured = true;
    bool vn_changed = ri->vn_index != vn_index
        || (!ri->vn_name != !vn_name) || (vn_name && strcmp(ri->vn_name, vn_name));
    ri->vn_index = vn_index;
    mem_free(&mem_bgp_ri, ri->vn_name);
    ri->vn_name = vn_name ? mem_strdup(&mem_bgp_ri, vn_name) : NULL;
    for (int i = 0; vn_changed && i < m->n_listeners; i++) {
        if (m->listeners[i].ri_vn_changed) {
            m->listeners[i].ri_vn_changed(ri, m->listeners[i].aux);
        }
    }
    mem_free(&mem_bgp_ri, ri->import_rts);
    mem_free(&mem_bgp_ri, ri->export_rts);
    ri->import_rts = dup_u64(import, n_import);
    ri->n_import = n_import;
    ri->export_rts = dup_u64(export, n_export);
    ri->n_export = n_export;
}

/* --- Replication ------------------------------------------------------------------------- */

/* One replica to make. */
struct want {
    struct bgp_table *table;
    const struct bgp_source *src;
    struct bgp_prefix p;
    const struct bgp_attrs *attrs;  /* Interned (a reference owned by the want list). */
    const struct bgp_path *path;
};

struct want_list {
    struct want *v;
    size_t n, cap;
};

static void
want_add(struct bgp_ri_mgr *m, struct want_list *w, struct bgp_table *t,
         const struct bgp_path *path, const struct bgp_prefix *p, const struct bgp_attrs *a)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 8;
        w->v = mem_realloc(&mem_bgp_repl, w->v, w->cap * sizeof *w->v);
    }
    w->v[w->n++] = (struct want) { .table = t, .src = path->src, .p = *p,
                                   .attrs = bgp_rib_attrs_ref(a), .path = path };
}

/* The attributes a path of instance RI carries out of it: the instance's export targets and
 * its origin VN added (reference §3.5). */
static const struct bgp_attrs *
export_attrs(struct bgp_ri_mgr *m, const struct bgp_ri *ri, const struct bgp_path *path)
{
    const struct bgp_attrs *a = path->attrs;
    bool add_vn = ri->vn_index && !bgp_ri_attrs_origin_vn(a);
    bool add_rt = false;
    for (size_t i = 0; i < ri->n_export && !add_rt; i++) {
        add_rt = !has_u64(a->ext_communities, a->n_ext_communities, ri->export_rts[i]);
    }
    if (!add_vn && !add_rt) {
        return bgp_rib_attrs_ref(a);
    }
    struct bgp_attrs c;
    bgp_attrs_copy(&c, a);
    for (size_t i = 0; i < ri->n_export; i++) {
        if (!has_u64(c.ext_communities, c.n_ext_communities, ri->export_rts[i])) {
            bgp_attrs_add_ext_community(&c, ri->export_rts[i]);
        }
    }
    if (add_vn) {
        bgp_attrs_add_ext_community(&c, bgp_ri_origin_vn(m->asn, ri->vn_index));
    }
    const struct bgp_attrs *r = bgp_rib_attrs_intern(&m->rib, &c);
    bgp_attrs_clear(&c);
    return r;
}

/* The RD of an instance path in the VPN table. */
static void
vpn_rd(const struct bgp_ri_mgr *m, const struct bgp_ri *ri, const struct bgp_path *path,
       uint8_t rd[8])
{
    static const uint8_t zero[8];
    if (memcmp(path->attrs->source_rd, zero, 8)) {
        memcpy(rd, path->attrs->source_rd, 8);
        return;
    }
    /* Type 1: router-id (4 bytes) : instance index (2 bytes). */
    rd[0] = 0;
    rd[1] = 1;
    rd[2] = (uint8_t) (m->router_id >> 24);
    rd[3] = (uint8_t) (m->router_id >> 16);
    rd[4] = (uint8_t) (m->router_id >> 8);
    rd[5] = (uint8_t) m->router_id;
    rd[6] = (uint8_t) (ri->index >> 8);
    rd[7] = (uint8_t) ri->index;
}

/* Whether PATH of R is one the replicator copies: primary, feasible, and tied with the best
 * path for ECMP. */
static bool
replicable(const struct bgp_route *r, const struct bgp_path *path)
{
    return !path->origin && r->best && !(path->flags & BGP_PATH_INFEASIBLE)
        && (path == r->best || bgp_path_ecmp(path, r->best));
}

static void
compute_wants(struct bgp_ri_mgr *m, struct bgp_table *t, struct bgp_route *r,
              struct want_list *w)
{
    struct bgp_ri *ri = t->owner;
    if (ri->deleted || !r->best) {
        return;
    }
    for (const struct bgp_path *path = r->paths; path; path = path->next) {
        if (!replicable(r, path)) {
            continue;
        }
        if (!ri->master) {
            /* Out of an instance: into the VPN table and the importing instances. */
            int vf = bgp_ri_vpn_family(t->family);
            if (vf < 0) {
                continue;
            }
            const struct bgp_attrs *a = export_attrs(m, ri, path);
            struct bgp_prefix vp = r->p;
            vp.family = (uint8_t) vf;
            vpn_rd(m, ri, path, vp.rd);
            want_add(m, w, m->master->tables[vf], path, &vp, a);
            struct bgp_ri *j;
            HMAP_FOR_EACH (j, node, &m->instances) {
                if (j != ri && !j->master && !j->deleted && j->tables[t->family]
                    && imports(j, a, NULL, 0)) {
                    want_add(m, w, j->tables[t->family], path, &r->p, a);
                }
            }
            bgp_rib_attrs_unref(&m->rib, a);
        } else if (t->family == BGP_FAM_INET_VPN || t->family == BGP_FAM_INET6_VPN
                   || t->family == BGP_FAM_EVPN) {
            /* Out of a VPN table: into the importing instances. */
            struct bgp_prefix vrf;
            bgp_ri_vrf_prefix(&r->p, &vrf);
            struct bgp_ri *j;
            HMAP_FOR_EACH (j, node, &m->instances) {
                if (!j->master && !j->deleted && j->tables[vrf.family]
                    && imports(j, path->attrs, NULL, 0)) {
                    want_add(m, w, j->tables[vrf.family], path, &vrf, path->attrs);
                }
            }
        }
    }
}

/* Makes R's replicas those its paths call for now. */
static void
replicate(struct bgp_ri_mgr *m, struct bgp_table *t, struct bgp_route *r)
{
    struct want_list w = { 0 };
    compute_wants(m, t, r, &w);
    /* Remove the replicas no longer wanted. */
    for (struct bgp_repl **xp = &r->repl; *xp; ) {
        struct bgp_repl *x = *xp;
        bool keep = false;
        for (size_t i = 0; i < w.n && !keep; i++) {
            keep = w.v[i].table == x->table && w.v[i].src == x->src
                && !memcmp(&w.v[i].p, &x->p, sizeof x->p);
        }
        if (keep) {
            xp = &x->next;
            continue;
        }
        *xp = x->next;
        struct bgp_table *dt = x->table;
        struct bgp_prefix p = x->p;
        const struct bgp_source *src = x->src;
        mem_free(&mem_bgp_repl, x);
        m->n_replicated--;
        bgp_table_withdraw(dt, src, r, &p);
    }
    /* Add or update the wanted ones. */
    for (size_t i = 0; i < w.n; i++) {
        struct want *x = &w.v[i];
        bool have = false;
        for (struct bgp_repl *y = r->repl; y && !have; y = y->next) {
            have = y->table == x->table && y->src == x->src
                && !memcmp(&y->p, &x->p, sizeof y->p);
        }
        if (!have) {
            struct bgp_repl *y = mem_zalloc(&mem_bgp_repl, sizeof *y);
            y->table = x->table;
            y->src = x->src;
            y->p = x->p;
            y->next = r->repl;
            r->repl = y;
            m->n_replicated++;
        }
        struct bgp_nlri n = { .p = x->p, .label = x->path->label, .label2 = x->path->label2,
                              .has_label2 = x->path->has_label2 };
        bgp_table_update(x->table, x->src, r, &n, x->attrs,
                         x->path->flags & BGP_PATH_STALE);
        bgp_rib_attrs_unref(&m->rib, x->attrs);
    }
    mem_free(&mem_bgp_repl, w.v);
}

static void
rib_changed(struct bgp_table *t, struct bgp_route *r, void *aux)
{
    struct bgp_ri_mgr *m = aux;
    replicate(m, t, r);
    struct bgp_ri *ri = t->owner;
    for (int i = 0; i < m->n_listeners; i++) {
        if (m->listeners[i].route_changed) {
            m->listeners[i].route_changed(ri, t, r, m->listeners[i].aux);
        }
    }
}

/* --- Route-target routes ----------------------------------------------------------------- */

static void
rtarget_prefix(const struct bgp_ri_mgr *m, uint64_t rt, struct bgp_prefix *p)
{
    memset(p, 0, sizeof *p);
    p->family = BGP_FAM_RTARGET;
    p->origin_as = m->asn;
    p->plen = 64;
    for (int k = 0; k < 8; k++) {
        p->rt[k] = (uint8_t) (rt >> (56 - 8 * k));
    }
}

static bool
rt_wanted(const struct bgp_ri_mgr *m, const struct bgp_prefix *p)
{
    uint64_t rt = 0;
    for (int k = 0; k < 8; k++) {
        rt = rt << 8 | p->rt[k];
    }
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &m->instances) {
        if (ri->subscribers && !ri->deleted && has_u64(ri->import_rts, ri->n_import, rt)) {
            return true;
        }
    }
    return false;
}

/* Makes the node's route-target routes those of the import targets of subscribed instances. */
static void
sync_rtargets(struct bgp_ri_mgr *m)
{
    struct bgp_table *t = m->master->tables[BGP_FAM_RTARGET];
    struct bgp_prefix stale[64];
    size_t n_stale;
    do {                        /* Withdrawals change the table: collect, then remove. */
        n_stale = 0;
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, t) {
            if (n_stale < 64 && r->p.origin_as == m->asn && bgp_route_path(r, &m->local_src, NULL)
                && !rt_wanted(m, &r->p)) {
                stale[n_stale++] = r->p;
            }
        }
        for (size_t i = 0; i < n_stale; i++) {
            bgp_table_withdraw(t, &m->local_src, NULL, &stale[i]);
        }
    } while (n_stale == 64);
    struct bgp_attrs a = { .present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN)
                                      | BGP_ATTR_BIT(BGP_ATTR_AS_PATH) };
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &m->instances) {
        if (!ri->subscribers || ri->deleted) {
            continue;
        }
        for (size_t i = 0; i < ri->n_import; i++) {
            struct bgp_nlri n = { 0 };
            rtarget_prefix(m, ri->import_rts[i], &n.p);
            bgp_table_update(t, &m->local_src, NULL, &n, &a, 0);
        }
    }
}

void
bgp_ri_subscribe(struct bgp_ri_mgr *m, struct bgp_ri *ri)
{
    if (ri->subscribers++ == 0) {
        sync_rtargets(m);
    }
}

void
bgp_ri_unsubscribe(struct bgp_ri_mgr *m, struct bgp_ri *ri)
{
    if (ri->subscribers && --ri->subscribers == 0) {
        sync_rtargets(m);
        bool empty = true;
        for (int f = 0; f < BGP_FAM_N && empty; f++) {
            empty = !ri->tables[f] || !hmap_count(&ri->tables[f]->routes);
        }
        if (ri->delete_pending || (!ri->configured && !ri->master && empty)) {
            bgp_ri_delete(m, ri);
        }
    }
}

/* --- Resync and deletion ----------------------------------------------------------------- */

/* Re-replicates every route of table T.  Replication never adds or removes routes in the
 * table it reads (replicas go to other tables), but a walk must not see a route freed under
 * it: collect the prefixes first. */
static void
resync_table(struct bgp_ri_mgr *m, struct bgp_table *t)
{
    size_t n = hmap_count(&t->routes), i = 0;
    if (!n) {
        return;
    }
    struct bgp_prefix *v = mem_realloc(&mem_bgp_repl, NULL, n * sizeof *v);
    struct bgp_route *r;
    BGP_TABLE_FOR_EACH (r, t) {
        v[i++] = r->p;
    }
    for (i = 0; i < n; i++) {
        r = bgp_table_find(t, &v[i]);
        if (r) {
            replicate(m, t, r);
        }
    }
    mem_free(&mem_bgp_repl, v);
}

void
bgp_ri_mgr_resync(struct bgp_ri_mgr *m)
{
    m->n_resyncs++;
    struct bgp_ri *ri;
    HMAP_FOR_EACH (ri, node, &m->instances) {
        for (int f = 0; f < BGP_FAM_N; f++) {
            if (ri->tables[f] && f != BGP_FAM_RTARGET) {
                resync_table(m, ri->tables[f]);
            }
        }
    }
    sync_rtargets(m);
}

void
bgp_ri_delete(struct bgp_ri_mgr *m, struct bgp_ri *ri)
{
    if (ri->master) {
        return;
    }
    ri->deleted = true;
    /* Its own paths go (and with them their replicas elsewhere); then the replicas other
     * routes made into it. */
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = ri->tables[f];
        if (!t) {
            continue;
        }
        resync_table(m, t);
    }
    bgp_ri_mgr_resync(m);
    for (int i = 0; i < m->n_listeners; i++) {
        if (m->listeners[i].ri_deleted) {
            m->listeners[i].ri_deleted(ri, m->listeners[i].aux);
        }
    }
    /* What is left are primary paths of sources (agents) that the listeners dropped or that
     * stay until they unsubscribe; they go without hooks. */
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_table *t = ri->tables[f];
        if (!t) {
            continue;
        }
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, t) {
            if (r->repl) {
                LOG_WARN("instance %s deleted with replicas left", ri->name);
            }
        }
    }
    LOG_INFO("routing instance %s deleted", ri->name);
    ri_free(m, ri);
}
