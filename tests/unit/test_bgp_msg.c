/* Unit tests for control/bgp/bgp_msg: exact byte vectors for each message type, round trips
 * for every family, and the RFC 7606 outcome (treat-as-withdraw, attribute discard or the
 * NOTIFICATION code) for each kind of malformed UPDATE. */
#include "bgp_msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>

#include "check.h"

#define MARKER 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, \
               0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff

static const struct bgp_codec ebgp4 = { .as4 = true, .ibgp = false };
static const struct bgp_codec ibgp4 = { .as4 = true, .ibgp = true };

static void
test_header(void)
{
    uint8_t ka[19] = { MARKER, 0, 19, 4 };
    uint16_t len;
    uint8_t type;
    struct bgp_error err;
    CHECK_EQ_INT(bgp_msg_check_header(ka, sizeof ka, &len, &type, &err), 0);
    CHECK_EQ_INT(len, 19);
    CHECK_EQ_INT(type, BGP_MSG_KEEPALIVE);

    uint8_t built[19];
    CHECK_EQ_INT(bgp_keepalive_encode(built), 19);
    CHECK(!memcmp(built, ka, 19));

    uint8_t bad_marker[19] = { MARKER, 0, 19, 4 };
    bad_marker[3] = 0;
    CHECK_EQ_INT(bgp_msg_check_header(bad_marker, 19, &len, &type, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 1);
    CHECK_EQ_INT(err.subcode, 1);

    uint8_t short_len[19] = { MARKER, 0, 18, 4 };
    CHECK_EQ_INT(bgp_msg_check_header(short_len, 19, &len, &type, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 1);
    CHECK_EQ_INT(err.subcode, 2);
    CHECK_EQ_INT(err.data_len, 2);     /* The bad length itself is the data. */
    CHECK_EQ_INT(err.data[1], 18);

    uint8_t long_ka[19] = { MARKER, 0, 20, 4 };
    CHECK_EQ_INT(bgp_msg_check_header(long_ka, 19, &len, &type, &err), EBADMSG);
    CHECK_EQ_INT(err.subcode, 2);

    uint8_t too_long[19] = { MARKER, 0x10, 0x01, 2 };
    CHECK_EQ_INT(bgp_msg_check_header(too_long, 19, &len, &type, &err), EBADMSG);
    CHECK_EQ_INT(err.subcode, 2);

    uint8_t bad_type[19] = { MARKER, 0, 19, 6 };
    CHECK_EQ_INT(bgp_msg_check_header(bad_type, 19, &len, &type, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 1);
    CHECK_EQ_INT(err.subcode, 3);
    CHECK_EQ_INT(err.data[0], 6);

    uint8_t short_open[19] = { MARKER, 0, 28, 1 };
    CHECK_EQ_INT(bgp_msg_check_header(short_open, 19, &len, &type, &err), EBADMSG);
}

static void
test_open(void)
{
    struct bgp_open o = {
        .asn = 64512, .hold_time = 90, .bgp_id = 0x0a000001,
        .families = 1u << BGP_FAM_INET_VPN, .route_refresh = true, .as4_cap = true,
    };
    uint8_t buf[BGP_MAX_MSG];
    static const uint8_t want[] = {
        MARKER, 0, 45, 1,
        4, 0xfc, 0x00, 0, 90, 10, 0, 0, 1, 16,
        2, 14,
        1, 4, 0, 1, 0, 128,
        2, 0,
        65, 4, 0, 0, 0xfc, 0x00,
    };
    size_t n = bgp_open_encode(&o, buf);
    CHECK_EQ_INT(n, sizeof want);
    CHECK(!memcmp(buf, want, sizeof want));

    struct bgp_open d;
    struct bgp_error err;
    CHECK_EQ_INT(bgp_open_decode(buf + 19, n - 19, &d, &err), 0);
    CHECK_EQ_INT(d.asn, 64512);
    CHECK_EQ_INT(d.hold_time, 90);
    CHECK_EQ_INT(d.bgp_id, 0x0a000001);
    CHECK_EQ_INT(d.families, 1u << BGP_FAM_INET_VPN);
    CHECK(d.route_refresh);
    CHECK(d.as4_cap);
    CHECK(!d.gr_cap);

    /* A 4-octet AS goes out as AS_TRANS, with the real one in the capability; GR too. */
    struct bgp_open big = o;
    big.asn = 4200000001u;
    big.families = (1u << BGP_FAM_INET_VPN) | (1u << BGP_FAM_EVPN) | (1u << BGP_FAM_RTARGET);
    big.gr_cap = true;
    big.gr_time = 120;
    big.gr_families = 1u << BGP_FAM_EVPN;
    big.gr_forwarding = 1u << BGP_FAM_EVPN;
    n = bgp_open_encode(&big, buf);
    CHECK_EQ_INT(buf[20], BGP_AS_TRANS >> 8);
    CHECK_EQ_INT(buf[21], BGP_AS_TRANS & 0xff);
    CHECK_EQ_INT(bgp_open_decode(buf + 19, n - 19, &d, &err), 0);
    CHECK_EQ_INT(d.asn, 4200000001u);
    CHECK_EQ_INT(d.my_as2, BGP_AS_TRANS);
    CHECK_EQ_INT(d.families, big.families);
    CHECK(d.gr_cap);
    CHECK_EQ_INT(d.gr_time, 120);
    CHECK_EQ_INT(d.gr_families, 1u << BGP_FAM_EVPN);
    CHECK_EQ_INT(d.gr_forwarding, 1u << BGP_FAM_EVPN);

    /* No capabilities at all: IPv4 unicast only, 2-octet AS. */
    uint8_t plain[] = { 4, 0xfd, 0xe8, 0, 180, 1, 2, 3, 4, 0 };
    CHECK_EQ_INT(bgp_open_decode(plain, sizeof plain, &d, &err), 0);
    CHECK_EQ_INT(d.asn, 65000);
    CHECK_EQ_INT(d.families, 1u << BGP_FAM_INET);

    uint8_t v3[] = { 3, 0xfd, 0xe8, 0, 180, 1, 2, 3, 4, 0 };
    CHECK_EQ_INT(bgp_open_decode(v3, sizeof v3, &d, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 2);
    CHECK_EQ_INT(err.subcode, 1);
    CHECK_EQ_INT(err.data_len, 2);
    CHECK_EQ_INT(err.data[1], 4);

    uint8_t hold1[] = { 4, 0xfd, 0xe8, 0, 2, 1, 2, 3, 4, 0 };
    CHECK_EQ_INT(bgp_open_decode(hold1, sizeof hold1, &d, &err), EBADMSG);
    CHECK_EQ_INT(err.subcode, 6);

    uint8_t id0[] = { 4, 0xfd, 0xe8, 0, 90, 0, 0, 0, 0, 0 };
    CHECK_EQ_INT(bgp_open_decode(id0, sizeof id0, &d, &err), EBADMSG);
    CHECK_EQ_INT(err.subcode, 3);

    uint8_t param1[] = { 4, 0xfd, 0xe8, 0, 90, 1, 2, 3, 4, 3, 1, 1, 0 };
    CHECK_EQ_INT(bgp_open_decode(param1, sizeof param1, &d, &err), EBADMSG);
    CHECK_EQ_INT(err.subcode, 4);

    uint8_t overrun[] = { 4, 0xfd, 0xe8, 0, 90, 1, 2, 3, 4, 4, 2, 9, 1, 4 };
    CHECK_EQ_INT(bgp_open_decode(overrun, sizeof overrun, &d, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 2);

    uint8_t bad_cap[] = { 4, 0xfd, 0xe8, 0, 90, 1, 2, 3, 4, 5, 2, 3, 65, 1, 0 };
    CHECK_EQ_INT(bgp_open_decode(bad_cap, sizeof bad_cap, &d, &err), EBADMSG);

    uint8_t truncated[] = { 4, 0xfd, 0xe8, 0 };
    CHECK_EQ_INT(bgp_open_decode(truncated, sizeof truncated, &d, &err), EBADMSG);
}

/* A VPNv4 UPDATE as a router sends it: 198.51.100.0/24, RD 64512:100, label 1000, next hop
 * 198.51.100.1, AS path 64513, target:64512:100. */
static const uint8_t vpnv4_update[] = {
    0, 0,                                   /* withdrawn length */
    0, 37,                                  /* attributes length */
    0x40, 1, 1, 0,                          /* ORIGIN IGP */
    0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0x01,     /* AS_PATH SEQ(64513) */
    0x80, 14, 32,                           /* MP_REACH */
    0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 1, 0,
    112, 0x00, 0x3e, 0x81, 0, 0, 0xfc, 0x00, 0, 0, 0, 100, 198, 51, 100,
};

static const uint8_t vpnv4_ext[] = { 0xc0, 16, 8, 0, 2, 0xfc, 0x00, 0, 0, 0, 100 };

static void
test_update_vpnv4(void)
{
    uint8_t body[256];
    size_t len = sizeof vpnv4_update;
    memcpy(body, vpnv4_update, len);
    memcpy(body + len, vpnv4_ext, sizeof vpnv4_ext);
    len += sizeof vpnv4_ext;
    body[3] += sizeof vpnv4_ext;
    /* vpnv4_update has 37 attribute bytes only if the count above is right. */
    CHECK_EQ_INT(sizeof vpnv4_update - 4, 4 + 9 + 3 + 32);

    struct bgp_update u;
    struct bgp_error err;
    body[3] = (uint8_t) (len - 4);
    CHECK_EQ_INT(bgp_update_decode(&ebgp4, body, len, &u, &err), 0);
    CHECK(!u.treat_as_withdraw);
    CHECK_EQ_INT(u.n_reach, 1);
    CHECK_EQ_INT(u.n_unreach, 0);
    char s[BGP_PREFIX_STRLEN];
    if (u.n_reach == 1) {
        CHECK_STREQ(bgp_prefix_format(&u.reach[0].p, s, sizeof s), "64512:100:198.51.100.0/24");
        CHECK_EQ_INT(u.reach[0].label, 1000);
        CHECK_EQ_INT(u.reach[0].p.family, BGP_FAM_INET_VPN);
    }
    CHECK_EQ_INT(u.attrs.nexthop.family, 4);
    CHECK(!memcmp(u.attrs.nexthop.addr, "\xc6\x33\x64\x01", 4));
    CHECK_EQ_INT(bgp_attrs_as_path_len(&u.attrs), 1);
    CHECK_EQ_INT(bgp_attrs_first_as(&u.attrs), 64513);
    CHECK_EQ_INT(u.attrs.n_ext_communities, 1);
    if (u.attrs.n_ext_communities) {
        CHECK_STREQ(bgp_ext_community_format(u.attrs.ext_communities[0], s, sizeof s),
                    "target:64512:100");
    }

    /* Our encoding of the same route decodes to the same thing. */
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    size_t n = bgp_update_encode_reach(&ebgp4, BGP_FAM_INET_VPN, &u.attrs, u.reach, 1, buf,
                                       &done);
    CHECK_EQ_INT(done, 1);
    CHECK_EQ_INT(buf[16] << 8 | buf[17], n);
    struct bgp_update v;
    CHECK_EQ_INT(bgp_update_decode(&ebgp4, buf + 19, n - 19, &v, &err), 0);
    CHECK(bgp_attrs_equal(&u.attrs, &v.attrs));
    CHECK_EQ_INT(v.n_reach, 1);
    CHECK(v.n_reach == 1 && !memcmp(&v.reach[0], &u.reach[0], sizeof v.reach[0]));
    bgp_update_clear(&v);

    /* Withdrawal: label 0x800000, same key. */
    n = bgp_update_encode_unreach(BGP_FAM_INET_VPN, u.reach, 1, buf, &done);
    CHECK_EQ_INT(done, 1);
    CHECK_EQ_INT(bgp_update_decode(&ebgp4, buf + 19, n - 19, &v, &err), 0);
    CHECK_EQ_INT(v.n_unreach, 1);
    CHECK_EQ_INT(v.n_reach, 0);
    CHECK(!v.eor);
    CHECK(v.n_unreach == 1 && !memcmp(&v.unreach[0].p, &u.reach[0].p, sizeof u.reach[0].p));
    bgp_update_clear(&v);
    bgp_update_clear(&u);
}

static void
test_update_inet_exact(void)
{
    struct bgp_attrs a = { 0 };
    a.origin = 0;
    bgp_attrs_prepend_as(&a, 64512);
    a.present |= BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_NEXT_HOP);
    a.nexthop.family = 4;
    memcpy(a.nexthop.addr, "\xc6\x33\x64\x01", 4);
    struct bgp_nlri nl = { 0 };
    nl.p.family = BGP_FAM_INET;
    nl.p.plen = 24;
    memcpy(nl.p.addr, "\xcb\x00\x71", 3);
    static const uint8_t want[] = {
        MARKER, 0, 47, 2,
        0, 0, 0, 20,
        0x40, 1, 1, 0,
        0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0x00,
        0x40, 3, 4, 198, 51, 100, 1,
        24, 203, 0, 113,
    };
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    size_t n = bgp_update_encode_reach(&ebgp4, BGP_FAM_INET, &a, &nl, 1, buf, &done);
    CHECK_EQ_INT(n, sizeof want);
    CHECK(!memcmp(buf, want, sizeof want));

    /* The same with a 2-octet peer: AS_PATH carries 2-byte ASNs. */
    struct bgp_codec two = { .as4 = false };
    n = bgp_update_encode_reach(&two, BGP_FAM_INET, &a, &nl, 1, buf, &done);
    CHECK_EQ_INT(n, sizeof want - 2);
    CHECK_EQ_INT(buf[19 + 4 + 4 + 2], 4);   /* AS_PATH length */
    struct bgp_update u;
    struct bgp_error err;
    CHECK_EQ_INT(bgp_update_decode(&two, buf + 19, n - 19, &u, &err), 0);
    CHECK_EQ_INT(bgp_attrs_first_as(&u.attrs), 64512);
    CHECK(!u.treat_as_withdraw);
    bgp_update_clear(&u);

    /* Withdrawn routes field for inet. */
    static const uint8_t wd[] = { MARKER, 0, 27, 2, 0, 4, 24, 203, 0, 113, 0, 0 };
    n = bgp_update_encode_unreach(BGP_FAM_INET, &nl, 1, buf, &done);
    CHECK_EQ_INT(n, sizeof wd);
    CHECK(!memcmp(buf, wd, sizeof wd));
    bgp_attrs_clear(&a);
}

static void
roundtrip(enum bgp_family f, const struct bgp_nlri *nl, const struct bgp_attrs *a,
          const char *text)
{
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    size_t n = bgp_update_encode_reach(&ibgp4, f, a, nl, 1, buf, &done);
    CHECK_EQ_INT(done, 1);
    struct bgp_update u;
    struct bgp_error err;
    CHECK_EQ_INT(bgp_update_decode(&ibgp4, buf + 19, n - 19, &u, &err), 0);
    CHECK(!u.treat_as_withdraw);
    CHECK_EQ_INT(u.n_reach, 1);
    if (u.n_reach == 1) {
        CHECK(!memcmp(&u.reach[0], nl, sizeof *nl));
        char s[BGP_PREFIX_STRLEN];
        CHECK_STREQ(bgp_prefix_format(&u.reach[0].p, s, sizeof s), text);
    }
    CHECK(bgp_attrs_equal(&u.attrs, a));
    bgp_update_clear(&u);

    n = bgp_update_encode_unreach(f, nl, 1, buf, &done);
    CHECK_EQ_INT(bgp_update_decode(&ibgp4, buf + 19, n - 19, &u, &err), 0);
    CHECK_EQ_INT(u.n_unreach, 1);
    CHECK(u.n_unreach == 1 && !memcmp(&u.unreach[0].p, &nl->p, sizeof nl->p));
    bgp_update_clear(&u);

    n = bgp_update_encode_eor(f, buf);
    CHECK_EQ_INT(bgp_update_decode(&ibgp4, buf + 19, n - 19, &u, &err), 0);
    CHECK(u.eor);
    CHECK_EQ_INT(u.eor_family, f);
    bgp_update_clear(&u);
}

static void
base_attrs(struct bgp_attrs *a)
{
    memset(a, 0, sizeof *a);
    a->present = BGP_ATTR_BIT(BGP_ATTR_ORIGIN) | BGP_ATTR_BIT(BGP_ATTR_AS_PATH)
        | BGP_ATTR_BIT(BGP_ATTR_LOCAL_PREF) | BGP_ATTR_BIT(BGP_ATTR_MED);
    a->local_pref = 200;
    a->med = 7;
    a->nexthop.family = 4;
    memcpy(a->nexthop.addr, "\xc6\x33\x64\x0b", 4);
    uint64_t ec;
    CHECK(bgp_ext_community_parse("target:64512:8000001", &ec));
    bgp_attrs_add_ext_community(a, ec);
    CHECK(bgp_ext_community_parse("encapsulation:udp", &ec));
    bgp_attrs_add_ext_community(a, ec);
    bgp_attrs_add_community(a, 0xffffff01);
}

static void
test_families(void)
{
    struct bgp_attrs a;
    base_attrs(&a);
    struct bgp_nlri nl;

    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_INET6_VPN;
    CHECK(bgp_rd_parse("198.51.100.11:3", nl.p.rd));
    inet_pton(AF_INET6, "2001:db8:1::", nl.p.addr);
    nl.p.plen = 48;
    nl.label = 17;
    roundtrip(BGP_FAM_INET6_VPN, &nl, &a, "198.51.100.11:3:2001:db8:1::/48");

    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_INET6;
    inet_pton(AF_INET6, "2001:db8::1", nl.p.addr);
    nl.p.plen = 128;
    roundtrip(BGP_FAM_INET6, &nl, &a, "2001:db8::1/128");

    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_EVPN;
    nl.p.evpn_type = 2;
    CHECK(bgp_rd_parse("64512:5", nl.p.rd));
    memcpy(nl.p.mac, "\x00\x11\x22\x33\x44\x55", 6);
    nl.p.ip_len = 32;
    memcpy(nl.p.addr, "\xc6\x33\x64\x05", 4);
    nl.label = 5000;
    roundtrip(BGP_FAM_EVPN, &nl, &a, "2-64512:5-0-00:11:22:33:44:55,198.51.100.5");
    nl.p.ip_len = 0;
    memset(nl.p.addr, 0, 4);
    nl.label2 = 9;
    nl.has_label2 = true;
    roundtrip(BGP_FAM_EVPN, &nl, &a, "2-64512:5-0-00:11:22:33:44:55,0.0.0.0");

    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_EVPN;
    nl.p.evpn_type = 3;
    CHECK(bgp_rd_parse("64512:5", nl.p.rd));
    nl.p.ip_len = 32;
    memcpy(nl.p.addr, "\xc6\x33\x64\x0b", 4);
    roundtrip(BGP_FAM_EVPN, &nl, &a, "3-64512:5-0-198.51.100.11");

    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_RTARGET;
    nl.p.origin_as = 64512;
    nl.p.plen = 64;
    uint64_t rt;
    CHECK(bgp_ext_community_parse("target:64512:8000001", &rt));
    for (int i = 0; i < 8; i++) {
        nl.p.rt[i] = (uint8_t) (rt >> (56 - 8 * i));
    }
    roundtrip(BGP_FAM_RTARGET, &nl, &a, "64512:target:64512:8000001/96");
    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_RTARGET;
    roundtrip(BGP_FAM_RTARGET, &nl, &a, "0:0:0/0");

    /* The EVPN type-2 NLRI bytes, exactly. */
    memset(&nl, 0, sizeof nl);
    nl.p.family = BGP_FAM_EVPN;
    nl.p.evpn_type = 2;
    CHECK(bgp_rd_parse("64512:5", nl.p.rd));
    memcpy(nl.p.mac, "\x00\x11\x22\x33\x44\x55", 6);
    nl.p.ip_len = 32;
    memcpy(nl.p.addr, "\xc6\x33\x64\x05", 4);
    nl.label = 5000;
    uint8_t buf[BGP_MAX_MSG];
    size_t done;
    size_t n = bgp_update_encode_reach(&ibgp4, BGP_FAM_EVPN, &a, &nl, 1, buf, &done);
    static const uint8_t want_nlri[] = {
        2, 37, 0, 0, 0xfc, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        48, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 32, 198, 51, 100, 5, 0x01, 0x38, 0x81,
    };
    CHECK(n > sizeof want_nlri && !memcmp(buf + n - sizeof want_nlri, want_nlri,
                                          sizeof want_nlri));

    /* With the VXLAN encapsulation community the field is the 24-bit VNI (RFC 8365). */
    uint64_t vx;
    CHECK(bgp_ext_community_parse("encapsulation:vxlan", &vx));
    bgp_attrs_add_ext_community(&a, vx);
    nl.label = 0x123456;
    n = bgp_update_encode_reach(&ibgp4, BGP_FAM_EVPN, &a, &nl, 1, buf, &done);
    CHECK(!memcmp(buf + n - 3, "\x12\x34\x56", 3));
    struct bgp_update u;
    struct bgp_error err;
    CHECK_EQ_INT(bgp_update_decode(&ibgp4, buf + 19, n - 19, &u, &err), 0);
    CHECK(u.n_reach == 1 && u.reach[0].label == 0x123456);
    bgp_update_clear(&u);
    bgp_attrs_clear(&a);
}

/* Builds an UPDATE body: inet NLRI 203.0.113.0/24 with the given attribute bytes. */
static size_t
inet_update(uint8_t *body, const uint8_t *attrs, size_t alen)
{
    body[0] = 0;
    body[1] = 0;
    body[2] = (uint8_t) (alen >> 8);
    body[3] = (uint8_t) alen;
    memcpy(body + 4, attrs, alen);
    memcpy(body + 4 + alen, "\x18\xcb\x00\x71", 4);
    return 8 + alen;
}

#define GOOD_ORIGIN 0x40, 1, 1, 0
#define GOOD_ASPATH 0x40, 2, 6, 2, 1, 0, 0, 0xfc, 0x01
#define GOOD_NH 0x40, 3, 4, 198, 51, 100, 1

static int
decode_attrs(const uint8_t *attrs, size_t alen, struct bgp_update *u, struct bgp_error *err)
{
    uint8_t body[512];
    size_t len = inet_update(body, attrs, alen);
    return bgp_update_decode(&ebgp4, body, len, u, err);
}

static void
expect_withdraw(const uint8_t *attrs, size_t alen, int line)
{
    struct bgp_update u;
    struct bgp_error err;
    int rc = decode_attrs(attrs, alen, &u, &err);
    if (rc || !u.treat_as_withdraw || u.n_reach != 1) {
        fprintf(stderr, "line %d: expected treat-as-withdraw (rc %d)\n", line, rc);
    }
    CHECK_EQ_INT(rc, 0);
    CHECK(u.treat_as_withdraw);
    CHECK_EQ_INT(u.n_reach, 1);
    bgp_update_clear(&u);
}

static void
expect_reset(const uint8_t *attrs, size_t alen, int code, int subcode, int line)
{
    struct bgp_update u;
    struct bgp_error err = { 0 };
    int rc = decode_attrs(attrs, alen, &u, &err);
    if (rc != EBADMSG || err.code != code || err.subcode != subcode) {
        fprintf(stderr, "line %d: expected %d/%d, got rc %d %d/%d\n", line, code, subcode, rc,
                err.code, err.subcode);
    }
    CHECK_EQ_INT(rc, EBADMSG);
    CHECK_EQ_INT(err.code, code);
    CHECK_EQ_INT(err.subcode, subcode);
    bgp_update_clear(&u);
}

#define WITHDRAW(...) do { const uint8_t a_[] = { __VA_ARGS__ }; \
        expect_withdraw(a_, sizeof a_, __LINE__); } while (0)
#define RESET(CODE, SUB, ...) do { const uint8_t a_[] = { __VA_ARGS__ }; \
        expect_reset(a_, sizeof a_, CODE, SUB, __LINE__); } while (0)

static void
test_rfc7606(void)
{
    struct bgp_update u;
    struct bgp_error err;
    {
        const uint8_t good[] = { GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH };
        CHECK_EQ_INT(decode_attrs(good, sizeof good, &u, &err), 0);
        CHECK(!u.treat_as_withdraw);
        CHECK_EQ_INT(u.n_reach, 1);
        bgp_update_clear(&u);
    }
    /* Treat-as-withdraw cases. */
    WITHDRAW(0x40, 1, 1, 5, GOOD_ASPATH, GOOD_NH);                  /* ORIGIN value */
    WITHDRAW(0x40, 1, 2, 0, 0, GOOD_ASPATH, GOOD_NH);               /* ORIGIN length */
    WITHDRAW(0xc0, 1, 1, 0, GOOD_ASPATH, GOOD_NH);                  /* ORIGIN flags */
    WITHDRAW(GOOD_ORIGIN, GOOD_NH);                                 /* AS_PATH missing */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH);                             /* NEXT_HOP missing */
    WITHDRAW(GOOD_ORIGIN, 0x40, 2, 6, 2, 2, 0, 0, 0xfc, 0x01, GOOD_NH); /* segment overrun */
    WITHDRAW(GOOD_ORIGIN, 0x40, 2, 2, 2, 0, GOOD_NH);               /* empty segment */
    WITHDRAW(GOOD_ORIGIN, 0x40, 2, 6, 7, 1, 0, 0, 0xfc, 0x01, GOOD_NH); /* segment type */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, 0x40, 3, 5, 1, 2, 3, 4, 5);  /* NEXT_HOP length */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x80, 4, 3, 0, 0, 1);      /* MED length */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0xc0, 8, 3, 0, 0, 1);      /* COMMUNITIES */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0xc0, 16, 4, 0, 2, 0, 1);  /* EXT_COMM */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x80, 9, 2, 0, 1);         /* ORIGINATOR_ID */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x80, 10, 3, 0, 1, 2);     /* CLUSTER_LIST */
    WITHDRAW(GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x80, 4, 40, 0, 0);        /* overrun */

    /* Attribute discard: ATOMIC_AGGREGATE and AGGREGATOR with a bad length. */
    {
        const uint8_t a[] = { GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x40, 6, 1, 0,
                              0xc0, 7, 3, 1, 2, 3 };
        CHECK_EQ_INT(decode_attrs(a, sizeof a, &u, &err), 0);
        CHECK(!u.treat_as_withdraw);
        CHECK_EQ_INT(u.discarded, 2);
        bgp_update_clear(&u);
    }
    /* A repeated attribute: the first one counts. */
    {
        const uint8_t a[] = { GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x40, 1, 1, 2 };
        CHECK_EQ_INT(decode_attrs(a, sizeof a, &u, &err), 0);
        CHECK(!u.treat_as_withdraw);
        CHECK_EQ_INT(u.attrs.origin, 0);
        bgp_update_clear(&u);
    }
    /* Unknown optional attributes are ignored. */
    {
        const uint8_t a[] = { GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0xc0, 99, 2, 1, 2 };
        CHECK_EQ_INT(decode_attrs(a, sizeof a, &u, &err), 0);
        CHECK(!u.treat_as_withdraw);
        bgp_update_clear(&u);
    }

    /* Session reset cases. */
    RESET(3, 2, GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x40, 99, 1, 0);   /* unknown well-known */
    RESET(3, 1, GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH,                    /* MP_UNREACH twice */
          0x80, 15, 3, 0, 1, 128, 0x80, 15, 3, 0, 1, 128);
    RESET(3, 9, GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH,                    /* MP_REACH NLRI bad */
          0x80, 14, 19, 0, 1, 128, 12, 0, 0, 0, 0, 0, 0, 0, 0, 198, 51, 100, 1, 0, 200, 0);
    RESET(3, 9, GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH,                    /* MP next hop length */
          0x80, 14, 10, 0, 1, 128, 5, 1, 2, 3, 4, 5, 0);
    RESET(3, 9, GOOD_ORIGIN, GOOD_ASPATH, GOOD_NH, 0x80, 14, 2, 0, 1); /* MP_REACH short */
    RESET(3, 1, GOOD_ORIGIN, GOOD_ASPATH, 0x80, 14, 40, 0, 1);         /* MP_REACH overrun */

    /* Field-level errors. */
    {
        uint8_t body[] = { 0, 9, 24, 1, 2 };                /* withdrawn length overrun */
        CHECK_EQ_INT(bgp_update_decode(&ebgp4, body, sizeof body, &u, &err), EBADMSG);
        CHECK_EQ_INT(err.code, 3);
        CHECK_EQ_INT(err.subcode, 1);
        bgp_update_clear(&u);
        uint8_t body2[] = { 0, 0, 0, 9, 0x40 };             /* attribute length overrun */
        CHECK_EQ_INT(bgp_update_decode(&ebgp4, body2, sizeof body2, &u, &err), EBADMSG);
        CHECK_EQ_INT(err.subcode, 1);
        bgp_update_clear(&u);
        uint8_t body3[] = { 0, 0, 0, 0, 33, 1, 2, 3, 4, 5 };  /* prefix length 33 */
        CHECK_EQ_INT(bgp_update_decode(&ebgp4, body3, sizeof body3, &u, &err), EBADMSG);
        CHECK_EQ_INT(err.subcode, 10);
        bgp_update_clear(&u);
        uint8_t body4[] = { 0, 0, 0, 0, 24, 1, 2 };            /* truncated prefix */
        CHECK_EQ_INT(bgp_update_decode(&ebgp4, body4, sizeof body4, &u, &err), EBADMSG);
        CHECK_EQ_INT(err.subcode, 10);
        bgp_update_clear(&u);
        uint8_t eor[] = { 0, 0, 0, 0 };
        CHECK_EQ_INT(bgp_update_decode(&ebgp4, eor, sizeof eor, &u, &err), 0);
        CHECK(u.eor);
        CHECK_EQ_INT(u.eor_family, BGP_FAM_INET);
        bgp_update_clear(&u);
    }
}

