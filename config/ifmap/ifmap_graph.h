/* ifmap_graph: the IF-MAP server's metadata graph, in memory only (config-plane reference §5).
 *
 * Identifiers (identity, ip-address, mac-address, device, access-request) are vertices keyed
 * canonically; a link is an unordered pair of identifiers.  Each carries a list of metadata
 * items: the element's QName, its XML serialized once at publish time (with the server's
 * operational attributes), its cardinality, publisher and lifetime.  Items are immutable and
 * reference counted, so a poll queue can hold them after they left the graph and a replaced
 * singleValue item costs no copy.
 *
 * An identifier exists while it has metadata or links, a link while it has metadata (and
 * both stay alive while something else references them: a subscription, a queued result).
 * Every change is reported to the subscriptions (ifmap_sub.h), which keep their reachable
 * sets up to date incrementally. */
#ifndef CONTRAIL_IFMAP_GRAPH_H
#define CONTRAIL_IFMAP_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "hmap.h"
#include "list.h"

enum ifmap_ident_type {
    IFMAP_IDENT_ACCESS_REQUEST,
    IFMAP_IDENT_DEVICE,
    IFMAP_IDENT_IDENTITY,
    IFMAP_IDENT_IP_ADDRESS,
    IFMAP_IDENT_MAC_ADDRESS,
    IFMAP_IDENT_N_TYPES
};

/* The element name of TYPE ("identity", ...); the type of NAME, or -1. */
const char *ifmap_ident_type_name(enum ifmap_ident_type);
int ifmap_ident_type_from_name(const char *name);

struct ifmap_ident {
    struct hmap_node node;      /* In ifmap_graph.idents, by key. */
    enum ifmap_ident_type type;
    char *key;                  /* Canonical key: type and every defining attribute. */
    char *name;                 /* The name (or value) attribute, as clients key on it. */
    char *xml;                  /* Canonical element, e.g. <identity name=".." type=".."/>. */
    size_t xml_len;
    int refcnt;
    bool present;               /* Has metadata or links: counted in the graph. */
    struct list metas;          /* struct ifmap_meta.node. */
    size_t n_meta;
    struct list links;          /* struct ifmap_link_end.node. */
    size_t n_links;
    struct list members;        /* struct ifmap_member.obj_node: subscriptions holding it. */

    /* Scratch space of the subscription algorithms (valid while stamp is current). */
    unsigned stamp;
    int tdist;
    bool affected, done;
};

struct ifmap_link;

struct ifmap_link_end {
    struct list node;           /* In ifmap_ident.links. */
    struct ifmap_link *link;
};

struct ifmap_link {
    struct hmap_node node;      /* In ifmap_graph.links. */
    struct ifmap_ident *a, *b;  /* a->key sorts before b->key. */
    struct ifmap_link_end end[2];
    int refcnt;
    bool present;
    struct list metas;
    size_t n_meta;
    struct list members;        /* struct ifmap_member.obj_node. */
};

/* One metadata item. */
struct ifmap_meta {
    struct list node;           /* In its identifier's or link's metas. */
    struct ifmap_ident *ident;  /* Where it is attached (NULL once detached). */
    struct ifmap_link *link;
    char *ns;                   /* Namespace URI ("" for none). */
    char *name;                 /* Local name. */
    char *xml;                  /* Serialized element, namespaces declared on it. */
    size_t xml_len;
    bool single;                /* ifmap-cardinality="singleValue". */
    bool session_lifetime;      /* lifetime="session": deleted when OWNER's session ends. */
    char *publisher;
    void *owner;                /* The publishing session (opaque here). */
    struct list owner_node;     /* In the owner's list when session_lifetime. */
    int refcnt;
};

/* A filter over metadata: the "meta:role or contrail:foo" subset of the IF-MAP filter
 * language (QNames joined by " or ", "*" for any, "prefix:*" for any in a namespace). */
struct ifmap_filter_term {
    char *ns;                   /* NULL: any namespace. */
    char *name;                 /* NULL: any local name. */
};

struct ifmap_filter {
    bool all;                   /* No filter: everything matches. */
    size_t n;
    struct ifmap_filter_term *terms;
};

