/* control_node: contrail-control's pieces and their configuration.  See control_node.h. */
#include "control_node.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl_ifmap.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(control_node);

static MEM_TYPE(mem_control_node, "control_node");

/* --- Configuration: global, self, peers ---------------------------------------------------- */

static void
on_global(void *aux, enum ctl_config_op op, const struct ctl_config_global *g)
{
    struct control_node *c = aux;
    bool del = op == CTL_CONFIG_DELETE;
    bool bgp = c->cfg.gr_helper_bgp_allowed && !del && g->gr.enable && g->gr.bgp_helper_enable;
    bool xmpp = c->cfg.gr_helper_xmpp_allowed && !del && g->gr.enable
        && g->gr.xmpp_helper_enable;
    c->bgp.cfg.gr_helper = bgp;
    bgp_xmpp_set_gr(&c->xmpp, xmpp, del ? 0 : (unsigned) g->gr.restart_time);
    if (!del && g->asn && g->asn != c->bgp.local.asn) {
        LOG_WARN("global-system-config says AS %u, this node runs AS %u (restart to change)",
                 g->asn, c->bgp.local.asn);
    }
    LOG_INFO("global config %s: graceful restart helper bgp=%d xmpp=%d",
             ctl_config_op_name(op), bgp, xmpp);
}

static void
on_self(void *aux, enum ctl_config_op op, const struct ctl_config_router *r)
{
    struct control_node *c = aux;
    if (op == CTL_CONFIG_DELETE) {
        LOG_WARN("this node's bgp-router %s was deleted", r->name);
        return;
    }
    struct in_addr id;
    if (r->identifier && inet_pton(AF_INET, r->identifier, &id) == 1
        && ntohl(id.s_addr) != c->bgp.local.router_id) {
        LOG_WARN("bgp-router %s has identifier %s, unlike this node's (restart to change)",
                 r->name, r->identifier);
    }
    LOG_INFO("this node's bgp-router %s: %s", r->name, ctl_config_op_name(op));
}

/* Builds the BGP session parameters of peer P.  Returns false (logged) when unusable. */
static bool
peer_config(struct control_node *c, const struct ctl_config_peer *p, struct bgp_peer_config *pc)
{
    char spec[256];
    snprintf(spec, sizeof spec, "%s port %d name %s%s", p->address ? p->address : "",
             p->port > 0 ? p->port : 179, p->name, p->passive ? " passive" : "");
    char err[256];
    if (bgp_server_parse_peer(&c->bgp, spec, pc, err, sizeof err)) {
        LOG_WARN("peer %s: %s", p->name, err);
        return false;
    }
    if (p->asn) {
        pc->peer_as = p->asn;
    }
    if (p->hold_time > 0 && p->hold_time <= 65535) {
        pc->hold_time = (uint16_t) p->hold_time;
    }
    uint32_t families = 0;
    for (size_t i = 0; i < p->n_families; i++) {
        int f = bgp_family_from_name(p->families[i]);
        if (f >= 0) {
            families |= 1u << f;
        }
    }
    if (families) {
        pc->families = families;
    }
    if (p->auth.key_type && p->auth.key && !strcmp(p->auth.key_type, "md5")) {
        snprintf(pc->password, sizeof pc->password, "%s", p->auth.key);
    }
    return true;
}

static bool
peer_config_equal(const struct bgp_peer_config *a, const struct bgp_peer_config *b)
{
    return !strcmp(a->name, b->name) && !memcmp(&a->addr, &b->addr, sizeof a->addr)
        && a->peer_as == b->peer_as && a->hold_time == b->hold_time
        && a->passive == b->passive && !strcmp(a->password, b->password)
        && a->families == b->families;
}

static void
on_peer(void *aux, enum ctl_config_op op, const struct ctl_config_peer *p)
{
    struct control_node *c = aux;
    struct bgp_peer_config pc;
    if (!peer_config(c, p, &pc)) {
        return;
    }
    struct bgp_peer *old = bgp_server_find_peer(&c->bgp, &pc.addr);
    if (op == CTL_CONFIG_DELETE || p->admin_down) {
        if (old) {
            bgp_server_remove_peer(&c->bgp, old);
            c->n_config_peers--;
        }
        return;
    }
    if (old && peer_config_equal(&old->cfg, &pc)) {
        return;
    }
    if (old) {
        bgp_server_remove_peer(&c->bgp, old);
        c->n_config_peers--;
    }
    char err[256];
    if (bgp_server_add_peer(&c->bgp, &pc, err, sizeof err)) {
        LOG_WARN("peer %s: %s", p->name, err);
        return;
    }
    c->n_config_peers++;
    LOG_INFO("peer %s (%s port %d) %s", p->name, p->address, p->port > 0 ? p->port : 179,
             old ? "changed" : "added");
}

/* --- Configuration: routing instances ---------------------------------------------------- */

static uint64_t *
parse_targets(char **v, size_t n, size_t *out_n)
{
    uint64_t *rts = mem_zalloc(&mem_control_node, (n ? n : 1) * sizeof *rts);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ctl_config_parse_target(v[i], &rts[k])) {
            k++;
        } else {
            LOG_WARN("route target '%s' not understood", v[i]);
        }
    }
    *out_n = k;
    return rts;
}

static void
schedule_resync(struct control_node *c)
{
    event_active(c->resync, 0, 0);
}

static void
resync_cb(evutil_socket_t fd, short what, void *aux)
{
    struct control_node *c = aux;
    bgp_ri_mgr_resync(&c->ri);
}

