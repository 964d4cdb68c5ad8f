/* Unit tests of control/xmpp/xmpp_proto: the splitter, the decoder and the encoders, with
 * round trips for every route family and the malformed inputs a peer can send. */
#include "xmpp_proto.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mem.h"

static const char open_text[] =
    "<?xml version='1.0'?><stream:stream from='agent1' to='network-control@contrailsystems.com'"
    " version='1.0' xml:lang='en' xmlns='jabber:client'"
    " xmlns:stream='http://etherx.jabber.org/streams'>";

static char *
evb_string(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    evbuffer_copyout(b, s, n);
    s[n] = '\0';
    return s;
}

/* Splits TEXT (after a stream open) and decodes every stanza into EVS (up to MAX).  Returns
 * the number of events, or -1 on the first error (message in ERRBUF). */
static int
decode_all(const char *text, size_t len, struct xmpp_event *evs, int max, char *errbuf)
{
    struct xmpp_splitter sp;
    struct xmpp_decoder dec;
    xmpp_splitter_init(&sp, 0);
    xmpp_decoder_init(&dec);
    xmpp_splitter_feed(&sp, open_text, strlen(open_text));
    xmpp_splitter_feed(&sp, text, len);
    int n = 0;
    errbuf[0] = '\0';
    for (;;) {
        struct xmpp_frame f;
        int err = xmpp_splitter_next(&sp, &f);
        if (err) {
            snprintf(errbuf, 256, "split: %s", sp.error);
            n = -1;
            break;
        }
        if (f.type == XMPP_FRAME_NONE || f.type == XMPP_FRAME_CLOSE) {
            break;
        }
        if (f.type == XMPP_FRAME_OPEN) {
            continue;
        }
        struct xmpp_event ev;
        if (xmpp_decode_stanza(&dec, f.data, f.len, &ev)) {
            snprintf(errbuf, 256, "%s: %.200s", dec.condition, dec.error);
            xmpp_event_clear(&ev);
            n = -1;
            break;
        }
        if (ev.type == XMPP_EV_NONE) {
            xmpp_event_clear(&ev);
            continue;
        }
        if (n < max) {
            evs[n++] = ev;
        } else {
            xmpp_event_clear(&ev);
        }
    }
    xmpp_decoder_destroy(&dec);
    xmpp_splitter_destroy(&sp);
    return n;
}

static void
clear_all(struct xmpp_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        xmpp_event_clear(&evs[i]);
    }
}

/* Expects TEXT to fail to decode, with an error mentioning NEEDLE. */
static void
expect_error(const char *text, const char *needle)
{
    struct xmpp_event evs[4];
    char err[256];
    int n = decode_all(text, strlen(text), evs, 4, err);
    CHECK_EQ_INT(n, -1);
    if (n >= 0) {
        fprintf(stderr, "  unexpectedly decoded: %s\n", text);
        clear_all(evs, n);
    } else {
        CHECK_CONTAINS(err, needle);
    }
}

/* --- Splitter ---------------------------------------------------------------------------- */

static void
test_splitter_basic(void)
{
    const char *in = "<?xml version='1.0'?>\n<stream:stream from='a' to='b'>"
                     "  \xc8\x80<iq type='set' a='x>y'><pubsub><!-- <c> --><![CDATA[ <x> ]]>"
                     "</pubsub></iq>\r\n\t<message/>\xc8\x80<x><y/><z a=\"'\"></z></x>"
                     "</stream:stream>trailing garbage is ignored";
    const char *want[] = { "<stream:stream from='a' to='b'>",
                           "<iq type='set' a='x>y'><pubsub><!-- <c> --><![CDATA[ <x> ]]>"
                           "</pubsub></iq>",
                           "<message/>", "<x><y/><z a=\"'\"></z></x>", "</stream:stream>" };
    enum xmpp_frame_type types[] = { XMPP_FRAME_OPEN, XMPP_FRAME_STANZA, XMPP_FRAME_STANZA,
                                     XMPP_FRAME_STANZA, XMPP_FRAME_CLOSE };
    /* Once in one piece, once byte by byte: the same frames. */
    for (int mode = 0; mode < 2; mode++) {
        struct xmpp_splitter sp;
        xmpp_splitter_init(&sp, 0);
        size_t len = strlen(in), fed = 0;
        int got = 0;
        bool bad = false;
        while (got < 5 && !bad) {
            struct xmpp_frame f;
            if (xmpp_splitter_next(&sp, &f)) {
                bad = true;
                break;
            }
            if (f.type == XMPP_FRAME_NONE) {
                if (fed == len) {
                    break;
                }
                size_t n = mode ? 1 : len;
                xmpp_splitter_feed(&sp, in + fed, n);
                fed += n;
                continue;
            }
            CHECK_EQ_INT(f.type, types[got]);
            CHECK_EQ_INT(f.len, strlen(want[got]));
            CHECK(f.len == strlen(want[got]) && !memcmp(f.data, want[got], f.len));
            got++;
        }
        CHECK(!bad);
        CHECK_EQ_INT(got, 5);
        xmpp_splitter_destroy(&sp);
    }
}

