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

static json_t *obj_row_json(const struct api_obj *);

/* Shared stores: remembers O's committed row before the transaction changes it. */
static void
save_undo(struct api_store *s, struct api_obj *o)
{
    if (s->shared && !o->created && !o->undo) {
        o->undo = obj_row_json(o);
    }
}

void
api_txn_mark(struct api_txn *t, struct api_obj *o)
{
    if (o->txn_seq == t->seq || o->deleted) {
        return;
    }
    save_undo(t->store, o);
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
    o->created = true;
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

/* Takes O out of its parent's children, the indexes and its type's list. */
static void
obj_unindex(struct api_store *s, struct api_obj *o)
{
    if (o->parent) {
        list_remove(&o->child_node);
    }
    hmap_remove(&s->by_uuid, &o->uuid_node);
    hmap_remove(&s->by_fq, &o->fq_node);
    list_remove(&o->type_node);
    api_store_type(s, o->ident)->count--;
    s->n_objs--;
    s->n_objs_gauge = (int64_t) s->n_objs;
}

void
api_obj_delete(struct api_txn *t, struct api_obj *o)
{
    struct api_store *s = t->store;
    save_undo(s, o);
    struct api_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        ref_free(r);
    }
    LIST_FOR_EACH_SAFE (r, to_node, &o->back_refs) {
        api_ref_remove(t, r);
    }
    obj_unindex(s, o);
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
    json_decref(o->undo);
    xfree(o->fq_str);
    mem_free(&mem_type_obj, o);
}

static json_t *
obj_row_json(const struct api_obj *o)
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
    return row;
}

char *
api_obj_row(const struct api_obj *o)
{
    json_t *row = obj_row_json(o);
    char *text = mem_json_dumps(row, JSON_COMPACT);
    json_decref(row);
    return text;
}

struct commit_cb {
    api_txn_done_fn *done;
    void *aux;
};

/* One batch in flight: one transaction, or (shared stores) a group of them. */
struct commit_ctx {
    struct api_store *store;
    json_t *msgs;               /* For hooks.committed. */
    struct api_obj **dirty;     /* Shared stores only. */
    size_t n_dirty, alloc_dirty;
    struct api_obj **dead;
    size_t n_dead, alloc_dead;
    struct commit_cb *cbs;      /* One per transaction, in order. */
    size_t n_cbs, alloc_cbs;
    struct cfgdb_batch *batch;  /* Group being built. */
    uint64_t seq;               /* Group mark (api_obj.group_seq). */
};

static void store_rollback(struct api_store *, struct commit_ctx *);
static void store_flush(struct api_store *);

static void
commit_done(void *aux, int error, uint64_t rev)
{
    struct commit_ctx *c = aux;
    struct api_store *s = c->store;
    if (s->shared) {
        if (!error) {
            s->n_commits++;
            for (size_t i = 0; i < c->n_dirty; i++) {
                struct api_obj *o = c->dirty[i];
                if (!o->deleted) {
                    o->rev = rev;
                    o->created = false;
                    json_decref(o->undo);
                    o->undo = NULL;
                }
            }
        } else {
            if (error == EEXIST) {
                s->n_conflicts++;
            } else {
                s->n_commit_errors++;
                LOG_WARN("config database write failed (%s): undone", strerror(error));
            }
            store_rollback(s, c);
        }
    } else if (error) {
        /* The graph already holds the change, the disk does not: the two disagree until a
         * restart reloads the disk, so stop taking writes. */
        s->n_commit_errors++;
        s->failed = true;
        LOG_ERR("config database write failed (%s): refusing writes until restart",
                strerror(error));
    } else {
        s->n_commits++;
    }
    if (!error && c->msgs && json_array_size(c->msgs) && s->hooks.committed) {
        s->hooks.committed(s, c->msgs, s->hooks.aux);
    }
    json_decref(c->msgs);
    for (size_t i = 0; i < c->n_dead; i++) {
        obj_free(s, c->dead[i]);
    }
    mem_free(&mem_type_txn, c->dead);
    mem_free(&mem_type_txn, c->dirty);
    if (s->shared) {
        s->in_flight = false;
        store_flush(s);
    }
    for (size_t i = 0; i < c->n_cbs; i++) {
        c->cbs[i].done(c->cbs[i].aux, error);
    }
    mem_free(&mem_type_txn, c->cbs);
    mem_free(&mem_type_txn, c);
    if (s->shared && !s->in_flight && s->idle_cb) {
        s->idle_cb(s->idle_aux);
    }
}

