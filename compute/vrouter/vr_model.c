/* vr_model: the vRouter's tables and the control requests on them (see vr_model.h). */
#include "vr_model.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "build_config.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(vr_model);

static MEM_TYPE(mem_type_vr_tables, "vr_tables");
static MEM_TYPE(mem_type_vr_vif, "vr_vif");
static MEM_TYPE(mem_type_vr_nh, "vr_nexthop");
static MEM_TYPE(mem_type_vr_vrf, "vr_vrf");
static MEM_TYPE(mem_type_vr_bridge, "vr_bridge_entry");
static MEM_TYPE(mem_type_vr_vxlan, "vr_vxlan_entry");

#define DUMP_PAGE 64            /* objects per dump response at most */
#define NONE VR_FLOW_INDEX_NONE

static char log_level_name[16] = "SYS_NOTICE";

uint64_t
vr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

void
vr_limits_default(struct vr_limits *l)
{
    l->interfaces = 4352 + 3;
    l->vrfs = 4096;
    l->nexthops = 524288;
    l->mpls_labels = 5120;
    l->bridge_entries = 262144;
    l->flow_entries = 524288;
    l->oflow_entries = 105472;
    l->mirror_entries = 255;
}

static void
nh_ref(struct vrouter *vr, uint32_t id, int delta)
{
    if (id < vr->limits.nexthops) {
        vr->nh_refs[id] += (uint32_t) delta;
    }
}

struct vrouter *
vr_model_create(const struct vr_limits *limits, const struct vr_engine_class *ec, void *engine)
{
    struct vrouter *vr = mem_zalloc(&mem_type_vr_tables, sizeof *vr);
    if (limits) {
        vr->limits = *limits;
    } else {
        vr_limits_default(&vr->limits);
    }
    struct vr_limits *l = &vr->limits;
    if (l->interfaces < 1) l->interfaces = 1;
    if (l->vrfs < 1) l->vrfs = 1;
    if (l->nexthops < 2) l->nexthops = 2;
    if (l->mpls_labels < VR_MPLS_MIN_LABEL + 1) l->mpls_labels = VR_MPLS_MIN_LABEL + 1;
    if (l->flow_entries < VR_FLOW_BUCKET) l->flow_entries = VR_FLOW_BUCKET;
    vr->vifs = mem_zalloc(&mem_type_vr_tables, l->interfaces * sizeof *vr->vifs);
    vr->nhs = mem_zalloc(&mem_type_vr_tables, l->nexthops * sizeof *vr->nhs);
    vr->nh_refs = mem_zalloc(&mem_type_vr_tables, l->nexthops * sizeof *vr->nh_refs);
    vr->vrfs = mem_zalloc(&mem_type_vr_tables, l->vrfs * sizeof *vr->vrfs);
    vr->bridge_index = mem_zalloc(&mem_type_vr_tables,
                                  (l->bridge_entries ? l->bridge_entries : 1)
                                  * sizeof *vr->bridge_index);
    vr->mpls = mem_zalloc(&mem_type_vr_tables, l->mpls_labels * sizeof *vr->mpls);
    memset(vr->mpls, 0xff, l->mpls_labels * sizeof *vr->mpls);
    vr->mirrors = mem_zalloc(&mem_type_vr_tables,
                             (l->mirror_entries ? l->mirror_entries : 1) * sizeof *vr->mirrors);
    hmap_init(&vr->bridge);
    hmap_init(&vr->vxlan);
    vr_flow_table_init(&vr->flows, l->flow_entries, l->oflow_entries);
    l->flow_entries = vr->flows.n_main;
    vr->engine_class = ec;
    vr->engine = engine;
    vr->flows.free_held = ec ? ec->free_held : NULL;
    vr->agent_vif = NONE;
    static const uint8_t vrrp[6] = VR_VRRP_MAC;
    memcpy(vr->mac, vrrp, 6);
    vr->start_ms = vr_now_ms();

    /* Next hop 0: the discard next hop every missing lookup resolves to. */
    struct vr_nexthop *nh = mem_zalloc(&mem_type_vr_nh, sizeof *nh);
    nh->cfg.type = NH_DISCARD;
    nh->cfg.family = VR_AF_INET;
    nh->cfg.flags = NH_FLAG_VALID;
    vr->nhs[0] = nh;
    return vr;
}

static void
free_vrf(struct vr_vrf *v)
{
    if (v) {
        vr_lpm_destroy(&v->inet);
        vr_lpm_destroy(&v->inet6);
        mem_free(&mem_type_vr_vrf, v);
    }
}

void
vr_model_reset(struct vrouter *vr)
{
    vr_flow_flush(&vr->flows);
    for (uint32_t i = 0; i < vr->limits.interfaces; i++) {
        if (vr->vifs[i]) {
            if (vr->engine_class && vr->engine_class->if_del) {
                vr->engine_class->if_del(vr, vr->vifs[i]);
            }
            mem_free(&mem_type_vr_vif, vr->vifs[i]);
            vr->vifs[i] = NULL;
        }
    }
    vr->agent_vif = NONE;
    for (uint32_t i = 1; i < vr->limits.nexthops; i++) {
        if (vr->nhs[i]) {
            mem_free(&mem_type_vr_nh, vr->nhs[i]);
            vr->nhs[i] = NULL;
        }
    }
    memset(vr->nh_refs, 0, vr->limits.nexthops * sizeof *vr->nh_refs);
    for (uint32_t i = 0; i < vr->limits.vrfs; i++) {
        free_vrf(vr->vrfs[i]);
        vr->vrfs[i] = NULL;
    }
    vr->routes_used = 0;
    struct vr_bridge_entry *be;
    HMAP_FOR_EACH_SAFE (be, node, &vr->bridge) {
        hmap_remove(&vr->bridge, &be->node);
        vr->bridge_index[be->index] = NULL;
        mem_free(&mem_type_vr_bridge, be);
    }
    vr->bridge_used = 0;
    struct vr_vxlan_entry *vx;
    HMAP_FOR_EACH_SAFE (vx, node, &vr->vxlan) {
        hmap_remove(&vr->vxlan, &vx->node);
        mem_free(&mem_type_vr_vxlan, vx);
    }
    memset(vr->mpls, 0xff, vr->limits.mpls_labels * sizeof *vr->mpls);
    memset(vr->mirrors, 0, vr->limits.mirror_entries * sizeof *vr->mirrors);
}

void
vr_model_destroy(struct vrouter *vr)
{
    if (!vr) {
        return;
    }
    vr_model_reset(vr);
    vr_flow_table_destroy(&vr->flows);
    mem_free(&mem_type_vr_nh, vr->nhs[0]);
    hmap_destroy(&vr->bridge);
    hmap_destroy(&vr->vxlan);
    mem_free(&mem_type_vr_tables, vr->vifs);
    mem_free(&mem_type_vr_tables, vr->nhs);
    mem_free(&mem_type_vr_tables, vr->nh_refs);
    mem_free(&mem_type_vr_tables, vr->vrfs);
    mem_free(&mem_type_vr_tables, vr->bridge_index);
    mem_free(&mem_type_vr_tables, vr->mpls);
    mem_free(&mem_type_vr_tables, vr->mirrors);
    mem_free(&mem_type_vr_tables, vr);
}

/* ---- lookups ---- */

const struct vr_lpm_route *
vr_route_lookup(const struct vrouter *vr, uint32_t vrf, int family, const uint8_t *addr)
{
    struct vr_vrf *v = vr_vrf_get(vr, vrf);
    if (!v) {
        return NULL;
    }
    uint8_t key[16] = { 0 };
    memcpy(key, addr, family == 4 ? 4 : 16);
    return vr_lpm_lookup(family == 4 ? &v->inet : &v->inet6, key, NULL);
}

static uint32_t
bridge_hash(uint32_t vrf, const uint8_t mac[6])
{
    uint8_t k[10];
    memcpy(k, &vrf, 4);
    memcpy(k + 4, mac, 6);
    return hash_bytes(k, sizeof k, 0);
}

