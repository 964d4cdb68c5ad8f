/* Unit tests of control/xmpp/xmpp_session: a server and clients over loopback in one event
 * loop (open exchange, stanzas both ways, keepalives, hold and open timers, refused opens,
 * malformed input, closes decided by the owner, reconnects), plus raw sockets for what a
 * well-behaved client would never send. */
#include "xmpp_session.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "mem.h"

static struct event_base *base;

/* What the hooks saw. */
static struct {
    int srv_up, srv_down, srv_events, cli_up, cli_down, cli_failed, cli_events;
    char srv_reason[300], cli_reason[300];
    enum xmpp_event_type srv_last, cli_last;
    char srv_node[128];
    struct xmpp_session *srv_sess;
    bool destroy_in_event;
} st;

static bool
run_until(bool (*pred)(void), int ms)
{
    struct timeval start, now;
    gettimeofday(&start, NULL);
    while (!pred()) {
        gettimeofday(&now, NULL);
        long el = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_usec - start.tv_usec) / 1000;
        if (el > ms) {
            return false;
        }
        struct timeval tv = { 0, 5000 };
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    return true;
}

static void
run_for(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* --- Server hooks ------------------------------------------------------------------------ */

static const char *
srv_open(struct xmpp_session *s, const struct xmpp_open *o, void *aux)
{
    /* This server belongs to subcluster "" : anything else is refused. */
    return *o->subcluster ? "invalid-namespace" : NULL;
}

static void
srv_up(struct xmpp_session *s, void *aux)
{
    st.srv_up++;
    st.srv_sess = s;
}

static void
srv_event(struct xmpp_session *s, const struct xmpp_event *ev, void *aux)
{
    st.srv_events++;
    st.srv_last = ev->type;
    snprintf(st.srv_node, sizeof st.srv_node, "%s", ev->node ? ev->node : "");
    if (ev->type == XMPP_EV_ROUTE_SUBSCRIBE && !strcmp(ev->node, "dup")) {
        /* The owner's decision: close the session. */
        xmpp_session_close(s, "policy-violation", "duplicate subscribe");
        return;
    }
    if (ev->type == XMPP_EV_ROUTE_SUBSCRIBE) {
        /* Answer with one route and End-of-RIB. */
        struct xmpp_route r;
        memset(&r, 0, sizeof r);
        xmpp_route_set_key(&r, XMPP_FAM_INET, "10.9.0.1/32");
        struct xmpp_nexthop *nh = xmpp_route_add_nexthop(&r);
        xmpp_nexthop_set_address(nh, "198.51.100.7");
        nh->label = 77;
        const struct xmpp_route *rp = &r;
        struct evbuffer *out = xmpp_session_output(s);
        xmpp_encode_routes(out, xmpp_session_peer_name(s), XMPP_FAM_INET, ev->node, &rp, 1,
                           NULL, 0);
        xmpp_encode_eor(out, XMPP_CONTROL_JID, xmpp_session_peer_name(s));
        xmpp_route_clear(&r);
    }
}

static void
srv_down(struct xmpp_session *s, const char *reason, void *aux)
{
    st.srv_down++;
    snprintf(st.srv_reason, sizeof st.srv_reason, "%s", reason);
    if (s == st.srv_sess) {
        st.srv_sess = NULL;
    }
}

static const struct xmpp_session_hooks srv_hooks = {
    .open = srv_open, .up = srv_up, .event = srv_event, .down = srv_down,
};

/* --- Client hooks ------------------------------------------------------------------------ */

static void
cli_up(struct xmpp_session *s, void *aux)
{
    st.cli_up++;
}

static void
cli_event(struct xmpp_session *s, const struct xmpp_event *ev, void *aux)
{
    st.cli_events++;
    st.cli_last = ev->type;
    if (st.destroy_in_event) {
        st.destroy_in_event = false;
        xmpp_session_destroy(s);
    }
}

static void
cli_down(struct xmpp_session *s, const char *reason, void *aux)
{
    st.cli_down++;
    snprintf(st.cli_reason, sizeof st.cli_reason, "%s", reason);
}

static void
cli_failed(struct xmpp_session *s, const char *reason, void *aux)
{
    st.cli_failed++;
    snprintf(st.cli_reason, sizeof st.cli_reason, "%s", reason);
}

static const struct xmpp_session_hooks cli_hooks = {
    .up = cli_up, .event = cli_event, .down = cli_down, .connect_failed = cli_failed,
};

/* --- Helpers ----------------------------------------------------------------------------- */

static struct sockaddr_in
loopback(uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static struct xmpp_session *
client(uint16_t port, const char *name, const char *subcluster, unsigned hold)
{
    struct xmpp_session_config cfg = {
        .local_jid = name, .subcluster = subcluster, .hold_time = hold, .retry_ms = 50,
        .retry_max_ms = 200, .open_timeout = 2,
    };
    struct sockaddr_in sin = loopback(port);
    return xmpp_client_create(base, (struct sockaddr *) &sin, sizeof sin, &cfg, &cli_hooks,
                              NULL);
}

static int
raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = loopback(port);
    if (connect(fd, (struct sockaddr *) &sin, sizeof sin)) {
        perror("connect");
        abort();
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void
raw_send(int fd, const char *s)
{
    size_t n = strlen(s);
    if (write(fd, s, n) != (ssize_t) n) {
        abort();
    }
}

/* Everything the raw socket received so far (static buffer). */
static const char *
raw_read(int fd)
{
    static char buf[8192];
    static size_t len;
    static int last_fd = -1;
    if (fd != last_fd) {
        len = 0;
        last_fd = fd;
    }
    ssize_t n;
    while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t) n;
    }
    buf[len] = '\0';
    return buf;
}

static const char agent_open[] =
    "<?xml version='1.0'?><stream:stream from='raw' to='network-control@contrailsystems.com' "
    "version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";

static bool srv_up1(void) { return st.srv_up >= 1 && st.cli_up >= 1; }
static bool srv_event1(void) { return st.cli_last == XMPP_EV_EOR; }
static bool srv_down1(void) { return st.srv_down >= 1; }
static bool cli_down1(void) { return st.cli_down >= 1; }
static bool cli_up2(void) { return st.cli_up >= 2 && st.srv_up >= 2; }
static bool cli_failed1(void) { return st.cli_failed >= 1; }

static struct xmpp_server *srv;

static bool
no_sessions(void)
{
    return xmpp_server_n_sessions(srv) == 0;
}

static bool
one_session(void)
{
    return xmpp_server_n_sessions(srv) == 1;
}

static void
reset(void)
{
    memset(&st, 0, sizeof st);
}

/* --- Tests ------------------------------------------------------------------------------- */

static void
test_exchange_and_keepalive(uint16_t port)
{
    reset();
    struct xmpp_session *c = client(port, "agent1", NULL, 1);
    CHECK(run_until(srv_up1, 3000));
    CHECK_EQ_INT(xmpp_session_state(c), XMPP_ST_ESTABLISHED);
    CHECK_STREQ(xmpp_session_peer_name(st.srv_sess), "agent1");
    CHECK_STREQ(xmpp_session_peer_open(c)->from, XMPP_CONTROL_JID);
    CHECK(xmpp_session_peer_open(c)->id != NULL);

    xmpp_encode_route_subscribe(xmpp_session_output(c), "agent1", "vrf1", 3, false, true, 1);
    CHECK(run_until(srv_event1, 3000));
    CHECK_EQ_INT(st.srv_last, XMPP_EV_ROUTE_SUBSCRIBE);
    CHECK_STREQ(st.srv_node, "vrf1");
    CHECK_EQ_INT(st.cli_events, 2);     /* The route update, then End-of-RIB. */

    /* Hold time 1 s: keepalives every 333 ms keep both sides up for 1.5 s of silence. */
    run_for(1500);
    CHECK_EQ_INT(xmpp_session_state(c), XMPP_ST_ESTABLISHED);
    CHECK_EQ_INT(st.srv_down, 0);
    CHECK_EQ_INT(st.cli_down, 0);
    CHECK(xmpp_session_stats(c)->tx_keepalives >= 3);
    CHECK(xmpp_session_stats(c)->rx_keepalives >= 2);

    /* The client goes away: the server sees the stream closed. */
    xmpp_session_destroy(c);
    CHECK(run_until(srv_down1, 3000));
    CHECK_STREQ(st.srv_reason, "peer closed the stream");
    CHECK(run_until(no_sessions, 3000));
}

static void
test_hold_and_open_timers(uint16_t port)
{
    /* An agent that opens and then says nothing: hold timer (1 s here). */
    reset();
    int fd = raw_connect(port);
    raw_send(fd, agent_open);
    CHECK(run_until(srv_down1, 3000));
    CHECK_STREQ(st.srv_reason, "hold timer expired");
    run_for(50);
    const char *got = raw_read(fd);
    CHECK_CONTAINS(got, "<stream:stream");
    CHECK_CONTAINS(got, "<connection-timeout");
    CHECK_CONTAINS(got, "</stream:stream>");
    close(fd);

    /* An agent that never opens: open timer (2 s); no down hook since it never came up. */
    reset();
    fd = raw_connect(port);
    CHECK(run_until(one_session, 1000));
    CHECK(run_until(no_sessions, 1000) == false);
    CHECK(run_until(no_sessions, 3000));
    CHECK_EQ_INT(st.srv_down, 0);
    run_for(50);
    CHECK_CONTAINS(raw_read(fd), "connection-timeout");
    close(fd);
}

static void
test_bad_input(uint16_t port)
{
    struct {
        const char *send;
        const char *condition;
        const char *reason;
    } cases[] = {
        { "<iq><a></b></iq>", "not-well-formed", "bad stream" },
        { "hello", "not-well-formed", "bad stream" },
        { "<presence/>", "unsupported-stanza-type", "bad stanza" },
        { "<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><collection "
          "node='v'><associate node='1/1/v/1.2.3.4/32'/></collection></pubsub></iq>",
          "bad-format", "without a publish" },
        { "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
          "</stream:error>", NULL, "stream error from peer: conflict" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        reset();
        int fd = raw_connect(port);
        raw_send(fd, agent_open);
        raw_send(fd, cases[i].send);
        CHECK(run_until(srv_down1, 3000));
        CHECK_CONTAINS(st.srv_reason, cases[i].reason);
        run_for(30);
        const char *got = raw_read(fd);
        if (cases[i].condition) {
            CHECK_CONTAINS(got, cases[i].condition);
        }
        CHECK_CONTAINS(got, "</stream:stream>");
        close(fd);
    }
    /* A stanza larger than the server's limit (64 KB here). */
    reset();
    int fd = raw_connect(port);
    raw_send(fd, agent_open);
    raw_send(fd, "<iq>");
    char *big = malloc(70001);
    memset(big, 'x', 70000);
    big[70000] = '\0';
    raw_send(fd, big);
    free(big);
    CHECK(run_until(srv_down1, 3000));
    CHECK_CONTAINS(st.srv_reason, "larger than");
    run_for(30);
    CHECK_CONTAINS(raw_read(fd), "policy-violation");
    close(fd);
}

static void
test_refuse_and_owner_close(uint16_t port)
{
    /* Subcluster mismatch: the server answers the open (XMPP wants a header before a stream
     * error), then refuses; the client keeps retrying. */
    reset();
    struct xmpp_session *c = client(port, "agent2", "other-subcluster", 5);
    CHECK(run_until(cli_down1, 3000));
    CHECK_CONTAINS(st.cli_reason, "stream error from peer: invalid-namespace");
    CHECK_EQ_INT(st.srv_up, 0);
    xmpp_session_destroy(c);
    CHECK(run_until(no_sessions, 3000));

    /* The owner closes the session (a duplicate subscribe); the client reconnects. */
    reset();
    c = client(port, "agent3", NULL, 5);
    CHECK(run_until(srv_up1, 3000));
    xmpp_encode_route_subscribe(xmpp_session_output(c), "agent3", "dup", 1, false, true, 1);
    CHECK(run_until(cli_down1, 3000));
    CHECK_CONTAINS(st.cli_reason, "policy-violation");
    CHECK_EQ_INT(st.srv_down, 1);
    CHECK_STREQ(st.srv_reason, "duplicate subscribe");
    CHECK(run_until(cli_up2, 3000));
    CHECK_EQ_INT(xmpp_session_stats(c)->flaps, 1);

    /* Destroying the client from inside its own event hook is safe. */
    xmpp_encode_route_subscribe(xmpp_session_output(c), "agent3", "vrf", 1, false, true, 2);
    st.destroy_in_event = true;
    st.srv_down = 0;
    CHECK(run_until(srv_down1, 3000));
    CHECK_STREQ(st.srv_reason, "peer closed the stream");
    CHECK(run_until(no_sessions, 3000));

    /* Server shutdown: the client hears the stream error, then nobody listens. */
    reset();
    c = client(port, "agent4", NULL, 5);
    CHECK(run_until(srv_up1, 3000));
    xmpp_server_destroy(srv);
    srv = NULL;
    CHECK(run_until(cli_down1, 3000));
    CHECK_CONTAINS(st.cli_reason, "system-shutdown");
    CHECK(run_until(cli_failed1, 3000));
    CHECK_CONTAINS(st.cli_reason, "connect failed");
    CHECK_EQ_INT(xmpp_session_state(c) == XMPP_ST_ESTABLISHED, 0);
    xmpp_session_destroy(c);
    /* Let lingering connections finish. */
    run_for(100);
}

int
main(void)
{
    base = event_base_new();
    struct xmpp_session_config cfg = {
        .local_jid = XMPP_CONTROL_JID, .hold_time = 1, .open_timeout = 2, .max_stanza = 65536,
    };
    int err = 0;
    srv = xmpp_server_create(base, "127.0.0.1", 0, &cfg, &srv_hooks, NULL, &err);
    CHECK(srv != NULL);
    if (!srv) {
        return check_finish();
    }
    uint16_t port = xmpp_server_port(srv);
    CHECK(port != 0);
    test_exchange_and_keepalive(port);
    test_hold_and_open_timers(port);
    test_bad_input(port);
    test_refuse_and_owner_close(port);
    xmpp_server_destroy(srv);
    event_base_free(base);

    json_t *mem = mem_to_json();
    const char *types[] = { "xmpp_session", "xmpp_proto", "xmpp_linger", "xmpp_server" };
    for (size_t i = 0; i < 4; i++) {
        json_t *t = json_object_get(mem, types[i]);
        CHECK_EQ_INT(t ? json_integer_value(json_object_get(t, "live")) : 0, 0);
    }
    json_decref(mem);
    return check_finish();
}
