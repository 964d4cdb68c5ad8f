/* http: evhttp server wrapper (see http.h). */
#include "http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/bufferevent_ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "json_util.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(http);

static MEM_TYPE(mem_type_http_server, "http_server");
static MEM_TYPE(mem_type_http_req, "http_req");

struct http_server {
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    http_handler_fn *handler;
    void *aux;
    int port;
    SSL_CTX *tls;               /* Non-NULL: HTTPS. */
};

static void http_dispatch(struct evhttp_request *, void *);

/* Replies go out as soon as they are written (a reply in several TLS records or writes
 * otherwise waits for the peer's delayed ACK, about 40 ms, under Nagle's algorithm). */
static void
nodelay(struct evhttp_connection *conn)
{
    struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
    evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

int
http_server_create(struct event_base *base, const char *addr, int port, size_t max_body,
                   http_handler_fn *handler, void *aux, struct http_server **serverp)
{
    struct http_server *s = mem_zalloc(&mem_type_http_server, sizeof *s);
    s->http = evhttp_new(base);
    s->handler = handler;
    s->aux = aux;
    evhttp_set_max_body_size(s->http, max_body ? max_body : 1024000);
    evhttp_set_max_headers_size(s->http, 65536);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT
                               | EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS
                               | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(s->http, 120);
    evhttp_set_gencb(s->http, http_dispatch, s);
    s->sock = evhttp_bind_socket_with_handle(s->http, addr, (ev_uint16_t) port);
    if (!s->sock) {
        int error = errno ? errno : EADDRINUSE;
        evhttp_free(s->http);
        mem_free(&mem_type_http_server, s);
        return error;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!getsockname(evhttp_bound_socket_get_fd(s->sock), (struct sockaddr *) &ss, &len)) {
        s->port = ntohs(ss.ss_family == AF_INET6
                        ? ((struct sockaddr_in6 *) &ss)->sin6_port
                        : ((struct sockaddr_in *) &ss)->sin_port);
    }
    *serverp = s;
    return 0;
}

void
http_server_destroy(struct http_server *s)
{
    if (s) {
        evhttp_free(s->http);
        SSL_CTX_free(s->tls);
        mem_free(&mem_type_http_server, s);
    }
}

int
http_server_port(const struct http_server *s)
{
    return s->port;
}

/* evhttp's hook for a new connection's bufferevent: a TLS one accepting the handshake.  A peer
 * that closes without close_notify is an ordinary end of connection for HTTP, which has its
 * own framing, so a "dirty" shutdown is allowed. */
static struct bufferevent *
http_tls_bevcb(struct event_base *base, void *aux)
{
    struct http_server *s = aux;
    SSL *ssl = SSL_new(s->tls);
    if (!ssl) {
        return NULL;
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl,
                                                             BUFFEREVENT_SSL_ACCEPTING,
                                                             BEV_OPT_CLOSE_ON_FREE);
    if (bev) {
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    }
    return bev;
}

int
http_server_set_tls(struct http_server *s, SSL_CTX *ctx)
{
    SSL_CTX_up_ref(ctx);
    SSL_CTX_free(s->tls);
    s->tls = ctx;
    evhttp_set_bevcb(s->http, http_tls_bevcb, s);
    return 0;
}

static void
http_req_free(struct http_req *r)
{
    evhttp_clear_headers(&r->query);
    mem_free(&mem_type_http_req, r->path);
    mem_free(&mem_type_http_req, r);
}

static void
http_dispatch(struct evhttp_request *ev, void *aux)
{
    struct http_server *s = aux;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;

    nodelay(evhttp_request_get_connection(ev));
    struct http_req *r = mem_zalloc(&mem_type_http_req, sizeof *r);
    r->ev = ev;
    r->server = s;
    r->method = evhttp_request_get_command(ev);
    TAILQ_INIT(&r->query);

    size_t plen = 0;
    char *decoded = evhttp_uridecode(raw_path && *raw_path ? raw_path : "/", 0, &plen);
    if (!decoded || strlen(decoded) != plen) {
        free(decoded);
        r->path = mem_strdup(&mem_type_http_req, "/");
        http_reply_text(r, 400, "Bad Request, malformed path");
        return;
    }
    r->path = mem_strdup(&mem_type_http_req, decoded);
    free(decoded);
    if (raw_query && evhttp_parse_query_str(raw_query, &r->query)) {
        http_reply_text(r, 400, "Bad Request, malformed query string");
        return;
    }
    s->handler(r, s->aux);
}

const char *
http_req_query(const struct http_req *r, const char *key)
{
    return evhttp_find_header(&r->query, key);
}

bool
http_req_has_query(const struct http_req *r, const char *key)
{
    return http_req_query(r, key) != NULL;
}

const char *
http_req_header(const struct http_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const char *
http_req_body(struct http_req *r, size_t *len)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(r->ev);
    size_t n = evbuffer_get_length(b);
    /* NUL-terminate in place, once: the buffer is ours until the reply. */
    if (r->body_terminated) {
        n--;
    } else {
        evbuffer_add(b, "", 1);
        r->body_terminated = true;
    }
    if (len) {
        *len = n;
    }
    return (const char *) evbuffer_pullup(b, -1);
}

json_t *
http_req_json(struct http_req *r, char *err, size_t errlen)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    if (!len) {
        snprintf(err, errlen, "Bad Request, empty body");
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_util_loadb(body, len, &jerr);
    if (!j) {
        snprintf(err, errlen, "Bad Request, malformed JSON body: %s (line %d, column %d)",
                 jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "Bad Request, JSON body must be an object");
        return NULL;
    }
    return j;
}

void
http_req_base_url(const struct http_req *r, char *buf, size_t size)
{
    const char *host = http_req_header(r, "Host");
    if (host && *host && strlen(host) < 256 && !strpbrk(host, " \"\\/<>")) {
        snprintf(buf, size, "%s://%s", r->server->tls ? "https" : "http", host);
    } else {
        snprintf(buf, size, "%s://127.0.0.1:%d", r->server->tls ? "https" : "http",
                 r->server->port);
    }
}

void
http_reply_header(struct http_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

const char *
http_status_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void
http_reply(struct http_req *r, int status, const char *content_type, const char *body,
           size_t len)
{
    struct evbuffer *out = evbuffer_new();
    if (body && len) {
        evbuffer_add(out, body, len);
    }
    if (content_type) {
        http_reply_header(r, "Content-Type", content_type);
    }
    evhttp_send_reply(r->ev, status, http_status_reason(status), out);
    evbuffer_free(out);
    http_req_free(r);
}

/* Encoder output is gathered in a local buffer and handed to the evbuffer in large pieces:
 * the encoder emits many tiny tokens, and evbuffer_add per token costs more than the
 * encoding itself. */
struct dump_buf {
    struct evbuffer *out;
    size_t len;
    char data[16384];
};

static int
http_dump_cb(const char *buf, size_t size, void *aux)
{
    struct dump_buf *d = aux;
    if (d->len + size > sizeof d->data) {
        if (evbuffer_add(d->out, d->data, d->len)) {
            return -1;
        }
        d->len = 0;
        if (size > sizeof d->data) {
            return evbuffer_add(d->out, buf, size);
        }
    }
    memcpy(d->data + d->len, buf, size);
    d->len += size;
    return 0;
}

void
http_reply_json(struct http_req *r, int status, json_t *j)
{
    struct evbuffer *out = evbuffer_new();
    if (j) {
        static struct dump_buf d;   /* One loop thread per daemon: reused, not reentrant. */
        d.out = out;
        d.len = 0;
        json_util_dump(j, http_dump_cb, &d);
        evbuffer_add(out, d.data, d.len);
        json_decref(j);
    }
    http_reply_header(r, "Content-Type", "application/json; charset=\"UTF-8\"");
    evhttp_send_reply(r->ev, status, http_status_reason(status), out);
    evbuffer_free(out);
    http_req_free(r);
}

void
http_reply_text(struct http_req *r, int status, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) {
        n = 0;
    } else if ((size_t) n >= sizeof buf) {
        n = sizeof buf - 1;
    }
    if (status >= 500) {
        LOG_WARN("%s %s: %d %s", evhttp_request_get_uri(r->ev), r->path, status, buf);
    }
    http_reply(r, status, "text/plain; charset=\"UTF-8\"", buf, (size_t) n);
}