struct vr_bridge_entry *
vr_bridge_lookup(const struct vrouter *vr, uint32_t vrf, const uint8_t mac[6])
{
    struct vr_bridge_entry *be;
    HMAP_FOR_EACH_WITH_HASH (be, node, bridge_hash(vrf, mac), &vr->bridge) {
        if (be->vrf == vrf && !memcmp(be->mac, mac, 6)) {
            return be;
        }
    }
    return NULL;
}

uint32_t
vr_mpls_lookup(const struct vrouter *vr, uint32_t label)
{
    return label < vr->limits.mpls_labels ? vr->mpls[label] : NONE;
}

static struct vr_vxlan_entry *
vxlan_find(const struct vrouter *vr, uint32_t vnid)
{
    struct vr_vxlan_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_bytes(&vnid, 4, 0), &vr->vxlan) {
        if (e->vnid == vnid) {
            return e;
        }
    }
    return NULL;
}

uint32_t
vr_vxlan_lookup(const struct vrouter *vr, uint32_t vnid)
{
    struct vr_vxlan_entry *e = vxlan_find(vr, vnid);
    return e ? e->nh_id : NONE;
}

/* ---- request plumbing ---- */

struct req {
    struct vrouter *vr;
    struct vr_msg_hdr hdr;
    const struct vr_obj_desc *desc;
    union {
        struct vr_if_req vif;
        struct vr_nh_req nh;
        struct vr_route_req rt;
        struct vr_mpls_req mpls;
        struct vr_vxlan_req vxlan;
        struct vr_flow_req flow;
        struct vr_mirror_req mirror;
        struct vr_drop_stats_req ds;
        struct vr_info_req info;
    } o;
    uint64_t present;
    bool has_marker;
    union {
        struct vr_if_req vif;
        struct vr_nh_req nh;
        struct vr_route_req rt;
        struct vr_mpls_req mpls;
        struct vr_vxlan_req vxlan;
        struct vr_flow_req flow;
        struct vr_mirror_req mirror;
        struct vr_drop_stats_req ds;
        struct vr_info_req info;
    } marker;                   /* any object type: the decoder writes a whole struct */
    uint64_t marker_present;
    struct vr_msgbuf *resp;
    char err[256];
};

static int
req_fail(struct req *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return code;
}

static bool
has(const struct req *r, uint16_t id)
{
    return r->present & vr_field_bit(r->hdr.obj, id);
}

/* Adds object S to the response; false when the page is full (the object is not added). */
static bool
emit(struct req *r, const void *s)
{
    size_t mark = vr_msg_mark(r->resp);
    vr_msg_put_object(r->resp, VR_A_OBJECT, r->hdr.obj, s, false, true);
    if (r->resp->overflow) {
        vr_msg_rollback(r->resp, mark);
        return false;
    }
    return true;
}

static void
set_more(struct req *r)
{
    r->resp->data[7] |= VR_MSG_F_MORE;
}

/* ---- interfaces ---- */

static void
vif_to_req(const struct vrouter *vr, uint32_t idx, struct vr_if_req *out)
{
    const struct vr_vif *v = vr->vifs[idx];
    *out = v->cfg;
    out->ref_cnt = 1;
}

static int
if_add(struct req *r)
{
    struct vrouter *vr = r->vr;
    struct vr_if_req *q = &r->o.vif;
    if (!has(r, VR_IF_A_IDX)) {
        return req_fail(r, EINVAL, "interface: idx is required");
    }
    if (q->idx >= vr->limits.interfaces) {
        return req_fail(r, EINVAL, "interface idx %u: out of range (limit %u)", q->idx,
                        vr->limits.interfaces);
    }
    if (!has(r, VR_IF_A_TYPE) || q->type >= VIF_TYPE_MAX) {
        return req_fail(r, EINVAL, "interface %u: type %s", q->idx,
                        has(r, VR_IF_A_TYPE) ? "is not host, agent, physical or virtual"
                                             : "is required");
    }
    if (q->vrf >= vr->limits.vrfs && q->vrf != 65535) {
        return req_fail(r, EINVAL, "interface %u: vrf %u out of range (limit %u)", q->idx,
                        q->vrf, vr->limits.vrfs);
    }
    if (!has(r, VR_IF_A_MCAST_VRF)) {
        q->mcast_vrf = q->vrf;
    }
    if (q->nh_id >= vr->limits.nexthops) {
        return req_fail(r, EINVAL, "interface %u: nh_id %u out of range (limit %u)", q->idx,
                        q->nh_id, vr->limits.nexthops);
    }
    if (q->type != VIF_TYPE_AGENT && !q->name[0]) {
        return req_fail(r, EINVAL, "interface %u: name (the OS interface) is required",
                        q->idx);
    }
    if (q->type == VIF_TYPE_AGENT && vr->agent_vif != NONE && vr->agent_vif != q->idx) {
        return req_fail(r, EEXIST, "interface %u: agent interface is already vif0/%u", q->idx,
                        vr->agent_vif);
    }
    if (!q->mtu) {
        q->mtu = 1514;
    }
    if (q->mtu < 68 || q->mtu > 65535) {
        return req_fail(r, EINVAL, "interface %u: mtu %u out of range 68..65535", q->idx,
                        q->mtu);
    }
    for (uint32_t i = 0; i < vr->limits.interfaces; i++) {
        struct vr_vif *o = vr->vifs[i];
        if (i != q->idx && o && q->name[0] && !strcmp(o->cfg.name, q->name)) {
            return req_fail(r, EEXIST, "interface %u: %s is already vif0/%u", q->idx, q->name,
                            i);
        }
    }
    struct vr_vif *v = vr->vifs[q->idx];
    bool is_new = !v;
    struct vr_if_req old;
    if (v) {
        old = v->cfg;
    } else {
        v = mem_zalloc(&mem_type_vr_vif, sizeof *v);
    }
    /* Keep the counters; take the configuration. */
    struct vr_if_req cfg = *q;
    cfg.os_idx = v->cfg.os_idx;
    cfg.ipackets = v->cfg.ipackets;
    cfg.ibytes = v->cfg.ibytes;
    cfg.ierrors = v->cfg.ierrors;
    cfg.opackets = v->cfg.opackets;
    cfg.obytes = v->cfg.obytes;
    cfg.oerrors = v->cfg.oerrors;
    cfg.drops = v->cfg.drops;
    v->cfg = cfg;
    if (vr->engine_class && vr->engine_class->if_add) {
        char err[200] = "";
        int error = vr->engine_class->if_add(vr, v, is_new ? NULL : &old, err, sizeof err);
        if (error) {
            if (is_new) {
                mem_free(&mem_type_vr_vif, v);
            } else {
                v->cfg = old;
            }
            return req_fail(r, error, "interface %u (%s): %s", q->idx, q->name,
                            err[0] ? err : strerror(error));
        }
    }
    if (!is_new && old.nh_id != cfg.nh_id) {
        nh_ref(vr, old.nh_id, -1);
    }
    if (is_new || old.nh_id != cfg.nh_id) {
        nh_ref(vr, cfg.nh_id, 1);
    }
    vr->vifs[q->idx] = v;
    if (q->type == VIF_TYPE_AGENT) {
        vr->agent_vif = q->idx;
    } else if (vr->agent_vif == q->idx) {
        vr->agent_vif = NONE;
    }
    LOG_INFO("interface vif0/%u %s type %u vrf %u %s", q->idx, q->name, q->type, q->vrf,
             is_new ? "added" : "changed");
    struct vr_if_req out;
    vif_to_req(vr, q->idx, &out);
    emit(r, &out);
    return 0;
}

static int
if_need(struct req *r)
{
    if (!has(r, VR_IF_A_IDX)) {
        return req_fail(r, EINVAL, "interface: idx is required");
    }
    if (!vr_vif_get(r->vr, r->o.vif.idx)) {
        return req_fail(r, ENOENT, "interface %u does not exist", r->o.vif.idx);
    }
    return 0;
}

