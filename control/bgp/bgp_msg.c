/* bgp_msg: the BGP-4 message codec.  See bgp_msg.h.
 *
 * Reading is done through a cursor that never moves past its end: every read checks the
 * remaining length first, so a short or lying length field becomes an error, not an overrun. */
#include "bgp_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_bgp_attr, "bgp_attr");
static MEM_TYPE(mem_bgp_nlri, "bgp_nlri");

/* --- Families ---------------------------------------------------------------------------- */

static const struct {
    uint16_t afi;
    uint8_t safi;
    const char *name;
    const char *table;
} families[BGP_FAM_N] = {
    [BGP_FAM_INET] = { 1, 1, "inet", "inet.0" },
    [BGP_FAM_INET6] = { 2, 1, "inet6", "inet6.0" },
    [BGP_FAM_INET_VPN] = { 1, 128, "inet-vpn", "bgp.l3vpn.0" },
    [BGP_FAM_INET6_VPN] = { 2, 128, "inet6-vpn", "bgp.l3vpn-inet6.0" },
    [BGP_FAM_RTARGET] = { 1, 132, "route-target", "bgp.rtarget.0" },
    [BGP_FAM_EVPN] = { 25, 70, "e-vpn", "bgp.evpn.0" },
};

int
bgp_family_from_afi_safi(uint16_t afi, uint8_t safi)
{
    for (int i = 0; i < BGP_FAM_N; i++) {
        if (families[i].afi == afi && families[i].safi == safi) {
            return i;
        }
    }
    return -1;
}

void
bgp_family_afi_safi(enum bgp_family f, uint16_t *afi, uint8_t *safi)
{
    *afi = families[f].afi;
    *safi = families[f].safi;
}

const char *
bgp_family_name(enum bgp_family f)
{
    return (unsigned) f < BGP_FAM_N ? families[f].name : "unknown";
}

const char *
bgp_family_table(enum bgp_family f)
{
    return (unsigned) f < BGP_FAM_N ? families[f].table : "unknown";
}

int
bgp_family_from_name(const char *s)
{
    for (int i = 0; i < BGP_FAM_N; i++) {
        if (!strcmp(s, families[i].name) || !strcmp(s, families[i].table)) {
            return i;
        }
    }
    if (!strcmp(s, "evpn")) {
        return BGP_FAM_EVPN;
    }
    if (!strcmp(s, "rtarget")) {
        return BGP_FAM_RTARGET;
    }
    return -1;
}

static bool
family_is_v6(enum bgp_family f)
{
    return f == BGP_FAM_INET6 || f == BGP_FAM_INET6_VPN;
}

static bool
family_is_vpn(enum bgp_family f)
{
    return f == BGP_FAM_INET_VPN || f == BGP_FAM_INET6_VPN;
}

/* --- Cursor ------------------------------------------------------------------------------ */

struct cur {
    const uint8_t *p;
    size_t left;
};

static bool
get_bytes(struct cur *c, void *out, size_t n)
{
    if (c->left < n) {
        return false;
    }
    if (out) {
        memcpy(out, c->p, n);
    }
    c->p += n;
    c->left -= n;
    return true;
}

static bool
get_u8(struct cur *c, uint8_t *v)
{
    return get_bytes(c, v, 1);
}

static bool
get_u16(struct cur *c, uint16_t *v)
{
    uint8_t b[2];
    if (!get_bytes(c, b, 2)) {
        return false;
    }
    *v = (uint16_t) (b[0] << 8 | b[1]);
    return true;
}

static bool
get_u32(struct cur *c, uint32_t *v)
{
    uint8_t b[4];
    if (!get_bytes(c, b, 4)) {
        return false;
    }
    *v = (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
    return true;
}

static uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t
rd64(const uint8_t *p)
{
    return (uint64_t) rd32(p) << 32 | rd32(p + 4);
}

/* --- Writer ------------------------------------------------------------------------------ */

struct wbuf {
    uint8_t *p;
    size_t len, cap;
};

static void
put_bytes(struct wbuf *w, const void *b, size_t n)
{
    if (w->len + n <= w->cap) {
        memcpy(w->p + w->len, b, n);
    }
    w->len += n;                /* Overflow is detected by the caller comparing len to cap. */
}

static void
put_u8(struct wbuf *w, uint8_t v)
{
    put_bytes(w, &v, 1);
}

static void
put_u16(struct wbuf *w, uint16_t v)
{
    uint8_t b[2] = { v >> 8, v & 0xff };
    put_bytes(w, b, 2);
}

static void
put_u32(struct wbuf *w, uint32_t v)
{
    uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };
    put_bytes(w, b, 4);
}

static void
put_u64(struct wbuf *w, uint64_t v)
{
    put_u32(w, v >> 32);
    put_u32(w, (uint32_t) v);
}

static void
set_u16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v & 0xff;
}

static void
put_header(struct wbuf *w, uint8_t type)
{
    uint8_t marker[16];
    memset(marker, 0xff, sizeof marker);
    put_bytes(w, marker, 16);
    put_u16(w, 0);              /* Length, set by finish_msg. */
    put_u8(w, type);
}

static size_t
finish_msg(struct wbuf *w)
{
    set_u16(w->p + 16, (uint16_t) w->len);
    return w->len;
}

static void
set_error(struct bgp_error *err, uint8_t code, uint8_t subcode, const void *data, size_t len)
{
    if (!err) {
        return;
    }
    err->code = code;
    err->subcode = subcode;
    err->data_len = len < sizeof err->data ? len : sizeof err->data;
    if (err->data_len) {
        memcpy(err->data, data, err->data_len);
    }
}

/* --- Header ------------------------------------------------------------------------------ */

int
bgp_msg_check_header(const uint8_t *buf, size_t len, uint16_t *msg_len, uint8_t *type,
                     struct bgp_error *err)
{
    if (len < BGP_HEADER_LEN) {
        set_error(err, BGP_ERR_HEADER, BGP_HDR_BAD_LEN, NULL, 0);
        return EBADMSG;
    }
    for (int i = 0; i < 16; i++) {
        if (buf[i] != 0xff) {
            set_error(err, BGP_ERR_HEADER, BGP_HDR_NOT_SYNC, NULL, 0);
            return EBADMSG;
        }
    }
    uint16_t l = (uint16_t) (buf[16] << 8 | buf[17]);
    uint8_t t = buf[18];
    static const uint16_t min_len[] = { 0, 29, 23, 21, 19, 23 };
    if (t < BGP_MSG_OPEN || t > BGP_MSG_ROUTE_REFRESH) {
        set_error(err, BGP_ERR_HEADER, BGP_HDR_BAD_TYPE, &t, 1);
        return EBADMSG;
    }
    if (l < min_len[t] || l > BGP_MAX_MSG
        || (t == BGP_MSG_KEEPALIVE && l != BGP_HEADER_LEN)) {
        set_error(err, BGP_ERR_HEADER, BGP_HDR_BAD_LEN, buf + 16, 2);
        return EBADMSG;
    }
    *msg_len = l;
    *type = t;
    return 0;
}

/* --- OPEN -------------------------------------------------------------------------------- */

enum {
    CAP_MP = 1, CAP_ROUTE_REFRESH = 2, CAP_GR = 64, CAP_AS4 = 65, CAP_ROUTE_REFRESH_OLD = 128,
};

static int
open_capability(struct bgp_open *o, uint8_t code, struct cur *v, struct bgp_error *err)
{
    switch (code) {
    case CAP_MP: {
        uint16_t afi;
        uint8_t res, safi;
        if (v->left != 4 || !get_u16(v, &afi) || !get_u8(v, &res) || !get_u8(v, &safi)) {
            break;
        }
        o->mp_cap = true;
        int f = bgp_family_from_afi_safi(afi, safi);
        if (f >= 0) {
            o->families |= 1u << f;
        }
        return 0;
    }
    case CAP_ROUTE_REFRESH:
    case CAP_ROUTE_REFRESH_OLD:
        o->route_refresh = true;
        return 0;
    case CAP_AS4:
        if (v->left != 4 || !get_u32(v, &o->asn)) {
            break;
        }
        o->as4_cap = true;
        return 0;
    case CAP_GR: {
        uint16_t flags_time;
        if (v->left < 2 || (v->left - 2) % 4 || !get_u16(v, &flags_time)) {
            break;
        }
        o->gr_cap = true;
        o->gr_restarting = flags_time & 0x8000;
        o->gr_time = flags_time & 0x0fff;
        while (v->left) {
            uint16_t afi = 0;
            uint8_t safi = 0, flags = 0;
            get_u16(v, &afi);
            get_u8(v, &safi);
            get_u8(v, &flags);
            int f = bgp_family_from_afi_safi(afi, safi);
            if (f >= 0) {
                o->gr_families |= 1u << f;
                if (flags & 0x80) {
                    o->gr_forwarding |= 1u << f;
                }
            }
        }
        return 0;
    }
    default:
        return 0;               /* Unknown capabilities are ignored (RFC 5492). */
    }
    set_error(err, BGP_ERR_OPEN, 0, NULL, 0);
    return EBADMSG;
}

