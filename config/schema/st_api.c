/* st_api: writes through contrail-api (see st_api.h). */
#include "st_api.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http_client.h"
#include "json_util.h"
#include "list.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(st_api);

static MEM_TYPE(mem_type_st_api, "st_api");

#define ST_API_MAX_CONNS 16

struct st_api_req {
    struct list node;
    struct st_api *api;
    int conn;                   /* Connection index while in flight. */
    enum st_api_op op;
    char *type;                 /* Resource type (hyphens), for the counters. */
    char *method;
    char *path;
    char *body;                 /* JSON text, or NULL. */
    st_api_done_fn *done;
    void *aux;
    struct timespec sent;
};

struct st_api {
    struct event_base *base;
    char *host;
    int port;
    int n_conns;
    struct http_client *conns[ST_API_MAX_CONNS];
    bool busy[ST_API_MAX_CONNS];
    struct list queue;
    json_t *counts;             /* type -> {create, update, delete}. */
    struct st_api_stats stats;
    bool closing;               /* Destroying: answers are not passed on. */
};

struct st_api *
st_api_create(struct event_base *base, int n_conns)
{
    struct st_api *a = mem_zalloc(&mem_type_st_api, sizeof *a);
    a->base = base;
    a->n_conns = n_conns <= 0 ? 4 : n_conns > ST_API_MAX_CONNS ? ST_API_MAX_CONNS : n_conns;
    list_init(&a->queue);
    a->counts = json_object();
    return a;
}

static void
req_free(struct st_api_req *r)
{
    mem_free(&mem_type_st_api, r->type);
    mem_free(&mem_type_st_api, r->method);
    mem_free(&mem_type_st_api, r->path);
    mem_free(&mem_type_st_api, r->body);
    mem_free(&mem_type_st_api, r);
}

static void
drop_conns(struct st_api *a)
{
    for (int i = 0; i < a->n_conns; i++) {
        struct http_client *c = a->conns[i];
        a->conns[i] = NULL;
        http_client_destroy(c);     /* Answers the request in flight with status 0. */
    }
}

void
st_api_destroy(struct st_api *a)
{
    if (!a) {
        return;
    }
    a->closing = true;
    mem_free(&mem_type_st_api, a->host);
    a->host = NULL;
    drop_conns(a);
    while (!list_is_empty(&a->queue)) {
        req_free(CONTAINER_OF(list_pop_front(&a->queue), struct st_api_req, node));
    }
    json_decref(a->counts);
    mem_free(&mem_type_st_api, a);
}

static void pump(struct st_api *);

void
st_api_set_server(struct st_api *a, const char *host, int port)
{
    if (a->host && !strcmp(a->host, host) && a->port == port) {
        return;
    }
    LOG_NOTICE("writing to contrail-api at %s:%d", host, port);
    drop_conns(a);
    mem_free(&mem_type_st_api, a->host);
    a->host = mem_strdup(&mem_type_st_api, host);
    a->port = port;
    for (int i = 0; i < a->n_conns; i++) {
        a->conns[i] = http_client_create(a->base, host, port, 60);
    }
    pump(a);
}

bool
st_api_has_server(const struct st_api *a)
{
    return a->host != NULL;
}

const char *
st_api_server(const struct st_api *a)
{
    return a->host;
}

static void
count(struct st_api *a, const char *type, enum st_api_op op)
{
    static const char *const names[] = { "create", "update", "delete", "read" };
    json_t *t = json_object_get(a->counts, type);
    if (!t) {
        t = xjson_pack("{sisisisi}", "create", 0, "update", 0, "delete", 0, "read", 0);
        json_object_set_new(a->counts, type, t);
    }
    json_t *v = json_object_get(t, names[op]);
    json_integer_set(v, json_integer_value(v) + 1);
}

