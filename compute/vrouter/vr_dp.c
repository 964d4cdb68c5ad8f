/* vr_dp: the forwarding pipeline (see vr_dp.h).
 *
 * Stages, as the original's packet path: input (VM port, fabric, agent) -> L2/L3 decision ->
 * flow stage (when the port or next hop asks for policy) -> route or bridge lookup -> next-hop
 * output (interface, tunnel, ECMP choice, flood, VRF translation).  A context (struct ctx)
 * carries what the stages learnt about the packet. */
#include "vr_dp.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(vr_dp);

static MEM_TYPE(mem_type_held, "vr_held_packet");

#define NONE VR_FLOW_INDEX_NONE
#define MAX_DEPTH 8

enum src_kind { SRC_VM, SRC_FABRIC };

/* A packet parked in a HOLD flow: the input exactly as it arrived, so that it runs the whole
 * pipeline again when the flow gets its action. */
struct vr_held {
    uint8_t kind;               /* enum src_kind */
    uint8_t encap;              /* enum vr_encap (fabric) */
    uint8_t outer[4];
    uint32_t vif;
    uint32_t len;
    uint8_t data[];
};

struct ctx {
    struct vr_dp *dp;
    struct vr_vif *in_vif;      /* VM/host ingress port; NULL from the fabric or agent */
    bool from_fabric;
    bool local_origin;          /* built by the vRouter (ICMP): no TTL decrement, no flow */
    uint32_t vrf;
    uint32_t ecmp_idx;          /* ECMP component chosen by the flow */
    bool nat;                   /* the flow rewrote addresses */
    bool vrf_changed;           /* the flow moved the packet to another VRF */
    bool have_l3;
    struct vr_l3info in;
    int depth;
    /* The input as received, for holding. */
    enum src_kind kind;
    enum vr_encap encap;
    const uint8_t *orig;
    uint32_t orig_len;
    uint8_t outer[4];
};

void
vr_dp_init(struct vr_dp *dp, struct vrouter *vr, const struct vr_dp_io *io, void *io_aux)
{
    memset(dp, 0, sizeof *dp);
    dp->vr = vr;
    dp->io = io;
    dp->io_aux = io_aux;
    dp->fabric_vif = NONE;
    dp->now_ms = vr_now_ms();
}

void
vr_dp_free_held(void *p)
{
    struct vr_held *h = p;
    if (h) {
        mem_free(&mem_type_held, h);
    }
}

static void
drop(struct ctx *c, unsigned int reason)
{
    vr_drop(c->dp->vr, c->in_vif, reason);
}

/* ---- output to ports, fabric, agent ---- */

static void
tx_vif(struct vr_dp *dp, struct vr_vif *vif, const uint8_t *frame, size_t len)
{
    vif->cfg.opackets++;
    vif->cfg.obytes += len;
    dp->stats.vif_tx++;
    dp->io->tx_vif(dp->io_aux, vif, frame, len);
}

static void
tx_fabric(struct vr_dp *dp, const uint8_t *ip, size_t len)
{
    struct vr_vif *fv = vr_vif_get(dp->vr, dp->fabric_vif);
    if (fv) {
        fv->cfg.opackets++;
        fv->cfg.obytes += len;
    }
    dp->stats.fabric_tx++;
    dp->io->tx_fabric(dp->io_aux, ip, len);
}

/* Sends CMD to the agent with an Ethernet frame: ETH (14 bytes, may be NULL: a header from
 * the vRouter's MAC is made for ETHERTYPE) followed by DATA. */
static void
trap(struct ctx *c, uint16_t cmd, uint32_t param, uint32_t param1, uint8_t param5,
     const uint8_t *eth, uint16_t ethertype, const uint8_t *data, size_t len)
{
    struct vr_dp *dp = c->dp;
    struct vrouter *vr = dp->vr;
    struct vr_vif *agent = vr_vif_get(vr, vr->agent_vif);
    if (!agent || len > VR_PKT_MAX_DATA) {
        vr_drop(vr, c->in_vif, VP_DROP_TRAP_NO_IF);
        return;
    }
    static uint8_t buf[VR_AGENT_HDR_LEN + VR_ETH_HLEN + VR_PKT_MAX_DATA];
    struct vr_agent_hdr h;
    memset(&h, 0, sizeof h);
    uint32_t ifidx = c->in_vif ? c->in_vif->cfg.idx : dp->fabric_vif;
    vr_put16((uint8_t *) &h.hdr_ifindex, (uint16_t) ifidx);
    vr_put16((uint8_t *) &h.hdr_vrf, (uint16_t) c->vrf);
    vr_put16((uint8_t *) &h.hdr_cmd, cmd);
    vr_put32((uint8_t *) &h.hdr_cmd_param, param);
    vr_put32((uint8_t *) &h.hdr_cmd_param_1, param1);
    h.hdr_cmd_param_5 = param5;
    memcpy(buf, &h, sizeof h);
    uint8_t *e = buf + VR_AGENT_HDR_LEN;
    if (eth) {
        memcpy(e, eth, VR_ETH_HLEN);
    } else {
        memcpy(e, vr->mac, 6);
        memcpy(e + 6, vr->mac, 6);
        vr_put16(e + 12, ethertype);
    }
    memcpy(e + VR_ETH_HLEN, data, len);
    size_t total = VR_AGENT_HDR_LEN + VR_ETH_HLEN + len;
    if (!dp->io->tx_agent || !dp->io->tx_agent(dp->io_aux, buf, total)) {
        vr_drop(vr, c->in_vif, VP_DROP_TRAP_NO_IF);
        return;
    }
    agent->cfg.opackets++;
    agent->cfg.obytes += total;
    dp->stats.agent_tx++;
}

/* ---- hashing for ECMP and tunnel source ports ---- */

static uint32_t
l3_hash(const struct ctx *c, uint8_t fields)
{
    if (!c->have_l3) {
        return 0;
    }
    struct vr_flow_key k;
    memset(&k, 0, sizeof k);
    k.family = c->in.family;
    size_t alen = c->in.family == 4 ? 4 : 16;
    if (fields & NH_ECMP_CONFIG_HASH_PROTO) {
        k.proto = c->in.proto;
    }
    if (fields & NH_ECMP_CONFIG_HASH_SRC_IP) {
        memcpy(k.sip, c->in.sip, alen);
    }
    if (fields & NH_ECMP_CONFIG_HASH_DST_IP) {
        memcpy(k.dip, c->in.dip, alen);
    }
    if (fields & NH_ECMP_CONFIG_HASH_SRC_PORT) {
        k.sport = c->in.sport;
    }
    if (fields & NH_ECMP_CONFIG_HASH_DST_PORT) {
        k.dport = c->in.dport;
    }
    return vr_flow_key_hash(&k);
}

/* ---- tunnels ---- */

/* Encapsulates PKT (an IP packet when L2 is false, an Ethernet frame when true) for tunnel
 * NH with LABEL (MPLS label or VNI) and sends it on the fabric. */
