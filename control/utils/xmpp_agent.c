/* contrail-xmpp-agent: a vRouter agent simulator speaking XMPP to contrail-control.
 *
 * Interactive mode (the default) reads one command per line on stdin and writes one JSON
 * object per line on stdout for every event and answer, so that tests can drive many agents
 * from one process (tests/system/xmpputil.py wraps it).  An agent remembers what it
 * subscribed to and published; while it is not connected the commands are recorded and sent
 * when the session comes up, and after a reconnect everything is sent again, as a real agent
 * does.  Routes received from the control node are kept per agent (dropped when the session
 * goes down) and dumped by "routes".
 *
 * Load mode (--load) is the benchmark client: N agents each subscribe to K of M instances and
 * publish R routes, then the tool waits until every agent holds every route of every instance
 * it subscribed to and prints one JSON line of timings. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "list.h"
#include "log.h"
#include "mem.h"
#include "xmpp_proto.h"
#include "xmpp_session.h"

static MEM_TYPE(mem_agent, "xmpp_agent");

static struct event_base *base;

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
emit(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    fputs(s, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static bool
parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t) (colon - s) >= sizeof host) {
        return false;
    }
    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai)) {
        return false;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    *len = ai->ai_addrlen;
    freeaddrinfo(ai);
    return true;
}

/* ======================================================================================== */
/* Interactive mode */

struct sub {
    struct list node;
    char *vrf;
    uint32_t instance_id;
    bool no_ribout;
};

struct pub {
    struct list node;
    struct xmpp_route r;
};

struct cfgsub {
    struct list node;
    char *name;
};

struct agent {
    struct list node;
    char *name;
    struct xmpp_session *s;
    bool up;
    unsigned seq;
    struct list subs, pubs, cfgsubs;
    json_t *held;               /* {vrf: {family: {key: route}}} */
};

static struct list agents = LIST_INITIALIZER(&agents);
static bool sync_pending;
static struct event *sync_timer;
static struct bufferevent *stdin_bev;
static bool stdin_eof;

static struct agent *
agent_find(const char *name)
{
    struct agent *a;
    LIST_FOR_EACH (a, node, &agents) {
        if (!strcmp(a->name, name)) {
            return a;
        }
    }
    return NULL;
}

static json_t *
nexthop_json(const struct xmpp_nexthop *nh)
{
    char enc[64];
    json_t *j = xjson_pack("{s:s, s:I}", "address", nh->address, "label", (json_int_t) nh->label);
    if (nh->label_range) {
        json_object_set_new(j, "label_last", json_integer(nh->label_last));
    }
    if (nh->l3_label) {
        json_object_set_new(j, "l3_label", json_integer(nh->l3_label));
    }
    json_t *e = json_array();
    xmpp_encap_format(nh->encap, enc, sizeof enc);
    for (char *tok = strtok(enc, ","); tok; tok = strtok(NULL, ",")) {
        json_array_append_new(e, json_string(tok));
    }
    json_object_set_new(j, "encap", e);
    if (nh->has_mac) {
        char mac[18];
        snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", nh->mac[0], nh->mac[1],
                 nh->mac[2], nh->mac[3], nh->mac[4], nh->mac[5]);
        json_object_set_new(j, "mac", json_string(mac));
    }
    if (nh->virtual_network) {
        json_object_set_new(j, "vn", json_string(nh->virtual_network));
    }
    if (nh->n_tags) {
        json_t *t = json_array();
        for (size_t i = 0; i < nh->n_tags; i++) {
            json_array_append_new(t, json_integer(nh->tags[i]));
        }
        json_object_set_new(j, "tags", t);
    }
    return j;
}

static json_t *
route_json(const struct xmpp_route *r)
{
    json_t *j = xjson_pack("{s:s, s:s, s:s}", "family", xmpp_family_name(r->family),
                           "vrf", r->vrf ? r->vrf : "", "key", r->key);
    json_t *nhs = json_array();
    for (size_t i = 0; i < r->n_nh; i++) {
        json_array_append_new(nhs, nexthop_json(&r->nh[i]));
    }
    json_object_set_new(j, "nexthops", nhs);
    if (r->source_label) {
        json_object_set_new(j, "source_label", json_integer(r->source_label));
    }
    if (r->n_olist) {
        json_t *ol = json_array();
        for (size_t i = 0; i < r->n_olist; i++) {
            json_array_append_new(ol, nexthop_json(&r->olist[i]));
        }
        json_object_set_new(j, "olist", ol);
    }
    if (r->virtual_network) {
        json_object_set_new(j, "vn", json_string(r->virtual_network));
    }
    json_t *sgs = json_array();
    for (size_t i = 0; i < r->n_sgs; i++) {
        json_array_append_new(sgs, json_integer(r->sgs[i]));
    }
    json_object_set_new(j, "sgs", sgs);
    json_t *cs = json_array();
    for (size_t i = 0; i < r->n_communities; i++) {
        json_array_append_new(cs, json_string(r->communities[i]));
    }
    json_object_set_new(j, "communities", cs);
    json_object_set_new(j, "seq", json_integer(r->seq));
    if (r->has_mobility) {
        json_object_set_new(j, "mobility", xjson_pack("{s:I, s:b}", "seq",
                                                      (json_int_t) r->mobility_seq,
                                                      "sticky", r->sticky));
    }
    json_object_set_new(j, "local_pref", json_integer(r->local_pref));
    json_object_set_new(j, "med", json_integer(r->med));
    if (r->sub_protocol) {
        json_object_set_new(j, "sub_protocol", json_string(r->sub_protocol));
    }
    return j;
}

