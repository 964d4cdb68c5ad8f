/* cfg_graph: a config reader's copy of the config graph, as the IF-MAP server shows it.
 *
 * The schema transformer and contrail-control each keep one.  Built from the IF-MAP server's
 * poll results (a subscription to contrail:config-root:root, depth 255), decoded with
 * lib/vnc_ifmap: objects keyed by type and fq_name with their properties (JSON, as the API
 * returns them), parent, references (with link attributes) and back-references.  An object
 * exists while it carries id-perms (which gives its uuid).  A user that writes config (the
 * transformer) applies its own successful writes at once too (cfg_graph_set_*), so that it
 * never acts twice on a state the IF-MAP echo has not brought back yet.
 *
 * Every change is reported to one callback, which the user uses as its reaction map. */
#ifndef CONTRAIL_CFG_GRAPH_H
#define CONTRAIL_CFG_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"
#include "ifmap_client.h"
#include "list.h"
#include "schema.h"
#include "uuid.h"

struct cfg_obj {
    struct hmap_node node;          /* In cfg_graph's objects, by type and fq_str. */
    struct hmap_node uuid_node;     /* In cfg_graph's uuid index while the object exists. */
    struct list type_node;          /* In the per-type list. */
    const struct schema_ident *ident;
    char *fq_str;                   /* "default-domain:admin:vn1". */
    json_t *fq_name;
    char uuid[UUID_LEN + 1];        /* "" while the object does not exist. */
    json_t *props;                  /* Property JSON name -> value. */
    struct cfg_obj *parent;
    struct list children;           /* cfg_obj.child_node. */
    struct list child_node;
    struct list refs;               /* cfg_ref.from_node. */
    struct list back_refs;          /* cfg_ref.to_node. */
    /* For the user of the graph (the graph only reads them, in cfg_graph_maybe_free(): an
     * object with USER set, QUEUED or BUSY is kept even when nothing describes it). */
    void *user;                     /* The user's state for this object. */
    struct list queue_node;         /* In a user's work queue when QUEUED. */
    bool queued;
    unsigned busy;                  /* Holds by the user (writes in flight, timers, ...); the
                                     * graph also holds objects while applying an item. */
};

struct cfg_ref {
    struct list from_node, to_node;
    struct cfg_obj *from, *to;
    json_t *attr;                   /* Link attribute, or NULL. */
};

enum cfg_change {
    CFG_CHANGE_EXISTS,       /* The object appeared or went away (cfg_obj_exists). */
    CFG_CHANGE_PROP,         /* FIELD is the property. */
    CFG_CHANGE_PARENT,       /* OTHER is the (old or new) parent. */
    CFG_CHANGE_REF,          /* A ref from OBJ to OTHER was added, changed or removed. */
};

/* OBJ changed.  For CFG_CHANGE_REF the callback runs once for the referrer (OBJ) and is not
 * repeated for the target; the target's back_refs are already updated. */
typedef void cfg_graph_change_fn(void *aux, struct cfg_obj *obj, enum cfg_change,
                                 const char *field, struct cfg_obj *other);

struct cfg_graph;

struct cfg_graph *cfg_graph_create(const struct schema *, cfg_graph_change_fn *, void *aux);
void cfg_graph_destroy(struct cfg_graph *);
/* Drops every object (a new IF-MAP session re-sends the whole graph).  No callbacks. */
void cfg_graph_clear(struct cfg_graph *);

/* Applies one poll or search result item.  Returns the number of metadata items that could
 * not be decoded (logged). */
size_t cfg_graph_apply(struct cfg_graph *, const struct ifmap_client_item *);

const struct schema *cfg_graph_schema(const struct cfg_graph *);
struct cfg_obj *cfg_graph_find(const struct cfg_graph *, const struct schema_ident *,
                               const char *fq_str);
/* The existing object whose uuid is UUID, or NULL. */
struct cfg_obj *cfg_graph_find_uuid(const struct cfg_graph *, const char *uuid);
/* Finds or creates (as a placeholder that does not exist yet) the object. */
struct cfg_obj *cfg_graph_locate(struct cfg_graph *, const struct schema_ident *,
                                 const json_t *fq_name);
/* The list of objects of IDENT (cfg_obj.type_node), existing or not. */
const struct list *cfg_graph_objects(const struct cfg_graph *, const struct schema_ident *);
size_t cfg_graph_count(const struct cfg_graph *);

static inline bool cfg_obj_exists(const struct cfg_obj *o) { return o->uuid[0] != '\0'; }

/* Changes made by a user after a successful write (each reports like an IF-MAP
 * item would).  VALUE / ATTR are borrowed; NULL VALUE removes the property. */
void cfg_graph_set_uuid(struct cfg_graph *, struct cfg_obj *, const char *uuid);
void cfg_graph_set_prop(struct cfg_graph *, struct cfg_obj *, const char *prop,
                        const json_t *value);
void cfg_graph_set_parent(struct cfg_graph *, struct cfg_obj *, struct cfg_obj *parent);
void cfg_graph_set_ref(struct cfg_graph *, struct cfg_obj *from, struct cfg_obj *to,
                       const json_t *attr);
void cfg_graph_del_ref(struct cfg_graph *, struct cfg_obj *from, struct cfg_obj *to);
/* The object was deleted: drops its properties, uuid, parent link and refs. */
void cfg_graph_forget(struct cfg_graph *, struct cfg_obj *);

/* Frees O if nothing describes or holds it any more (no uuid, properties, links, user
 * state, queue membership or hold).  Returns whether it was freed. */
bool cfg_graph_maybe_free(struct cfg_graph *, struct cfg_obj *);

struct cfg_ref *cfg_obj_find_ref(const struct cfg_obj *from, const struct cfg_obj *to);

/* A set of objects a user holds on to between a change and the time it acts on it (a dirty
 * set): each member is held (busy) while in the set, so the graph does not free it.  Clear
 * it before cfg_graph_clear(), which frees every object regardless. */
struct cfg_obj_set {
    struct hmap map;                /* struct cfg_obj_set_node. */
};

struct cfg_obj_set_node {
    struct hmap_node node;
    struct cfg_obj *obj;
};

void cfg_obj_set_init(struct cfg_obj_set *);
/* Adds O (held).  Returns false if it was there already. */
bool cfg_obj_set_add(struct cfg_obj_set *, struct cfg_obj *o);
bool cfg_obj_set_contains(const struct cfg_obj_set *, const struct cfg_obj *o);
static inline size_t cfg_obj_set_count(const struct cfg_obj_set *s) { return hmap_count(&s->map); }
/* Empties the set, releasing each member (which G frees if nothing else describes it). */
void cfg_obj_set_clear(struct cfg_obj_set *, struct cfg_graph *g);
/* Frees the set's memory; it must be empty (cfg_obj_set_clear()). */
void cfg_obj_set_destroy(struct cfg_obj_set *);
/* Iterates over the members: NODE is a struct cfg_obj_set_node *. */
#define CFG_OBJ_SET_FOR_EACH(NODE, SET) HMAP_FOR_EACH (NODE, node, &(SET)->map)

#endif