static void
tunnel_out(struct ctx *c, const struct vr_nexthop *nh, uint32_t label, struct vr_pkt *pkt,
           bool l2)
{
    struct vr_dp *dp = c->dp;
    uint32_t t = nh->cfg.flags & NH_TUNNEL_FLAGS;
    uint8_t ttl = c->have_l3 && !l2 ? c->in.ttl : 64;
    uint16_t dport;
    uint8_t proto = VR_IPPROTO_UDP;
    if (t == NH_FLAG_TUNNEL_UDP_MPLS || t == NH_FLAG_TUNNEL_GRE) {
        if (label == NONE || label > VR_MPLS_MAX_LABEL) {
            drop(c, VP_DROP_INVALID_LABEL);
            return;
        }
        uint8_t *m = vr_pkt_push(pkt, 4);
        if (!m) {
            drop(c, VP_DROP_PUSH);
            return;
        }
        vr_put32(m, label << 12 | 0x100 | ttl);
        dport = nh->cfg.tun_dport ? nh->cfg.tun_dport : VR_MPLS_UDP_PORT;
        if (t == NH_FLAG_TUNNEL_GRE) {
            proto = VR_IPPROTO_GRE;
        }
    } else if (t == NH_FLAG_TUNNEL_VXLAN) {
        if (label == NONE || label > VR_VXLAN_MAX_VNID) {
            drop(c, VP_DROP_INVALID_VNID);
            return;
        }
        if (!l2) {
            /* A routed packet crosses a VXLAN tunnel as a frame to the remote vRouter's
             * gateway MAC, which routes it again in the VNI's VRF. */
            uint8_t *e = vr_pkt_push(pkt, VR_ETH_HLEN);
            if (!e) {
                drop(c, VP_DROP_PUSH);
                return;
            }
            memcpy(e, dp->vr->mac, 6);
            memcpy(e + 6, dp->vr->mac, 6);
            vr_put16(e + 12, c->in.family == 6 ? VR_ETH_P_IPV6 : VR_ETH_P_IP);
        }
        uint8_t *v = vr_pkt_push(pkt, 8);
        if (!v) {
            drop(c, VP_DROP_PUSH);
            return;
        }
        vr_put32(v, 0x08000000);
        vr_put32(v + 4, label << 8);
        dport = nh->cfg.tun_dport ? nh->cfg.tun_dport : VR_VXLAN_UDP_PORT;
    } else {
        dport = nh->cfg.tun_dport;
    }
    if (proto == VR_IPPROTO_UDP) {
        uint8_t *u = vr_pkt_push(pkt, 8);
        if (!u) {
            drop(c, VP_DROP_PUSH);
            return;
        }
        /* Source port from the inner flow: the underlay spreads flows, not packets. */
        uint32_t h = c->have_l3 ? l3_hash(c, NH_ECMP_CONFIG_HASH_MASK)
                                : hash_bytes(pkt->data + 16, 12, 0);
        uint16_t sport = nh->cfg.tun_sport ? nh->cfg.tun_sport
                                           : (uint16_t) (49152 + (h % 16384));
        vr_put16(u, sport);
        vr_put16(u + 2, dport);
        vr_put16(u + 4, (uint16_t) pkt->len);
        vr_put16(u + 6, 0);
    } else {
        uint8_t *g = vr_pkt_push(pkt, 4);
        if (!g) {
            drop(c, VP_DROP_PUSH);
            return;
        }
        vr_put16(g, 0);
        vr_put16(g + 2, VR_GRE_PROTO_MPLS);
    }
    uint8_t *ip = vr_pkt_push(pkt, 20);
    if (!ip || pkt->len > 65535) {
        drop(c, ip ? VP_DROP_FRAG_ERR : VP_DROP_PUSH);
        return;
    }
    ip[0] = 0x45;
    ip[1] = 0;
    vr_put16(ip + 2, (uint16_t) pkt->len);
    vr_put16(ip + 4, 0);
    vr_put16(ip + 6, 0);
    ip[8] = 64;
    ip[9] = proto;
    memcpy(ip + 12, nh->cfg.tun_sip.a, 4);
    memcpy(ip + 16, nh->cfg.tun_dip.a, 4);
    vr_ipv4_csum_set(ip);
    tx_fabric(dp, pkt->data, pkt->len);
}

/* ---- L3 output ---- */

static void route_out(struct ctx *c, struct vr_pkt *pkt);
static void bridge_out(struct ctx *c, uint32_t nh_id, uint32_t label, struct vr_pkt *pkt);

/* Sends the IP packet PKT out of VIF with the L2 header of encap NH. */
static void
l3_to_vif(struct ctx *c, const struct vr_nexthop *nh, struct vr_pkt *pkt)
{
    struct vr_vif *vif = vr_vif_get(c->dp->vr, nh->cfg.encap_oif);
    if (!vif) {
        drop(c, VP_DROP_INVALID_IF);
        return;
    }
    uint32_t elen = nh->cfg.encap_len >= VR_ETH_HLEN ? nh->cfg.encap_len : VR_ETH_HLEN;
    uint8_t *e = vr_pkt_push(pkt, elen);
    if (!e) {
        drop(c, VP_DROP_PUSH);
        return;
    }
    if (nh->cfg.encap_len >= VR_ETH_HLEN) {
        memcpy(e, nh->cfg.encap, elen);
    } else {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t zero[6];
        memcpy(e, memcmp(vif->cfg.mac, zero, 6) ? vif->cfg.mac : bcast, 6);
        memcpy(e + 6, c->dp->vr->mac, 6);
    }
    vr_put16(e + elen - 2, c->in.family == 6 ? VR_ETH_P_IPV6 : VR_ETH_P_IP);
    tx_vif(c->dp, vif, pkt->data, pkt->len);
}

static void icmp_echo_reply(struct ctx *c, struct vr_pkt *pkt);