/* Shared stores: the checks and bookkeeping rows of a batch.  Each key is written at most
 * once per batch (etcd refuses duplicates); checks may repeat harmlessly but are folded. */
struct batch_build {
    struct cfgdb_batch *b;
    json_t *seen;               /* "<op>key" -> true */
};

static bool
once(struct batch_build *bb, char op, const char *key)
{
    char *k = mem_asprintf(&mem_type_string, "%c%s", op, key);
    bool fresh = !json_object_get(bb->seen, k);
    if (fresh) {
        json_object_set_new(bb->seen, k, json_true());
    }
    xfree(k);
    return fresh;
}

static void
bb_check_rev(struct batch_build *bb, const char *key, uint64_t rev)
{
    if (once(bb, 'c', key)) {
        cfgdb_batch_check_rev(bb->b, key, rev);
    }
}

static void
bb_put(struct batch_build *bb, const char *key, const char *value)
{
    if (once(bb, 'w', key)) {
        cfgdb_batch_put(bb->b, key, value);
    }
}

static void
bb_delete(struct batch_build *bb, const char *key)
{
    if (once(bb, 'w', key)) {
        cfgdb_batch_delete(bb->b, key);
    }
}

/* The object O depends on (a reference target or parent) must still be what this server
 * saw; "link/<target>/<uuid>" records the dependency so that deleting the target fails if
 * a new one appeared that its server had not seen. */
static void
bb_depend(struct batch_build *bb, const struct api_obj *o, const struct api_obj *target)
{
    char key[200];
    if (!target->created) {
        snprintf(key, sizeof key, OBJ_PREFIX "%s", target->uuid);
        bb_check_rev(bb, key, target->rev);
    }
    snprintf(key, sizeof key, "link/%s/%s", target->uuid, o->uuid);
    bb_put(bb, key, "");
}

static void
bb_undepend(struct batch_build *bb, const struct api_obj *o, const char *target_uuid)
{
    char key[200];
    snprintf(key, sizeof key, "link/%s/%s", target_uuid, o->uuid);
    bb_delete(bb, key);
}

struct claim_ctx {
    struct batch_build *bb;
    const char *uuid;
    bool create;
};

static void
claim_add(void *ctx_, const char *key)
{
    struct claim_ctx *ctx = ctx_;
    char *k = mem_asprintf(&mem_type_string, "claim/%s", key);
    if (ctx->create) {
        if (once(ctx->bb, 'a', k)) {
            cfgdb_batch_check_absent(ctx->bb->b, k);
        }
        bb_put(ctx->bb, k, ctx->uuid);
    } else {
        bb_delete(ctx->bb, k);
    }
    xfree(k);
}

static bool
row_has_ref(const json_t *row, const char *uuid)
{
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get(row, "refs"), i, r) {
        if (!strcmp(json_string_value(json_object_get(r, "uuid")) ?: "", uuid)) {
            return true;
        }
    }
    return false;
}

