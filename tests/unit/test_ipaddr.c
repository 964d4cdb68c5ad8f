/* Unit tests of lib/ipaddr. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "ipaddr.h"

static const char *
fmt(const struct ipaddr *a)
{
    static char buf[4][IPADDR_STRLEN];
    static int i;
    return ipaddr_format(a, buf[i++ % 4]);
}

static const char *
fmt_v(int family, ipaddr_u128 v)
{
    struct ipaddr a = { family, v };
    return fmt(&a);
}

static void
test_parse_v4(void)
{
    struct ipaddr a;
    CHECK(ipaddr_parse("10.1.2.3", &a));
    CHECK_EQ_INT(a.family, 4);
    CHECK(a.v == 0x0a010203);
    CHECK_STREQ(fmt(&a), "10.1.2.3");
    CHECK(ipaddr_parse("0.0.0.0", &a) && a.v == 0);
    CHECK(ipaddr_parse("255.255.255.255", &a) && a.v == 0xffffffffu);
    CHECK_STREQ(fmt(&a), "255.255.255.255");
    CHECK_EQ_INT(ipaddr_bits(4), 32);

    static const char *const bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
                                       " 1.2.3.4", "a.b.c.d", "1.2.3.4/24", "01.2.3.4x",
                                       "1..2.3", "-1.2.3.4", "1.2.3.4\n" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ipaddr_parse(bad[i], &a)) {
            fprintf(stderr, "accepted bad address '%s'\n", bad[i]);
            CHECK(!"bad address accepted");
        } else {
            CHECK(1);
        }
    }
    CHECK(!ipaddr_parse(NULL, &a));
}

static void
test_parse_v6(void)
{
    struct ipaddr a;
    CHECK(ipaddr_parse("2001:db8::1", &a));
    CHECK_EQ_INT(a.family, 6);
    CHECK((uint64_t) (a.v >> 64) == 0x20010db800000000ull);
    CHECK((uint64_t) a.v == 1);
    CHECK_STREQ(fmt(&a), "2001:db8::1");
    CHECK(ipaddr_parse("::", &a) && a.family == 6 && a.v == 0);
    CHECK_STREQ(fmt(&a), "::");
    CHECK(ipaddr_parse("::1", &a) && a.v == 1);
    CHECK(ipaddr_parse("2001:DB8:0:0:0:0:0:FF", &a));
    CHECK_STREQ(fmt(&a), "2001:db8::ff");
    CHECK(ipaddr_parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", &a));
    CHECK(a.v == ~(ipaddr_u128) 0);
    CHECK_STREQ(fmt(&a), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    CHECK(ipaddr_parse("::ffff:10.0.0.1", &a) && a.family == 6);
    CHECK_EQ_INT(ipaddr_bits(6), 128);
    CHECK(!ipaddr_parse("2001:db8:::1", &a));
    CHECK(!ipaddr_parse("2001:db8::1::2", &a));
    CHECK(!ipaddr_parse("12345::", &a));
    CHECK(!ipaddr_parse("fe80::1%eth0", &a));
    CHECK(!ipaddr_parse("[::1]", &a));

    /* Round trip of formatted values. */
    CHECK_STREQ(fmt_v(6, ((ipaddr_u128) 0x20010db8 << 96) | 0xabcd), "2001:db8::abcd");
    CHECK_STREQ(fmt_v(4, 0xc0a80101), "192.168.1.1");
}

