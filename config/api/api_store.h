/* api_store: the API server's in-memory config graph and its persistence.
 *
 * Every object lives in memory, indexed by uuid and by (type, fq_name), linked to its parent,
 * children, references and back-references, with its properties as a JSON object.  Each
 * object is one row "obj/<uuid>" in the config database (refs stored on the referrer; parents,
 * children and back-refs rebuilt at load), so a change rewrites only the rows it touched.
 *
 * A change is made in a transaction: the request handler validates everything first, then
 * mutates the graph and marks the objects it touched; api_txn_commit() writes those rows as
 * one durable batch and calls back when it is durable, and only then is the client answered.
 * The graph is updated at once, so concurrent requests see a consistent graph and fq_name
 * uniqueness is decided in memory on the one loop thread. */
#ifndef CONTRAIL_API_STORE_H
#define CONTRAIL_API_STORE_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cfgdb.h"
#include "hmap.h"
#include "list.h"
#include "schema.h"
#include "uuid.h"

struct api_obj;

struct api_ref {
    struct api_obj *from, *to;
    const struct schema_link *link;
    json_t *attr;               /* Link attribute, or NULL. */
    bool relaxed;               /* /ref-relax-for-delete: does not block deleting 'to'. */
    struct list from_node;      /* In from->refs. */
    struct list to_node;        /* In to->back_refs. */
};

struct api_obj {
    struct hmap_node uuid_node;
    struct hmap_node fq_node;
    struct list type_node;      /* In the type's list, creation order. */
    const struct schema_ident *ident;
    char uuid[UUID_LEN + 1];
    char *fq_str;               /* "default-domain:admin:vn1" */
    json_t *fq_name;            /* ["default-domain", "admin", "vn1"] */
    struct api_obj *parent;     /* NULL for root-level objects. */
    struct list children;       /* api_obj.child_node */
    struct list child_node;
    json_t *props;              /* Property name -> value (all set properties). */
    struct list refs;           /* api_ref.from_node, in request order. */
    struct list back_refs;      /* api_ref.to_node */
    uint64_t txn_seq;           /* Last transaction that marked it dirty. */
    uint64_t group_seq;         /* Last group of transactions it was part of. */
    uint64_t rev;               /* Store revision of its row (shared stores; 0 otherwise). */
    json_t *undo;               /* Shared stores, while a transaction has it dirty: its row as
                                 * committed, to restore if the transaction fails. */
    bool created;               /* Created by a transaction not yet committed. */
    bool deleted;
    bool scratch;               /* Scratch mark for one walk (delete checks, list merging); left false. */
    void *ext;                  /* Type-specific state (IPAM of a virtual network). */
};

struct api_type {
    const struct schema_ident *ident;
    struct list objs;
    size_t count;
};

struct api_store;
struct commit_ctx;

/* Called when an object is loaded, or changed by another API server (to rebuild allocators);
 * when another API server (or a failed transaction's undo) removes it (to release what it
 * holds); and before it is freed. */
struct api_store_hooks {
    void (*loaded)(struct api_store *, struct api_obj *, void *aux);
    void (*unloaded)(struct api_store *, struct api_obj *, void *aux);
    void (*freed)(struct api_store *, struct api_obj *, void *aux);
    /* A row other than an object's ("ua/...", "ipres/...") written or deleted (VALUE NULL) by
     * another API server. */
    void (*other_row)(struct api_store *, const char *key, const char *value, void *aux);
    /* A transaction of this server committed: MSGS is an array of change messages
     * {oper: CREATE|UPDATE|DELETE, type, uuid, fq_name[, obj_dict]}, in the order of the
     * RabbitMQ fan-out (config-plane reference §4); obj_dict on CREATE and DELETE. */
    void (*committed)(struct api_store *, json_t *msgs, void *aux);
    /* Shared stores: object UUID was changed or deleted by another API server (applied from
     * the store's watch). */
    void (*remote)(struct api_store *, const char *uuid, void *aux);
    void *aux;
};

/* Claims: keys a shared store uses to make creates unique across API servers (the
 * fq_name, allocated ids and addresses).  The API server names them per type. */
typedef void api_claims_fn(const struct api_obj *, void (*add)(void *ctx, const char *key),
                           void *ctx);

/* A watch event held back while a transaction is in flight. */
struct api_store_event;

struct api_store {
    const struct schema *schema;
    struct cfgdb *db;
    struct hmap by_uuid, by_fq;
    struct api_type *types;     /* Indexed like schema->ident_list. */
    uint64_t txn_seq;
    struct api_store_hooks hooks;
    api_claims_fn *claims;
    size_t n_objs;
    int64_t n_objs_gauge;
    uint64_t n_commits, n_commit_errors;
    bool failed;                /* A durable write failed: the process must restart. */

    /* Shared stores (etcd): several API servers write the same store.  One transaction is
     * in flight at a time; each checks in the store that nothing it depends on changed
     * since this server saw it, and is undone if that check fails.  Changes made by others
     * arrive through the store's watch and are applied in revision order (held back while
     * a transaction is in flight). */
    bool shared;
    bool in_flight;             /* A transaction is being committed. */
    struct commit_ctx *group;   /* Transactions gathered for one commit (group_begin/end). */
    uint64_t n_groups, n_grouped;
    uint64_t view_rev;          /* Every change up to this revision has been applied. */
    struct api_store_event *held, **held_tail;
    struct event *flush_ev;
    uint64_t n_conflicts, n_remote_changes;
    void (*idle_cb)(void *aux); /* Called when the transaction in flight has completed. */
    void *idle_aux;
};

