/* Unit tests for control/bgp/bgp_peer and bgp_server: two speakers in one event loop that
 * connect to each other at the same time and exchange a route and a withdrawal; collision
 * detection against a scripted remote speaker with two connections (the one opened by the
 * higher BGP identifier survives, the other gets Cease 6/7); and a peer that cannot be reached
 * (the retry delay backs off). */
#include "bgp_peer.h"
#include "bgp_server.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>
#include <errno.h>

#include "check.h"
#include "log.h"

static double
now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + tv.tv_usec / 1e6;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Runs BASE until COND(AUX) holds or SECS pass.  Returns COND's last value. */
static bool
run_until(struct event_base *base, bool (*cond)(void *), void *aux, double secs)
{
    struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 20000 };
    event_add(t, &tv);
    double end = now() + secs;
    bool ok;
    while (!(ok = cond ? cond(aux) : false) && now() < end) {
        event_base_loop(base, EVLOOP_ONCE);
    }
    event_free(t);
    return ok;
}

struct two {
    struct bgp_ri_mgr ma, mb;
    struct bgp_server a, b;
};

static bool
both_established(void *aux)
{
    struct two *t = aux;
    return t->a.n_peers && t->b.n_peers && t->a.peers[0]->state == BGP_ESTABLISHED
        && t->b.peers[0]->state == BGP_ESTABLISHED && !t->a.peers[0]->closing
        && !t->b.peers[0]->closing;
}

static struct bgp_nlri route_a;

static bool
b_has_route(void *aux)
{
    struct two *t = aux;
    struct bgp_route *r = bgp_table_find(t->mb.master->tables[BGP_FAM_INET_VPN], &route_a.p);
    return r && r->best && r->best->src == &t->b.peers[0]->src && r->best->label == 42;
}

static bool
b_lost_route(void *aux)
{
    return !b_has_route(aux);
}

static void
test_collision_and_exchange(void)
{
    struct event_base *base = event_base_new();
    static struct two t;
    char err[256];
    struct bgp_server_config ca = { "127.0.0.1", 0, 64512, 0x0a000001, 90, 1, true };
    struct bgp_server_config cb = { "127.0.0.1", 0, 64512, 0x0a000002, 90, 1, true };
    bgp_ri_mgr_init(&t.ma, 64512, 0x0a000001);
    bgp_ri_mgr_init(&t.mb, 64512, 0x0a000002);
    CHECK_EQ_INT(bgp_server_open(&t.a, base, &ca, &t.ma, err, sizeof err), 0);
    CHECK_EQ_INT(bgp_server_open(&t.b, base, &cb, &t.mb, err, sizeof err), 0);
    char spec[128];
    snprintf(spec, sizeof spec, "127.0.0.1 port %d families inet-vpn,e-vpn",
             bgp_server_port(&t.b));
    CHECK_EQ_INT(bgp_server_add_peers(&t.a, spec, err, sizeof err), 0);
    snprintf(spec, sizeof spec, "127.0.0.1 port %d families inet-vpn,inet6-vpn",
             bgp_server_port(&t.a));
    CHECK_EQ_INT(bgp_server_add_peers(&t.b, spec, err, sizeof err), 0);

    CHECK(run_until(base, both_established, &t, 10));
    struct bgp_peer *pa = t.a.peers[0], *pb = t.b.peers[0];
    /* Both connected at once; each side ends with one connection, the same TCP session. */
    CHECK(pa->est && !(pa->in && pa->out));
    CHECK(pb->est && !(pb->in && pb->out));
    CHECK((pa->est == pa->in) == (pb->est == pb->out));
    CHECK_EQ_INT(pa->families, 1u << BGP_FAM_INET_VPN);   /* the intersection */
    CHECK_EQ_INT(pb->families, 1u << BGP_FAM_INET_VPN);
    CHECK(pa->codec.ibgp && pa->codec.as4);
    CHECK_EQ_INT(pa->remote.bgp_id, 0x0a000002);

    /* A route originated by A reaches B's table; its withdrawal too. */
    char line[] = "inet-vpn 64512:7:198.51.100.0/24 label 42 nexthop 198.51.100.1 "
                  "target 64512:7";
    struct bgp_attrs attrs;
    CHECK_EQ_INT(bgp_server_parse_route(line, &route_a, &attrs, err, sizeof err), 0);
    struct bgp_table *ta = t.ma.master->tables[BGP_FAM_INET_VPN];
    bgp_table_update(ta, &t.a.file_src, NULL, &route_a, &attrs, 0);
    CHECK(run_until(base, b_has_route, &t, 5));
    struct bgp_route *r = bgp_table_find(t.mb.master->tables[BGP_FAM_INET_VPN], &route_a.p);
    CHECK(r && r->best && r->best->attrs->n_ext_communities == 1);
    CHECK(r && r->best && (r->best->attrs->present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)));
    bgp_table_withdraw(ta, &t.a.file_src, NULL, &route_a.p);
    CHECK(run_until(base, b_lost_route, &t, 5));
    bgp_attrs_clear(&attrs);

    bgp_server_close(&t.a);
    bgp_server_close(&t.b);
    bgp_ri_mgr_destroy(&t.ma);
    bgp_ri_mgr_destroy(&t.mb);
    event_base_free(base);
}

