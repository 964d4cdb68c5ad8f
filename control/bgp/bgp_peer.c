/* bgp_peer: the BGP session state machine.  See bgp_peer.h.
 *
 * A peer has up to two connections while a collision is being resolved: OUT (we connected) and
 * IN (the peer connected).  Each connection runs its own OpenSent/OpenConfirm exchange; the
 * peer's state is that of its most advanced connection.  When a connection reaches OpenConfirm
 * while the other one has also received an OPEN, the BGP identifiers decide which one stays. */
#include "bgp_peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(bgp_peer);

static MEM_TYPE(mem_bgp_peer, "bgp_peer");
static MEM_TYPE(mem_bgp_conn, "bgp_conn");

#define OPENSENT_HOLD 240       /* RFC 4271 §8: a large hold time until the OPEN arrives. */
#define RETRY_MAX 60            /* Cap of the backed-off connect-retry delay, seconds. */

struct bgp_conn {
    struct bgp_peer *peer;
    struct bufferevent *bev;
    bool outgoing;
    enum bgp_state state;       /* BGP_CONNECT, BGP_OPENSENT, BGP_OPENCONFIRM, BGP_ESTABLISHED */
    struct event *hold_timer, *ka_timer;
    struct bgp_open open;       /* The peer's OPEN, from OpenConfirm on. */
    bool closing;               /* Detached: flushing a NOTIFICATION before it is freed. */
    struct event *close_timer;
    struct bgp_conn *next_closing;  /* In the peer's closing list. */
};

static void conn_close(struct bgp_conn *, const struct bgp_error *notify, const char *why);
static void peer_schedule_retry(struct bgp_peer *);

const char *
bgp_state_name(enum bgp_state s)
{
    static const char *names[] = { "Idle", "Connect", "Active", "OpenSent", "OpenConfirm",
                                   "Established" };
    return (unsigned) s <= BGP_ESTABLISHED ? names[s] : "?";
}

int
bgp_md5_set(int fd, const struct sockaddr_storage *addr, const char *key)
{
    struct tcp_md5sig sig;
    memset(&sig, 0, sizeof sig);
    memcpy(&sig.tcpm_addr, addr, sizeof sig.tcpm_addr);
    size_t len = strlen(key);
    if (len > TCP_MD5SIG_MAXKEYLEN) {
        return EINVAL;
    }
    sig.tcpm_keylen = (uint16_t) len;
    memcpy(sig.tcpm_key, key, len);
    return setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) ? errno : 0;
}

/* Recomputes the peer's summary state from its connections. */
static void
peer_update_state(struct bgp_peer *peer)
{
    enum bgp_state s = peer->running ? (peer->cfg.passive ? BGP_ACTIVE : BGP_CONNECT) : BGP_IDLE;
    if (peer->running && !peer->cfg.passive && !peer->out) {
        s = BGP_ACTIVE;         /* Between attempts: waiting for the retry timer or the peer. */
    }
    struct bgp_conn *c[2] = { peer->out, peer->in };
    for (int i = 0; i < 2; i++) {
        if (c[i] && c[i]->state > s) {
            s = c[i]->state;
        }
    }
    if (s != peer->state) {
        LOG_INFO("peer %s: %s -> %s", peer->cfg.name, bgp_state_name(peer->state),
                 bgp_state_name(s));
        peer->state = s;
        peer->last_change = time(NULL);
    }
}

static void
conn_send(struct bgp_conn *c, const uint8_t *msg, size_t len)
{
    if (!c->bev || c->closing) {
        return;
    }
    bufferevent_write(c->bev, msg, len);
    uint8_t type = msg[18];
    if (type >= 1 && type <= 5) {
        c->peer->msgs[BGP_STAT_TX][type]++;
    }
}

int
bgp_peer_send(struct bgp_peer *peer, const uint8_t *msg, size_t len)
{
    if (!peer->est) {
        return ENOTCONN;
    }
    conn_send(peer->est, msg, len);
    return 0;
}