static void
test_prefix(void)
{
    struct ipaddr net;
    int len = -1;
    CHECK(ipaddr_parse_prefix("10.1.0.0/16", true, &net, &len));
    CHECK_EQ_INT(len, 16);
    CHECK_EQ_INT(net.family, 4);
    CHECK_STREQ(fmt(&net), "10.1.0.0");
    CHECK_STREQ(fmt_v(4, ipaddr_prefix_first(&net, len)), "10.1.0.0");
    CHECK_STREQ(fmt_v(4, ipaddr_prefix_last(&net, len)), "10.1.255.255");

    /* Host bits: refused when strict, masked off otherwise. */
    CHECK(!ipaddr_parse_prefix("10.1.2.3/16", true, &net, &len));
    CHECK(ipaddr_parse_prefix("10.1.2.3/16", false, &net, &len));
    CHECK_STREQ(fmt(&net), "10.1.0.0");
    CHECK_EQ_INT(len, 16);

    /* Extremes. */
    CHECK(ipaddr_parse_prefix("0.0.0.0/0", true, &net, &len));
    CHECK_EQ_INT(len, 0);
    CHECK(ipaddr_prefix_first(&net, 0) == 0);
    CHECK(ipaddr_prefix_last(&net, 0) == 0xffffffffu);
    CHECK(!ipaddr_parse_prefix("1.0.0.0/0", true, &net, &len));
    CHECK(ipaddr_parse_prefix("10.0.0.5/32", true, &net, &len));
    CHECK_EQ_INT(len, 32);
    CHECK(ipaddr_prefix_first(&net, 32) == ipaddr_prefix_last(&net, 32));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/33", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/-1", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("/24", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/24x", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/24/1", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("10.0.0.0/99999999999999999999", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("bogus/24", false, &net, &len));
    CHECK(!ipaddr_parse_prefix("", false, &net, &len));

    /* An address part longer than any address must be refused, not overflow. */
    char longp[200];
    memset(longp, '1', sizeof longp);
    longp[150] = '/';
    longp[151] = '8';
    longp[152] = '\0';
    CHECK(!ipaddr_parse_prefix(longp, false, &net, &len));

    /* IPv6. */
    CHECK(ipaddr_parse_prefix("2001:db8::/64", true, &net, &len));
    CHECK_EQ_INT(len, 64);
    CHECK_EQ_INT(net.family, 6);
    CHECK_STREQ(fmt_v(6, ipaddr_prefix_first(&net, len)), "2001:db8::");
    CHECK_STREQ(fmt_v(6, ipaddr_prefix_last(&net, len)), "2001:db8::ffff:ffff:ffff:ffff");
    CHECK(!ipaddr_parse_prefix("2001:db8::1/64", true, &net, &len));
    CHECK(ipaddr_parse_prefix("2001:db8::1/64", false, &net, &len));
    CHECK_STREQ(fmt(&net), "2001:db8::");
    CHECK(ipaddr_parse_prefix("::/0", true, &net, &len));
    CHECK(ipaddr_prefix_last(&net, 0) == ~(ipaddr_u128) 0);
    CHECK(ipaddr_parse_prefix("2001:db8::1/128", true, &net, &len));
    CHECK_EQ_INT(len, 128);
    CHECK(!ipaddr_parse_prefix("2001:db8::/129", false, &net, &len));
    CHECK(ipaddr_parse_prefix("2001:db8::/33", false, &net, &len));
    /* A v4 length above 32 on a v6 address is fine. */
    CHECK(ipaddr_parse_prefix("2001:db8::/48", true, &net, &len) && len == 48);
}

static void
test_in_prefix(void)
{
    struct ipaddr net, a;
    int len;
    CHECK(ipaddr_parse_prefix("192.168.1.0/24", true, &net, &len));
    CHECK(ipaddr_parse("192.168.1.0", &a) && ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse("192.168.1.255", &a) && ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse("192.168.2.0", &a) && !ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse("192.168.0.255", &a) && !ipaddr_in_prefix(&a, &net, len));
    /* Families never mix, even when the numbers would. */
    CHECK(ipaddr_parse("::c0a8:101", &a) && !ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse_prefix("2001:db8::/32", true, &net, &len));
    CHECK(ipaddr_parse("2001:db8:ffff::1", &a) && ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse("2001:db9::", &a) && !ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse("10.0.0.1", &a) && !ipaddr_in_prefix(&a, &net, len));
    CHECK(ipaddr_parse_prefix("0.0.0.0/0", true, &net, &len));
    CHECK(ipaddr_parse("203.0.113.9", &a) && ipaddr_in_prefix(&a, &net, len));
}

static void
test_overlap(void)
{
    struct ipaddr a, b;
    int alen, blen;
    CHECK(ipaddr_parse_prefix("10.0.0.0/8", true, &a, &alen));
    CHECK(ipaddr_parse_prefix("10.1.0.0/16", true, &b, &blen));
    CHECK(ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_prefixes_overlap(&b, blen, &a, alen));
    CHECK(ipaddr_parse_prefix("11.0.0.0/16", true, &b, &blen));
    CHECK(!ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_parse_prefix("10.0.0.0/24", true, &a, &alen));
    CHECK(ipaddr_parse_prefix("10.0.1.0/24", true, &b, &blen));
    CHECK(!ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_prefixes_overlap(&a, alen, &a, alen));
    CHECK(ipaddr_parse_prefix("10.0.0.0/23", true, &b, &blen));
    CHECK(ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_parse_prefix("0.0.0.0/0", true, &b, &blen));
    CHECK(ipaddr_prefixes_overlap(&a, alen, &b, blen));
    /* Different families never overlap. */
    CHECK(ipaddr_parse_prefix("::/0", true, &b, &blen));
    CHECK(!ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_parse_prefix("2001:db8::/64", true, &a, &alen));
    CHECK(ipaddr_parse_prefix("2001:db8::/48", true, &b, &blen));
    CHECK(ipaddr_prefixes_overlap(&a, alen, &b, blen));
    CHECK(ipaddr_parse_prefix("2001:db8:1::/64", true, &a, &alen));
    CHECK(ipaddr_parse_prefix("2001:db8:2::/64", true, &b, &blen));
    CHECK(!ipaddr_prefixes_overlap(&a, alen, &b, blen));
}

int
main(void)
{
    test_parse_v4();
    test_parse_v6();
    test_prefix();
    test_in_prefix();
    test_overlap();
    return check_finish();
}
