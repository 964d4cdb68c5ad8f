/* Unit tests for the packet pipeline (vr_dp) with an in-memory engine: proxy ARP, routing
 * with TTL decrement, the three encapsulations and their decapsulation, ICMP errors, the flow
 * stage (miss -> trap + hold -> release, drop, NAT with valid checksums), ECMP, and the drop
 * counters of malformed packets. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vr_dp.h"
#include "vr_model.h"

/* ---- the fake engine: records what goes out ---- */

struct out {
    int kind;                   /* 1 vif, 2 fabric, 3 agent */
    uint32_t vif;
    uint8_t data[VR_PKT_BUFSIZE];
    size_t len;
};

static struct out outs[64];
static int n_outs;
static struct vr_dp dp;

static void
rec(int kind, uint32_t vif, const uint8_t *d, size_t len)
{
    if (n_outs < 64) {
        outs[n_outs].kind = kind;
        outs[n_outs].vif = vif;
        memcpy(outs[n_outs].data, d, len);
        outs[n_outs].len = len;
        n_outs++;
    }
}

static void io_vif(void *aux, struct vr_vif *v, const uint8_t *f, size_t l) { rec(1, v->cfg.idx, f, l); }
static void io_fab(void *aux, const uint8_t *p, size_t l) { rec(2, 0, p, l); }
static bool io_agent(void *aux, const uint8_t *p, size_t l) { rec(3, 0, p, l); return true; }
static const struct vr_dp_io io = { io_vif, io_fab, io_agent };

static void released(struct vrouter *vr, uint32_t index) { vr_dp_flow_released(&dp, index); }
static const struct vr_engine_class fake = {
    .name = "test", .flow_released = released, .free_held = vr_dp_free_held,
};

/* ---- building requests and packets ---- */

static uint8_t rq[VR_MSG_MAX], rs[VR_MSG_MAX];

static int
add(struct vrouter *vr, uint16_t obj, const void *s)
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
    int code = rs[VR_MSG_HDR_LEN + 4] << 24 | rs[VR_MSG_HDR_LEN + 5] << 16
               | rs[VR_MSG_HDR_LEN + 6] << 8 | rs[VR_MSG_HDR_LEN + 7];
    if (code) {
        fprintf(stderr, "add %u: %d %.*s\n", obj, code, (int) (len - VR_MSG_HDR_LEN - 12),
                (const char *) rs + VR_MSG_HDR_LEN + 12);
    }
    return code;
}

static const uint8_t VRRP[6] = VR_VRRP_MAC;
static const uint8_t VM1[6] = { 2, 0, 0, 0, 0, 1 }, VM2[6] = { 2, 0, 0, 0, 0, 2 };

static void
ip4(const char *s, uint8_t *out)
{
    struct vr_ip ip;
    vr_ip_parse(s, &ip);
    memcpy(out, ip.a, 4);
}

/* An Ethernet + IPv4 + UDP frame (checksums valid) in BUF at the headroom; returns its pkt. */
static struct vr_pkt
udp_frame(uint8_t *buf, const uint8_t *dmac, const uint8_t *smac, const char *sip,
          const char *dip, uint16_t sport, uint16_t dport, uint8_t ttl, size_t payload)
{
    uint8_t *f = buf + VR_PKT_HEADROOM;
    memcpy(f, dmac, 6);
    memcpy(f + 6, smac, 6);
    vr_put16(f + 12, VR_ETH_P_IP);
    uint8_t *ip = f + 14;
    memset(ip, 0, 28 + payload);
    ip[0] = 0x45;
    vr_put16(ip + 2, (uint16_t) (28 + payload));
    ip[8] = ttl;
    ip[9] = VR_IPPROTO_UDP;
    ip4(sip, ip + 12);
    ip4(dip, ip + 16);
    vr_put16(ip + 20, sport);
    vr_put16(ip + 22, dport);
    vr_put16(ip + 24, (uint16_t) (8 + payload));
    for (size_t i = 0; i < payload; i++) {
        ip[28 + i] = (uint8_t) i;
    }
    vr_ipv4_csum_set(ip);
    vr_l4_csum_set(ip, 28 + payload);
    struct vr_pkt p;
    vr_pkt_init(&p, buf, VR_PKT_BUFSIZE, VR_PKT_HEADROOM, (uint32_t) (42 + payload));
    return p;
}