int
bgp_open_decode(const uint8_t *body, size_t len, struct bgp_open *o, struct bgp_error *err)
{
    memset(o, 0, sizeof *o);
    struct cur c = { body, len };
    uint8_t opt_len;
    if (!get_u8(&c, &o->version) || !get_u16(&c, &o->my_as2) || !get_u16(&c, &o->hold_time)
        || !get_u32(&c, &o->bgp_id) || !get_u8(&c, &opt_len)) {
        set_error(err, BGP_ERR_HEADER, BGP_HDR_BAD_LEN, NULL, 0);
        return EBADMSG;
    }
    if (o->version != 4) {
        uint8_t v[2] = { 0, 4 };
        set_error(err, BGP_ERR_OPEN, BGP_OPEN_BAD_VERSION, v, 2);
        return EBADMSG;
    }
    if (o->hold_time == 1 || o->hold_time == 2) {
        set_error(err, BGP_ERR_OPEN, BGP_OPEN_BAD_HOLD, NULL, 0);
        return EBADMSG;
    }
    if (o->bgp_id == 0 || o->bgp_id == 0xffffffff) {
        set_error(err, BGP_ERR_OPEN, BGP_OPEN_BAD_ID, NULL, 0);
        return EBADMSG;
    }
    if (opt_len != c.left) {
        set_error(err, BGP_ERR_OPEN, 0, NULL, 0);
        return EBADMSG;
    }
    while (c.left) {
        uint8_t ptype, plen;
        if (!get_u8(&c, &ptype) || !get_u8(&c, &plen) || plen > c.left) {
            set_error(err, BGP_ERR_OPEN, 0, NULL, 0);
            return EBADMSG;
        }
        struct cur p = { c.p, plen };
        get_bytes(&c, NULL, plen);
        if (ptype != 2) {
            set_error(err, BGP_ERR_OPEN, BGP_OPEN_BAD_PARAM, NULL, 0);
            return EBADMSG;
        }
        while (p.left) {
            uint8_t code, clen;
            if (!get_u8(&p, &code) || !get_u8(&p, &clen) || clen > p.left) {
                set_error(err, BGP_ERR_OPEN, 0, NULL, 0);
                return EBADMSG;
            }
            struct cur v = { p.p, clen };
            get_bytes(&p, NULL, clen);
            if (open_capability(o, code, &v, err)) {
                return EBADMSG;
            }
        }
    }
    if (!o->as4_cap) {
        o->asn = o->my_as2;
    } else if (o->asn == 0) {
        set_error(err, BGP_ERR_OPEN, BGP_OPEN_BAD_AS, NULL, 0);
        return EBADMSG;
    }
    if (!o->mp_cap) {
        o->families = 1u << BGP_FAM_INET;   /* RFC 4760: no capability means IPv4 unicast. */
    }
    return 0;
}

size_t
bgp_open_encode(const struct bgp_open *o, uint8_t *buf)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    put_header(&w, BGP_MSG_OPEN);
    put_u8(&w, 4);
    put_u16(&w, o->asn > 0xffff ? BGP_AS_TRANS : (uint16_t) o->asn);
    put_u16(&w, o->hold_time);
    put_u32(&w, o->bgp_id);
    size_t opt_len_at = w.len;
    put_u8(&w, 0);
    put_u8(&w, 2);              /* One capabilities parameter holding all of them. */
    size_t param_len_at = w.len;
    put_u8(&w, 0);
    for (int f = 0; f < BGP_FAM_N; f++) {
        if (o->families & (1u << f)) {
            put_u8(&w, CAP_MP);
            put_u8(&w, 4);
            put_u16(&w, families[f].afi);
            put_u8(&w, 0);
            put_u8(&w, families[f].safi);
        }
    }
    if (o->route_refresh) {
        put_u8(&w, CAP_ROUTE_REFRESH);
        put_u8(&w, 0);
    }
    if (o->gr_cap) {
        unsigned int n = 0;
        for (int f = 0; f < BGP_FAM_N; f++) {
            n += !!(o->gr_families & (1u << f));
        }
        put_u8(&w, CAP_GR);
        put_u8(&w, (uint8_t) (2 + 4 * n));
        put_u16(&w, (uint16_t) ((o->gr_restarting ? 0x8000 : 0) | (o->gr_time & 0xfff)));
        for (int f = 0; f < BGP_FAM_N; f++) {
            if (o->gr_families & (1u << f)) {
                put_u16(&w, families[f].afi);
                put_u8(&w, families[f].safi);
                put_u8(&w, (o->gr_forwarding & (1u << f)) ? 0x80 : 0);
            }
        }
    }
    if (o->as4_cap) {
        put_u8(&w, CAP_AS4);
        put_u8(&w, 4);
        put_u32(&w, o->asn);
    }
    buf[param_len_at] = (uint8_t) (w.len - param_len_at - 1);
    buf[opt_len_at] = (uint8_t) (w.len - opt_len_at - 1);
    return finish_msg(&w);
}

/* --- Attributes -------------------------------------------------------------------------- */

void
bgp_attrs_clear(struct bgp_attrs *a)
{
    mem_free(&mem_bgp_attr, a->as_path);
    mem_free(&mem_bgp_attr, a->communities);
    mem_free(&mem_bgp_attr, a->ext_communities);
    mem_free(&mem_bgp_attr, a->cluster_list);
    mem_free(&mem_bgp_attr, a->pmsi);
    memset(a, 0, sizeof *a);
}

static void *
dup_array(const void *p, size_t n, size_t size)
{
    if (!p || !n) {
        return NULL;
    }
    void *q = mem_zalloc(&mem_bgp_attr, n * size);
    memcpy(q, p, n * size);
    return q;
}

void
bgp_attrs_copy(struct bgp_attrs *dst, const struct bgp_attrs *src)
{
    *dst = *src;
    dst->as_path = dup_array(src->as_path, src->as_path_n, sizeof *src->as_path);
    dst->communities = dup_array(src->communities, src->n_communities, 4);
    dst->ext_communities = dup_array(src->ext_communities, src->n_ext_communities, 8);
    dst->cluster_list = dup_array(src->cluster_list, src->n_cluster_list, 4);
    dst->pmsi = dup_array(src->pmsi, src->pmsi_len, 1);
}

static bool
arrays_equal(const void *a, size_t na, const void *b, size_t nb, size_t size)
{
    return na == nb && (!na || !memcmp(a, b, na * size));
}

bool
bgp_attrs_equal(const struct bgp_attrs *a, const struct bgp_attrs *b)
{
    /* The next hop is compared by value, whichever attribute carried it. */
    uint64_t ignore = BGP_ATTR_BIT(BGP_ATTR_NEXT_HOP) | BGP_ATTR_BIT(BGP_ATTR_MP_REACH)
        | BGP_ATTR_BIT(BGP_ATTR_MP_UNREACH);
    return (a->present & ~ignore) == (b->present & ~ignore) && a->origin == b->origin
        && a->med == b->med
        && a->local_pref == b->local_pref && a->originator_id == b->originator_id
        && a->aggregator_as == b->aggregator_as && a->aggregator_id == b->aggregator_id
        && !memcmp(&a->nexthop, &b->nexthop, sizeof a->nexthop)
        && arrays_equal(a->as_path, a->as_path_n, b->as_path, b->as_path_n, 4)
        && arrays_equal(a->communities, a->n_communities, b->communities, b->n_communities, 4)
        && arrays_equal(a->ext_communities, a->n_ext_communities, b->ext_communities,
                        b->n_ext_communities, 8)
        && arrays_equal(a->cluster_list, a->n_cluster_list, b->cluster_list,
                        b->n_cluster_list, 4)
        && arrays_equal(a->pmsi, a->pmsi_len, b->pmsi, b->pmsi_len, 1)
        && !memcmp(a->source_rd, b->source_rd, sizeof a->source_rd);
}

