/* xmpp_test_server: a tiny XMPP route reflector built on control/xmpp, for the system tests of
 * the agent simulator until contrail-control has its XMPP side.  Test scaffolding only.
 *
 * It behaves like the control node as far as an agent can see: subscribe dumps the
 * instance's routes then End-of-RIB (nothing with no-ribout); a publish is reflected to every
 * agent subscribed to the instance (the publisher included), several agents publishing one
 * prefix give one item with all their next hops (ECMP); unsubscribe or a session going down
 * withdraws the agent's routes; a duplicate subscribe, an unsubscribe of an instance not
 * subscribed or a publish to one closes the session; a config subscribe is answered with a
 * config iq naming the node.  Prints {"port": N} on stdout once listening; stops on SIGTERM.
 *
 * usage: xmpp_test_server [--port N] [--hold S] [--subcluster NAME] */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "xmpp_proto.h"
#include "xmpp_session.h"

static MEM_TYPE(mem_ts, "xmpp_test_server");

struct peer {
    struct list node;
    struct xmpp_session *s;
    char name[128];
    struct list subs;           /* struct tsub */
};

struct tsub {
    struct list node;
    char *vrf;
    bool no_ribout;
};

struct path {
    struct peer *owner;
    struct xmpp_route r;
};

/* One key of one table: (vrf, family, key) and the paths agents published for it. */
struct entry {
    struct hmap_node hnode;
    char *vrf;
    enum xmpp_family family;
    char key[XMPP_KEY_MAX];
    struct path *paths;
    size_t n_paths;
};

static struct list peers = LIST_INITIALIZER(&peers);
static struct hmap table;
static const char *subcluster = "";

static uint32_t
entry_hash(const char *vrf, enum xmpp_family f, const char *key)
{
    return hash_string(key, hash_string(vrf, (uint32_t) f));
}

