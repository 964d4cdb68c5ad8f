/* ctl_ifmap: contrail-control's config feed (see ctl_ifmap.h). */
#include "ctl_ifmap.h"

#include <stdio.h>

#include "cfg_graph.h"
#include "cfg_graph_client.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(ctl_ifmap);

static MEM_TYPE(mem_type_ctl_ifmap, "ctl_ifmap");

struct ctl_ifmap {
    struct cfg_graph *graph;
    struct cfg_graph_client *client;
    struct ctl_config *config;
    struct ctl_agent_config *agents;
    uint64_t bad_items;
};

static void
graph_changed(void *aux, struct cfg_obj *o, enum cfg_change what, const char *field,
              struct cfg_obj *other)
{
    struct ctl_ifmap *f = aux;
    ctl_config_graph_changed(f->config, o, what, field, other);
    ctl_agent_config_graph_changed(f->agents, o, what, field, other);
}

static void
on_reset(void *aux)
{
    struct ctl_ifmap *f = aux;
    ctl_config_reset(f->config);
    ctl_agent_config_reset(f->agents);
    cfg_graph_clear(f->graph);
}

static void
on_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct ctl_ifmap *f = aux;
    for (size_t i = 0; i < n; i++) {
        f->bad_items += cfg_graph_apply(f->graph, &items[i]);
    }
    ctl_ifmap_flush(f);
}

static void
on_synced(void *aux)
{
    struct ctl_ifmap *f = aux;
    LOG_NOTICE("config graph complete: %zu objects", cfg_graph_count(f->graph));
    ctl_config_synced(f->config);
    ctl_agent_config_synced(f->agents);
}

struct ctl_ifmap *
ctl_ifmap_open(struct event_base *base, const struct schema *schema,
               const struct ctl_ifmap_config *cfg, struct disc_client *disc,
               const struct ctl_config_hooks *hooks, void *hooks_aux,
               ctl_agent_config_sink_fn *sink, void *sink_aux, char *err, size_t errlen)
{
    if (!disc && (!cfg->ifmap_host || !*cfg->ifmap_host)) {
        snprintf(err, errlen, "give a discovery server or the IF-MAP server's address");
        return NULL;
    }
    struct ctl_ifmap *f = mem_zalloc(&mem_type_ctl_ifmap, sizeof *f);
    f->graph = cfg_graph_create(schema, graph_changed, f);
    f->config = ctl_config_create(f->graph, cfg->hostname, hooks, hooks_aux);
    f->agents = ctl_agent_config_create(f->graph, sink, sink_aux);
    struct cfg_graph_client_config cc = {
        .user = cfg->ifmap_user, .password = cfg->ifmap_password, .tls = cfg->ifmap_tls,
        .settle_ms = cfg->settle_ms,
    };
    static const struct cfg_graph_client_hooks client_hooks = {
        .reset = on_reset, .poll = on_poll, .synced = on_synced,
    };
    f->client = cfg_graph_client_create(base, &cc, &client_hooks, f);
    if (disc) {
        cfg_graph_client_use_discovery(f->client, disc);
    } else {
        cfg_graph_client_set_server(f->client, cfg->ifmap_host, cfg->ifmap_port);
    }
    return f;
}

void
ctl_ifmap_close(struct ctl_ifmap *f)
{
    if (!f) {
        return;
    }
    cfg_graph_client_destroy(f->client);
    ctl_agent_config_destroy(f->agents);
    ctl_config_destroy(f->config);
    cfg_graph_destroy(f->graph);
    mem_free(&mem_type_ctl_ifmap, f);
}

struct ctl_config *
ctl_ifmap_config(struct ctl_ifmap *f)
{
    return f->config;
}

struct ctl_agent_config *
ctl_ifmap_agents(struct ctl_ifmap *f)
{
    return f->agents;
}

struct cfg_graph *
ctl_ifmap_graph(struct ctl_ifmap *f)
{
    return f->graph;
}

void
ctl_ifmap_flush(struct ctl_ifmap *f)
{
    ctl_config_flush(f->config);
    ctl_agent_config_flush(f->agents);
}

static json_t *
page_config(struct http_req *req, void *aux)
{
    (void) req;
    struct ctl_ifmap *f = aux;
    json_t *j = ctl_config_to_json(f->config);
    json_object_set_new(j, "graph_objects", json_integer((json_int_t) cfg_graph_count(f->graph)));
    json_object_set_new(j, "bad_items", json_integer((json_int_t) f->bad_items));
    return j;
}

static json_t *
page_agents(struct http_req *req, void *aux)
{
    (void) req;
    struct ctl_ifmap *f = aux;
    return ctl_agent_config_to_json(f->agents);
}

void
ctl_ifmap_register_introspect(struct ctl_ifmap *f, struct introspect *is)
{
    cfg_graph_client_register_introspect(f->client, is, "/ifmap");
    introspect_add_page(is, "/config", "Config of this control node", page_config, f);
    introspect_add_page(is, "/agent-config", "Config sent to agents", page_agents, f);
}