static int
split_error(const char *in, size_t len, size_t max, char *msg)
{
    struct xmpp_splitter sp;
    xmpp_splitter_init(&sp, max);
    xmpp_splitter_feed(&sp, in, len);
    int err = 0;
    for (int i = 0; i < 100 && !err; i++) {
        struct xmpp_frame f;
        err = xmpp_splitter_next(&sp, &f);
        if (!err && f.type == XMPP_FRAME_NONE) {
            break;
        }
    }
    snprintf(msg, 128, "%s", sp.error);
    xmpp_splitter_destroy(&sp);
    return err;
}

static void
test_splitter_errors(void)
{
    char msg[128];
    CHECK_EQ_INT(split_error("<iq/>", 5, 0, msg), EBADMSG);
    CHECK_CONTAINS(msg, "before the stream open");
    const char *s = "<stream:stream>hello";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    s = "<stream:stream><stream:stream>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    CHECK_CONTAINS(msg, "second stream open");
    s = "<stream:stream><iq><!DOCTYPE x [<!ENTITY a 'b'>]></iq>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    CHECK_CONTAINS(msg, "unsupported markup");
    s = "<stream:stream></iq>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    s = "<stream:stream><iq a='1' <b>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    s = "<stream:stream><?xml version='1.0'?>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    s = "<stream:stream>\xc8\x81";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    s = "<stream:stream><>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), EBADMSG);
    /* Nesting beyond the limit. */
    size_t deep = 5000;
    char *d = malloc(20 + deep * 3);
    strcpy(d, "<stream:stream>");
    size_t o = strlen(d);
    for (size_t i = 0; i < deep; i++) {
        memcpy(d + o, "<a>", 3);
        o += 3;
    }
    CHECK_EQ_INT(split_error(d, o, 0, msg), EBADMSG);
    CHECK_CONTAINS(msg, "nested too deep");
    free(d);

    /* A frame over the limit is refused before it completes, also when it never ends. */
    size_t big = 70000;
    char *b = malloc(big + 64);
    o = (size_t) sprintf(b, "<stream:stream><iq>");
    memset(b + o, 'x', big);
    o += big;
    CHECK_EQ_INT(split_error(b, o, 65536, msg), EMSGSIZE);
    CHECK_CONTAINS(msg, "larger than");
    /* The same stanza is fine under the default 4 MB limit. */
    o += (size_t) sprintf(b + o, "</iq>");
    CHECK_EQ_INT(split_error(b, o, 0, msg), 0);
    free(b);
    /* A truncated stanza just waits for more. */
    s = "<stream:stream><iq type='set'><pubsub>";
    CHECK_EQ_INT(split_error(s, strlen(s), 0, msg), 0);
}

/* --- Stream open ------------------------------------------------------------------------- */

