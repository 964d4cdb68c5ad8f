/* bgp_rib: the per-family route tables of the control node and best-path selection.
 *
 * A table maps a prefix (struct bgp_prefix) to a route, and a route holds one path per source
 * (a BGP peer, or the control node itself for routes it originates).  Whenever the best path of
 * a route changes, the table calls its owner's hook once, so that the owner (bgp_server)
 * advertises or withdraws it towards the peers.  Best-path order follows the control node's
 * BgpPath::PathCompare (reference §3.7) for the attributes this speaker carries. */
#ifndef CONTRAIL_BGP_RIB_H
#define CONTRAIL_BGP_RIB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bgp_msg.h"
#include "hmap.h"

/* Where paths come from: one per peer, one for the control node itself. */
struct bgp_source {
    const char *name;           /* For introspect: the peer's name or "local". */
    bool local;                 /* Originated by this node (no peer). */
    bool ebgp;
    uint32_t router_id;         /* The peer's BGP identifier (tie-break). */
    uint32_t addr;              /* The peer's IPv4 address, host order (last tie-break). */
};

struct bgp_path {
    struct bgp_path *next;      /* In the route's path list. */
    const struct bgp_source *src;
    struct bgp_attrs attrs;
    uint32_t label, label2;
    bool has_label2;
    time_t since;
};

struct bgp_route {
    struct hmap_node node;
    struct bgp_prefix p;
    struct bgp_path *paths;
    struct bgp_path *best;
    uint64_t advertised;        /* Bit N: advertised to the peer with index N. */
};

struct bgp_rib;

/* Called after the best path of ROUTE changed (ROUTE->best NULL: no path left; the route is
 * freed right after the hook returns). */
typedef void bgp_rib_change_fn(struct bgp_rib *, struct bgp_route *, void *aux);

struct bgp_table {
    enum bgp_family family;
    struct hmap routes;
    uint64_t n_paths;
};

struct bgp_rib {
    struct bgp_table tables[BGP_FAM_N];
    bgp_rib_change_fn *changed;
    void *aux;
};

void bgp_rib_init(struct bgp_rib *, bgp_rib_change_fn *, void *aux);
/* Frees every route without calling the hook. */
void bgp_rib_destroy(struct bgp_rib *);

/* Adds or replaces the path of SRC for NLRI with a copy of ATTRS.  Returns true when the
 * route's best path changed (the hook has run). */
bool bgp_rib_update(struct bgp_rib *, const struct bgp_source *src, const struct bgp_nlri *,
                    const struct bgp_attrs *attrs);
/* Removes SRC's path for P, if any.  Returns true when the best path changed. */
bool bgp_rib_withdraw(struct bgp_rib *, const struct bgp_source *src, const struct bgp_prefix *);
/* Removes every path of SRC in the families of mask FAMILIES.  Returns the number removed. */
size_t bgp_rib_withdraw_source(struct bgp_rib *, const struct bgp_source *src,
                               uint32_t families);

struct bgp_route *bgp_rib_find(const struct bgp_rib *, const struct bgp_prefix *);

/* Compares two paths of one route: negative when A is better, positive when B is. */
int bgp_path_compare(const struct bgp_path *a, const struct bgp_path *b);

/* Iterates over a table's routes (no insertion or removal while iterating). */
#define BGP_TABLE_FOR_EACH(ROUTE, TABLE) HMAP_FOR_EACH(ROUTE, node, &(TABLE)->routes)

#endif
