/* xmpp_session: XMPP connections on libevent.  See xmpp_session.h.
 *
 * A session owns at most one live bufferevent.  Closing hands the bufferevent to a small
 * "linger" object that frees it once the stream error and closing tag are flushed (or after
 * a short grace period), so the session itself can go on at once: freed for a server session,
 * back to the retry timer for a client.  While the read callback is delivering events, the
 * session is marked busy and a destroy requested by a hook is deferred until it returns. */
#include "xmpp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(xmpp_session);

static MEM_TYPE(mem_xmpp_session, "xmpp_session");
static MEM_TYPE(mem_xmpp_server, "xmpp_server");
static MEM_TYPE(mem_xmpp_linger, "xmpp_linger");

#define READ_CHUNK 65536
#define LINGER_SECS 2

struct xmpp_server {
    struct event_base *base;
    struct evconnlistener *listener;
    struct xmpp_session_config cfg;
    char *local_jid;
    const struct xmpp_session_hooks *hooks;
    void *aux;
    uint16_t port;
    struct list sessions;
    size_t n_sessions;
    unsigned next_id;
};

struct xmpp_session {
    struct list node;               /* In server->sessions. */
    struct xmpp_server *server;     /* NULL for a client. */
    struct event_base *base;
    struct xmpp_session_config cfg;
    char *local_jid, *remote_jid, *subcluster;
    const struct xmpp_session_hooks *hooks;
    void *aux, *user;

    struct sockaddr_storage sa;     /* Client: the server. */
    socklen_t salen;
    char remote[64];

    enum xmpp_state state;
    struct bufferevent *bev;
    struct xmpp_splitter sp;
    struct xmpp_decoder dec;
    struct xmpp_open peer;
    bool open_sent;
    bool announced_up;
    struct event *open_timer, *hold_timer, *ka_timer, *retry_timer;
    char sent_condition[48];        /* The stream error we sent last ("" when none). */
    bool peer_closed;               /* The peer ended the stream (</stream:stream>). */
    unsigned retry_attempts;
    char reason[256];
    struct xmpp_session_stats stats;

    int busy;                       /* Inside the read callback. */
    bool free_pending;              /* Free when no longer busy. */
    bool stopping;                  /* Client: destroy requested; no reconnect. */
};

struct xmpp_linger {
    struct bufferevent *bev;
    struct event *timer;
};

const char *
xmpp_state_name(enum xmpp_state s)
{
    static const char *names[] = { "Idle", "Connect", "OpenWait", "Established", "Closed" };
    return (unsigned) s <= XMPP_ST_CLOSED ? names[s] : "?";
}

/* ---------------------------------------------------------------------------------------- */
/* Lingering connections: flush, then free. */

static void
linger_free(struct xmpp_linger *l)
{
    event_free(l->timer);
    bufferevent_free(l->bev);
    mem_free(&mem_xmpp_linger, l);
}

static void
linger_timeout(evutil_socket_t fd, short what, void *arg)
{
    linger_free(arg);
}

static void
linger_write(struct bufferevent *bev, void *arg)
{
    linger_free(arg);
}

static void
linger_event(struct bufferevent *bev, short what, void *arg)
{
    linger_free(arg);
}

static void
linger_start(struct event_base *base, struct bufferevent *bev)
{
    bufferevent_disable(bev, EV_READ);
    if (!evbuffer_get_length(bufferevent_get_output(bev))) {
        bufferevent_free(bev);
        return;
    }
    struct xmpp_linger *l = mem_zalloc(&mem_xmpp_linger, sizeof *l);
    l->bev = bev;
    l->timer = evtimer_new(base, linger_timeout, l);
    struct timeval tv = { LINGER_SECS, 0 };
    event_add(l->timer, &tv);
    bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
    bufferevent_setcb(bev, NULL, linger_write, linger_event, l);
}

/* ---------------------------------------------------------------------------------------- */
/* Session basics */

static void session_free(struct xmpp_session *s);
static void client_schedule_retry(struct xmpp_session *s);
static void client_connect(struct xmpp_session *s);

static char *
dup_or_null(const char *s)
{
    return s ? mem_strdup(&mem_xmpp_session, s) : NULL;
}