static int
if_get(struct req *r)
{
    int error = if_need(r);
    if (!error) {
        struct vr_if_req out;
        vif_to_req(r->vr, r->o.vif.idx, &out);
        emit(r, &out);
    }
    return error;
}

static int
if_del(struct req *r)
{
    int error = if_need(r);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_vif *v = vr->vifs[r->o.vif.idx];
    if (vr->engine_class && vr->engine_class->if_del) {
        vr->engine_class->if_del(vr, v);
    }
    nh_ref(vr, v->cfg.nh_id, -1);
    if (vr->agent_vif == r->o.vif.idx) {
        vr->agent_vif = NONE;
    }
    vr->vifs[r->o.vif.idx] = NULL;
    mem_free(&mem_type_vr_vif, v);
    return 0;
}

static int
if_dump(struct req *r)
{
    uint32_t start = r->has_marker ? r->marker.vif.idx + 1 : 0;
    if (r->has_marker && r->marker.vif.idx == NONE) {
        return 0;
    }
    int n = 0;
    for (uint32_t i = start; i < r->vr->limits.interfaces; i++) {
        if (!r->vr->vifs[i]) {
            continue;
        }
        struct vr_if_req out;
        vif_to_req(r->vr, i, &out);
        if (n == DUMP_PAGE || !emit(r, &out)) {
            set_more(r);
            return 0;
        }
        n++;
    }
    return 0;
}

/* ---- next hops ---- */

static bool
is_one_bit(uint32_t x)
{
    return x && !(x & (x - 1));
}

static int
nh_validate(struct req *r, struct vr_nh_req *q)
{
    struct vrouter *vr = r->vr;
    if (!has(r, VR_NH_A_ID)) {
        return req_fail(r, EINVAL, "nexthop: id is required");
    }
    if (q->id == 0) {
        return req_fail(r, EPERM, "nexthop 0 is the built-in discard next hop");
    }
    if (q->id >= vr->limits.nexthops) {
        return req_fail(r, EINVAL, "nexthop id %u: out of range (limit %u)", q->id,
                        vr->limits.nexthops);
    }
    if (!has(r, VR_NH_A_TYPE) || q->type == NH_DEAD || q->type >= NH_TYPE_MAX) {
        return req_fail(r, EINVAL, "nexthop %u: type %s", q->id,
                        has(r, VR_NH_A_TYPE) ? "is not a valid next-hop type" : "is required");
    }
    if (!has(r, VR_NH_A_FAMILY)) {
        q->family = VR_AF_INET;
    }
    if (q->family != VR_AF_INET && q->family != VR_AF_INET6 && q->family != VR_AF_BRIDGE) {
        return req_fail(r, EINVAL, "nexthop %u: family %u is not inet, inet6 or bridge", q->id,
                        q->family);
    }
    if (!has(r, VR_NH_A_FLAGS)) {
        q->flags = NH_FLAG_VALID;
    }
    if (q->vrf >= vr->limits.vrfs) {
        return req_fail(r, EINVAL, "nexthop %u: vrf %u out of range (limit %u)", q->id, q->vrf,
                        vr->limits.vrfs);
    }
    switch (q->type) {
    case NH_ENCAP:
        if (!has(r, VR_NH_A_ENCAP_OIF) || q->encap_oif >= vr->limits.interfaces) {
            return req_fail(r, EINVAL, "nexthop %u: encap needs encap_oif below %u", q->id,
                            vr->limits.interfaces);
        }
        if (q->encap_len && q->encap_len < 14) {
            return req_fail(r, EINVAL, "nexthop %u: encap data of %u bytes, at least 14 "
                            "(an Ethernet header) or none", q->id, q->encap_len);
        }
        break;
    case NH_TUNNEL: {
        uint32_t t = q->flags & NH_TUNNEL_FLAGS;
        if (!is_one_bit(t)) {
            return req_fail(r, EINVAL, "nexthop %u: tunnel needs exactly one of the flags "
                            "MPLSoGRE, MPLSoUDP, VXLAN, UDP", q->id);
        }
        if (q->tun_dip.family != 4 || q->tun_sip.family != 4) {
            return req_fail(r, EINVAL, "nexthop %u: tunnel needs IPv4 tun_sip and tun_dip "
                            "(the underlay is IPv4)", q->id);
        }
        if (t == NH_FLAG_TUNNEL_UDP && !q->tun_dport) {
            return req_fail(r, EINVAL, "nexthop %u: UDP tunnel needs tun_dport", q->id);
        }
        break;
    }
    case NH_COMPOSITE:
        if (q->label_count && q->label_count != q->nh_count) {
            return req_fail(r, EINVAL, "nexthop %u: %u labels for %u component next hops",
                            q->id, q->label_count, q->nh_count);
        }
        for (uint32_t i = 0; i < q->nh_count; i++) {
            if (q->nh_list[i] >= vr->limits.nexthops) {
                return req_fail(r, EINVAL, "nexthop %u: component %u is out of range", q->id,
                                q->nh_list[i]);
            }
            if (q->nh_list[i] == q->id) {
                return req_fail(r, EINVAL, "nexthop %u: lists itself as a component", q->id);
            }
        }
        if (!q->ecmp_config_hash) {
            q->ecmp_config_hash = NH_ECMP_CONFIG_HASH_MASK;
        }
        break;
    default:
        break;
    }
    return 0;
}

static void
nh_refs_change(struct vrouter *vr, const struct vr_nh_req *q, int delta)
{
    if (q->type == NH_COMPOSITE) {
        for (uint32_t i = 0; i < q->nh_count; i++) {
            nh_ref(vr, q->nh_list[i], delta);
        }
    }
}

static void
nh_to_req(const struct vrouter *vr, uint32_t id, struct vr_nh_req *out)
{
    *out = vr->nhs[id]->cfg;
    out->id = id;
    out->ref_cnt = vr->nh_refs[id] + 1;
}

static int
nh_add(struct req *r)
{
    struct vr_nh_req *q = &r->o.nh;
    int error = nh_validate(r, q);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_nexthop *nh = vr->nhs[q->id];
    if (nh) {
        nh_refs_change(vr, &nh->cfg, -1);
    } else {
        nh = mem_zalloc(&mem_type_vr_nh, sizeof *nh);
        vr->nhs[q->id] = nh;
    }
    nh->cfg = *q;
    nh->cfg.ref_cnt = 0;
    nh_refs_change(vr, q, 1);
    struct vr_nh_req out;
    nh_to_req(vr, q->id, &out);
    emit(r, &out);
    return 0;
}

static int
nh_need(struct req *r)
{
    if (!has(r, VR_NH_A_ID)) {
        return req_fail(r, EINVAL, "nexthop: id is required");
    }
    if (!vr_nh_get(r->vr, r->o.nh.id)) {
        return req_fail(r, ENOENT, "nexthop %u does not exist", r->o.nh.id);
    }
    return 0;
}

static int
nh_get(struct req *r)
{
    int error = nh_need(r);
    if (!error) {
        struct vr_nh_req out;
        nh_to_req(r->vr, r->o.nh.id, &out);
        emit(r, &out);
    }
    return error;
}

static int
nh_del(struct req *r)
{
    int error = nh_need(r);
    if (error) {
        return error;
    }
    if (r->o.nh.id == 0) {
        return req_fail(r, EPERM, "nexthop 0 is the built-in discard next hop");
    }
    /* Objects that still name the id resolve to nothing (and drop) until it returns, as
     * the original's dead next hops. */
    struct vr_nexthop *nh = r->vr->nhs[r->o.nh.id];
    nh_refs_change(r->vr, &nh->cfg, -1);
    r->vr->nhs[r->o.nh.id] = NULL;
    mem_free(&mem_type_vr_nh, nh);
    return 0;
}

