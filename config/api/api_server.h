/* api_server: the VNC config REST API (contrail-api) over the in-memory store.
 *
 * api_server.c serves the REST resources and collections, api_actions.c the action URLs,
 * api_types.c the per-type rules of the create/update/delete pipeline (allocations, derived
 * and default objects), api_init.c the objects created at start-up. */
#ifndef CONTRAIL_API_SERVER_H
#define CONTRAIL_API_SERVER_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_store.h"
#include "http.h"
#include "idalloc.h"
#include "schema.h"

struct introspect;

struct api_server {
    struct event_base *base;
    const struct schema *schema;
    struct api_store store;
    struct http_server *http;
    struct idalloc vn_ids;          /* virtual_network_network_id: 1 .. 2^24. */
    struct idalloc sg_ids;          /* security_group_id: 8000000 + 1 .. */
    json_t *useragent;              /* key -> value, mirror of the "ua/" rows. */
    size_t max_pending;             /* Writes in flight before 503. */
    size_t pending;
    char base_url[300];             /* Of the request being handled: for hrefs in errors. */
    uint64_t n_requests, n_creates, n_updates, n_deletes, n_reads, n_lists, n_errors;
    uint64_t n_retries;             /* Requests run again after a conflict (shared stores). */

    /* Shared stores: requests waiting for a barrier, in the barrier in flight, and ready to
     * run (see api_server.c). */
    struct list gate_wait, gate_barrier, gate_ready;
    struct list gate_retrying;      /* Requests pausing before a retry. */
    bool barrier_busy;
    int cur_tries;                  /* Of the request being run. */

    /* Where committed changes go (set by the daemon after api_server_open; may be NULL). */
    struct api_notify *notify;
    struct api_ifmap *ifmap;
};

/* Times a request is run again after conflicts with other API servers before 409. */
#define API_MAX_TRIES 20

/* Writes committed together at most, on a shared store (group commit). */
#define API_GROUP_MAX 64

/* An error from a pipeline step: HTTP status and the message for the body. */
struct api_err {
    int status;
    char msg[1024];
};

int api_fail(struct api_err *, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Opens the server: loads the store from DB, creates the start-up objects, listens on
 * ADDR:PORT.  Returns 0 or an errno with a message in ERR. */
int api_server_open(struct api_server *, struct event_base *, const struct schema *,
                    struct cfgdb *, const char *addr, int port, char *err, size_t errlen);
void api_server_close(struct api_server *);
/* The REST port actually listened on. */
int api_server_port(const struct api_server *);
void api_server_register_introspect(struct api_server *, struct introspect *);

/* The pipeline, shared by the REST handlers, the actions and the start-up objects.  Each
 * validates everything before it changes the graph, so a failure leaves nothing behind. */
int api_obj_create_from_json(struct api_server *, struct api_txn *,
                             const struct schema_ident *, json_t *body, struct api_obj **objp,
                             struct api_err *);
int api_obj_update_from_json(struct api_server *, struct api_txn *, struct api_obj *,
                             json_t *body, struct api_err *);
int api_obj_delete_checked(struct api_server *, struct api_txn *, struct api_obj *,
                           struct api_err *);

/* Resolves a reference item {"to": fq, "uuid": u} of type TO_IDENT. */
int api_resolve_ref(struct api_server *, const struct schema_ident *to_ident,
                    const json_t *item, struct api_obj **objp, struct api_err *);

/* Current time as the original's id_perms timestamps: "2013-09-13T00:26:05.290644". */
void api_timestamp(char buf[32]);

/* References given in a request, resolved and validated, not yet applied. */
struct api_pending_ref {
    struct api_obj *to;
    const struct schema_link *link;
    json_t *attr;               /* Owned; NULL for attribute-less links. */
};

struct api_refset {
    struct api_pending_ref *refs;
    size_t n, allocated;
    const struct schema_link **replaced;  /* Update: ref lists the request replaces. */
    size_t n_replaced;
};

/* Whether the request replaces (update) or sets (create) the refs of LINK. */
bool api_refset_touches(const struct api_refset *, const struct schema_link *);

/* Per-type hooks (api_types.c).  PROPS are the properties the request sets (create: all;
 * update: the changed ones, null for removed). */
int api_types_pre_create(struct api_server *, const struct schema_ident *, json_t *props,
                         struct api_refset *, struct api_obj *parent, const char *uuid,
                         struct api_err *);
void api_types_post_create(struct api_server *, struct api_txn *, struct api_obj *);
int api_types_pre_update(struct api_server *, struct api_obj *, json_t *props,
                         struct api_refset *, struct api_err *);
void api_types_post_update(struct api_server *, struct api_txn *, struct api_obj *);
int api_types_pre_delete(struct api_server *, struct api_obj *, struct api_err *);
void api_types_post_delete(struct api_server *, struct api_txn *, struct api_obj *);
void api_types_loaded(struct api_store *, struct api_obj *, void *aux);
void api_types_freed(struct api_store *, struct api_obj *, void *aux);
void api_types_unloaded(struct api_store *, struct api_obj *, void *aux);
void api_types_claims(const struct api_obj *, void (*add)(void *ctx, const char *key),
                      void *ctx);
void api_init_other_row(struct api_store *, const char *key, const char *value, void *aux);
/* The primary routing instance of network VN, or NULL. */
struct api_obj *api_types_primary_ri(struct api_obj *vn);

/* Start-up objects (api_init.c). */
int api_init_defaults(struct api_server *, char *err, size_t errlen);

/* Actions (api_actions.c): returns true if it handled REQ. */
bool api_actions_handle(struct api_server *, struct http_req *);

/* Finishes a write: commits TXN and answers REQ with STATUS and BODY (stolen) once durable. */
void api_commit_and_reply(struct api_server *, struct api_txn *, struct http_req *,
                          int status, json_t *body);
/* Answers an error. */
void api_reply_err(struct api_server *, struct http_req *, const struct api_err *);
/* Whether writes are possible now; otherwise answers REQ (503) and returns false. */
bool api_writable(struct api_server *, struct http_req *);

#endif