/* --- Collision against a scripted speaker ------------------------------------------------ */

struct sock_wait {
    int fd;
    uint8_t buf[4096];
    size_t len;
};

/* Whether a whole message is buffered (reads what is there without blocking). */
static bool
have_msg(void *aux)
{
    struct sock_wait *w = aux;
    ssize_t n = recv(w->fd, w->buf + w->len, sizeof w->buf - w->len, MSG_DONTWAIT);
    if (n > 0) {
        w->len += (size_t) n;
    }
    return w->len >= 19 && w->len >= (size_t) (w->buf[16] << 8 | w->buf[17]);
}

/* Next message type from W (0 on timeout, -1 at EOF); the body goes to BODY[0..1]. */
static int
next_msg(struct event_base *base, struct sock_wait *w, uint8_t body[2])
{
    if (!run_until(base, have_msg, w, 5)) {
        return 0;
    }
    size_t len = (size_t) (w->buf[16] << 8 | w->buf[17]);
    int type = w->buf[18];
    if (body && len >= 21) {
        body[0] = w->buf[19];
        body[1] = w->buf[20];
    }
    memmove(w->buf, w->buf + len, w->len - len);
    w->len -= len;
    return type;
}

static bool
accept_ready(void *aux)
{
    int *fds = aux;
    fds[1] = accept(fds[0], NULL, NULL);
    return fds[1] >= 0;
}

/* The remote speaker (id REMOTE_ID) has one connection from our peer (OUT) and opens one to
 * us (IN).  Returns which of its sockets got Cease/collision: 1 for OUT, 2 for IN. */
static int
collide(uint32_t remote_id)
{
    struct event_base *base = event_base_new();
    static struct bgp_server s;
    static struct bgp_ri_mgr m;
    char err[256];
    struct bgp_server_config c = { "127.0.0.1", 0, 64512, 0x0a000005, 90, 1, true };
    bgp_ri_mgr_init(&m, 64512, 0x0a000005);
    CHECK_EQ_INT(bgp_server_open(&s, base, &c, &m, err, sizeof err), 0);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    socklen_t slen = sizeof sin;
    bind(lfd, (struct sockaddr *) &sin, sizeof sin);
    listen(lfd, 4);
    getsockname(lfd, (struct sockaddr *) &sin, &slen);
    char spec[128];
    snprintf(spec, sizeof spec, "127.0.0.1 port %d families inet-vpn", ntohs(sin.sin_port));
    CHECK_EQ_INT(bgp_server_add_peers(&s, spec, err, sizeof err), 0);

    int fds[2] = { lfd, -1 };
    CHECK(run_until(base, accept_ready, fds, 5));
    struct sock_wait out = { .fd = fds[1] }, in = { .fd = socket(AF_INET, SOCK_STREAM, 0) };
    CHECK_EQ_INT(next_msg(base, &out, NULL), BGP_MSG_OPEN);

    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001),
                              .sin_port = htons((uint16_t) bgp_server_port(&s)) };
    CHECK_EQ_INT(connect(in.fd, (struct sockaddr *) &to, sizeof to), 0);
    CHECK_EQ_INT(next_msg(base, &in, NULL), BGP_MSG_OPEN);

    struct bgp_open o = { .asn = 64512, .hold_time = 90, .bgp_id = remote_id, .mp_cap = true,
                          .families = 1u << BGP_FAM_INET_VPN, .as4_cap = true };
    uint8_t msg[BGP_MAX_MSG];
    size_t n = bgp_open_encode(&o, msg);
    CHECK_EQ_INT(send(out.fd, msg, n, 0), (ssize_t) n);
    CHECK_EQ_INT(next_msg(base, &out, NULL), BGP_MSG_KEEPALIVE);   /* OUT in OpenConfirm */
    CHECK_EQ_INT(send(in.fd, msg, n, 0), (ssize_t) n);

    int loser = 0;
    uint8_t body[2] = { 0, 0 };
    int t = next_msg(base, &in, body);
    if (t == BGP_MSG_NOTIFICATION) {
        loser = 2;
    } else if (t == BGP_MSG_KEEPALIVE) {
        CHECK_EQ_INT(next_msg(base, &out, body), BGP_MSG_NOTIFICATION);
        loser = 1;
    }
    CHECK_EQ_INT(body[0], BGP_ERR_CEASE);
    CHECK_EQ_INT(body[1], BGP_CEASE_COLLISION);
    struct bgp_peer *p = s.peers[0];
    CHECK(p->state == BGP_OPENCONFIRM);
    CHECK((loser == 1 && p->in && !p->out) || (loser == 2 && p->out && !p->in));
    close(out.fd);
    close(in.fd);
    close(lfd);
    bgp_server_close(&s);
    bgp_ri_mgr_destroy(&m);
    event_base_free(base);
    return loser;
}

