/* bgp_rib: route tables and best-path selection.  See bgp_rib.h. */
#include "bgp_rib.h"

#include <string.h>
#include <time.h>

#include "mem.h"

static MEM_TYPE(mem_bgp_route, "bgp_route");
static MEM_TYPE(mem_bgp_path, "bgp_path");

void
bgp_rib_init(struct bgp_rib *rib, bgp_rib_change_fn *changed, void *aux)
{
    memset(rib, 0, sizeof *rib);
    for (int f = 0; f < BGP_FAM_N; f++) {
        rib->tables[f].family = f;
        hmap_init(&rib->tables[f].routes);
    }
    rib->changed = changed;
    rib->aux = aux;
}

static void
path_free(struct bgp_path *p)
{
    bgp_attrs_clear(&p->attrs);
    mem_free(&mem_bgp_path, p);
}

void
bgp_rib_destroy(struct bgp_rib *rib)
{
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_route *r;
        HMAP_FOR_EACH_SAFE (r, node, &rib->tables[f].routes) {
            hmap_remove(&rib->tables[f].routes, &r->node);
            while (r->paths) {
                struct bgp_path *p = r->paths;
                r->paths = p->next;
                path_free(p);
            }
            mem_free(&mem_bgp_route, r);
        }
        hmap_destroy(&rib->tables[f].routes);
    }
}

static uint32_t
prefix_hash(const struct bgp_prefix *p)
{
    return hash_bytes(p, sizeof *p, 0);
}

struct bgp_route *
bgp_rib_find(const struct bgp_rib *rib, const struct bgp_prefix *p)
{
    if (p->family >= BGP_FAM_N) {
        return NULL;
    }
    struct bgp_route *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, prefix_hash(p), &rib->tables[p->family].routes) {
        if (!memcmp(&r->p, p, sizeof *p)) {
            return r;
        }
    }
    return NULL;
}

static uint32_t
local_pref(const struct bgp_path *p)
{
    return (p->attrs.present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)) ? p->attrs.local_pref : 100;
}

/* MAC mobility sequence number (RFC 7432 §7.7) and sticky bit, when present. */
static void
mac_mobility(const struct bgp_path *p, uint32_t *seq, bool *sticky)
{
    *seq = 0;
    *sticky = false;
    for (size_t i = 0; i < p->attrs.n_ext_communities; i++) {
        uint64_t ec = p->attrs.ext_communities[i];
        if ((ec >> 48) == 0x0600) {
            *sticky = (ec >> 40) & 1;
            *seq = (uint32_t) ec;
        }
    }
}

#define PREFER(COND_A, COND_B) do { if (COND_A) return -1; if (COND_B) return 1; } while (0)