static void
test_open(void)
{
    struct xmpp_open o;
    char err[128];
    const char *t = "<stream:stream from='a&amp;b' to=\"x&#65;&#x42;\" xmlns='sub1' "
                    "xmlns:stream='http://etherx.jabber.org/streams' id='++3' version='1.0'>";
    CHECK_EQ_INT(xmpp_open_decode(t, strlen(t), &o, err, sizeof err), 0);
    CHECK_STREQ(o.from, "a&b");
    CHECK_STREQ(o.to, "xAB");
    CHECK_STREQ(o.id, "++3");
    CHECK_STREQ(o.subcluster, "sub1");
    xmpp_open_clear(&o);
    t = "<stream:stream from='agent' xmlns='jabber:client'/>";
    CHECK_EQ_INT(xmpp_open_decode(t, strlen(t), &o, err, sizeof err), 0);
    CHECK_STREQ(o.subcluster, "");
    CHECK(o.to == NULL);
    xmpp_open_clear(&o);

    const char *bad[] = {
        "<stream:stream from=agent>", "<stream:stream from='a' from='b'>",
        "<stream:stream from='a&bogus;'>", "<stream:stream from='&#0;'>",
        "<stream:stream from='&#xD800;'>", "<stream:stream from='a'to='b'>",
        "<stream:stream from='a>", "<stream:stream from='\xff\xfe'>",
        "<stream:stream from='<'>", "<stream:stream =''>", "<stream:streamx>",
        "<stream:stream from='&#99999999;'>", "<stream:stream from='\xc0\x80'>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int e = xmpp_open_decode(bad[i], strlen(bad[i]), &o, err, sizeof err);
        CHECK_EQ_INT(e, EBADMSG);
        if (!e) {
            fprintf(stderr, "  accepted: %s\n", bad[i]);
        }
        xmpp_open_clear(&o);
    }

    struct evbuffer *b = evbuffer_new();
    xmpp_encode_open(b, "a'b", XMPP_CONTROL_JID, "sub<1>", "++7");
    char *s = evb_string(b);
    CHECK_CONTAINS(s, "from='a&apos;b'");
    /* The open is split out as a frame and decodes back. */
    struct xmpp_splitter sp;
    xmpp_splitter_init(&sp, 0);
    xmpp_splitter_feed(&sp, s, strlen(s));
    struct xmpp_frame f;
    CHECK_EQ_INT(xmpp_splitter_next(&sp, &f), 0);
    CHECK_EQ_INT(f.type, XMPP_FRAME_OPEN);
    CHECK_EQ_INT(xmpp_open_decode(f.data, f.len, &o, err, sizeof err), 0);
    CHECK_STREQ(o.from, "a'b");
    CHECK_STREQ(o.subcluster, "sub<1>");
    CHECK_STREQ(o.id, "++7");
    xmpp_open_clear(&o);
    xmpp_splitter_destroy(&sp);
    free(s);
    evbuffer_free(b);
}

/* --- Keys -------------------------------------------------------------------------------- */

static void
test_keys(void)
{
    struct xmpp_route r;
    memset(&r, 0, sizeof r);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_INET, "10.1.1.7/24"), 0);
    CHECK_STREQ(r.key, "10.1.1.0/24");
    CHECK_EQ_INT(r.plen, 24);
    CHECK_EQ_INT(r.addr[0], 10);
    CHECK_EQ_INT(r.addr[3], 0);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_INET, "10.1.1.7/32/5"), 0);
    CHECK_STREQ(r.key, "10.1.1.7/32");
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_INET6, "2001:db8::1/128"), 0);
    CHECK_STREQ(r.key, "2001:db8::1/128");
    CHECK_EQ_INT(r.addr[1], 0x01);
    CHECK_EQ_INT(r.addr[15], 1);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_ENET, "10-00:11:22:AA:bb:cc,10.1.1.3/32"), 0);
    CHECK_STREQ(r.key, "10-00:11:22:aa:bb:cc,10.1.1.3/32");
    CHECK_EQ_INT(r.etag, 10);
    CHECK_EQ_INT(r.mac[3], 0xaa);
    CHECK_EQ_INT(r.ip_family, 4);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_ENET, "ff:ff:ff:ff:ff:ff"), 0);
    CHECK_EQ_INT(r.ip_family, 0);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_MCAST, "192.168.0.1:3:224.1.2.3,10.0.0.1"), 0);
    CHECK_STREQ(r.key, "224.1.2.3,10.0.0.1");
    CHECK_EQ_INT(r.group[0], 224);
    CHECK_EQ_INT(r.source[3], 1);

    const char *bad_inet[] = { "10.1.1.1", "10.1.1.1/33", "2001:db8::/64", "x/1",
                               "10.1.1.1/32/x", "" };
    for (size_t i = 0; i < sizeof bad_inet / sizeof bad_inet[0]; i++) {
        CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_INET, bad_inet[i]), EINVAL);
    }
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_INET6, "10.0.0.0/8"), EINVAL);
    const char *bad_enet[] = { "00:11:22:33:44", "00:11:22:33:44:55,1.2.3.4",
                               "x-00:11:22:33:44:55", "00:11:22:33:44:55:66",
                               "0 :11:22:33:44:55" };
    for (size_t i = 0; i < sizeof bad_enet / sizeof bad_enet[0]; i++) {
        CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_ENET, bad_enet[i]), EINVAL);
    }
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_MCAST, "224.1.1.1"), EINVAL);
    CHECK_EQ_INT(xmpp_route_set_key(&r, XMPP_FAM_MCAST, "ff02::1,::"), EINVAL);
    xmpp_route_clear(&r);
}

/* --- Route round trips ------------------------------------------------------------------- */

