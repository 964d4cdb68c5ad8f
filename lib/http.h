/* http: the HTTP server (and its request helpers) every daemon's REST and introspect ports use.
 *
 * A thin layer over libevent's evhttp: one handler per server that dispatches on method and
 * path, helpers to read query parameters and JSON bodies, and replies in JSON or plain text.
 * A handler may keep the request and reply later (after a database commit, say): evhttp keeps
 * an unanswered request alive even if its client goes away, and frees it at the reply. */
#ifndef CONTRAIL_HTTP_H
#define CONTRAIL_HTTP_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>

struct http_server;

/* One incoming request, valid until it is answered. */
struct http_req {
    struct evhttp_request *ev;
    enum evhttp_cmd_type method;
    char *path;                     /* Decoded path, without the query. */
    struct evkeyvalq query;         /* Decoded query parameters. */
    struct http_server *server;
    bool body_terminated;           /* http_req_body() appended its NUL. */
    int attempts;                   /* For handlers that run a request again (retries). */
};

typedef void http_handler_fn(struct http_req *, void *aux);

/* Starts an HTTP server on ADDR:PORT (PORT 0 picks a free port; see http_server_port()).
 * MAX_BODY bounds request bodies (0: 1 MB).  Returns 0 and *SERVERP, or an errno. */
int http_server_create(struct event_base *, const char *addr, int port, size_t max_body,
                       http_handler_fn *, void *aux, struct http_server **serverp);
void http_server_destroy(struct http_server *);
int http_server_port(const struct http_server *);

/* Serves HTTPS instead of plain HTTP on S's connections accepted from now on, with server
 * context CTX (see tls.h; S takes its own reference).  Returns 0. */
int http_server_set_tls(struct http_server *s, SSL_CTX *ctx);

/* The value of query parameter KEY, or NULL. */
const char *http_req_query(const struct http_req *, const char *key);
bool http_req_has_query(const struct http_req *, const char *key);

/* Request header NAME, or NULL. */
const char *http_req_header(const struct http_req *, const char *name);

/* The body as a NUL-terminated string (owned by the request); *LEN gets its length. */
const char *http_req_body(struct http_req *, size_t *len);

/* Parses the body as a JSON object.  Returns a new reference, or NULL with a message in ERR. */
json_t *http_req_json(struct http_req *, char *err, size_t errlen);

/* Base URL "http://host:port" as the client addressed us (from Host:), written to BUF. */
void http_req_base_url(const struct http_req *, char *buf, size_t size);

/* Adds a response header. */
void http_reply_header(struct http_req *, const char *name, const char *value);

/* Replies STATUS with BODY (LEN bytes) of CONTENT_TYPE and frees REQ. */
void http_reply(struct http_req *, int status, const char *content_type,
                const char *body, size_t len);

/* Replies STATUS with JSON (reference stolen; NULL gives an empty body) and frees REQ. */
void http_reply_json(struct http_req *, int status, json_t *);

/* Replies STATUS with a plain-text message, as the original API server's errors are. */
void http_reply_text(struct http_req *, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The reason phrase of STATUS. */
const char *http_status_reason(int status);

/* Turns Nagle's algorithm off on CONN's socket (no-op while it has none): requests and
 * answers are small and written in pieces, and Nagle's algorithm meeting the peer's delayed
 * acknowledgements costs 40 ms a round trip.  Used by every HTTP client and server here. */
struct evhttp_connection;
void http_connection_nodelay(struct evhttp_connection *);

#endif