/* --- Sending ----------------------------------------------------------------------------- */

static void
send_sub(struct agent *a, const struct sub *sb, bool subscribe)
{
    struct evbuffer *out = xmpp_session_output(a->s);
    if (out) {
        xmpp_encode_route_subscribe(out, a->name, sb->vrf, sb->instance_id, sb->no_ribout,
                                    subscribe, ++a->seq);
    }
}

static void
send_pub(struct agent *a, const struct xmpp_route *r, bool add)
{
    struct evbuffer *out = xmpp_session_output(a->s);
    if (out) {
        xmpp_encode_publish(out, a->name, r, add, ++a->seq);
    }
}

static void
send_cfgsub(struct agent *a, const char *name, bool subscribe)
{
    struct evbuffer *out = xmpp_session_output(a->s);
    if (out) {
        xmpp_encode_config_subscribe(out, a->name, name, subscribe, ++a->seq);
    }
}

/* --- Session hooks ----------------------------------------------------------------------- */

static void
agent_up(struct xmpp_session *s, void *aux)
{
    struct agent *a = aux;
    a->up = true;
    emit(xjson_pack("{s:s, s:s}", "event", "up", "agent", a->name));
    /* Send (again) what this agent has: config subscriptions, instances, routes. */
    struct cfgsub *c;
    LIST_FOR_EACH (c, node, &a->cfgsubs) {
        send_cfgsub(a, c->name, true);
    }
    struct sub *sb;
    LIST_FOR_EACH (sb, node, &a->subs) {
        send_sub(a, sb, true);
    }
    struct pub *p;
    LIST_FOR_EACH (p, node, &a->pubs) {
        send_pub(a, &p->r, true);
    }
}

static void
agent_down(struct xmpp_session *s, const char *reason, void *aux)
{
    struct agent *a = aux;
    a->up = false;
    json_object_clear(a->held);
    emit(xjson_pack("{s:s, s:s, s:s}", "event", "down", "agent", a->name, "reason", reason));
}

static void
agent_failed(struct xmpp_session *s, const char *reason, void *aux)
{
    struct agent *a = aux;
    emit(xjson_pack("{s:s, s:s, s:s}", "event", "connect-failed", "agent", a->name,
                    "reason", reason));
}

static void
agent_route(struct agent *a, const struct xmpp_route *r, bool deleted)
{
    const char *fam = xmpp_family_name(r->family);
    json_t *v = json_object_get(a->held, r->vrf);
    if (!v) {
        v = json_object();
        json_object_set_new(a->held, r->vrf, v);
    }
    json_t *f = json_object_get(v, fam);
    if (!f) {
        f = json_object();
        json_object_set_new(v, fam, f);
    }
    bool had = json_object_get(f, r->key) != NULL;
    json_t *rj = route_json(r);
    const char *op;
    if (deleted) {
        op = "delete";
        json_object_del(f, r->key);
        if (!json_object_size(f)) {
            json_object_del(v, fam);
        }
        if (!json_object_size(v)) {
            json_object_del(a->held, r->vrf);
        }
    } else {
        op = had ? "update" : "add";
        json_object_set(f, r->key, rj);
    }
    json_t *ev = xjson_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "event", "route", "agent",
                            a->name, "op", op, "family", fam, "vrf", r->vrf, "key", r->key);
    if (!deleted) {
        json_object_set(ev, "route", rj);
    }
    json_decref(rj);
    emit(ev);
}

static void
agent_event(struct xmpp_session *s, const struct xmpp_event *ev, void *aux)
{
    struct agent *a = aux;
    switch (ev->type) {
    case XMPP_EV_ROUTE_UPDATE:
        for (size_t i = 0; i < ev->n_routes; i++) {
            agent_route(a, &ev->routes[i], ev->deleted[i]);
        }
        break;
    case XMPP_EV_EOR:
        emit(xjson_pack("{s:s, s:s}", "event", "eor", "agent", a->name));
        break;
    case XMPP_EV_CONFIG:
        emit(xjson_pack("{s:s, s:s, s:s}", "event", "config", "agent", a->name, "xml",
                        ev->config));
        break;
    default:
        emit(xjson_pack("{s:s, s:s, s:s}", "event", "unexpected", "agent", a->name, "type",
                        xmpp_event_name(ev->type)));
        break;
    }
}

static const struct xmpp_session_hooks agent_hooks = {
    .up = agent_up, .event = agent_event, .down = agent_down, .connect_failed = agent_failed,
};

static void
agent_free(struct agent *a)
{
    list_remove(&a->node);
    xmpp_session_destroy(a->s);
    while (!list_is_empty(&a->subs)) {
        struct sub *sb = CONTAINER_OF(list_pop_front(&a->subs), struct sub, node);
        mem_free(&mem_agent, sb->vrf);
        mem_free(&mem_agent, sb);
    }
    while (!list_is_empty(&a->pubs)) {
        struct pub *p = CONTAINER_OF(list_pop_front(&a->pubs), struct pub, node);
        xmpp_route_clear(&p->r);
        mem_free(&mem_agent, p);
    }
    while (!list_is_empty(&a->cfgsubs)) {
        struct cfgsub *c = CONTAINER_OF(list_pop_front(&a->cfgsubs), struct cfgsub, node);
        mem_free(&mem_agent, c->name);
        mem_free(&mem_agent, c);
    }
    json_decref(a->held);
    mem_free(&mem_agent, a->name);
    mem_free(&mem_agent, a);
}