unsigned int
bgp_attrs_as_path_len(const struct bgp_attrs *a)
{
    unsigned int n = 0;
    for (size_t i = 0; i < a->as_path_n; ) {
        unsigned int type = a->as_path[i] >> 8, count = a->as_path[i] & 0xff;
        n += type == BGP_AS_SET ? 1 : count;
        i += 1 + count;
    }
    return n;
}

uint32_t
bgp_attrs_first_as(const struct bgp_attrs *a)
{
    if (a->as_path_n >= 2 && (a->as_path[0] >> 8) == BGP_AS_SEQUENCE) {
        return a->as_path[1];
    }
    return 0;
}

bool
bgp_attrs_as_path_contains(const struct bgp_attrs *a, uint32_t asn)
{
    for (size_t i = 0; i < a->as_path_n; ) {
        unsigned int count = a->as_path[i] & 0xff;
        for (unsigned int j = 1; j <= count; j++) {
            if (a->as_path[i + j] == asn) {
                return true;
            }
        }
        i += 1 + count;
    }
    return false;
}

void
bgp_attrs_prepend_as(struct bgp_attrs *a, uint32_t asn)
{
    a->present |= BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
    if (a->as_path_n && (a->as_path[0] >> 8) == BGP_AS_SEQUENCE
        && (a->as_path[0] & 0xff) < 255) {
        a->as_path = mem_realloc(&mem_bgp_attr, a->as_path, (a->as_path_n + 1) * 4);
        memmove(a->as_path + 2, a->as_path + 1, (a->as_path_n - 1) * 4);
        a->as_path[0]++;
        a->as_path[1] = asn;
        a->as_path_n++;
        return;
    }
    a->as_path = mem_realloc(&mem_bgp_attr, a->as_path, (a->as_path_n + 2) * 4);
    memmove(a->as_path + 2, a->as_path, a->as_path_n * 4);
    a->as_path[0] = BGP_AS_SEQUENCE << 8 | 1;
    a->as_path[1] = asn;
    a->as_path_n += 2;
}

void
bgp_attrs_add_ext_community(struct bgp_attrs *a, uint64_t ec)
{
    a->ext_communities = mem_realloc(&mem_bgp_attr, a->ext_communities,
                                     (a->n_ext_communities + 1) * 8);
    a->ext_communities[a->n_ext_communities++] = ec;
    a->present |= BGP_ATTR_BIT(BGP_ATTR_EXT_COMMUNITIES);
}

void
bgp_attrs_add_community(struct bgp_attrs *a, uint32_t c)
{
    a->communities = mem_realloc(&mem_bgp_attr, a->communities, (a->n_communities + 1) * 4);
    a->communities[a->n_communities++] = c;
    a->present |= BGP_ATTR_BIT(BGP_ATTR_COMMUNITIES);
}

/* --- NLRI -------------------------------------------------------------------------------- */

/* Reads LABELS (3 bytes each) until the bottom-of-stack bit; a withdrawal may carry the
 * "compatibility" value 0x800000 or 0.  Returns the bits consumed, or -1. */
static int
read_labels(struct cur *c, unsigned int bits_left, bool withdraw, uint32_t *label)
{
    int used = 0;
    for (;;) {
        uint8_t b[3];
        if (bits_left < 24 || !get_bytes(c, b, 3)) {
            return -1;
        }
        bits_left -= 24;
        used += 24;
        uint32_t v = (uint32_t) b[0] << 16 | (uint32_t) b[1] << 8 | b[2];
        if (used == 24) {
            *label = v >> 4;
        }
        if ((v & 1) || withdraw || v == 0x800000 || v == 0) {
            return used;
        }
    }
}

/* Decodes one prefix-style NLRI (inet, inet6, the VPN families, route target). */
static bool
read_prefix_nlri(struct cur *c, enum bgp_family f, bool withdraw, struct bgp_nlri *n)
{
    memset(n, 0, sizeof *n);
    n->p.family = (uint8_t) f;
    uint8_t bits;
    if (!get_u8(c, &bits)) {
        return false;
    }
    unsigned int left = bits;
    if (f == BGP_FAM_RTARGET) {
        if (bits == 0) {
            return true;        /* The default route target: matches everything. */
        }
        if (bits < 32 || bits > 96) {
            return false;
        }
        uint8_t b[12] = { 0 };
        if (!get_bytes(c, b, (bits + 7) / 8)) {
            return false;
        }
        n->p.origin_as = rd32(b);
        n->p.plen = (uint8_t) (bits - 32);
        memcpy(n->p.rt, b + 4, 8);
        if (n->p.plen % 8) {
            n->p.rt[n->p.plen / 8] &= (uint8_t) (0xff << (8 - n->p.plen % 8));
        }
        return true;
    }
    if (family_is_vpn(f)) {
        int used = read_labels(c, left, withdraw, &n->label);
        if (used < 0) {
            return false;
        }
        left -= (unsigned) used;
        if (left < 64 || !get_bytes(c, n->p.rd, 8)) {
            return false;
        }
        left -= 64;
    }
    unsigned int max = family_is_v6(f) ? 128 : 32;
    if (left > max) {
        return false;
    }
    if (!get_bytes(c, n->p.addr, (left + 7) / 8)) {
        return false;
    }
    if (left % 8) {
        n->p.addr[left / 8] &= (uint8_t) (0xff << (8 - left % 8));
    }
    n->p.plen = (uint8_t) left;
    return true;
}

static void
put_label(struct wbuf *w, uint32_t label, bool bos)
{
    uint32_t v = (label << 4) | (bos ? 1 : 0);
    put_u8(w, (uint8_t) (v >> 16));
    put_u8(w, (uint8_t) (v >> 8));
    put_u8(w, (uint8_t) v);
}

/* An EVPN label field: a 24-bit VNI with VXLAN encapsulation (RFC 8365 §5.1.3), else an MPLS
 * label in the high 20 bits. */
static void
put_evpn_label(struct wbuf *w, uint32_t label, bool vni)
{
    if (vni) {
        put_u8(w, (uint8_t) (label >> 16));
        put_u8(w, (uint8_t) (label >> 8));
        put_u8(w, (uint8_t) label);
    } else {
        put_label(w, label, true);
    }
}

bool
bgp_attrs_vxlan(const struct bgp_attrs *a)
{
    for (size_t i = 0; i < a->n_ext_communities; i++) {
        if (a->ext_communities[i] == ((uint64_t) 0x030c << 48 | 8)) {
            return true;
        }
    }
    return false;
}

static void
write_nlri(struct wbuf *w, const struct bgp_nlri *n, bool withdraw, bool vni)
{
    const struct bgp_prefix *p = &n->p;
    switch (p->family) {
    case BGP_FAM_INET:
    case BGP_FAM_INET6:
        put_u8(w, p->plen);
        put_bytes(w, p->addr, (p->plen + 7u) / 8);
        break;
    case BGP_FAM_INET_VPN:
    case BGP_FAM_INET6_VPN:
        put_u8(w, (uint8_t) (24 + 64 + p->plen));
        if (withdraw) {
            put_u8(w, 0x80);
            put_u16(w, 0);
        } else {
            put_label(w, n->label, true);
        }
        put_bytes(w, p->rd, 8);
        put_bytes(w, p->addr, (p->plen + 7u) / 8);
        break;
    case BGP_FAM_RTARGET:
        if (p->plen == 0 && p->origin_as == 0 && !memcmp(p->rt, "\0\0\0\0\0\0\0\0", 8)) {
            put_u8(w, 0);
            break;
        }
        put_u8(w, (uint8_t) (32 + p->plen));
        put_u32(w, p->origin_as);
        put_bytes(w, p->rt, (p->plen + 7u) / 8);
        break;
    case BGP_FAM_EVPN: {
        put_u8(w, p->evpn_type);
        size_t len_at = w->len;
        put_u8(w, 0);
        put_bytes(w, p->rd, 8);
        if (p->evpn_type == 2) {
            put_bytes(w, p->esi, 10);
            put_u32(w, p->etag);
            put_u8(w, 48);
            put_bytes(w, p->mac, 6);
            put_u8(w, p->ip_len);
            put_bytes(w, p->addr, p->ip_len / 8u);
            put_evpn_label(w, n->label, vni);
            if (n->has_label2) {
                put_evpn_label(w, n->label2, vni);
            }
        } else {
            put_u32(w, p->etag);
            put_u8(w, p->ip_len);
            put_bytes(w, p->addr, p->ip_len / 8u);
        }
        if (len_at < w->cap) {
            w->p[len_at] = (uint8_t) (w->len - len_at - 1);
        }
        break;
    }
    }
}

