/* disc_server: contrail-discovery, the service registry (config-plane reference §8).
 *
 * Publishers POST /publish and then /heartbeat; subscribers POST /subscribe for a number of
 * instances of a service type and get them with a TTL after which they ask again.  Every
 * record lives in the coordination service (coord.h): in-process by default, ZooKeeper when
 * configured, so that several discovery servers answer active/active from the same state.
 *
 *   /discovery/services/<type>/<service-id>   publisher record (JSON)
 *   /discovery/clients/<type>/<client-id>     subscriber record: its assignment (JSON)
 *
 * Each request reads what it needs from the store: a heartbeat written through one server is
 * what the next subscribe on another server sees. */
#ifndef CONTRAIL_DISC_SERVER_H
#define CONTRAIL_DISC_SERVER_H

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#include "conf.h"
#include "coord.h"

struct introspect;

struct disc_server {
    struct event_base *base;
    struct coord *coord;
    const struct conf *conf;
    struct http_server *http;
    int hc_interval;            /* Seconds between heartbeats a publisher must keep. */
    int hc_max_miss;            /* Missed heartbeats before a publisher is down. */
    int ttl_min, ttl_max;       /* Subscription TTL range, seconds. */
    uint64_t n_publish, n_heartbeat, n_subscribe, n_query, n_errors, n_store_errors;
    uint64_t n_store_retries;   /* Requests run again after a connection loss. */
    /* Service id -> assignments this server made that are not yet in the store: counted
     * as in use, so that concurrent subscribers are spread too. */
    json_t *inflight;
};

/* Listens on ADDR:PORT.  Returns 0 or an errno with a message in ERR. */
int disc_server_open(struct disc_server *, struct event_base *, struct coord *,
                     const struct conf *, const char *addr, int port, char *err,
                     size_t errlen);
void disc_server_close(struct disc_server *);
void disc_server_register_introspect(struct disc_server *, struct introspect *);

#endif
