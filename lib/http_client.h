/* http_client: asynchronous HTTP/1.1 client for daemons talking to REST peers (the API
 * server, discovery, analytics, the IF-MAP server), over libevent's evhttp with a keep-alive
 * connection per client.  Requests to one client are pipelined in order on its connection.
 * Optionally over TLS (libevent's OpenSSL bufferevents) and with HTTP basic authentication;
 * requests may carry extra headers and any content type. */
#ifndef CONTRAIL_HTTP_CLIENT_H
#define CONTRAIL_HTTP_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct http_client;

/* Called once per request on the loop thread.  STATUS is the HTTP status, or 0 when the
 * request failed without an answer (connection refused, timeout): then BODY is an error
 * message.  BODY (LEN bytes, NUL-terminated) is valid only during the call. */
typedef void http_client_fn(void *aux, int status, const char *body, size_t len);

/* A client of HOST:PORT.  TIMEOUT_S bounds each request (0: 30 s). */
struct http_client *http_client_create(struct event_base *, const char *host, int port,
                                       int timeout_s);
/* Destroys C; requests still in flight are answered with status 0 first. */
void http_client_destroy(struct http_client *);

/* Makes C speak HTTPS from its next connection on.  With VERIFY the server's certificate must
 * chain to CAFILE (PEM; NULL: the system's trust store) and name the host; without it any
 * certificate is accepted.  Returns 0, or an errno with a message in ERR. */
int http_client_set_tls(struct http_client *, bool verify, const char *cafile, char *err,
                        size_t errlen);

/* Sends "Authorization: Basic ..." with USER and PASSWORD on every request (NULL USER: none). */
void http_client_set_basic_auth(struct http_client *, const char *user, const char *password);

/* Drops C's connection: requests in flight are answered with status 0 first, and the next
 * request opens a new connection (a client's way out of a connection it no longer trusts). */
void http_client_reset(struct http_client *);

/* One extra request header. */
struct http_client_header {
    const char *name;
    const char *value;
};

/* Sends METHOD PATH with BODY (LEN bytes; NULL: none) as CONTENT_TYPE (NULL: none), plus the
 * N_HEADERS HEADERS.  Returns and calls back as http_client_request. */
int http_client_request_full(struct http_client *, const char *method, const char *path,
                             const struct http_client_header *headers, size_t n_headers,
                             const char *content_type, const char *body, size_t len,
                             http_client_fn *cb, void *aux);

/* Sends METHOD ("GET", "POST", "PUT", "DELETE") PATH with BODY (may be NULL; sent as JSON).
 * Returns 0, or EINVAL for an unknown method or EIO if the request could not be queued
 * (CB is then not called). */
int http_client_request(struct http_client *, const char *method, const char *path,
                        const char *body, http_client_fn *cb, void *aux);

/* Like http_client_request with a JSON body (reference not stolen). */
int http_client_request_json(struct http_client *, const char *method, const char *path,
                             const json_t *body, http_client_fn *cb, void *aux);

#endif
