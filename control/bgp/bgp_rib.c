/* bgp_rib: route tables, paths, interned attributes and best-path selection.  See bgp_rib.h. */
#include "bgp_rib.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "mem.h"

static MEM_TYPE(mem_bgp_route, "bgp_route");
static MEM_TYPE(mem_bgp_path, "bgp_path");
static MEM_TYPE(mem_bgp_attr_set, "bgp_attr_set");
static MEM_TYPE(mem_bgp_table, "bgp_table");

/* --- Attribute sets ---------------------------------------------------------------------- */

static uint32_t
attrs_hash(const struct bgp_attrs *a)
{
    uint64_t present = a->present & ~(BGP_ATTR_BIT(BGP_ATTR_NEXT_HOP)
                                      | BGP_ATTR_BIT(BGP_ATTR_MP_REACH)
                                      | BGP_ATTR_BIT(BGP_ATTR_MP_UNREACH));
    uint32_t h = hash_bytes(&present, sizeof present, a->origin);
    h = hash_bytes(a->source_rd, sizeof a->source_rd, h);
    h = hash_bytes(a->as_path, a->as_path_n * sizeof *a->as_path, h);
    h = hash_bytes(&a->nexthop, sizeof a->nexthop, h);
    uint32_t w[6] = { a->med, a->local_pref, a->aggregator_as, a->aggregator_id,
                      a->originator_id, (uint32_t) a->pmsi_len };
    h = hash_bytes(w, sizeof w, h);
    h = hash_bytes(a->communities, a->n_communities * sizeof *a->communities, h);
    h = hash_bytes(a->ext_communities, a->n_ext_communities * sizeof *a->ext_communities, h);
    h = hash_bytes(a->cluster_list, a->n_cluster_list * sizeof *a->cluster_list, h);
    return hash_bytes(a->pmsi, a->pmsi_len, h);
}

void
bgp_rib_init(struct bgp_rib *rib, bgp_rib_change_fn *changed, void *aux)
{
    memset(rib, 0, sizeof *rib);
    hmap_init(&rib->attr_sets);
    rib->changed = changed;
    rib->aux = aux;
}

void
bgp_rib_destroy(struct bgp_rib *rib)
{
    struct bgp_attr_set *s;
    HMAP_FOR_EACH_SAFE (s, node, &rib->attr_sets) {
        hmap_remove(&rib->attr_sets, &s->node);
        bgp_attrs_clear(&s->a);
        mem_free(&mem_bgp_attr_set, s);
    }
    hmap_destroy(&rib->attr_sets);
}

static struct bgp_attr_set *
set_of(const struct bgp_attrs *a)
{
    return (struct bgp_attr_set *) (void *) ((char *) (uintptr_t) a
                                             - offsetof(struct bgp_attr_set, a));
}

const struct bgp_attrs *
bgp_rib_attrs_intern(struct bgp_rib *rib, const struct bgp_attrs *a)
{
    uint32_t h = attrs_hash(a);
    struct bgp_attr_set *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, h, &rib->attr_sets) {
        if (&s->a == a || bgp_attrs_equal(&s->a, a)) {
            s->refs++;
            return &s->a;
        }
    }
    s = mem_zalloc(&mem_bgp_attr_set, sizeof *s);
    bgp_attrs_copy(&s->a, a);
    s->refs = 1;
    hmap_insert(&rib->attr_sets, &s->node, h);
    return &s->a;
}

const struct bgp_attrs *
bgp_rib_attrs_ref(const struct bgp_attrs *a)
{
    set_of(a)->refs++;
    return a;
}

void
bgp_rib_attrs_unref(struct bgp_rib *rib, const struct bgp_attrs *a)
{
    if (!a) {
        return;
    }
    struct bgp_attr_set *s = set_of(a);
    if (--s->refs == 0) {
        hmap_remove(&rib->attr_sets, &s->node);
        bgp_attrs_clear(&s->a);
        mem_free(&mem_bgp_attr_set, s);
    }
}

size_t
bgp_rib_attr_sets(const struct bgp_rib *rib)
{
    return hmap_count(&rib->attr_sets);
}

/* --- Tables ------------------------------------------------------------------------------ */

void
bgp_table_init(struct bgp_table *t, struct bgp_rib *rib, enum bgp_family family,
               const char *name, void *owner)
{
    memset(t, 0, sizeof *t);
    t->rib = rib;
    t->family = family;
    t->name = mem_strdup(&mem_bgp_table, name);
    t->owner = owner;
    hmap_init(&t->routes);
}

static void
path_free(struct bgp_table *t, struct bgp_path *p)
{
    bgp_rib_attrs_unref(t->rib, p->attrs);
    mem_free(&mem_bgp_path, p);
}

