/* st_server: contrail-schema's connections (see st_server.h). */
#include "st_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg_graph_client.h"
#include "coord.h"
#include "disc_client.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "st_api.h"
#include "st_xform.h"

LOG_MODULE(st_server);

static MEM_TYPE(mem_type_st_server, "st_server");

struct st_server {
    struct event_base *base;
    struct st_server_config cfg;
    struct coord *coord;
    struct coord_election *election;
    struct disc_client *disc;
    struct st_api *api;
    struct st_xform *xform;
    struct cfg_graph_client *ifmap;
};

static bool
guard(void *aux)
{
    struct st_server *s = aux;
    return coord_is_leader(s->election);
}

static void
on_leader(void *aux, bool is_leader)
{
    struct st_server *s = aux;
    st_xform_set_leader(s->xform, is_leader);
}

static void
on_reset(void *aux)
{
    struct st_server *s = aux;
    st_xform_session_reset(s->xform);
}

static void
on_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct st_server *s = aux;
    st_xform_poll(s->xform, items, n);
}

static void
on_api_server(void *aux, const json_t *instances)
{
    struct st_server *s = aux;
    char host[256];
    int port;
    if (cfg_graph_client_disc_first(instances, host, sizeof host, &port)) {
        st_api_set_server(s->api, host, port);
        st_xform_api_changed(s->xform);
    }
}

struct st_server *
st_server_open(struct event_base *base, const struct schema *schema, struct coord *coord,
               const struct st_server_config *cfg, char *err, size_t errlen)
{
    struct st_server *s = mem_zalloc(&mem_type_st_server, sizeof *s);
    s->base = base;
    s->cfg = *cfg;
    s->coord = coord;
    s->api = st_api_create(base, cfg->api_conns);
    struct st_xform_config xc = { .logical_routers_enabled = cfg->logical_routers_enabled };
    s->xform = st_xform_create(base, schema, s->api, &xc);
    st_xform_set_guard(s->xform, guard, s);
    struct cfg_graph_client_config gc = {
        .user = cfg->ifmap_user, .password = cfg->ifmap_password, .tls = cfg->ifmap_tls,
    };
    static const struct cfg_graph_client_hooks hooks = {
        .reset = on_reset, .poll = on_poll,
    };
    s->ifmap = cfg_graph_client_create(base, &gc, &hooks, s);
    if (cfg->disc_servers && *cfg->disc_servers) {
        char host[256], client[300];
        if (gethostname(host, sizeof host)) {
            snprintf(host, sizeof host, "localhost");
        }
        host[sizeof host - 1] = '\0';
        snprintf(client, sizeof client, "%s:contrail-schema", host);
        s->disc = disc_client_create(base, cfg->disc_servers, client, "contrail-schema");
        if (!s->disc) {
            snprintf(err, errlen, "disc_server_ip '%s' names no server", cfg->disc_servers);
            st_server_close(s);
            return NULL;
        }
        disc_client_subscribe(s->disc, "ApiServer", 1, on_api_server, s);
        cfg_graph_client_use_discovery(s->ifmap, s->disc);
    } else {
        if (!cfg->api_host || !*cfg->api_host || !cfg->ifmap_host || !*cfg->ifmap_host) {
            snprintf(err, errlen, "give --disc_server_ip, or --api_server_ip and "
                     "--ifmap_server_ip");
            st_server_close(s);
            return NULL;
        }
        st_api_set_server(s->api, cfg->api_host, cfg->api_port);
        cfg_graph_client_set_server(s->ifmap, cfg->ifmap_host, cfg->ifmap_port);
    }
    s->election = coord_elect(coord, "/schema-transformer", cfg->election_id, on_leader, s);
    return s;
}

void
st_server_close(struct st_server *s)
{
    if (!s) {
        return;
    }
    coord_resign(s->election);
    cfg_graph_client_destroy(s->ifmap);
    disc_client_destroy(s->disc);
    st_api_destroy(s->api);
    st_xform_destroy(s->xform);
    mem_free(&mem_type_st_server, s);
}

void
st_server_register_introspect(struct st_server *s, struct introspect *is)
{
    st_xform_register_introspect(s->xform, is);
    cfg_graph_client_register_introspect(s->ifmap, is, "/ifmap");
}
