/* ctl_agent_config: the configuration contrail-control sends each vRouter agent on its XMPP
 * config channel (control-compute reference §2.4; config-plane reference §5.2).
 *
 * An agent subscribes to its virtual-router ("virtual-router:default-global-system-config:
 * NAME") and then to the virtual machines that get a port on it ("virtual-machine:UUID").
 * The control node sends it the part of the config graph reachable from those objects along
 * a fixed set of links, and keeps it up to date as the graph changes.
 *
 * Reachability follows the original's traversal white list (IFMapGraphWalker::
 * AddLinksToWhitelist, R3.x), an edge being allowed by the types of the node it is walked
 * from and the node it goes to, over parent/child links and references in either direction:
 *   virtual-router -> virtual-machine, bgp-router, global-system-config, provider-attachment
 *   virtual-machine -> virtual-machine-interface, service-instance
 *   virtual-machine-interface -> virtual-machine, virtual-network, instance-ip, floating-ip,
 *       security-group, routing-instance, interface-route-table, customer-attachment
 *   virtual-network -> routing-instance, access-control-list, network-ipam,
 *       floating-ip-pool, logical-interface
 *   floating-ip -> floating-ip-pool; floating-ip-pool -> virtual-network
 *   security-group -> access-control-list
 *   network-ipam -> virtual-DNS; domain -> virtual-DNS, namespace;
 *   virtual-DNS -> virtual-DNS-record
 *   global-system-config -> global-vrouter-config
 *   bgp-router -> physical-router; physical-router -> physical-interface
 *   service-instance -> service-template, loadbalancer-pool; service-template -> domain
 *   loadbalancer-pool -> virtual-ip, loadbalancer-member, loadbalancer-healthmonitor
 * The original walked link-attribute nodes (virtual-network-network-ipam, virtual-machine-
 * interface-routing-instance); here those are references with attributes, so the walk goes
 * straight to the far end.  Added to the R3.x list, as later releases had them:
 *   virtual-network -> network-policy, qos-config; virtual-machine-interface -> qos-config,
 *   service-health-check.
 * Types the schema does not have are skipped.  Only existing objects are reachable.  A
 * virtual machine subscribed by uuid is a start of the walk too (the original added a
 * virtual-router-virtual-machine link for it in its own graph; here no such link is sent
 * unless the virtual-router refers to the VM).  A link is sent when both of its ends are sent,
 * whatever its type.
 *
 * Messages: <config> elements holding <update> and <delete> blocks, at most 16 objects (nodes
 * or links) per <config> (kObjectsPerMessage):
 *   <node type="virtual-network"><name>default-domain:admin:vn1</name>
 *     <virtual-network-properties>...</virtual-network-properties>...</node>
 * with every property in schema order, as the XSD serialization lib/vnc_ifmap renders for
 * IF-MAP (id-perms trimmed to uuid and enable), and
 *   <link><node type="virtual-network"><name>...</name></node>
 *     <node type="routing-instance"><name>...</name></node>
 *     <metadata type="virtual-network-routing-instance"/></link>
 * parent first for a parent link, referrer first for a reference, the link attribute's
 * elements inside <metadata> when it has one.  A delete names the node (type and name) or
 * the link (its two nodes and metadata type).  Order: new and changed nodes, then new and
 * changed links, then links to delete, then nodes to delete.
 *
 * Per agent, what was sent is kept (each node's and link's rendered XML), so that a graph
 * change sends only the difference: ctl_agent_config_graph_changed() marks changed objects,
 * and ctl_agent_config_flush() walks again only the agents holding one of them. */
#ifndef CONTRAIL_CTL_AGENT_CONFIG_H
#define CONTRAIL_CTL_AGENT_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg_graph.h"

#define CTL_AGENT_CONFIG_OBJECTS_PER_MESSAGE 16

/* One <config>...</config> element for AGENT (NUL-terminated XML text, valid during the
 * call): the caller wraps it in <iq type="set" ... to="AGENT/config">. */
typedef void ctl_agent_config_sink_fn(void *aux, const char *agent, const char *xml);

struct ctl_agent_config;

/* Serves agents from GRAPH (borrowed); the graph's change callback must pass every change
 * to ctl_agent_config_graph_changed(). */
struct ctl_agent_config *ctl_agent_config_create(struct cfg_graph *graph,
                                                 ctl_agent_config_sink_fn *, void *aux);
/* NULL accepted.  Sends nothing. */
void ctl_agent_config_destroy(struct ctl_agent_config *);

/* AGENT (its XMPP name) subscribes to its virtual-router VR_NAME, the fq name after
 * "virtual-router:" ("default-global-system-config:compute1").  The agent's config is sent
 * at the next flush (when the graph is synced).  A subscription of a known agent to another
 * virtual-router replaces the old one (the next flush sends the difference).  Returns 0,
 * EEXIST when the agent is subscribed to VR_NAME already, or EINVAL for an empty name. */
int ctl_agent_config_subscribe_vr(struct ctl_agent_config *, const char *agent,
                                  const char *vr_name);
/* Forgets AGENT (its channel is gone; nothing is sent).  Returns 0 or ENOENT. */
int ctl_agent_config_unsubscribe_vr(struct ctl_agent_config *, const char *agent);
/* AGENT subscribes to / unsubscribes from the virtual machine whose uuid is VM_UUID (it need
 * not exist yet).  Returns 0, EPERM when the agent has no VR subscription (the original
 * rejects a VM subscribe before the VR one), EEXIST / ENOENT for a repeated subscribe or
 * an unknown unsubscribe. */
int ctl_agent_config_subscribe_vm(struct ctl_agent_config *, const char *agent,
                                  const char *vm_uuid);
int ctl_agent_config_unsubscribe_vm(struct ctl_agent_config *, const char *agent,
                                    const char *vm_uuid);

/* The graph's change callback (see cfg_graph_change_fn). */
void ctl_agent_config_graph_changed(struct ctl_agent_config *, struct cfg_obj *,
                                    enum cfg_change, const char *field, struct cfg_obj *other);
/* Sends every affected agent its update (nothing before the first ctl_agent_config_synced). */
void ctl_agent_config_flush(struct ctl_agent_config *);
/* The graph is about to be cleared (a new IF-MAP session): stop sending until synced.  Call
 * before cfg_graph_clear(). */
void ctl_agent_config_reset(struct ctl_agent_config *);
/* The graph is complete: every agent gets what differs from what it was sent before. */
void ctl_agent_config_synced(struct ctl_agent_config *);

/* Introspect: {"agents": {NAME: {"virtual_router", "virtual_machines", "nodes", "links",
 * "messages"}}}; a new reference. */
json_t *ctl_agent_config_to_json(const struct ctl_agent_config *);
/* The number of nodes and links sent to AGENT (false: unknown agent). */
bool ctl_agent_config_sent(const struct ctl_agent_config *, const char *agent,
                           size_t *n_nodes, size_t *n_links);

#endif
