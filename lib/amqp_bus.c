/* amqp_bus: the RabbitMQ fan-out bus (see amqp_bus.h).
 *
 * One worker thread per bus owns the librabbitmq connection; the loop thread never touches
 * it.  They share, under one mutex, the outgoing backlog (messages published and not yet
 * taken by the worker), the incoming queue (messages and state changes for the callbacks)
 * and the status counters.  Each side wakes the other through an eventfd: the loop thread
 * reads its own with a libevent event, the worker poll()s its eventfd together with the AMQP
 * socket, so neither spins and a message goes through in well under a millisecond.
 *
 * Publishing: the worker moves the backlog to its send list and writes basic.publish frames
 * on channel 1, which is in confirm mode; a sent message waits in the unconfirmed list (in
 * publish order, numbered by the channel's publish sequence) until a basic.ack covers it.
 * When the connection is lost, the unconfirmed messages go back to the head of the send
 * list and are sent again on the next connection, so the broker sees them in the original
 * order (a message whose confirm was lost with the connection reaches the exchange twice:
 * consumers treat the bus as at-least-once).  A basic.nack (a broker-internal failure) is
 * handled as a lost connection for the same reason: sending only the refused message again
 * would reorder it after later ones.
 *
 * Consuming: deliveries on channel 1 are copied out of librabbitmq and acknowledged in
 * batches (basic.ack with multiple) once they are in the incoming queue: from there they
 * reach on_msg in this process whatever the broker does next.
 *
 * librabbitmq buffers input: a frame may already sit in its buffer, or in its queue of
 * frames read ahead (amqp_basic_publish reads ahead when heartbeats are on), while the
 * socket has nothing more to read; the worker empties both before it polls.  librabbitmq
 * sends heartbeats from inside its read calls, which the worker makes four times per
 * heartbeat interval; it does not detect a silent broker from a zero-timeout read, so the
 * worker keeps the time of the last input itself and gives the connection up after two
 * intervals of silence. */
#include "amqp_bus.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(amqp_bus);

static MEM_TYPE(mem_type_amqp_bus, "amqp_bus");
static MEM_TYPE(mem_type_amqp_bus_msg, "amqp_bus_msg");

#define BUS_CHANNEL 1
#define BUS_CONNECT_TIMEOUT_MS 2000
#define BUS_RPC_TIMEOUT_MS 3000     /* Login and every declaration: a stopped broker cannot
                                     * hold the worker (and amqp_bus_destroy) longer. */
#define BUS_SEND_BATCH 256          /* Publishes between two looks at the socket. */
#define BUS_DRAIN_BATCH 1024        /* Frames read between two rounds of sending. */
#define BUS_WINDOW_MSGS 2048        /* Unconfirmed messages on the wire at most... */
#define BUS_WINDOW_BYTES (4u << 20) /* ...and bytes: keeps amqp_basic_publish (a blocking
                                     * write) from filling the socket towards a broker that
                                     * stopped reading. */

enum bus_item_kind {
    BUS_ITEM_MSG,
    BUS_ITEM_UP,
    BUS_ITEM_DOWN,
};

/* A message, outgoing or incoming, or (incoming) a state change. */
struct bus_item {
    struct bus_item *next;
    uint64_t tag;               /* Outgoing: publish sequence number on this connection. */
    enum bus_item_kind kind;
    size_t len;
    char body[];                /* LEN bytes and a NUL. */
};

struct bus_list {
    struct bus_item *head;
    struct bus_item **tail;
    size_t n;
    size_t bytes;
};

struct bus_server {
    char *host;
    int port;
};

struct amqp_bus {
    struct event_base *base;
    amqp_bus_msg_fn *on_msg;
    amqp_bus_state_fn *on_state;
    void *aux;

    /* Settings: read-only once created. */
    struct bus_server *servers;
    size_t n_servers;
    char *user, *password, *vhost, *exchange, *queue;
    size_t max_pending;
    int heartbeat;
    int backoff_min_ms, backoff_max_ms;

    pthread_t thread;
    pthread_mutex_t mutex;

    /* Under mutex. */
    struct bus_list outq;       /* Published, not yet taken by the worker. */
    struct bus_list inq;        /* For the callbacks, in order. */
    size_t pending;             /* Published and not confirmed. */
    bool stop;
    bool connected;
    char server[300];
    char last_error[300];
    uint64_t n_published, n_sent, n_confirmed, n_rejected, n_connects, n_connect_failures;

    /* Loop thread only. */
    int loop_fd;
    struct event *loop_ev;
    uint64_t n_consumed;