static void
session_init(struct xmpp_session *s, struct event_base *base,
             const struct xmpp_session_config *cfg, const struct xmpp_session_hooks *hooks,
             void *aux)
{
    s->base = base;
    s->cfg = *cfg;
    s->local_jid = dup_or_null(cfg->local_jid ? cfg->local_jid : "");
    s->remote_jid = dup_or_null(cfg->remote_jid ? cfg->remote_jid : XMPP_CONTROL_JID);
    s->subcluster = dup_or_null(cfg->subcluster ? cfg->subcluster : "");
    s->cfg.local_jid = s->local_jid;
    s->cfg.remote_jid = s->remote_jid;
    s->cfg.subcluster = s->subcluster;
    if (!s->cfg.hold_time) {
        s->cfg.hold_time = 90;
    }
    if (!s->cfg.open_timeout) {
        s->cfg.open_timeout = 15;
    }
    if (!s->cfg.retry_ms) {
        s->cfg.retry_ms = 1000;
    }
    if (!s->cfg.retry_max_ms) {
        s->cfg.retry_max_ms = 30000;
    }
    s->hooks = hooks;
    s->aux = aux;
    list_init(&s->node);
    xmpp_splitter_init(&s->sp, cfg->max_stanza);
    xmpp_decoder_init(&s->dec);
    xmpp_open_clear(&s->peer);
}

static void
arm(struct event *ev, unsigned ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_add(ev, &tv);
}

static void
session_stop_timers(struct xmpp_session *s)
{
    event_del(s->open_timer);
    event_del(s->hold_timer);
    event_del(s->ka_timer);
}

static void
queue(struct xmpp_session *s, struct evbuffer *tmp)
{
    s->stats.tx_bytes += evbuffer_get_length(tmp);
    bufferevent_write_buffer(s->bev, tmp);
}

static void
send_open(struct xmpp_session *s, const char *to, const char *id)
{
    struct evbuffer *b = evbuffer_new();
    xmpp_encode_open(b, s->local_jid, to, s->server ? NULL : s->subcluster, id);
    queue(s, b);
    evbuffer_free(b);
    s->open_sent = true;
}

/* Tears the connection down; see xmpp_session_close. */
static void
session_close(struct xmpp_session *s, const char *condition, const char *text,
              const char *reason)
{
    if (!s->bev) {
        return;
    }
    if (condition) {
        snprintf(s->sent_condition, sizeof s->sent_condition, "%s", condition);
        struct evbuffer *b = evbuffer_new();
        if (!s->open_sent) {
            /* XMPP wants a stream header before a stream error. */
            xmpp_encode_open(b, s->local_jid, s->peer.from ? s->peer.from : "",
                             NULL, s->server ? "0" : NULL);
            s->open_sent = true;
        }
        xmpp_encode_stream_error(b, condition, text);
        queue(s, b);
        evbuffer_free(b);
    }
    if (s->open_sent) {
        struct evbuffer *b = evbuffer_new();
        xmpp_encode_close(b);
        queue(s, b);
        evbuffer_free(b);
    }
    linger_start(s->base, s->bev);
    s->bev = NULL;
    session_stop_timers(s);
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    bool was_up = s->announced_up;
    s->announced_up = false;
    s->open_sent = false;
    xmpp_splitter_destroy(&s->sp);
    xmpp_splitter_init(&s->sp, s->cfg.max_stanza);
    xmpp_decoder_destroy(&s->dec);
    xmpp_decoder_init(&s->dec);
    LOG_INFO("xmpp %s %s: closed in %s: %s", s->server ? "session" : "client",
             s->peer.from ? s->peer.from : s->remote, xmpp_state_name(s->state), reason);

    s->busy++;                  /* A hook may destroy the session: free it at the end. */
    if (s->server) {
        s->state = XMPP_ST_CLOSED;
        list_remove(&s->node);
        s->server->n_sessions--;
        if (was_up) {
            s->stats.flaps++;
            if (s->hooks->down) {
                s->hooks->down(s, reason, s->aux);
            }
        }
        s->busy--;
        if (s->busy) {
            s->free_pending = true;
        } else {
            session_free(s);
        }
        return;
    }
    s->state = s->stopping ? XMPP_ST_CLOSED : XMPP_ST_IDLE;
    if (was_up) {
        s->stats.flaps++;
        s->retry_attempts = 0;
        if (s->hooks->down) {
            s->hooks->down(s, reason, s->aux);
        }
    } else if (!s->stopping && s->hooks->connect_failed) {
        s->hooks->connect_failed(s, reason, s->aux);
    }
    s->busy--;
    if (s->free_pending) {
        if (!s->busy) {
            session_free(s);
        }
        return;
    }
    if (!s->stopping && s->state == XMPP_ST_IDLE) {
        client_schedule_retry(s);
    }
}