static void
on_instance(void *aux, enum ctl_config_op op, const struct ctl_config_instance *inst)
{
    struct control_node *c = aux;
    if (inst->is_master) {
        return;
    }
    if (op == CTL_CONFIG_DELETE) {
        struct bgp_ri *ri = bgp_ri_find(&c->ri, inst->name);
        if (!ri) {
            return;
        }
        c->n_config_instances--;
        if (ri->subscribers) {
            /* As the original: an instance agents still subscribe to stays, without its
             * configuration, until the last of them unsubscribes. */
            ri->delete_pending = true;
            bgp_ri_configure(&c->ri, ri, 0, NULL, NULL, 0, NULL, 0);
            ri->configured = false;
            schedule_resync(c);
        } else {
            bgp_ri_delete(&c->ri, ri);
        }
        return;
    }
    struct bgp_ri *ri = bgp_ri_locate(&c->ri, inst->name);
    ri->delete_pending = false;
    size_t ni, ne;
    uint64_t *imp = parse_targets(inst->import_targets, inst->n_import_targets, &ni);
    uint64_t *exp = parse_targets(inst->export_targets, inst->n_export_targets, &ne);
    bgp_ri_configure(&c->ri, ri, inst->vn_index > 0 ? (uint32_t) inst->vn_index : 0,
                     inst->vn_name, imp, ni, exp, ne);
    mem_free(&mem_control_node, imp);
    mem_free(&mem_control_node, exp);
    if (op == CTL_CONFIG_ADD) {
        c->n_config_instances++;
    }
    schedule_resync(c);
}

static const struct ctl_config_hooks config_hooks = {
    .global = on_global,
    .self = on_self,
    .peer = on_peer,
    .instance = on_instance,
};

/* --- Agents' configuration ----------------------------------------------------------------- */

static void
agent_config_sink(void *aux, const char *agent, const char *xml)
{
    struct control_node *c = aux;
    bgp_xmpp_send_config(&c->xmpp, agent, xml);
}

static int
agent_config_subscribe(void *aux, const char *agent, const char *node, bool subscribe)
{
    struct control_node *c = aux;
    struct ctl_agent_config *ac = ctl_ifmap_agents(c->ifmap);
    int rc;
    if (!strncmp(node, "virtual-router:", 15)) {
        rc = subscribe ? ctl_agent_config_subscribe_vr(ac, agent, node + 15)
                       : ctl_agent_config_unsubscribe_vr(ac, agent);
    } else if (!strncmp(node, "virtual-machine:", 16)) {
        rc = subscribe ? ctl_agent_config_subscribe_vm(ac, agent, node + 16)
                       : ctl_agent_config_unsubscribe_vm(ac, agent, node + 16);
    } else {
        rc = EINVAL;
    }
    ctl_ifmap_flush(c->ifmap);
    return rc;
}

static void
agent_config_down(void *aux, const char *agent)
{
    struct control_node *c = aux;
    ctl_agent_config_unsubscribe_vr(ctl_ifmap_agents(c->ifmap), agent);
}

/* --- Lifecycle --------------------------------------------------------------------------- */

int
control_node_open(struct control_node *c, struct event_base *base,
                  const struct control_node_config *cfg, const struct schema *schema,
                  char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    c->base = base;
    c->cfg = *cfg;
    bgp_ri_mgr_init(&c->ri, cfg->bgp.asn, cfg->bgp.router_id);
    c->resync = event_new(base, -1, 0, resync_cb, c);
    int rc = bgp_server_open(&c->bgp, base, &cfg->bgp, &c->ri, err, errlen);
    if (!rc) {
        rc = bgp_xmpp_open(&c->xmpp, base, &c->ri, &cfg->xmpp, err, errlen);
    }
    if (!rc && cfg->ifmap_host) {
        struct ctl_ifmap_config ic = {
            .hostname = cfg->hostname,
            .ifmap_host = cfg->ifmap_host,
            .ifmap_port = cfg->ifmap_port,
            .ifmap_user = cfg->ifmap_user,
            .ifmap_password = cfg->ifmap_password,
            .ifmap_tls = cfg->ifmap_tls,
        };
        c->ifmap = ctl_ifmap_open(base, schema, &ic, NULL, &config_hooks, c, agent_config_sink,
                                  c, err, errlen);
        if (!c->ifmap) {
            rc = EINVAL;
        } else {
            struct bgp_xmpp_config_ops ops = { .subscribe = agent_config_subscribe,
                                               .agent_down = agent_config_down, .aux = c };
            bgp_xmpp_set_config_ops(&c->xmpp, &ops);
        }
    }
    return rc;
}

void
control_node_close(struct control_node *c)
{
    ctl_ifmap_close(c->ifmap);
    c->ifmap = NULL;
    if (c->xmpp.server) {
        bgp_xmpp_close(&c->xmpp);
    }
    bgp_server_close(&c->bgp);
    if (c->resync) {
        event_free(c->resync);
        c->resync = NULL;
    }
    bgp_ri_mgr_destroy(&c->ri);
}

void
control_node_register_introspect(struct control_node *c, struct introspect *is)
{
    bgp_server_register_introspect(&c->bgp, is);
    bgp_xmpp_register_introspect(&c->xmpp, is);
    if (c->ifmap) {
        ctl_ifmap_register_introspect(c->ifmap, is);
    }
    introspect_add_counter(is, "config_peers", "BGP peers from the configuration",
                           &c->n_config_peers);
    introspect_add_counter(is, "config_instances", "routing instances from the configuration",
                           &c->n_config_instances);
}
