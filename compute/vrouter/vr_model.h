/* vr_model: the vRouter's object model: interfaces, next hops, per-VRF routes and bridge
 * tables, MPLS and VXLAN tables, flows, mirrors, drop statistics, and the control requests
 * that change them.
 *
 * Engine-neutral: the forwarding engine (userspace today, eBPF later) is a struct of hooks
 * (struct vr_engine_class) told about the changes it must act on (an interface to open, a HOLD
 * flow that got its action); everything else it reads from these tables.  The control
 * protocol (vr_proto.h) is served by vr_model_request(), which the socket server (vr_ctl) and
 * the fuzz target call. */
#ifndef CONTRAIL_VR_MODEL_H
#define CONTRAIL_VR_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"
#include "vr_flow.h"
#include "vr_lpm.h"
#include "vr_msg.h"
#include "vr_proto.h"

struct vrouter;

struct vr_limits {
    uint32_t interfaces, vrfs, nexthops, mpls_labels, bridge_entries, flow_entries,
             oflow_entries, mirror_entries;
};

/* The original's defaults (vrouter --info "Startup parameters"). */
void vr_limits_default(struct vr_limits *);

struct vr_vif {
    struct vr_if_req cfg;       /* configuration and counters (ipackets ... drops) */
    uint64_t drops[VP_DROP_MAX];
    void *engine;               /* the engine's per-interface state */
};

struct vr_nexthop {
    struct vr_nh_req cfg;
};

struct vr_vrf {
    struct vr_lpm inet, inet6;
    /* The VRF's gateway addresses: host routes to a receive NH.  ICMP errors the vRouter
     * sends for this VRF come from them. */
    struct vr_ip gw4, gw6;
};

struct vr_bridge_entry {
    struct hmap_node node;
    uint32_t vrf;
    uint8_t mac[6];
    uint32_t flags, label, nh_id, index;
    uint64_t packets;
};

struct vr_vxlan_entry {
    struct hmap_node node;
    uint32_t vnid, nh_id;
};

struct vr_mirror {
    bool used;
    struct vr_mirror_req cfg;
};

/* What an engine implements.  Every hook may be NULL. */
struct vr_engine_class {
    const char *name;
    /* An interface was added or changed (old config in OLD, NULL when new): open what it
     * needs.  Returns 0, or an errno with a message in ERR (the request then fails and the
     * model keeps the old state). */
    int (*if_add)(struct vrouter *, struct vr_vif *, const struct vr_if_req *old,
                  char *err, size_t errlen);
    void (*if_del)(struct vrouter *, struct vr_vif *);
    /* Flow INDEX left HOLD: send its held packets. */
    void (*flow_released)(struct vrouter *, uint32_t index);
    /* Frees a packet held in a flow. */
    void (*free_held)(void *);
};

struct vrouter {
    struct vr_limits limits;
    struct vr_vif **vifs;
    struct vr_nexthop **nhs;
    uint32_t *nh_refs;          /* references to each NH id from other objects */
    struct vr_vrf **vrfs;
    struct hmap bridge;
    struct vr_bridge_entry **bridge_index;
    uint32_t bridge_used, bridge_hint;
    uint32_t *mpls;             /* label -> nh id, VR_FLOW_INDEX_NONE: none */
    struct hmap vxlan;
    struct vr_flow_table flows;
    struct vr_mirror *mirrors;
    uint64_t drops[VP_DROP_MAX];
    uint64_t routes_used;
    uint8_t mac[6];             /* the gateway (VRRP) MAC */
    uint32_t agent_vif;         /* index of the AGENT vif, VR_FLOW_INDEX_NONE: none */
    uint64_t start_ms;
    const struct vr_engine_class *engine_class;
    void *engine;
    uint64_t requests, request_errors;
};

/* Creates the tables with LIMITS (NULL: defaults); next hop 0 is the discard NH. */
struct vrouter *vr_model_create(const struct vr_limits *, const struct vr_engine_class *,
                                void *engine);
void vr_model_destroy(struct vrouter *);

/* Handles one control message (MSG, LEN bytes, a whole message whose header parsed) and
 * writes the response into RESP (storage of VR_MSG_MAX bytes).  Never fails: errors become
 * error responses. */
void vr_model_request(struct vrouter *, const uint8_t *msg, size_t len, uint8_t *resp,
                      size_t *resp_len);
/* An error response for a message that could not be read (seq and obj as far as known). */
void vr_model_error_response(uint16_t obj, uint32_t seq, int code, const char *text,
                             uint8_t *resp, size_t *resp_len);

/* Removes every object (the RESET request). */
void vr_model_reset(struct vrouter *);

/* Monotonic milliseconds. */
uint64_t vr_now_ms(void);

/* ---- Lookups for the datapath ---- */

static inline struct vr_vif *
vr_vif_get(const struct vrouter *vr, uint32_t idx)
{
    return idx < vr->limits.interfaces ? vr->vifs[idx] : NULL;
}

static inline struct vr_nexthop *
vr_nh_get(const struct vrouter *vr, uint32_t id)
{
    return id < vr->limits.nexthops ? vr->nhs[id] : NULL;
}

static inline struct vr_vrf *
vr_vrf_get(const struct vrouter *vr, uint32_t vrf)
{
    return vrf < vr->limits.vrfs ? vr->vrfs[vrf] : NULL;
}

/* Route lookup of ADDR (4 or 16 bytes as FAMILY 4/6 says) in VRF; NULL when none. */
const struct vr_lpm_route *vr_route_lookup(const struct vrouter *, uint32_t vrf, int family,
                                           const uint8_t *addr);
struct vr_bridge_entry *vr_bridge_lookup(const struct vrouter *, uint32_t vrf,
                                         const uint8_t mac[6]);
/* NH id for an MPLS label / VNI; VR_FLOW_INDEX_NONE when none. */
uint32_t vr_mpls_lookup(const struct vrouter *, uint32_t label);
uint32_t vr_vxlan_lookup(const struct vrouter *, uint32_t vnid);

/* Counts a dropped packet for REASON (and on VIF when not NULL). */
static inline void
vr_drop(struct vrouter *vr, struct vr_vif *vif, unsigned int reason)
{
    vr->drops[reason]++;
    if (vif) {
        vif->drops[reason]++;
        vif->cfg.drops++;
    }
}

#endif