void
xmpp_session_close(struct xmpp_session *s, const char *condition, const char *reason)
{
    if (!s) {
        return;
    }
    if (!s->bev && !s->server && !s->stopping) {
        /* Client between attempts or connecting: nothing to close but the attempt. */
        return;
    }
    session_close(s, condition, reason, reason ? reason : "closed locally");
}

static void
session_free(struct xmpp_session *s)
{
    if (s->bev) {
        bufferevent_free(s->bev);
    }
    event_free(s->open_timer);
    event_free(s->hold_timer);
    event_free(s->ka_timer);
    if (s->retry_timer) {
        event_free(s->retry_timer);
    }
    xmpp_splitter_destroy(&s->sp);
    xmpp_decoder_destroy(&s->dec);
    xmpp_open_clear(&s->peer);
    mem_free(&mem_xmpp_session, s->local_jid);
    mem_free(&mem_xmpp_session, s->remote_jid);
    mem_free(&mem_xmpp_session, s->subcluster);
    mem_free(&mem_xmpp_session, s);
}

void
xmpp_session_destroy(struct xmpp_session *s)
{
    if (!s) {
        return;
    }
    if (s->server && s->state == XMPP_ST_CLOSED) {
        return;                 /* Closing already: session_close frees it. */
    }
    if (s->stopping) {
        return;
    }
    s->stopping = true;
    if (s->bev) {
        session_close(s, NULL, NULL, "closed locally");
        if (s->server) {
            return;             /* session_close freed it (or will). */
        }
    }
    s->state = XMPP_ST_CLOSED;
    if (s->retry_timer) {
        event_del(s->retry_timer);
    }
    if (s->server) {
        list_remove(&s->node);
        s->server->n_sessions--;
    }
    if (s->busy) {
        s->free_pending = true;
    } else {
        session_free(s);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Timers */

static void
open_expired(evutil_socket_t fd, short what, void *arg)
{
    session_close(arg, "connection-timeout", "open timer expired", "open timer expired");
}

static void
hold_expired(evutil_socket_t fd, short what, void *arg)
{
    session_close(arg, "connection-timeout", "hold timer expired", "hold timer expired");
}

static void
send_keepalive(evutil_socket_t fd, short what, void *arg)
{
    struct xmpp_session *s = arg;
    if (s->state == XMPP_ST_ESTABLISHED && s->bev) {
        struct evbuffer *b = evbuffer_new();
        xmpp_encode_keepalive(b);
        queue(s, b);
        evbuffer_free(b);
        s->stats.tx_keepalives++;
    }
}

static unsigned
ka_interval_ms(const struct xmpp_session *s)
{
    unsigned ms = s->cfg.keepalive_ms ? s->cfg.keepalive_ms : s->cfg.hold_time * 1000 / 3;
    return ms ? ms : 1;
}

static void
create_timers(struct xmpp_session *s)
{
    s->open_timer = evtimer_new(s->base, open_expired, s);
    s->hold_timer = evtimer_new(s->base, hold_expired, s);
    s->ka_timer = event_new(s->base, -1, EV_PERSIST, send_keepalive, s);
}

static void
go_established(struct xmpp_session *s)
{
    s->state = XMPP_ST_ESTABLISHED;
    event_del(s->open_timer);
    arm(s->hold_timer, s->cfg.hold_time * 1000);
    arm(s->ka_timer, ka_interval_ms(s));
    s->announced_up = true;
    LOG_INFO("xmpp %s %s: established", s->server ? "session" : "client",
             s->peer.from ? s->peer.from : s->remote);
    if (s->hooks->up) {
        s->hooks->up(s, s->aux);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Receiving */

static void
handle_open(struct xmpp_session *s, const struct xmpp_frame *f)
{
    char err[128];
    xmpp_open_clear(&s->peer);
    if (xmpp_open_decode(f->data, f->len, &s->peer, err, sizeof err)) {
        session_close(s, "not-well-formed", err, err);
        return;
    }
    if (s->state != XMPP_ST_OPEN_WAIT) {
        session_close(s, "not-authorized", "unexpected stream open", "unexpected stream open");
        return;
    }
    const char *cond = s->hooks->open ? s->hooks->open(s, &s->peer, s->aux) : NULL;
    if (s->server) {
        char id[32];
        snprintf(id, sizeof id, "++%u", ++s->server->next_id);
        send_open(s, s->peer.from ? s->peer.from : "", id);
    }
    if (cond) {
        char why[256];
        snprintf(why, sizeof why, "stream open refused: %s", cond);
        session_close(s, cond, NULL, why);
        return;
    }
    go_established(s);
}

static void
handle_stanza(struct xmpp_session *s, const struct xmpp_frame *f)
{
    if (s->state != XMPP_ST_ESTABLISHED) {
        session_close(s, "not-authorized", "stanza before the stream is open",
                      "stanza before the stream is open");
        return;
    }
    s->stats.rx_stanzas++;
    struct xmpp_event ev;
    if (xmpp_decode_stanza(&s->dec, f->data, f->len, &ev)) {
        char why[300];
        snprintf(why, sizeof why, "bad stanza: %s", s->dec.error);
        LOG_WARN("xmpp %s: %s", s->peer.from ? s->peer.from : s->remote, why);
        session_close(s, s->dec.condition ? s->dec.condition : "bad-format", s->dec.error, why);
    } else if (ev.type == XMPP_EV_STREAM_ERROR) {
        char why[300];
        snprintf(why, sizeof why, "stream error from peer: %s%s%s", ev.node,
                 ev.text ? ": " : "", ev.text ? ev.text : "");
        session_close(s, NULL, NULL, why);
    } else if (ev.type != XMPP_EV_NONE && s->hooks->event) {
        s->hooks->event(s, &ev, s->aux);
    }
    xmpp_event_clear(&ev);
}

static void
conn_read(struct bufferevent *bev, void *arg)
{
    struct xmpp_session *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    s->busy++;
    if (s->state == XMPP_ST_ESTABLISHED) {
        arm(s->hold_timer, s->cfg.hold_time * 1000);
    }
    while (s->bev == bev && evbuffer_get_length(in)) {
        size_t n = evbuffer_get_length(in);
        if (n > READ_CHUNK) {
            n = READ_CHUNK;
        }
        s->stats.rx_bytes += n;
        xmpp_splitter_feed(&s->sp, evbuffer_pullup(in, (ssize_t) n), n);
        evbuffer_drain(in, n);
        bool any = false;
        while (s->bev == bev) {
            struct xmpp_frame f;
            int err = xmpp_splitter_next(&s->sp, &f);
            if (err) {
                char why[200];
                snprintf(why, sizeof why, "bad stream: %s", s->sp.error);
                session_close(s, err == EMSGSIZE ? "policy-violation" : "not-well-formed",
                              s->sp.error, why);
                break;
            }
            if (f.type == XMPP_FRAME_NONE) {
                break;
            }
            any = true;
            if (f.type == XMPP_FRAME_OPEN) {
                handle_open(s, &f);
            } else if (f.type == XMPP_FRAME_STANZA) {
                handle_stanza(s, &f);
            } else {
                s->peer_closed = true;
                session_close(s, NULL, NULL, "peer closed the stream");
            }
        }
        if (!any) {
            s->stats.rx_keepalives++;
        }
    }
    s->busy--;
    if (!s->busy && s->free_pending) {
        session_free(s);
    }
}

static void
conn_write(struct bufferevent *bev, void *arg)
{
    struct xmpp_session *s = arg;
    if (s->state == XMPP_ST_ESTABLISHED && s->hooks->drained) {
        s->hooks->drained(s, s->aux);
    }
}

static void
set_remote(struct xmpp_session *s, const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *) sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
        port = ntohs(in->sin_port);
        snprintf(s->remote, sizeof s->remote, "%s:%u", ip, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *) sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
        port = ntohs(in6->sin6_port);
        snprintf(s->remote, sizeof s->remote, "[%s]:%u", ip, port);
    }
}

static void
set_nodelay(struct bufferevent *bev)
{
    int fd = bufferevent_getfd(bev);
    int one = 1;
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
}

static void
conn_event(struct bufferevent *bev, short what, void *arg)
{
    struct xmpp_session *s = arg;
    if (what & BEV_EVENT_CONNECTED) {
        set_nodelay(bev);
        s->state = XMPP_ST_OPEN_WAIT;
        arm(s->open_timer, s->cfg.open_timeout * 1000);
        send_open(s, s->remote_jid, NULL);
        return;
    }
    char why[128];
    if (what & BEV_EVENT_EOF) {
        snprintf(why, sizeof why, "connection closed by peer");
    } else {
        int err = EVUTIL_SOCKET_ERROR();
        snprintf(why, sizeof why, "%s: %s",
                 s->state == XMPP_ST_CONNECT ? "connect failed" : "connection error",
                 evutil_socket_error_to_string(err));
    }
    /* Nothing can be sent on a dead connection: no stream error, no closing tag. */
    s->open_sent = false;
    session_close(s, NULL, NULL, why);
}

static void
session_attach(struct xmpp_session *s, struct bufferevent *bev)
{
    s->bev = bev;
    s->sent_condition[0] = '\0';
    s->peer_closed = false;
    bufferevent_setcb(bev, conn_read, conn_write, conn_event, s);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* ---------------------------------------------------------------------------------------- */
/* Server */

static void
accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int salen,
          void *arg)
{
    struct xmpp_server *srv = arg;
    struct xmpp_session *s = mem_zalloc(&mem_xmpp_session, sizeof *s);
    session_init(s, srv->base, &srv->cfg, srv->hooks, srv->aux);
    s->server = srv;
    create_timers(s);
    set_remote(s, sa);
    list_push_back(&srv->sessions, &s->node);
    srv->n_sessions++;
    struct bufferevent *bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    set_nodelay(bev);
    session_attach(s, bev);
    s->state = XMPP_ST_OPEN_WAIT;
    arm(s->open_timer, s->cfg.open_timeout * 1000);
    LOG_DEBUG("xmpp: accepted %s", s->remote);
}

struct xmpp_server *
xmpp_server_create(struct event_base *base, const char *addr, uint16_t port,
                   const struct xmpp_session_config *cfg, const struct xmpp_session_hooks *hooks,
                   void *aux, int *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    struct sockaddr_in *in = (void *) &ss;
    struct sockaddr_in6 *in6 = (void *) &ss;
    if (!addr || !*addr) {
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_ANY);
        in->sin_port = htons(port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET, addr, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        len = sizeof *in;
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        len = sizeof *in6;
    } else {
        *err = EINVAL;
        return NULL;
    }
    struct xmpp_server *srv = mem_zalloc(&mem_xmpp_server, sizeof *srv);
    srv->base = base;
    srv->cfg = *cfg;
    srv->local_jid = mem_strdup(&mem_xmpp_server, cfg->local_jid ? cfg->local_jid
                                                               : XMPP_CONTROL_JID);
    srv->cfg.local_jid = srv->local_jid;
    srv->hooks = hooks;
    srv->aux = aux;
    list_init(&srv->sessions);
    srv->listener = evconnlistener_new_bind(base, accept_cb, srv,
                                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE
                                            | LEV_OPT_CLOSE_ON_EXEC, 4096,
                                            (struct sockaddr *) &ss, (int) len);
    if (!srv->listener) {
        *err = errno ? errno : EADDRINUSE;
        mem_free(&mem_xmpp_server, srv->local_jid);
        mem_free(&mem_xmpp_server, srv);
        return NULL;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *) &bound, &blen);
    srv->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &bound)->sin6_port
                                                  : ((struct sockaddr_in *) &bound)->sin_port);
    LOG_INFO("xmpp: listening on %s port %u", addr && *addr ? addr : "*", srv->port);
    return srv;
}