static void
build_shared(struct api_store *s, const struct commit_ctx *t, struct batch_build *bb)
{
    char key[200];
    for (size_t i = 0; i < t->n_dirty; i++) {
        struct api_obj *o = t->dirty[i];
        if (o->deleted) {
            continue;
        }
        snprintf(key, sizeof key, OBJ_PREFIX "%s", o->uuid);
        struct api_ref *r;
        if (o->created) {
            if (once(bb, 'a', key)) {
                cfgdb_batch_check_absent(bb->b, key);
            }
            if (s->claims) {
                struct claim_ctx cc = { bb, o->uuid, true };
                s->claims(o, claim_add, &cc);
            }
            if (o->parent) {
                bb_depend(bb, o, o->parent);
            }
            LIST_FOR_EACH (r, from_node, &o->refs) {
                bb_depend(bb, o, r->to);
            }
        } else {
            bb_check_rev(bb, key, o->rev);
            LIST_FOR_EACH (r, from_node, &o->refs) {
                if (!row_has_ref(o->undo, r->to->uuid)) {
                    bb_depend(bb, o, r->to);
                }
            }
            size_t j;
            json_t *old;
            json_array_foreach (json_object_get(o->undo, "refs"), j, old) {
                const char *to = json_string_value(json_object_get(old, "uuid")) ?: "";
                struct api_obj *x = api_store_get(s, to);
                if (!x || !api_ref_find(o, x)) {
                    bb_undepend(bb, o, to);
                }
            }
        }
        if (once(bb, 'w', key)) {
            cfgdb_batch_put_owned(bb->b, key, api_obj_row(o));
        }
    }
    for (size_t i = 0; i < t->n_dead; i++) {
        struct api_obj *o = t->dead[i];
        if (o->created) {
            continue;           /* Created and deleted by this transaction: no row. */
        }
        snprintf(key, sizeof key, OBJ_PREFIX "%s", o->uuid);
        bb_check_rev(bb, key, o->rev);
        bb_delete(bb, key);
        if (s->claims) {
            struct claim_ctx cc = { bb, o->uuid, false };
            s->claims(o, claim_add, &cc);
        }
        if (o->parent) {
            bb_undepend(bb, o, o->parent->uuid);
        }
        size_t j;
        json_t *old;
        json_array_foreach (json_object_get(o->undo, "refs"), j, old) {
            bb_undepend(bb, o, json_string_value(json_object_get(old, "uuid")) ?: "");
        }
        /* Nothing may have started to depend on it since this server last looked. */
        snprintf(key, sizeof key, "link/%s/", o->uuid);
        cfgdb_batch_check_prefix_rev(bb->b, key, s->view_rev);
    }
}

static json_t *
change_msg(const struct api_obj *o, const char *oper)
{
    json_t *m = xjson_pack("{sssssssO}", "oper", oper, "type", o->ident->obj_type, "uuid",
                           o->uuid, "fq_name", o->fq_name);
    if (strcmp(oper, "UPDATE")) {
        json_object_set_new(m, "obj_dict", api_obj_dict(o));
    }
    return m;
}

static json_t *
change_msgs(const struct api_txn *t)
{
    json_t *msgs = json_array();
    for (size_t i = 0; i < t->n_dirty; i++) {
        const struct api_obj *o = t->dirty[i];
        if (!o->deleted) {
            json_array_append_new(msgs, change_msg(o, o->created ? "CREATE" : "UPDATE"));
        }
    }
    for (size_t i = 0; i < t->n_dead; i++) {
        if (!t->dead[i]->created) {
            json_array_append_new(msgs, change_msg(t->dead[i], "DELETE"));
        }
    }
    return msgs;
}

json_t *
api_obj_dict(const struct api_obj *o)
{
    json_t *d = json_deep_copy(o->props);
    json_object_set_new(d, "uuid", json_string(o->uuid));
    json_object_set(d, "fq_name", o->fq_name);
    if (o->parent) {
        json_object_set_new(d, "parent_type", json_string(o->parent->ident->name));
        json_object_set_new(d, "parent_uuid", json_string(o->parent->uuid));
    }
    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        const char *field = r->to->ident->obj_type;
        char key[200];
        snprintf(key, sizeof key, "%s_refs", field);
        json_t *l = json_object_get(d, key);
        if (!l) {
            l = json_array();
            json_object_set_new(d, key, l);
        }
        json_t *e = xjson_pack("{sOss}", "to", r->to->fq_name, "uuid", r->to->uuid);
        if (r->attr) {
            json_object_set(e, "attr", r->attr);
        }
        json_array_append_new(l, e);
    }
    return d;
}

static void
grow(void **array, size_t n, size_t *alloc, size_t size)
{
    if (n == *alloc) {
        *alloc = *alloc ? 2 * *alloc : 8;
        *array = mem_realloc(&mem_type_txn, *array, *alloc * size);
    }
}