static void
conn_free(struct bgp_conn *c)
{
    if (c->closing) {
        for (struct bgp_conn **cp = &c->peer->closing; *cp; cp = &(*cp)->next_closing) {
            if (*cp == c) {
                *cp = c->next_closing;
                break;
            }
        }
    }
    if (c->hold_timer) {
        event_free(c->hold_timer);
    }
    if (c->ka_timer) {
        event_free(c->ka_timer);
    }
    if (c->close_timer) {
        event_free(c->close_timer);
    }
    if (c->bev) {
        bufferevent_free(c->bev);
    }
    mem_free(&mem_bgp_conn, c);
}

static void
closing_done(evutil_socket_t fd, short what, void *arg)
{
    conn_free(arg);
}

static void
closing_write_cb(struct bufferevent *bev, void *arg)
{
    conn_free(arg);
}

static void
closing_event_cb(struct bufferevent *bev, short what, void *arg)
{
    conn_free(arg);
}

static void
hold_expired(evutil_socket_t fd, short what, void *arg)
{
    struct bgp_conn *c = arg;
    struct bgp_error e = { .code = BGP_ERR_HOLD };
    conn_close(c, &e, "hold timer expired");
}

static void
send_keepalive(evutil_socket_t fd, short what, void *arg)
{
    struct bgp_conn *c = arg;
    uint8_t buf[BGP_HEADER_LEN];
    conn_send(c, buf, bgp_keepalive_encode(buf));
}

static void
conn_arm_hold(struct bgp_conn *c, int secs)
{
    if (secs > 0) {
        struct timeval tv = { secs, 0 };
        event_add(c->hold_timer, &tv);
    } else {
        event_del(c->hold_timer);
    }
}

/* Detaches C from its peer, sends NOTIFY (if any), and frees C once that is flushed.  When C
 * was the established session, the owner hears about it first. */
static void
conn_close(struct bgp_conn *c, const struct bgp_error *notify, const char *why)
{
    struct bgp_peer *peer = c->peer;
    bool was_est = peer->est == c;
    if (peer->out == c) {
        peer->out = NULL;
    }
    if (peer->in == c) {
        peer->in = NULL;
    }
    snprintf(peer->last_reason, sizeof peer->last_reason, "%s", why);
    LOG_INFO("peer %s: closing %s connection in %s: %s", peer->cfg.name,
             c->outgoing ? "outgoing" : "incoming", bgp_state_name(c->state), why);
    if (was_est) {
        peer->est = NULL;
        peer->flaps++;
        peer->established_at = 0;
        if (peer->hooks->down) {
            peer->hooks->down(peer, peer->aux);
        }
    }
    event_del(c->hold_timer);
    event_del(c->ka_timer);
    if (notify && c->bev && c->state >= BGP_OPENSENT) {
        uint8_t buf[BGP_MAX_MSG];
        conn_send(c, buf, bgp_notification_encode(notify, buf));
        peer->last_sent = *notify;
        peer->sent_any = true;
    }
    if (c->bev && evbuffer_get_length(bufferevent_get_output(c->bev))) {
        /* Let the NOTIFICATION go out, but never wait long for it. */
        bufferevent_setcb(c->bev, NULL, closing_write_cb, closing_event_cb, c);
        bufferevent_disable(c->bev, EV_READ);
        c->close_timer = evtimer_new(peer->local->base, closing_done, c);
        c->next_closing = peer->closing;
        peer->closing = c;
        c->closing = true;
        struct timeval tv = { 1, 0 };
        event_add(c->close_timer, &tv);
    } else {
        conn_free(c);
    }
    peer_update_state(peer);
    if (!peer->out && !peer->in && peer->running) {
        if (!was_est) {
            peer->retry_attempts++;
        }
        peer_schedule_retry(peer);
    }
}

