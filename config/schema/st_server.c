/* st_server: contrail-schema's connections (see st_server.h). */
#include "st_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coord.h"
#include "disc_client.h"
#include "ifmap_client.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "st_api.h"
#include "st_xform.h"
#include "vnc_ifmap.h"

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
    struct ifmap_client *ifmap;
    char *ifmap_host;
    int ifmap_port;
    uint64_t ifmap_sessions;
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
subscribed(void *aux, const struct ifmap_client_reply *rep)
{
    if (rep->error) {
        LOG_ERR("IF-MAP subscribe failed: %s %s", rep->error_code ? rep->error_code : "",
                rep->message ? rep->message : "");
    }
}

static void
on_session(void *aux, const char *session_id)
{
    struct st_server *s = aux;
    s->ifmap_sessions++;
    LOG_NOTICE("IF-MAP session %s: subscribing to the whole graph", session_id);
    st_xform_session_reset(s->xform);
    ifmap_client_subscribe(s->ifmap, "root", VNC_IFMAP_ROOT_NAME, 255, NULL, subscribed, s);
}

static void
on_poll(void *aux, const struct ifmap_client_item *items, size_t n)
{
    struct st_server *s = aux;
    for (size_t i = 0; i < n; i++) {
        if (items[i].kind == IFMAP_ITEM_ERROR) {
            /* The server dropped the subscription (PollResultsTooBig): updates were lost, so
             * start over from a new full search result. */
            LOG_ERR("IF-MAP subscription dropped (%s): subscribing again",
                    items[i].error_code ? items[i].error_code : "?");
            st_xform_session_reset(s->xform);
            ifmap_client_subscribe(s->ifmap, "root", VNC_IFMAP_ROOT_NAME, 255, NULL,
                                   subscribed, s);
            return;
        }
    }
    st_xform_poll(s->xform, items, n);
}

static void
set_ifmap(struct st_server *s, const char *host, int port)
{
    if (s->ifmap && !strcmp(s->ifmap_host, host) && s->ifmap_port == port) {
        return;
    }
    ifmap_client_destroy(s->ifmap);
    s->ifmap = NULL;
    mem_free(&mem_type_st_server, s->ifmap_host);
    s->ifmap_host = mem_strdup(&mem_type_st_server, host);
    s->ifmap_port = port;
    char err[256];
    s->ifmap = ifmap_client_create(s->base, host, port, s->cfg.ifmap_user,
                                   s->cfg.ifmap_password, s->cfg.ifmap_tls, false, err,
                                   sizeof err);
    if (!s->ifmap) {
        LOG_ERR("IF-MAP client for %s:%d: %s", host, port, err);
        return;
    }
    LOG_NOTICE("reading the config graph from IF-MAP at %s:%d", host, port);
    ifmap_client_set_callbacks(s->ifmap, on_session, on_poll, s);
    ifmap_client_start(s->ifmap);
}

/* The first instance of a discovery answer: host and port. */
static bool
first_instance(const json_t *instances, char *host, size_t size, int *port)
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
on_api_server(void *aux, const json_t *instances)
{
    struct st_server *s = aux;
    char host[256];
    int port;
    if (first_instance(instances, host, sizeof host, &port)) {
        st_api_set_server(s->api, host, port);
        st_xform_api_changed(s->xform);
    }
}

static void
on_ifmap_server(void *aux, const json_t *instances)
{
    struct st_server *s = aux;
    char host[256];
    int port;
    if (first_instance(instances, host, sizeof host, &port)) {
        set_ifmap(s, host, port);
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
        disc_client_subscribe(s->disc, "IfmapServer", 1, on_ifmap_server, s);
    } else {
        if (!cfg->api_host || !*cfg->api_host || !cfg->ifmap_host || !*cfg->ifmap_host) {
            snprintf(err, errlen, "give --disc_server_ip, or --api_server_ip and "
                     "--ifmap_server_ip");
            st_server_close(s);
            return NULL;
        }
        st_api_set_server(s->api, cfg->api_host, cfg->api_port);
        set_ifmap(s, cfg->ifmap_host, cfg->ifmap_port);
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
    disc_client_destroy(s->disc);
    ifmap_client_destroy(s->ifmap);
    st_api_destroy(s->api);
    st_xform_destroy(s->xform);
    mem_free(&mem_type_st_server, s->ifmap_host);
    mem_free(&mem_type_st_server, s);
}

static json_t *
page_ifmap(struct http_req *req, void *aux)
{
    struct st_server *s = aux;
    struct ifmap_client_stats st = { 0 };
    if (s->ifmap) {
        ifmap_client_get_stats(s->ifmap, &st);
    }
    const char *sid = s->ifmap ? ifmap_client_session_id(s->ifmap) : NULL;
    return xjson_pack("{sssisssIsIsIsIsI}", "server", s->ifmap_host ? s->ifmap_host : "",
                      "port", s->ifmap_port, "session", sid ? sid : "",
                      "sessions", (json_int_t) st.sessions, "polls", (json_int_t) st.polls,
                      "items", (json_int_t) st.items, "errors", (json_int_t) st.errors,
                      "reconnects", (json_int_t) st.reconnects);
}

void
st_server_register_introspect(struct st_server *s, struct introspect *is)
{
    st_xform_register_introspect(s->xform, is);
    introspect_add_page(is, "/ifmap", "IF-MAP session", page_ifmap, s);
}