/* --- Commands ---------------------------------------------------------------------------- */

#define MAX_ARGS 64

static void
cmd_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
cmd_error(const char *cmd, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(xjson_pack("{s:s, s:s, s:s}", "event", "error", "command", cmd, "message", msg));
}

static bool
parse_u32_arg(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > UINT32_MAX || *s == '-') {
        return false;
    }
    *out = (uint32_t) v;
    return true;
}

static void
cmd_connect(int argc, char **argv)
{
    if (argc < 3) {
        cmd_error("connect", "usage: connect AGENT HOST:PORT [hold N] [subcluster X]");
        return;
    }
    if (agent_find(argv[1])) {
        cmd_error("connect", "agent %s exists", argv[1]);
        return;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    if (!parse_hostport(argv[2], &ss, &len)) {
        cmd_error("connect", "bad address %s", argv[2]);
        return;
    }
    struct xmpp_session_config cfg = { .local_jid = argv[1], .retry_ms = 200,
                                       .retry_max_ms = 2000 };
    for (int i = 3; i + 1 < argc; i += 2) {
        uint32_t v;
        if (!strcmp(argv[i], "hold") && parse_u32_arg(argv[i + 1], &v) && v) {
            cfg.hold_time = v;
        } else if (!strcmp(argv[i], "subcluster")) {
            cfg.subcluster = argv[i + 1];
        } else if (!strcmp(argv[i], "retry") && parse_u32_arg(argv[i + 1], &v) && v) {
            cfg.retry_ms = v;
            cfg.retry_max_ms = v * 8;
        } else {
            cmd_error("connect", "bad option %s", argv[i]);
            return;
        }
    }
    if ((argc - 3) % 2) {
        cmd_error("connect", "option %s without value", argv[argc - 1]);
        return;
    }
    struct agent *a = mem_zalloc(&mem_agent, sizeof *a);
    a->name = mem_strdup(&mem_agent, argv[1]);
    list_init(&a->subs);
    list_init(&a->pubs);
    list_init(&a->cfgsubs);
    a->held = json_object();
    list_push_back(&agents, &a->node);
    a->s = xmpp_client_create(base, (struct sockaddr *) &ss, len, &cfg, &agent_hooks, a);
}

static struct agent *
need_agent(const char *cmd, int argc, char **argv, int min, const char *usage)
{
    if (argc < min) {
        cmd_error(cmd, "usage: %s", usage);
        return NULL;
    }
    struct agent *a = agent_find(argv[1]);
    if (!a) {
        cmd_error(cmd, "no agent %s", argv[1]);
    }
    return a;
}

static struct sub *
sub_find(struct agent *a, const char *vrf)
{
    struct sub *sb;
    LIST_FOR_EACH (sb, node, &a->subs) {
        if (!strcmp(sb->vrf, vrf)) {
            return sb;
        }
    }
    return NULL;
}

static void
cmd_subscribe(int argc, char **argv)
{
    struct agent *a = need_agent("subscribe", argc, argv, 4,
                                 "subscribe AGENT VRF INSTANCE_ID [no-ribout]");
    uint32_t iid;
    if (!a) {
        return;
    }
    if (!parse_u32_arg(argv[3], &iid)) {
        cmd_error("subscribe", "bad instance id %s", argv[3]);
        return;
    }
    struct sub *sb = sub_find(a, argv[2]);
    if (!sb) {
        sb = mem_zalloc(&mem_agent, sizeof *sb);
        sb->vrf = mem_strdup(&mem_agent, argv[2]);
        list_push_back(&a->subs, &sb->node);
    }
    /* A second subscribe of the same instance is sent too: tests use it to check that the
     * control node closes the session. */
    sb->instance_id = iid;
    sb->no_ribout = argc > 4 && !strcmp(argv[4], "no-ribout");
    send_sub(a, sb, true);
}

static void
cmd_unsubscribe(int argc, char **argv)
{
    struct agent *a = need_agent("unsubscribe", argc, argv, 3, "unsubscribe AGENT VRF");
    if (!a) {
        return;
    }
    struct sub *sb = sub_find(a, argv[2]);
    struct sub tmp = { .vrf = argv[2] };
    send_sub(a, sb ? sb : &tmp, false);
    if (sb) {
        list_remove(&sb->node);
        mem_free(&mem_agent, sb->vrf);
        mem_free(&mem_agent, sb);
    }
    /* The control node drops this agent's routes of the instance; so do we. */
    struct pub *p;
    LIST_FOR_EACH_SAFE (p, node, &a->pubs) {
        if (!strcmp(p->r.vrf, argv[2])) {
            list_remove(&p->node);
            xmpp_route_clear(&p->r);
            mem_free(&mem_agent, p);
        }
    }
}

/* Parses "FAMILY VRF KEY... [options]" starting at argv[2] into R.  Returns the index of the
 * first option, or -1 after reporting an error. */
static int
parse_route_key(const char *cmd, int argc, char **argv, struct xmpp_route *r)
{
    if (argc < 5) {
        cmd_error(cmd, "usage: %s AGENT inet|inet6|enet|mcast VRF KEY... [options]", cmd);
        return -1;
    }
    int fam = xmpp_family_from_name(argv[2]);
    if (fam < 0) {
        cmd_error(cmd, "unknown family %s", argv[2]);
        return -1;
    }
    char key[XMPP_KEY_MAX * 2];
    int next;
    if (fam == XMPP_FAM_ENET || fam == XMPP_FAM_MCAST) {
        if (argc < 6) {
            cmd_error(cmd, "%s needs two key fields", argv[2]);
            return -1;
        }
        if (fam == XMPP_FAM_ENET && !strcmp(argv[5], "-")) {
            snprintf(key, sizeof key, "%s", argv[4]);
        } else {
            snprintf(key, sizeof key, "%s,%s", argv[4], argv[5]);
        }
        next = 6;
    } else {
        snprintf(key, sizeof key, "%s", argv[4]);
        next = 5;
    }
    /* An Ethernet tag option belongs to the key. */
    char full[XMPP_KEY_MAX * 2 + 16];
    snprintf(full, sizeof full, "%s", key);
    for (int i = next; i + 1 < argc; i++) {
        if (fam == XMPP_FAM_ENET && !strcmp(argv[i], "etag")) {
            snprintf(full, sizeof full, "%s-%s", argv[i + 1], key);
        }
    }
    if (xmpp_route_set_key(r, (enum xmpp_family) fam, full)) {
        cmd_error(cmd, "bad %s key %s", argv[2], full);
        return -1;
    }
    xmpp_route_set_vrf(r, argv[3]);
    return next;
}

static bool
parse_u32_list(const char *s, void (*add)(void *, uint32_t), void *obj)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        uint32_t v;
        if (!parse_u32_arg(tok, &v)) {
            return false;
        }
        add(obj, v);
    }
    return true;
}