static void
conn_send_open(struct bgp_conn *c)
{
    struct bgp_peer *peer = c->peer;
    struct bgp_open o = {
        .asn = peer->local->asn,
        .hold_time = peer->cfg.hold_time,
        .bgp_id = peer->local->router_id,
        .families = peer->cfg.families,
        .mp_cap = true,
        .as4_cap = true,
        .route_refresh = true,
        .gr_cap = true,
        .gr_time = 0,           /* Helper mode only: we keep no forwarding state across restarts. */
    };
    uint8_t buf[BGP_MAX_MSG];
    conn_send(c, buf, bgp_open_encode(&o, buf));
    c->state = BGP_OPENSENT;
    conn_arm_hold(c, OPENSENT_HOLD);
    peer_update_state(peer);
}

/* The session on C is up. */
static void
conn_established(struct bgp_conn *c)
{
    struct bgp_peer *peer = c->peer;
    c->state = BGP_ESTABLISHED;
    peer->est = c;
    struct bgp_conn *other = c == peer->out ? peer->in : peer->out;
    if (other) {
        struct bgp_error e = { .code = BGP_ERR_CEASE, .subcode = BGP_CEASE_COLLISION };
        conn_close(other, &e, "connection collision resolution");
    }
    peer->remote = c->open;
    peer->families = peer->cfg.families & c->open.families;
    peer->codec.as4 = c->open.as4_cap;
    peer->codec.ibgp = c->open.asn == peer->local->asn;
    peer->src.ebgp = !peer->codec.ibgp;
    peer->src.router_id = c->open.bgp_id;
    peer->retry_attempts = 0;
    peer->established_at = time(NULL);
    if (peer->retry_timer) {
        event_del(peer->retry_timer);
    }
    peer_update_state(peer);
    LOG_NOTICE("peer %s: established (AS %u, id %08x, hold %u)", peer->cfg.name,
               c->open.asn, c->open.bgp_id, peer->hold_time);
    if (peer->hooks->established) {
        peer->hooks->established(peer, peer->aux);
    }
}

/* Collision detection (RFC 4271 §6.8), run when C has just received the peer's OPEN.  Returns
 * false when C lost and was closed. */
static bool
conn_resolve_collision(struct bgp_conn *c)
{
    struct bgp_peer *peer = c->peer;
    struct bgp_conn *other = c == peer->out ? peer->in : peer->out;
    if (!other || other->state < BGP_OPENCONFIRM) {
        return true;            /* Nothing to compare with yet. */
    }
    struct bgp_error e = { .code = BGP_ERR_CEASE, .subcode = BGP_CEASE_COLLISION };
    if (other->state == BGP_ESTABLISHED) {
        conn_close(c, &e, "connection collision with an established session");
        return false;
    }
    /* The connection opened by the side with the higher identifier survives. */
    bool keep_ours = peer->local->router_id > c->open.bgp_id;
    struct bgp_conn *loser = keep_ours ? peer->in : peer->out;
    conn_close(loser, &e, "connection collision resolution");
    return loser != c;
}

static void
conn_fsm_error(struct bgp_conn *c, uint8_t type)
{
    /* RFC 6608 subcodes: the state in which the unexpected message arrived. */
    uint8_t sub = c->state == BGP_OPENSENT ? 1 : c->state == BGP_OPENCONFIRM ? 2 : 3;
    struct bgp_error e = { .code = BGP_ERR_FSM, .subcode = sub };
    char why[64];
    snprintf(why, sizeof why, "unexpected %s in %s", bgp_msg_type_name(type),
             bgp_state_name(c->state));
    conn_close(c, &e, why);
}

