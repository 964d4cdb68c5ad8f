/* api_store: in-memory config graph persisted through cfgdb (see api_store.h). */
#include "api_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(api_store);

static MEM_TYPE(mem_type_obj, "api_obj");
static MEM_TYPE(mem_type_ref, "api_ref");
static MEM_TYPE(mem_type_txn, "api_txn");

#define OBJ_PREFIX "obj/"

static uint32_t
fq_hash(const struct schema_ident *ident, const char *fq_str)
{
    return hash_string(fq_str, hash_string(ident->name, 0));
}

struct api_type *
api_store_type(struct api_store *s, const struct schema_ident *ident)
{
    return &s->types[ident->index];
}

struct api_obj *
api_store_get(const struct api_store *s, const char *uuid)
{
    struct api_obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, uuid_node, hash_string(uuid, 0), &s->by_uuid) {
        if (!strcmp(o->uuid, uuid)) {
            return o;
        }
    }
    return NULL;
}

struct api_obj *
api_store_get_fq(const struct api_store *s, const struct schema_ident *ident, const char *fq)
{
    struct api_obj *o;
    HMAP_FOR_EACH_WITH_HASH (o, fq_node, fq_hash(ident, fq), &s->by_fq) {
        if (o->ident == ident && !strcmp(o->fq_str, fq)) {
            return o;
        }
    }
    return NULL;
}

char *
api_fq_join(const json_t *fq)
{
    if (!json_is_array(fq) || !json_array_size(fq)) {
        return NULL;
    }
    size_t len = 0;
    size_t i;
    json_t *e;
    json_array_foreach (fq, i, e) {
        if (!json_is_string(e) || !json_string_length(e)) {
            return NULL;
        }
        len += json_string_length(e) + 1;
    }
    char *s = mem_zalloc(&mem_type_string, len);
    char *p = s;
    json_array_foreach (fq, i, e) {
        if (i) {
            *p++ = ':';
        }
        memcpy(p, json_string_value(e), json_string_length(e));
        p += json_string_length(e);
    }
    *p = '\0';
    return s;
}

void
api_fq_repr(const json_t *fq, char *buf, size_t size)
{
    size_t n = (size_t) snprintf(buf, size, "[");
    size_t i;
    json_t *e;
    json_array_foreach (fq, i, e) {
        if (n < size) {
            n += (size_t) snprintf(buf + n, size - n, "%s'%s'", i ? ", " : "",
                                   json_is_string(e) ? json_string_value(e) : "?");
        }
    }
    if (n < size) {
        snprintf(buf + n, size - n, "]");
    }
}

struct api_obj *
api_store_get_fq_json(const struct api_store *s, const struct schema_ident *ident,
                      const json_t *fq)
{
    char *str = api_fq_join(fq);
    struct api_obj *o = str ? api_store_get_fq(s, ident, str) : NULL;
    xfree(str);
    return o;
}

json_t *
api_props_mut(json_t *props, const char *key)
{
    json_t *v = json_object_get(props, key);
    if (v && v->refcount > 1) {
        v = json_deep_copy(v);
        json_object_set_new(props, key, v);
    }
    return v;
}

/* One instance each, held by every object whose value equals the default; they live as
 * long as the process. */
json_t *
api_default_permissions(void)
{
    static json_t *permissions;
    if (!permissions) {
        permissions = xjson_pack("{sssisssisi}", "owner", "cloud-admin", "owner_access", 7,
                                 "group", "cloud-admin-group", "group_access", 7,
                                 "other_access", 7);
    }
    return permissions;
}

json_t *
api_default_perms2(void)
{
    static json_t *perms2;
    if (!perms2) {
        perms2 = xjson_pack("{sssisis[]}", "owner", "cloud-admin", "owner_access", 7,
                            "global_access", 0, "share");
    }
    return perms2;
}

void
api_txn_init(struct api_txn *t, struct api_store *s)
{
    memset(t, 0, sizeof *t);
    t->store = s;
    t->seq = ++s->txn_seq;
    t->batch = cfgdb_batch_create();
}