/* Decodes one EVPN NLRI.  Route types other than 2 and 3 are skipped (*SKIP set). */
static bool
read_evpn_nlri(struct cur *c, struct bgp_nlri *n, bool *skip)
{
    memset(n, 0, sizeof *n);
    n->p.family = BGP_FAM_EVPN;
    *skip = false;
    uint8_t type, len;
    if (!get_u8(c, &type) || !get_u8(c, &len) || len > c->left) {
        return false;
    }
    struct cur r = { c->p, len };
    get_bytes(c, NULL, len);
    n->p.evpn_type = type;
    if (type == 2) {
        uint8_t maclen, iplen;
        if (!get_bytes(&r, n->p.rd, 8) || !get_bytes(&r, n->p.esi, 10)
            || !get_u32(&r, &n->p.etag) || !get_u8(&r, &maclen) || maclen != 48
            || !get_bytes(&r, n->p.mac, 6) || !get_u8(&r, &iplen)
            || (iplen != 0 && iplen != 32 && iplen != 128)
            || !get_bytes(&r, n->p.addr, iplen / 8u)) {
            return false;
        }
        n->p.ip_len = iplen;
        uint8_t l[3];
        if (!get_bytes(&r, l, 3)) {
            return false;
        }
        /* Kept raw here: whether it is an MPLS label or a VXLAN VNI depends on the
         * encapsulation community, known once all attributes are read (evpn_fix_labels). */
        n->label = (uint32_t) l[0] << 16 | (uint32_t) l[1] << 8 | l[2];
        if (r.left == 3) {
            get_bytes(&r, l, 3);
            n->label2 = (uint32_t) l[0] << 16 | (uint32_t) l[1] << 8 | l[2];
            n->has_label2 = true;
        }
        return r.left == 0;
    }
    if (type == 3) {
        uint8_t iplen;
        if (!get_bytes(&r, n->p.rd, 8) || !get_u32(&r, &n->p.etag) || !get_u8(&r, &iplen)
            || (iplen != 32 && iplen != 128) || !get_bytes(&r, n->p.addr, iplen / 8u)) {
            return false;
        }
        n->p.ip_len = iplen;
        return r.left == 0;
    }
    if (type == 0) {
        return false;
    }
    *skip = true;               /* Types 1, 4, 5, ...: not handled yet, ignored. */
    return true;
}

static void
nlri_push(struct bgp_nlri **v, size_t *n, const struct bgp_nlri *x)
{
    if ((*n & (*n - 1)) == 0) {
        *v = mem_realloc(&mem_bgp_nlri, *v, (*n ? *n * 2 : 4) * sizeof **v);
    }
    (*v)[(*n)++] = *x;
}

/* Reads NLRIs of family F from C until it is empty.  Returns false on a malformed one. */
static bool
read_nlris(struct cur *c, enum bgp_family f, bool withdraw, struct bgp_nlri **v, size_t *n)
{
    while (c->left) {
        struct bgp_nlri x;
        bool skip = false;
        bool ok = f == BGP_FAM_EVPN ? read_evpn_nlri(c, &x, &skip)
                                    : read_prefix_nlri(c, f, withdraw, &x);
        if (!ok) {
            return false;
        }
        if (!skip) {
            nlri_push(v, n, &x);
        }
    }
    return true;
}

/* --- UPDATE decode ----------------------------------------------------------------------- */

enum { F_OPTIONAL = 0x80, F_TRANSITIVE = 0x40, F_PARTIAL = 0x20, F_EXTLEN = 0x10 };

static bool
read_nexthop(struct cur *c, uint8_t len, struct bgp_nexthop *nh)
{
    uint8_t b[48];
    if (!get_bytes(c, b, len)) {
        return false;
    }
    memset(nh, 0, sizeof *nh);
    const uint8_t *a;
    int alen;
    switch (len) {
    case 4: a = b; alen = 4; break;
    case 12: a = b + 8; alen = 4; break;
    case 16: case 32: a = b; alen = 16; break;
    case 24: case 48: a = b + 8; alen = 16; break;
    default: return false;
    }
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (alen == 16 && !memcmp(a, mapped, 12)) {
        a += 12;
        alen = 4;
    }
    nh->family = alen == 4 ? 4 : 6;
    memcpy(nh->addr, a, (size_t) alen);
    return true;
}

/* Decodes the AS_PATH (or AS4_PATH) value with ASN width W.  Returns false if malformed. */
static bool
read_as_path(struct cur *v, int w, struct bgp_attrs *a)
{
    size_t words = 0;
    uint32_t *path = NULL;
    while (v->left) {
        uint8_t type, count;
        if (!get_u8(v, &type) || !get_u8(v, &count) || count == 0
            || (type != BGP_AS_SET && type != BGP_AS_SEQUENCE) || v->left < (size_t) count * w) {
            mem_free(&mem_bgp_attr, path);
            return false;
        }
        path = mem_realloc(&mem_bgp_attr, path, (words + 1 + count) * 4);
        path[words++] = (uint32_t) type << 8 | count;
        for (int i = 0; i < count; i++) {
            uint16_t s;
            uint32_t l;
            if (w == 2) {
                get_u16(v, &s);
                path[words++] = s;
            } else {
                get_u32(v, &l);
                path[words++] = l;
            }
        }
    }
    mem_free(&mem_bgp_attr, a->as_path);
    a->as_path = path;
    a->as_path_n = words;
    return true;
}

/* The context of one UPDATE decode. */
struct upd_ctx {
    const struct bgp_codec *codec;
    struct bgp_update *u;
    struct bgp_error *err;
    bool withdraw_all;          /* RFC 7606 treat-as-withdraw. */
    bool mp_reach_seen, mp_unreach_seen;
    int mp_reach_family;
};