    /* Worker only. */
    int wake_fd;
    amqp_connection_state_t conn;
    struct bus_list tosend;     /* Taken from outq (or sent and not confirmed before a
                                 * reconnect), waiting to be sent. */
    struct bus_list unconfirmed;
    struct bus_list received;   /* Read in this round, not yet in inq. */
    uint64_t next_tag;
    uint64_t deliver_tag;       /* Last delivery received... */
    uint64_t acked_tag;         /* ...and last one acknowledged. */
    int64_t last_rx_ms;
    bool queue_fresh;           /* The queue was deleted and declared anew once. */
};

/* Lists. */

static void
bus_list_init(struct bus_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
    l->n = 0;
    l->bytes = 0;
}

static void
bus_list_push(struct bus_list *l, struct bus_item *it)
{
    it->next = NULL;
    *l->tail = it;
    l->tail = &it->next;
    l->n++;
    l->bytes += it->len;
}

static struct bus_item *
bus_list_pop(struct bus_list *l)
{
    struct bus_item *it = l->head;
    if (it) {
        l->head = it->next;
        if (!l->head) {
            l->tail = &l->head;
        }
        l->n--;
        l->bytes -= it->len;
        it->next = NULL;
    }
    return it;
}

/* Moves all of FROM to the end of TO. */
static void
bus_list_append(struct bus_list *to, struct bus_list *from)
{
    if (from->head) {
        *to->tail = from->head;
        to->tail = from->tail;
        to->n += from->n;
        to->bytes += from->bytes;
        bus_list_init(from);
    }
}

static void
bus_list_free(struct bus_list *l)
{
    struct bus_item *it;
    while ((it = bus_list_pop(l))) {
        mem_free(&mem_type_amqp_bus_msg, it);
    }
}

static struct bus_item *
bus_item_new(enum bus_item_kind kind, const void *body, size_t len)
{
    struct bus_item *it = mem_zalloc(&mem_type_amqp_bus_msg, sizeof *it + len + 1);
    it->kind = kind;
    it->len = len;
    if (len) {
        memcpy(it->body, body, len);
    }
    return it;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
eventfd_signal(int fd)
{
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) < 0 && errno != EAGAIN) {
        LOG_ERR("eventfd write: %s", strerror(errno));
    }
}

static void
eventfd_drain(int fd)
{
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0 && errno != EAGAIN) {
        LOG_ERR("eventfd read: %s", strerror(errno));
    }
}

/* Settings. */

static void
bus_add_server(struct amqp_bus *bus, const char *host, size_t hostlen, int port)
{
    bus->servers = mem_realloc(&mem_type_amqp_bus, bus->servers,
                               (bus->n_servers + 1) * sizeof *bus->servers);
    bus->servers[bus->n_servers].host = mem_strndup(&mem_type_amqp_bus, host, hostlen);
    bus->servers[bus->n_servers].port = port;
    bus->n_servers++;
}

static bool
parse_port(const char *s, int *portp)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 1 || v > 65535) {
        return false;
    }
    *portp = (int) v;
    return true;
}

/* Parses "host[:port]" entries separated by commas or spaces; "[v6]:port" and a bare IPv6
 * address (more than one colon, no port) are accepted.  Returns false on a bad entry. */
static bool
parse_servers(struct amqp_bus *bus, const char *list, int default_port)
{
    char *copy = xstrdup(list);
    char *save = NULL;
    bool ok = true;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && ok;
         tok = strtok_r(NULL, ", \t", &save)) {
        int port = default_port;
        if (tok[0] == '[') {
            char *close = strchr(tok, ']');
            if (!close || close == tok + 1 || (close[1] && close[1] != ':')
                || (close[1] == ':' && !parse_port(close + 2, &port))) {
                ok = false;
                break;
            }
            bus_add_server(bus, tok + 1, (size_t) (close - tok - 1), port);
            continue;
        }
        char *colon = strchr(tok, ':');
        if (colon && colon == strrchr(tok, ':')) {
            if (colon == tok || !parse_port(colon + 1, &port)) {
                ok = false;
                break;
            }
            bus_add_server(bus, tok, (size_t) (colon - tok), port);
        } else {
            bus_add_server(bus, tok, strlen(tok), port);
        }
    }
    xfree(copy);
    return ok && bus->n_servers > 0;
}

/* Shared state, worker side. */

