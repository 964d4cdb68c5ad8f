/* control_node: contrail-control's pieces and the configuration that drives them.
 *
 * The routing instances (bgp_ri), the BGP speaker (bgp_server), the XMPP server for the
 * agents (bgp_xmpp) and, when an IF-MAP server is given, the configuration feed (ctl_ifmap).
 * Configuration from IF-MAP is applied as it changes:
 *   - global-system-config: the graceful-restart helper settings (BGP and XMPP);
 *   - this node's bgp-router (found by hostname): its identifier and AS are logged when they
 *     differ from the command line (the session parameters come from the command line);
 *   - its peerings: a BGP peer per peering (address, port, AS, hold time, families, MD5 key,
 *     passive, admin-down), added, changed (session restarted) and removed as the config says;
 *   - routing instances: created, given their virtual network index and import/export route
 *     targets, and deleted; the replicas are recomputed once per batch of changes;
 *   - agents' /config subscriptions go to ctl_agent_config, its messages back to the agent. */
#ifndef CONTRAIL_CONTROL_NODE_H
#define CONTRAIL_CONTROL_NODE_H

#include <event2/event.h>
#include <stdbool.h>

#include "bgp_ri.h"
#include "bgp_server.h"
#include "bgp_xmpp.h"

struct ctl_ifmap;
struct introspect;
struct schema;

struct control_node_config {
    struct bgp_server_config bgp;
    struct bgp_xmpp_config xmpp;
    const char *hostname;           /* This node's bgp-router name. */
    /* IF-MAP (NULL host: no configuration feed). */
    const char *ifmap_host;
    int ifmap_port;
    const char *ifmap_user, *ifmap_password;
    bool ifmap_tls;
    bool gr_helper_bgp_allowed, gr_helper_xmpp_allowed;   /* Not disabled on the command line. */
};

struct control_node {
    struct event_base *base;
    struct control_node_config cfg;
    struct bgp_ri_mgr ri;
    struct bgp_server bgp;
    struct bgp_xmpp xmpp;
    struct ctl_ifmap *ifmap;
    struct event *resync;           /* Coalesces instance changes into one resync. */
    uint64_t n_config_peers, n_config_instances;
};

/* Starts the node.  SCHEMA is needed with an IF-MAP feed (borrowed).  Returns 0 or an errno
 * with a message in ERR; control_node_close accepts a node that failed to open. */
int control_node_open(struct control_node *, struct event_base *,
                      const struct control_node_config *, const struct schema *, char *err,
                      size_t errlen);
void control_node_close(struct control_node *);
void control_node_register_introspect(struct control_node *, struct introspect *);

#endif