static int
nh_dump(struct req *r)
{
    if (r->has_marker && r->marker.nh.id == NONE) {
        return 0;
    }
    uint32_t start = r->has_marker ? r->marker.nh.id + 1 : 0;
    int n = 0;
    for (uint32_t i = start; i < r->vr->limits.nexthops; i++) {
        if (!r->vr->nhs[i]) {
            continue;
        }
        struct vr_nh_req out;
        nh_to_req(r->vr, i, &out);
        if (n == DUMP_PAGE || !emit(r, &out)) {
            set_more(r);
            return 0;
        }
        n++;
    }
    return 0;
}

/* ---- routes ---- */

static int
rt_common(struct req *r, bool need_key)
{
    struct vr_route_req *q = &r->o.rt;
    struct vrouter *vr = r->vr;
    if (!has(r, VR_RT_A_VRF) || q->vrf >= vr->limits.vrfs) {
        return req_fail(r, EINVAL, "route: vrf %s", has(r, VR_RT_A_VRF)
                        ? "is out of range" : "is required");
    }
    if (!has(r, VR_RT_A_FAMILY)) {
        q->family = q->prefix.family == 6 ? VR_AF_INET6 : VR_AF_INET;
    }
    if (q->family == VR_AF_BRIDGE) {
        if (need_key && !has(r, VR_RT_A_MAC)) {
            return req_fail(r, EINVAL, "bridge route: mac is required");
        }
        return 0;
    }
    if (q->family != VR_AF_INET && q->family != VR_AF_INET6) {
        return req_fail(r, EINVAL, "route: family %u is not inet, inet6 or bridge", q->family);
    }
    if (!need_key) {
        return 0;
    }
    int fam = q->family == VR_AF_INET ? 4 : 6;
    if (q->prefix.family != fam) {
        return req_fail(r, EINVAL, "route: prefix is %s, expected an %s address",
                        q->prefix.family ? "of the other family" : "missing",
                        fam == 4 ? "IPv4" : "IPv6");
    }
    int bits = fam == 4 ? 32 : 128;
    if (!has(r, VR_RT_A_PLEN)) {
        q->plen = (uint8_t) bits;
    }
    if (q->plen > bits) {
        return req_fail(r, EINVAL, "route: prefix length %u is longer than %d", q->plen, bits);
    }
    uint8_t tmp[16];
    memcpy(tmp, q->prefix.a, 16);
    if (vr_lpm_mask(tmp, q->plen)) {
        return req_fail(r, EINVAL, "route: prefix has bits set beyond /%u", q->plen);
    }
    return 0;
}

static struct vr_lpm *
rt_table(struct vrouter *vr, uint32_t vrf, uint8_t family, bool create)
{
    struct vr_vrf *v = vr->vrfs[vrf];
    if (!v) {
        if (!create) {
            return NULL;
        }
        v = mem_zalloc(&mem_type_vr_vrf, sizeof *v);
        vr_lpm_init(&v->inet, 32);
        vr_lpm_init(&v->inet6, 128);
        vr->vrfs[vrf] = v;
    }
    return family == VR_AF_INET ? &v->inet : &v->inet6;
}

static void
be_to_req(const struct vr_bridge_entry *be, struct vr_route_req *out)
{
    memset(out, 0, sizeof *out);
    out->vrf = be->vrf;
    out->family = VR_AF_BRIDGE;
    memcpy(out->mac, be->mac, 6);
    out->label_flags = be->flags;
    out->label = be->label;
    out->nh_id = be->nh_id;
    out->index = be->index;
    out->packets = be->packets;
}

static void
lpm_to_req(uint32_t vrf, uint8_t family, const uint8_t *prefix, int plen, int ppl,
           const struct vr_lpm_route *rt, struct vr_route_req *out)
{
    memset(out, 0, sizeof *out);
    out->vrf = vrf;
    out->family = family;
    out->prefix.family = family == VR_AF_INET ? 4 : 6;
    memcpy(out->prefix.a, prefix, 16);
    out->plen = (uint8_t) plen;
    out->ppl = (uint8_t) ppl;
    memcpy(out->mac, rt->mac, 6);
    out->label_flags = rt->flags;
    out->label = rt->label;
    out->nh_id = rt->nh_id;
}

static int
rt_add(struct req *r)
{
    int error = rt_common(r, true);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_route_req *q = &r->o.rt;
    if (q->nh_id >= vr->limits.nexthops) {
        return req_fail(r, EINVAL, "route: nh_id %u out of range (limit %u)", q->nh_id,
                        vr->limits.nexthops);
    }
    if (q->label > VR_VXLAN_MAX_VNID) {
        return req_fail(r, EINVAL, "route: label %u is neither an MPLS label nor a VNI",
                        q->label);
    }
    if (q->family == VR_AF_BRIDGE) {
        struct vr_bridge_entry *be = vr_bridge_lookup(vr, q->vrf, q->mac);
        if (!be) {
            if (vr->bridge_used >= vr->limits.bridge_entries) {
                return req_fail(r, ENOSPC, "bridge table full (%u entries)",
                                vr->limits.bridge_entries);
            }
            be = mem_zalloc(&mem_type_vr_bridge, sizeof *be);
            be->vrf = q->vrf;
            memcpy(be->mac, q->mac, 6);
            uint32_t i = vr->bridge_hint;
            while (vr->bridge_index[i]) {
                i = (i + 1) % vr->limits.bridge_entries;
            }
            be->index = i;
            vr->bridge_hint = (i + 1) % vr->limits.bridge_entries;
            vr->bridge_index[i] = be;
            vr->bridge_used++;
            hmap_insert(&vr->bridge, &be->node, bridge_hash(q->vrf, q->mac));
        } else {
            nh_ref(vr, be->nh_id, -1);
        }
        be->nh_id = q->nh_id;
        be->label = q->label;
        be->flags = q->label_flags | VR_BE_VALID_FLAG;
        nh_ref(vr, q->nh_id, 1);
        struct vr_route_req out;
        be_to_req(be, &out);
        emit(r, &out);
        return 0;
    }
    struct vr_lpm *t = rt_table(vr, q->vrf, q->family, true);
    int ppl;
    const struct vr_lpm_route *old = vr_lpm_get(t, q->prefix.a, q->plen, &ppl);
    if (old) {
        nh_ref(vr, old->nh_id, -1);
    } else {
        vr->routes_used++;
    }
    struct vr_lpm_route rt = { .nh_id = q->nh_id, .label = q->label, .flags = q->label_flags };
    memcpy(rt.mac, q->mac, 6);
    vr_lpm_add(t, q->prefix.a, q->plen, &rt);
    nh_ref(vr, q->nh_id, 1);
    struct vr_nexthop *nh = vr_nh_get(vr, q->nh_id);
    if (nh && nh->cfg.type == NH_RCV && q->plen == (q->family == VR_AF_INET ? 32 : 128)) {
        struct vr_vrf *v = vr->vrfs[q->vrf];
        *(q->family == VR_AF_INET ? &v->gw4 : &v->gw6) = q->prefix;
    }
    struct vr_route_req out;
    lpm_to_req(q->vrf, q->family, q->prefix.a, q->plen, ppl, &rt, &out);
    emit(r, &out);
    return 0;
}