static void
answered(void *aux, int status, const char *body, size_t len)
{
    struct st_api_req *r = aux;
    struct st_api *a = r->api;
    if (r->conn >= 0) {
        a->busy[r->conn] = false;
    }
    a->stats.in_flight--;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    LOG_DEBUG("%s %s: %d after %.1f ms", r->method, r->path, status,
              (double) (now.tv_sec - r->sent.tv_sec) * 1e3
              + (double) (now.tv_nsec - r->sent.tv_nsec) / 1e6);
    if (status == 200) {
        a->stats.ops[r->op]++;
        count(a, r->type, r->op);
    } else {
        a->stats.errors++;
        LOG_INFO("%s %s: %d %.*s", r->method, r->path, status, (int) (len > 300 ? 300 : len),
                 body ? body : "");
    }
    json_error_t jerr;
    json_t *j = status && body && len ? json_util_loadb(body, len, &jerr) : NULL;
    if (r->done && !a->closing) {
        r->done(r->aux, status, j, body ? body : "");
    }
    json_decref(j);
    req_free(r);
    pump(a);
}

static void
pump(struct st_api *a)
{
    if (!a->host) {
        return;
    }
    for (int i = 0; i < a->n_conns && !list_is_empty(&a->queue); i++) {
        if (a->busy[i] || !a->conns[i]) {
            continue;
        }
        struct st_api_req *r = CONTAINER_OF(list_pop_front(&a->queue), struct st_api_req, node);
        a->stats.queued--;
        a->stats.in_flight++;
        a->busy[i] = true;
        r->conn = i;
        clock_gettime(CLOCK_MONOTONIC, &r->sent);
        if (http_client_request(a->conns[i], r->method, r->path, r->body, answered, r)) {
            r->conn = -1;
            a->busy[i] = false;
            answered(r, 0, "cannot send", 11);
            return;
        }
    }
}

static void
submit(struct st_api *a, enum st_api_op op, const char *type, const char *method,
       char *path, const json_t *body, st_api_done_fn *done, void *aux)
{
    struct st_api_req *r = mem_zalloc(&mem_type_st_api, sizeof *r);
    r->api = a;
    r->conn = -1;
    r->op = op;
    r->type = mem_strdup(&mem_type_st_api, type);
    r->method = mem_strdup(&mem_type_st_api, method);
    r->path = path;
    if (body) {
        char *s = mem_json_dumps(body, JSON_COMPACT);
        r->body = mem_strdup(&mem_type_st_api, s);
        xfree(s);
    }
    r->done = done;
    r->aux = aux;
    LOG_DEBUG("%s %s %s", method, path, r->body ? r->body : "");
    list_push_back(&a->queue, &r->node);
    a->stats.queued++;
    pump(a);
}

void
st_api_create_obj(struct st_api *a, const char *type, const json_t *body, st_api_done_fn *done,
                  void *aux)
{
    json_t *wrap = xjson_pack("{sO}", type, body);
    submit(a, ST_API_CREATE, type, "POST", mem_asprintf(&mem_type_st_api, "/%ss", type), wrap,
           done, aux);
    json_decref(wrap);
}

void
st_api_update(struct st_api *a, const char *type, const char *uuid, const json_t *body,
              st_api_done_fn *done, void *aux)
{
    json_t *wrap = xjson_pack("{sO}", type, body);
    submit(a, ST_API_UPDATE, type, "PUT", mem_asprintf(&mem_type_st_api, "/%s/%s", type, uuid),
           wrap, done, aux);
    json_decref(wrap);
}

void
st_api_delete(struct st_api *a, const char *type, const char *uuid, st_api_done_fn *done,
              void *aux)
{
    submit(a, ST_API_DELETE, type, "DELETE",
           mem_asprintf(&mem_type_st_api, "/%s/%s", type, uuid), NULL, done, aux);
}

void
st_api_list(struct st_api *a, const char *type, st_api_done_fn *done, void *aux)
{
    submit(a, ST_API_READ, type, "GET", mem_asprintf(&mem_type_st_api, "/%ss?detail=true", type),
           NULL, done, aux);
}

void
st_api_fqname_to_id(struct st_api *a, const char *type, const json_t *fq_name,
                    st_api_done_fn *done, void *aux)
{
    json_t *body = xjson_pack("{sssO}", "type", type, "fq_name", fq_name);
    submit(a, ST_API_READ, type, "POST", mem_strdup(&mem_type_st_api, "/fqname-to-id"), body,
           done, aux);
    json_decref(body);
}

json_t *
st_api_counts_json(const struct st_api *a)
{
    return json_deep_copy(a->counts);
}

void
st_api_get_stats(const struct st_api *a, struct st_api_stats *s)
{
    *s = a->stats;
}
