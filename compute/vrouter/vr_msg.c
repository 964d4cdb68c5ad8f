/* vr_msg: table-driven codec of the vRouter control protocol (see vr_msg.h, vr_proto.h). */
#include "vr_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define F(ID, NAME, KIND, FLAGS, TYPE, MEMBER) \
    { ID, NAME, KIND, FLAGS, offsetof(TYPE, MEMBER), sizeof(((TYPE *) 0)->MEMBER), 0 }
#define FL(ID, NAME, KIND, FLAGS, TYPE, MEMBER, COUNT)                                    \
    { ID, NAME, KIND, FLAGS, offsetof(TYPE, MEMBER),                                      \
      sizeof(((TYPE *) 0)->MEMBER) / sizeof(((TYPE *) 0)->MEMBER[0]), offsetof(TYPE, COUNT) }
#define FB(ID, NAME, FLAGS, TYPE, MEMBER, COUNT)                                          \
    { ID, NAME, VR_FK_BYTES, FLAGS, offsetof(TYPE, MEMBER), sizeof(((TYPE *) 0)->MEMBER),   \
      offsetof(TYPE, COUNT) }
#define KEY VR_FF_KEY
#define RO VR_FF_RO

static const struct vr_field if_fields[] = {
    F(VR_IF_A_IDX, "idx", VR_FK_U32, KEY, struct vr_if_req, idx),
    F(VR_IF_A_TYPE, "type", VR_FK_U8, 0, struct vr_if_req, type),
    F(VR_IF_A_TRANSPORT, "transport", VR_FK_U8, 0, struct vr_if_req, transport),
    F(VR_IF_A_FLAGS, "flags", VR_FK_U32, 0, struct vr_if_req, flags),
    F(VR_IF_A_VRF, "vrf", VR_FK_U32, 0, struct vr_if_req, vrf),
    F(VR_IF_A_MCAST_VRF, "mcast_vrf", VR_FK_U32, 0, struct vr_if_req, mcast_vrf),
    F(VR_IF_A_MTU, "mtu", VR_FK_U32, 0, struct vr_if_req, mtu),
    F(VR_IF_A_NAME, "name", VR_FK_STRING, 0, struct vr_if_req, name),
    F(VR_IF_A_MAC, "mac", VR_FK_MAC, 0, struct vr_if_req, mac),
    F(VR_IF_A_IP, "ip", VR_FK_IP, 0, struct vr_if_req, ip),
    F(VR_IF_A_IP6, "ip6", VR_FK_IP, 0, struct vr_if_req, ip6),
    F(VR_IF_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_if_req, nh_id),
    F(VR_IF_A_OS_IDX, "os_idx", VR_FK_U32, RO, struct vr_if_req, os_idx),
    F(VR_IF_A_REF_CNT, "ref_cnt", VR_FK_U32, RO, struct vr_if_req, ref_cnt),
    F(VR_IF_A_IPACKETS, "ipackets", VR_FK_U64, RO, struct vr_if_req, ipackets),
    F(VR_IF_A_IBYTES, "ibytes", VR_FK_U64, RO, struct vr_if_req, ibytes),
    F(VR_IF_A_IERRORS, "ierrors", VR_FK_U64, RO, struct vr_if_req, ierrors),
    F(VR_IF_A_OPACKETS, "opackets", VR_FK_U64, RO, struct vr_if_req, opackets),
    F(VR_IF_A_OBYTES, "obytes", VR_FK_U64, RO, struct vr_if_req, obytes),
    F(VR_IF_A_OERRORS, "oerrors", VR_FK_U64, RO, struct vr_if_req, oerrors),
    F(VR_IF_A_DROPS, "drops", VR_FK_U64, RO, struct vr_if_req, drops),
};