void
api_txn_mark(struct api_txn *t, struct api_obj *o)
{
    if (o->txn_seq == t->seq || o->deleted) {
        return;
    }
    o->txn_seq = t->seq;
    if (t->n_dirty == t->alloc_dirty) {
        t->alloc_dirty = t->alloc_dirty ? 2 * t->alloc_dirty : 8;
        t->dirty = mem_realloc(&mem_type_txn, t->dirty, t->alloc_dirty * sizeof *t->dirty);
    }
    t->dirty[t->n_dirty++] = o;
}

static struct api_obj *
obj_alloc(struct api_store *s, const struct schema_ident *ident, const char *uuid,
          const json_t *fq_name, json_t *props)
{
    struct api_obj *o = mem_zalloc(&mem_type_obj, sizeof *o);
    o->ident = ident;
    snprintf(o->uuid, sizeof o->uuid, "%s", uuid);
    o->fq_name = json_deep_copy(fq_name);
    o->fq_str = api_fq_join(fq_name);
    o->props = props ? props : json_object();
    list_init(&o->children);
    list_init(&o->child_node);
    list_init(&o->refs);
    list_init(&o->back_refs);
    hmap_insert(&s->by_uuid, &o->uuid_node, hash_string(o->uuid, 0));
    hmap_insert(&s->by_fq, &o->fq_node, fq_hash(ident, o->fq_str));
    struct api_type *type = api_store_type(s, ident);
    list_push_back(&type->objs, &o->type_node);
    type->count++;
    s->n_objs++;
    s->n_objs_gauge = (int64_t) s->n_objs;
    return o;
}

static void
obj_set_parent(struct api_obj *o, struct api_obj *parent)
{
    o->parent = parent;
    if (parent) {
        list_push_back(&parent->children, &o->child_node);
    }
}

struct api_obj *
api_obj_create(struct api_txn *t, const struct schema_ident *ident, const char *uuid,
               const json_t *fq_name, struct api_obj *parent, json_t *props)
{
    struct api_obj *o = obj_alloc(t->store, ident, uuid, fq_name, props);
    obj_set_parent(o, parent);
    api_txn_mark(t, o);
    return o;
}

static struct api_ref *
ref_link(struct api_obj *from, struct api_obj *to, const struct schema_link *link,
         json_t *attr)
{
    struct api_ref *r = mem_zalloc(&mem_type_ref, sizeof *r);
    r->from = from;
    r->to = to;
    r->link = link;
    r->attr = attr;
    list_push_back(&from->refs, &r->from_node);
    list_push_back(&to->back_refs, &r->to_node);
    return r;
}

static void
ref_free(struct api_ref *r)
{
    list_remove(&r->from_node);
    list_remove(&r->to_node);
    json_decref(r->attr);
    mem_free(&mem_type_ref, r);
}

struct api_ref *
api_ref_add(struct api_txn *t, struct api_obj *from, struct api_obj *to,
            const struct schema_link *link, json_t *attr)
{
    api_txn_mark(t, from);
    return ref_link(from, to, link, attr);
}

void
api_ref_remove(struct api_txn *t, struct api_ref *r)
{
    api_txn_mark(t, r->from);
    ref_free(r);
}

struct api_ref *
api_ref_find(const struct api_obj *from, const struct api_obj *to)
{
    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &from->refs) {
        if (r->to == to) {
            return r;
        }
    }
    return NULL;
}

void
api_obj_delete(struct api_txn *t, struct api_obj *o)
{
    struct api_store *s = t->store;
    struct api_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        ref_free(r);
    }
    LIST_FOR_EACH_SAFE (r, to_node, &o->back_refs) {
        api_ref_remove(t, r);
    }
    if (o->parent) {
        list_remove(&o->child_node);
    }
    hmap_remove(&s->by_uuid, &o->uuid_node);
    hmap_remove(&s->by_fq, &o->fq_node);
    list_remove(&o->type_node);
    api_store_type(s, o->ident)->count--;
    s->n_objs--;
    s->n_objs_gauge = (int64_t) s->n_objs;
    o->deleted = true;
    if (t->n_dead == t->alloc_dead) {
        t->alloc_dead = t->alloc_dead ? 2 * t->alloc_dead : 4;
        t->dead = mem_realloc(&mem_type_txn, t->dead, t->alloc_dead * sizeof *t->dead);
    }
    t->dead[t->n_dead++] = o;
}

