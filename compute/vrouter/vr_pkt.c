/* vr_pkt: IP parsing and checksums (see vr_pkt.h). */
#include "vr_pkt.h"

#include "vr_proto.h"

uint32_t
vr_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t s = sum;
    while (len >= 8) {
        uint32_t a = vr_get32(p), b = vr_get32(p + 4);
        s += (uint64_t) a + b;
        p += 8;
        len -= 8;
    }
    while (len >= 2) {
        s += vr_get16(p);
        p += 2;
        len -= 2;
    }
    if (len) {
        s += (uint32_t) p[0] << 8;
    }
    while (s >> 32) {
        s = (s & 0xffffffffu) + (s >> 32);
    }
    /* Fold to 16 bits while keeping 32-bit headroom for later additions. */
    uint32_t r = (uint32_t) (s & 0xffff) + (uint32_t) ((s >> 16) & 0xffff)
                 + (uint32_t) (s >> 32);
    return (r & 0xffff) + (r >> 16);
}

void
vr_ipv4_csum_set(uint8_t *ip)
{
    size_t hlen = (size_t) (ip[0] & 0xf) * 4;
    ip[10] = ip[11] = 0;
    vr_put16(ip + 10, vr_csum_fold(vr_csum_add(0, ip, hlen)));
}

static int
bad(int reason)
{
    return reason + 1;
}

static void
parse_l4(const uint8_t *l4, size_t l4len, struct vr_l3info *in)
{
    switch (in->proto) {
    case VR_IPPROTO_TCP:
        if (l4len >= 20) {
            in->sport = vr_get16(l4);
            in->dport = vr_get16(l4 + 2);
            in->tcp_flags = l4[13];
            in->has_ports = true;
        }
        break;
    case VR_IPPROTO_UDP:
    case VR_IPPROTO_SCTP:
        if (l4len >= 8) {
            in->sport = vr_get16(l4);
            in->dport = vr_get16(l4 + 2);
            in->has_ports = true;
        }
        break;
    case VR_IPPROTO_ICMP:
    case VR_IPPROTO_ICMPV6:
        if (l4len >= 8) {
            in->icmp_type = l4[0];
            in->icmp_code = l4[1];
            bool echo = in->proto == VR_IPPROTO_ICMP
                        ? (l4[0] == 8 || l4[0] == 0)
                        : (l4[0] == 128 || l4[0] == 129);
            if (echo) {
                in->sport = vr_get16(l4 + 4);
                in->dport = 0;
                in->has_ports = true;
            } else {
                in->icmp_error = in->proto == VR_IPPROTO_ICMP
                                 ? (l4[0] == 3 || l4[0] == 11 || l4[0] == 12)
                                 : (l4[0] < 128);
            }
        }
        break;
    default:
        break;
    }
}

int
vr_pkt_parse_ip(const uint8_t *p, size_t len, bool verify_csum, struct vr_l3info *in)
{
    memset(in, 0, sizeof *in);
    if (len < 1) {
        return bad(VP_DROP_PULL);
    }
    int version = p[0] >> 4;
    if (version == 4) {
        if (len < 20) {
            return bad(VP_DROP_PULL);
        }
        size_t hlen = (size_t) (p[0] & 0xf) * 4;
        size_t tot = vr_get16(p + 2);
        if (hlen < 20 || hlen > len || tot < hlen || tot > len) {
            return bad(VP_DROP_INVALID_PACKET);
        }
        if (verify_csum && vr_csum_fold(vr_csum_add(0, p, hlen)) != 0) {
            return bad(VP_DROP_CKSUM_ERR);
        }
        in->family = 4;
        in->hlen = (uint16_t) hlen;
        in->tot_len = (uint32_t) tot;
        in->proto = p[9];
        in->ttl = p[8];
        uint16_t frag = vr_get16(p + 6);
        in->frag = (frag & 0x3fff) != 0;
        in->later_frag = (frag & 0x1fff) != 0;
        in->sip = p + 12;
        in->dip = p + 16;
        if (!in->later_frag) {
            parse_l4(p + hlen, tot - hlen, in);
        }
        return 0;
    }
    if (version == 6) {
        if (len < 40) {
            return bad(VP_DROP_PULL);
        }
        size_t tot = 40 + (size_t) vr_get16(p + 4);
        if (tot > len) {
            return bad(VP_DROP_INVALID_PACKET);
        }
        in->family = 6;
        in->hlen = 40;
        in->tot_len = (uint32_t) tot;
        in->proto = p[6];
        in->ttl = p[7];
        in->sip = p + 8;
        in->dip = p + 24;
        if (in->proto == 44) {              /* fragment header */
            if (tot < 48) {
                return bad(VP_DROP_INVALID_PACKET);
            }
            uint16_t off = vr_get16(p + 42);
            in->frag = true;
            in->later_frag = (off & 0xfff8) != 0;
            in->proto = p[40];
            in->hlen = 48;
            if (!in->later_frag) {
                parse_l4(p + 48, tot - 48, in);
            }
            return 0;
        }
        parse_l4(p + 40, tot - 40, in);
        return 0;
    }
    return bad(VP_DROP_INVALID_PROTOCOL);
}

bool
vr_l4_csum_set(uint8_t *ip, size_t len)
{
    struct vr_l3info in;
    if (vr_pkt_parse_ip(ip, len, false, &in) || in.frag) {
        return false;
    }
    size_t off;
    switch (in.proto) {
    case VR_IPPROTO_TCP: off = 16; break;
    case VR_IPPROTO_UDP: off = 6; break;
    case VR_IPPROTO_ICMP:
    case VR_IPPROTO_ICMPV6: off = 2; break;
    default: return false;
    }
    uint8_t *l4 = ip + in.hlen;
    size_t l4len = in.tot_len - in.hlen;
    if (l4len < off + 2) {
        return false;
    }
    l4[off] = l4[off + 1] = 0;
    uint32_t sum = 0;
    if (in.proto != VR_IPPROTO_ICMP) {
        /* Pseudo header: addresses, length, protocol. */
        size_t alen = in.family == 4 ? 4 : 16;
        sum = vr_csum_add(sum, in.sip, alen);
        sum = vr_csum_add(sum, in.dip, alen);
        sum += (uint32_t) (l4len & 0xffff) + (uint32_t) (l4len >> 16);
        sum += in.proto;
    }
    sum = vr_csum_add(sum, l4, l4len);
    uint16_t c = vr_csum_fold(sum);
    if (c == 0 && in.proto == VR_IPPROTO_UDP) {
        c = 0xffff;
    }
    vr_put16(l4 + off, c);
    return true;
}

void
vr_csum_replace(uint8_t *sum, const uint8_t *old, const uint8_t *new_, size_t len)
{
    /* HC' = ~(~HC + ~m + m') */
    uint32_t s = (uint16_t) ~vr_get16(sum);
    for (size_t i = 0; i + 1 < len; i += 2) {
        s += (uint16_t) ~vr_get16(old + i);
        s += vr_get16(new_ + i);
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    vr_put16(sum, (uint16_t) ~s);
}
