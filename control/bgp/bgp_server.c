/* bgp_server: listener, peers, tables and export.  See bgp_server.h. */
#include "bgp_server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(bgp_server);

static MEM_TYPE(mem_bgp_local_route, "bgp_local_route");

/* --- Export ------------------------------------------------------------------------------ */

/* Whether PATH may go to PEER. */
static bool
export_allowed(const struct bgp_peer *peer, const struct bgp_path *path)
{
    if (path->src == &peer->src) {
        return false;           /* Never back to where it came from. */
    }
    if (!path->src->local && !path->src->ebgp && peer->codec.ibgp) {
        return false;           /* iBGP-learned paths are not reflected to iBGP peers. */
    }
    if (!peer->codec.ibgp && bgp_attrs_as_path_contains(&path->attrs, peer->remote.asn)) {
        return false;           /* The peer would drop it as a loop. */
    }
    for (size_t i = 0; i < path->attrs.n_communities; i++) {
        uint32_t c = path->attrs.communities[i];
        if (c == 0xffffff02 || (c == 0xffffff01 && !peer->codec.ibgp)) {
            return false;       /* NO_ADVERTISE; NO_EXPORT towards another AS. */
        }
    }
    return true;
}

/* Advertises or withdraws ROUTE towards PEER as its best path says. */
static void
export_route(struct bgp_server *s, struct bgp_peer *peer, struct bgp_route *r)
{
    enum bgp_family f = r->p.family;
    if (!peer->est || !(peer->families & (1u << f)) || peer->index < 0) {
        return;
    }
    uint64_t bit = UINT64_C(1) << peer->index;
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    struct bgp_nlri n = { .p = r->p };
    if (r->best && export_allowed(peer, r->best)) {
        const struct bgp_path *best = r->best;
        struct bgp_attrs a;
        bgp_attrs_copy(&a, &best->attrs);
        a.present |= BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
        if (!peer->codec.ibgp) {
            bgp_attrs_prepend_as(&a, s->local.asn);
            a.present &= ~(BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)
                           | BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID));
        }
        if (a.nexthop.family == 0) {
            a.nexthop.family = 4;   /* Next hop self when the path has none. */
            uint32_t id = htonl(s->local.router_id);
            memcpy(a.nexthop.addr, &id, 4);
        }
        n.label = best->label;
        n.label2 = best->label2;
        n.has_label2 = best->has_label2;
        size_t len = bgp_update_encode_reach(&peer->codec, f, &a, &n, 1, buf, &done);
        bgp_attrs_clear(&a);
        if (done == 1 && !bgp_peer_send(peer, buf, len)) {
            r->advertised |= bit;
            s->n_updates_sent++;
        }
        return;
    }
    if (r->advertised & bit) {
        size_t len = bgp_update_encode_unreach(f, &n, 1, buf, &done);
        bgp_peer_send(peer, buf, len);
        r->advertised &= ~bit;
        s->n_updates_sent++;
    }
}

static void
rib_changed(struct bgp_rib *rib, struct bgp_route *r, void *aux)
{
    struct bgp_server *s = aux;
    for (int i = 0; i < s->n_peers; i++) {
        export_route(s, s->peers[i], r);
    }
}

/* Sends every route of FAMILY to PEER, then End-of-RIB. */
static void
dump_table(struct bgp_server *s, struct bgp_peer *peer, enum bgp_family f)
{
    struct bgp_route *r;
    BGP_TABLE_FOR_EACH (r, &s->rib.tables[f]) {
        export_route(s, peer, r);
    }
    uint8_t buf[BGP_MAX_MSG];
    bgp_peer_send(peer, buf, bgp_update_encode_eor(f, buf));
}

static void
peer_established(struct bgp_peer *peer, void *aux)
{
    struct bgp_server *s = aux;
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (peer->families & (1u << f)) {
            dump_table(s, peer, f);
        }
    }
}

static void
peer_down(struct bgp_peer *peer, void *aux)
{
    struct bgp_server *s = aux;
    /* Nothing is advertised to it any more; its paths go (no graceful restart helper yet). */
    uint64_t bit = UINT64_C(1) << peer->index;
    for (int f = 0; f < BGP_FAM_N; f++) {
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, &s->rib.tables[f]) {
            r->advertised &= ~bit;
        }
    }
    size_t n = bgp_rib_withdraw_source(&s->rib, &peer->src, (1u << BGP_FAM_N) - 1);
    LOG_INFO("peer %s down: %zu paths removed", peer->cfg.name, n);
}

