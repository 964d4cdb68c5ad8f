/* st_graph: the schema transformer's copy of the config graph.
 *
 * Built from the IF-MAP server's poll results (a subscription to contrail:config-root:root,
 * depth 255), decoded with lib/vnc_ifmap: objects keyed by type and fq_name with their
 * properties (JSON, as the API returns them), parent, references (with link attributes) and
 * back-references.  An object exists while it carries id-perms (which gives its uuid); the
 * transformer's own successful writes are applied at once too (st_graph_set_*), so that it
 * never acts twice on a state the IF-MAP echo has not brought back yet.
 *
 * Every change is reported to one callback, which the transformer uses as its reaction map. */
#ifndef CONTRAIL_ST_GRAPH_H
#define CONTRAIL_ST_GRAPH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "hmap.h"
#include "ifmap_client.h"
#include "list.h"
#include "schema.h"
#include "uuid.h"

struct st_obj {
    struct hmap_node node;          /* In st_graph's objects, by type and fq_str. */
    struct list type_node;          /* In the per-type list. */
    const struct schema_ident *ident;
    char *fq_str;                   /* "default-domain:admin:vn1". */
    json_t *fq_name;
    char uuid[UUID_LEN + 1];        /* "" while the object does not exist. */
    json_t *props;                  /* Property JSON name -> value. */
    struct st_obj *parent;
    struct list children;           /* st_obj.child_node. */
    struct list child_node;
    struct list refs;               /* st_ref.from_node. */
    struct list back_refs;          /* st_ref.to_node. */
    void *xf;                       /* The transformer's state for this object. */
    struct list queue_node;         /* In a transformer work queue when QUEUED. */
    bool queued;
    unsigned busy;                  /* Transformer writes or timers holding the object. */
};

struct st_ref {
    struct list from_node, to_node;
    struct st_obj *from, *to;
    json_t *attr;                   /* Link attribute, or NULL. */
};

enum st_change {
    ST_CHANGE_EXISTS,       /* The object appeared or went away (st_obj_exists). */
    ST_CHANGE_PROP,         /* FIELD is the property. */
    ST_CHANGE_PARENT,       /* OTHER is the (old or new) parent. */
    ST_CHANGE_REF,          /* A ref from OBJ to OTHER was added, changed or removed. */
};

/* OBJ changed.  For ST_CHANGE_REF the callback runs once for the referrer (OBJ) and is not
 * repeated for the target; the target's back_refs are already updated. */
typedef void st_graph_change_fn(void *aux, struct st_obj *obj, enum st_change,
                                const char *field, struct st_obj *other);

struct st_graph;

struct st_graph *st_graph_create(const struct schema *, st_graph_change_fn *, void *aux);
void st_graph_destroy(struct st_graph *);
/* Drops every object (a new IF-MAP session re-sends the whole graph).  No callbacks. */
void st_graph_clear(struct st_graph *);

/* Applies one poll or search result item.  Returns the number of metadata items that could
 * not be decoded (logged). */
size_t st_graph_apply(struct st_graph *, const struct ifmap_client_item *);

const struct schema *st_graph_schema(const struct st_graph *);
struct st_obj *st_graph_find(const struct st_graph *, const struct schema_ident *,
                             const char *fq_str);
/* Finds or creates (as a placeholder that does not exist yet) the object. */
struct st_obj *st_graph_locate(struct st_graph *, const struct schema_ident *,
                               const json_t *fq_name);
/* The list of objects of IDENT (st_obj.type_node), existing or not. */
const struct list *st_graph_objects(const struct st_graph *, const struct schema_ident *);
size_t st_graph_count(const struct st_graph *);

static inline bool st_obj_exists(const struct st_obj *o) { return o->uuid[0] != '\0'; }

/* Changes made by the transformer after a successful write (each reports like an IF-MAP
 * item would).  VALUE / ATTR are borrowed; NULL VALUE removes the property. */
void st_graph_set_uuid(struct st_graph *, struct st_obj *, const char *uuid);
void st_graph_set_prop(struct st_graph *, struct st_obj *, const char *prop, const json_t *value);
void st_graph_set_parent(struct st_graph *, struct st_obj *, struct st_obj *parent);
void st_graph_set_ref(struct st_graph *, struct st_obj *from, struct st_obj *to,
                      const json_t *attr);
void st_graph_del_ref(struct st_graph *, struct st_obj *from, struct st_obj *to);
/* The object was deleted: drops its properties, uuid, parent link and refs. */
void st_graph_forget(struct st_graph *, struct st_obj *);

/* Frees O if nothing describes or holds it any more (no uuid, properties, links, transformer
 * state or queue membership).  Returns whether it was freed. */
bool st_graph_maybe_free(struct st_graph *, struct st_obj *);

struct st_ref *st_obj_find_ref(const struct st_obj *from, const struct st_obj *to);

#endif
