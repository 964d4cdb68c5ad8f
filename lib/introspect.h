/* introspect: the HTTP state server every daemon runs on its introspect port.
 *
 * JSON pages of state registered by the daemon's modules, plus built-in pages: `/` (index of
 * pages), `/memory` (live allocations and bytes per memory type), `/log` (levels; POST
 * `/log?level=debug[&module=m]` changes them at run time) and `/metrics` (Prometheus text
 * format: memory by type and every registered counter and gauge). */
#ifndef CONTRAIL_INTROSPECT_H
#define CONTRAIL_INTROSPECT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

struct introspect;
struct http_req;

/* Builds a page: returns a new JSON reference.  REQ gives access to query parameters. */
typedef json_t *introspect_page_fn(struct http_req *req, void *aux);

/* Starts the introspect server for daemon NAME on ADDR:PORT.  Returns 0 or an errno. */
int introspect_create(struct event_base *, const char *name, const char *addr, int port,
                      struct introspect **);
void introspect_destroy(struct introspect *);
int introspect_port(const struct introspect *);

/* Serves the page built by FN at PATH (e.g. "/objects"), described by TITLE. */
void introspect_add_page(struct introspect *, const char *path, const char *title,
                         introspect_page_fn *fn, void *aux);

/* Exposes *VALUE as a Prometheus counter or gauge NAME (prefixed "contrail_"). */
void introspect_add_counter(struct introspect *, const char *name, const char *help,
                            const uint64_t *value);
void introspect_add_gauge(struct introspect *, const char *name, const char *help,
                          const int64_t *value);

#endif