static void
peer_update(struct bgp_peer *peer, const struct bgp_update *u, void *aux)
{
    struct bgp_server *s = aux;
    for (size_t i = 0; i < u->n_unreach; i++) {
        bgp_rib_withdraw(&s->rib, &peer->src, &u->unreach[i].p);
    }
    bool drop = u->treat_as_withdraw
        || bgp_attrs_as_path_contains(&u->attrs, s->local.asn)
        || ((u->attrs.present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))
            && u->attrs.originator_id == s->local.router_id);
    for (size_t i = 0; i < u->n_reach; i++) {
        const struct bgp_nlri *n = &u->reach[i];
        if (!(peer->families & (1u << n->p.family))) {
            continue;           /* A family that was not negotiated: ignored. */
        }
        if (drop) {
            bgp_rib_withdraw(&s->rib, &peer->src, &n->p);
        } else {
            bgp_rib_update(&s->rib, &peer->src, n, &u->attrs);
        }
    }
}

static void
peer_route_refresh(struct bgp_peer *peer, enum bgp_family f, void *aux)
{
    struct bgp_server *s = aux;
    uint64_t bit = UINT64_C(1) << peer->index;
    struct bgp_route *r;
    BGP_TABLE_FOR_EACH (r, &s->rib.tables[f]) {
        r->advertised &= ~bit;
    }
    dump_table(s, peer, f);
}

static const struct bgp_peer_hooks server_hooks = {
    .established = peer_established,
    .down = peer_down,
    .update = peer_update,
    .route_refresh = peer_route_refresh,
};

/* --- Listener and peers ------------------------------------------------------------------ */

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr *b)
{
    if (a->ss_family != b->sa_family) {
        return false;
    }
    if (a->ss_family == AF_INET) {
        return ((const struct sockaddr_in *) a)->sin_addr.s_addr
            == ((const struct sockaddr_in *) (const void *) b)->sin_addr.s_addr;
    }
    return !memcmp(&((const struct sockaddr_in6 *) a)->sin6_addr,
                   &((const struct sockaddr_in6 *) (const void *) b)->sin6_addr, 16);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int socklen,
          void *aux)
{
    struct bgp_server *s = aux;
    for (int i = 0; i < s->n_peers; i++) {
        if (same_addr(&s->peers[i]->cfg.addr, sa)) {
            bgp_peer_accept(s->peers[i], fd);
            return;
        }
    }
    s->n_rejected_connections++;
    char host[INET6_ADDRSTRLEN] = "?";
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) sa)->sin_addr, host, sizeof host);
    }
    LOG_WARN("connection from unknown peer %s refused", host);
    close(fd);
}

int
bgp_server_open(struct bgp_server *s, struct event_base *base,
                const struct bgp_server_config *cfg, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    s->local.base = base;
    s->local.asn = cfg->asn;
    s->local.router_id = cfg->router_id;
    s->local_src.name = "local";
    s->local_src.local = true;
    s->local_src.router_id = cfg->router_id;
    bgp_rib_init(&s->rib, rib_changed, s);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
    socklen_t len;
    if (inet_pton(AF_INET, cfg->address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) cfg->port);
        len = sizeof *sin;
    } else if (inet_pton(AF_INET6, cfg->address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) cfg->port);
        len = sizeof *sin6;
    } else {
        snprintf(err, errlen, "bad BGP listen address '%s'", cfg->address);
        return EINVAL;
    }
    s->listener = evconnlistener_new_bind(base, accept_cb, s,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE
                                          | LEV_OPT_CLOSE_ON_EXEC, 16,
                                          (struct sockaddr *) &ss, (int) len);
    if (!s->listener) {
        int e = errno ? errno : EADDRINUSE;
        snprintf(err, errlen, "cannot listen for BGP on %s port %d: %s", cfg->address,
                 cfg->port, strerror(e));
        return e;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *) &bound, &blen);
    s->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *) &bound)->sin_port
                                               : ((struct sockaddr_in6 *) &bound)->sin6_port);
    LOG_NOTICE("BGP listening on %s port %d (AS %u)", cfg->address, s->port, cfg->asn);
    return 0;
}