static const struct vr_field nh_fields[] = {
    F(VR_NH_A_ID, "id", VR_FK_U32, KEY, struct vr_nh_req, id),
    F(VR_NH_A_TYPE, "type", VR_FK_U8, 0, struct vr_nh_req, type),
    F(VR_NH_A_FAMILY, "family", VR_FK_U8, 0, struct vr_nh_req, family),
    F(VR_NH_A_FLAGS, "flags", VR_FK_U32, 0, struct vr_nh_req, flags),
    F(VR_NH_A_VRF, "vrf", VR_FK_U32, 0, struct vr_nh_req, vrf),
    F(VR_NH_A_RID, "rid", VR_FK_U32, 0, struct vr_nh_req, rid),
    F(VR_NH_A_ENCAP_OIF, "encap_oif", VR_FK_U32, 0, struct vr_nh_req, encap_oif),
    F(VR_NH_A_ENCAP_FAMILY, "encap_family", VR_FK_U16, 0, struct vr_nh_req, encap_family),
    FB(VR_NH_A_ENCAP, "encap", 0, struct vr_nh_req, encap, encap_len),
    F(VR_NH_A_TUN_SIP, "tun_sip", VR_FK_IP, 0, struct vr_nh_req, tun_sip),
    F(VR_NH_A_TUN_DIP, "tun_dip", VR_FK_IP, 0, struct vr_nh_req, tun_dip),
    F(VR_NH_A_TUN_SPORT, "tun_sport", VR_FK_U16, 0, struct vr_nh_req, tun_sport),
    F(VR_NH_A_TUN_DPORT, "tun_dport", VR_FK_U16, 0, struct vr_nh_req, tun_dport),
    FL(VR_NH_A_NH_LIST, "nh_list", VR_FK_U32LIST, 0, struct vr_nh_req, nh_list, nh_count),
    FL(VR_NH_A_LABEL_LIST, "label_list", VR_FK_U32LIST, 0, struct vr_nh_req, label_list,
       label_count),
    F(VR_NH_A_ECMP_CONFIG_HASH, "ecmp_config_hash", VR_FK_U8, 0, struct vr_nh_req,
      ecmp_config_hash),
    F(VR_NH_A_REF_CNT, "ref_cnt", VR_FK_U32, RO, struct vr_nh_req, ref_cnt),
};

static const struct vr_field rt_fields[] = {
    F(VR_RT_A_VRF, "vrf", VR_FK_U32, KEY, struct vr_route_req, vrf),
    F(VR_RT_A_FAMILY, "family", VR_FK_U8, KEY, struct vr_route_req, family),
    F(VR_RT_A_PREFIX, "prefix", VR_FK_IP, KEY, struct vr_route_req, prefix),
    F(VR_RT_A_PLEN, "plen", VR_FK_U8, KEY, struct vr_route_req, plen),
    F(VR_RT_A_MAC, "mac", VR_FK_MAC, KEY, struct vr_route_req, mac),
    F(VR_RT_A_LABEL_FLAGS, "label_flags", VR_FK_U32, 0, struct vr_route_req, label_flags),
    F(VR_RT_A_LABEL, "label", VR_FK_U32, 0, struct vr_route_req, label),
    F(VR_RT_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_route_req, nh_id),
    F(VR_RT_A_INDEX, "index", VR_FK_U32, RO, struct vr_route_req, index),
    F(VR_RT_A_PPL, "ppl", VR_FK_U8, RO, struct vr_route_req, ppl),
    F(VR_RT_A_PACKETS, "packets", VR_FK_U64, RO, struct vr_route_req, packets),
};

static const struct vr_field mpls_fields[] = {
    F(VR_MPLS_A_LABEL, "label", VR_FK_U32, KEY, struct vr_mpls_req, label),
    F(VR_MPLS_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_mpls_req, nh_id),
};

static const struct vr_field vxlan_fields[] = {
    F(VR_VXLAN_A_VNID, "vnid", VR_FK_U32, KEY, struct vr_vxlan_req, vnid),
    F(VR_VXLAN_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_vxlan_req, nh_id),
};