static void
group_add_cb(struct commit_ctx *g, api_txn_done_fn *done, void *aux)
{
    grow((void **) &g->cbs, g->n_cbs, &g->alloc_cbs, sizeof *g->cbs);
    g->cbs[g->n_cbs++] = (struct commit_cb) { done, aux };
}

/* Adds what T touched to the group G (each object once) and takes over T. */
static void
group_add(struct commit_ctx *g, struct api_txn *t, api_txn_done_fn *done, void *aux)
{
    struct api_store *s = t->store;
    if (s->hooks.committed) {
        json_t *msgs = change_msgs(t);
        json_array_extend(g->msgs, msgs);
        json_decref(msgs);
    }
    for (size_t i = 0; i < t->n_dirty; i++) {
        struct api_obj *o = t->dirty[i];
        if (o->group_seq != g->seq) {
            o->group_seq = g->seq;
            grow((void **) &g->dirty, g->n_dirty, &g->alloc_dirty, sizeof *g->dirty);
            g->dirty[g->n_dirty++] = o;
        }
    }
    for (size_t i = 0; i < t->n_dead; i++) {
        grow((void **) &g->dead, g->n_dead, &g->alloc_dead, sizeof *g->dead);
        g->dead[g->n_dead++] = t->dead[i];
    }
    /* Extra rows (user-agent, reservations), in order. */
    for (size_t i = 0; i < t->batch->n_ops; i++) {
        struct cfgdb_op *op = &t->batch->ops[i];
        switch (op->type) {
        case CFGDB_PUT:
            cfgdb_batch_put_owned(g->batch, op->key, op->value);
            op->value = NULL;
            break;
        case CFGDB_DELETE:
            cfgdb_batch_delete(g->batch, op->key);
            break;
        case CFGDB_CHECK_ABSENT:
            cfgdb_batch_check_absent(g->batch, op->key);
            break;
        case CFGDB_CHECK_REV:
            cfgdb_batch_check_rev(g->batch, op->key, op->rev);
            break;
        case CFGDB_CHECK_PREFIX_REV:
            cfgdb_batch_check_prefix_rev(g->batch, op->key, op->rev);
            break;
        }
    }
    cfgdb_batch_destroy(t->batch);
    mem_free(&mem_type_txn, t->dirty);
    mem_free(&mem_type_txn, t->dead);
    memset(t, 0, sizeof *t);
    group_add_cb(g, done, aux);
}

static struct commit_ctx *
group_new(struct api_store *s)
{
    struct commit_ctx *g = mem_zalloc(&mem_type_txn, sizeof *g);
    g->store = s;
    g->msgs = json_array();
    g->batch = cfgdb_batch_create();
    g->seq = ++s->txn_seq;
    return g;
}

/* Shared stores: submits group G as one transaction. */
static void
group_submit(struct api_store *s, struct commit_ctx *g)
{
    struct batch_build bb = { g->batch, json_object() };
    build_shared(s, g, &bb);
    json_decref(bb.seen);
    struct cfgdb_batch *b = g->batch;
    g->batch = NULL;
    s->in_flight = true;
    s->n_groups++;
    s->n_grouped += g->n_cbs;
    cfgdb_commit(s->db, b, commit_done, g);
}