int
bgp_server_port(const struct bgp_server *s)
{
    return s->port;
}

void
bgp_server_close(struct bgp_server *s)
{
    /* The tables go first so that a peer's going down does not walk them. */
    bgp_rib_destroy(&s->rib);
    bgp_rib_init(&s->rib, NULL, NULL);
    for (int i = 0; i < s->n_peers; i++) {
        bgp_peer_destroy(s->peers[i]);
    }
    s->n_peers = 0;
    bgp_rib_destroy(&s->rib);
    if (s->listener) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
    }
}

static bool
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || !isdigit((unsigned char) *s)) {
        return false;
    }
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > max) {
        return false;
    }
    *out = v;
    return true;
}

static bool
parse_sockaddr(const char *text, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *) ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
    if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        return true;
    }
    if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        return true;
    }
    return false;
}

/* Splits TEXT (modified) into at most MAX whitespace-separated words. */
static int
split_words(char *text, char **words, int max)
{
    int n = 0;
    for (char *save, *w = strtok_r(text, " \t\r\n", &save); w && n < max;
         w = strtok_r(NULL, " \t\r\n", &save)) {
        words[n++] = w;
    }
    return n;
}

int
bgp_server_parse_peer(const struct bgp_server *s, const char *text, struct bgp_peer_config *pc,
                      char *err, size_t errlen)
{
    memset(pc, 0, sizeof *pc);
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    char *w[64];
    int n = split_words(buf, w, 64);
    if (n == 0) {
        snprintf(err, errlen, "empty peer specification");
        return EINVAL;
    }
    unsigned long port = 179, asn = s->local.asn, hold = s->cfg.hold_time;
    unsigned long retry = (unsigned long) s->cfg.connect_retry;
    pc->families = 1u << BGP_FAM_INET | 1u << BGP_FAM_INET_VPN;
    snprintf(pc->name, sizeof pc->name, "%s", w[0]);
    for (int i = 1; i < n; i++) {
        const char *k = w[i], *v = i + 1 < n ? w[i + 1] : NULL;
        bool ok = true;
        if (!strcmp(k, "passive")) {
            pc->passive = true;
            continue;
        }
        if (!v) {
            snprintf(err, errlen, "peer %s: '%s' needs a value", w[0], k);
            return EINVAL;
        }
        i++;
        if (!strcmp(k, "port")) {
            ok = parse_uint(v, 65535, &port) && port > 0;
        } else if (!strcmp(k, "as")) {
            ok = parse_uint(v, 0xffffffffUL, &asn) && asn > 0;
        } else if (!strcmp(k, "hold")) {
            ok = parse_uint(v, 65535, &hold) && hold != 1 && hold != 2;
        } else if (!strcmp(k, "connect-retry")) {
            ok = parse_uint(v, 3600, &retry) && retry > 0;
        } else if (!strcmp(k, "password")) {
            ok = strlen(v) < sizeof pc->password;
            if (ok) {
                memcpy(pc->password, v, strlen(v) + 1);
            }
        } else if (!strcmp(k, "name")) {
            snprintf(pc->name, sizeof pc->name, "%s", v);
        } else if (!strcmp(k, "source")) {
            ok = parse_sockaddr(v, 0, &pc->local);
        } else if (!strcmp(k, "families")) {
            pc->families = 0;
            char fb[256];
            snprintf(fb, sizeof fb, "%s", v);
            for (char *save, *f = strtok_r(fb, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
                int fam = bgp_family_from_name(f);
                if (fam < 0) {
                    snprintf(err, errlen, "peer %s: unknown family '%s'", w[0], f);
                    return EINVAL;
                }
                pc->families |= 1u << fam;
            }
            ok = pc->families != 0;
        } else {
            snprintf(err, errlen, "peer %s: unknown keyword '%s'", w[0], k);
            return EINVAL;
        }
        if (!ok) {
            snprintf(err, errlen, "peer %s: bad %s '%s'", w[0], k, v);
            return EINVAL;
        }
    }
    if (!parse_sockaddr(w[0], (int) port, &pc->addr)) {
        snprintf(err, errlen, "peer: bad address '%s'", w[0]);
        return EINVAL;
    }
    if (!pc->local.ss_family && s->cfg.address) {
        parse_sockaddr(s->cfg.address, 0, &pc->local);
    }
    pc->peer_as = (uint32_t) asn;
    pc->hold_time = (uint16_t) hold;
    pc->connect_retry = (int) retry;
    return 0;
}

int
bgp_server_add_peer(struct bgp_server *s, const struct bgp_peer_config *pc, char *err,
                    size_t errlen)
{
    for (int i = 0; i < s->n_peers; i++) {
        if (same_addr(&s->peers[i]->cfg.addr, (const struct sockaddr *) &pc->addr)) {
            snprintf(err, errlen, "peer %s configured twice", pc->name);
            return EEXIST;
        }
    }
    if (s->n_peers >= BGP_SERVER_MAX_PEERS) {
        snprintf(err, errlen, "too many peers (at most %d)", BGP_SERVER_MAX_PEERS);
        return ENOSPC;
    }
    if (pc->password[0] && s->listener) {
        int rc = bgp_md5_set(evconnlistener_get_fd(s->listener), &pc->addr, pc->password);
        if (rc) {
            snprintf(err, errlen, "peer %s: TCP MD5 on the listener: %s", pc->name,
                     strerror(rc));
            return rc;
        }
    }
    struct bgp_peer *peer = bgp_peer_create(&s->local, pc, &server_hooks, s);
    peer->index = s->n_peers;
    s->peers[s->n_peers++] = peer;
    bgp_peer_start(peer);
    return 0;
}

int
bgp_server_add_peers(struct bgp_server *s, const char *list, char *err, size_t errlen)
{
    char *copy = xstrdup(list);
    int rc = 0;
    for (char *save, *spec = strtok_r(copy, ";", &save); spec && !rc;
         spec = strtok_r(NULL, ";", &save)) {
        struct bgp_peer_config pc;
        char *p = spec;
        while (isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            continue;
        }
        rc = bgp_server_parse_peer(s, p, &pc, err, errlen);
        if (!rc) {
            rc = bgp_server_add_peer(s, &pc, err, errlen);
        }
    }
    xfree(copy);
    return rc;
}

/* --- Local routes ------------------------------------------------------------------------ */

static bool
parse_prefix(const char *text, enum bgp_family f, struct bgp_prefix *p)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", text);
    char *slash = strchr(buf, '/');
    if (!slash) {
        return false;
    }
    *slash = '\0';
    bool v6 = f == BGP_FAM_INET6 || f == BGP_FAM_INET6_VPN;
    unsigned long plen;
    if (!parse_uint(slash + 1, v6 ? 128 : 32, &plen)
        || inet_pton(v6 ? AF_INET6 : AF_INET, buf, p->addr) != 1) {
        return false;
    }
    p->plen = (uint8_t) plen;
    for (unsigned int bit = (unsigned int) plen; bit < (v6 ? 128u : 32u); bit++) {
        if (p->addr[bit / 8] & (0x80 >> (bit % 8))) {
            return false;       /* Host bits set. */
        }
    }
    return true;
}