static void
set_error(struct amqp_bus *bus, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_error(struct amqp_bus *bus, const char *fmt, ...)
{
    char buf[sizeof bus->last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&bus->mutex);
    bool same = !strcmp(buf, bus->last_error);
    memcpy(bus->last_error, buf, sizeof buf);
    pthread_mutex_unlock(&bus->mutex);
    /* A broker that stays away would log the same failure at every attempt. */
    if (same) {
        LOG_DEBUG("%s", buf);
    } else {
        LOG_WARN("%s", buf);
    }
}

static bool
stopping(struct amqp_bus *bus)
{
    pthread_mutex_lock(&bus->mutex);
    bool stop = bus->stop;
    pthread_mutex_unlock(&bus->mutex);
    return stop;
}

/* Hands the received messages, then ITEM (a state change, may be NULL), to the loop. */
static void
deliver_to_loop(struct amqp_bus *bus, struct bus_item *item)
{
    if (item) {
        bus_list_push(&bus->received, item);
    }
    if (!bus->received.head) {
        return;
    }
    pthread_mutex_lock(&bus->mutex);
    bool was_empty = !bus->inq.head;
    bus_list_append(&bus->inq, &bus->received);
    pthread_mutex_unlock(&bus->mutex);
    if (was_empty) {
        eventfd_signal(bus->loop_fd);
    }
}

/* Sleeps MS milliseconds, or less when the bus is stopped.  Wakeups for new messages do not
 * shorten the sleep: the backoff holds whatever the publishers do.  Returns false when the
 * bus is stopping. */
static bool
worker_sleep(struct amqp_bus *bus, int ms)
{
    int64_t deadline = now_ms() + ms;
    for (;;) {
        if (stopping(bus)) {
            return false;
        }
        int64_t left = deadline - now_ms();
        if (left <= 0) {
            return true;
        }
        struct pollfd pfd = { .fd = bus->wake_fd, .events = POLLIN };
        if (poll(&pfd, 1, (int) left) > 0) {
            eventfd_drain(bus->wake_fd);
        }
    }
}

/* Connection set-up. */

static void
format_reply(char *buf, size_t size, amqp_rpc_reply_t r)
{
    switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        snprintf(buf, size, "ok");
        break;
    case AMQP_RESPONSE_NONE:
        snprintf(buf, size, "no reply");
        break;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        snprintf(buf, size, "%s", amqp_error_string2(r.library_error));
        break;
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            const amqp_connection_close_t *m = r.reply.decoded;
            snprintf(buf, size, "broker closed the connection: %u %.*s", m->reply_code,
                     (int) m->reply_text.len, (const char *) m->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            const amqp_channel_close_t *m = r.reply.decoded;
            snprintf(buf, size, "broker closed the channel: %u %.*s", m->reply_code,
                     (int) m->reply_text.len, (const char *) m->reply_text.bytes);
        } else {
            snprintf(buf, size, "unexpected method 0x%08x", r.reply.id);
        }
        break;
    default:
        snprintf(buf, size, "reply type %d", (int) r.reply_type);
        break;
    }
}

/* Checks the last RPC of the connection; on failure records "<what> on <server>: why". */
static bool
rpc_ok(struct amqp_bus *bus, const struct bus_server *s, const char *what, amqp_rpc_reply_t r)
{
    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return true;
    }
    char why[256];
    format_reply(why, sizeof why, r);
    set_error(bus, "%s on %s:%d: %s", what, s->host, s->port, why);
    return false;
}