static void
fill_route(struct xmpp_route *r, enum xmpp_family fam, const char *vrf, const char *key)
{
    memset(r, 0, sizeof *r);
    CHECK_EQ_INT(xmpp_route_set_key(r, fam, key), 0);
    xmpp_route_set_vrf(r, vrf);
    struct xmpp_nexthop *nh = xmpp_route_add_nexthop(r);
    CHECK_EQ_INT(xmpp_nexthop_set_address(nh, "198.51.100.11"), 0);
    nh->label = 25;
    nh->label_last = 25;
    nh->encap = XMPP_ENCAP_GRE | XMPP_ENCAP_UDP;
    nh->has_mac = true;
    memcpy(nh->mac, "\x00\x11\x22\x33\x44\x55", 6);
    xmpp_nexthop_set_vn(nh, "default-domain:admin:vn1");
    xmpp_nexthop_add_tag(nh, 7);
    xmpp_nexthop_add_tag(nh, 8);
    if (fam == XMPP_FAM_ENET) {
        nh->l3_label = 5001;
        nh->encap = XMPP_ENCAP_VXLAN;
    }
    if (fam == XMPP_FAM_MCAST) {
        nh->label = 1024;
        nh->label_last = 3071;
        nh->label_range = true;
    }
    xmpp_route_set_vn(r, "default-domain:admin:vn1");
    xmpp_route_add_sg(r, 8000002);
    xmpp_route_add_sg(r, 8000003);
    xmpp_route_add_community(r, "no-export");
    r->has_mobility = true;
    r->mobility_seq = 4;
    r->sticky = true;
    r->seq = 4;
    r->local_pref = 200;
    r->med = 100;
    xmpp_route_set_sub_protocol(r, "interface");
}

static bool
same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void
compare_routes(const struct xmpp_route *a, const struct xmpp_route *b)
{
    CHECK_EQ_INT(a->family, b->family);
    CHECK_STREQ(a->vrf, b->vrf);
    CHECK_STREQ(a->key, b->key);
    CHECK(!memcmp(a->addr, b->addr, 16) && a->plen == b->plen && a->etag == b->etag
          && !memcmp(a->mac, b->mac, 6) && !memcmp(a->group, b->group, 4)
          && !memcmp(a->source, b->source, 4));
    CHECK_EQ_INT(a->n_nh, b->n_nh);
    for (size_t i = 0; i < a->n_nh && i < b->n_nh; i++) {
        const struct xmpp_nexthop *x = &a->nh[i], *y = &b->nh[i];
        CHECK_STREQ(x->address, y->address);
        CHECK(!memcmp(x->addr, y->addr, 16) && x->family == y->family);
        CHECK_EQ_INT(x->label, y->label);
        CHECK_EQ_INT(x->label_last, y->label_last);
        CHECK_EQ_INT(x->label_range, y->label_range);
        CHECK_EQ_INT(x->l3_label, y->l3_label);
        CHECK_EQ_INT(x->encap, y->encap);
        CHECK(x->has_mac == y->has_mac && !memcmp(x->mac, y->mac, 6));
        CHECK(same_str(x->virtual_network, y->virtual_network));
        CHECK(x->n_tags == y->n_tags && (!x->n_tags || !memcmp(x->tags, y->tags,
                                                              x->n_tags * 4)));
    }
    CHECK(same_str(a->virtual_network, b->virtual_network));
    CHECK(a->n_sgs == b->n_sgs && (!a->n_sgs || !memcmp(a->sgs, b->sgs, a->n_sgs * 4)));
    CHECK_EQ_INT(a->n_communities, b->n_communities);
    if (a->n_communities && b->n_communities) {
        CHECK_STREQ(a->communities[0], b->communities[0]);
    }
    CHECK_EQ_INT(a->seq, b->seq);
    CHECK_EQ_INT(a->has_mobility, b->has_mobility);
    CHECK_EQ_INT(a->mobility_seq, b->mobility_seq);
    CHECK_EQ_INT(a->sticky, b->sticky);
    CHECK_EQ_INT(a->local_pref, b->local_pref);
    CHECK_EQ_INT(a->med, b->med);
    CHECK(same_str(a->sub_protocol, b->sub_protocol));
    CHECK_EQ_INT(a->n_olist, b->n_olist);
}