void
api_txn_commit(struct api_txn *t, api_txn_done_fn *done, void *aux)
{
    struct api_store *s = t->store;
    if (s->shared) {
        if (s->group) {
            group_add(s->group, t, done, aux);
        } else {
            struct commit_ctx *g = group_new(s);
            group_add(g, t, done, aux);
            group_submit(s, g);
        }
        return;
    }
    struct cfgdb_batch *b = t->batch;
    struct commit_ctx *c = mem_zalloc(&mem_type_txn, sizeof *c);
    if (s->hooks.committed) {
        c->msgs = change_msgs(t);
    }
    for (size_t i = 0; i < t->n_dirty; i++) {
        struct api_obj *o = t->dirty[i];
        o->created = false;
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
    mem_free(&mem_type_txn, t->dirty);
    c->store = s;
    c->dead = t->dead;
    c->n_dead = t->n_dead;
    group_add_cb(c, done, aux);
    memset(t, 0, sizeof *t);
    cfgdb_commit(s->db, b, commit_done, c);
}

void
api_store_group_begin(struct api_store *s)
{
    if (s->shared && !s->group && !s->in_flight) {
        s->group = group_new(s);
    }
}

bool
api_store_group_pending(const struct api_store *s)
{
    return s->group && s->group->n_cbs;
}

void
api_store_group_end(struct api_store *s)
{
    struct commit_ctx *g = s->group;
    if (!g) {
        return;
    }
    s->group = NULL;
    if (g->n_cbs) {
        group_submit(s, g);
    } else {
        json_decref(g->msgs);
        cfgdb_batch_destroy(g->batch);
        mem_free(&mem_type_txn, g);
    }
}

void
api_txn_abort(struct api_txn *t)
{
    for (size_t i = 0; i < t->n_dirty; i++) {
        json_decref(t->dirty[i]->undo);
        t->dirty[i]->undo = NULL;
        t->dirty[i]->created = false;
    }
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

/* Shared stores: applying rows (changes by other API servers, and undoing a failed
 * transaction).  Rows are applied in two phases, objects first and then their references,
 * so that a batch may refer to objects it creates. */

struct api_store_event {
    struct api_store_event *next;
    enum cfgdb_event type;
    char *key;
    char *value;
    uint64_t rev;
};

/* Phase 1: the object, its properties and parent.  Takes ROW's properties. */
static struct api_obj *
row_apply_obj(struct api_store *s, const char *uuid, json_t *row, uint64_t rev)
{
    const struct schema_ident *ident =
        schema_ident(s->schema, json_string_value(json_object_get(row, "type")) ?: "");
    json_t *fq = json_object_get(row, "fq_name");
    char *fq_str = api_fq_join(fq);
    json_t *props = json_object_get(row, "props");
    if (!ident || !fq_str || !uuid_is_valid(uuid) || !json_is_object(props)) {
        LOG_WARN("ignoring malformed row for object %s", uuid);
        xfree(fq_str);
        return NULL;
    }
    xfree(fq_str);
    props = json_deep_copy(props);
    intern_props(props);
    struct api_obj *o = api_store_get(s, uuid);
    if (o && o->ident != ident) {
        LOG_WARN("object %s changed type: ignored", uuid);
        json_decref(props);
        return NULL;
    }
    if (o) {
        json_decref(o->props);
        o->props = props;
    } else {
        o = obj_alloc(s, ident, uuid, fq, props);
        const char *puuid = json_string_value(json_object_get(row, "parent_uuid"));
        struct api_obj *p = puuid ? api_store_get(s, puuid) : NULL;
        if (puuid && !p) {
            LOG_WARN("object %s: parent %s missing", uuid, puuid);
        }
        obj_set_parent(o, p);
    }
    o->rev = rev;
    return o;
}

/* Phase 2: its references, as ROW lists them. */
static void
row_apply_refs(struct api_store *s, struct api_obj *o, const json_t *row)
{
    struct api_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        ref_free(r);
    }
    size_t i;
    json_t *rj;
    json_array_foreach (json_object_get(row, "refs"), i, rj) {
        struct api_obj *to = api_store_get(s, json_string_value(json_object_get(rj, "uuid"))
                                           ?: "");
        const struct schema_link *link = to ? schema_ident_ref_to(o->ident, to->ident) : NULL;
        if (!link) {
            LOG_WARN("object %s: dropping dangling reference", o->uuid);
            continue;
        }
        json_t *attr = json_object_get(rj, "attr");
        r = ref_link(o, to, link, attr ? json_incref(attr) : NULL);
        r->relaxed = json_is_true(json_object_get(rj, "relaxed"));
    }
}

/* Removes O from the graph at once (it was deleted by another server, or its creation was
 * undone) and frees it. */
static void
obj_remove(struct api_store *s, struct api_obj *o)
{
    if (s->hooks.unloaded) {
        s->hooks.unloaded(s, o, s->hooks.aux);
    }
    struct api_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
        ref_free(r);
    }
    LIST_FOR_EACH_SAFE (r, to_node, &o->back_refs) {
        ref_free(r);
    }
    struct api_obj *c;
    LIST_FOR_EACH_SAFE (c, child_node, &o->children) {
        list_remove(&c->child_node);
        list_init(&c->child_node);
        c->parent = NULL;
    }
    obj_unindex(s, o);
    obj_free(s, o);
}