static void
session_close(struct amqp_bus *bus, bool polite)
{
    if (!bus->conn) {
        return;
    }
    if (polite) {
        amqp_connection_close(bus->conn, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(bus->conn);
    bus->conn = NULL;
}

/* Connects to S and declares everything.  Returns false (the error recorded) on failure;
 * the caller closes the connection either way. */
static bool
session_open(struct amqp_bus *bus, const struct bus_server *s)
{
    bus->conn = amqp_new_connection();
    amqp_socket_t *sock = amqp_tcp_socket_new(bus->conn);
    if (!sock) {
        set_error(bus, "cannot create a socket");
        return false;
    }
    struct timeval tv = { .tv_sec = BUS_CONNECT_TIMEOUT_MS / 1000,
                          .tv_usec = BUS_CONNECT_TIMEOUT_MS % 1000 * 1000 };
    int rc = amqp_socket_open_noblock(sock, s->host, s->port, &tv);
    if (rc != AMQP_STATUS_OK) {
        set_error(bus, "connect to %s:%d: %s", s->host, s->port, amqp_error_string2(rc));
        return false;
    }
    struct timeval rpc = { .tv_sec = BUS_RPC_TIMEOUT_MS / 1000,
                           .tv_usec = BUS_RPC_TIMEOUT_MS % 1000 * 1000 };
    amqp_set_handshake_timeout(bus->conn, &rpc);
    amqp_set_rpc_timeout(bus->conn, &rpc);

    amqp_rpc_reply_t r = amqp_login(bus->conn, bus->vhost, 0, AMQP_DEFAULT_FRAME_SIZE,
                                    bus->heartbeat > 0 ? bus->heartbeat : 0,
                                    AMQP_SASL_METHOD_PLAIN, bus->user, bus->password);
    if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
        && r.library_error == AMQP_STATUS_CONNECTION_CLOSED) {
        /* Brokers that do not report authentication failures just close the socket. */
        set_error(bus, "login on %s:%d as \"%s\" to vhost \"%s\": connection closed by the "
                  "broker (bad user, password or vhost?)", s->host, s->port, bus->user,
                  bus->vhost);
        return false;
    }
    char what[200];
    snprintf(what, sizeof what, "login as \"%s\" to vhost \"%s\"", bus->user, bus->vhost);
    if (!rpc_ok(bus, s, what, r)) {
        return false;
    }
    amqp_channel_open(bus->conn, BUS_CHANNEL);
    if (!rpc_ok(bus, s, "channel.open", amqp_get_rpc_reply(bus->conn))) {
        return false;
    }
    amqp_confirm_select(bus->conn, BUS_CHANNEL);
    if (!rpc_ok(bus, s, "confirm.select", amqp_get_rpc_reply(bus->conn))) {
        return false;
    }
    amqp_bytes_t exchange = amqp_cstring_bytes(bus->exchange);
    amqp_exchange_declare(bus->conn, BUS_CHANNEL, exchange, amqp_cstring_bytes("fanout"),
                          false, false, false, false, amqp_empty_table);
    snprintf(what, sizeof what, "exchange.declare \"%s\"", bus->exchange);
    if (!rpc_ok(bus, s, what, amqp_get_rpc_reply(bus->conn))) {
        return false;
    }
    if (bus->queue) {
        amqp_bytes_t queue = amqp_cstring_bytes(bus->queue);
        if (!bus->queue_fresh) {
            /* Messages left in the queue by an earlier run are stale: the consumer starts
             * from the database. */
            amqp_queue_delete(bus->conn, BUS_CHANNEL, queue, false, false);
            snprintf(what, sizeof what, "queue.delete \"%s\"", bus->queue);
            if (!rpc_ok(bus, s, what, amqp_get_rpc_reply(bus->conn))) {
                return false;
            }
            bus->queue_fresh = true;
        }
        amqp_queue_declare(bus->conn, BUS_CHANNEL, queue, false, false, false, false,
                           amqp_empty_table);
        snprintf(what, sizeof what, "queue.declare \"%s\"", bus->queue);
        if (!rpc_ok(bus, s, what, amqp_get_rpc_reply(bus->conn))) {
            return false;
        }
        amqp_queue_bind(bus->conn, BUS_CHANNEL, queue, exchange, amqp_empty_bytes,
                        amqp_empty_table);
        snprintf(what, sizeof what, "queue.bind \"%s\"", bus->queue);
        if (!rpc_ok(bus, s, what, amqp_get_rpc_reply(bus->conn))) {
            return false;
        }
        amqp_basic_consume(bus->conn, BUS_CHANNEL, queue, amqp_empty_bytes, false, false,
                           false, amqp_empty_table);
        snprintf(what, sizeof what, "basic.consume \"%s\"", bus->queue);
        if (!rpc_ok(bus, s, what, amqp_get_rpc_reply(bus->conn))) {
            return false;
        }
    }
    bus->next_tag = 0;
    bus->deliver_tag = bus->acked_tag = 0;
    bus->last_rx_ms = now_ms();

    /* What was sent and not confirmed goes first, in its order, then the rest. */
    if (bus->unconfirmed.head) {
        LOG_INFO("sending %zu unconfirmed messages again", bus->unconfirmed.n);
        bus_list_append(&bus->unconfirmed, &bus->tosend);
        bus->tosend = bus->unconfirmed;     /* Not empty: its tail is in an item. */
        bus_list_init(&bus->unconfirmed);
    }
    return true;
}

/* The session. */

/* Sends from the send list while the window allows.  Returns false on a write error. */
static bool
send_some(struct amqp_bus *bus, const struct bus_server *s)
{
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
        .content_type = amqp_cstring_bytes("application/json"),
        .delivery_mode = 1,     /* Transient, as the exchange and queues are. */
    };
    amqp_bytes_t exchange = amqp_cstring_bytes(bus->exchange);
    uint64_t sent = 0;
    bool ok = true;
    while (bus->tosend.head && sent < BUS_SEND_BATCH
           && bus->unconfirmed.n < BUS_WINDOW_MSGS
           && bus->unconfirmed.bytes < BUS_WINDOW_BYTES) {
        struct bus_item *it = bus->tosend.head;
        int rc = amqp_basic_publish(bus->conn, BUS_CHANNEL, exchange, amqp_empty_bytes,
                                    false, false, &props,
                                    (amqp_bytes_t) { .len = it->len, .bytes = it->body });
        if (rc != AMQP_STATUS_OK) {
            set_error(bus, "publish on %s:%d: %s", s->host, s->port, amqp_error_string2(rc));
            ok = false;
            break;
        }
        /* Sent (maybe partly): it waits for its confirm, or goes again after a reconnect. */
        bus_list_pop(&bus->tosend);
        it->tag = ++bus->next_tag;
        bus_list_push(&bus->unconfirmed, it);
        sent++;
    }
    if (sent) {
        pthread_mutex_lock(&bus->mutex);
        bus->n_sent += sent;
        pthread_mutex_unlock(&bus->mutex);
    }
    return ok;
}

