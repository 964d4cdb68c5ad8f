/* ifmap_sub: IF-MAP subscriptions and searches over the graph (ifmap_graph.h).
 *
 * A subscription is a search kept alive: from a start identifier, every identifier within
 * max-depth links (following links whose metadata matches match-links, not going on from
 * terminal identifier types), and the links used to reach them.  Each subscription keeps that
 * set with the distance of each identifier from the start, and updates it incrementally on
 * every change of the graph:
 *
 *   - metadata on a member identifier or link: one update/delete result;
 *   - a link that becomes traversable: a breadth-first walk from its ends that only visits
 *     identifiers whose distance drops (new members report all their metadata);
 *   - a link that stops being traversable: only the identifiers whose every shortest path
 *     used it are re-examined (level by level from the far end, then distances recomputed
 *     inside that region from its boundary); those no longer reachable report deleteResults.
 *
 * So a publish costs what it touches, not the size of the graph, whatever the number of
 * subscribers (contrail subscribes to contrail:config-root:root with max-depth 255).
 * Results are handed to the subscription's emit callback in the order a client must apply
 * them (on removal: links first, then identifiers; on addition: identifiers, then links).
 * A one-shot search is a subscription created and destroyed at once. */
#ifndef CONTRAIL_IFMAP_SUB_H
#define CONTRAIL_IFMAP_SUB_H

#include "ifmap_graph.h"

enum ifmap_result_kind {
    IFMAP_RESULT_SEARCH,
    IFMAP_RESULT_UPDATE,
    IFMAP_RESULT_DELETE,
    IFMAP_RESULT_NOTIFY,
};

const char *ifmap_result_kind_name(enum ifmap_result_kind); /* "searchResult", ... */

/* One resultItem: an identifier (ident[1] NULL) or a link, and metadata items. */
struct ifmap_result {
    struct list node;           /* In a session's queue. */
    enum ifmap_result_kind kind;
    char *sub_name;             /* The subscription's name. */
    struct ifmap_ident *ident[2];   /* References. */
    struct ifmap_meta **metas;      /* References. */
    size_t n_meta;
    size_t bytes;               /* Approximate size on the wire. */
};

void ifmap_result_free(struct ifmap_graph *, struct ifmap_result *);

struct ifmap_sub;

/* Receives result R (ownership passes to the callee). */
typedef void ifmap_sub_emit_fn(void *aux, struct ifmap_sub *, struct ifmap_result *r);

struct ifmap_sub_params {
    int max_depth;              /* Links from the start identifier (0: itself only). */
    unsigned terminal_mask;     /* Bit (1 << type) set: identifiers not walked through. */
    struct ifmap_filter match_links;
    struct ifmap_filter result_filter;
};

struct ifmap_member {
    struct list obj_node;       /* In the identifier's or link's members. */
    struct list sub_node;       /* In the subscription's idents or links. */
    struct ifmap_sub *sub;
    struct ifmap_ident *ident;  /* One of these two. */
    struct ifmap_link *link;
    int dist;                   /* Identifiers: links from the start. */
};

struct ifmap_sub {
    struct list graph_node;     /* In ifmap_graph.subs. */
    struct ifmap_graph *graph;
    char *name;
    struct ifmap_ident *start;  /* Reference. */
    int max_depth;
    unsigned terminal_mask;
    struct ifmap_filter match_links, result_filter;
    struct list idents, links;  /* struct ifmap_member.sub_node. */
    size_t n_idents, n_links;
    bool initial;               /* Emitting the initial searchResult. */
    ifmap_sub_emit_fn *emit;
    void *aux;
    bool trav_before;           /* Scratch: a link's traversability before a change. */
    uint64_t n_results;
};

/* Creates subscription NAME from START with PARAMS (filters copied), and emits its initial
 * content as searchResult items (one per identifier or link with matching metadata). */
struct ifmap_sub *ifmap_sub_create(struct ifmap_graph *, const char *name,
                                   struct ifmap_ident *start,
                                   const struct ifmap_sub_params *params,
                                   ifmap_sub_emit_fn *emit, void *aux);
/* Removes the subscription without emitting anything.  NULL is accepted. */
void ifmap_sub_destroy(struct ifmap_sub *);

/* Distance of X from S's start, or -1 when X is not in S. */
int ifmap_sub_dist(const struct ifmap_sub *, const struct ifmap_ident *x);
/* Whether link L is in S. */
bool ifmap_sub_has_link(const struct ifmap_sub *, const struct ifmap_link *l);

/* Hooks of the graph (ifmap_graph.c calls them; nothing else should). */
void ifmap_sub_link_pre(struct ifmap_graph *, struct ifmap_link *);
void ifmap_sub_changed(struct ifmap_graph *, struct ifmap_ident *x, struct ifmap_link *l,
                       struct ifmap_meta **added, size_t n_added,
                       struct ifmap_meta **removed, size_t n_removed);
void ifmap_sub_notify(struct ifmap_graph *, struct ifmap_ident *x, struct ifmap_ident *y,
                      struct ifmap_meta *m);

#endif