static void
add_sg(void *r, uint32_t v)
{
    xmpp_route_add_sg(r, v);
}

static void
add_tag(void *nh, uint32_t v)
{
    xmpp_nexthop_add_tag(nh, v);
}

/* Parses the publish options from argv[i] on into R. */
static bool
parse_route_options(const char *cmd, int i, int argc, char **argv, struct xmpp_route *r)
{
    struct xmpp_nexthop *nh = xmpp_route_add_nexthop(r);
    bool have_nh = false;
    for (; i < argc; i++) {
        const char *opt = argv[i];
        if (!strcmp(opt, "sticky")) {
            r->has_mobility = true;
            r->sticky = true;
            continue;
        }
        if (i + 1 >= argc) {
            cmd_error(cmd, "option %s without value", opt);
            return false;
        }
        const char *val = argv[++i];
        uint32_t v;
        bool ok = true;
        if (!strcmp(opt, "nh")) {
            ok = !xmpp_nexthop_set_address(nh, val);
            have_nh = ok;
        } else if (!strcmp(opt, "label")) {
            const char *dash = strchr(val, '-');
            if (dash) {
                char first[16];
                snprintf(first, sizeof first, "%.*s", (int) (dash - val), val);
                ok = parse_u32_arg(first, &nh->label) && parse_u32_arg(dash + 1, &nh->label_last);
                nh->label_range = true;
            } else {
                ok = parse_u32_arg(val, &nh->label);
                nh->label_last = nh->label;
            }
        } else if (!strcmp(opt, "l3label")) {
            ok = parse_u32_arg(val, &nh->l3_label);
        } else if (!strcmp(opt, "encap")) {
            char buf[128];
            snprintf(buf, sizeof buf, "%s", val);
            for (char *tok = strtok(buf, ","); tok && ok; tok = strtok(NULL, ",")) {
                unsigned bit = xmpp_encap_from_name(tok);
                ok = bit != 0;
                nh->encap |= bit;
            }
        } else if (!strcmp(opt, "vn")) {
            xmpp_route_set_vn(r, val);
            xmpp_nexthop_set_vn(nh, val);
        } else if (!strcmp(opt, "sg")) {
            ok = parse_u32_list(val, add_sg, r);
        } else if (!strcmp(opt, "tag")) {
            ok = parse_u32_list(val, add_tag, nh);
        } else if (!strcmp(opt, "community")) {
            char buf[512];
            snprintf(buf, sizeof buf, "%s", val);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                xmpp_route_add_community(r, tok);
            }
        } else if (!strcmp(opt, "lp")) {
            ok = parse_u32_arg(val, &r->local_pref);
        } else if (!strcmp(opt, "med")) {
            ok = parse_u32_arg(val, &r->med);
        } else if (!strcmp(opt, "seq")) {
            ok = parse_u32_arg(val, &r->seq);
            r->has_mobility = true;
            r->mobility_seq = r->seq;
        } else if (!strcmp(opt, "mac")) {
            ok = xmpp_parse_mac(val, nh->mac);
            nh->has_mac = ok;
        } else if (!strcmp(opt, "sub-protocol")) {
            xmpp_route_set_sub_protocol(r, val);
        } else if (!strcmp(opt, "etag")) {
            ok = parse_u32_arg(val, &v);
        } else {
            cmd_error(cmd, "unknown option %s", opt);
            return false;
        }
        if (!ok) {
            cmd_error(cmd, "bad value for %s: %s", opt, val);
            return false;
        }
    }
    if (!have_nh) {
        cmd_error(cmd, "a next hop is needed (nh IP)");
        return false;
    }
    return true;
}

static struct pub *
pub_find(struct agent *a, const struct xmpp_route *r)
{
    struct pub *p;
    LIST_FOR_EACH (p, node, &a->pubs) {
        if (p->r.family == r->family && !strcmp(p->r.vrf, r->vrf) && !strcmp(p->r.key, r->key)) {
            return p;
        }
    }
    return NULL;
}