/* The broker confirmed publish TAG (and all before it when MULTIPLE). */
static void
confirm(struct amqp_bus *bus, uint64_t tag, bool multiple)
{
    size_t n = 0;
    if (multiple) {
        while (bus->unconfirmed.head && bus->unconfirmed.head->tag <= tag) {
            mem_free(&mem_type_amqp_bus_msg, bus_list_pop(&bus->unconfirmed));
            n++;
        }
    } else if (bus->unconfirmed.head && bus->unconfirmed.head->tag == tag) {
        mem_free(&mem_type_amqp_bus_msg, bus_list_pop(&bus->unconfirmed));
        n++;
    } else {
        /* Out of order (the protocol allows it): unlink from the middle. */
        struct bus_item **pp = &bus->unconfirmed.head;
        while (*pp && (*pp)->tag != tag) {
            pp = &(*pp)->next;
        }
        struct bus_item *it = *pp;
        if (it) {
            *pp = it->next;
            if (bus->unconfirmed.tail == &it->next) {
                bus->unconfirmed.tail = pp;
            }
            bus->unconfirmed.n--;
            bus->unconfirmed.bytes -= it->len;
            mem_free(&mem_type_amqp_bus_msg, it);
            n++;
        }
    }
    if (n) {
        pthread_mutex_lock(&bus->mutex);
        bus->pending -= n;
        bus->n_confirmed += n;
        pthread_mutex_unlock(&bus->mutex);
    }
}

/* Handles one frame.  Returns false when the connection must be given up. */
static bool
handle_frame(struct amqp_bus *bus, const struct bus_server *s, const amqp_frame_t *f)
{
    if (f->frame_type != AMQP_FRAME_METHOD) {
        LOG_DEBUG("stray frame of type %u on channel %u", f->frame_type, f->channel);
        return true;
    }
    switch (f->payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
        const amqp_basic_deliver_t *d = f->payload.method.decoded;
        uint64_t tag = d->delivery_tag;
        amqp_message_t m;
        amqp_rpc_reply_t r = amqp_read_message(bus->conn, f->channel, &m, 0);
        if (!rpc_ok(bus, s, "reading a delivery", r)) {
            return false;
        }
        bus_list_push(&bus->received, bus_item_new(BUS_ITEM_MSG, m.body.bytes, m.body.len));
        amqp_destroy_message(&m);
        bus->deliver_tag = tag;
        return true;
    }
    case AMQP_BASIC_ACK_METHOD: {
        const amqp_basic_ack_t *a = f->payload.method.decoded;
        confirm(bus, a->delivery_tag, a->multiple);
        return true;
    }
    case AMQP_BASIC_NACK_METHOD:
        set_error(bus, "broker %s:%d refused a message (basic.nack): reconnecting to send "
                  "it again in order", s->host, s->port);
        return false;
    case AMQP_BASIC_RETURN_METHOD: {
        /* Not asked for (no mandatory flag); read the message off the wire and drop it. */
        amqp_message_t m;
        amqp_rpc_reply_t r = amqp_read_message(bus->conn, f->channel, &m, 0);
        if (!rpc_ok(bus, s, "reading a returned message", r)) {
            return false;
        }
        amqp_destroy_message(&m);
        return true;
    }
    case AMQP_BASIC_CANCEL_METHOD:
        set_error(bus, "broker %s:%d cancelled the consumer of \"%s\" (queue deleted?)",
                  s->host, s->port, bus->queue ? bus->queue : "");
        return false;
    case AMQP_CHANNEL_CLOSE_METHOD: {
        const amqp_channel_close_t *m = f->payload.method.decoded;
        set_error(bus, "broker %s:%d closed the channel: %u %.*s", s->host, s->port,
                  m->reply_code, (int) m->reply_text.len, (const char *) m->reply_text.bytes);
        return false;
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
        const amqp_connection_close_t *m = f->payload.method.decoded;
        set_error(bus, "broker %s:%d closed the connection: %u %.*s", s->host, s->port,
                  m->reply_code, (int) m->reply_text.len, (const char *) m->reply_text.bytes);
        amqp_connection_close_ok_t ok = { 0 };
        amqp_send_method(bus->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
        return false;
    }
    case AMQP_CONNECTION_BLOCKED_METHOD:
        LOG_WARN("broker %s:%d blocks publishers (resource alarm)", s->host, s->port);
        return true;
    case AMQP_CONNECTION_UNBLOCKED_METHOD:
        LOG_NOTICE("broker %s:%d unblocked publishers", s->host, s->port);
        return true;
    default:
        LOG_DEBUG("ignoring method 0x%08x on channel %u", f->payload.method.id, f->channel);
        return true;
    }
}

