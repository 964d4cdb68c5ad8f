/* st_graph: the schema transformer's copy of the config graph (see st_graph.h). */
#include "st_graph.h"

#include <stdint.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "vnc_ifmap.h"

LOG_MODULE(st_graph);

static MEM_TYPE(mem_type_st_obj, "st_obj");
static MEM_TYPE(mem_type_st_ref, "st_ref");
static MEM_TYPE(mem_type_st_graph, "st_graph");

struct st_graph {
    const struct schema *schema;
    struct hmap objects;
    struct list *by_type;           /* schema->n_idents lists. */
    st_graph_change_fn *changed;
    void *aux;
};

struct st_graph *
st_graph_create(const struct schema *schema, st_graph_change_fn *changed, void *aux)
{
    struct st_graph *g = mem_zalloc(&mem_type_st_graph, sizeof *g);
    g->schema = schema;
    hmap_init(&g->objects);
    g->by_type = mem_zalloc(&mem_type_st_graph, schema->n_idents * sizeof *g->by_type);
    for (size_t i = 0; i < schema->n_idents; i++) {
        list_init(&g->by_type[i]);
    }
    g->changed = changed;
    g->aux = aux;
    return g;
}

static void
ref_free(struct st_ref *r)
{
    list_remove(&r->from_node);
    list_remove(&r->to_node);
    json_decref(r->attr);
    mem_free(&mem_type_st_ref, r);
}

static void
obj_free(struct st_graph *g, struct st_obj *o)
{
    hmap_remove(&g->objects, &o->node);
    list_remove(&o->type_node);
    list_remove(&o->child_node);
    json_decref(o->fq_name);
    json_decref(o->props);
    mem_free(&mem_type_st_obj, o->fq_str);
    mem_free(&mem_type_st_obj, o);
}

