/* bgp_ri: routing instances, their tables, and route replication between them.
 *
 * The master instance (default-domain:default-project:ip-fabric:__default__) holds inet.0,
 * inet6.0 and the VPN tables bgp.l3vpn.0, bgp.l3vpn-inet6.0, bgp.evpn.0 and bgp.rtarget.0,
 * which are what BGP peers exchange.  Every other instance (a virtual network's VRF) holds
 * NAME.inet.0, NAME.inet6.0 and NAME.evpn.0, which is what XMPP agents exchange; its
 * prefixes carry no route distinguisher.
 *
 * Replication follows the original's RoutePathReplicator (reference §3.5): for each route,
 * the primary (not replicated) paths that tie with the best path for ECMP are copied
 *   - from an instance's table into the VPN table of the family, as RD:prefix where RD is the
 *     path's source RD (agent-IP:instance-id) or else router-id:instance-index, with the
 *     instance's export route targets and its origin-VN extended community added;
 *   - from an instance's table straight into every other instance whose import targets meet
 *     the path's targets (its own plus the instance's export targets);
 *   - from a VPN table into every instance whose import targets meet the path's targets.
 * Replicated paths are never replicated again.  Each route records the replicas it made, so
 * a change of the route (or of the instances' targets: bgp_ri_mgr_resync) recomputes the set
 * and removes stale replicas.
 *
 * Route-target filtering (§3.6): while at least one agent subscribes to an instance, the
 * manager originates a route-target route (local AS : target) in bgp.rtarget.0 for each of
 * the instance's import targets. */
#ifndef CONTRAIL_BGP_RI_H
#define CONTRAIL_BGP_RI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bgp_rib.h"
#include "hmap.h"

#define BGP_RI_MASTER "default-domain:default-project:ip-fabric:__default__"
#define BGP_RI_MAX_LISTENERS 4

struct bgp_ri {
    struct hmap_node node;          /* In the manager, by name. */
    char *name;
    bool master;
    bool deleted;                   /* Being removed: imports nothing. */
    bool delete_pending;            /* Deleted from config while agents subscribe: goes
                                     * with the last unsubscribe (bgp_ri_unsubscribe). */
    bool configured;                /* bgp_ri_configure was called (cleared by the owner
                                     * when the configuration deletes it). */
    uint32_t index;                 /* Instance index (RD of its own routes). */
    uint32_t vn_index;              /* virtual-network-network-id; 0: none. */
    char *vn_name;                  /* The virtual network's fq name, or NULL. */
    uint64_t *import_rts, *export_rts;  /* Route-target extended communities. */
    size_t n_import, n_export;
    unsigned int subscribers;       /* Agents subscribed (bgp_ri_subscribe). */
    struct bgp_table *tables[BGP_FAM_N];    /* NULL for families the instance lacks. */
    void *user;                     /* For the XMPP side. */
};

struct bgp_ri_mgr;

/* Route changes, for the exporters (BGP peers watch the master, agents the others). */
struct bgp_ri_listener {
    void (*route_changed)(struct bgp_ri *, struct bgp_table *, struct bgp_route *, void *aux);
    /* RI is about to be freed: drop every reference to it and its tables. */
    void (*ri_deleted)(struct bgp_ri *, void *aux);
    /* RI's virtual network (name or index) changed: what names it must be redone. */
    void (*ri_vn_changed)(struct bgp_ri *, void *aux);
    void *aux;
};

struct bgp_ri_mgr {
    struct bgp_rib rib;
    struct hmap instances;          /* struct bgp_ri, by name. */
    struct bgp_ri *master;
    uint32_t asn, router_id;
    uint32_t next_index;
    struct bgp_ri_listener listeners[BGP_RI_MAX_LISTENERS];
    int n_listeners;
    struct bgp_source local_src;    /* The node's own paths (route-target routes, ...). */
    uint64_t n_replicated;          /* Replicas currently installed. */
    uint64_t n_resyncs;
};

void bgp_ri_mgr_init(struct bgp_ri_mgr *, uint32_t asn, uint32_t router_id);
/* Frees every instance (no hooks run). */
void bgp_ri_mgr_destroy(struct bgp_ri_mgr *);
void bgp_ri_mgr_add_listener(struct bgp_ri_mgr *, const struct bgp_ri_listener *);

struct bgp_ri *bgp_ri_find(const struct bgp_ri_mgr *, const char *name);
/* Finds or creates the instance NAME (routes may arrive before its configuration). */
struct bgp_ri *bgp_ri_locate(struct bgp_ri_mgr *, const char *name);
/* Sets an instance's configuration; targets are route-target extended communities.  Call
 * bgp_ri_mgr_resync once after a batch of changes. */
void bgp_ri_configure(struct bgp_ri_mgr *, struct bgp_ri *, uint32_t vn_index,
                      const char *vn_name, const uint64_t *import, size_t n_import,
                      const uint64_t *export, size_t n_export);
/* Removes instance RI with all its paths and replicas (the listeners' ri_deleted runs). */
void bgp_ri_delete(struct bgp_ri_mgr *, struct bgp_ri *);

/* Recomputes the replicas of every route (after target or instance changes) and the
 * route-target routes. */
void bgp_ri_mgr_resync(struct bgp_ri_mgr *);

/* An agent subscribed to (or unsubscribed from) RI: keeps the route-target routes.  The last
 * unsubscribe deletes an instance whose deletion was pending, or one that was never
 * configured (made by a subscription) and holds no route. */
void bgp_ri_subscribe(struct bgp_ri_mgr *, struct bgp_ri *);
void bgp_ri_unsubscribe(struct bgp_ri_mgr *, struct bgp_ri *);

/* The VPN family of an instance family (inet -> inet-vpn ...), or -1. */
int bgp_ri_vpn_family(enum bgp_family);
/* The instance-table form of a VPN prefix (RD cleared, family of the instance table). */
void bgp_ri_vrf_prefix(const struct bgp_prefix *vpn, struct bgp_prefix *out);

/* The origin-VN extended community for ASN and VN index. */
uint64_t bgp_ri_origin_vn(uint32_t asn, uint32_t vn_index);
/* The VN index of the origin-VN community in A (0 when none). */
uint32_t bgp_ri_attrs_origin_vn(const struct bgp_attrs *a);
/* Whether extended community EC is a route target. */
bool bgp_ri_is_target(uint64_t ec);

#endif