static int
rt_get(struct req *r)
{
    int error = rt_common(r, true);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_route_req *q = &r->o.rt;
    struct vr_route_req out;
    if (q->family == VR_AF_BRIDGE) {
        struct vr_bridge_entry *be = vr_bridge_lookup(vr, q->vrf, q->mac);
        if (!be) {
            char mac[18];
            return req_fail(r, ENOENT, "bridge route %s in vrf %u does not exist",
                            vr_mac_format(q->mac, mac), q->vrf);
        }
        be_to_req(be, &out);
        emit(r, &out);
        return 0;
    }
    struct vr_lpm *t = rt_table(vr, q->vrf, q->family, false);
    int ppl = 0, plen = q->plen;
    const struct vr_lpm_route *rt = t ? vr_lpm_get(t, q->prefix.a, q->plen, &ppl) : NULL;
    if (!rt && t && q->plen == (q->family == VR_AF_INET ? 32 : 128)) {
        /* A host address: answer with the route that forwards it. */
        rt = vr_lpm_lookup(t, q->prefix.a, &plen);
        if (rt) {
            uint8_t pfx[16];
            memcpy(pfx, q->prefix.a, 16);
            vr_lpm_mask(pfx, plen);
            vr_lpm_get(t, pfx, plen, &ppl);
            lpm_to_req(q->vrf, q->family, pfx, plen, ppl, rt, &out);
            emit(r, &out);
            return 0;
        }
    }
    if (!rt) {
        char buf[64];
        return req_fail(r, ENOENT, "route %s/%u in vrf %u does not exist",
                        vr_ip_format(&q->prefix, buf, sizeof buf), q->plen, q->vrf);
    }
    lpm_to_req(q->vrf, q->family, q->prefix.a, q->plen, ppl, rt, &out);
    emit(r, &out);
    return 0;
}

static int
rt_del(struct req *r)
{
    int error = rt_common(r, true);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_route_req *q = &r->o.rt;
    if (q->family == VR_AF_BRIDGE) {
        struct vr_bridge_entry *be = vr_bridge_lookup(vr, q->vrf, q->mac);
        if (!be) {
            char mac[18];
            return req_fail(r, ENOENT, "bridge route %s in vrf %u does not exist",
                            vr_mac_format(q->mac, mac), q->vrf);
        }
        nh_ref(vr, be->nh_id, -1);
        hmap_remove(&vr->bridge, &be->node);
        vr->bridge_index[be->index] = NULL;
        vr->bridge_used--;
        mem_free(&mem_type_vr_bridge, be);
        return 0;
    }
    struct vr_lpm *t = rt_table(vr, q->vrf, q->family, false);
    const struct vr_lpm_route *rt = t ? vr_lpm_get(t, q->prefix.a, q->plen, NULL) : NULL;
    if (!rt) {
        char buf[64];
        return req_fail(r, ENOENT, "route %s/%u in vrf %u does not exist",
                        vr_ip_format(&q->prefix, buf, sizeof buf), q->plen, q->vrf);
    }
    nh_ref(vr, rt->nh_id, -1);
    vr_lpm_del(t, q->prefix.a, q->plen);
    vr->routes_used--;
    return 0;
}

struct rt_dump_ctx {
    struct req *r;
    int n;
    bool more;
};

static bool
rt_dump_cb(const uint8_t prefix[16], int plen, int ppl, const struct vr_lpm_route *rt,
           void *aux)
{
    struct rt_dump_ctx *c = aux;
    struct vr_route_req out;
    lpm_to_req(c->r->o.rt.vrf, c->r->o.rt.family, prefix, plen, ppl, rt, &out);
    if (c->n == DUMP_PAGE || !emit(c->r, &out)) {
        c->more = true;
        return false;
    }
    c->n++;
    return true;
}

static int
rt_dump(struct req *r)
{
    int error = rt_common(r, false);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_route_req *q = &r->o.rt;
    if (q->family == VR_AF_BRIDGE) {
        uint32_t start = r->has_marker ? r->marker.rt.index + 1 : 0;
        int n = 0;
        for (uint32_t i = start; i < vr->limits.bridge_entries; i++) {
            struct vr_bridge_entry *be = vr->bridge_index[i];
            if (!be || be->vrf != q->vrf) {
                continue;
            }
            struct vr_route_req out;
            be_to_req(be, &out);
            if (n == DUMP_PAGE || !emit(r, &out)) {
                set_more(r);
                return 0;
            }
            n++;
        }
        return 0;
    }
    struct vr_lpm *t = rt_table(vr, q->vrf, q->family, false);
    if (!t) {
        return 0;
    }
    struct rt_dump_ctx c = { .r = r };
    const uint8_t *after = NULL;
    int after_len = 0;
    if (r->has_marker) {
        int fam = q->family == VR_AF_INET ? 4 : 6;
        if (r->marker.rt.prefix.family != fam || r->marker.rt.plen > (fam == 4 ? 32 : 128)) {
            return req_fail(r, EINVAL, "route dump: marker is not a prefix of the family");
        }
        after = r->marker.rt.prefix.a;
        after_len = r->marker.rt.plen;
    }
    vr_lpm_walk(t, after, after_len, rt_dump_cb, &c);
    if (c.more) {
        set_more(r);
    }
    return 0;
}

/* ---- MPLS labels ---- */

static int
mpls_check(struct req *r)
{
    if (!has(r, VR_MPLS_A_LABEL)) {
        return req_fail(r, EINVAL, "mpls: label is required");
    }
    uint32_t l = r->o.mpls.label;
    if (l < VR_MPLS_MIN_LABEL || l >= r->vr->limits.mpls_labels) {
        return req_fail(r, EINVAL, "mpls label %u: out of range %u..%u", l, VR_MPLS_MIN_LABEL,
                        r->vr->limits.mpls_labels - 1);
    }
    return 0;
}

static int
mpls_add(struct req *r)
{
    int error = mpls_check(r);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_mpls_req *q = &r->o.mpls;
    if (!has(r, VR_MPLS_A_NH_ID) || q->nh_id >= vr->limits.nexthops) {
        return req_fail(r, EINVAL, "mpls label %u: nh_id %s", q->label,
                        has(r, VR_MPLS_A_NH_ID) ? "is out of range" : "is required");
    }
    if (vr->mpls[q->label] != NONE) {
        nh_ref(vr, vr->mpls[q->label], -1);
    }
    vr->mpls[q->label] = q->nh_id;
    nh_ref(vr, q->nh_id, 1);
    emit(r, q);
    return 0;
}

static int
mpls_get(struct req *r)
{
    int error = mpls_check(r);
    if (error) {
        return error;
    }
    uint32_t nh = r->vr->mpls[r->o.mpls.label];
    if (nh == NONE) {
        return req_fail(r, ENOENT, "mpls label %u does not exist", r->o.mpls.label);
    }
    struct vr_mpls_req out = { r->o.mpls.label, nh };
    emit(r, &out);
    return 0;
}

static int
mpls_del(struct req *r)
{
    int error = mpls_check(r);
    if (error) {
        return error;
    }
    uint32_t *slot = &r->vr->mpls[r->o.mpls.label];
    if (*slot == NONE) {
        return req_fail(r, ENOENT, "mpls label %u does not exist", r->o.mpls.label);
    }
    nh_ref(r->vr, *slot, -1);
    *slot = NONE;
    return 0;
}

static int
mpls_dump(struct req *r)
{
    if (r->has_marker && r->marker.mpls.label == NONE) {
        return 0;
    }
    uint32_t start = r->has_marker ? r->marker.mpls.label + 1 : 0;
    int n = 0;
    for (uint32_t i = start; i < r->vr->limits.mpls_labels; i++) {
        if (r->vr->mpls[i] == NONE) {
            continue;
        }
        struct vr_mpls_req out = { i, r->vr->mpls[i] };
        if (n == DUMP_PAGE * 4 || !emit(r, &out)) {
            set_more(r);
            return 0;
        }
        n++;
    }
    return 0;
}

/* ---- VXLAN ---- */

static int
vxlan_check(struct req *r)
{
    if (!has(r, VR_VXLAN_A_VNID)) {
        return req_fail(r, EINVAL, "vxlan: vnid is required");
    }
    if (r->o.vxlan.vnid > VR_VXLAN_MAX_VNID) {
        return req_fail(r, EINVAL, "vxlan vnid %u: out of range 0..%u", r->o.vxlan.vnid,
                        VR_VXLAN_MAX_VNID);
    }
    return 0;
}