static const struct vr_field flow_fields[] = {
    F(VR_FL_A_INDEX, "index", VR_FK_U32, KEY, struct vr_flow_req, index),
    F(VR_FL_A_RINDEX, "rindex", VR_FK_U32, 0, struct vr_flow_req, rindex),
    F(VR_FL_A_ACTION, "action", VR_FK_U8, 0, struct vr_flow_req, action),
    F(VR_FL_A_FLAGS, "flags", VR_FK_U16, 0, struct vr_flow_req, flags),
    F(VR_FL_A_PROTO, "proto", VR_FK_U8, 0, struct vr_flow_req, proto),
    F(VR_FL_A_SIP, "sip", VR_FK_IP, 0, struct vr_flow_req, sip),
    F(VR_FL_A_DIP, "dip", VR_FK_IP, 0, struct vr_flow_req, dip),
    F(VR_FL_A_SPORT, "sport", VR_FK_U16, 0, struct vr_flow_req, sport),
    F(VR_FL_A_DPORT, "dport", VR_FK_U16, 0, struct vr_flow_req, dport),
    F(VR_FL_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_flow_req, nh_id),
    F(VR_FL_A_VRF, "vrf", VR_FK_U32, 0, struct vr_flow_req, vrf),
    F(VR_FL_A_DVRF, "dvrf", VR_FK_U32, 0, struct vr_flow_req, dvrf),
    F(VR_FL_A_ECMP_NH_INDEX, "ecmp_nh_index", VR_FK_U32, 0, struct vr_flow_req, ecmp_nh_index),
    F(VR_FL_A_SRC_NH_INDEX, "src_nh_index", VR_FK_U32, 0, struct vr_flow_req, src_nh_index),
    F(VR_FL_A_DROP_REASON, "drop_reason", VR_FK_U8, 0, struct vr_flow_req, drop_reason),
    F(VR_FL_A_GEN_ID, "gen_id", VR_FK_U8, 0, struct vr_flow_req, gen_id),
    F(VR_FL_A_MIRROR_ID, "mirror_id", VR_FK_U32, 0, struct vr_flow_req, mirror_id),
    F(VR_FL_A_UDP_SRC_PORT, "udp_src_port", VR_FK_U16, 0, struct vr_flow_req, udp_src_port),
    F(VR_FL_A_PACKETS, "packets", VR_FK_U64, RO, struct vr_flow_req, packets),
    F(VR_FL_A_BYTES, "bytes", VR_FK_U64, RO, struct vr_flow_req, bytes),
    F(VR_FL_A_HOLD_COUNT, "hold_count", VR_FK_U32, RO, struct vr_flow_req, hold_count),
    F(VR_FL_A_TCP_FLAGS, "tcp_flags", VR_FK_U8, RO, struct vr_flow_req, tcp_flags),
    F(VR_FL_A_IDLE_MS, "idle_ms", VR_FK_U32, RO, struct vr_flow_req, idle_ms),
};

static const struct vr_field mirror_fields[] = {
    F(VR_MIR_A_IDX, "idx", VR_FK_U32, KEY, struct vr_mirror_req, idx),
    F(VR_MIR_A_NH_ID, "nh_id", VR_FK_U32, 0, struct vr_mirror_req, nh_id),
    F(VR_MIR_A_FLAGS, "flags", VR_FK_U32, 0, struct vr_mirror_req, flags),
    F(VR_MIR_A_VNI, "vni", VR_FK_U32, 0, struct vr_mirror_req, vni),
    F(VR_MIR_A_PACKETS, "packets", VR_FK_U64, RO, struct vr_mirror_req, packets),
};

static const struct vr_field ds_fields[] = {
    F(VR_DS_A_VIF, "vif", VR_FK_U32, KEY, struct vr_drop_stats_req, vif),
    FL(VR_DS_A_COUNTERS, "counters", VR_FK_U64LIST, RO, struct vr_drop_stats_req, counters,
       count),
};