static void
test_other_messages(void)
{
    uint8_t buf[BGP_MAX_MSG];
    struct bgp_error e = { .code = 6, .subcode = 2, .data_len = 0 };
    static const uint8_t want_notif[] = { MARKER, 0, 21, 3, 6, 2 };
    CHECK_EQ_INT(bgp_notification_encode(&e, buf), sizeof want_notif);
    CHECK(!memcmp(buf, want_notif, sizeof want_notif));
    struct bgp_error out, err;
    uint8_t body[] = { 3, 1, 0xaa };
    CHECK_EQ_INT(bgp_notification_decode(body, 3, &out, &err), 0);
    CHECK_EQ_INT(out.code, 3);
    CHECK_EQ_INT(out.data_len, 1);
    CHECK_EQ_INT(bgp_notification_decode(body, 1, &out, &err), EBADMSG);

    static const uint8_t want_rr[] = { MARKER, 0, 23, 5, 0, 25, 0, 70 };
    CHECK_EQ_INT(bgp_route_refresh_encode(BGP_FAM_EVPN, buf), sizeof want_rr);
    CHECK(!memcmp(buf, want_rr, sizeof want_rr));
    int fam;
    CHECK_EQ_INT(bgp_route_refresh_decode(buf + 19, 4, &fam, &err), 0);
    CHECK_EQ_INT(fam, BGP_FAM_EVPN);
    CHECK_EQ_INT(bgp_route_refresh_decode(buf + 19, 5, &fam, &err), EBADMSG);
    CHECK_EQ_INT(err.code, 7);
    CHECK_EQ_INT(err.subcode, 1);
}

