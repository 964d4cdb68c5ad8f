/* st_xform: the schema transformer proper: derives routing and security state from the user's
 * intent (config-plane reference §6) and writes it through contrail-api.
 *
 * Input is the graph (cfg_graph) fed from IF-MAP; every graph change goes through a reaction
 * map that queues only the objects whose derived state may depend on it (a policy's networks,
 * a network's primary routing instance and the instances of the networks it connects to, a
 * route target whose users changed, ...).  Evaluating an object compares what it should have
 * with what the graph holds and writes only the difference; the transformer's own writes are
 * applied to the graph as soon as they are answered.
 *
 * Derived today:
 *   - a route target per primary routing instance from the allocator (st_rtalloc), named
 *     target:<ASN>:<n> with the ASN of global-system-config (renamed when it changes), the
 *     route-target objects, and the instance's references to them (InstanceTargetType: none
 *     for the allocated one and route_target_list, "import" / "export" for the
 *     import_/export_route_target_list of the network); ip-fabric and __link_local__ get none;
 *   - a route target per logical router (§6.4), added with its configured ones to the
 *     primary instances of the networks its interfaces are in;
 *   - references between the primary instances of every pair of networks whose policies both
 *     pass traffic to the other (§6.1);
 *   - the static and "dynamic" ACLs of each network from its policies, and the ingress / egress
 *     ACLs of each security group (§6.2, st_rules), skipped when access_control_list_hash
 *     already matches;
 *   - service chains (§6.3) from apply_service rules: a chain per identity (uuid derived from
 *     it, see st_rules), its service routing instances with their targets, connections and
 *     service_chain_information, the service interfaces' references to them (transparent:
 *     VLAN and an instance-ip chain address from the left network); removed with the rule;
 *   - BGP as a service (§6.5): bgpaas-server / bgpaas-client routers in the interfaces'
 *     primary instances, source ports 50000-50511 rebuilt from the routers themselves;
 *   - deletion of what nobody should own any more: route-target objects no instance or router
 *     refers to and nothing needs, ACLs of networks without policies, stray ACL children.
 *
 * It acts only while active: leader (st_xform_set_leader), with the whole graph received
 * (IF-MAP's initial search result) and an API server to write to.  On becoming active it
 * rebuilds the allocator from the graph and reconciles everything; a restart or takeover with
 * nothing changed therefore writes nothing. */
#ifndef CONTRAIL_ST_XFORM_H
#define CONTRAIL_ST_XFORM_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "ifmap_client.h"
#include "schema.h"

struct st_api;
struct cfg_graph;
struct st_xform;
struct introspect;

struct st_xform_config {
    bool logical_routers_enabled;   /* The trailing ACL rules of §6.2 (default true). */
    int settle_ms;                  /* Quiet time that ends the initial graph (default 300). */
};

/* Whether writing is still allowed (the leader's lease holds). */
typedef bool st_xform_guard_fn(void *aux);

struct st_xform *st_xform_create(struct event_base *, const struct schema *, struct st_api *,
                                 const struct st_xform_config *);
void st_xform_destroy(struct st_xform *);

void st_xform_set_guard(struct st_xform *, st_xform_guard_fn *, void *aux);

/* A new IF-MAP session: the graph is dropped and received again. */
void st_xform_session_reset(struct st_xform *);
/* One poll's results. */
void st_xform_poll(struct st_xform *, const struct ifmap_client_item *items, size_t n);
/* Leadership changed. */
void st_xform_set_leader(struct st_xform *, bool leader);
/* The API server may have become available: re-checks whether to become active. */
void st_xform_api_changed(struct st_xform *);

bool st_xform_active(const struct st_xform *);
struct cfg_graph *st_xform_graph(struct st_xform *);

/* Introspect pages /networks, /instances, /connections, /chains, /counters and counters for
 * /metrics. */
void st_xform_register_introspect(struct st_xform *, struct introspect *);

#endif