uint16_t
xmpp_server_port(const struct xmpp_server *srv)
{
    return srv->port;
}

size_t
xmpp_server_n_sessions(const struct xmpp_server *srv)
{
    return srv->n_sessions;
}

void
xmpp_server_foreach(struct xmpp_server *srv, void (*cb)(struct xmpp_session *, void *),
                    void *arg)
{
    struct xmpp_session *s;
    LIST_FOR_EACH_SAFE (s, node, &srv->sessions) {
        cb(s, arg);
    }
}

void
xmpp_server_destroy(struct xmpp_server *srv)
{
    if (!srv) {
        return;
    }
    evconnlistener_free(srv->listener);
    while (!list_is_empty(&srv->sessions)) {
        struct xmpp_session *s = CONTAINER_OF(srv->sessions.next, struct xmpp_session, node);
        session_close(s, "system-shutdown", NULL, "server shutting down");
    }
    mem_free(&mem_xmpp_server, srv->local_jid);
    mem_free(&mem_xmpp_server, srv);
}

/* ---------------------------------------------------------------------------------------- */
/* Client */

static void
retry_fire(evutil_socket_t fd, short what, void *arg)
{
    client_connect(arg);
}

static void
client_schedule_retry(struct xmpp_session *s)
{
    unsigned shift = s->retry_attempts < 16 ? s->retry_attempts : 16;
    uint64_t ms = (uint64_t) s->cfg.retry_ms << shift;
    if (ms > s->cfg.retry_max_ms) {
        ms = s->cfg.retry_max_ms;
    }
    /* +-10 % jitter so that agents restarted together do not reconnect in step. */
    uint64_t span = ms / 5;
    if (span) {
        ms = ms - ms / 10 + (uint64_t) random() % span;
    }
    s->retry_attempts++;
    arm(s->retry_timer, (unsigned) ms);
}