int
bgp_path_compare(const struct bgp_path *a, const struct bgp_path *b)
{
    uint32_t lpa = local_pref(a), lpb = local_pref(b);
    PREFER(lpa > lpb, lpb > lpa);
    uint32_t sa, sb;
    bool sta, stb;
    mac_mobility(a, &sa, &sta);
    mac_mobility(b, &sb, &stb);
    PREFER(sta && !stb, stb && !sta);
    PREFER(sa > sb, sb > sa);
    unsigned int la = bgp_attrs_as_path_len(&a->attrs), lb = bgp_attrs_as_path_len(&b->attrs);
    PREFER(la < lb, lb < la);
    PREFER(a->attrs.origin < b->attrs.origin, b->attrs.origin < a->attrs.origin);
    /* MED only between paths from the same neighbouring AS (no always-compare-med knob). */
    if (bgp_attrs_first_as(&a->attrs) == bgp_attrs_first_as(&b->attrs)) {
        PREFER(a->attrs.med < b->attrs.med, b->attrs.med < a->attrs.med);
    }
    PREFER(a->src->local && !b->src->local, b->src->local && !a->src->local);
    PREFER(a->src->ebgp && !b->src->ebgp, b->src->ebgp && !a->src->ebgp);
    uint32_t ida = (a->attrs.present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
        ? a->attrs.originator_id : a->src->router_id;
    uint32_t idb = (b->attrs.present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
        ? b->attrs.originator_id : b->src->router_id;
    PREFER(ida < idb, idb < ida);
    PREFER(a->attrs.n_cluster_list < b->attrs.n_cluster_list,
           b->attrs.n_cluster_list < a->attrs.n_cluster_list);
    PREFER(a->src->addr < b->src->addr, b->src->addr < a->src->addr);
    return 0;
}

/* Recomputes the best path; calls the hook and frees an empty route when it changed.  Returns
 * true when the best path changed (or its attributes did: CHANGED_IN_PLACE). */
static bool
route_reselect(struct bgp_rib *rib, struct bgp_route *r, bool changed_in_place)
{
    struct bgp_path *best = NULL;
    for (struct bgp_path *p = r->paths; p; p = p->next) {
        if (!best || bgp_path_compare(p, best) < 0) {
            best = p;
        }
    }
    bool changed = best != r->best || (changed_in_place && best);
    r->best = best;
    if (changed && rib->changed) {
        rib->changed(rib, r, rib->aux);
    }
    if (!r->paths) {
        hmap_remove(&rib->tables[r->p.family].routes, &r->node);
        mem_free(&mem_bgp_route, r);
    }
    return changed;
}

bool
bgp_rib_update(struct bgp_rib *rib, const struct bgp_source *src, const struct bgp_nlri *n,
               const struct bgp_attrs *attrs)
{
    if (n->p.family >= BGP_FAM_N) {
        return false;
    }
    struct bgp_table *t = &rib->tables[n->p.family];
    struct bgp_route *r = bgp_rib_find(rib, &n->p);
    if (!r) {
        r = mem_zalloc(&mem_bgp_route, sizeof *r);
        r->p = n->p;
        hmap_insert(&t->routes, &r->node, prefix_hash(&n->p));
    }
    struct bgp_path *p;
    for (p = r->paths; p; p = p->next) {
        if (p->src == src) {
            break;
        }
    }
    if (p) {
        if (p->label == n->label && p->label2 == n->label2 && p->has_label2 == n->has_label2
            && bgp_attrs_equal(&p->attrs, attrs)) {
            return false;       /* A refresh of the same path changes nothing. */
        }
        bgp_attrs_clear(&p->attrs);
    } else {
        p = mem_zalloc(&mem_bgp_path, sizeof *p);
        p->src = src;
        p->next = r->paths;
        r->paths = p;
        t->n_paths++;
    }
    bgp_attrs_copy(&p->attrs, attrs);
    p->label = n->label;
    p->label2 = n->label2;
    p->has_label2 = n->has_label2;
    p->since = time(NULL);
    return route_reselect(rib, r, p == r->best);
}

static bool
route_remove_path(struct bgp_rib *rib, struct bgp_route *r, const struct bgp_source *src)
{
    for (struct bgp_path **pp = &r->paths; *pp; pp = &(*pp)->next) {
        struct bgp_path *p = *pp;
        if (p->src == src) {
            *pp = p->next;
            if (r->best == p) {
                r->best = NULL;
                /* Force the hook: the best path is gone even if nothing replaces it. */
                path_free(p);
                rib->tables[r->p.family].n_paths--;
                struct bgp_path *best = NULL;
                for (struct bgp_path *q = r->paths; q; q = q->next) {
                    if (!best || bgp_path_compare(q, best) < 0) {
                        best = q;
                    }
                }
                r->best = best;
                if (rib->changed) {
                    rib->changed(rib, r, rib->aux);
                }
                if (!r->paths) {
                    hmap_remove(&rib->tables[r->p.family].routes, &r->node);
                    mem_free(&mem_bgp_route, r);
                }
                return true;
            }
            path_free(p);
            rib->tables[r->p.family].n_paths--;
            return false;
        }
    }
    return false;
}

bool
bgp_rib_withdraw(struct bgp_rib *rib, const struct bgp_source *src, const struct bgp_prefix *pfx)
{
    struct bgp_route *r = bgp_rib_find(rib, pfx);
    return r ? route_remove_path(rib, r, src) : false;
}

size_t
bgp_rib_withdraw_source(struct bgp_rib *rib, const struct bgp_source *src, uint32_t families)
{
    size_t n = 0;
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (!(families & (1u << f))) {
            continue;
        }
        struct bgp_route *r;
        HMAP_FOR_EACH_SAFE (r, node, &rib->tables[f].routes) {
            for (struct bgp_path *p = r->paths; p; p = p->next) {
                if (p->src == src) {
                    n++;
                    route_remove_path(rib, r, src);
                    break;
                }
            }
        }
    }
    return n;
}