/* Resolves a prefix of a filter to its namespace URI (NULL: undeclared). */
typedef const char *ifmap_ns_resolve_fn(void *aux, const char *prefix);

/* Parses TEXT (NULL: match all) into F, resolving prefixes with RESOLVE.  Returns 0, or
 * EINVAL with a message naming the bad term in ERR. */
int ifmap_filter_parse(struct ifmap_filter *f, const char *text, ifmap_ns_resolve_fn *resolve,
                       void *aux, char *err, size_t errlen);
void ifmap_filter_destroy(struct ifmap_filter *);
void ifmap_filter_copy(struct ifmap_filter *dst, const struct ifmap_filter *src);
bool ifmap_filter_match(const struct ifmap_filter *, const struct ifmap_meta *);

struct ifmap_graph {
    struct hmap idents;
    struct hmap links;
    struct list subs;           /* struct ifmap_sub.graph_node. */
    unsigned stamp;             /* For the scratch space of identifiers. */
    /* Sizes (present objects only) and counters. */
    uint64_t n_idents, n_links, n_metas, meta_bytes;
    uint64_t n_updates, n_deletes, n_notifies;
};

void ifmap_graph_init(struct ifmap_graph *);
/* Frees everything; the subscriptions must be gone first. */
void ifmap_graph_destroy(struct ifmap_graph *);

/* The identifier with KEY, created (with NAME, XML) when absent.  Returns a new reference. */
struct ifmap_ident *ifmap_graph_ident(struct ifmap_graph *, enum ifmap_ident_type,
                                      const char *key, const char *name, const char *xml);
/* The identifier with KEY, or NULL (no reference taken). */
struct ifmap_ident *ifmap_graph_find_ident(const struct ifmap_graph *, const char *key);
void ifmap_ident_ref(struct ifmap_ident *);
void ifmap_ident_unref(struct ifmap_graph *, struct ifmap_ident *);

/* The link between A and B (NULL when it does not exist).  No reference taken. */
struct ifmap_link *ifmap_graph_find_link(const struct ifmap_graph *, const struct ifmap_ident *,
                                         const struct ifmap_ident *);
void ifmap_link_ref(struct ifmap_link *);
void ifmap_link_unref(struct ifmap_graph *, struct ifmap_link *);

/* The other end of L seen from X. */
static inline struct ifmap_ident *
ifmap_link_other(const struct ifmap_link *l, const struct ifmap_ident *x)
{
    return l->a == x ? l->b : l->a;
}

/* A new metadata item (one reference, for the caller).  XML is taken over (allocated with
 * ifmap_graph_xml_type), the other strings are copied. */
struct ifmap_meta *ifmap_meta_create(const char *ns, const char *name, char *xml, size_t len,
                                     bool single, const char *publisher);
void ifmap_meta_ref(struct ifmap_meta *);
void ifmap_meta_unref(struct ifmap_meta *);
extern struct mem_type ifmap_graph_xml_type;

/* Publishes M (reference stolen) on identifier A, or on the link A-B when B is not NULL:
 * a singleValue item replaces the items of the same QName there, a multiValue item is
 * appended.  Subscriptions see the change. */
void ifmap_graph_update(struct ifmap_graph *, struct ifmap_ident *a, struct ifmap_ident *b,
                        struct ifmap_meta *m);

/* Deletes the items matching F (NULL: all) from A, or from the link A-B.  Returns how many. */
size_t ifmap_graph_delete(struct ifmap_graph *, struct ifmap_ident *a, struct ifmap_ident *b,
                          const struct ifmap_filter *f);

/* Deletes the one item M (still attached) from wherever it is. */
void ifmap_graph_delete_meta(struct ifmap_graph *, struct ifmap_meta *m);

/* Deletes every item published by PUBLISHER.  Returns how many. */
size_t ifmap_graph_purge_publisher(struct ifmap_graph *, const char *publisher);

/* Sends notify item M (reference stolen; not stored) to the subscriptions holding A (or the
 * link A-B). */
void ifmap_graph_notify(struct ifmap_graph *, struct ifmap_ident *a, struct ifmap_ident *b,
                        struct ifmap_meta *m);

/* A fresh stamp for the identifiers' scratch space. */
unsigned ifmap_graph_new_stamp(struct ifmap_graph *);

#endif
