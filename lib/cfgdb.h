/* cfgdb: the config database interface (the original's Cassandra `config_db_uuid`).
 *
 * A key/value store of UTF-8 keys and values with atomic, durable batches.  The API server
 * keeps the object graph in memory and persists each change as one batch (the object rows it
 * touched); it answers the client only from the batch's completion callback, which runs on
 * the event-loop thread after the batch is durable.  Backends: SQLite (embedded default,
 * "sqlite:PATH") and, later, etcd ("etcd:URL,URL,...").  A batch may carry preconditions
 * ("key absent") so that a replicated backend enforces uniqueness in its own transaction. */
#ifndef CONTRAIL_CFGDB_H
#define CONTRAIL_CFGDB_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfgdb;

enum cfgdb_op_type { CFGDB_PUT, CFGDB_DELETE, CFGDB_CHECK_ABSENT };

struct cfgdb_op {
    enum cfgdb_op_type type;
    char *key;
    char *value;                /* CFGDB_PUT only. */
};

struct cfgdb_batch {
    struct cfgdb_op *ops;
    size_t n_ops, allocated;
};

/* Called on the loop thread when a batch is durable (ERROR 0), failed a precondition
 * (EEXIST: nothing of the batch was applied) or could not be written (another errno). */
typedef void cfgdb_done_fn(void *aux, int error);

/* Called for each key/value pair by cfgdb_scan. */
typedef void cfgdb_scan_fn(void *aux, const char *key, const char *value);

struct cfgdb_class {
    const char *name;
    int (*open)(struct event_base *, const char *spec, struct cfgdb **, char *err, size_t);
    void (*close)(struct cfgdb *);
    int (*scan)(struct cfgdb *, const char *prefix, cfgdb_scan_fn *, void *aux);
    void (*commit)(struct cfgdb *, struct cfgdb_batch *, cfgdb_done_fn *, void *aux);
};

struct cfgdb {
    const struct cfgdb_class *class;
    uint64_t n_batches;         /* Batches committed. */
    uint64_t n_commits;         /* Durable commits (fsyncs): fewer than batches = grouping. */
    uint64_t n_errors;
};

/* Opens the store named by SPEC: "sqlite:PATH" (or a bare path).  Returns 0 and *DBP, or an
 * errno with a message in ERR. */
int cfgdb_open(struct event_base *, const char *spec, struct cfgdb **dbp, char *err,
               size_t errlen);

/* Waits for every submitted batch to complete, then closes.  NULL is accepted. */
void cfgdb_close(struct cfgdb *);

/* Calls CB for every pair whose key starts with PREFIX, in key order.  Synchronous: for
 * start-up only.  Returns 0 or an errno. */
int cfgdb_scan(struct cfgdb *, const char *prefix, cfgdb_scan_fn *, void *aux);

/* Submits BATCH (taken over: the caller must not touch it again).  DONE runs later, on the
 * loop thread, never from inside this call. */
void cfgdb_commit(struct cfgdb *, struct cfgdb_batch *, cfgdb_done_fn *done, void *aux);

/* Batches. */
struct cfgdb_batch *cfgdb_batch_create(void);
void cfgdb_batch_destroy(struct cfgdb_batch *);
void cfgdb_batch_put(struct cfgdb_batch *, const char *key, const char *value);
/* Like cfgdb_batch_put, taking over VALUE (allocated by cfgdb_value_alloc or mem_type_string). */
void cfgdb_batch_put_owned(struct cfgdb_batch *, const char *key, char *value);
void cfgdb_batch_delete(struct cfgdb_batch *, const char *key);
void cfgdb_batch_check_absent(struct cfgdb_batch *, const char *key);
bool cfgdb_batch_is_empty(const struct cfgdb_batch *);

extern const struct cfgdb_class cfgdb_sqlite_class;

#endif