static void
test_publish_roundtrip(void)
{
    struct {
        enum xmpp_family fam;
        const char *key;
    } cases[] = {
        { XMPP_FAM_INET, "10.1.1.3/32" },
        { XMPP_FAM_INET6, "2001:db8:1::3/128" },
        { XMPP_FAM_ENET, "00:aa:bb:cc:dd:ee,10.1.1.3/32" },
        { XMPP_FAM_ENET, "7-ff:ff:ff:ff:ff:ff,0.0.0.0/32" },
        { XMPP_FAM_MCAST, "255.255.255.255,0.0.0.0" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct xmpp_route r;
        fill_route(&r, cases[i].fam, "default-domain:admin:vn1:vn1 & <co>", cases[i].key);
        struct evbuffer *b = evbuffer_new();
        xmpp_encode_publish(b, "agent'1", &r, true, 3);
        xmpp_encode_publish(b, "agent'1", &r, false, 4);
        char *s = evb_string(b);
        struct xmpp_event evs[4];
        char err[256];
        int n = decode_all(s, strlen(s), evs, 4, err);
        CHECK_EQ_INT(n, 2);
        if (n != 2) {
            fprintf(stderr, "  %s: %s\n%s\n", cases[i].key, err, s);
        } else {
            CHECK_EQ_INT(evs[0].type, XMPP_EV_ROUTE_ADD);
            CHECK_EQ_INT(evs[0].n_routes, 1);
            CHECK_STREQ(evs[0].from, "agent'1");
            CHECK_STREQ(evs[0].vrf, r.vrf);
            compare_routes(&evs[0].routes[0], &r);
            CHECK_EQ_INT(evs[1].type, XMPP_EV_ROUTE_DELETE);
            CHECK_STREQ(evs[1].routes[0].key, r.key);
            CHECK_STREQ(evs[1].routes[0].vrf, r.vrf);
            clear_all(evs, n);
        }
        /* A copy is equal and independent. */
        struct xmpp_route c;
        xmpp_route_copy(&c, &r);
        xmpp_route_clear(&r);
        CHECK_STREQ(c.nh[0].virtual_network, "default-domain:admin:vn1");
        xmpp_route_clear(&c);
        free(s);
        evbuffer_free(b);
    }
}

static void
test_subscribe_eor_config(void)
{
    struct evbuffer *b = evbuffer_new();
    xmpp_encode_route_subscribe(b, "agent1", "default-domain:p:vn:vn", 3, false, true, 1);
    xmpp_encode_route_subscribe(b, "agent1", "default-domain:p:vn2:vn2", 9, true, true, 2);
    xmpp_encode_route_subscribe(b, "agent1", "default-domain:p:vn:vn", 0, false, false, 3);
    xmpp_encode_config_subscribe(b, "agent1",
                                 "virtual-router:default-global-system-config:agent1", true, 4);
    xmpp_encode_config_subscribe(b, "agent1", "virtual-machine:1234", false, 5);
    xmpp_encode_publish_eor(b, "agent1", 6);
    xmpp_encode_eor(b, "agent1", XMPP_CONTROL_JID "/" XMPP_RES_BGP);
    xmpp_encode_config(b, "agent1", "<node type='virtual-router'><name>agent1</name></node>",
                       "<node type='virtual-machine'><name>x</name></node>");
    xmpp_encode_keepalive(b);
    xmpp_encode_stream_error(b, "policy-violation", "too <much>");
    char *s = evb_string(b);
    struct xmpp_event evs[12];
    char err[256];
    int n = decode_all(s, strlen(s), evs, 12, err);
    CHECK_EQ_INT(n, 9);
    if (n == 9) {
        CHECK_EQ_INT(evs[0].type, XMPP_EV_ROUTE_SUBSCRIBE);
        CHECK_STREQ(evs[0].node, "default-domain:p:vn:vn");
        CHECK_EQ_INT(evs[0].instance_id, 3);
        CHECK(!evs[0].no_ribout);
        CHECK_EQ_INT(evs[1].instance_id, 9);
        CHECK(evs[1].no_ribout);
        CHECK_EQ_INT(evs[2].type, XMPP_EV_ROUTE_UNSUBSCRIBE);
        CHECK_EQ_INT(evs[3].type, XMPP_EV_CONFIG_SUBSCRIBE);
        CHECK_STREQ(evs[3].node, "virtual-router:default-global-system-config:agent1");
        CHECK_EQ_INT(evs[4].type, XMPP_EV_CONFIG_UNSUBSCRIBE);
        CHECK_EQ_INT(evs[5].type, XMPP_EV_EOR);
        CHECK_EQ_INT(evs[6].type, XMPP_EV_EOR);
        CHECK_EQ_INT(evs[7].type, XMPP_EV_CONFIG);
        CHECK_CONTAINS(evs[7].config, "<update><node type=\"virtual-router\"><name>agent1");
        CHECK_CONTAINS(evs[7].config, "<delete>");
        CHECK_EQ_INT(evs[8].type, XMPP_EV_STREAM_ERROR);
        CHECK_STREQ(evs[8].node, "policy-violation");
        CHECK_STREQ(evs[8].text, "too <much>");
    } else {
        fprintf(stderr, "  %s\n", err);
    }
    clear_all(evs, n > 0 ? n : 0);
    free(s);
    evbuffer_free(b);
}

static void
test_route_messages(void)
{
    /* 40 routes and 300 retracts: 2 messages of items and 2 of retracts. */
    enum { NR = 40, NU = 300 };
    struct xmpp_route *reach = calloc(NR, sizeof *reach), *unreach = calloc(NU, sizeof *unreach);
    const struct xmpp_route *rp[NR], *up[NU];
    for (int i = 0; i < NR; i++) {
        char key[64];
        snprintf(key, sizeof key, "10.2.%d.%d/32", i / 200, i % 200);
        fill_route(&reach[i], XMPP_FAM_INET, "vrf1", key);
        struct xmpp_nexthop *nh = xmpp_route_add_nexthop(&reach[i]);     /* ECMP */
        xmpp_nexthop_set_address(nh, "198.51.100.12");
        nh->label = 30;
        nh->label_last = 30;
        rp[i] = &reach[i];
    }
    for (int i = 0; i < NU; i++) {
        char key[64];
        snprintf(key, sizeof key, "10.3.%d.%d/32", i / 200, i % 200);
        memset(&unreach[i], 0, sizeof unreach[i]);
        xmpp_route_set_key(&unreach[i], XMPP_FAM_INET, key);
        up[i] = &unreach[i];
    }
    struct evbuffer *b = evbuffer_new();
    CHECK_EQ_INT(xmpp_encode_routes(b, "agent1", XMPP_FAM_INET, "vrf1", rp, NR, up, NU), 4);
    char *s = evb_string(b);
    struct xmpp_event evs[8];
    char err[256];
    int n = decode_all(s, strlen(s), evs, 8, err);
    CHECK_EQ_INT(n, 4);
    if (n == 4) {
        CHECK_EQ_INT(evs[0].type, XMPP_EV_ROUTE_UPDATE);
        CHECK_STREQ(evs[0].vrf, "vrf1");
        CHECK_STREQ(evs[0].to, "agent1/bgp-peer");
        CHECK_EQ_INT(evs[0].n_routes, 32);
        CHECK_EQ_INT(evs[1].n_routes, 8);
        CHECK_EQ_INT(evs[2].n_routes, 256);
        CHECK_EQ_INT(evs[3].n_routes, 44);
        CHECK(!evs[0].deleted[0] && evs[2].deleted[0]);
        CHECK_EQ_INT(evs[0].routes[5].n_nh, 2);
        compare_routes(&evs[1].routes[7], &reach[39]);
        CHECK_STREQ(evs[3].routes[43].key, "10.3.1.99/32");
        CHECK_STREQ(evs[3].routes[43].vrf, "vrf1");
    } else {
        fprintf(stderr, "  %s\n", err);
    }
    clear_all(evs, n > 0 ? n : 0);
    for (int i = 0; i < NR; i++) {
        xmpp_route_clear(&reach[i]);
    }
    for (int i = 0; i < NU; i++) {
        xmpp_route_clear(&unreach[i]);
    }
    free(reach);
    free(unreach);
    free(s);
    evbuffer_free(b);

    /* Control -> agent multicast: the id carries an RD, the olist has next hops. */
    const char *m = "<message from='x' to='agent1/bgp-peer'><event xmlns='"
                    XMPP_NS_PUBSUB "'><items node='1/241/vrf1'><item "
                    "id='10.0.0.1:1:224.0.0.1,0.0.0.0'><entry><nlri><af>1</af><safi>241</safi>"
                    "<group>224.0.0.1</group><source>0.0.0.0</source></nlri><next-hops/>"
                    "<olist><next-hop><af>1</af><address>198.51.100.3</address><label>1030"
                    "</label><tunnel-encapsulation-list><tunnel-encapsulation>gre"
                    "</tunnel-encapsulation><tunnel-encapsulation>bogus</tunnel-encapsulation>"
                    "</tunnel-encapsulation-list></next-hop></olist></entry></item>"
                    "<retract id='10.0.0.1:1:224.0.0.2,0.0.0.0'/></items></event></message>";
    n = decode_all(m, strlen(m), evs, 8, err);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(evs[0].family, XMPP_FAM_MCAST);
        CHECK_EQ_INT(evs[0].n_routes, 2);
        CHECK_STREQ(evs[0].routes[0].key, "224.0.0.1,0.0.0.0");
        CHECK_EQ_INT(evs[0].routes[0].n_olist, 1);
        CHECK_EQ_INT(evs[0].routes[0].olist[0].label, 1030);
        CHECK_EQ_INT(evs[0].routes[0].olist[0].encap, XMPP_ENCAP_GRE);
        CHECK_EQ_INT(evs[0].routes[0].olist[0].n_unknown_encap, 1);
        CHECK(evs[0].deleted[1]);
        CHECK_STREQ(evs[0].routes[1].key, "224.0.0.2,0.0.0.0");
        clear_all(evs, n);
    } else {
        fprintf(stderr, "  %s\n", err);
    }
}

