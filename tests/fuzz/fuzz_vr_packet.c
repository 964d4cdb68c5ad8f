/* Fuzz target: the vRouter packet pipeline (vr_dp and the vr_pkt parsers) on arbitrary
 * frames from a VM port, tunnel payloads from the fabric (MPLSoUDP, VXLAN, MPLSoGRE) and
 * packet-channel datagrams, against tables holding every kind of object (interfaces with and
 * without policy, encap/tunnel/composite/VRF-translate/receive/resolve next hops, IPv4/IPv6
 * routes, bridge entries, labels, VNIs, forward/NAT/drop/hold flows).  The first input byte
 * picks the entry point. */
#include <string.h>

#include "fuzz_common.h"
#include "vr_dp.h"
#include "vr_model.h"

static struct vrouter *vr;
static struct vr_dp dp;
static uint8_t rq[VR_MSG_MAX], rs[VR_MSG_MAX];

static void
out_vif(void *aux, struct vr_vif *v, const uint8_t *f, size_t l)
{
    if (l > VR_PKT_BUFSIZE + 64) {
        abort();
    }
}

static void
out_fab(void *aux, const uint8_t *p, size_t l)
{
    /* Every fabric packet carries a whole IPv4 header with its length. */
    if (l < 20 || (p[0] >> 4) != 4 || (size_t) (p[2] << 8 | p[3]) != l) {
        abort();
    }
}

static bool
out_agent(void *aux, const uint8_t *p, size_t l)
{
    if (l < VR_AGENT_HDR_LEN + 14) {
        abort();
    }
    return true;
}

static const struct vr_dp_io io = { out_vif, out_fab, out_agent };

static void released(struct vrouter *v, uint32_t index) { vr_dp_flow_released(&dp, index); }
static const struct vr_engine_class engine = {
    .name = "fuzz", .flow_released = released, .free_held = vr_dp_free_held,
};

static void
add(uint16_t obj, const void *s)
{
    const struct vr_obj_desc *d = vr_obj_desc(obj);
    uint64_t which = 0;
    for (size_t i = 0; i < d->n_fields; i++) {
        if (!(d->fields[i].flags & VR_FF_RO)) {
            which |= UINT64_C(1) << i;
        }
    }
    struct vr_msgbuf b;
    vr_msg_begin(&b, rq, sizeof rq, VR_OP_ADD, obj, 0, 1);
    vr_msg_put_fields(&b, obj, s, which);
    vr_msg_finish(&b);
    size_t len;
    vr_model_request(vr, rq, b.len, rs, &len);
}

static void
vif(uint32_t idx, uint8_t type, uint32_t vrf, uint32_t nh, uint32_t flags)
{
    struct vr_if_req v;
    memset(&v, 0, sizeof v);
    v.idx = idx, v.type = type, v.vrf = vrf, v.nh_id = nh, v.flags = flags;
    snprintf(v.name, sizeof v.name, "if%u", idx);
    add(VR_OBJ_IF, &v);
}

static void
nh(uint32_t id, uint8_t type, uint8_t family, uint32_t flags, uint32_t oif, uint32_t vrf,
   uint32_t n, const uint32_t *list, const uint32_t *labels)
{
    struct vr_nh_req q;
    memset(&q, 0, sizeof q);
    q.id = id, q.type = type, q.family = family, q.flags = NH_FLAG_VALID | flags;
    q.encap_oif = oif, q.vrf = vrf;
    q.encap_len = 14;
    memset(q.encap, 0x22, 12);
    vr_ip_parse("198.51.100.1", &q.tun_sip);
    vr_ip_parse("198.51.100.2", &q.tun_dip);
    q.nh_count = q.label_count = n;
    for (uint32_t i = 0; i < n; i++) {
        q.nh_list[i] = list[i];
        q.label_list[i] = labels[i];
    }
    add(VR_OBJ_NH, &q);
}

static void
route(uint32_t vrf, const char *prefix, uint8_t plen, uint32_t nhid, uint32_t label,
      uint32_t flags)
{
    struct vr_route_req r;
    memset(&r, 0, sizeof r);
    r.vrf = vrf;
    vr_ip_parse(prefix, &r.prefix);
    r.family = r.prefix.family == 4 ? VR_AF_INET : VR_AF_INET6;
    r.plen = plen, r.nh_id = nhid, r.label = label, r.label_flags = flags;
    add(VR_OBJ_ROUTE, &r);
}