static void
client_connect(struct xmpp_session *s)
{
    if (s->stopping || s->bev) {
        return;
    }
    s->stats.attempts++;
    s->state = XMPP_ST_CONNECT;
    struct bufferevent *bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE);
    session_attach(s, bev);
    if (bufferevent_socket_connect(bev, (struct sockaddr *) &s->sa, (int) s->salen)) {
        /* The event callback may already have run and closed the session. */
        if (s->bev == bev) {
            s->open_sent = false;
            session_close(s, NULL, NULL, "connect failed");
        }
    }
}

struct xmpp_session *
xmpp_client_create(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
                   const struct xmpp_session_config *cfg, const struct xmpp_session_hooks *hooks,
                   void *aux)
{
    struct xmpp_session *s = mem_zalloc(&mem_xmpp_session, sizeof *s);
    session_init(s, base, cfg, hooks, aux);
    create_timers(s);
    s->retry_timer = evtimer_new(base, retry_fire, s);
    if (salen > sizeof s->sa) {
        salen = sizeof s->sa;
    }
    memcpy(&s->sa, sa, salen);
    s->salen = salen;
    set_remote(s, sa);
    s->state = XMPP_ST_IDLE;
    client_connect(s);
    return s;
}

/* ---------------------------------------------------------------------------------------- */
/* Accessors */

