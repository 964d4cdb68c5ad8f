/* cfg_graph: a config reader's copy of the config graph (see cfg_graph.h). */
#include "cfg_graph.h"

#include <stdint.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "vnc_ifmap.h"

LOG_MODULE(cfg_graph);

static MEM_TYPE(mem_type_cfg_obj, "cfg_obj");
static MEM_TYPE(mem_type_cfg_ref, "cfg_ref");
static MEM_TYPE(mem_type_cfg_graph, "cfg_graph");

struct cfg_graph {
    const struct schema *schema;
    struct hmap objects;
    struct hmap by_uuid;            /* cfg_obj.uuid_node, existing objects. */
    struct list *by_type;           /* schema->n_idents lists. */
    cfg_graph_change_fn *changed;
    void *aux;
};

struct cfg_graph *
cfg_graph_create(const struct schema *schema, cfg_graph_change_fn *changed, void *aux)
{
    struct cfg_graph *g = mem_zalloc(&mem_type_cfg_graph, sizeof *g);
    g->schema = schema;
    hmap_init(&g->objects);
    hmap_init(&g->by_uuid);
    g->by_type = mem_zalloc(&mem_type_cfg_graph, schema->n_idents * sizeof *g->by_type);
    for (size_t i = 0; i < schema->n_idents; i++) {
        list_init(&g->by_type[i]);
    }
    g->changed = changed;
    g->aux = aux;
    return g;
}

static void
ref_free(struct cfg_ref *r)
{
    list_remove(&r->from_node);
    list_remove(&r->to_node);
    json_decref(r->attr);
    mem_free(&mem_type_cfg_ref, r);
}

static void
obj_free(struct cfg_graph *g, struct cfg_obj *o)
{
    hmap_remove(&g->objects, &o->node);
    if (o->uuid[0]) {
        hmap_remove(&g->by_uuid, &o->uuid_node);
    }
    list_remove(&o->type_node);
    list_remove(&o->child_node);
    json_decref(o->fq_name);
    json_decref(o->props);
    mem_free(&mem_type_cfg_obj, o->fq_str);
    mem_free(&mem_type_cfg_obj, o);
}

void
cfg_graph_clear(struct cfg_graph *g)
{
    struct cfg_obj *o;
    HMAP_FOR_EACH (o, node, &g->objects) {
        struct cfg_ref *r;
        LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
            ref_free(r);
        }
    }
    HMAP_FOR_EACH_SAFE (o, node, &g->objects) {
        struct cfg_obj *c;
        LIST_FOR_EACH_SAFE (c, child_node, &o->children) {
            list_remove(&c->child_node);
            c->parent = NULL;
        }
    }
    HMAP_FOR_EACH_SAFE (o, node, &g->objects) {
        obj_free(g, o);
    }
}

void
cfg_graph_destroy(struct cfg_graph *g)
{
    if (!g) {
        return;
    }
    cfg_graph_clear(g);
    hmap_destroy(&g->objects);
    hmap_destroy(&g->by_uuid);
    mem_free(&mem_type_cfg_graph, g->by_type);
    mem_free(&mem_type_cfg_graph, g);
}

const struct schema *
cfg_graph_schema(const struct cfg_graph *g)
{
    return g->schema;
}

static uint32_t
obj_hash(const struct schema_ident *id, const char *fq_str)
{
    return hash_string(fq_str, hash_string(id->name, 0));
}

struct cfg_obj *
cfg_graph_find(const struct cfg_graph *g, const struct schema_ident *id, const char *fq_str)
{
    struct cfg_obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, node, obj_hash(id, fq_str), &g->objects) {
        if (o->ident == id && !strcmp(o->fq_str, fq_str)) {
            return o;
        }
    }
    return NULL;
}

struct cfg_obj *
cfg_graph_find_uuid(const struct cfg_graph *g, const char *uuid)
{
    struct cfg_obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, uuid_node, hash_string(uuid, 0), &g->by_uuid) {
        if (!strcmp(o->uuid, uuid)) {
            return o;
        }
    }
    return NULL;
}

static char *
fq_join(const json_t *fq_name)
{
    size_t len = 1, i;
    json_t *e;
    json_array_foreach (fq_name, i, e) {
        len += json_string_length(e) + 1;
    }
    char *s = mem_zalloc(&mem_type_cfg_obj, len), *p = s;
    json_array_foreach (fq_name, i, e) {
        if (i) {
            *p++ = ':';
        }
        memcpy(p, json_string_value(e), json_string_length(e));
        p += json_string_length(e);
    }
    *p = '\0';
    return s;
}

struct cfg_obj *
cfg_graph_locate(struct cfg_graph *g, const struct schema_ident *id, const json_t *fq_name)
{
    char *fq_str = fq_join(fq_name);
    struct cfg_obj *o = cfg_graph_find(g, id, fq_str);
    if (o) {
        mem_free(&mem_type_cfg_obj, fq_str);
        return o;
    }
    o = mem_zalloc(&mem_type_cfg_obj, sizeof *o);
    o->ident = id;
    o->fq_str = fq_str;
    o->fq_name = json_deep_copy(fq_name);
    o->props = json_object();
    list_init(&o->children);
    list_init(&o->child_node);
    list_init(&o->refs);
    list_init(&o->back_refs);
    list_init(&o->queue_node);
    hmap_insert(&g->objects, &o->node, obj_hash(id, fq_str));
    list_push_back(&g->by_type[id->index], &o->type_node);
    return o;
}

