/* http_client: asynchronous HTTP/1.1 client for daemons talking to REST peers (the API
 * server, discovery, analytics), over libevent's evhttp with a keep-alive connection per
 * client.  Requests to one client are pipelined in order on its connection. */
#ifndef CONTRAIL_HTTP_CLIENT_H
#define CONTRAIL_HTTP_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
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

/* Sends METHOD ("GET", "POST", "PUT", "DELETE") PATH with BODY (may be NULL; sent as JSON).
 * Returns 0, or EINVAL for an unknown method or EIO if the request could not be queued
 * (CB is then not called). */
int http_client_request(struct http_client *, const char *method, const char *path,
                        const char *body, http_client_fn *cb, void *aux);

/* Like http_client_request with a JSON body (reference not stolen). */
int http_client_request_json(struct http_client *, const char *method, const char *path,
                             const json_t *body, http_client_fn *cb, void *aux);

#endif