struct evbuffer *
xmpp_session_output(struct xmpp_session *s)
{
    return s->state == XMPP_ST_ESTABLISHED && s->bev ? bufferevent_get_output(s->bev) : NULL;
}

int
xmpp_session_send(struct xmpp_session *s, const void *data, size_t len)
{
    if (s->state != XMPP_ST_ESTABLISHED || !s->bev) {
        return ENOTCONN;
    }
    s->stats.tx_bytes += len;
    bufferevent_write(s->bev, data, len);
    return 0;
}

size_t
xmpp_session_queued(const struct xmpp_session *s)
{
    return s->bev ? evbuffer_get_length(bufferevent_get_output(s->bev)) : 0;
}

enum xmpp_state
xmpp_session_state(const struct xmpp_session *s)
{
    return s->state;
}

const struct xmpp_open *
xmpp_session_peer_open(const struct xmpp_session *s)
{
    return &s->peer;
}

const char *
xmpp_session_peer_name(const struct xmpp_session *s)
{
    return s->peer.from ? s->peer.from : "";
}

const char *
xmpp_session_remote(const struct xmpp_session *s)
{
    return s->remote;
}

const char *
xmpp_session_last_reason(const struct xmpp_session *s)
{
    return s->reason;
}

const struct xmpp_session_stats *
xmpp_session_stats(const struct xmpp_session *s)
{
    return &s->stats;
}

void
xmpp_session_set_user(struct xmpp_session *s, void *user)
{
    s->user = user;
}

void *
xmpp_session_user(const struct xmpp_session *s)
{
    return s->user;
}

const char *
xmpp_session_sent_condition(const struct xmpp_session *s)
{
    return s->sent_condition[0] ? s->sent_condition : NULL;
}

bool
xmpp_session_peer_closed(const struct xmpp_session *s)
{
    return s->peer_closed;
}