static void
cmd_publish(int argc, char **argv, bool add)
{
    const char *cmd = add ? "publish" : "retract";
    struct agent *a = need_agent(cmd, argc, argv, 2, "publish AGENT FAMILY VRF KEY...");
    if (!a) {
        return;
    }
    struct xmpp_route r;
    memset(&r, 0, sizeof r);
    int i = parse_route_key(cmd, argc, argv, &r);
    if (i < 0 || (add && !parse_route_options(cmd, i, argc, argv, &r))) {
        xmpp_route_clear(&r);
        return;
    }
    struct pub *p = pub_find(a, &r);
    if (add) {
        if (!p) {
            p = mem_zalloc(&mem_agent, sizeof *p);
            list_push_back(&a->pubs, &p->node);
        } else {
            xmpp_route_clear(&p->r);
        }
        p->r = r;
        send_pub(a, &p->r, true);
        return;
    }
    send_pub(a, p ? &p->r : &r, false);
    if (p) {
        list_remove(&p->node);
        xmpp_route_clear(&p->r);
        mem_free(&mem_agent, p);
    }
    xmpp_route_clear(&r);
}

static void
cmd_config_subscribe(int argc, char **argv, bool subscribe)
{
    const char *cmd = subscribe ? "config-subscribe" : "config-unsubscribe";
    struct agent *a = need_agent(cmd, argc, argv, 3, "config-subscribe AGENT NODE");
    if (!a) {
        return;
    }
    struct cfgsub *c, *found = NULL;
    LIST_FOR_EACH (c, node, &a->cfgsubs) {
        if (!strcmp(c->name, argv[2])) {
            found = c;
        }
    }
    if (subscribe && !found) {
        found = mem_zalloc(&mem_agent, sizeof *found);
        found->name = mem_strdup(&mem_agent, argv[2]);
        list_push_back(&a->cfgsubs, &found->node);
    } else if (!subscribe && found) {
        list_remove(&found->node);
        mem_free(&mem_agent, found->name);
        mem_free(&mem_agent, found);
    }
    send_cfgsub(a, argv[2], subscribe);
}

static void
cmd_routes(int argc, char **argv)
{
    struct agent *a = need_agent("routes", argc, argv, 2, "routes AGENT [VRF]");
    if (!a) {
        return;
    }
    json_t *list = json_array();
    const char *vrf;
    json_t *v;
    json_object_foreach(a->held, vrf, v) {
        if (argc > 2 && strcmp(vrf, argv[2])) {
            continue;
        }
        const char *fam;
        json_t *f;
        json_object_foreach(v, fam, f) {
            const char *key;
            json_t *r;
            json_object_foreach(f, key, r) {
                json_array_append(list, r);
            }
        }
    }
    emit(xjson_pack("{s:s, s:s, s:b, s:o}", "event", "routes", "agent", a->name, "up", a->up,
                    "routes", list));
}

static bool
all_flushed(void)
{
    struct agent *a;
    LIST_FOR_EACH (a, node, &agents) {
        if (xmpp_session_queued(a->s)) {
            return false;
        }
    }
    return true;
}

static void
sync_check(evutil_socket_t fd, short what, void *arg)
{
    if (!sync_pending) {
        return;
    }
    if (all_flushed()) {
        sync_pending = false;
        emit(xjson_pack("{s:s}", "event", "sync"));
        if (stdin_eof) {
            event_base_loopbreak(base);
        }
        return;
    }
    struct timeval tv = { 0, 5000 };
    event_add(sync_timer, &tv);
}

static void
run_command(char *line)
{
    char *argv[MAX_ARGS];
    int argc = 0;
    char *save;
    char *raw_rest = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok && argc < MAX_ARGS;
         tok = strtok_r(NULL, " \t\r", &save)) {
        argv[argc++] = tok;
        if (argc == 2 && !strcmp(argv[0], "send")) {
            raw_rest = save;
            break;
        }
    }
    if (!argc || argv[0][0] == '#') {
        return;
    }
    const char *c = argv[0];
    if (!strcmp(c, "connect")) {
        cmd_connect(argc, argv);
    } else if (!strcmp(c, "subscribe")) {
        cmd_subscribe(argc, argv);
    } else if (!strcmp(c, "unsubscribe")) {
        cmd_unsubscribe(argc, argv);
    } else if (!strcmp(c, "publish")) {
        cmd_publish(argc, argv, true);
    } else if (!strcmp(c, "retract")) {
        cmd_publish(argc, argv, false);
    } else if (!strcmp(c, "eor")) {
        struct agent *a = need_agent(c, argc, argv, 2, "eor AGENT");
        if (a && !xmpp_session_output(a->s)) {
            cmd_error(c, "agent %s is not connected", a->name);
        } else if (a) {
            xmpp_encode_eor(xmpp_session_output(a->s), a->name, XMPP_CONTROL_JID "/"
                            XMPP_RES_BGP);
        }
    } else if (!strcmp(c, "config-subscribe")) {
        cmd_config_subscribe(argc, argv, true);
    } else if (!strcmp(c, "config-unsubscribe")) {
        cmd_config_subscribe(argc, argv, false);
    } else if (!strcmp(c, "send")) {
        /* Raw text, for tests of the control node's handling of bad input. */
        struct agent *a = need_agent(c, argc + (raw_rest ? 1 : 0), argv, 3, "send AGENT TEXT");
        if (a && (!raw_rest || xmpp_session_send(a->s, raw_rest, strlen(raw_rest)))) {
            cmd_error(c, "agent %s is not connected", a->name);
        }
    } else if (!strcmp(c, "close")) {
        struct agent *a = need_agent(c, argc, argv, 2, "close AGENT");
        if (a) {
            agent_free(a);
        }
    } else if (!strcmp(c, "routes")) {
        cmd_routes(argc, argv);
    } else if (!strcmp(c, "sync")) {
        sync_pending = true;
        sync_check(-1, 0, NULL);
    } else if (!strcmp(c, "quit")) {
        event_base_loopbreak(base);
    } else {
        cmd_error(c, "unknown command");
    }
}