static const struct vr_field info_fields[] = {
    F(VR_INFO_A_BUILD, "build_info", VR_FK_STRING, RO, struct vr_info_req, build_info),
    F(VR_INFO_A_ENGINE, "engine", VR_FK_STRING, RO, struct vr_info_req, engine),
    F(VR_INFO_A_PROTO_VERSION, "proto_version", VR_FK_U32, RO, struct vr_info_req,
      proto_version),
    F(VR_INFO_A_INTERFACES, "interfaces", VR_FK_U32, RO, struct vr_info_req, interfaces),
    F(VR_INFO_A_VRFS, "vrfs", VR_FK_U32, RO, struct vr_info_req, vrfs),
    F(VR_INFO_A_NEXTHOPS, "nexthops", VR_FK_U32, RO, struct vr_info_req, nexthops),
    F(VR_INFO_A_MPLS_LABELS, "mpls_labels", VR_FK_U32, RO, struct vr_info_req, mpls_labels),
    F(VR_INFO_A_BRIDGE_ENTRIES, "bridge_entries", VR_FK_U32, RO, struct vr_info_req,
      bridge_entries),
    F(VR_INFO_A_FLOW_ENTRIES, "flow_entries", VR_FK_U32, RO, struct vr_info_req, flow_entries),
    F(VR_INFO_A_OFLOW_ENTRIES, "oflow_entries", VR_FK_U32, RO, struct vr_info_req,
      oflow_entries),
    F(VR_INFO_A_MIRROR_ENTRIES, "mirror_entries", VR_FK_U32, RO, struct vr_info_req,
      mirror_entries),
    F(VR_INFO_A_FLOW_HOLD_LIMIT, "flow_hold_limit", VR_FK_U32, 0, struct vr_info_req,
      flow_hold_limit),
    F(VR_INFO_A_FLOW_AGING_MS, "flow_aging_ms", VR_FK_U32, 0, struct vr_info_req,
      flow_aging_ms),
    F(VR_INFO_A_LOG_LEVEL, "log_level", VR_FK_STRING, 0, struct vr_info_req, log_level),
    F(VR_INFO_A_FLOWS_CREATED, "flows_created", VR_FK_U64, RO, struct vr_info_req,
      flows_created),
    F(VR_INFO_A_FLOWS_ADDED, "flows_added", VR_FK_U64, RO, struct vr_info_req, flows_added),
    F(VR_INFO_A_FLOWS_DELETED, "flows_deleted", VR_FK_U64, RO, struct vr_info_req,
      flows_deleted),
    F(VR_INFO_A_FLOWS_CHANGED, "flows_changed", VR_FK_U64, RO, struct vr_info_req,
      flows_changed),
    F(VR_INFO_A_FLOWS_PROCESSED, "flows_processed", VR_FK_U64, RO, struct vr_info_req,
      flows_processed),
    F(VR_INFO_A_FLOWS_USED, "flows_used", VR_FK_U64, RO, struct vr_info_req, flows_used),
    F(VR_INFO_A_FLOWS_OFLOW_USED, "flows_oflow_used", VR_FK_U64, RO, struct vr_info_req,
      flows_oflow_used),
    F(VR_INFO_A_FLOWS_HOLD, "flows_hold", VR_FK_U64, RO, struct vr_info_req, flows_hold),
    F(VR_INFO_A_BRIDGE_USED, "bridge_used", VR_FK_U64, RO, struct vr_info_req, bridge_used),
    F(VR_INFO_A_ROUTES_USED, "routes_used", VR_FK_U64, RO, struct vr_info_req, routes_used),
    F(VR_INFO_A_UPTIME_MS, "uptime_ms", VR_FK_U64, RO, struct vr_info_req, uptime_ms),
};

#define D(OBJ, NAME, TYPE, FIELDS) \
    [OBJ] = { OBJ, NAME, sizeof(TYPE), FIELDS, sizeof FIELDS / sizeof FIELDS[0] }