/* "RD:PREFIX": the RD is everything up to the colon before the address. */
static bool
parse_vpn_prefix(const char *text, enum bgp_family f, struct bgp_prefix *p)
{
    /* The RD has exactly one colon: split after its second field. */
    const char *c1 = strchr(text, ':');
    if (!c1) {
        return false;
    }
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2) {
        return false;
    }
    char rd[64];
    size_t n = (size_t) (c2 - text);
    if (n >= sizeof rd) {
        return false;
    }
    memcpy(rd, text, n);
    rd[n] = '\0';
    return bgp_rd_parse(rd, p->rd) && parse_prefix(c2 + 1, f, p);
}

static bool
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char extra;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
               &extra) != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        if (b[i] > 255) {
            return false;
        }
        mac[i] = (uint8_t) b[i];
    }
    return true;
}

int
bgp_server_parse_route(const char *line, struct bgp_nlri *n, struct bgp_attrs *a, char *err,
                       size_t errlen)
{
    memset(n, 0, sizeof *n);
    memset(a, 0, sizeof *a);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", line);
    char *w[128];
    int nw = split_words(buf, w, 128);
    if (nw < 2) {
        snprintf(err, errlen, "a route needs a family and a prefix");
        return EINVAL;
    }
    int f = bgp_family_from_name(w[0]);
    if (f < 0) {
        snprintf(err, errlen, "unknown family '%s'", w[0]);
        return EINVAL;
    }
    n->p.family = (uint8_t) f;
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
    int i = 1;
    switch (f) {
    case BGP_FAM_INET:
    case BGP_FAM_INET6:
        if (!parse_prefix(w[i], f, &n->p)) {
            snprintf(err, errlen, "bad prefix '%s'", w[i]);
            return EINVAL;
        }
        i++;
        break;
    case BGP_FAM_INET_VPN:
    case BGP_FAM_INET6_VPN:
        if (!parse_vpn_prefix(w[i], f, &n->p)) {
            snprintf(err, errlen, "bad RD:prefix '%s'", w[i]);
            return EINVAL;
        }
        i++;
        break;
    case BGP_FAM_RTARGET:
        if (!strcmp(w[i], "default")) {
            i++;
            break;
        } else {
            unsigned long as;
            uint64_t rt;
            if (i + 1 >= nw || !parse_uint(w[i], 0xffffffffUL, &as)
                || !bgp_ext_community_parse(w[i + 1], &rt) || (rt >> 48) % 256 != 2) {
                snprintf(err, errlen, "route-target needs ORIGIN_AS target:X:Y");
                return EINVAL;
            }
            n->p.origin_as = (uint32_t) as;
            n->p.plen = 64;
            for (int k = 0; k < 8; k++) {
                n->p.rt[k] = (uint8_t) (rt >> (56 - 8 * k));
            }
            i += 2;
        }
        break;
    case BGP_FAM_EVPN:
        break;                  /* Everything is keyword-value. */
    }
    bool have_rd = false, have_label = false;
    for (; i < nw; i++) {
        const char *k = w[i], *v = i + 1 < nw ? w[i + 1] : NULL;
        if (!v) {
            snprintf(err, errlen, "'%s' needs a value", k);
            return EINVAL;
        }
        i++;
        unsigned long x;
        bool ok = true;
        if (!strcmp(k, "nexthop")) {
            if (inet_pton(AF_INET, v, a->nexthop.addr) == 1) {
                a->nexthop.family = 4;
            } else if (inet_pton(AF_INET6, v, a->nexthop.addr) == 1) {
                a->nexthop.family = 6;
            } else {
                ok = false;
            }
        } else if (!strcmp(k, "label")) {
            ok = parse_uint(v, 0xfffff, &x);
            n->label = (uint32_t) x;
            have_label = ok;
        } else if (!strcmp(k, "label2") && f == BGP_FAM_EVPN) {
            ok = parse_uint(v, 0xfffff, &x);
            n->label2 = (uint32_t) x;
            n->has_label2 = true;
        } else if (!strcmp(k, "target") || !strcmp(k, "encap")) {
            char t[96];
            snprintf(t, sizeof t, "%s:%s", !strcmp(k, "target") ? "target" : "encapsulation",
                     v);
            uint64_t ec;
            ok = bgp_ext_community_parse(t, &ec);
            if (ok) {
                bgp_attrs_add_ext_community(a, ec);
            }
        } else if (!strcmp(k, "local-pref")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            a->local_pref = (uint32_t) x;
            a->present |= BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF);
        } else if (!strcmp(k, "med")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            a->med = (uint32_t) x;
            a->present |= BGP_ATTR_BIT(BGP_ATTR_MED);
        } else if (!strcmp(k, "origin")) {
            ok = !strcmp(v, "igp") || !strcmp(v, "egp") || !strcmp(v, "incomplete");
            a->origin = !strcmp(v, "igp") ? 0 : !strcmp(v, "egp") ? 1 : 2;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "type")) {
            ok = parse_uint(v, 3, &x) && x >= 2;
            n->p.evpn_type = (uint8_t) x;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "rd")) {
            ok = bgp_rd_parse(v, n->p.rd);
            have_rd = ok;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "mac")) {
            ok = parse_mac(v, n->p.mac);
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "etag")) {
            ok = parse_uint(v, 0xffffffffUL, &x);
            n->p.etag = (uint32_t) x;
        } else if (f == BGP_FAM_EVPN && !strcmp(k, "ip")) {
            if (inet_pton(AF_INET, v, n->p.addr) == 1) {
                n->p.ip_len = 32;
            } else if (inet_pton(AF_INET6, v, n->p.addr) == 1) {
                n->p.ip_len = 128;
            } else {
                ok = false;
            }
        } else {
            snprintf(err, errlen, "unknown keyword '%s'", k);
            bgp_attrs_clear(a);
            return EINVAL;
        }
        if (!ok) {
            snprintf(err, errlen, "bad %s '%s'", k, v);
            bgp_attrs_clear(a);
            return EINVAL;
        }
    }
    const char *missing = NULL;
    if ((f == BGP_FAM_INET_VPN || f == BGP_FAM_INET6_VPN) && !have_label) {
        missing = "label";
    } else if (f == BGP_FAM_EVPN && !n->p.evpn_type) {
        missing = "type";
    } else if (f == BGP_FAM_EVPN && !have_rd) {
        missing = "rd";
    } else if (f == BGP_FAM_EVPN && n->p.evpn_type == 3 && !n->p.ip_len) {
        missing = "ip";
    } else if (f == BGP_FAM_EVPN && n->p.evpn_type == 2 && !have_label) {
        missing = "label";
    }
    if (missing) {
        snprintf(err, errlen, "%s route needs '%s'", w[0], missing);
        bgp_attrs_clear(a);
        return EINVAL;
    }
    return 0;
}

