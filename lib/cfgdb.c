/* cfgdb: backend selection and batches (see cfgdb.h). */
#include "cfgdb.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_batch, "cfgdb_batch");

static int
open_class(struct event_base *base, const char *spec, struct cfgdb **dbp, char *err,
           size_t errlen)
{
    static const struct cfgdb_class *const classes[] = { &cfgdb_sqlite_class,
                                                          &cfgdb_etcd_class };
    const char *colon = strchr(spec, ':');
    if (colon) {
        for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
            size_t n = strlen(classes[i]->name);
            if ((size_t) (colon - spec) == n && !strncmp(spec, classes[i]->name, n)) {
                return classes[i]->open(base, colon + 1, dbp, err, errlen);
            }
        }
    }
    const char *slash = strchr(spec, '/');
    if (!colon || (slash && slash < colon)) {
        return cfgdb_sqlite_class.open(base, spec, dbp, err, errlen);
    }
    snprintf(err, errlen, "config_db %s: unknown backend (use sqlite:PATH or etcd:URL,...)",
             spec);
    return EINVAL;
}

int
cfgdb_open(struct event_base *base, const char *spec, struct cfgdb **dbp, char *err,
           size_t errlen)
{
    int error = open_class(base, spec, dbp, err, errlen);
    if (!error) {
        (*dbp)->base = base;
    }
    return error;
}

void
cfgdb_close(struct cfgdb *db)
{
    if (db) {
        db->class->close(db);
    }
}

int
cfgdb_scan(struct cfgdb *db, const char *prefix, cfgdb_scan_fn *cb, void *aux, uint64_t *revp)
{
    uint64_t rev = 0;
    int error = db->class->scan(db, prefix, cb, aux, &rev);
    if (revp) {
        *revp = rev;
    }
    return error;
}

bool
cfgdb_is_shared(const struct cfgdb *db)
{
    return db->class->shared;
}

int
cfgdb_watch(struct cfgdb *db, const char *prefix, uint64_t from_rev, cfgdb_watch_fn *cb,
            void *aux)
{
    return db->class->watch ? db->class->watch(db, prefix, from_rev, cb, aux) : 0;
}

struct barrier_now {
    struct event *ev;
    cfgdb_done_fn *done;
    void *aux;
};

static void
barrier_now_cb(evutil_socket_t fd, short what, void *aux_)
{
    struct barrier_now *b = aux_;
    cfgdb_done_fn *done = b->done;
    void *aux = b->aux;
    event_free(b->ev);
    mem_free(&mem_type_batch, b);
    done(aux, 0, 0);
}

void
cfgdb_barrier(struct cfgdb *db, cfgdb_done_fn *done, void *aux)
{
    if (db->class->barrier) {
        db->class->barrier(db, done, aux);
        return;
    }
    struct barrier_now *b = mem_zalloc(&mem_type_batch, sizeof *b);
    b->done = done;
    b->aux = aux;
    b->ev = event_new(db->base, -1, 0, barrier_now_cb, b);
    event_active(b->ev, 0, 0);
}

json_t *
cfgdb_status(const struct cfgdb *db)
{
    json_t *st = db->class->status ? db->class->status(db) : json_object();
    json_object_set_new(st, "backend", json_string(db->class->name));
    json_object_set_new(st, "batches", json_integer((json_int_t) db->n_batches));
    json_object_set_new(st, "commits", json_integer((json_int_t) db->n_commits));
    json_object_set_new(st, "errors", json_integer((json_int_t) db->n_errors));
    json_object_set_new(st, "conflicts", json_integer((json_int_t) db->n_conflicts));
    return st;
}

void
cfgdb_commit(struct cfgdb *db, struct cfgdb_batch *b, cfgdb_done_fn *done, void *aux)
{
    db->class->commit(db, b, done, aux);
}

struct cfgdb_batch *
cfgdb_batch_create(void)
{
    return mem_zalloc(&mem_type_batch, sizeof(struct cfgdb_batch));
}

void
cfgdb_batch_destroy(struct cfgdb_batch *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n_ops; i++) {
        mem_free(&mem_type_batch, b->ops[i].key);
        mem_free(&mem_type_string, b->ops[i].value);
    }
    mem_free(&mem_type_batch, b->ops);
    mem_free(&mem_type_batch, b);
}

static void
batch_add(struct cfgdb_batch *b, enum cfgdb_op_type type, const char *key, char *value)
{
    if (b->n_ops == b->allocated) {
        b->allocated = b->allocated ? 2 * b->allocated : 4;
        b->ops = mem_realloc(&mem_type_batch, b->ops, b->allocated * sizeof *b->ops);
    }
    struct cfgdb_op *op = &b->ops[b->n_ops++];
    op->type = type;
    op->key = mem_strdup(&mem_type_batch, key);
    op->value = value;
}

void
cfgdb_batch_put(struct cfgdb_batch *b, const char *key, const char *value)
{
    batch_add(b, CFGDB_PUT, key, mem_strdup(&mem_type_string, value));
}

void
cfgdb_batch_put_owned(struct cfgdb_batch *b, const char *key, char *value)
{
    batch_add(b, CFGDB_PUT, key, value);
}

void
cfgdb_batch_delete(struct cfgdb_batch *b, const char *key)
{
    batch_add(b, CFGDB_DELETE, key, NULL);
}

void
cfgdb_batch_check_absent(struct cfgdb_batch *b, const char *key)
{
    batch_add(b, CFGDB_CHECK_ABSENT, key, NULL);
}

void
cfgdb_batch_check_rev(struct cfgdb_batch *b, const char *key, uint64_t rev)
{
    batch_add(b, CFGDB_CHECK_REV, key, NULL);
    b->ops[b->n_ops - 1].rev = rev;
}

void
cfgdb_batch_check_prefix_rev(struct cfgdb_batch *b, const char *prefix, uint64_t rev)
{
    batch_add(b, CFGDB_CHECK_PREFIX_REV, prefix, NULL);
    b->ops[b->n_ops - 1].rev = rev;
}

bool
cfgdb_batch_is_empty(const struct cfgdb_batch *b)
{
    return !b->n_ops;
}