static void
obj_free(struct api_store *s, struct api_obj *o)
{
    if (s->hooks.freed) {
        s->hooks.freed(s, o, s->hooks.aux);
    }
    json_decref(o->props);
    json_decref(o->fq_name);
    xfree(o->fq_str);
    mem_free(&mem_type_obj, o);
}

char *
api_obj_row(const struct api_obj *o)
{
    json_t *refs = json_array();
    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        json_t *e = xjson_pack("{ssss}", "type", r->to->ident->name, "uuid", r->to->uuid);
        if (r->attr) {
            json_object_set(e, "attr", r->attr);
        }
        if (r->relaxed) {
            json_object_set_new(e, "relaxed", json_true());
        }
        json_array_append_new(refs, e);
    }
    json_t *row = xjson_pack("{sssOsOso}", "type", o->ident->name, "fq_name", o->fq_name,
                            "props", o->props, "refs", refs);
    if (o->parent) {
        json_object_set_new(row, "parent_uuid", json_string(o->parent->uuid));
    }
    char *text = mem_json_dumps(row, JSON_COMPACT);
    json_decref(row);
    return text;
}

struct commit_ctx {
    struct api_store *store;
    struct api_obj **dead;
    size_t n_dead;
    api_txn_done_fn *done;
    void *aux;
};

static void
commit_done(void *aux, int error, uint64_t rev)
{
    struct commit_ctx *c = aux;
    struct api_store *s = c->store;
    if (error) {
        /* The graph already holds the change, the disk does not: the two disagree until a
         * restart reloads the disk, so stop taking writes. */
        s->n_commit_errors++;
        s->failed = true;
        LOG_ERR("config database write failed (%s): refusing writes until restart",
                strerror(error));
    } else {
        s->n_commits++;
    }
    for (size_t i = 0; i < c->n_dead; i++) {
        obj_free(s, c->dead[i]);
    }
    mem_free(&mem_type_txn, c->dead);
    c->done(c->aux, error);
    mem_free(&mem_type_txn, c);
}

void
api_txn_commit(struct api_txn *t, api_txn_done_fn *done, void *aux)
{
    struct cfgdb_batch *b = t->batch;
    for (size_t i = 0; i < t->n_dirty; i++) {
        struct api_obj *o = t->dirty[i];
        if (!o->deleted) {
            char key[64];
            snprintf(key, sizeof key, OBJ_PREFIX "%s", o->uuid);
            cfgdb_batch_put_owned(b, key, api_obj_row(o));
        }
    }
    for (size_t i = 0; i < t->n_dead; i++) {
        char key[64];
        snprintf(key, sizeof key, OBJ_PREFIX "%s", t->dead[i]->uuid);
        cfgdb_batch_delete(b, key);
    }
    struct commit_ctx *c = mem_zalloc(&mem_type_txn, sizeof *c);
    c->store = t->store;
    c->dead = t->dead;
    c->n_dead = t->n_dead;
    c->done = done;
    c->aux = aux;
    mem_free(&mem_type_txn, t->dirty);
    memset(t, 0, sizeof *t);
    cfgdb_commit(c->store->db, b, commit_done, c);
}

void
api_txn_abort(struct api_txn *t)
{
    cfgdb_batch_destroy(t->batch);
    mem_free(&mem_type_txn, t->dirty);
    mem_free(&mem_type_txn, t->dead);
    memset(t, 0, sizeof *t);
}

/* Loading: values equal to the defaults are shared again. */

static void
intern_props(json_t *props)
{
    json_t *p2 = json_object_get(props, "perms2");
    if (p2 && json_equal(p2, api_default_perms2())) {
        json_object_set(props, "perms2", api_default_perms2());
    }
    json_t *ip = json_object_get(props, "id_perms");
    json_t *perm = json_object_get(ip, "permissions");
    if (perm && json_equal(perm, api_default_permissions())) {
        json_object_set(ip, "permissions", api_default_permissions());
    }
}

/* Loading. */

struct load_ctx {
    struct api_store *store;
    json_t *rows;               /* uuid -> row, for the second pass. */
    char *err;
    size_t errlen;
    int error;
};