struct local_route {
    struct bgp_nlri n;
    struct bgp_attrs a;
};

int
bgp_server_load_routes(struct bgp_server *s, const char *path, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        int e = errno;
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e;
    }
    struct local_route *v = NULL;
    size_t n = 0, cap = 0;
    char line[1024];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *p = line;
        while (isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            v = mem_realloc(&mem_bgp_local_route, v, cap * sizeof *v);
        }
        char e[256];
        if (bgp_server_parse_route(p, &v[n].n, &v[n].a, e, sizeof e)) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
            rc = EINVAL;
            break;
        }
        n++;
    }
    fclose(fp);
    if (!rc) {
        /* Withdraw local paths no longer listed, then add or change the listed ones. */
        for (int f = 0; f < BGP_FAM_N; f++) {
            struct bgp_route *r;
            HMAP_FOR_EACH_SAFE (r, node, &s->rib.tables[f].routes) {
                bool has_local = false;
                for (struct bgp_path *pp = r->paths; pp; pp = pp->next) {
                    has_local |= pp->src == &s->local_src;
                }
                if (!has_local) {
                    continue;
                }
                bool listed = false;
                for (size_t i = 0; i < n && !listed; i++) {
                    listed = !memcmp(&v[i].n.p, &r->p, sizeof r->p);
                }
                if (!listed) {
                    bgp_rib_withdraw(&s->rib, &s->local_src, &r->p);
                }
            }
        }
        for (size_t i = 0; i < n; i++) {
            bgp_rib_update(&s->rib, &s->local_src, &v[i].n, &v[i].a);
        }
        s->n_local_routes = n;
        LOG_NOTICE("%zu local routes loaded from %s", n, path);
    }
    for (size_t i = 0; i < n; i++) {
        bgp_attrs_clear(&v[i].a);
    }
    mem_free(&mem_bgp_local_route, v);
    return rc;
}

