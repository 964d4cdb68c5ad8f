/* api_notify: what the API server does with each committed change.
 *
 * Every change committed by this server becomes a message {oper, type, uuid, fq_name
 * [, obj_dict]} on the RabbitMQ fanout exchange `vnc_config.object-update` (config-plane
 * reference §4).  Every API server, this one included, consumes the exchange from its own
 * queue and has its IF-MAP publisher bring the named objects up to date in its local IF-MAP
 * server.  With no RabbitMQ configured (the embedded default, one API server) changes go
 * straight to the local publisher.
 *
 * RabbitMQ away: writes are accepted while the bounded backlog has room, and answered 500
 * "Too many pending updates to RabbitMQ" past it, before anything is written; when the
 * connection comes back the publisher resynchronises the whole graph (messages published
 * while this server's queue did not exist are lost to it). */
#ifndef CONTRAIL_API_NOTIFY_H
#define CONTRAIL_API_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct api_server;
struct api_ifmap;

struct api_notify_config {
    const char *rabbit_server;  /* "host[:port],..." or NULL/"" (embedded). */
    int rabbit_port;
    const char *rabbit_user, *rabbit_password, *rabbit_vhost;
    size_t rabbit_max_pending;
    const char *queue;          /* This server's queue: vnc_config.<hostname>-<port>. */
};

struct api_notify;

/* Creates the notifier of SRV feeding IFMAP (may be NULL: no IF-MAP server configured). */
struct api_notify *api_notify_create(struct api_server *, const struct api_notify_config *,
                                     struct api_ifmap *);
void api_notify_destroy(struct api_notify *);

/* The store's "committed" hook (AUX: the api_server). */
void api_notify_committed(struct api_notify *, json_t *msgs);

/* True (with a message for a 500 in MSG) when the RabbitMQ backlog is full: no write must be
 * accepted then. */
bool api_notify_full(const struct api_notify *, char *msg, size_t size);

json_t *api_notify_status(const struct api_notify *);

#endif