static int
cmp_ident(const void *a_, const void *b_)
{
    const struct api_obj *a = *(struct api_obj *const *) a_;
    const struct api_obj *b = *(struct api_obj *const *) b_;
    return a->ident->index < b->ident->index ? -1 : a->ident->index > b->ident->index;
}

/* Runs the "loaded" hook over OBJS (networks before the addresses in them). */
static void
call_loaded(struct api_store *s, struct api_obj **objs, size_t n)
{
    if (!s->hooks.loaded) {
        return;
    }
    qsort(objs, n, sizeof *objs, cmp_ident);
    for (size_t i = 0; i < n; i++) {
        s->hooks.loaded(s, objs[i], s->hooks.aux);
    }
}

static void
store_rollback(struct api_store *s, struct commit_ctx *c)
{
    /* Objects the transaction created go; objects it changed or deleted come back. */
    for (size_t i = 0; i < c->n_dirty; i++) {
        struct api_obj *o = c->dirty[i];
        if (!o->deleted && o->created) {
            c->dirty[i] = NULL;
            obj_remove(s, o);
        }
    }
    size_t n = 0, alloc = c->n_dirty + c->n_dead;
    struct api_obj **objs = mem_zalloc(&mem_type_txn, (alloc ? alloc : 1) * sizeof *objs);
    json_t **rows = mem_zalloc(&mem_type_txn, (alloc ? alloc : 1) * sizeof *rows);
    for (size_t pass = 0; pass < 2; pass++) {
        size_t count = pass ? c->n_dead : c->n_dirty;
        for (size_t i = 0; i < count; i++) {
            /* Children are deleted before their parents: bring parents back first. */
            struct api_obj *o = pass ? c->dead[count - 1 - i] : c->dirty[i];
            if (!o || !o->undo || (!pass && o->deleted)) {
                continue;
            }
            json_t *row = json_incref(o->undo);
            struct api_obj *r = row_apply_obj(s, o->uuid, row, o->rev);
            if (r) {
                objs[n] = r;
                rows[n++] = row;
            } else {
                json_decref(row);
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        row_apply_refs(s, objs[i], rows[i]);
        json_decref(rows[i]);
        if (objs[i]->undo) {
            json_decref(objs[i]->undo);
            objs[i]->undo = NULL;
        }
    }
    call_loaded(s, objs, n);
    mem_free(&mem_type_txn, objs);
    mem_free(&mem_type_txn, rows);
}

static void
held_event_free(struct api_store_event *e)
{
    xfree(e->key);
    xfree(e->value);
    mem_free(&mem_type_txn, e);
}

/* Applies the changes held back, one revision at a time. */
static void
store_flush(struct api_store *s)
{
    while (!s->in_flight && s->held) {
        uint64_t rev = s->held->rev;
        size_t n = 0, alloc = 8;
        struct api_obj **objs = mem_zalloc(&mem_type_txn, alloc * sizeof *objs);
        json_t **rows = mem_zalloc(&mem_type_txn, alloc * sizeof *rows);
        while (s->held && s->held->rev == rev) {
            struct api_store_event *e = s->held;
            s->held = e->next;
            if (!s->held) {
                s->held_tail = &s->held;
            }
            if (!strncmp(e->key, OBJ_PREFIX, strlen(OBJ_PREFIX))) {
                const char *uuid = e->key + strlen(OBJ_PREFIX);
                struct api_obj *o = api_store_get(s, uuid);
                if (o && o->rev >= rev) {
                    /* This server's own change, already applied. */
                } else if (e->type == CFGDB_EV_DELETE) {
                    if (o) {
                        obj_remove(s, o);
                        s->n_remote_changes++;
                        if (s->hooks.remote) {
                            s->hooks.remote(s, uuid, s->hooks.aux);
                        }
                    }
                } else {
                    json_t *row = json_loads(e->value, 0, NULL);
                    o = row ? row_apply_obj(s, uuid, row, rev) : NULL;
                    if (o) {
                        if (n == alloc) {
                            alloc *= 2;
                            objs = mem_realloc(&mem_type_txn, objs, alloc * sizeof *objs);
                            rows = mem_realloc(&mem_type_txn, rows, alloc * sizeof *rows);
                        }
                        objs[n] = o;
                        rows[n++] = row;
                        s->n_remote_changes++;
                    } else {
                        if (!row) {
                            LOG_WARN("ignoring unparsable row %s", e->key);
                        }
                        json_decref(row);
                    }
                }
            } else if (!strncmp(e->key, "claim/", 6) || !strncmp(e->key, "link/", 5)) {
                /* Bookkeeping of shared stores only. */
            } else if (s->hooks.other_row) {
                s->hooks.other_row(s, e->key, e->type == CFGDB_EV_PUT ? e->value : NULL,
                                   s->hooks.aux);
            }
            held_event_free(e);
        }
        for (size_t i = 0; i < n; i++) {
            row_apply_refs(s, objs[i], rows[i]);
            json_decref(rows[i]);
            if (s->hooks.remote) {
                s->hooks.remote(s, objs[i]->uuid, s->hooks.aux);
            }
        }
        call_loaded(s, objs, n);
        mem_free(&mem_type_txn, objs);
        mem_free(&mem_type_txn, rows);
        if (rev > s->view_rev) {
            s->view_rev = rev;
        }
    }
}

static void
flush_cb(evutil_socket_t fd, short what, void *aux)
{
    store_flush(aux);
}

static void
on_watch(void *aux, enum cfgdb_event type, const char *key, const char *value, uint64_t rev)
{
    struct api_store *s = aux;
    if (type == CFGDB_EV_RESYNC) {
        LOG_ERR("changes made by other API servers were lost (store history compacted): "
                "refusing writes until restart");
        s->failed = true;
        return;
    }
    struct api_store_event *e = mem_zalloc(&mem_type_txn, sizeof *e);
    e->type = type;
    e->key = mem_strdup(&mem_type_string, key);
    e->value = value ? mem_strdup(&mem_type_string, value) : NULL;
    e->rev = rev;
    *s->held_tail = e;
    s->held_tail = &e->next;
    event_active(s->flush_ev, 0, 0);
}

int
api_store_watch(struct api_store *s)
{
    if (!s->shared) {
        return 0;
    }
    return cfgdb_watch(s->db, "", s->view_rev, on_watch, s);
}

void
api_store_flush(struct api_store *s)
{
    store_flush(s);
}

void
api_store_set_claims(struct api_store *s, api_claims_fn *claims)
{
    s->claims = claims;
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
    struct api_obj *o = obj_alloc(ctx->store, ident, uuid, fq,
                                  json_is_object(props) ? json_incref(props) : json_object());
    o->rev = rev;
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
    s->shared = cfgdb_is_shared(db);
    s->held_tail = &s->held;
    s->flush_ev = event_new(db->base, -1, 0, flush_cb, s);
    s->types = mem_zalloc(&mem_type_obj, schema->n_idents * sizeof *s->types);
    for (size_t i = 0; i < schema->n_idents; i++) {
        s->types[i].ident = schema->ident_list[i];
        list_init(&s->types[i].objs);
    }

    struct load_ctx ctx = { s, json_object(), err, errlen, 0 };
    int error = cfgdb_scan(db, OBJ_PREFIX, load_row, &ctx, &s->view_rev);
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
    while (s->held) {
        struct api_store_event *e = s->held;
        s->held = e->next;
        held_event_free(e);
    }
    if (s->flush_ev) {
        event_free(s->flush_ev);
        s->flush_ev = NULL;
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