/* Reads the frames that are there without waiting, hands deliveries to the loop and
 * acknowledges them.  Returns false when the connection must be given up. */
static bool
drain(struct amqp_bus *bus, const struct bus_server *s)
{
    bool ok = true;
    for (int i = 0; i < BUS_DRAIN_BATCH; i++) {
        amqp_frame_t f;
        struct timeval zero = { 0, 0 };
        int rc = amqp_simple_wait_frame_noblock(bus->conn, &f, &zero);
        if (rc == AMQP_STATUS_TIMEOUT) {
            break;
        }
        if (rc != AMQP_STATUS_OK) {
            set_error(bus, "connection to %s:%d: %s", s->host, s->port,
                      amqp_error_string2(rc));
            ok = false;
            break;
        }
        bus->last_rx_ms = now_ms();
        if (!handle_frame(bus, s, &f)) {
            ok = false;
            break;
        }
    }
    /* What was received is delivered even when the connection broke after it. */
    deliver_to_loop(bus, NULL);
    if (ok && bus->deliver_tag > bus->acked_tag) {
        int rc = amqp_basic_ack(bus->conn, BUS_CHANNEL, bus->deliver_tag, true);
        if (rc != AMQP_STATUS_OK) {
            set_error(bus, "ack on %s:%d: %s", s->host, s->port, amqp_error_string2(rc));
            ok = false;
        }
        bus->acked_tag = bus->deliver_tag;
    }
    if (ok) {
        amqp_maybe_release_buffers(bus->conn);
    }
    return ok;
}

/* Runs a set-up connection until it fails or the bus stops. */
static void
session_run(struct amqp_bus *bus, const struct bus_server *s)
{
    int fd = amqp_get_sockfd(bus->conn);
    /* As negotiated: the broker may have asked for a shorter interval. */
    int hb_ms = amqp_get_heartbeat(bus->conn) * 1000;
    for (;;) {
        pthread_mutex_lock(&bus->mutex);
        bool stop = bus->stop;
        bus_list_append(&bus->tosend, &bus->outq);
        pthread_mutex_unlock(&bus->mutex);
        if (stop) {
            return;
        }
        if (!send_some(bus, s) || !drain(bus, s)) {
            return;
        }
        if (amqp_frames_enqueued(bus->conn) || amqp_data_in_buffer(bus->conn)) {
            continue;
        }
        bool can_send = bus->tosend.head && bus->unconfirmed.n < BUS_WINDOW_MSGS
                        && bus->unconfirmed.bytes < BUS_WINDOW_BYTES;
        if (can_send) {
            continue;
        }
        int timeout = -1;
        if (hb_ms) {
            int64_t silent = now_ms() - bus->last_rx_ms;
            if (silent > 2 * hb_ms) {
                set_error(bus, "connection to %s:%d: no heartbeat from the broker for "
                          "%" PRId64 " ms", s->host, s->port, silent);
                return;
            }
            /* Wake up often enough to send heartbeats on time (librabbitmq sends one when
             * an interval passed without output) and to notice silence. */
            timeout = hb_ms / 4;
        }
        struct pollfd pfd[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = bus->wake_fd, .events = POLLIN },
        };
        int n = poll(pfd, 2, timeout);
        if (n < 0 && errno != EINTR) {
            set_error(bus, "poll: %s", strerror(errno));
            return;
        }
        if (n > 0 && pfd[0].revents) {
            /* Heartbeat frames are consumed inside librabbitmq: count any input. */
            bus->last_rx_ms = now_ms();
        }
        if (n > 0 && pfd[1].revents) {
            eventfd_drain(bus->wake_fd);
        }
    }
}

static void *
worker_main(void *aux)
{
    struct amqp_bus *bus = aux;
    size_t idx = 0;
    int delay = 0;
    for (;;) {
        if (delay && !worker_sleep(bus, delay)) {
            break;
        }
        if (stopping(bus)) {
            break;
        }
        const struct bus_server *s = &bus->servers[idx];
        pthread_mutex_lock(&bus->mutex);
        snprintf(bus->server, sizeof bus->server, "%s:%d", s->host, s->port);
        pthread_mutex_unlock(&bus->mutex);

        if (!session_open(bus, s)) {
            session_close(bus, false);
            pthread_mutex_lock(&bus->mutex);
            bus->n_connect_failures++;
            pthread_mutex_unlock(&bus->mutex);
            idx = (idx + 1) % bus->n_servers;
            delay = delay ? delay * 2 : bus->backoff_min_ms;
            if (delay > bus->backoff_max_ms) {
                delay = bus->backoff_max_ms;
            }
            continue;
        }

        pthread_mutex_lock(&bus->mutex);
        bus->connected = true;
        bus->n_connects++;
        uint64_t connects = bus->n_connects;
        pthread_mutex_unlock(&bus->mutex);
        LOG_NOTICE("connected to %s:%d%s%s", s->host, s->port,
                   bus->queue ? ", consuming " : "", bus->queue ? bus->queue : "");
        if (connects > 1) {
            LOG_DEBUG("reconnect %" PRIu64, connects - 1);
        }
        deliver_to_loop(bus, bus_item_new(BUS_ITEM_UP, NULL, 0));

        session_run(bus, s);

        bool stop = stopping(bus);
        session_close(bus, stop);
        pthread_mutex_lock(&bus->mutex);
        bus->connected = false;
        pthread_mutex_unlock(&bus->mutex);
        if (stop) {
            break;
        }
        deliver_to_loop(bus, bus_item_new(BUS_ITEM_DOWN, NULL, 0));
        /* The same server first, after the shortest delay; then the others in turn. */
        delay = bus->backoff_min_ms;
    }
    session_close(bus, false);
    return NULL;
}

