/* bgp_xmpp: the control node's XMPP peers: vRouter agents as sources and receivers of routes
 * in the routing instances (the original's BgpXmppChannel).
 *
 * Route channel (reference §2.5-2.8):
 *   - subscribe to an instance (with the agent's instance-id) registers the agent with the
 *     instance's tables and sends it their routes; a subscribe to an instance not configured
 *     yet creates it, so routes wait there for the configuration.  A duplicate subscribe, an
 *     unsubscribe of an instance not subscribed, and a publish to one close the session
 *     (stream error policy-violation), as the original does;
 *   - every published route becomes a path of the agent in the instance's table (inet,
 *     inet6, evpn): next hop the agent's address, its label, source RD agent-IP:instance-id,
 *     tunnel encapsulation, router MAC, security group, MAC mobility extended communities,
 *     communities, local preference and MED (derived from the local preference when zero);
 *     bgp_ri replicates it from there.  Label 0 or more than one next hop are counted and
 *     ignored;
 *   - multicast (erm-vpn) routes make the agent a forwarder of the (G,S) tree of the instance
 *     (bgp_mcast: degree 4, one label from the agent's block); each forwarder is sent its
 *     label (source-label) and its olist (parent and children with their labels);
 *   - every change of a route in a subscribed instance goes to the agent, batched per table
 *     and event-loop turn (32 items / 256 retracts per message), with the best path and the
 *     paths tied with it for ECMP as next hops; End-of-RIB follows the first dump;
 *   - graceful restart helper: when an agent's session drops and the helper is on, its paths
 *     stay, marked stale, until it comes back and sends End-of-RIB, or the restart time ends.
 * Config channel (§2.4): virtual-router / virtual-machine subscriptions go to the config
 * module through struct bgp_xmpp_config_ops, and bgp_xmpp_send_config carries its <config>
 * messages to the agent.
 *
 * Introspect: /Snh_ShowXmppConnectionReq (agents, state, subscriptions, counters),
 * /Snh_ShowMulticastManagerReq (?instance=NAME: trees, forwarders, labels, olists). */
#ifndef CONTRAIL_BGP_XMPP_H
#define CONTRAIL_BGP_XMPP_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "bgp_ri.h"
#include "hmap.h"

struct introspect;

struct bgp_xmpp_config {
    const char *address;        /* Listen address. */
    int port;                   /* 0: any. */
    unsigned hold_time;         /* Seconds (0: 90). */
    const char *subcluster;     /* Agents of another subcluster are refused (NULL: any). */
    bool gr_helper;             /* Keep a restarting agent's paths. */
    unsigned gr_time;           /* Restart time, seconds (0: 300). */
    unsigned eor_delay_ms;      /* End-of-RIB to an agent after its last subscribe (0: 1000). */
};

/* The config module, for the /config channel.  NODE is the subscribe node as sent
 * ("virtual-router:...", "virtual-machine:...").  subscribe returns 0 or an errno (the session
 * is then closed: e.g. a VM before the VR). */
struct bgp_xmpp_config_ops {
    int (*subscribe)(void *aux, const char *agent, const char *node, bool subscribe);
    void (*agent_down)(void *aux, const char *agent);
    void *aux;
};

struct bgp_xmpp {
    struct event_base *base;
    struct bgp_ri_mgr *mgr;
    struct bgp_xmpp_config cfg;
    struct xmpp_server *server;
    struct hmap agents;             /* struct bgp_xmpp_agent, by name. */
    struct bgp_xmpp_config_ops config_ops;
    uint64_t n_ignored_routes;      /* Published routes not accepted (bad label, ...). */
    uint64_t n_closed_policy;       /* Sessions closed for protocol violations. */
    uint64_t n_tx_items, n_tx_retracts, n_rx_routes;
    struct bgp_mcast *mcast;        /* Multicast (erm-vpn) trees of the agents. */
    struct hmap cache;              /* Encoded items of instance routes (bgp_xmpp.c). */
};

/* Starts the XMPP server.  Returns 0 or an errno with a message in ERR. */
int bgp_xmpp_open(struct bgp_xmpp *, struct event_base *, struct bgp_ri_mgr *,
                  const struct bgp_xmpp_config *, char *err, size_t errlen);
/* Closes every session and frees the agents' state (their paths are withdrawn). */
void bgp_xmpp_close(struct bgp_xmpp *);
int bgp_xmpp_port(const struct bgp_xmpp *);

void bgp_xmpp_set_config_ops(struct bgp_xmpp *, const struct bgp_xmpp_config_ops *);
/* Sends one <config> element to AGENT on its /config channel (dropped if it is not up). */
void bgp_xmpp_send_config(struct bgp_xmpp *, const char *agent, const char *config_xml);
/* Changes the graceful-restart helper settings (from the configuration). */
void bgp_xmpp_set_gr(struct bgp_xmpp *, bool helper, unsigned restart_time);

void bgp_xmpp_register_introspect(struct bgp_xmpp *, struct introspect *);

#endif