static int
vxlan_add(struct req *r)
{
    int error = vxlan_check(r);
    if (error) {
        return error;
    }
    struct vrouter *vr = r->vr;
    struct vr_vxlan_req *q = &r->o.vxlan;
    if (!has(r, VR_VXLAN_A_NH_ID) || q->nh_id >= vr->limits.nexthops) {
        return req_fail(r, EINVAL, "vxlan vnid %u: nh_id %s", q->vnid,
                        has(r, VR_VXLAN_A_NH_ID) ? "is out of range" : "is required");
    }
    struct vr_vxlan_entry *e = vxlan_find(vr, q->vnid);
    if (e) {
        nh_ref(vr, e->nh_id, -1);
    } else {
        if (hmap_count(&vr->vxlan) >= vr->limits.vrfs * 4u) {
            return req_fail(r, ENOSPC, "vxlan table full");
        }
        e = mem_zalloc(&mem_type_vr_vxlan, sizeof *e);
        e->vnid = q->vnid;
        hmap_insert(&vr->vxlan, &e->node, hash_bytes(&q->vnid, 4, 0));
    }
    e->nh_id = q->nh_id;
    nh_ref(vr, q->nh_id, 1);
    emit(r, q);
    return 0;
}

static int
vxlan_get(struct req *r)
{
    int error = vxlan_check(r);
    if (error) {
        return error;
    }
    struct vr_vxlan_entry *e = vxlan_find(r->vr, r->o.vxlan.vnid);
    if (!e) {
        return req_fail(r, ENOENT, "vxlan vnid %u does not exist", r->o.vxlan.vnid);
    }
    struct vr_vxlan_req out = { e->vnid, e->nh_id };
    emit(r, &out);
    return 0;
}

static int
vxlan_del(struct req *r)
{
    int error = vxlan_check(r);
    if (error) {
        return error;
    }
    struct vr_vxlan_entry *e = vxlan_find(r->vr, r->o.vxlan.vnid);
    if (!e) {
        return req_fail(r, ENOENT, "vxlan vnid %u does not exist", r->o.vxlan.vnid);
    }
    nh_ref(r->vr, e->nh_id, -1);
    hmap_remove(&r->vr->vxlan, &e->node);
    mem_free(&mem_type_vr_vxlan, e);
    return 0;
}

static int
cmp_vnid(const void *a, const void *b)
{
    uint32_t x = ((const struct vr_vxlan_req *) a)->vnid, y = ((const struct vr_vxlan_req *) b)->vnid;
    return x < y ? -1 : x > y;
}

static int
vxlan_dump(struct req *r)
{
    struct vrouter *vr = r->vr;
    size_t n = hmap_count(&vr->vxlan), k = 0;
    struct vr_vxlan_req *all = mem_zalloc(&mem_type_vr_vxlan, (n ? n : 1) * sizeof *all);
    struct vr_vxlan_entry *e;
    HMAP_FOR_EACH (e, node, &vr->vxlan) {
        if (!r->has_marker || e->vnid > r->marker.vxlan.vnid) {
            all[k].vnid = e->vnid;
            all[k].nh_id = e->nh_id;
            k++;
        }
    }
    if (k) {
        qsort(all, k, sizeof *all, cmp_vnid);
    }
    for (size_t i = 0; i < k; i++) {
        if (i == DUMP_PAGE * 4 || !emit(r, &all[i])) {
            set_more(r);
            break;
        }
    }
    mem_free(&mem_type_vr_vxlan, all);
    return 0;
}

/* ---- flows ---- */

static void
flow_to_req(const struct vrouter *vr, uint32_t index, struct vr_flow_req *out)
{
    const struct vr_flow_entry *e = &vr->flows.entries[index];
    memset(out, 0, sizeof *out);
    out->index = index;
    out->rindex = e->rindex;
    out->action = e->action;
    out->flags = e->flags;
    out->proto = e->key.proto;
    out->sip.family = out->dip.family = e->key.family;
    memcpy(out->sip.a, e->key.sip, 16);
    memcpy(out->dip.a, e->key.dip, 16);
    out->sport = e->key.sport;
    out->dport = e->key.dport;
    out->nh_id = e->key.nh_id;
    out->vrf = e->vrf;
    out->dvrf = e->dvrf;
    out->ecmp_nh_index = e->ecmp_nh_index;
    out->src_nh_index = e->src_nh_index;
    out->drop_reason = e->drop_reason;
    out->gen_id = e->gen_id;
    out->mirror_id = e->mirror_id;
    out->udp_src_port = e->udp_src_port;
    out->packets = e->packets;
    out->bytes = e->bytes;
    out->hold_count = e->n_hold;
    out->tcp_flags = e->tcp_flags;
    uint64_t now = vr_now_ms(), idle = now > e->last_used_ms ? now - e->last_used_ms : 0;
    out->idle_ms = idle > UINT32_MAX ? UINT32_MAX : (uint32_t) idle;
}

static int
flow_key_from_req(struct req *r, struct vr_flow_key *k)
{
    const struct vr_flow_req *q = &r->o.flow;
    if (!q->sip.family || q->sip.family != q->dip.family) {
        return req_fail(r, EINVAL, "flow: sip and dip are required, of the same family");
    }
    if (!has(r, VR_FL_A_NH_ID) || q->nh_id >= r->vr->limits.nexthops) {
        return req_fail(r, EINVAL, "flow: nh_id (the key next hop) %s",
                        has(r, VR_FL_A_NH_ID) ? "is out of range" : "is required");
    }
    memset(k, 0, sizeof *k);
    k->family = q->sip.family;
    k->proto = q->proto;
    k->sport = q->sport;
    k->dport = q->dport;
    k->nh_id = q->nh_id;
    memcpy(k->sip, q->sip.a, q->sip.family == 4 ? 4 : 16);
    memcpy(k->dip, q->dip.a, q->dip.family == 4 ? 4 : 16);
    return 0;
}

static int
flow_add(struct req *r)
{
    struct vrouter *vr = r->vr;
    struct vr_flow_req *q = &r->o.flow;
    struct vr_flow_table *t = &vr->flows;
    uint32_t index = has(r, VR_FL_A_INDEX) ? q->index : NONE;
    struct vr_flow_entry *e;
    bool created = false;
    if (!has(r, VR_FL_A_ACTION) || q->action >= VR_FLOW_ACTION_MAX) {
        return req_fail(r, EINVAL, "flow: action %s", has(r, VR_FL_A_ACTION)
                        ? "is not drop, hold, forward or nat" : "is required");
    }
    if (q->drop_reason >= VR_FLOW_DR_MAX) {
        return req_fail(r, EINVAL, "flow: drop_reason %u out of range", q->drop_reason);
    }
    if (has(r, VR_FL_A_VRF) && q->vrf >= vr->limits.vrfs) {
        return req_fail(r, EINVAL, "flow: vrf %u out of range", q->vrf);
    }
    if (has(r, VR_FL_A_DVRF) && q->dvrf >= vr->limits.vrfs) {
        return req_fail(r, EINVAL, "flow: dvrf %u out of range", q->dvrf);
    }
    if (index != NONE) {
        e = vr_flow_get(t, index);
        if (!e) {
            return req_fail(r, ENOENT, "flow %u does not exist", index);
        }
        if (has(r, VR_FL_A_GEN_ID) && q->gen_id != e->gen_id) {
            return req_fail(r, ESTALE, "flow %u: generation %u, the entry is at %u", index,
                            q->gen_id, e->gen_id);
        }
    } else {
        struct vr_flow_key k;
        int error = flow_key_from_req(r, &k);
        if (error) {
            return error;
        }
        e = vr_flow_lookup(t, &k, &index);
        if (!e) {
            error = vr_flow_alloc(t, &k, vr_now_ms(), &index);
            if (error) {
                return req_fail(r, ENOSPC, "flow table full (%u entries, %u overflow)",
                                t->n_main, t->n_oflow);
            }
            e = &t->entries[index];
            created = true;
        }
    }
    if ((q->flags & VR_RFLOW_VALID) && (!has(r, VR_FL_A_RINDEX) || !vr_flow_get(t, q->rindex))) {
        if (created) {
            vr_flow_free(t, index);
        }
        return req_fail(r, EINVAL, "flow: reverse flow %u does not exist", q->rindex);
    }
    if (q->action == VR_FLOW_ACTION_NAT && !(q->flags & VR_FLOW_FLAG_NAT_MASK)) {
        if (created) {
            vr_flow_free(t, index);
        }
        return req_fail(r, EINVAL, "flow: nat action needs one of the flags SNAT, DNAT, SPAT, "
                        "DPAT");
    }
    uint8_t old_action = e->action;
    vr_flow_set_action(t, e, q->action);
    e->flags = (uint16_t) ((q->flags | VR_FLOW_FLAG_ACTIVE) & ~VR_FLOW_FLAG_NEW_FLOW);
    e->rindex = (q->flags & VR_RFLOW_VALID) ? q->rindex : NONE;
    if (has(r, VR_FL_A_VRF)) {
        e->vrf = q->vrf;
    }
    e->dvrf = has(r, VR_FL_A_DVRF) ? q->dvrf : e->vrf;
    e->ecmp_nh_index = has(r, VR_FL_A_ECMP_NH_INDEX) ? q->ecmp_nh_index : NONE;
    e->src_nh_index = has(r, VR_FL_A_SRC_NH_INDEX) ? q->src_nh_index : NONE;
    e->drop_reason = q->drop_reason;
    e->mirror_id = has(r, VR_FL_A_MIRROR_ID) ? q->mirror_id : NONE;
    e->udp_src_port = q->udp_src_port;
    e->last_used_ms = vr_now_ms();
    if (created) {
        t->added++;
    } else {
        t->changed++;
    }
    /* The reverse flow points back here when the agent sets both. */
    struct vr_flow_req out;
    flow_to_req(vr, index, &out);
    emit(r, &out);
    if (old_action == VR_FLOW_ACTION_HOLD && q->action != VR_FLOW_ACTION_HOLD
        && vr->engine_class && vr->engine_class->flow_released) {
        vr->engine_class->flow_released(vr, index);
    }
    return 0;
}