static const struct vr_obj_desc descs[VR_OBJ_MAX] = {
    D(VR_OBJ_IF, "interface", struct vr_if_req, if_fields),
    D(VR_OBJ_NH, "nexthop", struct vr_nh_req, nh_fields),
    D(VR_OBJ_ROUTE, "route", struct vr_route_req, rt_fields),
    D(VR_OBJ_MPLS, "mpls", struct vr_mpls_req, mpls_fields),
    D(VR_OBJ_VXLAN, "vxlan", struct vr_vxlan_req, vxlan_fields),
    D(VR_OBJ_FLOW, "flow", struct vr_flow_req, flow_fields),
    D(VR_OBJ_MIRROR, "mirror", struct vr_mirror_req, mirror_fields),
    D(VR_OBJ_DROPSTATS, "dropstats", struct vr_drop_stats_req, ds_fields),
    D(VR_OBJ_INFO, "info", struct vr_info_req, info_fields),
};

_Static_assert(sizeof info_fields / sizeof info_fields[0] <= 64, "present mask is 64 bits");

const struct vr_obj_desc *
vr_obj_desc(uint16_t obj)
{
    return obj > 0 && obj < VR_OBJ_MAX && descs[obj].fields ? &descs[obj] : NULL;
}

const char *
vr_op_name(uint8_t op)
{
    static const char *const names[] = { "?", "ADD", "GET", "DEL", "DUMP", "RESPONSE",
                                         "RESET" };
    return op < sizeof names / sizeof names[0] ? names[op] : "?";
}

const struct vr_field *
vr_obj_field(const struct vr_obj_desc *d, uint16_t id)
{
    if (!d || id < VR_A_FIRST_FIELD) {
        return NULL;
    }
    /* The tables list fields in attribute order from VR_A_FIRST_FIELD. */
    size_t i = id - VR_A_FIRST_FIELD;
    return i < d->n_fields && d->fields[i].id == id ? &d->fields[i] : NULL;
}

uint64_t
vr_field_bit(uint16_t obj, uint16_t id)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    const struct vr_field *f = vr_obj_field(d, id);
    return f ? UINT64_C(1) << (f - d->fields) : 0;
}

/* ---- building ---- */

static void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

void
vr_msg_begin(struct vr_msgbuf *b, uint8_t *storage, size_t cap, uint8_t op, uint16_t obj,
             uint16_t flags, uint32_t seq)
{
    b->data = storage;
    b->cap = cap > VR_MSG_MAX ? VR_MSG_MAX : cap;
    b->len = VR_MSG_HDR_LEN;
    b->overflow = cap < VR_MSG_HDR_LEN;
    if (b->overflow) {
        return;
    }
    put_be16(storage, VR_PROTO_MAGIC);
    storage[2] = VR_PROTO_VERSION;
    storage[3] = op;
    put_be16(storage + 4, obj);
    put_be16(storage + 6, flags);
    put_be32(storage + 8, seq);
    put_be32(storage + 12, VR_MSG_HDR_LEN);
}

void
vr_msg_put(struct vr_msgbuf *b, uint16_t type, const void *value, size_t len)
{
    size_t padded = (len + 3) & ~(size_t) 3;
    if (b->overflow || len > 0xffff || b->len + 4 + padded > b->cap) {
        b->overflow = true;
        return;
    }
    uint8_t *p = b->data + b->len;
    put_be16(p, type);
    put_be16(p + 2, (uint16_t) len);
    if (len) {
        memcpy(p + 4, value, len);
    }
    memset(p + 4 + len, 0, padded - len);
    b->len += 4 + padded;
}

void
vr_msg_put_u32(struct vr_msgbuf *b, uint16_t type, uint32_t value)
{
    uint8_t v[4];
    put_be32(v, value);
    vr_msg_put(b, type, v, 4);
}

void
vr_msg_put_string(struct vr_msgbuf *b, uint16_t type, const char *s)
{
    vr_msg_put(b, type, s, strlen(s));
}

size_t
vr_msg_nest_begin(struct vr_msgbuf *b, uint16_t type)
{
    size_t pos = b->len;
    vr_msg_put(b, type, NULL, 0);
    return pos;
}

void
vr_msg_nest_end(struct vr_msgbuf *b, size_t pos)
{
    if (b->overflow) {
        return;
    }
    size_t len = b->len - pos - 4;
    if (len > 0xffff) {
        b->overflow = true;
        return;
    }
    put_be16(b->data + pos + 2, (uint16_t) len);
}