/* --- Introspect -------------------------------------------------------------------------- */

static json_t *
families_json(uint32_t mask)
{
    json_t *a = json_array();
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (mask & (1u << f)) {
            json_array_append_new(a, json_string(bgp_family_name(f)));
        }
    }
    return a;
}

static json_t *
counters_json(const uint64_t *c)
{
    return xjson_pack("{sIsIsIsIsI}", "open", (json_int_t) c[1], "update", (json_int_t) c[2],
                      "notification", (json_int_t) c[3], "keepalive", (json_int_t) c[4],
                      "route_refresh", (json_int_t) c[5]);
}

static json_t *
error_json(bool any, const struct bgp_error *e)
{
    if (!any) {
        return json_null();
    }
    return xjson_pack("{sisiss}", "code", e->code, "subcode", e->subcode, "name",
                      bgp_error_name(e->code));
}

static void
format_sockaddr(const struct sockaddr_storage *ss, char *buf, size_t size)
{
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *) ss)->sin_addr, buf, (socklen_t) size);
    } else if (ss->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) ss)->sin6_addr, buf,
                  (socklen_t) size);
    } else {
        snprintf(buf, size, "-");
    }
}

static json_t *
page_neighbors(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    json_t *list = json_array();
    time_t now = time(NULL);
    for (int i = 0; i < s->n_peers; i++) {
        const struct bgp_peer *p = s->peers[i];
        char addr[INET6_ADDRSTRLEN], id[INET_ADDRSTRLEN];
        format_sockaddr(&p->cfg.addr, addr, sizeof addr);
        uint32_t rid = htonl(p->remote.bgp_id);
        inet_ntop(AF_INET, &rid, id, sizeof id);
        uint64_t n_paths = 0;
        for (int f = 0; f < BGP_FAM_N; f++) {
            struct bgp_route *r;
            BGP_TABLE_FOR_EACH (r, &s->rib.tables[f]) {
                for (struct bgp_path *pp = r->paths; pp; pp = pp->next) {
                    n_paths += pp->src == &p->src;
                }
            }
        }
        bool up = p->state == BGP_ESTABLISHED;
        json_array_append_new(list, xjson_pack(
            "{sssssisIsIsssbsbsIsIsosososososososssIsIsIsbsbsb}",
            "peer", p->cfg.name, "peer_address", addr,
            "peer_port", ntohs(((const struct sockaddr_in *) &p->cfg.addr)->sin_port),
            "peer_asn", (json_int_t) p->cfg.peer_as,
            "local_asn", (json_int_t) s->local.asn,
            "state", bgp_state_name(p->state),
            "passive", p->cfg.passive,
            "auth", p->cfg.password[0] != '\0',
            "uptime", (json_int_t) (up ? now - p->established_at : 0),
            "flap_count", (json_int_t) p->flaps,
            "configured_families", families_json(p->cfg.families),
            "peer_families", up ? families_json(p->remote.families) : json_array(),
            "negotiated_families", up ? families_json(p->families) : json_array(),
            "rx", counters_json(p->msgs[BGP_STAT_RX]),
            "tx", counters_json(p->msgs[BGP_STAT_TX]),
            "last_notification_sent", error_json(p->sent_any, &p->last_sent),
            "last_notification_received", error_json(p->received_any, &p->last_received),
            "last_event", p->last_reason,
            "hold_time", (json_int_t) (up ? p->hold_time : p->cfg.hold_time),
            "paths", (json_int_t) n_paths,
            "treat_as_withdraw", (json_int_t) p->updates_withdrawn_7606,
            "as4", up && p->remote.as4_cap,
            "route_refresh", up && p->remote.route_refresh,
            "graceful_restart", up && p->remote.gr_cap));
        json_t *last = json_array_get(list, json_array_size(list) - 1);
        json_object_set_new(last, "peer_id", json_string(up ? id : ""));
        json_object_set_new(last, "attrs_discarded", json_integer((json_int_t) p->attrs_discarded));
    }
    return xjson_pack("{so}", "neighbors", list);
}