/* Handles one attribute.  Returns 0, or EBADMSG (session reset, ERR filled). */
static int
update_attr(struct upd_ctx *x, uint8_t flags, uint8_t type, struct cur *v,
            const uint8_t *attr_start, size_t attr_total)
{
    struct bgp_attrs *a = &x->u->attrs;
    uint64_t bit = type < 64 ? BGP_ATTR_BIT(type) : 0;
    bool wellknown = type == BGP_ATTR_ORIGIN || type == BGP_ATTR_AS_PATH
        || type == BGP_ATTR_NEXT_HOP || type == BGP_ATTR_LOCAL_PREF
        || type == BGP_ATTR_ATOMIC_AGGREGATE;
    bool known = wellknown || type == BGP_ATTR_MED || type == BGP_ATTR_AGGREGATOR
        || type == BGP_ATTR_COMMUNITIES || type == BGP_ATTR_ORIGINATOR_ID
        || type == BGP_ATTR_CLUSTER_LIST || type == BGP_ATTR_MP_REACH
        || type == BGP_ATTR_MP_UNREACH || type == BGP_ATTR_EXT_COMMUNITIES
        || type == BGP_ATTR_AS4_PATH || type == BGP_ATTR_AS4_AGGREGATOR
        || type == BGP_ATTR_PMSI_TUNNEL;

    if (type == BGP_ATTR_MP_REACH || type == BGP_ATTR_MP_UNREACH) {
        /* RFC 7606 §3 (g): these may appear once; a repeat resets the session. */
        bool *seen = type == BGP_ATTR_MP_REACH ? &x->mp_reach_seen : &x->mp_unreach_seen;
        if (*seen) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_MALFORMED_ATTRS, NULL, 0);
            return EBADMSG;
        }
        *seen = true;
    } else if (bit && (a->present & bit)) {
        return 0;               /* RFC 7606 §3 (g): repeats of the others are discarded. */
    }
    if (!known) {
        if (!(flags & F_OPTIONAL)) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_UNKNOWN_WELLKNOWN, attr_start,
                      attr_total);
            return EBADMSG;
        }
        return 0;               /* Unknown optional attributes are not passed on (yet). */
    }
    /* Flags check: well-known attributes are transitive and not optional; the optional ones
     * have the optional bit.  A mismatch makes the attribute malformed (RFC 7606 §3 (c)). */
    bool flags_ok = wellknown ? (flags & (F_OPTIONAL | F_TRANSITIVE)) == F_TRANSITIVE
                              : (flags & F_OPTIONAL);
    size_t len = v->left;
    switch (type) {
    case BGP_ATTR_ORIGIN:
        if (!flags_ok || len != 1 || !get_u8(v, &a->origin) || a->origin > 2) {
            x->withdraw_all = true;
            return 0;
        }
        break;
    case BGP_ATTR_AS_PATH:
        if (!flags_ok || !read_as_path(v, x->codec->as4 ? 4 : 2, a)) {
            x->withdraw_all = true;
            return 0;
        }
        break;
    case BGP_ATTR_AS4_PATH:
        /* Only meaningful between a 2-octet speaker and us; the merge of RFC 6793 §4.2.3 is
         * not done yet, so the value is checked and dropped. */
        return 0;
    case BGP_ATTR_NEXT_HOP: {
        uint32_t nh;
        if (!flags_ok || len != 4 || !get_u32(v, &nh)) {
            x->withdraw_all = true;
            return 0;
        }
        if (a->nexthop.family == 0) {
            a->nexthop.family = 4;
            uint32_t be = htonl(nh);
            memcpy(a->nexthop.addr, &be, 4);
        }
        break;
    }
    case BGP_ATTR_MED:
        if (!flags_ok || len != 4 || !get_u32(v, &a->med)) {
            x->withdraw_all = true;
            return 0;
        }
        break;
    case BGP_ATTR_LOCAL_PREF:
        if (!x->codec->ibgp) {
            return 0;           /* RFC 4271 §5.1.5: ignored from an external peer. */
        }
        if (!flags_ok || len != 4 || !get_u32(v, &a->local_pref)) {
            x->withdraw_all = true;
            return 0;
        }
        break;
    case BGP_ATTR_ATOMIC_AGGREGATE:
        if (!flags_ok || len != 0) {
            x->u->discarded++;  /* RFC 7606 §7.6: attribute discard. */
            return 0;
        }
        break;
    case BGP_ATTR_AGGREGATOR: {
        size_t want = x->codec->as4 ? 8 : 6;
        if (!flags_ok || len != want) {
            x->u->discarded++;
            return 0;
        }
        if (want == 8) {
            get_u32(v, &a->aggregator_as);
        } else {
            uint16_t s;
            get_u16(v, &s);
            a->aggregator_as = s;
        }
        get_u32(v, &a->aggregator_id);
        break;
    }
    case BGP_ATTR_AS4_AGGREGATOR:
        return 0;
    case BGP_ATTR_COMMUNITIES:
        if (!flags_ok || len % 4 || len == 0) {
            x->withdraw_all = true;
            return 0;
        }
        a->communities = mem_zalloc(&mem_bgp_attr, len);
        a->n_communities = len / 4;
        for (size_t i = 0; i < len / 4; i++) {
            get_u32(v, &a->communities[i]);
        }
        break;
    case BGP_ATTR_ORIGINATOR_ID:
        if (!flags_ok || len != 4 || !get_u32(v, &a->originator_id)) {
            x->withdraw_all = true;
            return 0;
        }
        break;
    case BGP_ATTR_CLUSTER_LIST:
        if (!flags_ok || len % 4 || len == 0) {
            x->withdraw_all = true;
            return 0;
        }
        a->cluster_list = mem_zalloc(&mem_bgp_attr, len);
        a->n_cluster_list = len / 4;
        for (size_t i = 0; i < len / 4; i++) {
            get_u32(v, &a->cluster_list[i]);
        }
        break;
    case BGP_ATTR_EXT_COMMUNITIES:
        if (!flags_ok || len % 8 || len == 0) {
            x->withdraw_all = true;
            return 0;
        }
        a->ext_communities = mem_zalloc(&mem_bgp_attr, len);
        a->n_ext_communities = len / 8;
        for (size_t i = 0; i < len / 8; i++) {
            a->ext_communities[i] = rd64(v->p);
            get_bytes(v, NULL, 8);
        }
        break;
    case BGP_ATTR_PMSI_TUNNEL:
        if (!flags_ok || len < 5) {
            x->withdraw_all = true;     /* A PMSI tunnel too short to hold its header. */
            return 0;
        }
        a->pmsi = dup_array(v->p, len, 1);
        a->pmsi_len = len;
        break;
    case BGP_ATTR_MP_REACH: {
        /* RFC 7606 §7.11: when the NLRI cannot be parsed the session is reset. */
        uint16_t afi;
        uint8_t safi, nhlen, reserved;
        if (!get_u16(v, &afi) || !get_u8(v, &safi) || !get_u8(v, &nhlen)) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_OPTIONAL_ATTR, NULL, 0);
            return EBADMSG;
        }
        int f = bgp_family_from_afi_safi(afi, safi);
        if (f < 0) {
            return 0;           /* A family we never negotiated: ignored. */
        }
        struct bgp_nexthop nh;
        if (nhlen > v->left || !read_nexthop(v, nhlen, &nh) || !get_u8(v, &reserved)
            || !read_nlris(v, f, false, &x->u->reach, &x->u->n_reach)) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_OPTIONAL_ATTR, NULL, 0);
            return EBADMSG;
        }
        a->nexthop = nh;        /* The MP next hop wins over NEXT_HOP for these NLRIs. */
        x->mp_reach_family = f;
        if (!flags_ok) {
            x->withdraw_all = true;
        }
        break;
    }
    case BGP_ATTR_MP_UNREACH: {
        uint16_t afi;
        uint8_t safi;
        if (!get_u16(v, &afi) || !get_u8(v, &safi)) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_OPTIONAL_ATTR, NULL, 0);
            return EBADMSG;
        }
        int f = bgp_family_from_afi_safi(afi, safi);
        if (f < 0) {
            return 0;
        }
        if (!v->left) {
            x->u->eor = true;
            x->u->eor_family = (uint8_t) f;
        }
        if (!read_nlris(v, f, true, &x->u->unreach, &x->u->n_unreach)) {
            set_error(x->err, BGP_ERR_UPDATE, BGP_UPD_OPTIONAL_ATTR, NULL, 0);
            return EBADMSG;
        }
        break;
    }
    }
    a->present |= bit;
    return 0;
}

int
bgp_update_decode(const struct bgp_codec *codec, const uint8_t *body, size_t len,
                  struct bgp_update *u, struct bgp_error *err)
{
    memset(u, 0, sizeof *u);
    struct upd_ctx x = { .codec = codec, .u = u, .err = err, .mp_reach_family = -1 };
    struct cur c = { body, len };
    uint16_t wlen, alen;
    if (!get_u16(&c, &wlen) || wlen > c.left) {
        set_error(err, BGP_ERR_UPDATE, BGP_UPD_MALFORMED_ATTRS, NULL, 0);
        return EBADMSG;
    }
    struct cur wc = { c.p, wlen };
    get_bytes(&c, NULL, wlen);
    if (!get_u16(&c, &alen) || alen > c.left) {
        set_error(err, BGP_ERR_UPDATE, BGP_UPD_MALFORMED_ATTRS, NULL, 0);
        return EBADMSG;
    }
    struct cur ac = { c.p, alen };
    get_bytes(&c, NULL, alen);
    struct cur nc = c;          /* The rest is IPv4 NLRI. */

