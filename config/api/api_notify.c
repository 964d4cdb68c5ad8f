/* api_notify: committed changes to RabbitMQ and to the IF-MAP publisher (see api_notify.h). */
#include "api_notify.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "amqp_bus.h"
#include "api_ifmap.h"
#include "api_server.h"
#include "log.h"
#include "mem.h"
#include "uuid.h"

LOG_MODULE(api_notify);

static MEM_TYPE(mem_type_notify, "api_notify");

struct api_notify {
    struct api_server *srv;
    struct api_ifmap *ifmap;
    struct amqp_bus *bus;       /* NULL: embedded, straight to the publisher. */
    bool was_connected;
    uint64_t n_sent, n_send_failures, n_received, n_bad_messages, n_resyncs;
};

static void
on_message(void *aux, const char *body, size_t len)
{
    struct api_notify *n = aux;
    n->n_received++;
    json_t *m = json_loadb(body, len, 0, NULL);
    const char *uuid = json_string_value(json_object_get(m, "uuid"));
    if (!uuid || !uuid_is_valid(uuid)) {
        n->n_bad_messages++;
        LOG_WARN("ignoring a message without a valid uuid on the config exchange");
    } else if (n->ifmap) {
        api_ifmap_changed(n->ifmap, uuid);
    }
    json_decref(m);
}

static void
on_state(void *aux, bool connected)
{
    struct api_notify *n = aux;
    if (connected) {
        LOG_NOTICE("RabbitMQ connected%s", n->was_connected ? " again: resynchronising" : "");
        if (n->was_connected && n->ifmap) {
            n->n_resyncs++;
            api_ifmap_resync(n->ifmap);
        }
        n->was_connected = true;
    } else {
        LOG_WARN("RabbitMQ connection lost");
    }
}

struct api_notify *
api_notify_create(struct api_server *srv, const struct api_notify_config *cfg,
                  struct api_ifmap *ifmap)
{
    struct api_notify *n = mem_zalloc(&mem_type_notify, sizeof *n);
    n->srv = srv;
    n->ifmap = ifmap;
    if (cfg->rabbit_server && *cfg->rabbit_server) {
        struct amqp_bus_config bc = {
            .servers = cfg->rabbit_server,
            .port = cfg->rabbit_port,
            .user = cfg->rabbit_user,
            .password = cfg->rabbit_password,
            .vhost = cfg->rabbit_vhost,
            .exchange = AMQP_BUS_EXCHANGE,
            .queue = cfg->queue,
            .max_pending = cfg->rabbit_max_pending,
        };
        n->bus = amqp_bus_create(srv->base, &bc, on_message, on_state, n);
        if (!n->bus) {
            mem_free(&mem_type_notify, n);
            return NULL;
        }
    }
    return n;
}

void
api_notify_destroy(struct api_notify *n)
{
    if (n) {
        amqp_bus_destroy(n->bus);
        mem_free(&mem_type_notify, n);
    }
}

void
api_notify_committed(struct api_notify *n, json_t *msgs)
{
    size_t i;
    json_t *m;
    json_array_foreach (msgs, i, m) {
        if (!n->bus) {
            if (n->ifmap) {
                api_ifmap_changed(n->ifmap,
                                  json_string_value(json_object_get(m, "uuid")));
            }
            continue;
        }
        char rid[UUID_LEN + 5];
        char u[UUID_LEN + 1];
        uuid_generate(u);
        snprintf(rid, sizeof rid, "req-%s", u);
        json_object_set_new(m, "request-id", json_string(rid));
        char *body = mem_json_dumps(m, JSON_COMPACT);
        int error = amqp_bus_publish(n->bus, body, strlen(body));
        xfree(body);
        if (error) {
            /* The store has it; RabbitMQ does not.  This server's IF-MAP gets it directly,
             * the others at their next resynchronisation. */
            n->n_send_failures++;
            LOG_ERR("cannot queue a change for RabbitMQ (%s): %zu pending", strerror(error),
                    amqp_bus_pending(n->bus));
            if (n->ifmap) {
                api_ifmap_changed(n->ifmap, json_string_value(json_object_get(m, "uuid")));
            }
        } else {
            n->n_sent++;
        }
    }
}

bool
api_notify_full(const struct api_notify *n, char *msg, size_t size)
{
    if (!n || !n->bus) {
        return false;
    }
    size_t pending = amqp_bus_pending(n->bus);
    json_t *st = amqp_bus_status(n->bus);
    json_int_t max = json_integer_value(json_object_get(st, "max_pending"));
    json_decref(st);
    if (max > 0 && pending >= (size_t) max) {
        snprintf(msg, size, "Too many pending updates to RabbitMQ: %zu", pending);
        return true;
    }
    return false;
}

json_t *
api_notify_status(const struct api_notify *n)
{
    json_t *st = xjson_pack("{sIsIsIsIsI}", "sent", (json_int_t) n->n_sent, "send_failures",
                            (json_int_t) n->n_send_failures, "received",
                            (json_int_t) n->n_received, "bad_messages",
                            (json_int_t) n->n_bad_messages, "resyncs",
                            (json_int_t) n->n_resyncs);
    json_object_set_new(st, "rabbitmq", n->bus ? amqp_bus_status(n->bus) : json_null());
    return st;
}