/* Loop thread. */

static void
loop_deliver(evutil_socket_t fd, short what, void *aux)
{
    struct amqp_bus *bus = aux;
    eventfd_drain(bus->loop_fd);
    struct bus_list items;
    pthread_mutex_lock(&bus->mutex);
    items = bus->inq;
    if (!items.head) {
        items.tail = &items.head;
    }
    bus_list_init(&bus->inq);
    pthread_mutex_unlock(&bus->mutex);

    struct bus_item *it;
    while ((it = bus_list_pop(&items))) {
        switch (it->kind) {
        case BUS_ITEM_MSG:
            bus->n_consumed++;
            if (bus->on_msg) {
                bus->on_msg(bus->aux, it->body, it->len);
            }
            break;
        case BUS_ITEM_UP:
        case BUS_ITEM_DOWN:
            if (bus->on_state) {
                bus->on_state(bus->aux, it->kind == BUS_ITEM_UP);
            }
            break;
        }
        mem_free(&mem_type_amqp_bus_msg, it);
    }
}

struct amqp_bus *
amqp_bus_create(struct event_base *base, const struct amqp_bus_config *cfg,
                amqp_bus_msg_fn *on_msg, amqp_bus_state_fn *on_state, void *aux)
{
    struct amqp_bus *bus = mem_zalloc(&mem_type_amqp_bus, sizeof *bus);
    bus->base = base;
    bus->on_msg = on_msg;
    bus->on_state = on_state;
    bus->aux = aux;
    bus->loop_fd = bus->wake_fd = -1;
    bus_list_init(&bus->outq);
    bus_list_init(&bus->inq);
    bus_list_init(&bus->tosend);
    bus_list_init(&bus->unconfirmed);
    bus_list_init(&bus->received);
    pthread_mutex_init(&bus->mutex, NULL);
    int port = cfg->port ? cfg->port : 5672;
    const char *servers = cfg->servers && *cfg->servers ? cfg->servers : "127.0.0.1";
    if (port < 1 || port > 65535 || !parse_servers(bus, servers, port)) {
        LOG_ERR("bad RabbitMQ server list \"%s\" (port %d)", servers, port);
        amqp_bus_destroy(bus);
        return NULL;
    }
    bus->user = mem_strdup(&mem_type_amqp_bus, cfg->user ? cfg->user : "guest");
    bus->password = mem_strdup(&mem_type_amqp_bus, cfg->password ? cfg->password : "guest");
    bus->vhost = mem_strdup(&mem_type_amqp_bus, cfg->vhost && *cfg->vhost ? cfg->vhost : "/");
    bus->exchange = mem_strdup(&mem_type_amqp_bus, cfg->exchange && *cfg->exchange
                                                       ? cfg->exchange : AMQP_BUS_EXCHANGE);
    bus->queue = cfg->queue && *cfg->queue ? mem_strdup(&mem_type_amqp_bus, cfg->queue) : NULL;
    bus->max_pending = cfg->max_pending ? cfg->max_pending : AMQP_BUS_MAX_PENDING;
    bus->heartbeat = cfg->heartbeat ? cfg->heartbeat : 5;
    bus->backoff_min_ms = cfg->reconnect_min_ms > 0 ? cfg->reconnect_min_ms : 100;
    bus->backoff_max_ms = cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 5000;
    if (bus->backoff_max_ms < bus->backoff_min_ms) {
        bus->backoff_max_ms = bus->backoff_min_ms;
    }
    bus->loop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    bus->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (bus->loop_fd < 0 || bus->wake_fd < 0) {
        LOG_ERR("eventfd: %s", strerror(errno));
        amqp_bus_destroy(bus);
        return NULL;
    }
    bus->loop_ev = event_new(base, bus->loop_fd, EV_READ | EV_PERSIST, loop_deliver, bus);
    event_add(bus->loop_ev, NULL);
    int error = pthread_create(&bus->thread, NULL, worker_main, bus);
    if (error) {
        LOG_ERR("cannot start the RabbitMQ worker thread: %s", strerror(error));
        event_free(bus->loop_ev);
        bus->loop_ev = NULL;
        amqp_bus_destroy(bus);
        return NULL;
    }
    return bus;
}

