/* st_api: the schema transformer's writes through contrail-api's REST API.
 *
 * A small pool of keep-alive connections (so that the API server's database thread can group
 * several writes into one commit) fed from one FIFO queue, with at most one request in flight
 * per connection.  Every request is counted by kind and type for the introspect counters.
 * Ordering between dependent writes (a route-target before the reference to it) is the
 * caller's: it issues a write only after what it depends on has been answered. */
#ifndef CONTRAIL_ST_API_H
#define CONTRAIL_ST_API_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct st_api;

/* The answer: STATUS (0 when no answer came) and the decoded JSON body (NULL when it is not
 * JSON), borrowed for the call.  TEXT is the raw body. */
typedef void st_api_done_fn(void *aux, int status, const json_t *reply, const char *text);

enum st_api_op { ST_API_CREATE, ST_API_UPDATE, ST_API_DELETE, ST_API_READ, ST_API_N_OPS };

struct st_api_stats {
    uint64_t ops[ST_API_N_OPS];     /* Requests answered 200, by kind. */
    uint64_t errors;                /* Requests answered otherwise. */
    uint64_t queued, in_flight;
};

/* A writer with N_CONNS connections (0: 4). */
struct st_api *st_api_create(struct event_base *, int n_conns);
void st_api_destroy(struct st_api *);

/* Points the writer at HOST:PORT (the connections are rebuilt when it changes; requests in
 * flight are answered with status 0). */
void st_api_set_server(struct st_api *, const char *host, int port);
bool st_api_has_server(const struct st_api *);
const char *st_api_server(const struct st_api *);

/* POST /<type>s {"<type>": BODY}. */
void st_api_create_obj(struct st_api *, const char *type, const json_t *body,
                       st_api_done_fn *, void *aux);
/* PUT /<type>/<uuid> {"<type>": BODY}. */
void st_api_update(struct st_api *, const char *type, const char *uuid, const json_t *body,
                   st_api_done_fn *, void *aux);
/* DELETE /<type>/<uuid>. */
void st_api_delete(struct st_api *, const char *type, const char *uuid,
                   st_api_done_fn *, void *aux);
/* GET /<type>s?detail=true (every object of TYPE, in full). */
void st_api_list(struct st_api *, const char *type, st_api_done_fn *, void *aux);
/* POST /fqname-to-id {"type": TYPE, "fq_name": FQ_NAME}. */
void st_api_fqname_to_id(struct st_api *, const char *type, const json_t *fq_name,
                         st_api_done_fn *, void *aux);

/* Counts per type: {"<type>": {"create": n, "update": n, "delete": n}} (new reference). */
json_t *st_api_counts_json(const struct st_api *);
void st_api_get_stats(const struct st_api *, struct st_api_stats *);

#endif
