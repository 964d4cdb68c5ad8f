/* http_client: asynchronous evhttp client (see http_client.h). */
#include "http_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "tls.h"

#include <openssl/evp.h>

static MEM_TYPE(mem_type_client, "http_client");

struct http_client {
    struct event_base *base;
    struct evhttp_connection *conn;
    char *host;
    int port;
    int timeout_s;
    struct pending *pending;    /* Requests in flight (for destroy). */
    SSL_CTX *tls;               /* Non-NULL: HTTPS. */
    bool verify;
    char *auth;                 /* "Basic <base64>", or NULL. */
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

/* Answers every request in flight with status 0 and frees the connection. */
static void
http_client_drop(struct http_client *c, const char *why)
{
    while (c->pending) {
        struct pending *p = c->pending;
        pending_unlink(p);
        p->cb(p->aux, 0, why, strlen(why));
        evhttp_cancel_request(p->req);
        mem_free(&mem_type_client, p);
    }
    if (c->conn) {
        evhttp_connection_free(c->conn);
        c->conn = NULL;
    }
}

void
http_client_destroy(struct http_client *c)
{
    if (!c) {
        return;
    }
    http_client_drop(c, "client destroyed");
    SSL_CTX_free(c->tls);
    mem_free(&mem_type_client, c->auth);
    mem_free(&mem_type_client, c->host);
    mem_free(&mem_type_client, c);
}

void
http_client_reset(struct http_client *c)
{
    http_client_drop(c, "connection reset");
}

int
http_client_set_tls(struct http_client *c, bool verify, const char *cafile, char *err,
                    size_t errlen)
{
    SSL_CTX *ctx = tls_client_ctx_new(verify, cafile, err, errlen);
    if (!ctx) {
        return EINVAL;
    }
    http_client_drop(c, "connection reset");
    SSL_CTX_free(c->tls);
    c->tls = ctx;
    c->verify = verify;
    return 0;
}

void
http_client_set_basic_auth(struct http_client *c, const char *user, const char *password)
{
    mem_free(&mem_type_client, c->auth);
    c->auth = NULL;
    if (!user) {
        return;
    }
    char *plain = mem_asprintf(&mem_type_client, "%s:%s", user, password ? password : "");
    size_t n = strlen(plain);
    char *auth = mem_zalloc(&mem_type_client, 6 + 4 * ((n + 2) / 3) + 1);
    memcpy(auth, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *) auth + 6, (const unsigned char *) plain, (int) n);
    mem_free(&mem_type_client, plain);
    c->auth = auth;
}

/* A new connection: plain, or TLS with SNI (and host name checking when verifying).
 * evhttp reconnects it after a close by giving the bufferevent a new socket, which restarts
 * the TLS handshake on the same SSL object. */
static struct evhttp_connection *
http_client_connect(struct http_client *c)
{
    struct evhttp_connection *conn;
    if (!c->tls) {
        conn = evhttp_connection_base_new(c->base, NULL, c->host, (unsigned short) c->port);
    } else {
        SSL *ssl = SSL_new(c->tls);
        if (!ssl) {
            return NULL;
        }
        SSL_set_tlsext_host_name(ssl, c->host);
        if (c->verify) {
            SSL_set1_host(ssl, c->host);
        }
        struct bufferevent *bev = bufferevent_openssl_socket_new(
            c->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            SSL_free(ssl);
            return NULL;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
        conn = evhttp_connection_base_bufferevent_new(c->base, NULL, bev, c->host,
                                                      (unsigned short) c->port);
    }
    if (conn) {
        evhttp_connection_set_timeout(conn, c->timeout_s);
    }
    return conn;
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
    return http_client_request_full(c, method, path, NULL, 0, body ? "application/json" : NULL,
                                    body, body ? strlen(body) : 0, cb, aux);
}

int
http_client_request_full(struct http_client *c, const char *method, const char *path,
                         const struct http_client_header *headers, size_t n_headers,
                         const char *content_type, const char *body, size_t len,
                         http_client_fn *cb, void *aux)
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
        c->conn = http_client_connect(c);
        if (!c->conn) {
            return EIO;
        }
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
    if (c->auth) {
        evhttp_add_header(h, "Authorization", c->auth);
    }
    for (size_t i = 0; i < n_headers; i++) {
        evhttp_add_header(h, headers[i].name, headers[i].value);
    }
    if (content_type) {
        evhttp_add_header(h, "Content-Type", content_type);
    }
    if (body) {
        evbuffer_add(evhttp_request_get_output_buffer(p->req), body, len);
    }
    p->next = c->pending;
    if (p->next) {
        p->next->prev = p;
    }
    c->pending = p;
    int made = evhttp_make_request(c->conn, p->req, (enum evhttp_cmd_type) type, path);
    /* Requests go out as soon as they are written (see http.c). */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    if (made) {
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