int
amqp_bus_publish(struct amqp_bus *bus, const char *body, size_t len)
{
    struct bus_item *it = bus_item_new(BUS_ITEM_MSG, body, len);
    pthread_mutex_lock(&bus->mutex);
    if (bus->pending >= bus->max_pending) {
        bus->n_rejected++;
        pthread_mutex_unlock(&bus->mutex);
        mem_free(&mem_type_amqp_bus_msg, it);
        return ENOBUFS;
    }
    bool was_empty = !bus->outq.head;
    bus_list_push(&bus->outq, it);
    bus->pending++;
    bus->n_published++;
    pthread_mutex_unlock(&bus->mutex);
    /* A non-empty backlog already has a wakeup on its way. */
    if (was_empty) {
        eventfd_signal(bus->wake_fd);
    }
    return 0;
}

size_t
amqp_bus_pending(const struct amqp_bus *bus_)
{
    struct amqp_bus *bus = (struct amqp_bus *) bus_;
    pthread_mutex_lock(&bus->mutex);
    size_t n = bus->pending;
    pthread_mutex_unlock(&bus->mutex);
    return n;
}

bool
amqp_bus_connected(const struct amqp_bus *bus_)
{
    struct amqp_bus *bus = (struct amqp_bus *) bus_;
    pthread_mutex_lock(&bus->mutex);
    bool connected = bus->connected;
    pthread_mutex_unlock(&bus->mutex);
    return connected;
}

json_t *
amqp_bus_status(const struct amqp_bus *bus_)
{
    struct amqp_bus *bus = (struct amqp_bus *) bus_;
    pthread_mutex_lock(&bus->mutex);
    json_t *j = xjson_pack("{sbsssssssIsIsIsIsIsIsIsIsIsIss}",
                           "connected", bus->connected,
                           "server", bus->server,
                           "exchange", bus->exchange,
                           "queue", bus->queue ? bus->queue : "",
                           "pending", (json_int_t) bus->pending,
                           "max_pending", (json_int_t) bus->max_pending,
                           "published", (json_int_t) bus->n_published,
                           "sent", (json_int_t) bus->n_sent,
                           "confirmed", (json_int_t) bus->n_confirmed,
                           "rejected", (json_int_t) bus->n_rejected,
                           "consumed", (json_int_t) bus->n_consumed,
                           "connects", (json_int_t) bus->n_connects,
                           "reconnects", (json_int_t) (bus->n_connects
                                                       ? bus->n_connects - 1 : 0),
                           "connect_failures", (json_int_t) bus->n_connect_failures,
                           "last_error", bus->last_error);
    pthread_mutex_unlock(&bus->mutex);
    return j;
}

void
amqp_bus_destroy(struct amqp_bus *bus)
{
    if (!bus) {
        return;
    }
    if (bus->loop_ev) {
        pthread_mutex_lock(&bus->mutex);
        bus->stop = true;
        pthread_mutex_unlock(&bus->mutex);
        eventfd_signal(bus->wake_fd);
        pthread_join(bus->thread, NULL);
        event_free(bus->loop_ev);
        pthread_mutex_lock(&bus->mutex);
        size_t lost = bus->pending;
        pthread_mutex_unlock(&bus->mutex);
        if (lost) {
            LOG_WARN("dropping %zu messages not confirmed by the broker", lost);
        }
    }
    bus_list_free(&bus->outq);
    bus_list_free(&bus->inq);
    bus_list_free(&bus->tosend);
    bus_list_free(&bus->unconfirmed);
    bus_list_free(&bus->received);
    if (bus->loop_fd >= 0) {
        close(bus->loop_fd);
    }
    if (bus->wake_fd >= 0) {
        close(bus->wake_fd);
    }
    for (size_t i = 0; i < bus->n_servers; i++) {
        mem_free(&mem_type_amqp_bus, bus->servers[i].host);
    }
    mem_free(&mem_type_amqp_bus, bus->servers);
    mem_free(&mem_type_amqp_bus, bus->user);
    mem_free(&mem_type_amqp_bus, bus->password);
    mem_free(&mem_type_amqp_bus, bus->vhost);
    mem_free(&mem_type_amqp_bus, bus->exchange);
    mem_free(&mem_type_amqp_bus, bus->queue);
    pthread_mutex_destroy(&bus->mutex);
    mem_free(&mem_type_amqp_bus, bus);
}
