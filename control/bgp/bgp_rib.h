/* bgp_rib: the route tables of the control node, their paths, shared attribute sets and
 * best-path selection.
 *
 * A table (one per routing instance and family: "inet.0", "bgp.l3vpn.0",
 * "default-domain:admin:vn1:vn1.inet.0") maps a prefix (struct bgp_prefix) to a route, and a
 * route holds its paths.  A path is identified by its source (a BGP peer, an XMPP agent, or
 * the node itself) and its origin: NULL for a primary path (learned or originated in this
 * table), or the primary route it was replicated from (bgp_ri does the replication), so one
 * agent's route replicated from two instances into a third gives two paths.
 *
 * Attribute sets are interned in the rib (struct bgp_rib): every path with the same
 * attributes shares one refcounted copy, and per-route data (labels) stays in the path.  This
 * keeps memory per route small and lets export group routes by attribute pointer.
 *
 * Whenever the best path of a route changes (or the attributes of the best path do), the
 * rib's hook runs once for the route, so the owner can advertise, withdraw and replicate it.
 * Best-path order follows the control node's BgpPath::PathCompare (reference §3.7) for the
 * attributes this speaker carries. */
#ifndef CONTRAIL_BGP_RIB_H
#define CONTRAIL_BGP_RIB_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bgp_msg.h"
#include "hmap.h"

/* Where paths come from: one per peer or agent, one for the control node itself. */
struct bgp_source {
    const char *name;           /* For introspect: the peer's name or "local". */
    bool local;                 /* Originated by this node (no peer). */
    bool ebgp;
    bool xmpp;                  /* An XMPP agent. */
    uint32_t router_id;         /* The peer's BGP identifier (tie-break). */
    uint32_t addr;              /* The peer's IPv4 address, host order (last tie-break). */
};

/* An interned attribute set: use bgp_rib_attrs_intern / bgp_rib_attrs_unref. */
struct bgp_attr_set {
    struct bgp_attrs a;         /* First: paths point at it. */
    struct hmap_node node;
    uint32_t refs;
};

enum {
    BGP_PATH_STALE = 1 << 0,        /* Kept for a restarting peer (graceful restart). */
    BGP_PATH_INFEASIBLE = 1 << 1,   /* No usable encapsulation: never best. */
};

struct bgp_route;

struct bgp_path {
    struct bgp_path *next;      /* In the route's path list. */
    const struct bgp_source *src;
    struct bgp_route *origin;   /* Replicated from this primary route; NULL: primary. */
    const struct bgp_attrs *attrs;  /* Interned (struct bgp_attr_set). */
    uint32_t label, label2;
    uint8_t has_label2;
    uint8_t flags;              /* BGP_PATH_* */
    uint32_t since;             /* time(NULL) when added or changed, truncated. */
};

struct bgp_repl;                /* bgp_ri's record of a route's replicas. */

struct bgp_route {
    struct hmap_node node;
    struct bgp_prefix p;
    struct bgp_path *paths;
    struct bgp_path *best;
    struct bgp_repl *repl;      /* Owned by bgp_ri: secondary paths made from this route. */
    uint64_t advertised;        /* Bit N: advertised to the BGP peer with index N. */
    uint32_t holds;             /* References from senders (bgp_table_hold): a route with
                                 * no path stays until they are released. */
};

struct bgp_rib;
struct bgp_table;

/* Called after the best path of ROUTE in TABLE changed (ROUTE->best NULL: no path left; the
 * route is freed right after the hook returns unless it got a path again). */
typedef void bgp_rib_change_fn(struct bgp_table *, struct bgp_route *, void *aux);

struct bgp_rib {
    struct hmap attr_sets;      /* struct bgp_attr_set, by content. */
    bgp_rib_change_fn *changed;
    void *aux;
};

struct bgp_table {
    struct bgp_rib *rib;
    enum bgp_family family;     /* Of the prefixes (a VRF's inet.0 holds BGP_FAM_INET). */
    char *name;
    void *owner;                /* The routing instance (bgp_ri). */
    struct hmap routes;
    uint64_t n_paths;
};

void bgp_rib_init(struct bgp_rib *, bgp_rib_change_fn *, void *aux);
/* The rib's attribute sets must all be released (every table destroyed) first. */
void bgp_rib_destroy(struct bgp_rib *);
/* Returns the interned copy of A (a new reference). */
const struct bgp_attrs *bgp_rib_attrs_intern(struct bgp_rib *, const struct bgp_attrs *a);
/* Takes a reference to an interned set. */
const struct bgp_attrs *bgp_rib_attrs_ref(const struct bgp_attrs *);
void bgp_rib_attrs_unref(struct bgp_rib *, const struct bgp_attrs *);
size_t bgp_rib_attr_sets(const struct bgp_rib *);

void bgp_table_init(struct bgp_table *, struct bgp_rib *, enum bgp_family, const char *name,
                    void *owner);
/* Frees every route without calling the hook (the replication records must be gone). */
void bgp_table_destroy(struct bgp_table *);

/* Adds or replaces the path of (SRC, ORIGIN) for N->p with ATTRS (copied, or referenced if
 * already interned in this rib: pass interned attributes when you have them).  Returns true
 * when the route's best path changed (the hook has run). */
bool bgp_table_update(struct bgp_table *, const struct bgp_source *src,
                      struct bgp_route *origin, const struct bgp_nlri *n,
                      const struct bgp_attrs *attrs, uint8_t flags);
/* Removes the path of (SRC, ORIGIN) for P, if any.  Returns true when the best changed. */
bool bgp_table_withdraw(struct bgp_table *, const struct bgp_source *src,
                        struct bgp_route *origin, const struct bgp_prefix *p);
/* Removes every primary path of SRC (with flag STALE only, when ONLY_STALE).  Returns the
 * number removed. */
size_t bgp_table_withdraw_source(struct bgp_table *, const struct bgp_source *src,
                                 bool only_stale);
/* Marks every primary path of SRC stale.  Returns the number marked. */
size_t bgp_table_mark_stale(struct bgp_table *, const struct bgp_source *src);

struct bgp_route *bgp_table_find(const struct bgp_table *, const struct bgp_prefix *);
/* Keeps R (even once it has no path) until the matching bgp_table_release, which frees it
 * if it has no path left by then.  For senders that queue routes rather than prefixes. */
void bgp_table_hold(struct bgp_route *);
void bgp_table_release(struct bgp_table *, struct bgp_route *);
/* The primary path of SRC in R, or NULL. */
struct bgp_path *bgp_route_path(const struct bgp_route *, const struct bgp_source *src,
                                const struct bgp_route *origin);

/* Compares two paths of one route: negative when A is better, positive when B is. */
int bgp_path_compare(const struct bgp_path *a, const struct bgp_path *b);
/* Whether A and B are equal up to the ECMP point of the order (§3.7 step 9). */
bool bgp_path_ecmp(const struct bgp_path *a, const struct bgp_path *b);

/* Iterates over a table's routes (no insertion or removal while iterating). */
#define BGP_TABLE_FOR_EACH(ROUTE, TABLE) HMAP_FOR_EACH(ROUTE, node, &(TABLE)->routes)

#endif