static void
stdin_read(struct bufferevent *bev, void *arg)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    char *line;
    size_t n;
    while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_LF))) {
        run_command(line);
        free(line);
    }
}

static void
stdin_event(struct bufferevent *bev, short what, void *arg)
{
    /* End of input: finish what is queued (as a final sync would), then leave. */
    stdin_eof = true;
    bufferevent_disable(bev, EV_READ);
    if (!sync_pending) {
        sync_pending = true;
        sync_check(-1, 0, NULL);
    }
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    event_base_loopbreak(base);
}

static int
run_interactive(void)
{
    stdin_bev = bufferevent_socket_new(base, STDIN_FILENO, 0);
    bufferevent_setcb(stdin_bev, stdin_read, NULL, stdin_event, NULL);
    bufferevent_enable(stdin_bev, EV_READ);
    sync_timer = evtimer_new(base, sync_check, NULL);
    event_base_dispatch(base);
    while (!list_is_empty(&agents)) {
        agent_free(CONTAINER_OF(agents.next, struct agent, node));
    }
    /* Give the closing tags a moment to leave. */
    struct timeval tv = { 0, 100000 };
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
    event_free(sync_timer);
    bufferevent_free(stdin_bev);
    return 0;
}

/* ======================================================================================== */
/* Load mode */

struct load_opts {
    struct sockaddr_storage server;
    socklen_t server_len;
    int agents, instances, per_agent, routes;
    uint32_t prefix_base;
    double timeout_s;
    unsigned hold;
    const char *subcluster;
};

/* A set of 64-bit keys (open addressing, never shrinks). */
struct u64set {
    uint64_t *slots;
    size_t cap, n;
};

static bool
u64set_add(struct u64set *s, uint64_t k)
{
    k++;                        /* 0 marks an empty slot. */
    if ((s->n + 1) * 2 > s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        uint64_t *ns = calloc(ncap, sizeof *ns);
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i]) {
                size_t h = (size_t) (s->slots[i] * 0x9e3779b97f4a7c15ull) & (ncap - 1);
                while (ns[h]) {
                    h = (h + 1) & (ncap - 1);
                }
                ns[h] = s->slots[i];
            }
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    size_t h = (size_t) (k * 0x9e3779b97f4a7c15ull) & (s->cap - 1);
    while (s->slots[h]) {
        if (s->slots[h] == k) {
            return false;
        }
        h = (h + 1) & (s->cap - 1);
    }
    s->slots[h] = k;
    s->n++;
    return true;
}

struct lagent {
    struct load *load;
    int index;
    char name[32];
    struct xmpp_session *s;
    bool up, was_up, published, converged;
    int next_route;             /* Next route to publish. */
    unsigned seq;
    struct u64set got;
    long *per_instance;         /* Received routes per instance. */
};

struct load {
    struct load_opts o;
    struct lagent *agents;
    long *expected;             /* Routes per instance, all agents together. */
    int n_up, n_published, n_converged;
    double t0, t_up, t_published, t_converged;
    long received;
    struct event *check, *deadline;
    bool timed_out;
};

static void
instance_name(int j, char *buf, size_t size)
{
    snprintf(buf, size, "default-domain:bench:vn%d:vn%d", j, j);
}

static int
agent_instance(const struct load *l, int i, int k)
{
    return (i + k) % l->o.instances;
}

/* Route R of agent I: its instance (one of the agent's K, in turn) and address. */
static void
route_of(const struct load *l, int i, int r, int *inst, uint32_t *addr)
{
    *inst = agent_instance(l, i, r % l->o.per_agent);
    *addr = l->o.prefix_base + (uint32_t) i * (uint32_t) l->o.routes + (uint32_t) r;
}

static void
load_publish_some(struct lagent *a)
{
    struct load *l = a->load;
    struct evbuffer *out = xmpp_session_output(a->s);
    if (!out) {
        return;
    }
    uint32_t nh = (127u << 24) | (64u << 16) | (uint32_t) (a->index + 1);
    struct xmpp_route r;
    memset(&r, 0, sizeof r);
    struct xmpp_nexthop *x = xmpp_route_add_nexthop(&r);
    struct in_addr ina = { htonl(nh) };
    xmpp_nexthop_set_address(x, inet_ntoa(ina));
    x->encap = XMPP_ENCAP_GRE | XMPP_ENCAP_UDP;
    while (a->next_route < l->o.routes && evbuffer_get_length(out) < 256 * 1024) {
        int inst;
        uint32_t addr;
        route_of(l, a->index, a->next_route, &inst, &addr);
        char key[32], vrf[96];
        struct in_addr pa = { htonl(addr) };
        snprintf(key, sizeof key, "%s/32", inet_ntoa(pa));
        instance_name(inst, vrf, sizeof vrf);
        xmpp_route_set_key(&r, XMPP_FAM_INET, key);
        xmpp_route_set_vrf(&r, vrf);
        x->label = 16 + (uint32_t) (a->next_route % 100000);
        xmpp_encode_publish(out, a->name, &r, true, ++a->seq);
        a->next_route++;
    }
    xmpp_route_clear(&r);
    if (a->next_route == l->o.routes && !a->published && !evbuffer_get_length(out)) {
        a->published = true;
        if (++l->n_published == l->o.agents) {
            l->t_published = now_ms();
        }
    }
}

