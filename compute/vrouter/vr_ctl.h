/* vr_ctl: the control socket of contrail-vrouter (the protocol of vr_proto.h on a unix stream
 * socket).  Reads whole messages, hands each to vr_model_request() and writes the response;
 * a stream that loses its framing gets an error response and is closed. */
#ifndef CONTRAIL_VR_CTL_H
#define CONTRAIL_VR_CTL_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

struct vrouter;
struct vr_ctl;

/* Listens on PATH (replacing a stale socket file).  AFTER (may be NULL) runs after every
 * request, with AUX: the engine flushes packets a request released.  Returns 0 or an errno
 * with a message in ERR. */
int vr_ctl_create(struct event_base *, struct vrouter *, const char *path,
                  void (*after)(void *), void *aux, struct vr_ctl **, char *err,
                  size_t errlen);
void vr_ctl_destroy(struct vr_ctl *);
uint64_t vr_ctl_connections(const struct vr_ctl *);

#endif