static void
bridge(uint32_t vrf, const uint8_t mac[6], uint32_t nhid, uint32_t label)
{
    struct vr_route_req r;
    memset(&r, 0, sizeof r);
    r.vrf = vrf, r.family = VR_AF_BRIDGE, r.nh_id = nhid, r.label = label;
    r.label_flags = VR_BE_LABEL_VALID_FLAG;
    memcpy(r.mac, mac, 6);
    add(VR_OBJ_ROUTE, &r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct vr_limits l;
    vr_limits_default(&l);
    l.interfaces = 16, l.vrfs = 8, l.nexthops = 64, l.mpls_labels = 64;
    l.bridge_entries = 64, l.flow_entries = 64, l.oflow_entries = 16, l.mirror_entries = 4;
    vr = vr_model_create(&l, &engine, NULL);
    vr_dp_init(&dp, vr, &io, NULL);
    vif(0, VIF_TYPE_PHYSICAL, 0, 0, 0);
    vif(2, VIF_TYPE_AGENT, 65535, 0, 0);
    vif(3, VIF_TYPE_VIRTUAL, 1, 10, VIF_FLAG_L3_ENABLED | VIF_FLAG_L2_ENABLED
        | VIF_FLAG_DHCP_ENABLED);
    vif(4, VIF_TYPE_VIRTUAL, 1, 11, VIF_FLAG_L3_ENABLED | VIF_FLAG_L2_ENABLED
        | VIF_FLAG_POLICY_ENABLED);
    vif(5, VIF_TYPE_VIRTUAL, 2, 12, VIF_FLAG_L2_ENABLED);
    dp.fabric_vif = 0;
    nh(1, NH_RCV, VR_AF_INET, 0, 0, 0, 0, NULL, NULL);
    nh(10, NH_ENCAP, VR_AF_INET, 0, 3, 1, 0, NULL, NULL);
    nh(11, NH_ENCAP, VR_AF_INET, NH_FLAG_POLICY_ENABLED, 4, 1, 0, NULL, NULL);
    nh(12, NH_ENCAP, VR_AF_BRIDGE, 0, 5, 2, 0, NULL, NULL);
    nh(20, NH_TUNNEL, VR_AF_INET, NH_FLAG_TUNNEL_UDP_MPLS, 0, 0, 0, NULL, NULL);
    nh(21, NH_TUNNEL, VR_AF_INET, NH_FLAG_TUNNEL_VXLAN, 0, 0, 0, NULL, NULL);
    nh(22, NH_TUNNEL, VR_AF_INET, NH_FLAG_TUNNEL_GRE, 0, 0, 0, NULL, NULL);
    nh(23, NH_RESOLVE, VR_AF_INET, 0, 0, 0, 0, NULL, NULL);
    nh(30, NH_VRF_TRANSLATE, VR_AF_INET, 0, 0, 1, 0, NULL, NULL);
    nh(31, NH_VRF_TRANSLATE, VR_AF_BRIDGE, 0, 0, 2, 0, NULL, NULL);
    nh(32, NH_VRF_TRANSLATE, VR_AF_INET, 0, 0, 2, 0, NULL, NULL);
    static const uint32_t ecmp[] = { 20, 21, 22, 10 }, labels[] = { 16, 5000, 17, 0 };
    nh(40, NH_COMPOSITE, VR_AF_INET, NH_FLAG_COMPOSITE_ECMP, 0, 1, 4, ecmp, labels);
    static const uint32_t flood[] = { 12, 20, 21, 40 }, flabels[] = { 0, 18, 6000, 0 };
    nh(41, NH_COMPOSITE, VR_AF_BRIDGE, NH_FLAG_COMPOSITE_FABRIC, 0, 2, 4, flood, flabels);
    /* VRF-translate loops are bounded by the depth limit. */
    nh(42, NH_VRF_TRANSLATE, VR_AF_INET, 0, 0, 3, 0, NULL, NULL);
    route(3, "0.0.0.0", 0, 42, 0, 0);
    route(1, "203.0.113.1", 32, 1, 0, VR_RT_ARP_PROXY_FLAG);
    route(1, "203.0.113.11", 32, 10, 0, VR_RT_ARP_PROXY_FLAG);
    route(1, "203.0.113.12", 32, 11, 0, VR_RT_ARP_PROXY_FLAG | VR_RT_ARP_TRAP_FLAG);
    route(1, "203.0.113.0", 24, 40, 0, VR_RT_ARP_FLOOD_FLAG);
    route(1, "203.0.113.128", 25, 32, 0, 0);
    route(1, "198.18.0.0", 15, 23, 0, 0);
    route(1, "0.0.0.0", 0, 20, 19, VR_RT_LABEL_VALID_FLAG);
    route(2, "203.0.113.0", 24, 30, 0, VR_RT_ARP_PROXY_FLAG);
    route(2, "0.0.0.0", 0, 42, 0, 0);
    route(1, "2001:db8::", 32, 21, 5000, VR_RT_LABEL_VALID_FLAG | VR_RT_ARP_PROXY_FLAG);
    route(1, "2001:db8::1", 128, 1, 0, VR_RT_ARP_PROXY_FLAG);
    route(1, "2001:db8::11", 128, 10, 0, VR_RT_ARP_PROXY_FLAG);
    static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    static const uint8_t m1[6] = { 2, 0, 0, 0, 0, 1 }, m2[6] = { 2, 0, 0, 0, 0, 2 };
    bridge(2, bc, 41, 0);
    bridge(2, m1, 12, 0);
    bridge(2, m2, 21, 7000);
    bridge(1, m2, 11, 0);
    struct vr_mpls_req m = { 16, 10 };
    add(VR_OBJ_MPLS, &m);
    m = (struct vr_mpls_req) { 17, 11 };
    add(VR_OBJ_MPLS, &m);
    m = (struct vr_mpls_req) { 18, 41 };
    add(VR_OBJ_MPLS, &m);
    m = (struct vr_mpls_req) { 19, 30 };
    add(VR_OBJ_MPLS, &m);
    m = (struct vr_mpls_req) { 20, 12 };
    add(VR_OBJ_MPLS, &m);
    struct vr_vxlan_req x = { 5000, 30 };
    add(VR_OBJ_VXLAN, &x);
    x = (struct vr_vxlan_req) { 6000, 31 };
    add(VR_OBJ_VXLAN, &x);
    struct vr_mirror_req mir = { .idx = 1, .nh_id = 20 };
    add(VR_OBJ_MIRROR, &mir);
    return 0;
}

/* Installs a few flows keyed on what the input will likely produce. */
static void
flows(const uint8_t *data, size_t size)
{
    static const uint8_t actions[] = { VR_FLOW_ACTION_FORWARD, VR_FLOW_ACTION_DROP,
                                       VR_FLOW_ACTION_NAT, VR_FLOW_ACTION_HOLD };
    struct vr_flow_req f;
    memset(&f, 0, sizeof f);
    f.index = VR_FLOW_INDEX_NONE;
    f.ecmp_nh_index = f.src_nh_index = VR_FLOW_INDEX_NONE;
    f.mirror_id = size & 1 ? 1 : VR_FLOW_INDEX_NONE;
    vr_ip_parse("203.0.113.12", &f.sip);
    vr_ip_parse("203.0.113.11", &f.dip);
    f.proto = 17, f.sport = 1, f.dport = 2, f.nh_id = 11, f.vrf = f.dvrf = 1;
    f.action = VR_FLOW_ACTION_FORWARD;
    add(VR_OBJ_FLOW, &f);
    f.action = actions[size % 4];
    f.flags = VR_FLOW_FLAG_SNAT | VR_FLOW_FLAG_DPAT | VR_RFLOW_VALID
              | (size & 2 ? VR_FLOW_FLAG_MIRROR | VR_FLOW_FLAG_VRFT : 0);
    f.rindex = 0;
    for (uint32_t i = 0; i < vr_flow_table_size(&vr->flows); i++) {
        if (vr->flows.entries[i].in_use) {
            f.rindex = i;
            break;
        }
    }
    vr_ip_parse("203.0.113.11", &f.sip);
    vr_ip_parse("203.0.113.12", &f.dip);
    f.sport = 2, f.dport = 1;
    add(VR_OBJ_FLOW, &f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[VR_PKT_BUFSIZE + VR_AGENT_HDR_LEN];
    static unsigned int runs;
    if (size < 1 || size > VR_PKT_MAX_DATA) {
        return 0;
    }
    if (runs++ % 64 == 0) {
        vr_flow_flush(&vr->flows);
        flows(data, size);
    }
    uint8_t sel = data[0];
    data++;
    size--;
    memcpy(buf + VR_PKT_HEADROOM, data, size);
    struct vr_pkt p;
    vr_pkt_init(&p, buf, VR_PKT_BUFSIZE, VR_PKT_HEADROOM, (uint32_t) size);
    static const uint8_t outer[4] = { 198, 51, 100, 2 };
    switch (sel % 9) {
    case 0: vr_dp_vif_rx(&dp, vr_vif_get(vr, 3), &p); break;
    case 1: vr_dp_vif_rx(&dp, vr_vif_get(vr, 4), &p); break;
    case 2: vr_dp_vif_rx(&dp, vr_vif_get(vr, 5), &p); break;
    case 3: vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOUDP, outer, &p); break;
    case 4: vr_dp_fabric_rx(&dp, VR_ENCAP_VXLAN, outer, &p); break;
    case 5: vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOGRE, outer, &p); break;
    case 6: vr_dp_agent_rx(&dp, &p); break;
    case 7: {
        struct vr_l3info in;
        vr_pkt_parse_ip(data, size, true, &in);
        break;
    }
    default:
        /* Release whatever is held. */
        for (uint32_t i = 0; i < vr_flow_table_size(&vr->flows); i++) {
            struct vr_flow_entry *e = vr_flow_get(&vr->flows, i);
            if (e && e->action == VR_FLOW_ACTION_HOLD && e->n_hold) {
                vr_flow_set_action(&vr->flows, e, VR_FLOW_ACTION_FORWARD);
                vr_dp_flow_released(&dp, i);
            }
        }
        break;
    }
    return 0;
}
