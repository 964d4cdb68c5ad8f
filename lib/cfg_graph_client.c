/* cfg_graph_client: the IF-MAP feed of a config reader's graph (see cfg_graph_client.h). */
#include "cfg_graph_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disc_client.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "vnc_ifmap.h"

LOG_MODULE(cfg_graph_client);

static MEM_TYPE(mem_type_cfg_graph_client, "cfg_graph_client");

struct cfg_graph_client {
    struct event_base *base;
    char *user, *password;
    bool tls;
    int settle_ms;
    struct cfg_graph_client_hooks hooks;
    void *aux;
    struct ifmap_client *ifmap;
    char *host;
    int port;
    bool synced;
    struct event *settle;
    uint64_t resets, syncs;
};

static void
subscribed(void *aux, const struct ifmap_client_reply *rep)
{
    (void) aux;
    if (rep->error) {
        LOG_ERR("IF-MAP subscribe failed: %s %s", rep->error_code ? rep->error_code : "",
                rep->message ? rep->message : "");
    }
}

/* Forgets the graph and asks for all of it again. */
static void
restart(struct cfg_graph_client *c)
{
    c->resets++;
    c->synced = false;
    event_del(c->settle);
    c->hooks.reset(c->aux);
    ifmap_client_subscribe(c->ifmap, "root", VNC_IFMAP_ROOT_NAME, 255, NULL, subscribed, c);
}

static void
on_session(void *aux, const char *session_id)
{
    struct cfg_graph_client *c = aux;
    LOG_NOTICE("IF-MAP session %s: subscribing to the whole graph", session_id);
    restart(c);
}

static void
mark_synced(struct cfg_graph_client *c)
{
    event_del(c->settle);
    if (!c->synced) {
        c->synced = true;
        c->syncs++;
        LOG_INFO("initial config graph complete");
        if (c->hooks.synced) {
            c->hooks.synced(c->aux);
        }
    }
}

static void
settled(evutil_socket_t fd, short what, void *aux)
{
    (void) fd;
    (void) what;
    mark_synced(aux);
}

static void
on_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct cfg_graph_client *c = aux;
    bool update = false;
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IFMAP_ITEM_ERROR) {
            /* The server dropped the subscription (PollResultsTooBig): updates were lost, so
             * start over from a new full search result. */
            LOG_ERR("IF-MAP subscription dropped (%s): subscribing again",
                    items[i].error_code ? items[i].error_code : "?");
            restart(c);
            return;
        }
        update |= items[i].kind == IFMAP_ITEM_UPDATE || items[i].kind == IFMAP_ITEM_DELETE;
    }
    c->hooks.poll(c->aux, items, n);
    if (!c->synced) {
        if (update) {
            mark_synced(c);
        } else {
            struct timeval tv = { c->settle_ms / 1000, (c->settle_ms % 1000) * 1000 };
            event_add(c->settle, &tv);
        }
    }
}

struct cfg_graph_client *
cfg_graph_client_create(struct event_base *base, const struct cfg_graph_client_config *cfg,
                        const struct cfg_graph_client_hooks *hooks, void *aux)
{
    struct cfg_graph_client *c = mem_zalloc(&mem_type_cfg_graph_client, sizeof *c);
    c->base = base;
    c->user = mem_strdup(&mem_type_cfg_graph_client, cfg->user ? cfg->user : "");
    c->password = mem_strdup(&mem_type_cfg_graph_client, cfg->password ? cfg->password : "");
    c->tls = cfg->tls;
    c->settle_ms = cfg->settle_ms > 0 ? cfg->settle_ms : 300;
    c->hooks = *hooks;
    c->aux = aux;
    c->settle = evtimer_new(base, settled, c);
    return c;
}

void
cfg_graph_client_destroy(struct cfg_graph_client *c)
{
    if (!c) {
        return;
    }
    ifmap_client_destroy(c->ifmap);
    event_free(c->settle);
    mem_free(&mem_type_cfg_graph_client, c->host);
    mem_free(&mem_type_cfg_graph_client, c->user);
    mem_free(&mem_type_cfg_graph_client, c->password);
    mem_free(&mem_type_cfg_graph_client, c);
}

void
cfg_graph_client_set_server(struct cfg_graph_client *c, const char *host, int port)
{
    if (c->ifmap && !strcmp(c->host, host) && c->port == port) {
        return;
    }
    ifmap_client_destroy(c->ifmap);
    c->ifmap = NULL;
    event_del(c->settle);
    mem_free(&mem_type_cfg_graph_client, c->host);
    c->host = mem_strdup(&mem_type_cfg_graph_client, host);
    c->port = port;
    char err[256];
    c->ifmap = ifmap_client_create(c->base, host, port, c->user, c->password, c->tls, false,
                                   err, sizeof err);
    if (!c->ifmap) {
        LOG_ERR("IF-MAP client for %s:%d: %s", host, port, err);
        return;
    }
    LOG_NOTICE("reading the config graph from IF-MAP at %s:%d", host, port);
    ifmap_client_set_callbacks(c->ifmap, on_session, on_poll, c);
    ifmap_client_start(c->ifmap);
}

bool
cfg_graph_client_disc_first(const json_t *instances, char *host, size_t size, int *port)
{
    const json_t *i = json_array_get(instances, 0);
    const char *ip = json_string_value(json_object_get(i, "ip-address"));
    const json_t *p = json_object_get(i, "port");
    int pn = json_is_string(p) ? atoi(json_string_value(p)) : (int) json_integer_value(p);
    if (!ip || pn <= 0) {
        return false;
    }
    snprintf(host, size, "%s", ip);
    *port = pn;
    return true;
}

static void
on_ifmap_server(void *aux, const json_t *instances)
{
    struct cfg_graph_client *c = aux;
    char host[256];
    int port;
    if (cfg_graph_client_disc_first(instances, host, sizeof host, &port)) {
        cfg_graph_client_set_server(c, host, port);
    }
}

void
cfg_graph_client_use_discovery(struct cfg_graph_client *c, struct disc_client *disc)
{
    disc_client_subscribe(disc, "IfmapServer", 1, on_ifmap_server, c);
}

bool
cfg_graph_client_synced(const struct cfg_graph_client *c)
{
    return c->synced;
}

json_t *
cfg_graph_client_status(const struct cfg_graph_client *c)
{
    struct ifmap_client_stats st = { 0 };
    if (c->ifmap) {
        ifmap_client_get_stats(c->ifmap, &st);
    }
    const char *sid = c->ifmap ? ifmap_client_session_id(c->ifmap) : NULL;
    return xjson_pack("{sssisssIsIsIsIsIsbsIsI}", "server", c->host ? c->host : "",
                      "port", c->port, "session", sid ? sid : "",
                      "sessions", (json_int_t) st.sessions, "polls", (json_int_t) st.polls,
                      "items", (json_int_t) st.items, "errors", (json_int_t) st.errors,
                      "reconnects", (json_int_t) st.reconnects, "synced", c->synced,
                      "resets", (json_int_t) c->resets, "syncs", (json_int_t) c->syncs);
}

static json_t *
page_ifmap(struct http_req *req, void *aux)
{
    (void) req;
    return cfg_graph_client_status(aux);
}

void
cfg_graph_client_register_introspect(struct cfg_graph_client *c, struct introspect *is,
                                     const char *path)
{
    introspect_add_page(is, path, "IF-MAP session", page_ifmap, c);
}
