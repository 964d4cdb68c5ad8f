/* vr_dp: the packet path of a software engine (the original's §6.11 pipeline).
 *
 * Frames from VM ports, tunnel payloads from the fabric and datagrams from the agent go in;
 * the pipeline does proxy ARP / neighbour proxy, bridging, routing with TTL decrement, flow
 * lookup (miss: HOLD + trap), NAT, ECMP, encapsulation (MPLSoUDP, MPLSoGRE, VXLAN) and ICMP
 * errors, and hands finished packets to the engine's I/O hooks.  Every discarded packet is
 * counted once under its drop reason.  The engine owns the sockets; this module owns no I/O,
 * which is what lets the unit tests and the fuzz target drive it directly. */
#ifndef CONTRAIL_VR_DP_H
#define CONTRAIL_VR_DP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vr_model.h"
#include "vr_pkt.h"

/* Where the engine sends what the pipeline produces.  Data passed is only valid for the
 * call: the engine copies it. */
struct vr_dp_io {
    /* An Ethernet frame to send out of VIF. */
    void (*tx_vif)(void *aux, struct vr_vif *vif, const uint8_t *frame, size_t len);
    /* An IPv4 packet (outer header included) to send on the fabric. */
    void (*tx_fabric)(void *aux, const uint8_t *ip, size_t len);
    /* A packet-channel datagram (agent header + frame); false when it cannot be sent. */
    bool (*tx_agent)(void *aux, const uint8_t *buf, size_t len);
};

enum vr_encap { VR_ENCAP_MPLSOUDP, VR_ENCAP_VXLAN, VR_ENCAP_MPLSOGRE };

struct vr_dp_stats {
    uint64_t vif_rx, fabric_rx, agent_rx;
    uint64_t vif_tx, fabric_tx, agent_tx;
    uint64_t arp_proxied, nd_proxied, icmp_errors, flow_misses, held_released;
};

struct vr_dp {
    struct vrouter *vr;
    const struct vr_dp_io *io;
    void *io_aux;
    uint64_t now_ms;            /* set by the engine per batch */
    uint32_t fabric_vif;        /* physical vif counted for fabric traffic, or NONE */
    struct vr_dp_stats stats;
};

void vr_dp_init(struct vr_dp *, struct vrouter *, const struct vr_dp_io *, void *io_aux);

/* A frame received on VIF (a VM, host or physical port).  PKT is consumed (its buffer may
 * be rewritten). */
void vr_dp_vif_rx(struct vr_dp *, struct vr_vif *vif, struct vr_pkt *pkt);
/* A tunnel payload from the fabric: for MPLSoUDP and VXLAN the UDP payload, for MPLSoGRE the
 * whole IPv4 packet (as a raw socket delivers it).  OUTER_SRC is the sender (4 bytes). */
void vr_dp_fabric_rx(struct vr_dp *, enum vr_encap, const uint8_t outer_src[4],
                     struct vr_pkt *pkt);
/* A datagram from the agent on the packet channel. */
void vr_dp_agent_rx(struct vr_dp *, struct vr_pkt *pkt);
/* Flow INDEX got its action: runs the packets it held through the pipeline again. */
void vr_dp_flow_released(struct vr_dp *, uint32_t index);
/* Frees a held packet (struct vr_engine_class.free_held). */
void vr_dp_free_held(void *);

#endif