    if (!read_nlris(&wc, BGP_FAM_INET, true, &u->unreach, &u->n_unreach)) {
        set_error(err, BGP_ERR_UPDATE, BGP_UPD_BAD_NETWORK, NULL, 0);
        return EBADMSG;
    }
    while (ac.left) {
        const uint8_t *start = ac.p;
        uint8_t flags, type;
        uint16_t l;
        uint8_t l8;
        bool ok = get_u8(&ac, &flags) && get_u8(&ac, &type);
        if (ok) {
            ok = (flags & F_EXTLEN) ? get_u16(&ac, &l) : (get_u8(&ac, &l8) && (l = l8, true));
        }
        if (!ok || l > ac.left) {
            /* RFC 7606 §4: an attribute overrunning the attribute field makes the list
             * malformed; treat-as-withdraw, unless MP_REACH/UNREACH (whose NLRIs we could
             * then not find reliably) ... which are simply those we have not seen yet, so
             * the session is reset when an MP attribute could be hiding in the rest. */
            if (ok && (type == BGP_ATTR_MP_REACH || type == BGP_ATTR_MP_UNREACH)) {
                set_error(err, BGP_ERR_UPDATE, BGP_UPD_MALFORMED_ATTRS, NULL, 0);
                return EBADMSG;
            }
            x.withdraw_all = true;
            break;
        }
        struct cur v = { ac.p, l };
        get_bytes(&ac, NULL, l);
        if (update_attr(&x, flags, type, &v, start, (size_t) (ac.p - start))) {
            return EBADMSG;
        }
    }
    size_t n_mp = u->n_reach;
    if (!read_nlris(&nc, BGP_FAM_INET, false, &u->reach, &u->n_reach)) {
        set_error(err, BGP_ERR_UPDATE, BGP_UPD_BAD_NETWORK, NULL, 0);
        return EBADMSG;
    }
    bool v4_nlri = u->n_reach > n_mp;
    if (len == 4) {
        u->eor = true;          /* An UPDATE with nothing at all: End-of-RIB for inet. */
        u->eor_family = BGP_FAM_INET;
    }
    /* Missing well-known mandatory attributes with routes to announce: RFC 7606 §3 (d). */
    if (u->n_reach) {
        uint64_t need = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH);
        if (v4_nlri) {
            need |= BGP_ATTR_BIT(BGP_ATTR_NEXT_HOP);
        }
        if ((u->attrs.present & need) != need) {
            x.withdraw_all = true;
        }
        if (v4_nlri && x.mp_reach_family < 0 && u->attrs.nexthop.family != 4) {
            x.withdraw_all = true;
        }
    }
    if (codec->ibgp && u->n_reach && !(u->attrs.present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF))) {
        u->attrs.local_pref = 100;  /* RFC 7606 §7.5 says treat-as-withdraw; be lenient. */
    }
    /* EVPN label fields become MPLS labels unless the path says VXLAN. */
    bool vni = bgp_attrs_vxlan(&u->attrs);
    for (int pass = 0; pass < 2; pass++) {
        struct bgp_nlri *v = pass ? u->unreach : u->reach;
        size_t nv = pass ? u->n_unreach : u->n_reach;
        for (size_t i = 0; i < nv; i++) {
            if (v[i].p.family == BGP_FAM_EVPN && (pass || !vni)) {
                v[i].label >>= 4;
                v[i].label2 >>= 4;
            }
        }
    }
    u->treat_as_withdraw = x.withdraw_all;
    return 0;
}

void
bgp_update_clear(struct bgp_update *u)
{
    bgp_attrs_clear(&u->attrs);
    mem_free(&mem_bgp_nlri, u->reach);
    mem_free(&mem_bgp_nlri, u->unreach);
    memset(u, 0, sizeof *u);
}

/* --- UPDATE encode ----------------------------------------------------------------------- */

static void
put_attr_header(struct wbuf *w, uint8_t flags, uint8_t type, size_t len)
{
    if (len > 255) {
        put_u8(w, flags | F_EXTLEN);
        put_u8(w, type);
        put_u16(w, (uint16_t) len);
    } else {
        put_u8(w, flags);
        put_u8(w, type);
        put_u8(w, (uint8_t) len);
    }
}

static void
put_nexthop_mp(struct wbuf *w, enum bgp_family f, const struct bgp_nexthop *nh)
{
    static const uint8_t zero_rd[8];
    uint8_t addr[16] = { 0 };
    bool v6 = family_is_v6(f);
    if (v6 && nh->family == 4) {
        addr[10] = addr[11] = 0xff;  /* IPv4-mapped IPv6 (RFC 4659 §3.2.1.2). */
        memcpy(addr + 12, nh->addr, 4);
    } else if (v6) {
        memcpy(addr, nh->addr, 16);
    } else {
        memcpy(addr, nh->addr, 4);
    }
    size_t alen = v6 ? 16 : 4;
    bool vpn = family_is_vpn(f);
    put_u8(w, (uint8_t) ((vpn ? 8 : 0) + alen));
    if (vpn) {
        put_bytes(w, zero_rd, 8);
    }
    put_bytes(w, addr, alen);
}

/* Writes the path attributes except the MP ones. */
static void
put_attrs(struct wbuf *w, const struct bgp_codec *codec, const struct bgp_attrs *a,
          bool v4_nexthop)
{
    put_attr_header(w, F_TRANSITIVE, BGP_ATTR_ORIGIN, 1);
    put_u8(w, a->origin);
    size_t plen = 0;
    int asw = codec->as4 ? 4 : 2;
    for (size_t i = 0; i < a->as_path_n; ) {
        unsigned int count = a->as_path[i] & 0xff;
        plen += 2 + count * (unsigned) asw;
        i += 1 + count;
    }
    put_attr_header(w, F_TRANSITIVE, BGP_ATTR_AS_PATH, plen);
    for (size_t i = 0; i < a->as_path_n; ) {
        unsigned int count = a->as_path[i] & 0xff;
        put_u8(w, (uint8_t) (a->as_path[i] >> 8));
        put_u8(w, (uint8_t) count);
        for (unsigned int j = 1; j <= count; j++) {
            uint32_t asn = a->as_path[i + j];
            if (asw == 4) {
                put_u32(w, asn);
            } else {
                put_u16(w, asn > 0xffff ? BGP_AS_TRANS : (uint16_t) asn);
            }
        }
        i += 1 + count;
    }
    if (v4_nexthop) {
        put_attr_header(w, F_TRANSITIVE, BGP_ATTR_NEXT_HOP, 4);
        put_bytes(w, a->nexthop.addr, 4);
    }
    if (a->present & BGP_ATTR_BIT(BGP_ATTR_MED)) {
        put_attr_header(w, F_OPTIONAL, BGP_ATTR_MED, 4);
        put_u32(w, a->med);
    }
    if (codec->ibgp) {
        put_attr_header(w, F_TRANSITIVE, BGP_ATTR_LOCAL_PREF, 4);
        put_u32(w, (a->present & BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF)) ? a->local_pref : 100);
    }
    if (a->present & BGP_ATTR_BIT(BGP_ATTR_ATOMIC_AGGREGATE)) {
        put_attr_header(w, F_TRANSITIVE, BGP_ATTR_ATOMIC_AGGREGATE, 0);
    }
    if (a->present & BGP_ATTR_BIT(BGP_ATTR_AGGREGATOR)) {
        put_attr_header(w, F_OPTIONAL | F_TRANSITIVE, BGP_ATTR_AGGREGATOR, codec->as4 ? 8 : 6);
        if (codec->as4) {
            put_u32(w, a->aggregator_as);
        } else {
            put_u16(w, a->aggregator_as > 0xffff ? BGP_AS_TRANS : (uint16_t) a->aggregator_as);
        }
        put_u32(w, a->aggregator_id);
    }
    if (a->n_communities) {
        put_attr_header(w, F_OPTIONAL | F_TRANSITIVE, BGP_ATTR_COMMUNITIES, a->n_communities * 4);
        for (size_t i = 0; i < a->n_communities; i++) {
            put_u32(w, a->communities[i]);
        }
    }
    if (codec->ibgp && (a->present & BGP_ATTR_BIT(BGP_ATTR_ORIGINATOR_ID))) {
        put_attr_header(w, F_OPTIONAL, BGP_ATTR_ORIGINATOR_ID, 4);
        put_u32(w, a->originator_id);
    }
    if (codec->ibgp && a->n_cluster_list) {
        put_attr_header(w, F_OPTIONAL, BGP_ATTR_CLUSTER_LIST, a->n_cluster_list * 4);
        for (size_t i = 0; i < a->n_cluster_list; i++) {
            put_u32(w, a->cluster_list[i]);
        }
    }
    if (a->n_ext_communities) {
        put_attr_header(w, F_OPTIONAL | F_TRANSITIVE, BGP_ATTR_EXT_COMMUNITIES,
                        a->n_ext_communities * 8);
        for (size_t i = 0; i < a->n_ext_communities; i++) {
            put_u64(w, a->ext_communities[i]);
        }
    }
    if (a->pmsi_len) {
        put_attr_header(w, F_OPTIONAL | F_TRANSITIVE, BGP_ATTR_PMSI_TUNNEL, a->pmsi_len);
        put_bytes(w, a->pmsi, a->pmsi_len);
    }
}