/* Whether the IPv4 packet at IP has valid header and L4 checksums. */
static bool
checksums_ok(const uint8_t *ip, size_t len)
{
    if (vr_csum_fold(vr_csum_add(0, ip, (size_t) (ip[0] & 0xf) * 4)) != 0) {
        return false;
    }
    uint8_t copy[2048];
    memcpy(copy, ip, len);
    vr_l4_csum_set(copy, len);
    return !memcmp(copy, ip, len);
}

static uint8_t pbuf[VR_PKT_BUFSIZE];

static void
send_vif(struct vrouter *vr, uint32_t vif, struct vr_pkt *p)
{
    n_outs = 0;
    vr_dp_vif_rx(&dp, vr_vif_get(vr, vif), p);
}

int
main(void)
{
    struct vr_limits l;
    vr_limits_default(&l);
    l.nexthops = 128;
    l.flow_entries = 256;
    l.oflow_entries = 64;
    l.interfaces = 16;
    l.vrfs = 16;
    l.mpls_labels = 256;
    struct vrouter *vr = vr_model_create(&l, &fake, NULL);
    vr_dp_init(&dp, vr, &io, NULL);

    struct vr_if_req v;
    memset(&v, 0, sizeof v);
    v.type = VIF_TYPE_VIRTUAL;
    v.flags = VIF_FLAG_L3_ENABLED | VIF_FLAG_L2_ENABLED;
    v.vrf = 1;
    memcpy(v.mac, VRRP, 6);
    v.idx = 3, v.nh_id = 10, strcpy(v.name, "tap1");
    CHECK_EQ_INT(add(vr, VR_OBJ_IF, &v), 0);
    v.idx = 4, v.nh_id = 11, strcpy(v.name, "tap2");
    CHECK_EQ_INT(add(vr, VR_OBJ_IF, &v), 0);
    v.idx = 2, v.nh_id = 0, v.type = VIF_TYPE_AGENT, v.vrf = 65535, v.name[0] = 0, v.flags = 0;
    CHECK_EQ_INT(add(vr, VR_OBJ_IF, &v), 0);

    struct vr_nh_req nh;
    memset(&nh, 0, sizeof nh);
    nh.flags = NH_FLAG_VALID;
    nh.family = VR_AF_INET;
    nh.vrf = 1;
    nh.type = NH_ENCAP, nh.id = 10, nh.encap_oif = 3, nh.encap_len = 14;
    memcpy(nh.encap, VM1, 6), memcpy(nh.encap + 6, VRRP, 6), vr_put16(nh.encap + 12, 0x800);
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    nh.id = 11, nh.encap_oif = 4, memcpy(nh.encap, VM2, 6);
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    memset(&nh, 0, sizeof nh);
    nh.type = NH_TUNNEL, nh.family = VR_AF_INET;
    vr_ip_parse("198.51.100.1", &nh.tun_sip);
    vr_ip_parse("198.51.100.2", &nh.tun_dip);
    nh.id = 20, nh.flags = NH_FLAG_VALID | NH_FLAG_TUNNEL_UDP_MPLS;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    nh.id = 21, nh.flags = NH_FLAG_VALID | NH_FLAG_TUNNEL_VXLAN;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    nh.id = 22, nh.flags = NH_FLAG_VALID | NH_FLAG_TUNNEL_GRE;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    memset(&nh, 0, sizeof nh);
    nh.flags = NH_FLAG_VALID;
    nh.family = VR_AF_INET;
    nh.id = 1, nh.type = NH_RCV;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    nh.id = 30, nh.type = NH_VRF_TRANSLATE, nh.vrf = 1;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);
    nh.id = 40, nh.type = NH_COMPOSITE, nh.flags |= NH_FLAG_COMPOSITE_ECMP;
    nh.nh_count = nh.label_count = 2;
    nh.nh_list[0] = 20, nh.nh_list[1] = 22, nh.label_list[0] = 70, nh.label_list[1] = 71;
    CHECK_EQ_INT(add(vr, VR_OBJ_NH, &nh), 0);

    struct vr_route_req rt;
    memset(&rt, 0, sizeof rt);
    rt.vrf = 1, rt.family = VR_AF_INET, rt.plen = 32;
    const struct { const char *ip; uint32_t nh, label, flags; } routes[] = {
        { "203.0.113.1", 1, 0, VR_RT_ARP_PROXY_FLAG },
        { "203.0.113.11", 10, 0, VR_RT_ARP_PROXY_FLAG },
        { "203.0.113.12", 11, 0, VR_RT_ARP_PROXY_FLAG },
        { "203.0.113.21", 20, 77, VR_RT_ARP_PROXY_FLAG | VR_RT_LABEL_VALID_FLAG },
        { "203.0.113.22", 21, 5000, VR_RT_LABEL_VALID_FLAG },
        { "203.0.113.23", 22, 78, VR_RT_LABEL_VALID_FLAG },
        { "203.0.113.24", 20, 0, 0 },                   /* MPLS without a label */
        { "203.0.113.100", 40, 0, 0 },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        vr_ip_parse(routes[i].ip, &rt.prefix);
        rt.nh_id = routes[i].nh, rt.label = routes[i].label, rt.label_flags = routes[i].flags;
        CHECK_EQ_INT(add(vr, VR_OBJ_ROUTE, &rt), 0);
    }
    struct vr_mpls_req m = { 100, 10 };
    CHECK_EQ_INT(add(vr, VR_OBJ_MPLS, &m), 0);
    struct vr_vxlan_req x = { 5000, 30 };
    CHECK_EQ_INT(add(vr, VR_OBJ_VXLAN, &x), 0);

    /* Proxy ARP: a request for .12 is answered with the vRouter's MAC on the same port. */
    uint8_t *f = pbuf + VR_PKT_HEADROOM;
    memset(f, 0xff, 6);
    memcpy(f + 6, VM1, 6);
    vr_put16(f + 12, VR_ETH_P_ARP);
    uint8_t arp[28] = { 0, 1, 8, 0, 6, 4, 0, 1 };
    memcpy(arp + 8, VM1, 6);
    ip4("203.0.113.11", arp + 14);
    ip4("203.0.113.12", arp + 24);
    memcpy(f + 14, arp, 28);
    struct vr_pkt p;
    vr_pkt_init(&p, pbuf, sizeof pbuf, VR_PKT_HEADROOM, 42);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    CHECK(outs[0].kind == 1 && outs[0].vif == 3);
    CHECK(!memcmp(outs[0].data, VM1, 6) && !memcmp(outs[0].data + 6, VRRP, 6));
    CHECK_EQ_INT(vr_get16(outs[0].data + 20), 2);               /* reply */
    CHECK(!memcmp(outs[0].data + 22, VRRP, 6));

    /* Local routing: rewritten L2 header, TTL 64 -> 63, checksums still valid. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.12", 1000, 2000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    CHECK(outs[0].vif == 4 && !memcmp(outs[0].data, VM2, 6));
    CHECK_EQ_INT(outs[0].data[14 + 8], 63);
    CHECK(checksums_ok(outs[0].data + 14, outs[0].len - 14));

    /* MPLSoUDP: outer IPv4/UDP 6635, label 77 bottom of stack, inner IP packet. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.21", 1000, 2000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    uint8_t *o = outs[0].data;
    CHECK(outs[0].kind == 2 && o[9] == VR_IPPROTO_UDP);
    CHECK_EQ_INT(vr_get16(o + 22), VR_MPLS_UDP_PORT);
    CHECK(vr_get16(o + 20) >= 49152);
    CHECK_EQ_INT(vr_get32(o + 28) >> 12, 77);
    CHECK(vr_get32(o + 28) & 0x100);
    CHECK_EQ_INT(o[32] >> 4, 4);
    CHECK_EQ_INT(outs[0].len, 20 + 8 + 4 + 48);
    CHECK(vr_csum_fold(vr_csum_add(0, o, 20)) == 0);

    /* ... and back in: the payload with label 100 goes to VM1 (no second TTL decrement). */
    static uint8_t b2[VR_PKT_BUFSIZE];
    memcpy(b2 + VR_PKT_HEADROOM, o + 28, outs[0].len - 28);
    vr_put32(b2 + VR_PKT_HEADROOM, 100u << 12 | 0x100 | 64);
    struct vr_pkt q;
    vr_pkt_init(&q, b2, sizeof b2, VR_PKT_HEADROOM, (uint32_t) (outs[0].len - 28));
    n_outs = 0;
    vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOUDP, o + 12, &q);
    CHECK_EQ_INT(n_outs, 1);
    CHECK(outs[0].kind == 1 && outs[0].vif == 3 && outs[0].data[14 + 8] == 63);

    /* VXLAN: VNI 5000, inner frame to the gateway MAC; decap routes it in VRF 1. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.12", "203.0.113.22", 1000, 2000, 64, 20);
    send_vif(vr, 4, &p);
    CHECK_EQ_INT(n_outs, 1);
    o = outs[0].data;
    CHECK_EQ_INT(vr_get16(o + 22), VR_VXLAN_UDP_PORT);
    CHECK_EQ_INT(o[28], 0x08);
    CHECK_EQ_INT(vr_get32(o + 32) >> 8, 5000);
    CHECK(!memcmp(o + 36, VRRP, 6));
    /* Turn it around: to .11 through VNI 5000. */
    memcpy(b2 + VR_PKT_HEADROOM, o + 28, outs[0].len - 28);
    ip4("203.0.113.11", b2 + VR_PKT_HEADROOM + 8 + 14 + 16);
    vr_ipv4_csum_set(b2 + VR_PKT_HEADROOM + 8 + 14);
    vr_pkt_init(&q, b2, sizeof b2, VR_PKT_HEADROOM, (uint32_t) (outs[0].len - 28));
    n_outs = 0;
    vr_dp_fabric_rx(&dp, VR_ENCAP_VXLAN, o + 12, &q);
    CHECK_EQ_INT(n_outs, 1);
    CHECK(outs[0].kind == 1 && outs[0].vif == 3);

    /* MPLSoGRE: IP protocol 47, GRE protocol 0x8847; the raw socket's packet decaps. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.23", 1000, 2000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    o = outs[0].data;
    CHECK(o[9] == VR_IPPROTO_GRE && vr_get16(o + 22) == VR_GRE_PROTO_MPLS);
    CHECK_EQ_INT(vr_get32(o + 24) >> 12, 78);
    memcpy(b2 + VR_PKT_HEADROOM, o, outs[0].len);
    vr_put32(b2 + VR_PKT_HEADROOM + 24, 100u << 12 | 0x100 | 64);
    vr_pkt_init(&q, b2, sizeof b2, VR_PKT_HEADROOM, (uint32_t) outs[0].len);
    n_outs = 0;
    vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOGRE, o + 12, &q);
    CHECK_EQ_INT(n_outs, 1);
    CHECK(outs[0].kind == 1 && outs[0].vif == 3);

    /* An MPLS tunnel without a label, an unknown label, a bad checksum: counted drops. */
    uint64_t d_label = vr->drops[VP_DROP_INVALID_LABEL], d_ck = vr->drops[VP_DROP_CKSUM_ERR];
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.24", 1000, 2000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 0);
    vr_put32(b2 + VR_PKT_HEADROOM, 99u << 12 | 0x100);
    vr_pkt_init(&q, b2, sizeof b2, VR_PKT_HEADROOM, 40);
    vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOUDP, o + 12, &q);
    CHECK_EQ_INT(vr->drops[VP_DROP_INVALID_LABEL], d_label + 2);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.12", 1000, 2000, 64, 20);
    pbuf[VR_PKT_HEADROOM + 14 + 10] ^= 0x55;
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 0);
    CHECK_EQ_INT(vr->drops[VP_DROP_CKSUM_ERR], d_ck + 1);
    CHECK(vr_vif_get(vr, 3)->drops[VP_DROP_CKSUM_ERR] >= 1);

    /* TTL 1: time exceeded back to the sender, from the VRF's gateway. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.21", 1000, 2000, 1, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    o = outs[0].data;
    CHECK(outs[0].vif == 3 && o[14 + 9] == VR_IPPROTO_ICMP && o[14 + 20] == 11);
    uint8_t gw[4];
    ip4("203.0.113.1", gw);
    CHECK(!memcmp(o + 14 + 12, gw, 4));
    CHECK(checksums_ok(o + 14, outs[0].len - 14));
    CHECK_EQ_INT(vr->drops[VP_DROP_TTL_EXCEEDED], 1);

    /* No route: unreachable. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.99", 1000, 2000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK(n_outs == 1 && outs[0].data[14 + 20] == 3);

    /* Ping to the gateway is answered. */
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.1", 1000, 2000, 64, 20);
    uint8_t *ipp = pbuf + VR_PKT_HEADROOM + 14;
    ipp[9] = VR_IPPROTO_ICMP;
    ipp[20] = 8, ipp[21] = 0;
    vr_ipv4_csum_set(ipp);
    vr_l4_csum_set(ipp, 48);
    send_vif(vr, 3, &p);
    CHECK(n_outs == 1 && outs[0].data[14 + 20] == 0 && checksums_ok(outs[0].data + 14, 48));

    /* ECMP: flows spread over both members, and a flow always takes the same one. */
    int member[2] = { 0, 0 };
    for (int i = 0; i < 32; i++) {
        p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.100", (uint16_t) (3000 + i),
                      53, 64, 8);
        send_vif(vr, 3, &p);
        if (n_outs == 1) {
            member[outs[0].data[9] == VR_IPPROTO_GRE]++;
        }
    }
    CHECK_EQ_INT(member[0] + member[1], 32);
    CHECK(member[0] > 0 && member[1] > 0);

    /* Flows: policy on vif 3 -> miss: HOLD, FLOW_MISS trap with the packet, nothing out. */
    v.idx = 3, v.nh_id = 10, v.type = VIF_TYPE_VIRTUAL, v.vrf = 1, strcpy(v.name, "tap1");
    v.flags = VIF_FLAG_L3_ENABLED | VIF_FLAG_L2_ENABLED | VIF_FLAG_POLICY_ENABLED;
    CHECK_EQ_INT(add(vr, VR_OBJ_IF, &v), 0);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.12", 1111, 2222, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    CHECK_EQ_INT(outs[0].kind, 3);
    o = outs[0].data;
    CHECK_EQ_INT(vr_get16(o + 4), AGENT_TRAP_FLOW_MISS);
    CHECK_EQ_INT(vr_get16(o), 3);
    uint32_t index = vr_get32(o + 6);
    CHECK_EQ_INT(vr_get32(o + 10), 10);
    struct vr_flow_entry *e = vr_flow_get(&vr->flows, index);
    CHECK(e && e->action == VR_FLOW_ACTION_HOLD && e->n_hold == 1);
    CHECK_EQ_INT(o[26], e->gen_id);
    CHECK_EQ_INT(outs[0].len, 30 + 62);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.12", 1111, 2222, 64, 20);
    send_vif(vr, 3, &p);                             /* second packet: held, no trap */
    CHECK_EQ_INT(n_outs, 0);
    CHECK_EQ_INT(e->n_hold, 2);
    /* The agent installs it: both held packets go out. */
    struct vr_flow_req fr;
    memset(&fr, 0, sizeof fr);
    fr.index = index;
    fr.action = VR_FLOW_ACTION_FORWARD;
    fr.sip.family = fr.dip.family = 4;
    fr.nh_id = 10;
    fr.ecmp_nh_index = fr.src_nh_index = fr.mirror_id = VR_FLOW_INDEX_NONE;
    fr.gen_id = e->gen_id;
    n_outs = 0;
    CHECK_EQ_INT(add(vr, VR_OBJ_FLOW, &fr), 0);
    CHECK_EQ_INT(n_outs, 2);
    CHECK(outs[0].vif == 4 && outs[1].vif == 4);
    CHECK_EQ_INT(e->packets, 2);

    /* NAT: DNAT + DPAT forward, SNAT + SPAT reverse; checksums stay valid both ways. */
    struct vr_flow_req rv;
    memset(&rv, 0, sizeof rv);
    rv.index = VR_FLOW_INDEX_NONE;
    rv.action = VR_FLOW_ACTION_FORWARD;
    vr_ip_parse("203.0.113.12", &rv.sip);
    vr_ip_parse("203.0.113.11", &rv.dip);
    rv.proto = VR_IPPROTO_UDP, rv.sport = 7001, rv.dport = 4000, rv.nh_id = 10;
    rv.vrf = rv.dvrf = 1;
    rv.ecmp_nh_index = rv.src_nh_index = rv.mirror_id = VR_FLOW_INDEX_NONE;
    CHECK_EQ_INT(add(vr, VR_OBJ_FLOW, &rv), 0);
    uint32_t rindex;
    struct vr_flow_key rk = { .family = 4, .proto = 17, .sport = 7001, .dport = 4000,
                              .nh_id = 10 };
    ip4("203.0.113.12", rk.sip);
    ip4("203.0.113.11", rk.dip);
    CHECK(vr_flow_lookup(&vr->flows, &rk, &rindex) != NULL);
    struct vr_flow_req fw = rv;
    vr_ip_parse("203.0.113.11", &fw.sip);
    vr_ip_parse("203.0.113.200", &fw.dip);
    fw.sport = 4000, fw.dport = 7000;
    fw.action = VR_FLOW_ACTION_NAT;
    fw.flags = VR_FLOW_FLAG_DNAT | VR_FLOW_FLAG_DPAT | VR_RFLOW_VALID;
    fw.rindex = rindex;
    CHECK_EQ_INT(add(vr, VR_OBJ_FLOW, &fw), 0);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.200", 4000, 7000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 1);
    o = outs[0].data + 14;
    uint8_t want[4];
    ip4("203.0.113.12", want);
    CHECK(outs[0].vif == 4 && !memcmp(o + 16, want, 4) && vr_get16(o + 22) == 7001);
    CHECK(checksums_ok(o, outs[0].len - 14));
    /* A NAT flow whose reverse flow went away drops. */
    vr_flow_free(&vr->flows, rindex);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.200", 4000, 7000, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 0);
    CHECK_EQ_INT(vr->drops[VP_DROP_FLOW_NAT_NO_RFLOW], 1);

    /* A drop flow. */
    fr.index = index;
    fr.action = VR_FLOW_ACTION_DROP;
    CHECK_EQ_INT(add(vr, VR_OBJ_FLOW, &fr), 0);
    p = udp_frame(pbuf, VRRP, VM1, "203.0.113.11", "203.0.113.12", 1111, 2222, 64, 20);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(n_outs, 0);
    CHECK_EQ_INT(vr->drops[VP_DROP_FLOW_ACTION_DROP], 1);

    /* Runts and garbage. */
    uint64_t pull = vr->drops[VP_DROP_PULL];
    vr_pkt_init(&p, pbuf, sizeof pbuf, VR_PKT_HEADROOM, 10);
    send_vif(vr, 3, &p);
    CHECK_EQ_INT(vr->drops[VP_DROP_PULL], pull + 1);
    vr_pkt_init(&q, b2, sizeof b2, VR_PKT_HEADROOM, 3);
    vr_dp_fabric_rx(&dp, VR_ENCAP_VXLAN, o + 12, &q);
    vr_dp_fabric_rx(&dp, VR_ENCAP_MPLSOGRE, o + 12, &q);
    vr_dp_agent_rx(&dp, &q);
    CHECK_EQ_INT(n_outs, 0);

    vr_model_destroy(vr);
    return check_finish();
}