static int
flow_find(struct req *r, uint32_t *index)
{
    if (has(r, VR_FL_A_INDEX) && r->o.flow.index != NONE) {
        *index = r->o.flow.index;
        if (!vr_flow_get(&r->vr->flows, *index)) {
            return req_fail(r, ENOENT, "flow %u does not exist", *index);
        }
        return 0;
    }
    struct vr_flow_key k;
    int error = flow_key_from_req(r, &k);
    if (error) {
        return error;
    }
    if (!vr_flow_lookup(&r->vr->flows, &k, index)) {
        return req_fail(r, ENOENT, "no flow has that key");
    }
    return 0;
}

static int
flow_get(struct req *r)
{
    uint32_t index;
    int error = flow_find(r, &index);
    if (!error) {
        struct vr_flow_req out;
        flow_to_req(r->vr, index, &out);
        emit(r, &out);
    }
    return error;
}

static int
flow_del(struct req *r)
{
    uint32_t index;
    int error = flow_find(r, &index);
    if (!error) {
        vr_flow_free(&r->vr->flows, index);
    }
    return error;
}

static int
flow_dump(struct req *r)
{
    struct vr_flow_table *t = &r->vr->flows;
    if (r->has_marker && r->marker.flow.index == NONE) {
        return 0;
    }
    uint32_t start = r->has_marker ? r->marker.flow.index + 1 : 0;
    int n = 0;
    for (uint32_t i = start; i < vr_flow_table_size(t); i++) {
        if (!t->entries[i].in_use) {
            continue;
        }
        struct vr_flow_req out;
        flow_to_req(r->vr, i, &out);
        if (n == DUMP_PAGE || !emit(r, &out)) {
            set_more(r);
            return 0;
        }
        n++;
    }
    return 0;
}

/* ---- mirrors ---- */

static int
mirror_check(struct req *r)
{
    if (!has(r, VR_MIR_A_IDX)) {
        return req_fail(r, EINVAL, "mirror: idx is required");
    }
    if (r->o.mirror.idx >= r->vr->limits.mirror_entries) {
        return req_fail(r, EINVAL, "mirror %u: out of range (limit %u)", r->o.mirror.idx,
                        r->vr->limits.mirror_entries);
    }
    return 0;
}

static int
mirror_add(struct req *r)
{
    int error = mirror_check(r);
    if (error) {
        return error;
    }
    struct vr_mirror_req *q = &r->o.mirror;
    if (!has(r, VR_MIR_A_NH_ID) || q->nh_id >= r->vr->limits.nexthops) {
        return req_fail(r, EINVAL, "mirror %u: nh_id %s", q->idx,
                        has(r, VR_MIR_A_NH_ID) ? "is out of range" : "is required");
    }
    struct vr_mirror *m = &r->vr->mirrors[q->idx];
    if (m->used) {
        nh_ref(r->vr, m->cfg.nh_id, -1);
    }
    uint64_t packets = m->used ? m->cfg.packets : 0;
    m->used = true;
    m->cfg = *q;
    m->cfg.packets = packets;
    nh_ref(r->vr, q->nh_id, 1);
    emit(r, &m->cfg);
    return 0;
}

static int
mirror_get(struct req *r)
{
    int error = mirror_check(r);
    if (error) {
        return error;
    }
    struct vr_mirror *m = &r->vr->mirrors[r->o.mirror.idx];
    if (!m->used) {
        return req_fail(r, ENOENT, "mirror %u does not exist", r->o.mirror.idx);
    }
    emit(r, &m->cfg);
    return 0;
}

static int
mirror_del(struct req *r)
{
    int error = mirror_check(r);
    if (error) {
        return error;
    }
    struct vr_mirror *m = &r->vr->mirrors[r->o.mirror.idx];
    if (!m->used) {
        return req_fail(r, ENOENT, "mirror %u does not exist", r->o.mirror.idx);
    }
    nh_ref(r->vr, m->cfg.nh_id, -1);
    memset(m, 0, sizeof *m);
    return 0;
}

static int
mirror_dump(struct req *r)
{
    if (r->has_marker && r->marker.mirror.idx == NONE) {
        return 0;
    }
    uint32_t start = r->has_marker ? r->marker.mirror.idx + 1 : 0;
    for (uint32_t i = start; i < r->vr->limits.mirror_entries; i++) {
        if (r->vr->mirrors[i].used && !emit(r, &r->vr->mirrors[i].cfg)) {
            set_more(r);
            return 0;
        }
    }
    return 0;
}

/* ---- drop statistics and vrouter_ops ---- */

static int
ds_get(struct req *r)
{
    struct vr_drop_stats_req out;
    memset(&out, 0, sizeof out);
    out.vif = NONE;
    out.count = VP_DROP_MAX;
    if (has(r, VR_DS_A_VIF) && r->o.ds.vif != NONE) {
        struct vr_vif *v = vr_vif_get(r->vr, r->o.ds.vif);
        if (!v) {
            return req_fail(r, ENOENT, "interface %u does not exist", r->o.ds.vif);
        }
        out.vif = r->o.ds.vif;
        memcpy(out.counters, v->drops, sizeof out.counters);
    } else {
        memcpy(out.counters, r->vr->drops, sizeof out.counters);
    }
    emit(r, &out);
    return 0;
}

static void
info_fill(const struct vrouter *vr, struct vr_info_req *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->build_info, sizeof o->build_info, "contrail-c vrouter %s, built %s %s",
             CONTRAIL_VERSION, __DATE__, __TIME__);
    snprintf(o->engine, sizeof o->engine, "%s",
             vr->engine_class ? vr->engine_class->name : "none");
    o->proto_version = VR_PROTO_VERSION;
    o->interfaces = vr->limits.interfaces;
    o->vrfs = vr->limits.vrfs;
    o->nexthops = vr->limits.nexthops;
    o->mpls_labels = vr->limits.mpls_labels;
    o->bridge_entries = vr->limits.bridge_entries;
    o->flow_entries = vr->flows.n_main;
    o->oflow_entries = vr->flows.n_oflow;
    o->mirror_entries = vr->limits.mirror_entries;
    o->flow_hold_limit = vr->flows.hold_limit;
    o->flow_aging_ms = vr->flows.aging_ms;
    snprintf(o->log_level, sizeof o->log_level, "%s", log_level_name);
    o->flows_created = vr->flows.created;
    o->flows_added = vr->flows.added;
    o->flows_deleted = vr->flows.deleted;
    o->flows_changed = vr->flows.changed;
    o->flows_processed = vr->flows.processed;
    o->flows_used = vr->flows.used;
    o->flows_oflow_used = vr->flows.oflow_used;
    o->flows_hold = vr->flows.hold;
    o->bridge_used = vr->bridge_used;
    o->routes_used = vr->routes_used;
    o->uptime_ms = vr_now_ms() - vr->start_ms;
}

