/* cfgdb: the config database interface (the original's Cassandra `config_db_uuid`).
 *
 * A key/value store of UTF-8 keys and values with atomic, durable batches.  The API server
 * keeps the object graph in memory and persists each change as one batch (the object rows it
 * touched); it answers the client only from the batch's completion callback, which runs on
 * the event-loop thread after the batch is durable.  Backends: SQLite (embedded default,
 * "sqlite:PATH") and etcd ("etcd:URL,URL,...", shared by several API servers).  A batch may
 * carry preconditions (key absent, key unchanged since a revision) so that a replicated
 * backend enforces uniqueness and detects concurrent writers in its own transaction. */
#ifndef CONTRAIL_CFGDB_H
#define CONTRAIL_CFGDB_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cfgdb;

/* Revisions: a replicated backend (etcd) numbers every committed batch with a store-wide,
 * increasing revision; each key remembers the revision that last modified it.  The SQLite
 * backend (one writer: this process) reports revision 0 everywhere and ignores the
 * revision checks, which only guard against other writers. */
enum cfgdb_op_type {
    CFGDB_PUT,
    CFGDB_DELETE,
    CFGDB_CHECK_ABSENT,         /* KEY does not exist. */
    CFGDB_CHECK_REV,            /* KEY was last modified at REV (REV 0: KEY does not exist). */
    CFGDB_CHECK_PREFIX_REV,     /* No existing key that starts with KEY was modified after REV. */
};

struct cfgdb_op {
    enum cfgdb_op_type type;
    char *key;
    char *value;                /* CFGDB_PUT only. */
    uint64_t rev;               /* CFGDB_CHECK_REV, CFGDB_CHECK_PREFIX_REV. */
};

struct cfgdb_batch {
    struct cfgdb_op *ops;
    size_t n_ops, allocated;
};

/* Called on the loop thread when a batch is durable (ERROR 0; REV is the revision it was
 * committed at), failed a precondition (EEXIST: nothing of the batch was applied), or could
 * not be written (ETIMEDOUT: no answer from a quorum within the timeout, so it may or may not
 * have been applied; ECONNREFUSED: no member reachable, not applied; E2BIG: the batch is over
 * the store's transaction limits, not applied; EIO: other failure).
 * The same type serves cfgdb_barrier(). */
typedef void cfgdb_done_fn(void *aux, int error, uint64_t rev);

/* Called for each key/value pair by cfgdb_scan, with the revision that last modified it. */
typedef void cfgdb_scan_fn(void *aux, const char *key, const char *value, uint64_t rev);

/* A change seen by cfgdb_watch.  CFGDB_EV_RESYNC: changes were lost (the history needed was
 * compacted away); the watcher must rescan.  KEY and VALUE are NULL for it. */
enum cfgdb_event { CFGDB_EV_PUT, CFGDB_EV_DELETE, CFGDB_EV_RESYNC };
typedef void cfgdb_watch_fn(void *aux, enum cfgdb_event, const char *key, const char *value,
                            uint64_t rev);

struct cfgdb_class {
    const char *name;
    bool shared;                /* Other processes may write the same store. */
    int (*open)(struct event_base *, const char *spec, struct cfgdb **, char *err, size_t);
    void (*close)(struct cfgdb *);
    int (*scan)(struct cfgdb *, const char *prefix, cfgdb_scan_fn *, void *aux,
                uint64_t *revp);
    void (*commit)(struct cfgdb *, struct cfgdb_batch *, cfgdb_done_fn *, void *aux);
    /* Optional (shared backends only). */
    int (*watch)(struct cfgdb *, const char *prefix, uint64_t from_rev, cfgdb_watch_fn *,
                 void *aux);
    void (*barrier)(struct cfgdb *, cfgdb_done_fn *, void *aux);
    json_t *(*status)(const struct cfgdb *);
};

struct cfgdb {
    const struct cfgdb_class *class;
    struct event_base *base;    /* Set by cfgdb_open. */
    uint64_t n_batches;         /* Batches committed. */
    uint64_t n_commits;         /* Durable commits (fsyncs): fewer than batches = grouping. */
    uint64_t n_errors;
    uint64_t n_conflicts;       /* Batches refused by a precondition. */
};

/* Opens the store named by SPEC: "sqlite:PATH" (or a bare path), or
 * "etcd:URL,URL,...[?prefix=/contrail/&timeout=SECONDS&conns=N]" (see cfgdb_etcd.c).
 * Returns 0 and *DBP, or an errno with a message in ERR. */
int cfgdb_open(struct event_base *, const char *spec, struct cfgdb **dbp, char *err,
               size_t errlen);

/* Waits for every submitted batch to complete, then closes.  NULL is accepted. */
void cfgdb_close(struct cfgdb *);

/* Calls CB for every pair whose key starts with PREFIX, in key order, as of one revision
 * (stored in *REVP when REVP is not NULL).  Synchronous: for start-up and resynchronisation
 * only.  Returns 0 or an errno. */
int cfgdb_scan(struct cfgdb *, const char *prefix, cfgdb_scan_fn *, void *aux,
               uint64_t *revp);

/* Submits BATCH (taken over: the caller must not touch it again).  DONE runs later, on the
 * loop thread, never from inside this call. */
void cfgdb_commit(struct cfgdb *, struct cfgdb_batch *, cfgdb_done_fn *done, void *aux);

/* True if other processes may write the same store (then watch and barrier matter). */
bool cfgdb_is_shared(const struct cfgdb *);

/* Delivers, in revision order on the loop thread, every change to a key under PREFIX
 * committed after FROM_REV, this process's own included, until the store is closed.  Losing
 * and regaining members is handled inside (the watch resumes where it stopped).  A store that
 * is not shared accepts the call and never calls CB.  Returns 0 or an errno. */
int cfgdb_watch(struct cfgdb *, const char *prefix, uint64_t from_rev, cfgdb_watch_fn *cb,
                void *aux);

/* Calls DONE (error 0, REV = the store's revision at the time of the call) once the watch has
 * delivered every change committed before this call, by any process: after it, the watcher's
 * view is at least as new as any write acknowledged to anybody before the call.  Errors as
 * for a commit.  A store that is not shared calls DONE at once (from the loop, not from
 * inside the call). */
void cfgdb_barrier(struct cfgdb *, cfgdb_done_fn *done, void *aux);

/* The backend's state for introspect (never NULL). */
json_t *cfgdb_status(const struct cfgdb *);

/* Batches. */
struct cfgdb_batch *cfgdb_batch_create(void);
void cfgdb_batch_destroy(struct cfgdb_batch *);
void cfgdb_batch_put(struct cfgdb_batch *, const char *key, const char *value);
/* Like cfgdb_batch_put, taking over VALUE (allocated by cfgdb_value_alloc or mem_type_string). */
void cfgdb_batch_put_owned(struct cfgdb_batch *, const char *key, char *value);
void cfgdb_batch_delete(struct cfgdb_batch *, const char *key);
void cfgdb_batch_check_absent(struct cfgdb_batch *, const char *key);
void cfgdb_batch_check_rev(struct cfgdb_batch *, const char *key, uint64_t rev);
void cfgdb_batch_check_prefix_rev(struct cfgdb_batch *, const char *prefix, uint64_t rev);
bool cfgdb_batch_is_empty(const struct cfgdb_batch *);

extern const struct cfgdb_class cfgdb_sqlite_class;
extern const struct cfgdb_class cfgdb_etcd_class;

#endif