static json_t *
path_json(const struct bgp_route *r, const struct bgp_path *p)
{
    char nh[INET6_ADDRSTRLEN] = "";
    if (p->attrs.nexthop.family) {
        inet_ntop(p->attrs.nexthop.family == 4 ? AF_INET : AF_INET6, p->attrs.nexthop.addr, nh,
                  sizeof nh);
    }
    json_t *aspath = json_array();
    for (size_t i = 0; i < p->attrs.as_path_n; ) {
        unsigned int count = p->attrs.as_path[i] & 0xff;
        bool set = (p->attrs.as_path[i] >> 8) == BGP_AS_SET;
        json_t *seg = set ? json_array() : aspath;
        for (unsigned int j = 1; j <= count; j++) {
            json_array_append_new(seg, json_integer(p->attrs.as_path[i + j]));
        }
        if (set) {
            json_array_append_new(aspath, seg);
        }
        i += 1 + count;
    }
    json_t *ecs = json_array(), *cs = json_array();
    char t[64];
    for (size_t i = 0; i < p->attrs.n_ext_communities; i++) {
        json_array_append_new(ecs, json_string(bgp_ext_community_format(
                                  p->attrs.ext_communities[i], t, sizeof t)));
    }
    for (size_t i = 0; i < p->attrs.n_communities; i++) {
        json_array_append_new(cs, json_string(bgp_community_format(p->attrs.communities[i], t,
                                                                   sizeof t)));
    }
    static const char *origins[] = { "igp", "egp", "incomplete" };
    json_t *j = xjson_pack("{sssbsssIsosssIsososI}",
                           "source", p->src->name, "best", p == r->best, "next_hop", nh,
                           "label", (json_int_t) p->label, "as_path", aspath,
                           "origin", origins[p->attrs.origin % 3],
                           "local_pref", (json_int_t) ((p->attrs.present
                                                        & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF))
                                                       ? p->attrs.local_pref : 100),
                           "ext_communities", ecs, "communities", cs,
                           "age", (json_int_t) (time(NULL) - p->since));
    if (p->attrs.present & BGP_ATTR_BIT(BGP_ATTR_MED)) {
        json_object_set_new(j, "med", json_integer(p->attrs.med));
    }
    if (p->has_label2) {
        json_object_set_new(j, "label2", json_integer(p->label2));
    }
    return j;
}