static void
conn_handle_open(struct bgp_conn *c, const uint8_t *body, size_t len)
{
    struct bgp_peer *peer = c->peer;
    struct bgp_error err;
    struct bgp_open o;
    if (c->state != BGP_OPENSENT) {
        conn_fsm_error(c, BGP_MSG_OPEN);
        return;
    }
    if (bgp_open_decode(body, len, &o, &err)) {
        conn_close(c, &err, "malformed OPEN");
        return;
    }
    if (peer->cfg.peer_as && o.asn != peer->cfg.peer_as) {
        struct bgp_error e = { .code = BGP_ERR_OPEN, .subcode = BGP_OPEN_BAD_AS };
        conn_close(c, &e, "OPEN from an unexpected AS");
        return;
    }
    if (o.bgp_id == peer->local->router_id) {
        struct bgp_error e = { .code = BGP_ERR_OPEN, .subcode = BGP_OPEN_BAD_ID };
        conn_close(c, &e, "OPEN with our own BGP identifier");
        return;
    }
    c->open = o;
    c->state = BGP_OPENCONFIRM;
    if (!conn_resolve_collision(c)) {
        return;
    }
    uint16_t hold = peer->cfg.hold_time < o.hold_time ? peer->cfg.hold_time : o.hold_time;
    peer->hold_time = hold;
    uint8_t buf[BGP_HEADER_LEN];
    conn_send(c, buf, bgp_keepalive_encode(buf));
    conn_arm_hold(c, hold);
    if (hold) {
        struct timeval tv = { hold / 3 ? hold / 3 : 1, 0 };
        event_free(c->ka_timer);
        c->ka_timer = event_new(peer->local->base, -1, EV_PERSIST, send_keepalive, c);
        event_add(c->ka_timer, &tv);
    }
    peer_update_state(peer);
}

