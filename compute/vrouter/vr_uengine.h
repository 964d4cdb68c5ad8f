/* vr_uengine: the userspace forwarding engine of contrail-vrouter.
 *
 * VM ports are the host ends of veth pairs or TAP devices, read and written through
 * AF_PACKET TPACKET_V2 rings (a batch per wake-up, one kick per batch to transmit).  The
 * fabric is the compute host's own IP stack: UDP sockets on the fabric address for MPLSoUDP
 * (6635) and VXLAN (4789), a raw IP socket (protocol 47) for MPLSoGRE, and one raw socket that
 * sends every encapsulated packet with its outer header built here (so that the outer UDP
 * source port carries the inner flow's hash), in sendmmsg batches.  The agent's packet
 * channel is a unix datagram socket.  Everything runs in the daemon's libevent loop. */
#ifndef CONTRAIL_VR_UENGINE_H
#define CONTRAIL_VR_UENGINE_H

#include <event2/event.h>

#include "vr_dp.h"
#include "vr_model.h"

struct vr_uengine;

extern const struct vr_engine_class vr_uengine_class;

/* Creates the engine in BASE with the vRouter tables made by vr_model_create() with
 * vr_uengine_class and the engine itself (set afterwards with vr_uengine_attach).  PKT_PATH
 * is where the packet channel is bound, AGENT_PATH where traps go.  Returns 0 or an errno
 * with a message in ERR. */
int vr_uengine_create(struct event_base *base, const char *pkt_path, const char *agent_path,
                      struct vr_uengine **out, char *err, size_t errlen);
void vr_uengine_attach(struct vr_uengine *, struct vrouter *);
void vr_uengine_destroy(struct vr_uengine *);

/* Sends what the pipeline queued (called after every batch and control request). */
void vr_uengine_flush(struct vr_uengine *);

struct vr_dp *vr_uengine_dp(struct vr_uengine *);

/* Adds the engine's counters (UDP GSO sends and the packets they carried) to IS. */
struct introspect;
void vr_uengine_register_introspect(struct vr_uengine *, struct introspect *is);

#endif