static json_t *
page_routes(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    const char *want = http_req_query(req, "table");
    json_t *tables = json_array();
    for (int f = 0; f < BGP_FAM_N; f++) {
        const struct bgp_table *t = &s->rib.tables[f];
        if (want && strcmp(want, bgp_family_table(f)) && strcmp(want, bgp_family_name(f))) {
            continue;
        }
        json_t *routes = json_array();
        struct bgp_route *r;
        BGP_TABLE_FOR_EACH (r, t) {
            char pfx[BGP_PREFIX_STRLEN];
            json_t *paths = json_array();
            for (const struct bgp_path *p = r->paths; p; p = p->next) {
                json_array_append_new(paths, path_json(r, p));
            }
            json_array_append_new(routes, xjson_pack("{ssso}", "prefix",
                                                     bgp_prefix_format(&r->p, pfx, sizeof pfx),
                                                     "paths", paths));
        }
        json_array_append_new(tables, xjson_pack("{sssssIsIso}", "name", bgp_family_table(f),
                                                 "family", bgp_family_name(f),
                                                 "prefixes", (json_int_t) hmap_count(&t->routes),
                                                 "paths", (json_int_t) t->n_paths,
                                                 "routes", routes));
    }
    return xjson_pack("{so}", "tables", tables);
}

static json_t *
page_summary(struct http_req *req, void *aux)
{
    struct bgp_server *s = aux;
    json_t *tables = json_array();
    for (int f = 0; f < BGP_FAM_N; f++) {
        const struct bgp_table *t = &s->rib.tables[f];
        json_array_append_new(tables, xjson_pack("{sssIsI}", "name", bgp_family_table(f),
                                                 "prefixes", (json_int_t) hmap_count(&t->routes),
                                                 "paths", (json_int_t) t->n_paths));
    }
    int up = 0;
    for (int i = 0; i < s->n_peers; i++) {
        up += s->peers[i]->state == BGP_ESTABLISHED;
    }
    return xjson_pack("{sIsisisisIsIso}", "asn", (json_int_t) s->local.asn, "bgp_port", s->port,
                      "neighbors", s->n_peers, "neighbors_up", up,
                      "local_routes", (json_int_t) s->n_local_routes,
                      "updates_sent", (json_int_t) s->n_updates_sent,
                      "tables", tables);
}

void
bgp_server_register_introspect(struct bgp_server *s, struct introspect *is)
{
    introspect_add_page(is, "/Snh_BgpNeighborReq", "BGP neighbors", page_neighbors, s);
    introspect_add_page(is, "/Snh_ShowRouteReq", "BGP route tables (?table=NAME)", page_routes,
                        s);
    introspect_add_page(is, "/Snh_ShowRouteSummaryReq", "BGP route table summary",
                        page_summary, s);
    introspect_add_counter(is, "bgp_updates_sent", "BGP UPDATE messages sent",
                           &s->n_updates_sent);
    introspect_add_counter(is, "bgp_rejected_connections",
                           "TCP connections from unconfigured peers",
                           &s->n_rejected_connections);
}