static void
load_up(struct xmpp_session *s, void *aux)
{
    struct lagent *a = aux;
    struct load *l = a->load;
    a->up = true;
    if (!a->was_up) {
        a->was_up = true;
        if (++l->n_up == l->o.agents) {
            l->t_up = now_ms();
        }
    }
    struct evbuffer *out = xmpp_session_output(s);
    for (int k = 0; k < l->o.per_agent; k++) {
        char vrf[96];
        int j = agent_instance(l, a->index, k);
        instance_name(j, vrf, sizeof vrf);
        xmpp_encode_route_subscribe(out, a->name, vrf, (uint32_t) j + 1, false, true, ++a->seq);
    }
    a->next_route = 0;
    load_publish_some(a);
}

static void
load_drained(struct xmpp_session *s, void *aux)
{
    load_publish_some(aux);
}

static void
load_down(struct xmpp_session *s, const char *reason, void *aux)
{
    struct lagent *a = aux;
    a->up = false;
    fprintf(stderr, "agent %s down: %s\n", a->name, reason);
}

static void
load_check_converged(struct lagent *a)
{
    struct load *l = a->load;
    if (a->converged) {
        return;
    }
    for (int k = 0; k < l->o.per_agent; k++) {
        int j = agent_instance(l, a->index, k);
        if (a->per_instance[j] < l->expected[j]) {
            return;
        }
    }
    a->converged = true;
    if (++l->n_converged == l->o.agents) {
        l->t_converged = now_ms();
        event_base_loopbreak(base);
    }
}

static void
load_event(struct xmpp_session *s, const struct xmpp_event *ev, void *aux)
{
    struct lagent *a = aux;
    struct load *l = a->load;
    if (ev->type != XMPP_EV_ROUTE_UPDATE || ev->family != XMPP_FAM_INET) {
        return;
    }
    int j;
    if (sscanf(ev->vrf, "default-domain:bench:vn%d:", &j) != 1 || j < 0
        || j >= l->o.instances) {
        return;
    }
    for (size_t i = 0; i < ev->n_routes; i++) {
        if (ev->deleted[i]) {
            continue;
        }
        const uint8_t *b = ev->routes[i].addr;
        uint64_t addr = ((uint64_t) b[0] << 24) | ((uint64_t) b[1] << 16)
                        | ((uint64_t) b[2] << 8) | b[3];
        if (u64set_add(&a->got, ((uint64_t) j << 32) | addr)) {
            a->per_instance[j]++;
            l->received++;
        }
    }
    load_check_converged(a);
}

static const struct xmpp_session_hooks load_hooks = {
    .up = load_up, .event = load_event, .down = load_down, .drained = load_drained,
};

static void
load_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct load *l = arg;
    l->timed_out = true;
    event_base_loopbreak(base);
}

static long
rss_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    size_t n = strlen(field);
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, field, n)) {
            v = atol(line + n + 1);
        }
    }
    if (f) {
        fclose(f);
    }
    return v;
}

static void
raise_nofile(int need)
{
    struct rlimit rl;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t) need) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
run_load(const struct load_opts *o)
{
    struct load l;
    memset(&l, 0, sizeof l);
    l.o = *o;
    raise_nofile(o->agents + 64);
    l.agents = calloc((size_t) o->agents, sizeof *l.agents);
    l.expected = calloc((size_t) o->instances, sizeof *l.expected);
    for (int i = 0; i < o->agents; i++) {
        for (int r = 0; r < o->routes; r++) {
            int inst;
            uint32_t addr;
            route_of(&l, i, r, &inst, &addr);
            l.expected[inst]++;
        }
    }
    long expected_total = 0;
    for (int i = 0; i < o->agents; i++) {
        for (int k = 0; k < o->per_agent; k++) {
            expected_total += l.expected[agent_instance(&l, i, k)];
        }
    }
    l.t0 = now_ms();
    l.deadline = evtimer_new(base, load_deadline, &l);
    struct timeval tv = { (time_t) o->timeout_s, (suseconds_t) ((o->timeout_s
                                                                 - (time_t) o->timeout_s) * 1e6) };
    event_add(l.deadline, &tv);
    for (int i = 0; i < o->agents; i++) {
        struct lagent *a = &l.agents[i];
        a->load = &l;
        a->index = i;
        snprintf(a->name, sizeof a->name, "bench-agent-%d", i);
        a->per_instance = calloc((size_t) o->instances, sizeof *a->per_instance);
        struct xmpp_session_config cfg = { .local_jid = a->name, .hold_time = o->hold,
                                           .subcluster = o->subcluster, .retry_ms = 500,
                                           .retry_max_ms = 5000, .open_timeout = 30 };
        a->s = xmpp_client_create(base, (struct sockaddr *) &o->server, o->server_len, &cfg,
                                  &load_hooks, a);
    }
    if (o->routes == 0 || expected_total == 0) {
        l.t_published = now_ms();
    }
    event_base_dispatch(base);
    double end = now_ms();
    json_t *j = xjson_pack("{s:i, s:i, s:i, s:i, s:b}", "agents", o->agents, "instances",
                           o->instances, "instances_per_agent", o->per_agent,
                           "routes_per_agent", o->routes, "timeout", l.timed_out);
    json_object_set_new(j, "sessions_up", json_integer(l.n_up));
    json_object_set_new(j, "sessions_up_ms", l.t_up ? json_real(l.t_up - l.t0) : json_null());
    json_object_set_new(j, "publish_done_ms",
                        l.t_published ? json_real(l.t_published - l.t0) : json_null());
    json_object_set_new(j, "converged_ms",
                        l.t_converged ? json_real(l.t_converged - l.t0) : json_null());
    json_object_set_new(j, "elapsed_ms", json_real(end - l.t0));
    json_object_set_new(j, "routes_received", json_integer(l.received));
    json_object_set_new(j, "routes_expected", json_integer(expected_total));
    json_object_set_new(j, "agents_converged", json_integer(l.n_converged));
    json_object_set_new(j, "rss_kb", json_integer(rss_kb("VmRSS:")));
    json_object_set_new(j, "rss_peak_kb", json_integer(rss_kb("VmHWM:")));
    emit(j);
    for (int i = 0; i < o->agents; i++) {
        xmpp_session_destroy(l.agents[i].s);
        free(l.agents[i].got.slots);
        free(l.agents[i].per_instance);
    }
    struct timeval grace = { 0, 200000 };
    event_base_loopexit(base, &grace);
    event_base_dispatch(base);
    event_free(l.deadline);
    free(l.agents);
    free(l.expected);
    return l.timed_out || l.n_converged < o->agents ? 1 : 0;
}