static void
put_field(struct vr_msgbuf *b, const struct vr_field *f, const void *s)
{
    const uint8_t *v = (const uint8_t *) s + f->offset;
    uint8_t tmp[8];
    switch (f->kind) {
    case VR_FK_U8:
        vr_msg_put(b, f->id, v, 1);
        break;
    case VR_FK_U16: {
        uint16_t x;
        memcpy(&x, v, 2);
        put_be16(tmp, x);
        vr_msg_put(b, f->id, tmp, 2);
        break;
    }
    case VR_FK_U32: {
        uint32_t x;
        memcpy(&x, v, 4);
        vr_msg_put_u32(b, f->id, x);
        break;
    }
    case VR_FK_U64: {
        uint64_t x;
        memcpy(&x, v, 8);
        put_be32(tmp, (uint32_t) (x >> 32));
        put_be32(tmp + 4, (uint32_t) x);
        vr_msg_put(b, f->id, tmp, 8);
        break;
    }
    case VR_FK_IP: {
        const struct vr_ip *ip = (const struct vr_ip *) v;
        if (ip->family == 4) {
            vr_msg_put(b, f->id, ip->a, 4);
        } else if (ip->family == 6) {
            vr_msg_put(b, f->id, ip->a, 16);
        }
        break;
    }
    case VR_FK_MAC:
        vr_msg_put(b, f->id, v, 6);
        break;
    case VR_FK_STRING:
        vr_msg_put(b, f->id, v, strnlen((const char *) v, f->size));
        break;
    case VR_FK_BYTES: {
        uint32_t n;
        memcpy(&n, (const uint8_t *) s + f->count_offset, 4);
        vr_msg_put(b, f->id, v, n > f->size ? f->size : n);
        break;
    }
    case VR_FK_U32LIST:
    case VR_FK_U64LIST: {
        uint32_t n;
        memcpy(&n, (const uint8_t *) s + f->count_offset, 4);
        if (n > f->size) {
            n = f->size;
        }
        size_t w = f->kind == VR_FK_U32LIST ? 4 : 8;
        uint8_t buf[VR_NH_MAX_COMPONENTS * 8 > VP_DROP_MAX * 8 ? VR_NH_MAX_COMPONENTS * 8
                                                                : VP_DROP_MAX * 8];
        for (uint32_t i = 0; i < n; i++) {
            if (w == 4) {
                uint32_t x;
                memcpy(&x, v + 4 * i, 4);
                put_be32(buf + 4 * i, x);
            } else {
                uint64_t x;
                memcpy(&x, v + 8 * i, 8);
                put_be32(buf + 8 * i, (uint32_t) (x >> 32));
                put_be32(buf + 8 * i + 4, (uint32_t) x);
            }
        }
        vr_msg_put(b, f->id, buf, n * w);
        break;
    }
    }
}

void
vr_msg_put_fields(struct vr_msgbuf *b, uint16_t obj, const void *s, uint64_t which)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    for (size_t i = 0; d && i < d->n_fields; i++) {
        if (which & (UINT64_C(1) << i)) {
            put_field(b, &d->fields[i], s);
        }
    }
}

void
vr_msg_put_object(struct vr_msgbuf *b, uint16_t type, uint16_t obj, const void *s,
                  bool keys_only, bool with_ro)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    if (!d) {
        b->overflow = true;
        return;
    }
    uint64_t which = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        const struct vr_field *f = &d->fields[i];
        if (keys_only ? (f->flags & VR_FF_KEY) : (with_ro || !(f->flags & VR_FF_RO))) {
            which |= UINT64_C(1) << i;
        }
    }
    size_t pos = vr_msg_nest_begin(b, type);
    vr_msg_put_fields(b, obj, s, which);
    vr_msg_nest_end(b, pos);
}

int
vr_msg_finish(struct vr_msgbuf *b)
{
    if (b->overflow) {
        return EMSGSIZE;
    }
    put_be32(b->data + 12, (uint32_t) b->len);
    return 0;
}