void
bgp_table_destroy(struct bgp_table *t)
{
    struct bgp_route *r;
    HMAP_FOR_EACH_SAFE (r, node, &t->routes) {
        hmap_remove(&t->routes, &r->node);
        while (r->paths) {
            struct bgp_path *p = r->paths;
            r->paths = p->next;
            path_free(t, p);
        }
        mem_free(&mem_bgp_route, r);
    }
    hmap_destroy(&t->routes);
    mem_free(&mem_bgp_table, t->name);
    t->name = NULL;
}

static uint32_t
prefix_hash(const struct bgp_prefix *p)
{
    return hash_bytes(p, sizeof *p, 0);
}

struct bgp_route *
bgp_table_find(const struct bgp_table *t, const struct bgp_prefix *p)
{
    struct bgp_route *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, prefix_hash(p), &t->routes) {
        if (!memcmp(&r->p, p, sizeof *p)) {
            return r;
        }
    }
    return NULL;
}

void
bgp_table_hold(struct bgp_route *r)
{
    r->holds++;
}

void
bgp_table_release(struct bgp_table *t, struct bgp_route *r)
{
    if (--r->holds == 0 && !r->paths && !r->repl) {
        hmap_remove(&t->routes, &r->node);
        mem_free(&mem_bgp_route, r);
    }
}

struct bgp_path *
bgp_route_path(const struct bgp_route *r, const struct bgp_source *src,
               const struct bgp_route *origin)
{
    for (struct bgp_path *p = r->paths; p; p = p->next) {
        if (p->src == src && p->origin == origin) {
            return p;
        }
    }
    return NULL;
}

/* --- Best path --------------------------------------------------------------------------- */

static uint32_t
local_pref(const struct bgp_path *p)
{
    return (p->attrs->present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)) ? p->attrs->local_pref : 100;
}

/* MAC mobility sequence number (RFC 7432 §7.7) and sticky bit, when present. */
static void
mac_mobility(const struct bgp_path *p, uint32_t *seq, bool *sticky)
{
    *seq = 0;
    *sticky = false;
    for (size_t i = 0; i < p->attrs->n_ext_communities; i++) {
        uint64_t ec = p->attrs->ext_communities[i];
        if ((ec >> 48) == 0x0600) {
            *sticky = (ec >> 40) & 1;
            *seq = (uint32_t) ec;
        }
    }
}

#define PREFER(COND_A, COND_B) do { if (COND_A) return -1; if (COND_B) return 1; } while (0)

/* Steps 1-9 of §3.7: the paths that tie here are ECMP candidates. */
static int
compare_ecmp(const struct bgp_path *a, const struct bgp_path *b)
{
    bool fa = !(a->flags & BGP_PATH_INFEASIBLE), fb = !(b->flags & BGP_PATH_INFEASIBLE);
    PREFER(fa && !fb, fb && !fa);
    uint32_t lpa = local_pref(a), lpb = local_pref(b);
    PREFER(lpa > lpb, lpb > lpa);
    uint32_t sa, sb;
    bool sta, stb;
    mac_mobility(a, &sa, &sta);
    mac_mobility(b, &sb, &stb);
    PREFER(sta && !stb, stb && !sta);
    PREFER(sa > sb, sb > sa);
    unsigned int la = bgp_attrs_as_path_len(a->attrs), lb = bgp_attrs_as_path_len(b->attrs);
    PREFER(la < lb, lb < la);
    PREFER(a->attrs->origin < b->attrs->origin, b->attrs->origin < a->attrs->origin);
    /* MED only between paths from the same neighbouring AS (no always-compare-med knob). */
    if (bgp_attrs_first_as(a->attrs) == bgp_attrs_first_as(b->attrs)) {
        PREFER(a->attrs->med < b->attrs->med, b->attrs->med < a->attrs->med);
    }
    return 0;
}

bool
bgp_path_ecmp(const struct bgp_path *a, const struct bgp_path *b)
{
    return !compare_ecmp(a, b);
}