struct api_txn {
    struct api_store *store;
    uint64_t seq;
    struct api_obj **dirty;
    size_t n_dirty, alloc_dirty;
    struct api_obj **dead;      /* Deleted: rows removed, freed after commit. */
    size_t n_dead, alloc_dead;
    struct cfgdb_batch *batch;  /* Extra rows (useragent, reservations). */
};

/* Creates the store over DB and loads every object.  Returns 0 or an errno (ERR says why). */
int api_store_open(struct api_store *, const struct schema *, struct cfgdb *,
                   const struct api_store_hooks *, char *err, size_t errlen);
void api_store_close(struct api_store *);

struct api_type *api_store_type(struct api_store *, const struct schema_ident *);
struct api_obj *api_store_get(const struct api_store *, const char *uuid);
/* By type and fq_name string ("a:b:c"). */
struct api_obj *api_store_get_fq(const struct api_store *, const struct schema_ident *,
                                 const char *fq_str);
/* By type and fq_name JSON array; NULL if not found or FQ is malformed. */
struct api_obj *api_store_get_fq_json(const struct api_store *, const struct schema_ident *,
                                      const json_t *fq);

/* Joins a JSON array of strings with ':'.  Returns NULL if FQ is not a non-empty array of
 * non-empty strings.  Caller frees with xfree. */
char *api_fq_join(const json_t *fq);

/* Formats FQ the way the original's error messages do: ['a', 'b']. */
void api_fq_repr(const json_t *fq, char *buf, size_t size);

/* Transactions. */
void api_txn_init(struct api_txn *, struct api_store *);
/* Marks OBJ as changed by the transaction.  Call it BEFORE changing OBJ's properties or
 * flags (on a shared store it saves the row to restore if the transaction fails). */
void api_txn_mark(struct api_txn *, struct api_obj *);

/* Creates an object in memory (parent may be NULL); marks it dirty.  FQ_NAME is copied. */
struct api_obj *api_obj_create(struct api_txn *, const struct schema_ident *, const char *uuid,
                               const json_t *fq_name, struct api_obj *parent, json_t *props);

/* Adds a reference (attr reference stolen); marks FROM dirty. */
struct api_ref *api_ref_add(struct api_txn *, struct api_obj *from, struct api_obj *to,
                            const struct schema_link *, json_t *attr);
void api_ref_remove(struct api_txn *, struct api_ref *);
/* The reference from FROM to TO, or NULL. */
struct api_ref *api_ref_find(const struct api_obj *from, const struct api_obj *to);

/* Removes OBJ from the graph (its refs, and refs to it, are removed; referrers marked dirty);
 * the row is deleted at commit.  Children must have been deleted first. */
void api_obj_delete(struct api_txn *, struct api_obj *);

typedef void api_txn_done_fn(void *aux, int error);

/* Persists everything TXN touched as one batch; DONE runs when it is durable (error 0) or
 * failed.  TXN is reset and may be discarded.  With nothing to write, DONE runs at once.
 * On a shared store, a failed transaction has been undone in memory when DONE runs, and
 * EEXIST means another API server changed something it depended on: the request may be
 * run again once the store's changes have been applied (after a cfgdb_barrier). */
void api_txn_commit(struct api_txn *, api_txn_done_fn *, void *aux);

/* Discards a transaction that changed nothing in the graph. */
void api_txn_abort(struct api_txn *);

/* The value of PROPS[KEY] made private to PROPS (deep-copied if it is shared with other
 * objects, as the default permissions are), so that it may be changed in place.  NULL if the
 * property is not set. */
json_t *api_props_mut(json_t *props, const char *key);

/* Shared, never modified in place: the default id_perms.permissions and perms2 values
 * (most objects have them; sharing saves a kilobyte or more per object). */
json_t *api_default_permissions(void);
json_t *api_default_perms2(void);

/* OBJ as a change message's obj_dict: uuid, fq_name, parent_type/parent_uuid, properties
 * and "<type>_refs" lists of {to, uuid[, attr]}. */
json_t *api_obj_dict(const struct api_obj *);

/* Serializes OBJ's row. */
char *api_obj_row(const struct api_obj *);

/* Shared stores: starts applying changes made by other API servers (call once, after
 * api_store_open).  Returns 0 or an errno. */
int api_store_watch(struct api_store *);

/* Shared stores: group commit.  Between api_store_group_begin() and api_store_group_end()
 * (which must be called from the same loop callback, with nothing committed in between by
 * anyone else), api_txn_commit() gathers transactions instead of writing them; the end
 * writes them as one store transaction, and each one's DONE gets its outcome (all succeed
 * or all are undone).  Only when no transaction is in flight; otherwise begin does nothing
 * and commits go as usual. */
void api_store_group_begin(struct api_store *);
/* True if the open group holds a transaction. */
bool api_store_group_pending(const struct api_store *);
void api_store_group_end(struct api_store *);

/* Shared stores: applies the changes received so far (unless a transaction is in flight:
 * then they are applied when it completes).  Call after a cfgdb_barrier. */
void api_store_flush(struct api_store *);

/* Claims: keys a shared store uses to make creates unique across API servers. */
void api_store_set_claims(struct api_store *, api_claims_fn *);

/* Iterates objects of a type. */
#define API_TYPE_FOR_EACH(OBJ, TYPE) LIST_FOR_EACH(OBJ, type_node, &(TYPE)->objs)

#endif