/* ---- reading ---- */

int
vr_msg_parse_hdr(const uint8_t *buf, size_t n, struct vr_msg_hdr *h)
{
    if (n < 2) {
        return EAGAIN;
    }
    h->magic = get_be16(buf);
    if (h->magic != VR_PROTO_MAGIC) {
        return EBADMSG;
    }
    if (n < VR_MSG_HDR_LEN) {
        return EAGAIN;
    }
    h->version = buf[2];
    h->op = buf[3];
    h->obj = get_be16(buf + 4);
    h->flags = get_be16(buf + 6);
    h->seq = get_be32(buf + 8);
    h->len = get_be32(buf + 12);
    if (h->len < VR_MSG_HDR_LEN || h->len > VR_MSG_MAX) {
        return EBADMSG;
    }
    return 0;
}

bool
vr_attr_next(struct vr_attr_iter *it, uint16_t *type, const uint8_t **value, uint16_t *len)
{
    size_t left = (size_t) (it->end - it->p);
    if (left == 0) {
        return false;
    }
    if (left < 4) {
        it->error = EBADMSG;
        return false;
    }
    uint16_t l = get_be16(it->p + 2);
    size_t padded = ((size_t) l + 3) & ~(size_t) 3;
    if (4 + (size_t) l > left) {
        it->error = EBADMSG;
        return false;
    }
    *type = get_be16(it->p);
    *value = it->p + 4;
    *len = l;
    /* The last attribute may omit its padding. */
    it->p += 4 + padded > left ? left : 4 + padded;
    return true;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return EINVAL;
}

static int
decode_field(const struct vr_obj_desc *d, const struct vr_field *f, const uint8_t *v,
             uint16_t len, void *s, char *err, size_t errlen)
{
    uint8_t *dst = (uint8_t *) s + f->offset;
    size_t want = 0;
    switch (f->kind) {
    case VR_FK_U8: want = 1; break;
    case VR_FK_U16: want = 2; break;
    case VR_FK_U32: want = 4; break;
    case VR_FK_U64: want = 8; break;
    case VR_FK_MAC: want = 6; break;
    default: break;
    }
    if (want && len != want) {
        return fail(err, errlen, "%s attribute %s: length %u, expected %zu", d->name, f->name,
                    len, want);
    }
    switch (f->kind) {
    case VR_FK_U8:
        *dst = v[0];
        break;
    case VR_FK_U16: {
        uint16_t x = get_be16(v);
        memcpy(dst, &x, 2);
        break;
    }
    case VR_FK_U32: {
        uint32_t x = get_be32(v);
        memcpy(dst, &x, 4);
        break;
    }
    case VR_FK_U64: {
        uint64_t x = (uint64_t) get_be32(v) << 32 | get_be32(v + 4);
        memcpy(dst, &x, 8);
        break;
    }
    case VR_FK_MAC:
        memcpy(dst, v, 6);
        break;
    case VR_FK_IP: {
        struct vr_ip ip = { 0 };
        if (len == 4) {
            ip.family = 4;
        } else if (len == 16) {
            ip.family = 6;
        } else if (len != 0) {
            return fail(err, errlen, "%s attribute %s: address length %u, expected 4 or 16",
                        d->name, f->name, len);
        }
        memcpy(ip.a, v, len);
        memcpy(dst, &ip, sizeof ip);
        break;
    }
    case VR_FK_STRING:
        if (len >= f->size) {
            return fail(err, errlen, "%s attribute %s: longer than %u bytes", d->name, f->name,
                        f->size - 1u);
        }
        if (memchr(v, 0, len)) {
            return fail(err, errlen, "%s attribute %s: contains a NUL byte", d->name, f->name);
        }
        memcpy(dst, v, len);
        dst[len] = '\0';
        break;
    case VR_FK_BYTES: {
        if (len > f->size) {
            return fail(err, errlen, "%s attribute %s: longer than %u bytes", d->name, f->name,
                        f->size);
        }
        uint32_t n = len;
        memcpy(dst, v, len);
        memcpy((uint8_t *) s + f->count_offset, &n, 4);
        break;
    }
    case VR_FK_U32LIST:
    case VR_FK_U64LIST: {
        size_t w = f->kind == VR_FK_U32LIST ? 4 : 8;
        if (len % w) {
            return fail(err, errlen, "%s attribute %s: length %u is not a multiple of %zu",
                        d->name, f->name, len, w);
        }
        uint32_t n = (uint32_t) (len / w);
        if (n > f->size) {
            return fail(err, errlen, "%s attribute %s: %u elements, at most %u", d->name,
                        f->name, n, f->size);
        }
        for (uint32_t i = 0; i < n; i++) {
            if (w == 4) {
                uint32_t x = get_be32(v + 4 * i);
                memcpy(dst + 4 * i, &x, 4);
            } else {
                uint64_t x = (uint64_t) get_be32(v + 8 * i) << 32 | get_be32(v + 8 * i + 4);
                memcpy(dst + 8 * i, &x, 8);
            }
        }
        memcpy((uint8_t *) s + f->count_offset, &n, 4);
        break;
    }
    }
    return 0;
}

