/* http_client: asynchronous evhttp client (see http_client.h). */
#include "http_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mem.h"

static MEM_TYPE(mem_type_client, "http_client");

struct http_client {
    struct event_base *base;
    struct evhttp_connection *conn;
    char *host;
    int port;
    int timeout_s;
    struct pending *pending;    /* Requests in flight (for destroy). */
};

struct pending {
    struct http_client *client;
    http_client_fn *cb;
    void *aux;
    struct evhttp_request *req;
    struct pending *prev, *next;
};

struct http_client *
http_client_create(struct event_base *base, const char *host, int port, int timeout_s)
{
    struct http_client *c = mem_zalloc(&mem_type_client, sizeof *c);
    c->base = base;
    c->host = mem_strdup(&mem_type_client, host);
    c->port = port;
    c->timeout_s = timeout_s > 0 ? timeout_s : 30;
    return c;
}

static void
pending_unlink(struct pending *p)
{
    if (p->prev) {
        p->prev->next = p->next;
    } else {
        p->client->pending = p->next;
    }
    if (p->next) {
        p->next->prev = p->prev;
    }
}

void
http_client_destroy(struct http_client *c)
{
    if (!c) {
        return;
    }
    while (c->pending) {
        struct pending *p = c->pending;
        pending_unlink(p);
        p->cb(p->aux, 0, "client destroyed", 16);
        evhttp_cancel_request(p->req);
        mem_free(&mem_type_client, p);
    }
    if (c->conn) {
        evhttp_connection_free(c->conn);
    }
    mem_free(&mem_type_client, c->host);
    mem_free(&mem_type_client, c);
}

static void
request_done(struct evhttp_request *req, void *aux)
{
    struct pending *p = aux;
    pending_unlink(p);
    if (!req || !evhttp_request_get_response_code(req)) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "no answer from %s:%d", p->client->host,
                         p->client->port);
        p->cb(p->aux, 0, msg, (size_t) n);
    } else {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(b);
        evbuffer_add(b, "", 1);
        p->cb(p->aux, evhttp_request_get_response_code(req),
              (const char *) evbuffer_pullup(b, -1), len);
    }
    mem_free(&mem_type_client, p);
}

int
http_client_request(struct http_client *c, const char *method, const char *path,
                    const char *body, http_client_fn *cb, void *aux)
{
    static const struct { const char *name; enum evhttp_cmd_type type; } methods[] = {
        { "GET", EVHTTP_REQ_GET }, { "POST", EVHTTP_REQ_POST }, { "PUT", EVHTTP_REQ_PUT },
        { "DELETE", EVHTTP_REQ_DELETE }, { "HEAD", EVHTTP_REQ_HEAD },
    };
    int type = -1;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!strcasecmp(method, methods[i].name)) {
            type = (int) methods[i].type;
        }
    }
    if (type < 0) {
        return EINVAL;
    }
    if (!c->conn) {
        c->conn = evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short) c->port);
        evhttp_connection_set_timeout(c->conn, c->timeout_s);
    }
    struct pending *p = mem_zalloc(&mem_type_client, sizeof *p);
    p->client = c;
    p->cb = cb;
    p->aux = aux;
    p->req = evhttp_request_new(request_done, p);
    struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
    char host[300];
    snprintf(host, sizeof host, "%s:%d", c->host, c->port);
    evhttp_add_header(h, "Host", host);
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(p->req), body, strlen(body));
    }
    p->next = c->pending;
    if (p->next) {
        p->next->prev = p;
    }
    c->pending = p;
    if (evhttp_make_request(c->conn, p->req, (enum evhttp_cmd_type) type, path)) {
        /* evhttp freed the request; answer asynchronously-equivalent right here. */
        pending_unlink(p);
        mem_free(&mem_type_client, p);
        return EIO;
    }
    return 0;
}

int
http_client_request_json(struct http_client *c, const char *method, const char *path,
                         const json_t *body, http_client_fn *cb, void *aux)
{
    char *s = body ? mem_json_dumps(body, JSON_COMPACT) : NULL;
    int error = http_client_request(c, method, path, s, cb, aux);
    xfree(s);
    return error;
}