/* Dispatches one whole message.  Returns false when C was closed. */
static bool
conn_handle_msg(struct bgp_conn *c, uint8_t type, const uint8_t *body, size_t len)
{
    struct bgp_peer *peer = c->peer;
    struct bgp_error err;
    peer->msgs[BGP_STAT_RX][type]++;
    if (c->state >= BGP_OPENCONFIRM) {
        conn_arm_hold(c, peer->hold_time);
    }
    switch (type) {
    case BGP_MSG_OPEN:
        conn_handle_open(c, body, len);
        return c == peer->out || c == peer->in;   /* Pointer comparison only. */
    case BGP_MSG_KEEPALIVE:
        if (c->state == BGP_OPENCONFIRM) {
            conn_established(c);
        } else if (c->state != BGP_ESTABLISHED) {
            conn_fsm_error(c, type);
            return false;
        }
        return true;
    case BGP_MSG_NOTIFICATION: {
        struct bgp_error got = { 0 };
        if (bgp_notification_decode(body, len, &got, &err) == 0) {
            peer->last_received = got;
            peer->received_any = true;
        }
        char why[96];
        snprintf(why, sizeof why, "NOTIFICATION received: %u/%u (%s)", got.code, got.subcode,
                 bgp_error_name(got.code));
        conn_close(c, NULL, why);
        return false;
    }
    case BGP_MSG_UPDATE: {
        if (c->state != BGP_ESTABLISHED) {
            conn_fsm_error(c, type);
            return false;
        }
        struct bgp_update u;
        if (bgp_update_decode(&peer->codec, body, len, &u, &err)) {
            bgp_update_clear(&u);
            char why[64];
            snprintf(why, sizeof why, "malformed UPDATE (%u/%u)", err.code, err.subcode);
            conn_close(c, &err, why);
            return false;
        }
        if (u.treat_as_withdraw) {
            peer->updates_withdrawn_7606++;
            LOG_WARN("peer %s: malformed attributes, %zu routes treated as withdrawn",
                     peer->cfg.name, u.n_reach);
        }
        peer->attrs_discarded += u.discarded;
        if (peer->hooks->update) {
            peer->hooks->update(peer, &u, peer->aux);
        }
        bgp_update_clear(&u);
        return peer->est == c;
    }
    case BGP_MSG_ROUTE_REFRESH: {
        if (c->state != BGP_ESTABLISHED) {
            conn_fsm_error(c, type);
            return false;
        }
        int fam;
        if (bgp_route_refresh_decode(body, len, &fam, &err)) {
            conn_close(c, &err, "malformed ROUTE-REFRESH");
            return false;
        }
        if (fam >= 0 && (peer->families & (1u << fam)) && peer->hooks->route_refresh) {
            peer->hooks->route_refresh(peer, fam, peer->aux);
        }
        return peer->est == c;
    }
    }
    return true;
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct bgp_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (avail < BGP_HEADER_LEN) {
            return;
        }
        uint8_t hdr[BGP_HEADER_LEN];
        evbuffer_copyout(in, hdr, sizeof hdr);
        uint16_t len;
        uint8_t type;
        struct bgp_error err;
        if (bgp_msg_check_header(hdr, sizeof hdr, &len, &type, &err)) {
            conn_close(c, &err, "bad message header");
            return;
        }
        if (avail < len) {
            return;
        }
        uint8_t msg[BGP_MAX_MSG];
        evbuffer_remove(in, msg, len);
        if (!conn_handle_msg(c, type, msg + BGP_HEADER_LEN, len - BGP_HEADER_LEN)) {
            return;
        }
    }
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct bgp_conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        LOG_DEBUG("peer %s: TCP connected", c->peer->cfg.name);
        conn_send_open(c);
        return;
    }
    char why[96];
    if (what & BEV_EVENT_EOF) {
        snprintf(why, sizeof why, "connection closed by peer");
    } else {
        snprintf(why, sizeof why, "connection error: %s",
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    conn_close(c, NULL, why);
}

static struct bgp_conn *
conn_new(struct bgp_peer *peer, int fd, bool outgoing)
{
    struct bgp_conn *c = mem_zalloc(&mem_bgp_conn, sizeof *c);
    c->peer = peer;
    c->outgoing = outgoing;
    c->state = BGP_CONNECT;
    c->bev = bufferevent_socket_new(peer->local->base, fd, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->hold_timer = evtimer_new(peer->local->base, hold_expired, c);
    c->ka_timer = event_new(peer->local->base, -1, EV_PERSIST, send_keepalive, c);
    return c;
}

static socklen_t
sa_len(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void
peer_connect(struct bgp_peer *peer)
{
    if (peer->out || peer->est || peer->cfg.passive) {
        return;
    }
    int fd = socket(peer->cfg.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        LOG_ERR("peer %s: socket: %s", peer->cfg.name, strerror(errno));
        peer_schedule_retry(peer);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (peer->cfg.password[0]) {
        int rc = bgp_md5_set(fd, &peer->cfg.addr, peer->cfg.password);
        if (rc) {
            LOG_ERR("peer %s: TCP_MD5SIG: %s", peer->cfg.name, strerror(rc));
        }
    }
    if (peer->cfg.local.ss_family) {
        struct sockaddr_storage l = peer->cfg.local;
        ((struct sockaddr_in *) &l)->sin_port = 0;
        if (bind(fd, (struct sockaddr *) &l, sa_len(&l))) {
            LOG_WARN("peer %s: bind source: %s", peer->cfg.name, strerror(errno));
        }
    }
    struct bgp_conn *c = conn_new(peer, fd, true);
    peer->out = c;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *) &peer->cfg.addr,
                                   (int) sa_len(&peer->cfg.addr))) {
        conn_close(c, NULL, "connect failed");
        return;
    }
    peer_update_state(peer);
    /* The retry timer doubles as the connect timeout. */
    peer_schedule_retry(peer);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct bgp_peer *peer = arg;
    if (peer->est) {
        return;
    }
    if (peer->out && peer->out->state == BGP_CONNECT) {
        peer->retry_attempts++;
        struct bgp_conn *c = peer->out;
        peer->out = NULL;       /* Close quietly and try again right away. */
        conn_free(c);
    }
    if (!peer->out) {
        peer_connect(peer);
    }
}

/* Arms the connect-retry timer: the base delay doubled per failed attempt, capped, minus up
 * to 10% jitter so that two speakers do not retry in lock step. */
static void
peer_schedule_retry(struct bgp_peer *peer)
{
    if (!peer->running || peer->cfg.passive) {
        return;
    }
    unsigned int shift = peer->retry_attempts < 6 ? peer->retry_attempts : 6;
    double delay = (double) peer->cfg.connect_retry * (1u << shift);
    if (delay > RETRY_MAX) {
        delay = RETRY_MAX;
    }
    if (delay < 1) {
        delay = 1;
    }
    delay -= delay * 0.1 * ((double) (random() % 1000) / 1000.0);
    struct timeval tv = { (time_t) delay, (suseconds_t) ((delay - (time_t) delay) * 1e6) };
    event_add(peer->retry_timer, &tv);
}

struct bgp_peer *
bgp_peer_create(const struct bgp_local *local, const struct bgp_peer_config *cfg,
                const struct bgp_peer_hooks *hooks, void *aux)
{
    struct bgp_peer *peer = mem_zalloc(&mem_bgp_peer, sizeof *peer);
    peer->cfg = *cfg;
    if (peer->cfg.connect_retry <= 0) {
        peer->cfg.connect_retry = 30;
    }
    peer->local = local;
    peer->hooks = hooks;
    peer->aux = aux;
    peer->retry_timer = evtimer_new(local->base, retry_cb, peer);
    peer->src.name = peer->cfg.name;
    if (cfg->addr.ss_family == AF_INET) {
        peer->src.addr = ntohl(((const struct sockaddr_in *) &cfg->addr)->sin_addr.s_addr);
    }
    peer->state = BGP_IDLE;
    peer->last_change = time(NULL);
    return peer;
}

void
bgp_peer_start(struct bgp_peer *peer)
{
    peer->running = true;
    peer_update_state(peer);
    peer_connect(peer);
}

void
bgp_peer_accept(struct bgp_peer *peer, int fd)
{
    if (!peer->running || peer->est || peer->in) {
        /* Established already (or mid-negotiation on an incoming one): the new connection
         * loses the collision outright (RFC 4271 §6.8). */
        LOG_INFO("peer %s: refusing a second connection", peer->cfg.name);
        close(fd);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct bgp_conn *c = conn_new(peer, fd, false);
    peer->in = c;
    if (peer->out && peer->out->state == BGP_CONNECT) {
        struct bgp_conn *o = peer->out;   /* Our attempt has not even connected: drop it. */
        peer->out = NULL;
        conn_free(o);
    }
    event_del(peer->retry_timer);
    conn_send_open(c);
}

void
bgp_peer_destroy(struct bgp_peer *peer)
{
    if (!peer) {
        return;
    }
    peer->running = false;
    struct bgp_error e = { .code = BGP_ERR_CEASE, .subcode = BGP_CEASE_ADMIN_SHUTDOWN };
    /* Free right away: the loop may not run again to flush. */
    struct bgp_conn *c[2] = { peer->out, peer->in };
    for (int i = 0; i < 2; i++) {
        if (c[i]) {
            if (c[i]->state >= BGP_OPENSENT && c[i]->bev) {
                uint8_t buf[BGP_MAX_MSG];
                size_t n = bgp_notification_encode(&e, buf);
                int fd = bufferevent_getfd(c[i]->bev);
                bufferevent_flush(c[i]->bev, EV_WRITE, BEV_FLUSH);
                if (fd >= 0 && write(fd, buf, n) < 0) {
                    /* Nothing more to do: the peer will see the connection close. */
                }
            }
            if (peer->est == c[i] && peer->hooks->down) {
                peer->est = NULL;
                peer->hooks->down(peer, peer->aux);
            }
            conn_free(c[i]);
        }
    }
    while (peer->closing) {
        conn_free(peer->closing);
    }
    event_free(peer->retry_timer);
    mem_free(&mem_bgp_peer, peer);
}
