/* amqp_bus: the RabbitMQ fan-out bus between config daemons (librabbitmq).
 *
 * The API servers tell each other, and the schema transformer, service monitor and control
 * node, about every committed change through the fanout exchange `vnc_config.object-update`
 * (config-plane reference §4).  A bus is one AMQP connection to one of a list of brokers: it
 * publishes JSON messages to the exchange with publisher confirms and, when it has a queue
 * name, declares that queue (non-durable), binds it to the exchange and consumes it.
 *
 * librabbitmq is blocking and a connection is not thread-safe, so the broker I/O runs in a
 * worker thread of the bus; messages and connection state come back to the loop thread of
 * the event_base given at creation.  Publishing never blocks the loop: a message waits in a
 * bounded backlog until the broker confirms it, across lost connections and broker restarts
 * (unconfirmed messages are sent again, in order, after reconnecting; one whose confirm was
 * lost with the connection can so arrive twice: delivery is at least once).  A message
 * published while a consumer's queue did not exist (its broker restarted) is lost to that
 * consumer: on_state(true) after a reconnect tells it to resynchronise from the database. */
#ifndef CONTRAIL_AMQP_BUS_H
#define CONTRAIL_AMQP_BUS_H

#include <event2/event.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct amqp_bus;

/* The default exchange of the config plane. */
#define AMQP_BUS_EXCHANGE "vnc_config.object-update"

/* The original's rabbit_max_pending_updates. */
#define AMQP_BUS_MAX_PENDING 4096

/* Settings of a bus.  Zero or NULL members take the default in brackets.  The strings are
 * copied by amqp_bus_create. */
struct amqp_bus_config {
    const char *servers;        /* "host[:port],host[:port]" (commas or spaces) ["127.0.0.1"]:
                                 * tried in turn until one answers.  "[v6addr]:port" works. */
    int port;                   /* Port of entries without one [5672]. */
    const char *user;           /* ["guest"] */
    const char *password;       /* ["guest"] */
    const char *vhost;          /* ["/"] */
    const char *exchange;       /* Fanout exchange, non-durable [AMQP_BUS_EXCHANGE]. */
    const char *queue;          /* Queue to declare, bind and consume (non-durable; deleted
                                 * and declared anew at the first connection, so stale
                                 * messages of an earlier run are dropped).  NULL: publish
                                 * only. */
    size_t max_pending;         /* Unconfirmed messages held at most [AMQP_BUS_MAX_PENDING]. */
    int heartbeat;              /* AMQP heartbeat in seconds: a silent broker is given up
                                 * after twice this [5]; negative: no heartbeats. */
    int reconnect_min_ms;       /* First delay between connection attempts [100]; doubles
                                 * after every failed attempt... */
    int reconnect_max_ms;       /* ...up to this [5000]. */
};

/* A message from the queue: BODY is LEN bytes (followed by a NUL not counted in LEN), valid
 * during the call only. */
typedef void amqp_bus_msg_fn(void *aux, const char *body, size_t len);

/* The connection came up (CONNECTED true: exchange, queue and binding are declared and the
 * consumer runs; after a reconnect, messages may have been missed, so a consumer
 * resynchronises) or went down (false).  Reported in order with the messages: every message
 * received before a loss is delivered before on_state(false). */
typedef void amqp_bus_state_fn(void *aux, bool connected);

/* Creates a bus on BASE with CONFIG and starts connecting in the background.  ON_MSG (may be
 * NULL for a publish-only bus) and ON_STATE (may be NULL) run on the loop thread of BASE
 * with AUX.  Returns NULL when CONFIG is invalid (no server in the list, a bad port), after
 * logging why. */
struct amqp_bus *amqp_bus_create(struct event_base *base, const struct amqp_bus_config *config,
                                 amqp_bus_msg_fn *on_msg, amqp_bus_state_fn *on_state,
                                 void *aux);

/* Queues LEN bytes of BODY (copied) for the exchange.  Returns 0 when queued: the message is
 * kept until the broker confirms it and is sent again after a reconnect, so it reaches the
 * exchange once the broker is back (messages from one bus keep their order).  Returns
 * ENOBUFS when max_pending messages already wait for a confirm: the caller answers as the
 * original does (500 "Too many pending updates to RabbitMQ: N", N from
 * amqp_bus_pending()).  Never blocks. */
int amqp_bus_publish(struct amqp_bus *, const char *body, size_t len);

/* Messages published and not yet confirmed by the broker. */
size_t amqp_bus_pending(const struct amqp_bus *);

/* Whether the bus has a live, fully set-up connection now. */
bool amqp_bus_connected(const struct amqp_bus *);

/* A new JSON object for introspect: {"connected", "server" (the current or last tried
 * "host:port"), "exchange", "queue", "pending", "max_pending", "published" (accepted by
 * amqp_bus_publish), "sent" (publish frames written, resends included), "confirmed",
 * "rejected" (ENOBUFS answers), "consumed" (messages handed to on_msg), "connects"
 * (connections set up), "reconnects" (those after the first), "connect_failures",
 * "last_error" (the last connection or broker error, "" if none)}. */
json_t *amqp_bus_status(const struct amqp_bus *);

/* Stops the worker (closing the connection politely when it is up), and frees the bus with
 * its unconfirmed messages and undelivered ones.  NULL is accepted.  Must not be called from
 * inside the bus's own callbacks.  Can take up to a few seconds when the worker is inside a
 * connection attempt to a broker that does not answer. */
void amqp_bus_destroy(struct amqp_bus *);

#endif