static struct entry *
entry_find(const char *vrf, enum xmpp_family f, const char *key)
{
    struct entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, hnode, entry_hash(vrf, f, key), &table) {
        if (e->family == f && !strcmp(e->vrf, vrf) && !strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

static struct tsub *
peer_sub(struct peer *p, const char *vrf)
{
    struct tsub *t;
    LIST_FOR_EACH (t, node, &p->subs) {
        if (!strcmp(t->vrf, vrf)) {
            return t;
        }
    }
    return NULL;
}

/* The item sent to agents: the first path's attributes with every path's next hops. */
static void
entry_merged(const struct entry *e, struct xmpp_route *out)
{
    xmpp_route_copy(out, &e->paths[0].r);
    for (size_t i = 1; i < e->n_paths; i++) {
        const struct xmpp_route *r = &e->paths[i].r;
        for (size_t k = 0; k < r->n_nh; k++) {
            const struct xmpp_nexthop *src = &r->nh[k];
            struct xmpp_nexthop *nh = xmpp_route_add_nexthop(out);
            *nh = *src;
            nh->virtual_network = NULL;
            nh->tags = NULL;
            nh->n_tags = 0;
            if (src->virtual_network) {
                xmpp_nexthop_set_vn(nh, src->virtual_network);
            }
            for (size_t t = 0; t < src->n_tags; t++) {
                xmpp_nexthop_add_tag(nh, src->tags[t]);
            }
        }
    }
}

/* Sends entry E (or its retract when it has no path) to every agent subscribed to its VRF. */
static void
entry_notify(const struct entry *e)
{
    struct xmpp_route merged, key;
    memset(&merged, 0, sizeof merged);
    memset(&key, 0, sizeof key);
    xmpp_route_set_key(&key, e->family, e->key);
    if (e->n_paths) {
        entry_merged(e, &merged);
    }
    const struct xmpp_route *rp = e->n_paths ? &merged : &key;
    struct peer *p;
    LIST_FOR_EACH (p, node, &peers) {
        struct tsub *t = peer_sub(p, e->vrf);
        struct evbuffer *out = xmpp_session_output(p->s);
        if (t && !t->no_ribout && out) {
            xmpp_encode_routes(out, p->name, e->family, e->vrf, e->n_paths ? &rp : NULL,
                               e->n_paths ? 1 : 0, e->n_paths ? NULL : &rp, e->n_paths ? 0 : 1);
        }
    }
    xmpp_route_clear(&merged);
    xmpp_route_clear(&key);
}

static void
entry_remove_path(struct entry *e, struct peer *owner)
{
    for (size_t i = 0; i < e->n_paths; i++) {
        if (e->paths[i].owner == owner) {
            xmpp_route_clear(&e->paths[i].r);
            memmove(&e->paths[i], &e->paths[i + 1], (e->n_paths - i - 1) * sizeof *e->paths);
            e->n_paths--;
            entry_notify(e);
            break;
        }
    }
    if (!e->n_paths) {
        hmap_remove(&table, &e->hnode);
        mem_free(&mem_ts, e->paths);
        mem_free(&mem_ts, e->vrf);
        mem_free(&mem_ts, e);
    }
}

/* Withdraws OWNER's paths in VRF (NULL: everywhere). */
static void
withdraw_peer(struct peer *owner, const char *vrf)
{
    struct entry *e;
    HMAP_FOR_EACH_SAFE (e, hnode, &table) {
        if (vrf && strcmp(e->vrf, vrf)) {
            continue;
        }
        for (size_t i = 0; i < e->n_paths; i++) {
            if (e->paths[i].owner == owner) {
                entry_remove_path(e, owner);
                break;
            }
        }
    }
}

static void
route_add(struct peer *p, const struct xmpp_route *r)
{
    struct entry *e = entry_find(r->vrf, r->family, r->key);
    if (!e) {
        e = mem_zalloc(&mem_ts, sizeof *e);
        e->vrf = mem_strdup(&mem_ts, r->vrf);
        e->family = r->family;
        snprintf(e->key, sizeof e->key, "%s", r->key);
        hmap_insert(&table, &e->hnode, entry_hash(e->vrf, e->family, e->key));
    }
    struct path *path = NULL;
    for (size_t i = 0; i < e->n_paths; i++) {
        if (e->paths[i].owner == p) {
            path = &e->paths[i];
            xmpp_route_clear(&path->r);
        }
    }
    if (!path) {
        e->paths = mem_realloc(&mem_ts, e->paths, (e->n_paths + 1) * sizeof *e->paths);
        path = &e->paths[e->n_paths++];
        path->owner = p;
    }
    xmpp_route_copy(&path->r, r);
    entry_notify(e);
}

static void
route_delete(struct peer *p, const struct xmpp_route *r)
{
    struct entry *e = entry_find(r->vrf, r->family, r->key);
    if (e) {
        entry_remove_path(e, p);
    }
}

/* Sends P every route of VRF, then End-of-RIB. */
static void
dump_vrf(struct peer *p, const char *vrf)
{
    struct evbuffer *out = xmpp_session_output(p->s);
    struct entry *e;
    HMAP_FOR_EACH (e, hnode, &table) {
        if (strcmp(e->vrf, vrf)) {
            continue;
        }
        struct xmpp_route merged;
        entry_merged(e, &merged);
        const struct xmpp_route *rp = &merged;
        xmpp_encode_routes(out, p->name, e->family, e->vrf, &rp, 1, NULL, 0);
        xmpp_route_clear(&merged);
    }
    xmpp_encode_eor(out, XMPP_CONTROL_JID, p->name);
}

/* --- Session hooks ----------------------------------------------------------------------- */

static const char *
ts_open(struct xmpp_session *s, const struct xmpp_open *o, void *aux)
{
    if (!o->from || !*o->from) {
        return "invalid-from";
    }
    return strcmp(o->subcluster, subcluster) ? "invalid-namespace" : NULL;
}

static void
ts_up(struct xmpp_session *s, void *aux)
{
    struct peer *p = mem_zalloc(&mem_ts, sizeof *p);
    p->s = s;
    snprintf(p->name, sizeof p->name, "%s", xmpp_session_peer_name(s));
    list_init(&p->subs);
    list_push_back(&peers, &p->node);
    xmpp_session_set_user(s, p);
}

static void
ts_down(struct xmpp_session *s, const char *reason, void *aux)
{
    struct peer *p = xmpp_session_user(s);
    if (!p) {
        return;
    }
    list_remove(&p->node);
    withdraw_peer(p, NULL);
    while (!list_is_empty(&p->subs)) {
        struct tsub *t = CONTAINER_OF(list_pop_front(&p->subs), struct tsub, node);
        mem_free(&mem_ts, t->vrf);
        mem_free(&mem_ts, t);
    }
    fprintf(stderr, "xmpp_test_server: %s down: %s\n", p->name, reason);
    mem_free(&mem_ts, p);
}

static void
ts_event(struct xmpp_session *s, const struct xmpp_event *ev, void *aux)
{
    struct peer *p = xmpp_session_user(s);
    char why[256];
    switch (ev->type) {
    case XMPP_EV_ROUTE_SUBSCRIBE: {
        if (peer_sub(p, ev->node)) {
            snprintf(why, sizeof why, "duplicate subscribe to %s", ev->node);
            xmpp_session_close(s, "policy-violation", why);
            return;
        }
        struct tsub *t = mem_zalloc(&mem_ts, sizeof *t);
        t->vrf = mem_strdup(&mem_ts, ev->node);
        t->no_ribout = ev->no_ribout;
        list_push_back(&p->subs, &t->node);
        if (!t->no_ribout) {
            dump_vrf(p, t->vrf);
        }
        break;
    }
    case XMPP_EV_ROUTE_UNSUBSCRIBE: {
        struct tsub *t = peer_sub(p, ev->node);
        if (!t) {
            snprintf(why, sizeof why, "unsubscribe from %s without subscribe", ev->node);
            xmpp_session_close(s, "policy-violation", why);
            return;
        }
        withdraw_peer(p, t->vrf);
        list_remove(&t->node);
        mem_free(&mem_ts, t->vrf);
        mem_free(&mem_ts, t);
        break;
    }
    case XMPP_EV_ROUTE_ADD:
    case XMPP_EV_ROUTE_DELETE:
        if (!peer_sub(p, ev->vrf)) {
            snprintf(why, sizeof why, "publish to %s without subscribe", ev->vrf);
            xmpp_session_close(s, "policy-violation", why);
            return;
        }
        if (ev->type == XMPP_EV_ROUTE_ADD) {
            route_add(p, &ev->routes[0]);
        } else {
            route_delete(p, &ev->routes[0]);
        }
        break;
    case XMPP_EV_CONFIG_SUBSCRIBE: {
        struct evbuffer *b = evbuffer_new();
        const char *colon = strchr(ev->node, ':');
        char type[64];
        snprintf(type, sizeof type, "%.*s", colon ? (int) (colon - ev->node) : 0, ev->node);
        evbuffer_add_printf(b, "<node type='%s'><name>", type);
        xmpp_escape(b, colon ? colon + 1 : ev->node);
        evbuffer_add_printf(b, "</name></node>");
        evbuffer_add(b, "", 1);
        xmpp_encode_config(xmpp_session_output(s), p->name,
                           (const char *) evbuffer_pullup(b, -1), NULL);
        evbuffer_free(b);
        break;
    }
    default:
        break;
    }
}

static const struct xmpp_session_hooks ts_hooks = {
    .open = ts_open, .up = ts_up, .event = ts_event, .down = ts_down,
};

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
    unsigned port = 0, hold = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) {
            port = (unsigned) atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--hold")) {
            hold = (unsigned) atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "--subcluster")) {
            subcluster = argv[i + 1];
        } else {
            fprintf(stderr, "usage: xmpp_test_server [--port N] [--hold S] [--subcluster X]\n");
            return 2;
        }
    }
    log_set_level(NULL, LOG_LEVEL_WARN);
    signal(SIGPIPE, SIG_IGN);
    hmap_init(&table);
    struct event_base *base = event_base_new();
    struct xmpp_session_config cfg = { .local_jid = XMPP_CONTROL_JID, .hold_time = hold };
    int err = 0;
    struct xmpp_server *srv = xmpp_server_create(base, "127.0.0.1", (uint16_t) port, &cfg,
                                                 &ts_hooks, NULL, &err);
    if (!srv) {
        fprintf(stderr, "xmpp_test_server: cannot listen: %s\n", strerror(err));
        return 1;
    }
    printf("{\"port\": %u}\n", xmpp_server_port(srv));
    fflush(stdout);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_base_dispatch(base);
    xmpp_server_destroy(srv);
    struct timeval tv = { 0, 100000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    hmap_destroy(&table);
    return 0;
}