/* Sends the IP packet PKT to next hop NH_ID with route label LABEL. */
static void
nh_out_l3(struct ctx *c, uint32_t nh_id, uint32_t label, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    if (++c->depth > MAX_DEPTH) {
        drop(c, VP_DROP_PKT_LOOP);
        return;
    }
    struct vr_nexthop *nh = vr_nh_get(vr, nh_id);
    if (!nh || !(nh->cfg.flags & NH_FLAG_VALID)) {
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
    switch (nh->cfg.type) {
    case NH_DISCARD:
        drop(c, VP_DROP_DISCARD);
        return;
    case NH_RCV:
        icmp_echo_reply(c, pkt);
        return;
    case NH_ENCAP:
        l3_to_vif(c, nh, pkt);
        return;
    case NH_TUNNEL:
        tunnel_out(c, nh, label, pkt, false);
        return;
    case NH_COMPOSITE: {
        if (!(nh->cfg.flags & NH_FLAG_COMPOSITE_ECMP) || !nh->cfg.nh_count) {
            drop(c, VP_DROP_INVALID_NH);
            return;
        }
        uint32_t i = c->ecmp_idx < nh->cfg.nh_count
                     ? c->ecmp_idx
                     : l3_hash(c, nh->cfg.ecmp_config_hash) % nh->cfg.nh_count;
        uint32_t l = nh->cfg.label_count ? nh->cfg.label_list[i] : label;
        c->ecmp_idx = NONE;
        nh_out_l3(c, nh->cfg.nh_list[i], l, pkt);
        return;
    }
    case NH_VRF_TRANSLATE:
        c->vrf = nh->cfg.vrf;
        route_out(c, pkt);
        return;
    case NH_RESOLVE:
        trap(c, AGENT_TRAP_RESOLVE, 0, nh_id, 0, NULL,
             c->in.family == 6 ? VR_ETH_P_IPV6 : VR_ETH_P_IP, pkt->data, pkt->len);
        return;
    default:
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
}

/* ---- ICMP from the vRouter ---- */

static struct vr_ip
icmp_source(const struct ctx *c)
{
    struct vr_vrf *v = vr_vrf_get(c->dp->vr, c->vrf);
    struct vr_ip src = { 0 };
    const struct vr_ip *gw = v ? (c->in.family == 4 ? &v->gw4 : &v->gw6) : NULL;
    if (gw && gw->family) {
        src = *gw;
    } else {
        src.family = c->in.family;
        memcpy(src.a, c->in.dip, c->in.family == 4 ? 4 : 16);
    }
    return src;
}

/* Routes a packet built by the vRouter (in BUF, at headroom VR_PKT_HEADROOM) in C's VRF. */
static void
send_local(struct ctx *c, uint8_t *buf, uint32_t len)
{
    struct ctx lc;
    memset(&lc, 0, sizeof lc);
    lc.dp = c->dp;
    lc.vrf = c->vrf;
    lc.local_origin = true;
    lc.ecmp_idx = NONE;
    struct vr_pkt p;
    vr_pkt_init(&p, buf, VR_PKT_BUFSIZE, VR_PKT_HEADROOM, len);
    if (vr_pkt_parse_ip(p.data, p.len, false, &lc.in)) {
        return;
    }
    lc.have_l3 = true;
    route_out(&lc, &p);
}

/* Sends an ICMP error (TYPE, CODE: IPv4 numbering; IPv6 is mapped) about the IP packet PKT
 * back to its source.  Never about an ICMP error, a later fragment or a multicast packet. */
static void
icmp_error(struct ctx *c, struct vr_pkt *pkt, uint8_t type, uint8_t code)
{
    if (c->in.icmp_error || c->in.later_frag || c->local_origin) {
        return;
    }
    if (c->in.family == 4 && ((c->in.dip[0] & 0xf0) == 0xe0 || c->in.dip[0] == 0xff)) {
        return;
    }
    if (c->in.family == 6 && c->in.dip[0] == 0xff) {
        return;
    }
    static uint8_t buf[VR_PKT_BUFSIZE];
    uint8_t *o = buf + VR_PKT_HEADROOM;
    struct vr_ip src = icmp_source(c);
    uint32_t len;
    if (c->in.family == 4) {
        uint32_t quote = pkt->len < 548 ? pkt->len : 548;
        len = 28 + quote;
        memset(o, 0, 28);
        o[0] = 0x45;
        vr_put16(o + 2, (uint16_t) len);
        o[8] = 64;
        o[9] = VR_IPPROTO_ICMP;
        memcpy(o + 12, src.a, 4);
        memcpy(o + 16, c->in.sip, 4);
        o[20] = type;
        o[21] = code;
        memcpy(o + 28, pkt->data, quote);
        vr_ipv4_csum_set(o);
    } else {
        uint32_t quote = pkt->len < 1232 ? pkt->len : 1232;
        len = 48 + quote;
        memset(o, 0, 48);
        o[0] = 0x60;
        vr_put16(o + 4, (uint16_t) (len - 40));
        o[6] = VR_IPPROTO_ICMPV6;
        o[7] = 64;
        memcpy(o + 8, src.a, 16);
        memcpy(o + 24, c->in.sip, 16);
        o[40] = type == 11 ? 3 : 1;         /* time exceeded : destination unreachable */
        o[41] = type == 11 ? 0 : 0;
        memcpy(o + 48, pkt->data, quote);
    }
    vr_l4_csum_set(o, len);
    c->dp->stats.icmp_errors++;
    send_local(c, buf, len);
}

/* A packet for the vRouter itself (a receive NH): answers pings, drops the rest. */
static void
icmp_echo_reply(struct ctx *c, struct vr_pkt *pkt)
{
    bool echo = c->have_l3 && !c->in.frag
                && ((c->in.family == 4 && c->in.proto == VR_IPPROTO_ICMP
                     && c->in.icmp_type == 8)
                    || (c->in.family == 6 && c->in.proto == VR_IPPROTO_ICMPV6
                        && c->in.icmp_type == 128));
    if (!echo || c->local_origin) {
        drop(c, VP_DROP_NOWHERE_TO_GO);
        return;
    }
    static uint8_t buf[VR_PKT_BUFSIZE];
    uint8_t *o = buf + VR_PKT_HEADROOM;
    uint32_t len = c->in.tot_len;
    memcpy(o, pkt->data, len);
    size_t alen = c->in.family == 4 ? 4 : 16;
    uint8_t *s = o + (c->in.family == 4 ? 12 : 8);
    uint8_t tmp[16];
    memcpy(tmp, s, alen);
    memcpy(s, s + alen, alen);
    memcpy(s + alen, tmp, alen);
    if (c->in.family == 4) {
        o[8] = 64;
        vr_ipv4_csum_set(o);
        o[c->in.hlen] = 0;
    } else {
        o[7] = 64;
        o[c->in.hlen] = 129;
    }
    vr_l4_csum_set(o, len);
    send_local(c, buf, len);
}

/* ---- routing ---- */

/* Decrements the TTL of a routed packet; false (after an ICMP error) when it expired. */
static bool
ttl_decrement(struct ctx *c, struct vr_pkt *pkt)
{
    if (c->local_origin || c->from_fabric) {
        return true;
    }
    uint8_t *ip = pkt->data;
    if (c->in.ttl <= 1) {
        icmp_error(c, pkt, 11, 0);
        drop(c, VP_DROP_TTL_EXCEEDED);
        return false;
    }
    if (c->in.family == 4) {
        uint8_t old[2] = { ip[8], ip[9] };
        ip[8]--;
        vr_csum_replace(ip + 10, old, ip + 8, 2);
    } else {
        ip[7]--;
    }
    c->in.ttl--;
    return true;
}

/* Looks up the destination of the IP packet PKT in C's VRF and sends it on. */
static void
route_out(struct ctx *c, struct vr_pkt *pkt)
{
    const struct vr_lpm_route *rt = vr_route_lookup(c->dp->vr, c->vrf, c->in.family,
                                                    c->in.dip);
    if (!rt) {
        icmp_error(c, pkt, 3, 0);
        drop(c, VP_DROP_DISCARD);
        return;
    }
    uint32_t label = rt->flags & VR_RT_LABEL_VALID_FLAG ? rt->label : NONE;
    nh_out_l3(c, rt->nh_id, label, pkt);
}

/* ---- flows ---- */

static void
hold_packet(struct ctx *c, struct vr_flow_entry *e)
{
    struct vr_held *h = mem_zalloc(&mem_type_held, sizeof *h + c->orig_len);
    h->kind = (uint8_t) c->kind;
    h->encap = (uint8_t) c->encap;
    memcpy(h->outer, c->outer, 4);
    h->vif = c->in_vif ? c->in_vif->cfg.idx : NONE;
    h->len = c->orig_len;
    memcpy(h->data, c->orig, c->orig_len);
    e->hold[e->n_hold++] = h;
}

static void
flow_key(const struct ctx *c, uint32_t nh_id, struct vr_flow_key *k)
{
    memset(k, 0, sizeof *k);
    k->family = c->in.family;
    k->proto = c->in.proto;
    k->nh_id = nh_id;
    if (c->in.has_ports) {
        k->sport = c->in.sport;
        k->dport = c->in.dport;
    }
    size_t alen = c->in.family == 4 ? 4 : 16;
    memcpy(k->sip, c->in.sip, alen);
    memcpy(k->dip, c->in.dip, alen);
}

/* Rewrites the addresses and ports of PKT as NAT flow E says, using the reverse flow's key. */
static bool
nat_rewrite(struct ctx *c, struct vr_flow_entry *e, struct vr_pkt *pkt)
{
    struct vr_flow_table *t = &c->dp->vr->flows;
    struct vr_flow_entry *r = (e->flags & VR_RFLOW_VALID) ? vr_flow_get(t, e->rindex) : NULL;
    if (!r || r->key.family != c->in.family) {
        return false;
    }
    uint8_t *ip = pkt->data;
    size_t alen = c->in.family == 4 ? 4 : 16;
    uint8_t *sip = ip + (c->in.family == 4 ? 12 : 8), *dip = sip + alen;
    uint8_t *l4 = ip + c->in.hlen;
    size_t l4len = c->in.tot_len - c->in.hlen;
    uint8_t *l4sum = NULL;
    bool pseudo = true;
    if (!c->in.later_frag) {
        if (c->in.proto == VR_IPPROTO_TCP && l4len >= 18) {
            l4sum = l4 + 16;
        } else if (c->in.proto == VR_IPPROTO_UDP && l4len >= 8 && vr_get16(l4 + 6)) {
            l4sum = l4 + 6;
        } else if ((c->in.proto == VR_IPPROTO_ICMP || c->in.proto == VR_IPPROTO_ICMPV6)
                   && l4len >= 8) {
            l4sum = l4 + 2;
            pseudo = c->in.proto == VR_IPPROTO_ICMPV6;
        }
    }
    uint8_t before[16];
    if (e->flags & VR_FLOW_FLAG_SNAT) {
        memcpy(before, sip, alen);
        memcpy(sip, r->key.dip, alen);
        if (l4sum && pseudo) {
            vr_csum_replace(l4sum, before, sip, alen);
        }
    }
    if (e->flags & VR_FLOW_FLAG_DNAT) {
        memcpy(before, dip, alen);
        memcpy(dip, r->key.sip, alen);
        if (l4sum && pseudo) {
            vr_csum_replace(l4sum, before, dip, alen);
        }
    }
    if (c->in.has_ports && !c->in.later_frag) {
        bool icmp = c->in.proto == VR_IPPROTO_ICMP || c->in.proto == VR_IPPROTO_ICMPV6;
        uint8_t *sp = icmp ? l4 + 4 : l4, *dp = l4 + 2;
        if (e->flags & VR_FLOW_FLAG_SPAT) {
            memcpy(before, sp, 2);
            vr_put16(sp, r->key.dport);
            if (l4sum) {
                vr_csum_replace(l4sum, before, sp, 2);
            }
        }
        if ((e->flags & VR_FLOW_FLAG_DPAT) && !icmp) {
            memcpy(before, dp, 2);
            vr_put16(dp, r->key.sport);
            if (l4sum) {
                vr_csum_replace(l4sum, before, dp, 2);
            }
        }
    }
    if (c->in.family == 4) {
        vr_ipv4_csum_set(ip);
    }
    /* Reparse so that later stages (ECMP hash, ICMP errors) see the new header. */
    struct vr_l3info in;
    if (!vr_pkt_parse_ip(ip, pkt->len, false, &in)) {
        c->in = in;
    }
    c->nat = true;
    return true;
}

static void
mirror(struct ctx *c, struct vr_flow_entry *e, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    if (e->mirror_id >= vr->limits.mirror_entries || !vr->mirrors[e->mirror_id].used) {
        return;
    }
    struct vr_mirror *m = &vr->mirrors[e->mirror_id];
    static uint8_t buf[VR_PKT_BUFSIZE];
    struct vr_pkt copy;
    vr_pkt_init(&copy, buf, sizeof buf, VR_PKT_HEADROOM, pkt->len);
    memcpy(copy.data, pkt->data, pkt->len);
    struct ctx mc = *c;
    mc.depth = MAX_DEPTH - 2;
    mc.ecmp_idx = NONE;
    m->cfg.packets++;
    nh_out_l3(&mc, m->cfg.nh_id, NONE, &copy);
}

static void
tcp_track(struct vr_flow_entry *e, const struct vr_l3info *in)
{
    if (in->proto != VR_IPPROTO_TCP || !in->has_ports) {
        return;
    }
    if (in->tcp_flags & 0x02) {
        e->tcp_flags |= VR_FLOW_TCP_SYN;
    }
    if (in->tcp_flags & 0x01) {
        e->tcp_flags |= VR_FLOW_TCP_FIN;
    }
    if (in->tcp_flags & 0x04) {
        e->tcp_flags |= VR_FLOW_TCP_RST;
    }
    if ((in->tcp_flags & 0x10) && (e->tcp_flags & VR_FLOW_TCP_SYN)) {
        e->tcp_flags |= VR_FLOW_TCP_ESTABLISHED;
    }
}

/* The flow stage.  Returns true when the packet goes on (forward or NAT applied), false when
 * it was held, trapped or dropped. */
static bool
flow_stage(struct ctx *c, uint32_t key_nh, struct vr_pkt *pkt)
{
    struct vr_dp *dp = c->dp;
    struct vr_flow_table *t = &dp->vr->flows;
    if (c->in.icmp_error || c->local_origin) {
        return true;            /* errors follow the flow of the packet they quote */
    }
    struct vr_flow_key k;
    flow_key(c, key_nh, &k);
    uint32_t index;
    struct vr_flow_entry *e = vr_flow_lookup(t, &k, &index);
    t->processed++;
    if (!e) {
        if (c->in_vif && (c->in_vif->cfg.flags & VIF_FLAG_DROP_NEW_FLOWS)) {
            drop(c, VP_DROP_DROP_NEW_FLOW);
            return false;
        }
        if (t->hold >= t->hold_limit) {
            drop(c, VP_DROP_FLOW_UNUSABLE);
            return false;
        }
        if (vr_flow_alloc(t, &k, dp->now_ms, &index)) {
            drop(c, VP_DROP_FLOW_TABLE_FULL);
            return false;
        }
        e = &t->entries[index];
        e->vrf = e->dvrf = c->vrf;
        hold_packet(c, e);
        dp->stats.flow_misses++;
        const uint8_t *eth = c->kind == SRC_VM ? c->orig : NULL;
        trap(c, AGENT_TRAP_FLOW_MISS, index, key_nh, e->gen_id, eth,
             c->in.family == 6 ? VR_ETH_P_IPV6 : VR_ETH_P_IP, pkt->data, pkt->len);
        return false;
    }
    e->last_used_ms = dp->now_ms;
    switch (e->action) {
    case VR_FLOW_ACTION_HOLD:
        if (e->n_hold < VR_FLOW_HOLD_QUEUE) {
            hold_packet(c, e);
        } else {
            drop(c, VP_DROP_FLOW_QUEUE_LIMIT_EXCEEDED);
        }
        return false;
    case VR_FLOW_ACTION_DROP:
        e->packets++;
        e->bytes += pkt->len;
        drop(c, VP_DROP_FLOW_ACTION_DROP);
        return false;
    case VR_FLOW_ACTION_FORWARD:
    case VR_FLOW_ACTION_NAT:
        e->packets++;
        e->bytes += pkt->len;
        tcp_track(e, &c->in);
        if (e->flags & VR_FLOW_FLAG_MIRROR) {
            mirror(c, e, pkt);
        }
        if (e->action == VR_FLOW_ACTION_NAT) {
            if (!nat_rewrite(c, e, pkt)) {
                drop(c, VP_DROP_FLOW_NAT_NO_RFLOW);
                return false;
            }
            c->vrf_changed = e->dvrf != c->vrf;
            c->vrf = e->dvrf;
        } else if (e->flags & VR_FLOW_FLAG_VRFT) {
            c->vrf_changed = e->dvrf != c->vrf;
            c->vrf = e->dvrf;
        }
        c->ecmp_idx = e->ecmp_nh_index;
        return true;
    default:
        drop(c, VP_DROP_FLOW_ACTION_INVALID);
        return false;
    }
}

/* ---- IP input ---- */

/* Parses the IP packet at PKT into C (trimming link padding).  False after a drop. */
static bool
ip_parse(struct ctx *c, struct vr_pkt *pkt)
{
    int bad = vr_pkt_parse_ip(pkt->data, pkt->len, true, &c->in);
    if (bad) {
        drop(c, (unsigned int) bad - 1);
        return false;
    }
    pkt->len = c->in.tot_len;
    c->have_l3 = true;
    return true;
}

/* A routed IP packet from a VM port (PKT at the IP header). */
static void
ip_from_vm(struct ctx *c, struct vr_pkt *pkt)
{
    struct vr_vif *vif = c->in_vif;
    if (vif->cfg.flags & VIF_FLAG_POLICY_ENABLED) {
        if (!flow_stage(c, vif->cfg.nh_id, pkt)) {
            return;
        }
    }
    if (!ttl_decrement(c, pkt)) {
        return;
    }
    route_out(c, pkt);
}

/* An IP packet from the fabric for the local next hop NH_ID (NONE: route it in C's VRF). */
static void
ip_from_fabric(struct ctx *c, uint32_t nh_id, uint32_t label, struct vr_pkt *pkt)
{
    if (!ip_parse(c, pkt)) {
        return;
    }
    if (nh_id == NONE) {
        const struct vr_lpm_route *rt = vr_route_lookup(c->dp->vr, c->vrf, c->in.family,
                                                        c->in.dip);
        if (!rt) {
            drop(c, VP_DROP_DISCARD);
            return;
        }
        nh_id = rt->nh_id;
        label = rt->flags & VR_RT_LABEL_VALID_FLAG ? rt->label : NONE;
    }
    struct vr_nexthop *nh = vr_nh_get(c->dp->vr, nh_id);
    if (nh && nh->cfg.type == NH_ENCAP && (nh->cfg.flags & NH_FLAG_POLICY_ENABLED)) {
        if (!flow_stage(c, nh_id, pkt)) {
            return;
        }
        if (c->nat || c->vrf_changed) {
            route_out(c, pkt);
            return;
        }
    }
    nh_out_l3(c, nh_id, label, pkt);
}

/* ---- bridging ---- */

static const uint8_t bcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Replicates the frame PKT to the components of the flood composite NH. */
static void
flood(struct ctx *c, const struct vr_nexthop *nh, struct vr_pkt *pkt)
{
    uint8_t *buf = mem_zalloc(&mem_type_held, VR_PKT_BUFSIZE);
    bool sent = false;
    for (uint32_t i = 0; i < nh->cfg.nh_count; i++) {
        struct vr_nexthop *comp = vr_nh_get(c->dp->vr, nh->cfg.nh_list[i]);
        if (!comp) {
            continue;
        }
        if (comp->cfg.type == NH_ENCAP && c->in_vif
            && comp->cfg.encap_oif == c->in_vif->cfg.idx) {
            continue;           /* not back where it came from */
        }
        if (comp->cfg.type == NH_TUNNEL && c->from_fabric) {
            continue;           /* split horizon: the fabric floods its own copies */
        }
        struct vr_pkt copy;
        vr_pkt_init(&copy, buf, VR_PKT_BUFSIZE, VR_PKT_HEADROOM, pkt->len);
        memcpy(copy.data, pkt->data, pkt->len);
        struct ctx fc = *c;
        uint32_t label = nh->cfg.label_count ? nh->cfg.label_list[i] : NONE;
        bridge_out(&fc, nh->cfg.nh_list[i], label, &copy);
        sent = true;
    }
    mem_free(&mem_type_held, buf);
    if (!sent) {
        drop(c, VP_DROP_NOWHERE_TO_GO);
    }
}

/* Sends the Ethernet frame PKT to bridge next hop NH_ID with LABEL (L2 label or VNI). */
static void
bridge_out(struct ctx *c, uint32_t nh_id, uint32_t label, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    if (++c->depth > MAX_DEPTH) {
        drop(c, VP_DROP_PKT_LOOP);
        return;
    }
    struct vr_nexthop *nh = vr_nh_get(vr, nh_id);
    if (!nh || !(nh->cfg.flags & NH_FLAG_VALID)) {
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
    switch (nh->cfg.type) {
    case NH_ENCAP: {
        struct vr_vif *vif = vr_vif_get(vr, nh->cfg.encap_oif);
        if (!vif) {
            drop(c, VP_DROP_INVALID_IF);
        } else if (vif == c->in_vif) {
            drop(c, VP_DROP_DUPLICATED);
        } else {
            tx_vif(c->dp, vif, pkt->data, pkt->len);
        }
        return;
    }
    case NH_TUNNEL:
        c->have_l3 = false;
        tunnel_out(c, nh, label, pkt, true);
        return;
    case NH_COMPOSITE:
        flood(c, nh, pkt);
        return;
    case NH_VRF_TRANSLATE: {
        struct vr_bridge_entry *be = vr_bridge_lookup(vr, nh->cfg.vrf, pkt->data);
        if (!be) {
            drop(c, VP_DROP_L2_NO_ROUTE);
            return;
        }
        be->packets++;
        c->vrf = nh->cfg.vrf;
        bridge_out(c, be->nh_id, be->flags & VR_BE_LABEL_VALID_FLAG ? be->label : NONE, pkt);
        return;
    }
    case NH_DISCARD:
        drop(c, VP_DROP_DISCARD);
        return;
    default:
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
}

/* Bridges the frame PKT in C's VRF by its destination MAC.  An IP frame for a port with
 * policy goes through the flow stage first (keyed on the port's NH, or the destination NH
 * from the fabric); a NAT flow turns it into a routed packet. */
static void
bridge_in(struct ctx *c, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    const uint8_t *dst = pkt->data;
    struct vr_bridge_entry *be = vr_bridge_lookup(vr, c->vrf,
                                                  vr_mac_is_mcast(dst) ? bcast_mac : dst);
    if (!be) {
        drop(c, VP_DROP_L2_NO_ROUTE);
        return;
    }
    be->packets++;
    uint32_t label = be->flags & VR_BE_LABEL_VALID_FLAG ? be->label : NONE;
    uint16_t et = vr_get16(pkt->data + 12);
    struct vr_nexthop *nh = vr_nh_get(vr, be->nh_id);
    bool policy = !vr_mac_is_mcast(dst) && (et == VR_ETH_P_IP || et == VR_ETH_P_IPV6)
                  && (c->in_vif ? (c->in_vif->cfg.flags & VIF_FLAG_POLICY_ENABLED)
                                : (nh && nh->cfg.type == NH_ENCAP
                                   && (nh->cfg.flags & NH_FLAG_POLICY_ENABLED)));
    if (policy) {
        struct vr_pkt ip = { pkt->data + VR_ETH_HLEN, pkt->len - VR_ETH_HLEN, pkt->head,
                             pkt->size };
        if (!ip_parse(c, &ip)) {
            return;
        }
        pkt->len = ip.len + VR_ETH_HLEN;
        uint32_t key_nh = c->in_vif ? c->in_vif->cfg.nh_id : be->nh_id;
        if (!flow_stage(c, key_nh, &ip)) {
            return;
        }
        if (c->nat || c->vrf_changed) {
            route_out(c, &ip);
            return;
        }
    }
    bridge_out(c, be->nh_id, label, pkt);
}

/* ---- ARP and neighbour discovery ---- */

static void
arp_in(struct ctx *c, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    const uint8_t *e = pkt->data, *a = pkt->data + VR_ETH_HLEN;
    if (pkt->len < VR_ETH_HLEN + 28 || vr_get16(a) != 1 || vr_get16(a + 2) != VR_ETH_P_IP
        || a[4] != 6 || a[5] != 4) {
        drop(c, VP_DROP_INVALID_ARP);
        return;
    }
    uint16_t op = vr_get16(a + 6);
    const uint8_t *sha = a + 8, *spa = a + 14, *tpa = a + 24;
    if (op == 2) {
        /* Replies go where they are addressed. */
        bridge_in(c, pkt);
        return;
    }
    if (op != 1) {
        drop(c, VP_DROP_INVALID_ARP);
        return;
    }
    if (!memcmp(spa, tpa, 4)) {
        drop(c, VP_DROP_INVALID_ARP);        /* gratuitous: nothing to answer */
        return;
    }
    const struct vr_lpm_route *rt = vr_route_lookup(vr, c->vrf, 4, tpa);
    bool proxy = rt && (rt->flags & VR_RT_ARP_PROXY_FLAG)
                 && !(c->in_vif->cfg.flags & VIF_FLAG_NO_ARP_PROXY);
    if (proxy) {
        static const uint8_t zero[6];
        const uint8_t *mac = memcmp(rt->mac, zero, 6) ? rt->mac : vr->mac;
        uint8_t out[VR_ETH_HLEN + 28];
        memcpy(out, sha, 6);
        memcpy(out + 6, mac, 6);
        vr_put16(out + 12, VR_ETH_P_ARP);
        uint8_t *r = out + VR_ETH_HLEN;
        vr_put16(r, 1);
        vr_put16(r + 2, VR_ETH_P_IP);
        r[4] = 6;
        r[5] = 4;
        vr_put16(r + 6, 2);
        memcpy(r + 8, mac, 6);
        memcpy(r + 14, tpa, 4);
        memcpy(r + 18, sha, 6);
        memcpy(r + 24, spa, 4);
        c->dp->stats.arp_proxied++;
        tx_vif(c->dp, c->in_vif, out, sizeof out);
        return;
    }
    if (rt && (rt->flags & VR_RT_ARP_TRAP_FLAG)) {
        trap(c, AGENT_TRAP_ARP, 0, 0, 0, e, 0, pkt->data + VR_ETH_HLEN,
             pkt->len - VR_ETH_HLEN);
        return;
    }
    if (!rt || (rt->flags & VR_RT_ARP_FLOOD_FLAG)) {
        if (c->in_vif->cfg.flags & VIF_FLAG_L2_ENABLED) {
            bridge_in(c, pkt);
            return;
        }
    }
    drop(c, VP_DROP_INVALID_ARP);
}

/* A neighbour solicitation from a VM: answered for addresses with a proxy route. */
static bool
nd_in(struct ctx *c, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    uint8_t *ip = pkt->data + VR_ETH_HLEN;
    const struct vr_l3info *in = &c->in;
    if (in->proto != VR_IPPROTO_ICMPV6 || in->icmp_type != 135) {
        return false;
    }
    static const uint8_t unspec[16];
    size_t l4len = in->tot_len - in->hlen;
    if (in->ttl != 255 || l4len < 24 || !memcmp(in->sip, unspec, 16)) {
        return false;           /* not a valid solicitation we answer (DAD included) */
    }
    const uint8_t *target = ip + in->hlen + 8;
    const struct vr_lpm_route *rt = vr_route_lookup(vr, c->vrf, 6, target);
    if (!rt || !(rt->flags & VR_RT_ARP_PROXY_FLAG)
        || (c->in_vif->cfg.flags & VIF_FLAG_NO_ARP_PROXY)) {
        return false;
    }
    static const uint8_t zero[6];
    const uint8_t *mac = memcmp(rt->mac, zero, 6) ? rt->mac : vr->mac;
    uint8_t out[VR_ETH_HLEN + 40 + 32];
    memcpy(out, pkt->data + 6, 6);
    memcpy(out + 6, mac, 6);
    vr_put16(out + 12, VR_ETH_P_IPV6);
    uint8_t *o = out + VR_ETH_HLEN;
    memset(o, 0, 40 + 32);
    o[0] = 0x60;
    vr_put16(o + 4, 32);
    o[6] = VR_IPPROTO_ICMPV6;
    o[7] = 255;
    memcpy(o + 8, target, 16);
    memcpy(o + 24, in->sip, 16);
    uint8_t *na = o + 40;
    na[0] = 136;
    na[4] = 0xe0;               /* router, solicited, override */
    memcpy(na + 8, target, 16);
    na[24] = 2;                 /* target link-layer address option */
    na[25] = 1;
    memcpy(na + 26, mac, 6);
    vr_l4_csum_set(o, 72);
    c->dp->stats.nd_proxied++;
    tx_vif(c->dp, c->in_vif, out, sizeof out);
    return true;
}

/* ---- inputs ---- */

static void
ctx_init(struct ctx *c, struct vr_dp *dp)
{
    memset(c, 0, sizeof *c);
    c->dp = dp;
    c->ecmp_idx = NONE;
}

static bool
is_dhcp(const struct vr_l3info *in)
{
    return in->proto == VR_IPPROTO_UDP && in->has_ports
           && ((in->family == 4 && in->dport == 67) || (in->family == 6 && in->dport == 547));
}

void
vr_dp_vif_rx(struct vr_dp *dp, struct vr_vif *vif, struct vr_pkt *pkt)
{
    struct vrouter *vr = dp->vr;
    struct ctx c;
    ctx_init(&c, dp);
    c.in_vif = vif;
    c.vrf = vif->cfg.vrf;
    c.kind = SRC_VM;
    c.orig = pkt->data;
    c.orig_len = pkt->len;
    vif->cfg.ipackets++;
    vif->cfg.ibytes += pkt->len;
    dp->stats.vif_rx++;
    if (pkt->len < VR_ETH_HLEN) {
        drop(&c, VP_DROP_PULL);
        return;
    }
    if (vif->cfg.type == VIF_TYPE_PHYSICAL || vif->cfg.type == VIF_TYPE_AGENT) {
        /* Fabric traffic arrives on the engine's tunnel sockets, not as frames. */
        drop(&c, VP_DROP_INTERFACE_RX_DISCARD);
        return;
    }
    if (!vr_vrf_get(vr, c.vrf) && !vr->vrfs[0]) {
        /* No table at all yet: still fine, lookups fail and count. */
    }
    const uint8_t *dst = pkt->data, *src = pkt->data + 6;
    if (vr_mac_is_mcast(src)) {
        drop(&c, VP_DROP_INVALID_MCAST_SOURCE);
        return;
    }
    uint16_t et = vr_get16(pkt->data + 12);
    if (et == VR_ETH_P_ARP) {
        arp_in(&c, pkt);
        return;
    }
    if (et != VR_ETH_P_IP && et != VR_ETH_P_IPV6) {
        if (vif->cfg.flags & VIF_FLAG_L2_ENABLED) {
            bridge_in(&c, pkt);
        } else {
            drop(&c, VP_DROP_INVALID_PROTOCOL);
        }
        return;
    }
    struct vr_pkt ip = { pkt->data + VR_ETH_HLEN, pkt->len - VR_ETH_HLEN, pkt->head,
                         pkt->size };
    if (!ip_parse(&c, &ip)) {
        return;
    }
    pkt->len = ip.len + VR_ETH_HLEN;
    if (et == VR_ETH_P_IPV6 && nd_in(&c, pkt)) {
        return;
    }
    if (is_dhcp(&c.in) && (vif->cfg.flags & VIF_FLAG_DHCP_ENABLED)) {
        trap(&c, AGENT_TRAP_L3_PROTOCOLS, 0, 0, 0, pkt->data, 0, ip.data, ip.len);
        return;
    }
    if (vr_mac_is_mcast(dst)) {
        if (vif->cfg.flags & VIF_FLAG_L2_ENABLED) {
            c.have_l3 = false;
            bridge_in(&c, pkt);
        } else {
            drop(&c, VP_DROP_INVALID_MCAST_SOURCE);
        }
        return;
    }
    bool routed = !memcmp(dst, vr->mac, 6) || !(vif->cfg.flags & VIF_FLAG_L2_ENABLED);
    if (!routed && !vr_bridge_lookup(vr, c.vrf, dst)
        && (vif->cfg.flags & VIF_FLAG_L3_ENABLED)) {
        routed = true;          /* unknown MAC on an L3 port: route it */
    }
    if (routed) {
        ip_from_vm(&c, &ip);
    } else {
        bridge_in(&c, pkt);
    }
}

/* An MPLS-labelled payload from the fabric (PKT at the label). */
static void
mpls_in(struct ctx *c, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    if (pkt->len < 4) {
        drop(c, VP_DROP_PULL);
        return;
    }
    uint32_t lse = vr_get32(pkt->data);
    uint32_t label = lse >> 12;
    if (!(lse & 0x100)) {
        drop(c, VP_DROP_INVALID_LABEL);         /* label stacks are not used */
        return;
    }
    vr_pkt_pull(pkt, 4);
    uint32_t nh_id = vr_mpls_lookup(vr, label);
    struct vr_nexthop *nh = nh_id == NONE ? NULL : vr_nh_get(vr, nh_id);
    if (nh_id == NONE) {
        drop(c, VP_DROP_INVALID_LABEL);
        return;
    }
    if (!nh) {
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
    switch (nh->cfg.type) {
    case NH_ENCAP:
        c->vrf = nh->cfg.vrf;
        if (nh->cfg.family == VR_AF_BRIDGE) {
            if (pkt->len < VR_ETH_HLEN) {
                drop(c, VP_DROP_PULL);
                return;
            }
            bridge_out(c, nh_id, NONE, pkt);
        } else {
            ip_from_fabric(c, nh_id, NONE, pkt);
        }
        return;
    case NH_VRF_TRANSLATE:
        c->vrf = nh->cfg.vrf;
        if (nh->cfg.family == VR_AF_BRIDGE) {
            if (pkt->len < VR_ETH_HLEN) {
                drop(c, VP_DROP_PULL);
                return;
            }
            bridge_in(c, pkt);
        } else {
            ip_from_fabric(c, NONE, NONE, pkt);
        }
        return;
    case NH_COMPOSITE:
        if (pkt->len < VR_ETH_HLEN) {
            drop(c, VP_DROP_PULL);
            return;
        }
        c->vrf = nh->cfg.vrf;
        flood(c, nh, pkt);
        return;
    case NH_DISCARD:
        drop(c, VP_DROP_DISCARD);
        return;
    default:
        drop(c, VP_DROP_INVALID_NH);
        return;
    }
}

static void
vxlan_in(struct ctx *c, struct vr_pkt *pkt)
{
    struct vrouter *vr = c->dp->vr;
    if (pkt->len < 8 + VR_ETH_HLEN) {
        drop(c, VP_DROP_PULL);
        return;
    }
    if (!(pkt->data[0] & 0x08)) {
        drop(c, VP_DROP_INVALID_VNID);
        return;
    }
    uint32_t vnid = vr_get32(pkt->data + 4) >> 8;
    vr_pkt_pull(pkt, 8);
    uint32_t nh_id = vr_vxlan_lookup(vr, vnid);
    struct vr_nexthop *nh = nh_id == NONE ? NULL : vr_nh_get(vr, nh_id);
    if (!nh || nh->cfg.type != NH_VRF_TRANSLATE) {
        drop(c, nh_id == NONE ? VP_DROP_INVALID_VNID : VP_DROP_INVALID_NH);
        return;
    }
    c->vrf = nh->cfg.vrf;
    uint16_t et = vr_get16(pkt->data + 12);
    if (!memcmp(pkt->data, vr->mac, 6) && (et == VR_ETH_P_IP || et == VR_ETH_P_IPV6)) {
        vr_pkt_pull(pkt, VR_ETH_HLEN);
        ip_from_fabric(c, NONE, NONE, pkt);
        return;
    }
    bridge_in(c, pkt);
}

void
vr_dp_fabric_rx(struct vr_dp *dp, enum vr_encap encap, const uint8_t outer_src[4],
                struct vr_pkt *pkt)
{
    struct ctx c;
    ctx_init(&c, dp);
    c.from_fabric = true;
    c.kind = SRC_FABRIC;
    c.encap = encap;
    c.orig = pkt->data;
    c.orig_len = pkt->len;
    memcpy(c.outer, outer_src, 4);
    dp->stats.fabric_rx++;
    struct vr_vif *fv = vr_vif_get(dp->vr, dp->fabric_vif);
    if (fv) {
        fv->cfg.ipackets++;
        fv->cfg.ibytes += pkt->len;
    }
    switch (encap) {
    case VR_ENCAP_MPLSOUDP:
        mpls_in(&c, pkt);
        return;
    case VR_ENCAP_VXLAN:
        vxlan_in(&c, pkt);
        return;
    case VR_ENCAP_MPLSOGRE: {
        if (pkt->len < 20 || (pkt->data[0] >> 4) != 4) {
            drop(&c, VP_DROP_PULL);
            return;
        }
        uint32_t hlen = (uint32_t) (pkt->data[0] & 0xf) * 4;
        uint32_t tot = vr_get16(pkt->data + 2);
        if (hlen < 20 || tot < hlen || tot > pkt->len) {
            drop(&c, VP_DROP_INVALID_PACKET);
            return;
        }
        pkt->len = tot;
        vr_pkt_pull(pkt, hlen);
        if (pkt->len < 4) {
            drop(&c, VP_DROP_PULL);
            return;
        }
        uint16_t flags = vr_get16(pkt->data), proto = vr_get16(pkt->data + 2);
        uint32_t glen = 4 + (flags & 0x8000 ? 4 : 0) + (flags & 0x2000 ? 4 : 0)
                        + (flags & 0x1000 ? 4 : 0);
        if ((flags & 0x0007) || proto != VR_GRE_PROTO_MPLS || !vr_pkt_pull(pkt, glen)) {
            drop(&c, VP_DROP_INVALID_PROTOCOL);
            return;
        }
        mpls_in(&c, pkt);
        return;
    }
    }
    drop(&c, VP_DROP_INVALID_PROTOCOL);
}

void
vr_dp_agent_rx(struct vr_dp *dp, struct vr_pkt *pkt)
{
    struct vrouter *vr = dp->vr;
    struct ctx c;
    ctx_init(&c, dp);
    c.local_origin = false;
    dp->stats.agent_rx++;
    struct vr_vif *agent = vr_vif_get(vr, vr->agent_vif);
    if (agent) {
        agent->cfg.ipackets++;
        agent->cfg.ibytes += pkt->len;
    }
    if (pkt->len < VR_AGENT_HDR_LEN + VR_ETH_HLEN) {
        drop(&c, VP_DROP_PULL);
        return;
    }
    uint16_t ifidx = vr_get16(pkt->data), vrf = vr_get16(pkt->data + 2);
    uint16_t cmd = vr_get16(pkt->data + 4);
    vr_pkt_pull(pkt, VR_AGENT_HDR_LEN);
    if (cmd == AGENT_CMD_SWITCH) {
        struct vr_vif *vif = vr_vif_get(vr, ifidx);
        if (!vif) {
            drop(&c, VP_DROP_INVALID_IF);
            return;
        }
        tx_vif(dp, vif, pkt->data, pkt->len);
        return;
    }
    if (cmd == AGENT_CMD_ROUTE) {
        uint16_t et = vr_get16(pkt->data + 12);
        if (et != VR_ETH_P_IP && et != VR_ETH_P_IPV6) {
            drop(&c, VP_DROP_INVALID_PROTOCOL);
            return;
        }
        vr_pkt_pull(pkt, VR_ETH_HLEN);
        c.vrf = vrf;
        c.local_origin = true;      /* the agent's packets skip TTL and flows */
        if (!ip_parse(&c, pkt)) {
            return;
        }
        route_out(&c, pkt);
        return;
    }
    drop(&c, VP_DROP_INVALID_PROTOCOL);
}

void
vr_dp_flow_released(struct vr_dp *dp, uint32_t index)
{
    struct vr_flow_entry *e = vr_flow_get(&dp->vr->flows, index);
    if (!e || !e->n_hold) {
        return;
    }
    void *held[VR_FLOW_HOLD_QUEUE];
    uint8_t n = e->n_hold;
    memcpy(held, e->hold, sizeof held);
    e->n_hold = 0;
    uint8_t *buf = mem_zalloc(&mem_type_held, VR_PKT_BUFSIZE);
    for (uint8_t i = 0; i < n; i++) {
        struct vr_held *h = held[i];
        struct vr_pkt p;
        vr_pkt_init(&p, buf, VR_PKT_BUFSIZE, VR_PKT_HEADROOM, h->len);
        memcpy(p.data, h->data, h->len);
        dp->stats.held_released++;
        if (h->kind == SRC_VM) {
            struct vr_vif *vif = vr_vif_get(dp->vr, h->vif);
            if (vif) {
                /* Not counted twice as received. */
                vif->cfg.ipackets--;
                vif->cfg.ibytes -= h->len;
                dp->stats.vif_rx--;
                vr_dp_vif_rx(dp, vif, &p);
            } else {
                vr_drop(dp->vr, NULL, VP_DROP_INVALID_IF);
            }
        } else {
            dp->stats.fabric_rx--;
            struct vr_vif *fv = vr_vif_get(dp->vr, dp->fabric_vif);
            if (fv) {
                fv->cfg.ipackets--;
                fv->cfg.ibytes -= h->len;
            }
            vr_dp_fabric_rx(dp, (enum vr_encap) h->encap, h->outer, &p);
        }
        vr_dp_free_held(h);
    }
    mem_free(&mem_type_held, buf);
}