int
vr_msg_decode_object(uint16_t obj, const uint8_t *attrs, size_t len, void *s,
                     uint64_t *present, char *err, size_t errlen)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    *present = 0;
    if (!d) {
        return fail(err, errlen, "unknown object type %u", obj);
    }
    memset(s, 0, d->size);
    struct vr_attr_iter it;
    vr_attr_iter_init(&it, attrs, len);
    uint16_t type, l;
    const uint8_t *v;
    while (vr_attr_next(&it, &type, &v, &l)) {
        const struct vr_field *f = vr_obj_field(d, type);
        if (!f) {
            return fail(err, errlen, "%s: unknown attribute %u", d->name, type);
        }
        uint64_t bit = UINT64_C(1) << (f - d->fields);
        if (*present & bit) {
            return fail(err, errlen, "%s attribute %s: given twice", d->name, f->name);
        }
        int error = decode_field(d, f, v, l, s, err, errlen);
        if (error) {
            return error;
        }
        *present |= bit;
    }
    if (it.error) {
        return fail(err, errlen, "%s: truncated attribute", d->name);
    }
    return 0;
}

/* ---- helpers ---- */

char *
vr_ip_format(const struct vr_ip *ip, char *buf, size_t len)
{
    if (ip->family == 4) {
        inet_ntop(AF_INET, ip->a, buf, (socklen_t) len);
    } else if (ip->family == 6) {
        inet_ntop(AF_INET6, ip->a, buf, (socklen_t) len);
    } else {
        snprintf(buf, len, "-");
    }
    return buf;
}

bool
vr_ip_parse(const char *s, struct vr_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    if (inet_pton(AF_INET, s, ip->a) == 1) {
        ip->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->a) == 1) {
        ip->family = 6;
        return true;
    }
    return false;
}

bool
vr_mac_parse(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    char extra;
    if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &extra)
        != 6) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        if (b[i] > 0xff) {
            return false;
        }
        mac[i] = (uint8_t) b[i];
    }
    return true;
}

char *
vr_mac_format(const uint8_t mac[6], char *buf)
{
    snprintf(buf, 18, "%x:%x:%x:%x:%x:%x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return buf;
}

static const char *const drop_names[] = {
#define VR_DROP_NAME(ID, NAME, TEXT) NAME,
    VR_DROP_REASONS(VR_DROP_NAME)
#undef VR_DROP_NAME
};

static const char *const drop_texts[] = {
#define VR_DROP_TEXT(ID, NAME, TEXT) TEXT,
    VR_DROP_REASONS(VR_DROP_TEXT)
#undef VR_DROP_TEXT
};

const char *
vr_drop_name(unsigned int reason)
{
    return reason < VP_DROP_MAX ? drop_names[reason] : "unknown";
}

const char *
vr_drop_text(unsigned int reason)
{
    return reason < VP_DROP_MAX ? drop_texts[reason] : "Unknown";
}