size_t
bgp_update_encode_reach(const struct bgp_codec *codec, enum bgp_family f,
                        const struct bgp_attrs *a, const struct bgp_nlri *v, size_t n,
                        uint8_t *buf, size_t *n_done)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    bool vni = bgp_attrs_vxlan(a);
    put_header(&w, BGP_MSG_UPDATE);
    put_u16(&w, 0);             /* No withdrawn routes. */
    size_t alen_at = w.len;
    put_u16(&w, 0);
    size_t attrs_start = w.len;
    *n_done = 0;
    if (f == BGP_FAM_INET) {
        put_attrs(&w, codec, a, true);
        set_u16(buf + alen_at, (uint16_t) (w.len - attrs_start));
        for (size_t i = 0; i < n; i++) {
            size_t before = w.len;
            write_nlri(&w, &v[i], false, vni);
            if (w.len > w.cap) {
                w.len = before;
                break;
            }
            (*n_done)++;
        }
        return finish_msg(&w);
    }
    put_attrs(&w, codec, a, false);
    /* MP_REACH with an extended length: its size is known only at the end. */
    size_t mp_at = w.len;
    put_attr_header(&w, F_OPTIONAL, BGP_ATTR_MP_REACH, 256);
    size_t mp_start = w.len;
    uint16_t afi;
    uint8_t safi;
    bgp_family_afi_safi(f, &afi, &safi);
    put_u16(&w, afi);
    put_u8(&w, safi);
    put_nexthop_mp(&w, f, &a->nexthop);
    put_u8(&w, 0);
    for (size_t i = 0; i < n; i++) {
        size_t before = w.len;
        write_nlri(&w, &v[i], false, vni);
        if (w.len > w.cap) {
            w.len = before;
            break;
        }
        (*n_done)++;
    }
    set_u16(buf + mp_at + 2, (uint16_t) (w.len - mp_start));
    set_u16(buf + alen_at, (uint16_t) (w.len - attrs_start));
    return finish_msg(&w);
}

size_t
bgp_update_encode_unreach(enum bgp_family f, const struct bgp_nlri *v, size_t n, uint8_t *buf,
                          size_t *n_done)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    put_header(&w, BGP_MSG_UPDATE);
    *n_done = 0;
    if (f == BGP_FAM_INET) {
        size_t wlen_at = w.len;
        put_u16(&w, 0);
        for (size_t i = 0; i < n; i++) {
            size_t before = w.len;
            write_nlri(&w, &v[i], true, false);
            if (w.len > w.cap - 2) {
                w.len = before;
                break;
            }
            (*n_done)++;
        }
        set_u16(buf + wlen_at, (uint16_t) (w.len - wlen_at - 2));
        put_u16(&w, 0);
        return finish_msg(&w);
    }
    put_u16(&w, 0);
    size_t alen_at = w.len;
    put_u16(&w, 0);
    size_t attrs_start = w.len;
    size_t mp_at = w.len;
    put_attr_header(&w, F_OPTIONAL, BGP_ATTR_MP_UNREACH, 256);
    size_t mp_start = w.len;
    uint16_t afi;
    uint8_t safi;
    bgp_family_afi_safi(f, &afi, &safi);
    put_u16(&w, afi);
    put_u8(&w, safi);
    for (size_t i = 0; i < n; i++) {
        size_t before = w.len;
        write_nlri(&w, &v[i], true, false);
        if (w.len > w.cap) {
            w.len = before;
            break;
        }
        (*n_done)++;
    }
    set_u16(buf + mp_at + 2, (uint16_t) (w.len - mp_start));
    set_u16(buf + alen_at, (uint16_t) (w.len - attrs_start));
    return finish_msg(&w);
}

size_t
bgp_update_encode_eor(enum bgp_family f, uint8_t *buf)
{
    size_t n;
    return bgp_update_encode_unreach(f, NULL, 0, buf, &n);
}

/* --- Other messages ---------------------------------------------------------------------- */

size_t
bgp_keepalive_encode(uint8_t *buf)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    put_header(&w, BGP_MSG_KEEPALIVE);
    return finish_msg(&w);
}

size_t
bgp_notification_encode(const struct bgp_error *e, uint8_t *buf)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    put_header(&w, BGP_MSG_NOTIFICATION);
    put_u8(&w, e->code);
    put_u8(&w, e->subcode);
    put_bytes(&w, e->data, e->data_len);
    return finish_msg(&w);
}

int
bgp_notification_decode(const uint8_t *body, size_t len, struct bgp_error *out,
                        struct bgp_error *err)
{
    if (len < 2) {
        set_error(err, BGP_ERR_HEADER, BGP_HDR_BAD_LEN, NULL, 0);
        return EBADMSG;
    }
    set_error(out, body[0], body[1], body + 2, len - 2);
    return 0;
}

size_t
bgp_route_refresh_encode(enum bgp_family f, uint8_t *buf)
{
    struct wbuf w = { buf, 0, BGP_MAX_MSG };
    put_header(&w, BGP_MSG_ROUTE_REFRESH);
    uint16_t afi;
    uint8_t safi;
    bgp_family_afi_safi(f, &afi, &safi);
    put_u16(&w, afi);
    put_u8(&w, 0);
    put_u8(&w, safi);
    return finish_msg(&w);
}

int
bgp_route_refresh_decode(const uint8_t *body, size_t len, int *family, struct bgp_error *err)
{
    if (len != 4) {
        uint8_t l[2] = { (uint8_t) ((len + BGP_HEADER_LEN) >> 8),
                         (uint8_t) (len + BGP_HEADER_LEN) };
        set_error(err, BGP_ERR_ROUTE_REFRESH, BGP_RR_BAD_LEN, l, 2);
        return EBADMSG;
    }
    *family = bgp_family_from_afi_safi((uint16_t) (body[0] << 8 | body[1]), body[3]);
    return 0;
}

/* --- Text forms -------------------------------------------------------------------------- */

char *
bgp_rd_format(const uint8_t rd[8], char *buf, size_t size)
{
    uint16_t type = (uint16_t) (rd[0] << 8 | rd[1]);
    switch (type) {
    case 0:
        snprintf(buf, size, "%u:%u", (unsigned) (rd[2] << 8 | rd[3]), rd32(rd + 4));
        break;
    case 1:
        snprintf(buf, size, "%u.%u.%u.%u:%u", rd[2], rd[3], rd[4], rd[5],
                 (unsigned) (rd[6] << 8 | rd[7]));
        break;
    case 2:
        snprintf(buf, size, "%u:%u", rd32(rd + 2), (unsigned) (rd[6] << 8 | rd[7]));
        break;
    default:
        snprintf(buf, size, "%02x%02x:%02x%02x%02x%02x%02x%02x", rd[0], rd[1], rd[2], rd[3],
                 rd[4], rd[5], rd[6], rd[7]);
    }
    return buf;
}

/* Parses "ADMIN:NUMBER" where ADMIN is an IPv4 address or an AS number; stores the type (0, 1
 * or 2 as for RDs and route targets) and the 6 value bytes. */