const struct list *
cfg_graph_objects(const struct cfg_graph *g, const struct schema_ident *id)
{
    return &g->by_type[id->index];
}

size_t
cfg_graph_count(const struct cfg_graph *g)
{
    return hmap_count(&g->objects);
}

bool
cfg_graph_maybe_free(struct cfg_graph *g, struct cfg_obj *o)
{
    if (o->uuid[0] || json_object_size(o->props) || o->parent || !list_is_empty(&o->children)
        || !list_is_empty(&o->refs) || !list_is_empty(&o->back_refs) || o->user || o->queued
        || o->busy) {
        return false;
    }
    obj_free(g, o);
    return true;
}

void
cfg_graph_set_uuid(struct cfg_graph *g, struct cfg_obj *o, const char *uuid)
{
    bool existed = cfg_obj_exists(o);
    if (!strcmp(o->uuid, uuid ? uuid : "")) {
        return;
    }
    if (existed) {
        hmap_remove(&g->by_uuid, &o->uuid_node);
    }
    snprintf(o->uuid, sizeof o->uuid, "%s", uuid ? uuid : "");
    if (o->uuid[0]) {
        hmap_insert(&g->by_uuid, &o->uuid_node, hash_string(o->uuid, 0));
    }
    if (existed != cfg_obj_exists(o)) {
        g->changed(g->aux, o, CFG_CHANGE_EXISTS, NULL, NULL);
    }
}

static void
uuid_from_id_perms(const json_t *id_perms, char out[UUID_LEN + 1])
{
    const json_t *u = json_object_get(id_perms, "uuid");
    const json_t *ms = json_object_get(u, "uuid_mslong"), *ls = json_object_get(u, "uuid_lslong");
    if (json_is_integer(ms) && json_is_integer(ls)) {
        uuid_from_halves((uint64_t) json_integer_value(ms), (uint64_t) json_integer_value(ls),
                         out);
    } else {
        out[0] = '\0';
    }
}

void
cfg_graph_set_prop(struct cfg_graph *g, struct cfg_obj *o, const char *prop, const json_t *value)
{
    const json_t *old = json_object_get(o->props, prop);
    if (value ? old && json_equal(old, value) : !old) {
        return;
    }
    if (value) {
        json_object_set_new(o->props, prop, json_deep_copy(value));
    } else {
        json_object_del(o->props, prop);
    }
    if (!strcmp(prop, "id_perms")) {
        char u[UUID_LEN + 1] = "";
        if (value) {
            uuid_from_id_perms(value, u);
        }
        if (u[0] || !value) {
            cfg_graph_set_uuid(g, o, u);
        }
    }
    g->changed(g->aux, o, CFG_CHANGE_PROP, prop, NULL);
}

void
cfg_graph_set_parent(struct cfg_graph *g, struct cfg_obj *o, struct cfg_obj *parent)
{
    struct cfg_obj *old = o->parent;
    if (old == parent) {
        return;
    }
    list_remove(&o->child_node);
    o->parent = parent;
    if (parent) {
        list_push_back(&parent->children, &o->child_node);
    }
    g->changed(g->aux, o, CFG_CHANGE_PARENT, NULL, parent ? parent : old);
}

struct cfg_ref *
cfg_obj_find_ref(const struct cfg_obj *from, const struct cfg_obj *to)
{
    struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &from->refs) {
        if (r->to == to) {
            return r;
        }
    }
    return NULL;
}

void
cfg_graph_set_ref(struct cfg_graph *g, struct cfg_obj *from, struct cfg_obj *to, const json_t *attr)
{
    struct cfg_ref *r = cfg_obj_find_ref(from, to);
    if (r) {
        if ((!attr && !r->attr) || (attr && r->attr && json_equal(attr, r->attr))) {
            return;
        }
        json_decref(r->attr);
    } else {
        r = mem_zalloc(&mem_type_cfg_ref, sizeof *r);
        r->from = from;
        r->to = to;
        list_push_back(&from->refs, &r->from_node);
        list_push_back(&to->back_refs, &r->to_node);
    }
    r->attr = attr ? json_deep_copy(attr) : NULL;
    g->changed(g->aux, from, CFG_CHANGE_REF, NULL, to);
}

void
cfg_graph_del_ref(struct cfg_graph *g, struct cfg_obj *from, struct cfg_obj *to)
{
    struct cfg_ref *r = cfg_obj_find_ref(from, to);
    if (r) {
        ref_free(r);
        g->changed(g->aux, from, CFG_CHANGE_REF, NULL, to);
        cfg_graph_maybe_free(g, to);
    }
}

