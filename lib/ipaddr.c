/* ipaddr: 128-bit address arithmetic (see ipaddr.h). */
#include "ipaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
ipaddr_parse(const char *s, struct ipaddr *a)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (!s) {
        return false;
    }
    if (inet_pton(AF_INET, s, &v4) == 1) {
        a->family = 4;
        a->v = ntohl(v4.s_addr);
        return true;
    }
    if (inet_pton(AF_INET6, s, &v6) == 1) {
        a->family = 6;
        a->v = 0;
        for (int i = 0; i < 16; i++) {
            a->v = a->v << 8 | v6.s6_addr[i];
        }
        return true;
    }
    return false;
}

char *
ipaddr_format(const struct ipaddr *a, char *buf)
{
    if (a->family == 4) {
        struct in_addr v4 = { .s_addr = htonl((uint32_t) a->v) };
        inet_ntop(AF_INET, &v4, buf, IPADDR_STRLEN);
    } else {
        struct in6_addr v6;
        ipaddr_u128 v = a->v;
        for (int i = 15; i >= 0; i--) {
            v6.s6_addr[i] = (uint8_t) v;
            v >>= 8;
        }
        inet_ntop(AF_INET6, &v6, buf, IPADDR_STRLEN);
    }
    return buf;
}

int
ipaddr_bits(int family)
{
    return family == 4 ? 32 : 128;
}

static ipaddr_u128
host_mask(int family, int len)
{
    int host_bits = ipaddr_bits(family) - len;
    if (host_bits <= 0) {
        return 0;
    }
    if (host_bits >= 128) {
        return ~(ipaddr_u128) 0;
    }
    return ((ipaddr_u128) 1 << host_bits) - 1;
}

bool
ipaddr_parse_prefix(const char *s, bool strict, struct ipaddr *net, int *len)
{
    char buf[64];
    const char *slash = strchr(s, '/');
    if (!slash || (size_t) (slash - s) >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, (size_t) (slash - s));
    buf[slash - s] = '\0';
    const char *len_s = slash + 1;
    size_t digits = strspn(len_s, "0123456789");
    if (!digits || digits > 3 || len_s[digits] || (digits > 1 && len_s[0] == '0')) {
        return false;
    }
    long n = strtol(len_s, NULL, 10);
    if (!ipaddr_parse(buf, net) || n > ipaddr_bits(net->family)) {
        return false;
    }
    if (strict && (net->v & host_mask(net->family, (int) n))) {
        return false;
    }
    net->v &= ~host_mask(net->family, (int) n);
    *len = (int) n;
    return true;
}

ipaddr_u128
ipaddr_prefix_first(const struct ipaddr *net, int len)
{
    return net->v & ~host_mask(net->family, len);
}

ipaddr_u128
ipaddr_prefix_last(const struct ipaddr *net, int len)
{
    return ipaddr_prefix_first(net, len) | host_mask(net->family, len);
}

bool
ipaddr_in_prefix(const struct ipaddr *a, const struct ipaddr *net, int len)
{
    return a->family == net->family
           && (a->v & ~host_mask(net->family, len)) == ipaddr_prefix_first(net, len);
}

bool
ipaddr_prefixes_overlap(const struct ipaddr *a, int alen, const struct ipaddr *b, int blen)
{
    if (a->family != b->family) {
        return false;
    }
    int len = alen < blen ? alen : blen;
    return ipaddr_prefix_first(a, len) == ipaddr_prefix_first(b, len);
}
