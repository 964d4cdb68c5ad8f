/* ctl_ifmap: contrail-control's config feed.
 *
 * Runs the IF-MAP subscription (lib/cfg_graph_client: the IF-MAP server from discovery or
 * from the options, a managed session subscribed to contrail:config-root:root), applies
 * every poll result to the node's config graph (lib/cfg_graph) and hands each batch of
 * changes to the two consumers: ctl_config (this node, its peers, global settings, routing
 * instances) and ctl_agent_config (what each vRouter agent is sent on its config channel).
 * The schema transformer reads the graph the same way (config/schema/st_server). */
#ifndef CONTRAIL_CTL_IFMAP_H
#define CONTRAIL_CTL_IFMAP_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctl_agent_config.h"
#include "ctl_config.h"

struct disc_client;
struct introspect;
struct schema;

struct ctl_ifmap_config {
    const char *hostname;           /* This node's bgp-router name. */
    const char *ifmap_host;         /* Used without DISC. */
    int ifmap_port;
    const char *ifmap_user, *ifmap_password;
    bool ifmap_tls;
    int settle_ms;                  /* See cfg_graph_client; <= 0: default. */
};

struct ctl_ifmap;

/* Starts reading config on BASE.  With DISC (borrowed, may be NULL) the IF-MAP server comes
 * from its IfmapServer entries, else from CFG.  HOOKS report this node's config (see
 * ctl_config.h), SINK the agents' config messages (see ctl_agent_config.h).  Returns NULL with
 * a message in ERR when CFG names no server. */
struct ctl_ifmap *ctl_ifmap_open(struct event_base *, const struct schema *,
                                 const struct ctl_ifmap_config *, struct disc_client *disc,
                                 const struct ctl_config_hooks *hooks, void *hooks_aux,
                                 ctl_agent_config_sink_fn *sink, void *sink_aux,
                                 char *err, size_t errlen);
/* Stops; reports nothing.  NULL accepted. */
void ctl_ifmap_close(struct ctl_ifmap *);

/* The consumers, to query or (agents) to subscribe.  Owned by the feed. */
struct ctl_config *ctl_ifmap_config(struct ctl_ifmap *);
struct ctl_agent_config *ctl_ifmap_agents(struct ctl_ifmap *);
struct cfg_graph *ctl_ifmap_graph(struct ctl_ifmap *);

/* Agent subscriptions change outside a poll: call to send what they changed now. */
void ctl_ifmap_flush(struct ctl_ifmap *);

/* Introspect pages /ifmap (session), /config (ctl_config_to_json) and /agent-config. */
void ctl_ifmap_register_introspect(struct ctl_ifmap *, struct introspect *);

#endif