static bool
parse_admin_number(const char *s, uint8_t *type, uint8_t v[6])
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || !colon[1]) {
        return false;
    }
    char admin[64];
    size_t alen = (size_t) (colon - s);
    if (alen >= sizeof admin) {
        return false;
    }
    memcpy(admin, s, alen);
    admin[alen] = '\0';
    char *end;
    errno = 0;
    unsigned long long num = strtoull(colon + 1, &end, 10);
    if (*end || errno || colon[1] == '-') {
        return false;
    }
    struct in_addr ia;
    if (inet_pton(AF_INET, admin, &ia) == 1) {
        if (num > 0xffff) {
            return false;
        }
        *type = 1;
        memcpy(v, &ia, 4);
        v[4] = (uint8_t) (num >> 8);
        v[5] = (uint8_t) num;
        return true;
    }
    errno = 0;
    unsigned long long asn = strtoull(admin, &end, 10);
    if (*end || errno || admin[0] == '-' || asn > 0xffffffffULL) {
        return false;
    }
    if (asn <= 0xffff && num <= 0xffffffffULL) {
        *type = 0;
        v[0] = (uint8_t) (asn >> 8);
        v[1] = (uint8_t) asn;
        v[2] = (uint8_t) (num >> 24);
        v[3] = (uint8_t) (num >> 16);
        v[4] = (uint8_t) (num >> 8);
        v[5] = (uint8_t) num;
        return true;
    }
    if (num > 0xffff) {
        return false;
    }
    *type = 2;
    v[0] = (uint8_t) (asn >> 24);
    v[1] = (uint8_t) (asn >> 16);
    v[2] = (uint8_t) (asn >> 8);
    v[3] = (uint8_t) asn;
    v[4] = (uint8_t) (num >> 8);
    v[5] = (uint8_t) num;
    return true;
}

bool
bgp_rd_parse(const char *s, uint8_t rd[8])
{
    uint8_t type;
    if (!parse_admin_number(s, &type, rd + 2)) {
        return false;
    }
    rd[0] = 0;
    rd[1] = type;
    return true;
}

static const struct {
    uint16_t code;
    const char *name;
} encaps[] = {
    { 2, "gre" }, { 8, "vxlan" }, { 9, "nvgre" }, { 10, "mpls" }, { 11, "mpls-in-gre" },
    { 12, "vxlan-gpe" }, { 13, "udp" }, { 16, "native" },
};

char *
bgp_ext_community_format(uint64_t ec, char *buf, size_t size)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t) (ec >> (56 - 8 * i));
    }
    uint16_t ts = (uint16_t) (b[0] << 8 | b[1]);
    switch (ts) {
    case 0x0002:
        snprintf(buf, size, "target:%u:%u", (unsigned) (b[2] << 8 | b[3]), rd32(b + 4));
        return buf;
    case 0x0102:
        snprintf(buf, size, "target:%u.%u.%u.%u:%u", b[2], b[3], b[4], b[5],
                 (unsigned) (b[6] << 8 | b[7]));
        return buf;
    case 0x0202:
        snprintf(buf, size, "target:%u:%u", rd32(b + 2), (unsigned) (b[6] << 8 | b[7]));
        return buf;
    case 0x030c: {
        uint16_t t = (uint16_t) (b[6] << 8 | b[7]);
        for (size_t i = 0; i < sizeof encaps / sizeof *encaps; i++) {
            if (encaps[i].code == t) {
                snprintf(buf, size, "encapsulation:%s", encaps[i].name);
                return buf;
            }
        }
        snprintf(buf, size, "encapsulation:%u", t);
        return buf;
    }
    case 0x0600:
        snprintf(buf, size, "mac-mobility:%s%u", (b[2] & 1) ? "sticky:" : "", rd32(b + 4));
        return buf;
    case 0x0603:
        snprintf(buf, size, "router-mac:%02x:%02x:%02x:%02x:%02x:%02x", b[2], b[3], b[4], b[5],
                 b[6], b[7]);
        return buf;
    case 0x8071:
        snprintf(buf, size, "origin-vn:%u:%u", (unsigned) (b[2] << 8 | b[3]), rd32(b + 4));
        return buf;
    case 0x8004:
        snprintf(buf, size, "security-group:%u:%u", (unsigned) (b[2] << 8 | b[3]), rd32(b + 4));
        return buf;
    }
    snprintf(buf, size, "0x%016" PRIx64, ec);
    return buf;
}

bool
bgp_ext_community_parse(const char *s, uint64_t *ec)
{
    if (!strncmp(s, "target:", 7)) {
        uint8_t type, v[6];
        if (!parse_admin_number(s + 7, &type, v)) {
            return false;
        }
        uint64_t x = (uint64_t) type << 56 | (uint64_t) 0x02 << 48;
        for (int i = 0; i < 6; i++) {
            x |= (uint64_t) v[i] << (40 - 8 * i);
        }
        *ec = x;
        return true;
    }
    if (!strncmp(s, "encapsulation:", 14)) {
        for (size_t i = 0; i < sizeof encaps / sizeof *encaps; i++) {
            if (!strcmp(s + 14, encaps[i].name)) {
                *ec = (uint64_t) 0x030c << 48 | encaps[i].code;
                return true;
            }
        }
    }
    return false;
}

char *
bgp_community_format(uint32_t c, char *buf, size_t size)
{
    switch (c) {
    case 0xffffff01: snprintf(buf, size, "no-export"); break;
    case 0xffffff02: snprintf(buf, size, "no-advertise"); break;
    case 0xffffff03: snprintf(buf, size, "no-export-subconfed"); break;
    case 0xffff0000: snprintf(buf, size, "graceful-shutdown"); break;
    default: snprintf(buf, size, "%u:%u", c >> 16, c & 0xffff);
    }
    return buf;
}

static void
format_ip(const uint8_t *addr, int bits, char *buf, size_t size)
{
    char s[INET6_ADDRSTRLEN];
    inet_ntop(bits == 32 ? AF_INET : AF_INET6, addr, s, sizeof s);
    snprintf(buf, size, "%s", s);
}

char *
bgp_prefix_format(const struct bgp_prefix *p, char *buf, size_t size)
{
    char rd[32], ip[INET6_ADDRSTRLEN];
    switch (p->family) {
    case BGP_FAM_INET:
    case BGP_FAM_INET6:
        format_ip(p->addr, p->family == BGP_FAM_INET ? 32 : 128, ip, sizeof ip);
        snprintf(buf, size, "%s/%u", ip, p->plen);
        break;
    case BGP_FAM_INET_VPN:
    case BGP_FAM_INET6_VPN:
        format_ip(p->addr, p->family == BGP_FAM_INET_VPN ? 32 : 128, ip, sizeof ip);
        snprintf(buf, size, "%s:%s/%u", bgp_rd_format(p->rd, rd, sizeof rd), ip, p->plen);
        break;
    case BGP_FAM_RTARGET: {
        if (p->plen == 0 && p->origin_as == 0) {
            snprintf(buf, size, "0:0:0/0");
            break;
        }
        char t[48];
        snprintf(buf, size, "%u:%s/%u", p->origin_as,
                 bgp_ext_community_format(rd64(p->rt), t, sizeof t), p->plen + 32);
        break;
    }
    case BGP_FAM_EVPN:
        bgp_rd_format(p->rd, rd, sizeof rd);
        if (p->ip_len) {
            format_ip(p->addr, p->ip_len, ip, sizeof ip);
        } else {
            snprintf(ip, sizeof ip, "0.0.0.0");
        }
        if (p->evpn_type == 2) {
            snprintf(buf, size, "2-%s-%u-%02x:%02x:%02x:%02x:%02x:%02x,%s", rd, p->etag,
                     p->mac[0], p->mac[1], p->mac[2], p->mac[3], p->mac[4], p->mac[5], ip);
        } else {
            snprintf(buf, size, "3-%s-%u-%s", rd, p->etag, ip);
        }
        break;
    default:
        snprintf(buf, size, "?");
    }
    return buf;
}

const char *
bgp_msg_type_name(int type)
{
    static const char *names[] = { "?", "open", "update", "notification", "keepalive",
                                   "route-refresh" };
    return type >= 1 && type <= 5 ? names[type] : "?";
}

const char *
bgp_error_name(uint8_t code)
{
    static const char *names[] = { "?", "message header error", "OPEN message error",
                                   "UPDATE message error", "hold timer expired",
                                   "finite state machine error", "cease",
                                   "ROUTE-REFRESH message error" };
    return code >= 1 && code <= 7 ? names[code] : "?";
}