static void
test_text(void)
{
    uint8_t rd[8];
    char s[64];
    CHECK(bgp_rd_parse("64512:100", rd));
    CHECK(!memcmp(rd, "\x00\x00\xfc\x00\x00\x00\x00\x64", 8));
    CHECK_STREQ(bgp_rd_format(rd, s, sizeof s), "64512:100");
    CHECK(bgp_rd_parse("198.51.100.1:7", rd));
    CHECK(!memcmp(rd, "\x00\x01\xc6\x33\x64\x01\x00\x07", 8));
    CHECK_STREQ(bgp_rd_format(rd, s, sizeof s), "198.51.100.1:7");
    CHECK(bgp_rd_parse("4200000000:7", rd));
    CHECK_STREQ(bgp_rd_format(rd, s, sizeof s), "4200000000:7");
    CHECK(!bgp_rd_parse("4200000000:70000", rd));
    CHECK(!bgp_rd_parse("x:1", rd));
    CHECK(!bgp_rd_parse("100", rd));
    CHECK(!bgp_rd_parse("1.2.3.4:99999", rd));
    uint64_t ec;
    CHECK(bgp_ext_community_parse("target:198.51.100.1:3", &ec));
    CHECK_STREQ(bgp_ext_community_format(ec, s, sizeof s), "target:198.51.100.1:3");
    CHECK(bgp_ext_community_parse("encapsulation:gre", &ec));
    CHECK_EQ_INT(ec, 0x030c000000000002ULL);
    CHECK(!bgp_ext_community_parse("encapsulation:pigeon", &ec));
    CHECK(!bgp_ext_community_parse("color:1", &ec));
    CHECK_EQ_INT(bgp_family_from_name("inet-vpn"), BGP_FAM_INET_VPN);
    CHECK_EQ_INT(bgp_family_from_name("evpn"), BGP_FAM_EVPN);
    CHECK_EQ_INT(bgp_family_from_name("bgp.l3vpn-inet6.0"), BGP_FAM_INET6_VPN);
    CHECK_EQ_INT(bgp_family_from_name("nope"), -1);
    CHECK_EQ_INT(bgp_family_from_afi_safi(25, 70), BGP_FAM_EVPN);
    CHECK_EQ_INT(bgp_family_from_afi_safi(1, 2), -1);
}

int
main(void)
{
    test_header();
    test_open();
    test_update_vpnv4();
    test_update_inet_exact();
    test_families();
    test_rfc7606();
    test_other_messages();
    test_text();
    return check_finish();
}