static int
info_get(struct req *r)
{
    struct vr_info_req o;
    info_fill(r->vr, &o);
    emit(r, &o);
    return 0;
}

static int
info_set(struct req *r)
{
    struct vr_info_req *q = &r->o.info;
    if (has(r, VR_INFO_A_LOG_LEVEL)) {
        int level = log_level_from_string(q->log_level);
        if (level < 0) {
            return req_fail(r, EINVAL, "log_level '%s' is not one of SYS_ERR, SYS_WARN, "
                            "SYS_NOTICE, SYS_INFO, SYS_DEBUG", q->log_level);
        }
        log_set_level(NULL, level);
        snprintf(log_level_name, sizeof log_level_name, "%s", q->log_level);
    }
    if (has(r, VR_INFO_A_FLOW_HOLD_LIMIT)) {
        r->vr->flows.hold_limit = q->flow_hold_limit;
    }
    if (has(r, VR_INFO_A_FLOW_AGING_MS)) {
        r->vr->flows.aging_ms = q->flow_aging_ms;
    }
    return info_get(r);
}

/* ---- dispatch ---- */

typedef int req_fn(struct req *);

static req_fn *const handlers[VR_OBJ_MAX][5] = {
    /*                    ADD         GET         DEL         DUMP */
    [VR_OBJ_IF] = { NULL, if_add, if_get, if_del, if_dump },
    [VR_OBJ_NH] = { NULL, nh_add, nh_get, nh_del, nh_dump },
    [VR_OBJ_ROUTE] = { NULL, rt_add, rt_get, rt_del, rt_dump },
    [VR_OBJ_MPLS] = { NULL, mpls_add, mpls_get, mpls_del, mpls_dump },
    [VR_OBJ_VXLAN] = { NULL, vxlan_add, vxlan_get, vxlan_del, vxlan_dump },
    [VR_OBJ_FLOW] = { NULL, flow_add, flow_get, flow_del, flow_dump },
    [VR_OBJ_MIRROR] = { NULL, mirror_add, mirror_get, mirror_del, mirror_dump },
    [VR_OBJ_DROPSTATS] = { NULL, NULL, ds_get, NULL, ds_get },
    [VR_OBJ_INFO] = { NULL, info_set, info_get, NULL, info_get },
};

void
vr_model_error_response(uint16_t obj, uint32_t seq, int code, const char *text, uint8_t *resp,
                        size_t *resp_len)
{
    struct vr_msgbuf b;
    vr_msg_begin(&b, resp, VR_MSG_MAX, VR_OP_RESPONSE, obj, 0, seq);
    vr_msg_put_u32(&b, VR_A_RESP_CODE, (uint32_t) code);
    vr_msg_put_string(&b, VR_A_RESP_MSG, text);
    vr_msg_finish(&b);
    *resp_len = b.len;
}

/* Splits the request's attributes: the object's fields (copied to FIELDS) and a marker. */
static int
split_attrs(struct req *r, const uint8_t *attrs, size_t len, uint8_t *fields,
            size_t *fields_len)
{
    struct vr_attr_iter it;
    vr_attr_iter_init(&it, attrs, len);
    uint16_t type, l;
    const uint8_t *v;
    *fields_len = 0;
    while (vr_attr_next(&it, &type, &v, &l)) {
        if (type == VR_A_MARKER && r->hdr.op == VR_OP_DUMP && !r->has_marker) {
            int error = vr_msg_decode_object(r->hdr.obj, v, l, &r->marker, &r->marker_present,
                                             r->err, sizeof r->err);
            if (error) {
                return error;
            }
            r->has_marker = true;
            continue;
        }
        if (type < VR_A_FIRST_FIELD) {
            return req_fail(r, EINVAL, "attribute %u is not allowed in a %s request", type,
                            vr_op_name(r->hdr.op));
        }
        size_t take = 4 + (((size_t) l + 3) & ~(size_t) 3);
        memcpy(fields + *fields_len, v - 4, 4 + (size_t) l);
        memset(fields + *fields_len + 4 + l, 0, take - 4 - l);
        *fields_len += take;
    }
    if (it.error) {
        return req_fail(r, EINVAL, "truncated attribute");
    }
    return 0;
}

void
vr_model_request(struct vrouter *vr, const uint8_t *msg, size_t len, uint8_t *resp,
                 size_t *resp_len)
{
    static uint8_t fields[VR_MSG_MAX + 4];
    struct req *r = mem_zalloc(&mem_type_vr_tables, sizeof *r);
    r->vr = vr;
    vr->requests++;
    int error = vr_msg_parse_hdr(msg, len, &r->hdr);
    if (error || r->hdr.len != len) {
        vr_model_error_response(0, 0, EBADMSG, "malformed message header", resp, resp_len);
        vr->request_errors++;
        mem_free(&mem_type_vr_tables, r);
        return;
    }
    struct vr_msgbuf b;
    vr_msg_begin(&b, resp, VR_MSG_MAX, VR_OP_RESPONSE, r->hdr.obj, 0, r->hdr.seq);
    size_t code_pos = b.len;
    vr_msg_put_u32(&b, VR_A_RESP_CODE, 0);
    r->resp = &b;

    req_fn *fn = NULL;
    if (r->hdr.version != VR_PROTO_VERSION) {
        error = req_fail(r, EPROTONOSUPPORT, "protocol version %u is not supported (this "
                         "vRouter speaks version %u)", r->hdr.version, VR_PROTO_VERSION);
    } else if (r->hdr.op == VR_OP_RESET) {
        vr_model_reset(vr);
        LOG_NOTICE("tables reset by a control request");
    } else if (!(r->desc = vr_obj_desc(r->hdr.obj))) {
        error = req_fail(r, EINVAL, "unknown object type %u", r->hdr.obj);
    } else if (r->hdr.op < VR_OP_ADD || r->hdr.op > VR_OP_DUMP
               || !(fn = handlers[r->hdr.obj][r->hdr.op])) {
        error = req_fail(r, EOPNOTSUPP, "operation %u (%s) is not supported on %s objects",
                         r->hdr.op, vr_op_name(r->hdr.op), r->desc->name);
    } else {
        size_t flen;
        error = split_attrs(r, msg + VR_MSG_HDR_LEN, len - VR_MSG_HDR_LEN, fields, &flen);
        if (!error) {
            error = vr_msg_decode_object(r->hdr.obj, fields, flen, &r->o, &r->present, r->err,
                                         sizeof r->err);
        }
        if (!error) {
            error = fn(r);
        }
    }
    if (error) {
        /* Drop any partial objects: an error response carries only the code and text. */
        vr_msg_rollback(&b, code_pos);
        vr_msg_put_u32(&b, VR_A_RESP_CODE, (uint32_t) error);
        vr_msg_put_string(&b, VR_A_RESP_MSG, r->err[0] ? r->err : strerror(error));
        b.data[6] = b.data[7] = 0;
        vr->request_errors++;
        LOG_DEBUG("request %s %u seq %u: %s", vr_op_name(r->hdr.op), r->hdr.obj, r->hdr.seq,
                  r->err);
    }
    vr_msg_finish(&b);
    *resp_len = b.len;
    mem_free(&mem_type_vr_tables, r);
}