int
bgp_path_compare(const struct bgp_path *a, const struct bgp_path *b)
{
    int c = compare_ecmp(a, b);
    if (c) {
        return c;
    }
    PREFER(a->src->local && !b->src->local, b->src->local && !a->src->local);
    PREFER(a->src->xmpp && !b->src->xmpp, b->src->xmpp && !a->src->xmpp);
    PREFER(a->src->ebgp && !b->src->ebgp, b->src->ebgp && !a->src->ebgp);
    /* Primary before replicated, so an instance prefers its own path of a source. */
    PREFER(!a->origin && b->origin, !b->origin && a->origin);
    uint32_t ida = (a->attrs->present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
        ? a->attrs->originator_id : a->src->router_id;
    uint32_t idb = (b->attrs->present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
        ? b->attrs->originator_id : b->src->router_id;
    PREFER(ida < idb, idb < ida);
    PREFER(a->attrs->n_cluster_list < b->attrs->n_cluster_list,
           b->attrs->n_cluster_list < a->attrs->n_cluster_list);
    PREFER(a->src->addr < b->src->addr, b->src->addr < a->src->addr);
    /* Last, something stable, so that the choice does not depend on arrival order. */
    PREFER((uintptr_t) a->origin < (uintptr_t) b->origin,
           (uintptr_t) b->origin < (uintptr_t) a->origin);
    PREFER((uintptr_t) a->src < (uintptr_t) b->src, (uintptr_t) b->src < (uintptr_t) a->src);
    return 0;
}

/* Recomputes the best path and runs the hook when it (or, FORCE, its content) changed; frees
 * the route when it has no path left.  Returns whether the hook ran. */
static bool
route_reselect(struct bgp_table *t, struct bgp_route *r, bool force)
{
    struct bgp_path *best = NULL;
    for (struct bgp_path *p = r->paths; p; p = p->next) {
        if (!best || bgp_path_compare(p, best) < 0) {
            best = p;
        }
    }
    bool changed = force || best != r->best;
    r->best = best;
    if (changed && t->rib->changed) {
        t->rib->changed(t, r, t->rib->aux);
    }
    if (!r->paths && !r->repl && !r->holds) {
        hmap_remove(&t->routes, &r->node);
        mem_free(&mem_bgp_route, r);
    }
    return changed;
}

/* Whether the ECMP set of R may have changed when path P changes: the hook must then run even
 * though the best path stayed the same (agents get every next hop of the set). */
static bool
touches_ecmp(const struct bgp_route *r, const struct bgp_path *p)
{
    return r->best && (p == r->best || bgp_path_ecmp(p, r->best));
}

bool
bgp_table_update(struct bgp_table *t, const struct bgp_source *src, struct bgp_route *origin,
                 const struct bgp_nlri *n, const struct bgp_attrs *attrs, uint8_t flags)
{
    struct bgp_route *r = bgp_table_find(t, &n->p);
    if (!r) {
        r = mem_zalloc(&mem_bgp_route, sizeof *r);
        r->p = n->p;
        hmap_insert(&t->routes, &r->node, prefix_hash(&n->p));
    }
    struct bgp_path *p = bgp_route_path(r, src, origin);
    bool force = false;
    if (p) {
        if (p->label == n->label && p->label2 == n->label2 && p->has_label2 == n->has_label2
            && p->flags == flags && (p->attrs == attrs || bgp_attrs_equal(p->attrs, attrs))) {
            return false;       /* A refresh of the same path changes nothing. */
        }
        force = touches_ecmp(r, p);
        bgp_rib_attrs_unref(t->rib, p->attrs);
    } else {
        p = mem_zalloc(&mem_bgp_path, sizeof *p);
        p->src = src;
        p->origin = origin;
        p->next = r->paths;
        r->paths = p;
        t->n_paths++;
    }
    p->attrs = bgp_rib_attrs_intern(t->rib, attrs);
    p->label = n->label;
    p->label2 = n->label2;
    p->has_label2 = n->has_label2;
    p->flags = flags;
    p->since = (uint32_t) time(NULL);
    return route_reselect(t, r, force || touches_ecmp(r, p));
}

/* Unlinks and frees path *PP of R, then reselects.  Returns whether the hook ran. */
static bool
route_remove_path(struct bgp_table *t, struct bgp_route *r, struct bgp_path **pp)
{
    struct bgp_path *p = *pp;
    bool force = touches_ecmp(r, p);
    *pp = p->next;
    if (r->best == p) {
        r->best = NULL;
        force = true;
    }
    path_free(t, p);
    t->n_paths--;
    return route_reselect(t, r, force);
}

bool
bgp_table_withdraw(struct bgp_table *t, const struct bgp_source *src, struct bgp_route *origin,
                   const struct bgp_prefix *pfx)
{
    struct bgp_route *r = bgp_table_find(t, pfx);
    if (!r) {
        return false;
    }
    for (struct bgp_path **pp = &r->paths; *pp; pp = &(*pp)->next) {
        if ((*pp)->src == src && (*pp)->origin == origin) {
            return route_remove_path(t, r, pp);
        }
    }
    return false;
}

size_t
bgp_table_withdraw_source(struct bgp_table *t, const struct bgp_source *src, bool only_stale)
{
    size_t n = 0;
    struct bgp_route *r;
    HMAP_FOR_EACH_SAFE (r, node, &t->routes) {
        for (struct bgp_path **pp = &r->paths; *pp; pp = &(*pp)->next) {
            struct bgp_path *p = *pp;
            if (p->src == src && !p->origin && (!only_stale || (p->flags & BGP_PATH_STALE))) {
                n++;
                route_remove_path(t, r, pp);
                break;
            }
        }
    }
    return n;
}

size_t
bgp_table_mark_stale(struct bgp_table *t, const struct bgp_source *src)
{
    size_t n = 0;
    struct bgp_route *r;
    HMAP_FOR_EACH (r, node, &t->routes) {
        for (struct bgp_path *p = r->paths; p; p = p->next) {
            if (p->src == src && !p->origin) {
                p->flags |= BGP_PATH_STALE;
                n++;
            }
        }
    }
    return n;
}