/* ======================================================================================== */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: contrail-xmpp-agent [--log-level LEVEL]\n"
"       contrail-xmpp-agent --load --server HOST:PORT [--agents N] [--instances M]\n"
"                           [--instances-per-agent K] [--routes R] [--prefix-base A.B.C.D]\n"
"                           [--hold S] [--subcluster X] [--timeout S]\n"
"\n"
"Interactive mode reads commands on stdin and writes JSON lines on stdout:\n"
"  connect AGENT HOST:PORT [hold N] [subcluster X] [retry MS]\n"
"  subscribe AGENT VRF INSTANCE_ID [no-ribout]      unsubscribe AGENT VRF\n"
"  publish AGENT inet|inet6 VRF PREFIX nh IP label N [encap gre,udp] [vn NAME] [sg N,N]\n"
"          [tag N,N] [community C,C] [lp N] [med N] [seq N] [sticky] [mac MAC]\n"
"          [sub-protocol X]\n"
"  publish AGENT enet VRF MAC IP/PLEN|- nh IP label N [etag N] [l3label N] [encap vxlan]\n"
"  publish AGENT mcast VRF GROUP SOURCE nh IP label A-B [encap gre,udp]\n"
"  retract AGENT FAMILY VRF KEY...   eor AGENT   close AGENT   routes AGENT [VRF]\n"
"  config-subscribe AGENT NODE       config-unsubscribe AGENT NODE\n"
"  send AGENT RAW-TEXT               sync        quit\n");
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "load", no_argument, NULL, 'L' },
        { "server", required_argument, NULL, 's' },
        { "agents", required_argument, NULL, 'n' },
        { "instances", required_argument, NULL, 'm' },
        { "instances-per-agent", required_argument, NULL, 'k' },
        { "routes", required_argument, NULL, 'r' },
        { "prefix-base", required_argument, NULL, 'p' },
        { "timeout", required_argument, NULL, 't' },
        { "hold", required_argument, NULL, 'H' },
        { "subcluster", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct load_opts o = { .agents = 1, .instances = 1, .per_agent = 1, .routes = 1,
                           .prefix_base = 0x0a000000, .timeout_s = 60 };
    bool load = false, have_server = false;
    const char *level = "warn";
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'L':
            load = true;
            break;
        case 's':
            have_server = parse_hostport(optarg, &o.server, &o.server_len);
            if (!have_server) {
                fprintf(stderr, "bad --server %s\n", optarg);
                return 2;
            }
            break;
        case 'n':
            o.agents = atoi(optarg);
            break;
        case 'm':
            o.instances = atoi(optarg);
            break;
        case 'k':
            o.per_agent = atoi(optarg);
            break;
        case 'r':
            o.routes = atoi(optarg);
            break;
        case 'p': {
            struct in_addr a;
            if (inet_pton(AF_INET, optarg, &a) != 1) {
                fprintf(stderr, "bad --prefix-base %s\n", optarg);
                return 2;
            }
            o.prefix_base = ntohl(a.s_addr);
            break;
        }
        case 't':
            o.timeout_s = atof(optarg);
            break;
        case 'H':
            o.hold = (unsigned) atoi(optarg);
            break;
        case 'c':
            o.subcluster = optarg;
            break;
        case 'l':
            level = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    int lv = log_level_from_string(level);
    if (lv < 0) {
        fprintf(stderr, "bad --log-level %s\n", level);
        return 2;
    }
    log_set_level(NULL, (enum log_level) lv);
    signal(SIGPIPE, SIG_IGN);
    base = event_base_new();
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    int rc;
    if (load) {
        if (!have_server || o.agents < 1 || o.instances < 1 || o.per_agent < 1
            || o.per_agent > o.instances || o.routes < 0 || o.timeout_s <= 0) {
            fprintf(stderr, "--load needs --server and sane --agents/--instances/"
                    "--instances-per-agent (<= instances)/--routes/--timeout\n");
            return 2;
        }
        if ((uint64_t) o.agents * (uint64_t) o.routes + o.prefix_base > UINT32_MAX) {
            fprintf(stderr, "--agents x --routes does not fit above --prefix-base\n");
            return 2;
        }
        rc = run_load(&o);
    } else {
        rc = run_interactive();
    }
    event_free(sigterm);
    event_free(sigint);
    event_base_free(base);
    return rc;
}
