/* Fuzz target: ipaddr_parse and ipaddr_parse_prefix on arbitrary text, with round-trip and
 * arithmetic invariants. */
#include "fuzz_common.h"
#include "ipaddr.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    struct ipaddr a;
    if (ipaddr_parse(s, &a)) {
        if (a.family != 4 && a.family != 6) {
            abort();
        }
        if (a.family == 4 && a.v >> 32) {
            abort();
        }
        /* Formatting and parsing again gives the same address. */
        char buf[IPADDR_STRLEN];
        struct ipaddr b;
        if (!ipaddr_parse(ipaddr_format(&a, buf), &b) || b.family != a.family || b.v != a.v) {
            abort();
        }
    }

    for (int strict = 0; strict < 2; strict++) {
        struct ipaddr net;
        int len = -1;
        if (!ipaddr_parse_prefix(s, strict, &net, &len)) {
            continue;
        }
        int bits = ipaddr_bits(net.family);
        if (len < 0 || len > bits) {
            abort();
        }
        ipaddr_u128 first = ipaddr_prefix_first(&net, len);
        ipaddr_u128 last = ipaddr_prefix_last(&net, len);
        if (first != net.v || last < first) {
            abort();            /* The network address comes back with host bits clear. */
        }
        struct ipaddr f = { net.family, first }, l = { net.family, last };
        if (!ipaddr_in_prefix(&f, &net, len) || !ipaddr_in_prefix(&l, &net, len)) {
            abort();
        }
        if (last != (ipaddr_u128) ~(ipaddr_u128) 0 && net.family == 6) {
            struct ipaddr after = { 6, last + 1 };
            if (ipaddr_in_prefix(&after, &net, len)) {
                abort();
            }
        }
        if (net.family == 4 && last >> 32) {
            abort();
        }
        if (!ipaddr_prefixes_overlap(&net, len, &net, len)) {
            abort();
        }
        /* The text of the network parses back to the same prefix, strictly. */
        char buf[IPADDR_STRLEN + 8], text[IPADDR_STRLEN];
        snprintf(buf, sizeof buf, "%s/%d", ipaddr_format(&net, text), len);
        struct ipaddr n2;
        int len2;
        if (!ipaddr_parse_prefix(buf, true, &n2, &len2) || n2.v != net.v || len2 != len) {
            abort();
        }
    }
    free(s);
    return 0;
}