void
st_graph_clear(struct st_graph *g)
{
    struct st_obj *o;
    HMAP_FOR_EACH (o, node, &g->objects) {
        struct st_ref *r;
        LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
            ref_free(r);
        }
    }
    HMAP_FOR_EACH_SAFE (o, node, &g->objects) {
        struct st_obj *c;
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
st_graph_destroy(struct st_graph *g)
{
    if (!g) {
        return;
    }
    st_graph_clear(g);
    hmap_destroy(&g->objects);
    mem_free(&mem_type_st_graph, g->by_type);
    mem_free(&mem_type_st_graph, g);
}

const struct schema *
st_graph_schema(const struct st_graph *g)
{
    return g->schema;
}

static uint32_t
obj_hash(const struct schema_ident *id, const char *fq_str)
{
    return hash_string(fq_str, hash_string(id->name, 0));
}

struct st_obj *
st_graph_find(const struct st_graph *g, const struct schema_ident *id, const char *fq_str)
{
    struct st_obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, node, obj_hash(id, fq_str), &g->objects) {
        if (o->ident == id && !strcmp(o->fq_str, fq_str)) {
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
    char *s = mem_zalloc(&mem_type_st_obj, len), *p = s;
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

struct st_obj *
st_graph_locate(struct st_graph *g, const struct schema_ident *id, const json_t *fq_name)
{
    char *fq_str = fq_join(fq_name);
    struct st_obj *o = st_graph_find(g, id, fq_str);
    if (o) {
        mem_free(&mem_type_st_obj, fq_str);
        return o;
    }
    o = mem_zalloc(&mem_type_st_obj, sizeof *o);
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
st_graph_objects(const struct st_graph *g, const struct schema_ident *id)
{
    return &g->by_type[id->index];
}

size_t
st_graph_count(const struct st_graph *g)
{
    return hmap_count(&g->objects);
}

bool
st_graph_maybe_free(struct st_graph *g, struct st_obj *o)
{
    if (o->uuid[0] || json_object_size(o->props) || o->parent || !list_is_empty(&o->children)
        || !list_is_empty(&o->refs) || !list_is_empty(&o->back_refs) || o->xf || o->queued
        || o->busy) {
        return false;
    }
    obj_free(g, o);
    return true;
}

void
st_graph_set_uuid(struct st_graph *g, struct st_obj *o, const char *uuid)
{
    bool existed = st_obj_exists(o);
    snprintf(o->uuid, sizeof o->uuid, "%s", uuid ? uuid : "");
    if (existed != st_obj_exists(o)) {
        g->changed(g->aux, o, ST_CHANGE_EXISTS, NULL, NULL);
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
st_graph_set_prop(struct st_graph *g, struct st_obj *o, const char *prop, const json_t *value)
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
            st_graph_set_uuid(g, o, u);
        }
    }
    g->changed(g->aux, o, ST_CHANGE_PROP, prop, NULL);
}

void
st_graph_set_parent(struct st_graph *g, struct st_obj *o, struct st_obj *parent)
{
    struct st_obj *old = o->parent;
    if (old == parent) {
        return;
    }
    list_remove(&o->child_node);
    o->parent = parent;
    if (parent) {
        list_push_back(&parent->children, &o->child_node);
    }
    g->changed(g->aux, o, ST_CHANGE_PARENT, NULL, parent ? parent : old);
}

struct st_ref *
st_obj_find_ref(const struct st_obj *from, const struct st_obj *to)
{
    struct st_ref *r;
    LIST_FOR_EACH (r, from_node, &from->refs) {
        if (r->to == to) {
            return r;
        }
    }
    return NULL;
}

void
st_graph_set_ref(struct st_graph *g, struct st_obj *from, struct st_obj *to, const json_t *attr)
{
    struct st_ref *r = st_obj_find_ref(from, to);
    if (r) {
        if ((!attr && !r->attr) || (attr && r->attr && json_equal(attr, r->attr))) {
            return;
        }
        json_decref(r->attr);
    } else {
        r = mem_zalloc(&mem_type_st_ref, sizeof *r);
        r->from = from;
        r->to = to;
        list_push_back(&from->refs, &r->from_node);
        list_push_back(&to->back_refs, &r->to_node);
    }
    r->attr = attr ? json_deep_copy(attr) : NULL;
    g->changed(g->aux, from, ST_CHANGE_REF, NULL, to);
}

void
st_graph_del_ref(struct st_graph *g, struct st_obj *from, struct st_obj *to)
{
    struct st_ref *r = st_obj_find_ref(from, to);
    if (r) {
        ref_free(r);
        g->changed(g->aux, from, ST_CHANGE_REF, NULL, to);
        st_graph_maybe_free(g, to);
    }
}

void
st_graph_forget(struct st_graph *g, struct st_obj *o)
{
    struct st_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        st_graph_del_ref(g, o, r->to);
    }
    st_graph_set_parent(g, o, NULL);
    const char *k;
    void *tmp;
    json_t *v;
    json_object_foreach_safe (o->props, tmp, k, v) {
        if (strcmp(k, "id_perms")) {
            char *key = mem_strdup(&mem_type_st_obj, k);   /* Freed with the member. */
            st_graph_set_prop(g, o, key, NULL);
            mem_free(&mem_type_st_obj, key);
        }
    }
    st_graph_set_prop(g, o, "id_perms", NULL);
    st_graph_set_uuid(g, o, NULL);
}

/* Applies one metadata element. */
static bool
apply_meta(struct st_graph *g, const xmlNode *meta, const char *id1, const char *id2,
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
    struct st_obj *o = st_graph_locate(g, m.ident, m.fq_name);
    struct st_obj *other = m.other ? st_graph_locate(g, m.other, m.other_fq_name) : NULL;
    /* Held until the end: removing a link may otherwise free a placeholder end. */
    o->busy++;
    if (other) {
        other->busy++;
    }
    switch (m.kind) {
    case VNC_IFMAP_PROP:
        st_graph_set_prop(g, o, m.prop->name, del ? NULL : m.value);
        break;
    case VNC_IFMAP_PARENT:
        if (!del) {
            st_graph_set_parent(g, other, o);
        } else if (other->parent == o) {
            st_graph_set_parent(g, other, NULL);
        }
        break;
    case VNC_IFMAP_REF:
        if (del) {
            st_graph_del_ref(g, o, other);
        } else {
            st_graph_set_ref(g, o, other, m.value);
        }
        if (o->ident == other->ident && !strcmp(m.link->name, "connection")) {
            /* IF-MAP has one link for the two references between a pair of routing instances
             * (the original always made both): it stands for both directions. */
            if (del) {
                st_graph_del_ref(g, other, o);
            } else {
                st_graph_set_ref(g, other, o, m.value);
            }
        }
        break;
    }
    vnc_ifmap_meta_clear(&m);
    o->busy--;
    if (other) {
        other->busy--;
        st_graph_maybe_free(g, other);
    }
    st_graph_maybe_free(g, o);
    return true;
}

size_t
st_graph_apply(struct st_graph *g, const struct ifmap_client_item *it)
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