static void
test_collision(void)
{
    /* Remote identifier higher than ours (10.0.0.5): its connection (our IN) survives. */
    CHECK_EQ_INT(collide(0x0a000009), 1);
    /* Lower: ours (OUT) survives. */
    CHECK_EQ_INT(collide(0x0a000002), 2);
}

static void
test_backoff(void)
{
    struct event_base *base = event_base_new();
    static struct bgp_server s;
    static struct bgp_ri_mgr m;
    char err[256];
    struct bgp_server_config c = { "127.0.0.1", 0, 64512, 0x0a000001, 90, 1, true };
    bgp_ri_mgr_init(&m, 64512, 0x0a000001);
    CHECK_EQ_INT(bgp_server_open(&s, base, &c, &m, err, sizeof err), 0);
    /* A port nobody listens on: our own listener's port + nothing there is not certain, so
     * take a port from a socket we bind and close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    socklen_t len = sizeof sin;
    bind(fd, (struct sockaddr *) &sin, sizeof sin);
    getsockname(fd, (struct sockaddr *) &sin, &len);
    close(fd);
    char spec[128];
    snprintf(spec, sizeof spec, "127.0.0.1 port %d", ntohs(sin.sin_port));
    CHECK_EQ_INT(bgp_server_add_peers(&s, spec, err, sizeof err), 0);
    run_until(base, NULL, NULL, 2.5);
    struct bgp_peer *p = s.peers[0];
    CHECK(p->state == BGP_ACTIVE || p->state == BGP_CONNECT);
    CHECK_EQ_INT(p->retry_attempts, 2);
    /* The next attempt waits 2 s (4 s minus up to 10% jitter minus what has passed). */
    struct timeval when;
    CHECK(event_pending(p->retry_timer, EV_TIMEOUT, &when));
    struct timeval cur;
    event_base_gettimeofday_cached(base, &cur);
    double left = (double) (when.tv_sec - cur.tv_sec) + (when.tv_usec - cur.tv_usec) / 1e6;
    CHECK(left > 0.5 && left <= 4.0);

    /* Configuration errors name the problem. */
    struct bgp_peer_config pc;
    CHECK_EQ_INT(bgp_server_parse_peer(&s, "198.51.100.1 as x", &pc, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "bad as");
    CHECK_EQ_INT(bgp_server_parse_peer(&s, "198.51.100.1 families inet,bogus", &pc, err,
                                       sizeof err), EINVAL);
    CHECK_CONTAINS(err, "bogus");
    CHECK_EQ_INT(bgp_server_parse_peer(&s, "not-an-address", &pc, err, sizeof err), EINVAL);
    CHECK_EQ_INT(bgp_server_add_peers(&s, spec, err, sizeof err), EEXIST);
    bgp_server_close(&s);
    bgp_ri_mgr_destroy(&m);
    event_base_free(base);
}

static void
test_route_lines(void)
{
    struct bgp_nlri n;
    struct bgp_attrs a;
    char err[256], pfx[BGP_PREFIX_STRLEN];
    CHECK_EQ_INT(bgp_server_parse_route("e-vpn type 2 rd 64512:5 mac 00:11:22:33:44:55 "
                                        "label 7 encap vxlan", &n, &a, err, sizeof err), 0);
    CHECK_STREQ(bgp_prefix_format(&n.p, pfx, sizeof pfx), "2-64512:5-0-00:11:22:33:44:55,0.0.0.0");
    CHECK(bgp_attrs_vxlan(&a));
    bgp_attrs_clear(&a);
    CHECK_EQ_INT(bgp_server_parse_route("route-target 64512 target:64512:8000001", &n, &a, err,
                                        sizeof err), 0);
    CHECK_STREQ(bgp_prefix_format(&n.p, pfx, sizeof pfx), "64512:target:64512:8000001/96");
    bgp_attrs_clear(&a);
    CHECK_EQ_INT(bgp_server_parse_route("inet-vpn 64512:1:10.0.0.0/8", &n, &a, err, sizeof err),
                 EINVAL);
    CHECK_CONTAINS(err, "label");
    CHECK_EQ_INT(bgp_server_parse_route("inet 10.0.0.1/8", &n, &a, err, sizeof err), EINVAL);
    CHECK_EQ_INT(bgp_server_parse_route("inet 10.0.0.0/8 med x", &n, &a, err, sizeof err),
                 EINVAL);
    CHECK_CONTAINS(err, "med");
    CHECK_EQ_INT(bgp_server_parse_route("mpls 1", &n, &a, err, sizeof err), EINVAL);
    CHECK_EQ_INT(bgp_server_parse_route("e-vpn type 3 rd 1:1", &n, &a, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "'ip'");
}

int
main(void)
{
    if (getenv("TEST_VERBOSE")) {
        log_set_level(NULL, LOG_LEVEL_DEBUG);
    }
    test_route_lines();
    test_collision_and_exchange();
    test_collision();
    test_backoff();
    return check_finish();
}