/* --- Malformed stanzas ------------------------------------------------------------------- */

#define PUB_HEAD "<iq type='set' from='a' to='network-control@contrailsystems.com/bgp-peer'>" \
                 "<pubsub xmlns='http://jabber.org/protocol/pubsub'>"
#define PUB_TAIL "</pubsub></iq>"
#define NH "<next-hops><next-hop><af>1</af><address>198.51.100.1</address><label>16</label>" \
           "</next-hop></next-hops>"
#define COLL(VRF, OP, NODE) PUB_HEAD "<collection node='" VRF "'><" OP " node='" NODE "'/>" \
                            "</collection>" PUB_TAIL

static void
test_malformed(void)
{
    /* Well-formedness. */
    /* A truncated stanza handed to the decoder (the splitter would wait for more). */
    struct xmpp_decoder dec;
    struct xmpp_event ev;
    xmpp_decoder_init(&dec);
    const char *trunc = "<iq type='set'><pubsub></iq>";
    CHECK_EQ_INT(xmpp_decode_stanza(&dec, trunc, strlen(trunc), &ev), EBADMSG);
    CHECK_STREQ(dec.condition, "not-well-formed");
    xmpp_event_clear(&ev);
    trunc = "<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node=";
    CHECK_EQ_INT(xmpp_decode_stanza(&dec, trunc, strlen(trunc), &ev), EBADMSG);
    xmpp_event_clear(&ev);
    CHECK_EQ_INT(xmpp_decode_stanza(&dec, "", 0, &ev), EBADMSG);
    xmpp_event_clear(&ev);
    /* Two stanzas in one frame are refused. */
    CHECK_EQ_INT(xmpp_decode_stanza(&dec, "<iq/><iq/>", 10, &ev), EBADMSG);
    xmpp_event_clear(&ev);
    /* Embedded NUL. */
    CHECK_EQ_INT(xmpp_decode_stanza(&dec, "<iq>\0</iq>", 10, &ev), EBADMSG);
    xmpp_event_clear(&ev);
    xmpp_decoder_destroy(&dec);
    expect_error("<iq><a></b></iq>", "does not match");        /* the splitter sees it */
    expect_error("<iq>&foo;</iq>", "not-well-formed");
    expect_error("<iq a='1' a='2'/>", "not-well-formed");
    expect_error("<iq><x>\xff\xfe</x></iq>", "not-well-formed");
    expect_error("<iq><x>\xc0\xaf</x></iq>", "not-well-formed");
    expect_error("<iq><x>a\x01</x></iq>", "not-well-formed");
    expect_error("<undefined:iq/>", "unsupported stanza");
    expect_error("<stream:iq/>", "unsupported stanza");
    /* Stanzas we do not speak. */
    expect_error("<presence/>", "unsupported-stanza-type");
    expect_error("<iq type='set'><query/></iq>", "feature-not-implemented");
    expect_error("<message><body>hi</body></message>", "feature-not-implemented");
    expect_error(PUB_HEAD "<delete node='x'/>" PUB_TAIL, "unsupported pubsub");
    expect_error(PUB_HEAD PUB_TAIL, "empty pubsub");
    /* Subscribe. */
    expect_error(PUB_HEAD "<subscribe node='vrf'/>" PUB_TAIL, "without instance-id");
    expect_error(PUB_HEAD "<subscribe node='vrf'><options><instance-id>x</instance-id>"
                 "</options></subscribe>" PUB_TAIL, "bad number");
    expect_error(PUB_HEAD "<subscribe/>" PUB_TAIL, "without node");
    /* Publish / collection pairs. */
    expect_error(PUB_HEAD "<publish node='3/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL, "unknown afi/safi 3/1");
    expect_error(PUB_HEAD "<publish node='1/x/vrf/10.0.0.1/32'><item/></publish>" PUB_TAIL,
                 "bad afi/safi");
    expect_error(PUB_HEAD "<publish node='vrf'><item/></publish>" PUB_TAIL, "bad node");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL
                 COLL("vrf", "associate", "1/1/vrf/10.0.0.2/32"), "does not match");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL
                 COLL("vrf2", "associate", "1/1/vrf/10.0.0.1/32"), "is not in collection");
    expect_error(COLL("vrf", "associate", "1/1/vrf/10.0.0.1/32"), "without a publish");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL
                 PUB_HEAD "<subscribe node='vrf'><options><instance-id>1</instance-id>"
                 "</options></subscribe>" PUB_TAIL, "not followed by its collection");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL "<message><event/></message>",
                 "not followed by its collection");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry></entry></item>"
                 "</publish>" PUB_TAIL COLL("vrf", "associate", "1/1/vrf/10.0.0.1/32"),
                 "without next-hop");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><next-hops>"
                 "<next-hop><label>3</label></next-hop></next-hops></entry></item></publish>"
                 PUB_TAIL, "missing address");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><next-hops>"
                 "<next-hop><address>1.2.3.4</address><label>-3</label></next-hop>"
                 "</next-hops></entry></item></publish>" PUB_TAIL, "bad label");
    expect_error(PUB_HEAD "<publish node='1/241/vrf/224.0.0.1,0.0.0.0'><item><entry>"
                 "<next-hops><next-hop><address>1.2.3.4</address><label>9-3</label>"
                 "</next-hop></next-hops></entry></item></publish>" PUB_TAIL, "bad label");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><next-hops>"
                 "<next-hop><address>1.2.3.4</address><label>99999999999</label></next-hop>"
                 "</next-hops></entry></item></publish>" PUB_TAIL, "bad label");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><next-hops>"
                 "<next-hop><address>1.2.3.4</address><mac>zz</mac></next-hop>"
                 "</next-hops></entry></item></publish>" PUB_TAIL, "bad mac");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><nlri><af>2</af>"
                 "</nlri>" NH "</entry></item></publish>" PUB_TAIL, "nlri af/safi");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry><nlri><address>"
                 "10.0.0.1</address></nlri>" NH "</entry></item></publish>" PUB_TAIL,
                 "bad inet nlri");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/banana'><item><entry>" NH "</entry></item>"
                 "</publish>" PUB_TAIL COLL("vrf", "associate", "1/1/vrf/banana"),
                 "bad inet key");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "<security-group-list><security-group>x</security-group>"
                 "</security-group-list></entry></item></publish>" PUB_TAIL,
                 "bad security-group");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "<local-preference>1e3</local-preference></entry></item></publish>" PUB_TAIL,
                 "bad number");
    expect_error(PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item><entry>" NH
                 "</entry></item></publish>" PUB_TAIL PUB_HEAD "<collection node='vrf'>"
                 "<associate node='1/1/vrf/10.0.0.1/32'/><dissociate node='1/1/vrf/10.0.0.1/32'/>"
                 "</collection>" PUB_TAIL, "needs one associate");
    /* Route messages to agents. */
    expect_error("<message><event><items node='1/1/vrf'><item id='10.0.0.1/32'/></items>"
                 "</event></message>", "without entry");
    expect_error("<message><event><items node='1/1/vrf'><retract/></items></event></message>",
                 "without id");
    expect_error("<message><event><items node='1/1/vrf'><retract id='x'/></items></event>"
                 "</message>", "bad inet id");
    expect_error("<message><event><items node='1/1/vrf'><foo/></items></event></message>",
                 "unexpected <foo>");
    expect_error("<message><event><items node='9/9/vrf'/></event></message>", "unknown afi");
    expect_error("<message><event><items node='1/1/a/b'/></event></message>", "bad items node");
    expect_error("<message><event><items/></event></message>", "items without node");

    /* A retract (dissociate) with an empty item is fine: the key comes from the node. */
    const char *ok = PUB_HEAD "<publish node='1/1/vrf/10.0.0.1/32'><item/></publish>" PUB_TAIL
                     COLL("vrf", "dissociate", "1/1/vrf/10.0.0.1/32");
    struct xmpp_event evs[2];
    char err[256];
    int n = decode_all(ok, strlen(ok), evs, 2, err);
    CHECK_EQ_INT(n, 1);
    if (n == 1) {
        CHECK_EQ_INT(evs[0].type, XMPP_EV_ROUTE_DELETE);
        CHECK_STREQ(evs[0].routes[0].key, "10.0.0.1/32");
        clear_all(evs, 1);
    }
}

int
main(void)
{
    test_splitter_basic();
    test_splitter_errors();
    test_open();
    test_keys();
    test_publish_roundtrip();
    test_subscribe_eor_config();
    test_route_messages();
    test_malformed();
    /* Everything the codec allocated was given back. */
    int64_t live = -1;
    json_t *mem = mem_to_json();
    json_t *t = json_object_get(mem, "xmpp_proto");
    live = t ? json_integer_value(json_object_get(t, "live")) : 0;
    json_decref(mem);
    CHECK_EQ_INT(live, 0);
    return check_finish();
}