void
cfg_graph_forget(struct cfg_graph *g, struct cfg_obj *o)
{
    struct cfg_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        cfg_graph_del_ref(g, o, r->to);
    }
    cfg_graph_set_parent(g, o, NULL);
    const char *k;
    void *tmp;
    json_t *v;
    json_object_foreach_safe (o->props, tmp, k, v) {
        if (strcmp(k, "id_perms")) {
            char *key = mem_strdup(&mem_type_cfg_obj, k);   /* Freed with the member. */
            cfg_graph_set_prop(g, o, key, NULL);
            mem_free(&mem_type_cfg_obj, key);
        }
    }
    cfg_graph_set_prop(g, o, "id_perms", NULL);
    cfg_graph_set_uuid(g, o, NULL);
}

/* Applies one metadata element. */
static bool
apply_meta(struct cfg_graph *g, const xmlNode *meta, const char *id1, const char *id2,
           bool del)
{
    struct vnc_ifmap_meta m = { 0 };
    char err[256];
    int error = vnc_ifmap_parse_meta(g->schema, meta, id1, id2, &m, err, sizeof err);
    if (error) {
        LOG_WARN("cannot decode metadata on %s%s%s: %s", id1, id2 ? " / " : "", id2 ? id2 : "",
                 err);
        vnc_ifmap_meta_clear(&m);
        return false;
    }
    struct cfg_obj *o = cfg_graph_locate(g, m.ident, m.fq_name);
    struct cfg_obj *other = m.other ? cfg_graph_locate(g, m.other, m.other_fq_name) : NULL;
    /* Held until the end: removing a link may otherwise free a placeholder end. */
    o->busy++;
    if (other) {
        other->busy++;
    }
    switch (m.kind) {
    case VNC_IFMAP_PROP:
        cfg_graph_set_prop(g, o, m.prop->name, del ? NULL : m.value);
        break;
    case VNC_IFMAP_PARENT:
        if (!del) {
            cfg_graph_set_parent(g, other, o);
        } else if (other->parent == o) {
            cfg_graph_set_parent(g, other, NULL);
        }
        break;
    case VNC_IFMAP_REF:
        if (del) {
            cfg_graph_del_ref(g, o, other);
        } else {
            cfg_graph_set_ref(g, o, other, m.value);
        }
        if (o->ident == other->ident && !strcmp(m.link->name, "connection")) {
            /* IF-MAP has one link for the two references between a pair of routing instances
             * (the original always made both): it stands for both directions. */
            if (del) {
                cfg_graph_del_ref(g, other, o);
            } else {
                cfg_graph_set_ref(g, other, o, m.value);
            }
        }
        break;
    }
    vnc_ifmap_meta_clear(&m);
    o->busy--;
    if (other) {
        other->busy--;
        cfg_graph_maybe_free(g, other);
    }
    cfg_graph_maybe_free(g, o);
    return true;
}

size_t
cfg_graph_apply(struct cfg_graph *g, const struct ifmap_client_item *it)
{
    if (it->kind == IFMAP_ITEM_NOTIFY || it->kind == IFMAP_ITEM_ERROR || !it->metadata
        || !it->ident[0]) {
        return 0;
    }
    bool del = it->kind == IFMAP_ITEM_DELETE;
    size_t bad = 0;
    for (xmlNode *m = it->metadata->children; m; m = m->next) {
        if (m->type == XML_ELEMENT_NODE && !apply_meta(g, m, it->ident[0], it->ident[1], del)) {
            bad++;
        }
    }
    return bad;
}

static MEM_TYPE(mem_type_cfg_obj_set, "cfg_obj_set");

static uint32_t
ptr_hash(const void *p)
{
    return hash_bytes(&p, sizeof p, 0);
}

void
cfg_obj_set_init(struct cfg_obj_set *s)
{
    hmap_init(&s->map);
}

static struct cfg_obj_set_node *
set_find(const struct cfg_obj_set *s, const struct cfg_obj *o)
{
    struct cfg_obj_set_node *n;
    HMAP_FOR_EACH_WITH_HASH (n, node, ptr_hash(o), &s->map) {
        if (n->obj == o) {
            return n;
        }
    }
    return NULL;
}

bool
cfg_obj_set_add(struct cfg_obj_set *s, struct cfg_obj *o)
{
    if (set_find(s, o)) {
        return false;
    }
    struct cfg_obj_set_node *n = mem_zalloc(&mem_type_cfg_obj_set, sizeof *n);
    n->obj = o;
    o->busy++;
    hmap_insert(&s->map, &n->node, ptr_hash(o));
    return true;
}

bool
cfg_obj_set_contains(const struct cfg_obj_set *s, const struct cfg_obj *o)
{
    return set_find(s, o) != NULL;
}

void
cfg_obj_set_clear(struct cfg_obj_set *s, struct cfg_graph *g)
{
    struct cfg_obj_set_node *n;
    HMAP_FOR_EACH_SAFE (n, node, &s->map) {
        hmap_remove(&s->map, &n->node);
        n->obj->busy--;
        cfg_graph_maybe_free(g, n->obj);
        mem_free(&mem_type_cfg_obj_set, n);
    }
}

void
cfg_obj_set_destroy(struct cfg_obj_set *s)
{
    hmap_destroy(&s->map);
}
