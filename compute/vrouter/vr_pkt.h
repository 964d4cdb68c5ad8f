/* vr_pkt: packet buffers, header parsing and checksums for the vRouter datapath.
 *
 * A packet lives in a buffer with headroom so that encapsulation prepends headers in place;
 * decapsulation only moves the start.  The parsers check every length against the bytes
 * present before reading: they are the first code that sees outside input (fuzzed by
 * tests/fuzz/fuzz_vr_packet.c). */
#ifndef CONTRAIL_VR_PKT_H
#define CONTRAIL_VR_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VR_PKT_HEADROOM 160
#define VR_PKT_MAX_DATA 9216
#define VR_PKT_BUFSIZE (VR_PKT_HEADROOM + VR_PKT_MAX_DATA)

#define VR_ETH_HLEN 14
#define VR_ETH_P_IP 0x0800
#define VR_ETH_P_ARP 0x0806
#define VR_ETH_P_IPV6 0x86dd
#define VR_ETH_P_VLAN 0x8100

#define VR_IPPROTO_ICMP 1
#define VR_IPPROTO_TCP 6
#define VR_IPPROTO_UDP 17
#define VR_IPPROTO_GRE 47
#define VR_IPPROTO_ICMPV6 58
#define VR_IPPROTO_SCTP 132

struct vr_pkt {
    uint8_t *data;              /* current start */
    uint32_t len;
    uint8_t *head;              /* buffer start */
    uint32_t size;              /* buffer size */
};

static inline void
vr_pkt_init(struct vr_pkt *p, uint8_t *buf, uint32_t size, uint32_t headroom, uint32_t len)
{
    p->head = buf;
    p->size = size;
    p->data = buf + headroom;
    p->len = len;
}

static inline uint32_t vr_pkt_headroom(const struct vr_pkt *p)
{
    return (uint32_t) (p->data - p->head);
}

/* Prepends N bytes; returns their start, or NULL without headroom. */
static inline uint8_t *
vr_pkt_push(struct vr_pkt *p, uint32_t n)
{
    if (vr_pkt_headroom(p) < n) {
        return NULL;
    }
    p->data -= n;
    p->len += n;
    return p->data;
}

/* Drops N bytes from the front; false when the packet is shorter. */
static inline bool
vr_pkt_pull(struct vr_pkt *p, uint32_t n)
{
    if (p->len < n) {
        return false;
    }
    p->data += n;
    p->len -= n;
    return true;
}

static inline uint16_t vr_get16(const uint8_t *p) { return (uint16_t) (p[0] << 8 | p[1]); }
static inline uint32_t vr_get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}
static inline void vr_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t) (v >> 8); p[1] = (uint8_t) v; }
static inline void vr_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) (v >> 24);
    p[1] = (uint8_t) (v >> 16);
    p[2] = (uint8_t) (v >> 8);
    p[3] = (uint8_t) v;
}

static inline bool vr_mac_is_mcast(const uint8_t *m) { return m[0] & 1; }
static inline bool vr_mac_is_bcast(const uint8_t *m)
{
    return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xff;
}

/* What the datapath needs from an IP header and the L4 header after it. */
struct vr_l3info {
    uint8_t family;             /* 4 or 6 */
    uint8_t proto;              /* L4 protocol (IPv6: the first next header) */
    uint8_t ttl;                /* TTL / hop limit */
    uint16_t hlen;              /* IP header length */
    uint32_t tot_len;           /* IP packet length (header included) */
    bool frag;                  /* a fragment */
    bool later_frag;            /* a fragment other than the first */
    bool has_ports;             /* TCP/UDP/SCTP ports or ICMP echo id were read */
    uint16_t sport, dport;      /* host order; ICMP echo: id and 0 */
    uint8_t icmp_type, icmp_code;
    bool icmp_error;            /* an ICMP error message (carries another packet) */
    uint8_t tcp_flags;
    const uint8_t *sip, *dip;   /* into the packet */
};

/* Parses the IP packet at P (LEN bytes available).  Returns 0, or the drop reason
 * (VP_DROP_*) plus one on a malformed packet.  When VERIFY_CSUM, an IPv4 header with a bad
 * checksum is refused (VP_DROP_CKSUM_ERR + 1). */
int vr_pkt_parse_ip(const uint8_t *p, size_t len, bool verify_csum, struct vr_l3info *);

/* Internet checksum helpers. */
uint32_t vr_csum_add(uint32_t sum, const void *data, size_t len);
static inline uint16_t
vr_csum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}
/* Recomputes the IPv4 header checksum of the header at IP. */
void vr_ipv4_csum_set(uint8_t *ip);
/* Recomputes the TCP/UDP/ICMP/ICMPv6 checksum of the IP packet at IP (LEN bytes), which
 * must have parsed.  Returns false for other protocols or fragments. */
bool vr_l4_csum_set(uint8_t *ip, size_t len);
/* Adjusts the 16-bit checksum at SUM for bytes OLD replaced by NEW (LEN even), RFC 1624. */
void vr_csum_replace(uint8_t *sum, const uint8_t *old, const uint8_t *new_, size_t len);

#endif
