/* vr_introspect: contrail-vrouter's introspect pages (/vrouter, /interfaces, /nexthops,
 * /dropstats, /flows) and Prometheus counters. */
#ifndef CONTRAIL_VR_INTROSPECT_H
#define CONTRAIL_VR_INTROSPECT_H

struct introspect;
struct vrouter;
struct vr_dp;

void vr_introspect_register(struct introspect *, struct vrouter *, struct vr_dp *);

#endif