static void
load_row(void *aux, const char *key, const char *value, uint64_t rev)
{
    struct load_ctx *ctx = aux;
    if (ctx->error) {
        return;
    }
    const char *uuid = key + strlen(OBJ_PREFIX);
    json_error_t jerr;
    json_t *row = json_loads(value, 0, &jerr);
    const struct schema_ident *ident = row ? schema_ident(ctx->store->schema,
                                                          json_string_value(json_object_get(
                                                              row, "type")) ?: "") : NULL;
    json_t *fq = json_object_get(row, "fq_name");
    char *fq_str = api_fq_join(fq);
    if (!ident || !fq_str || !uuid_is_valid(uuid)) {
        snprintf(ctx->err, ctx->errlen, "config database row %s is malformed", key);
        ctx->error = EINVAL;
        xfree(fq_str);
        json_decref(row);
        return;
    }
    xfree(fq_str);
    json_t *props = json_object_get(row, "props");
    if (json_is_object(props)) {
        intern_props(props);
    }
    obj_alloc(ctx->store, ident, uuid, fq, json_is_object(props) ? json_incref(props)
                                                                 : json_object());
    json_object_set_new(ctx->rows, uuid, row);
}

int
api_store_open(struct api_store *s, const struct schema *schema, struct cfgdb *db,
               const struct api_store_hooks *hooks, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->schema = schema;
    s->db = db;
    if (hooks) {
        s->hooks = *hooks;
    }
    hmap_init(&s->by_uuid);
    hmap_init(&s->by_fq);
    s->types = mem_zalloc(&mem_type_obj, schema->n_idents * sizeof *s->types);
    for (size_t i = 0; i < schema->n_idents; i++) {
        s->types[i].ident = schema->ident_list[i];
        list_init(&s->types[i].objs);
    }

    struct load_ctx ctx = { s, json_object(), err, errlen, 0 };
    int error = cfgdb_scan(db, OBJ_PREFIX, load_row, &ctx, NULL);
    if (error && !ctx.error) {
        snprintf(err, errlen, "cannot read the config database: %s", strerror(error));
        ctx.error = error;
    }
    /* Second pass: parents and references, now that every object exists. */
    const char *uuid;
    json_t *row;
    json_object_foreach (ctx.rows, uuid, row) {
        if (ctx.error) {
            break;
        }
        struct api_obj *o = api_store_get(s, uuid);
        const char *puuid = json_string_value(json_object_get(row, "parent_uuid"));
        if (puuid) {
            struct api_obj *p = api_store_get(s, puuid);
            if (p) {
                obj_set_parent(o, p);
            } else {
                LOG_WARN("object %s: parent %s missing", uuid, puuid);
            }
        }
        size_t i;
        json_t *rj;
        json_array_foreach (json_object_get(row, "refs"), i, rj) {
            struct api_obj *to = api_store_get(s, json_string_value(json_object_get(rj, "uuid"))
                                               ?: "");
            const struct schema_link *link = to ? schema_ident_ref_to(o->ident, to->ident)
                                                : NULL;
            if (!link) {
                LOG_WARN("object %s: dropping dangling reference", uuid);
                continue;
            }
            json_t *attr = json_object_get(rj, "attr");
            struct api_ref *r = ref_link(o, to, link, attr ? json_incref(attr) : NULL);
            r->relaxed = json_is_true(json_object_get(rj, "relaxed"));
        }
    }
    json_decref(ctx.rows);
    if (ctx.error) {
        return ctx.error;
    }
    if (s->hooks.loaded) {
        for (size_t i = 0; i < schema->n_idents; i++) {
            struct api_obj *o;
            API_TYPE_FOR_EACH (o, &s->types[i]) {
                s->hooks.loaded(s, o, s->hooks.aux);
            }
        }
    }
    LOG_NOTICE("loaded %zu objects", s->n_objs);
    return 0;
}

void
api_store_close(struct api_store *s)
{
    if (!s->types) {
        return;
    }
    for (size_t i = 0; i < s->schema->n_idents; i++) {
        struct api_obj *o;
        API_TYPE_FOR_EACH (o, &s->types[i]) {
            struct api_ref *r;
            LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
                ref_free(r);
            }
        }
    }
    for (size_t i = 0; i < s->schema->n_idents; i++) {
        struct api_obj *o;
        API_TYPE_FOR_EACH (o, &s->types[i]) {
            obj_free(s, o);
        }
    }
    hmap_destroy(&s->by_uuid);
    hmap_destroy(&s->by_fq);
    mem_free(&mem_type_obj, s->types);
    s->types = NULL;
}
