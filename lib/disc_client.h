/* disc_client: the discovery client every daemon uses (config-plane reference §8).
 *
 * Publishes the daemon's own services (POST /publish, then /heartbeat every few seconds,
 * publishing again when a server has forgotten it) and subscribes to the services it needs
 * (POST /subscribe, again when the TTL runs out), calling back when the answer changes.  With
 * several discovery servers it moves to the next one when a request fails; while none
 * answers it keeps working from its last answer and retries with backoff. */
#ifndef CONTRAIL_DISC_CLIENT_H
#define CONTRAIL_DISC_CLIENT_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct disc_client;
struct disc_pub;
struct disc_sub;

/* The instances assigned for a subscription changed: INSTANCES is an array of objects as
 * published ({"ip-address": .., "port": .., "@publisher-id": ..}), borrowed for the call. */
typedef void disc_sub_fn(void *aux, const json_t *instances);

/* A client of the discovery servers in SERVERS ("host:port[,host:port...]"; a missing port is
 * 5998), identifying itself as CLIENT_ID of type CLIENT_TYPE.  Returns NULL if SERVERS has no
 * usable entry. */
struct disc_client *disc_client_create(struct event_base *, const char *servers,
                                       const char *client_id, const char *client_type);
/* Stops heartbeats and subscriptions and frees everything; NULL accepted. */
void disc_client_destroy(struct disc_client *);

/* Heartbeat period in seconds (default 5; tests shorten it). */
void disc_client_set_heartbeat(struct disc_client *, double seconds);
/* Upper bound on the time between subscription refreshes (default: none, the server's TTL). */
void disc_client_set_max_refresh(struct disc_client *, double seconds);

/* Publishes INFO (copied) as SERVICE_TYPE and keeps it published until destroy. */
struct disc_pub *disc_client_publish(struct disc_client *, const char *service_type,
                                     const json_t *info);
/* Whether the last publish or heartbeat was accepted. */
bool disc_pub_is_up(const struct disc_pub *);

/* Subscribes to INSTANCES (0: all) of SERVICE_TYPE; CB runs on every change of the answer. */
struct disc_sub *disc_client_subscribe(struct disc_client *, const char *service_type,
                                       int instances, disc_sub_fn *cb, void *aux);
/* The current answer (an array, possibly empty); borrowed. */
const json_t *disc_sub_instances(const struct disc_sub *);

/* Whether the last request to a discovery server succeeded. */
bool disc_client_connected(const struct disc_client *);

#endif
