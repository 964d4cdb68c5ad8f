/* ipaddr: IPv4 and IPv6 addresses and prefixes as 128-bit integers.
 *
 * Address management (subnets, gateways, allocation pools, next free address) is integer
 * arithmetic on the address; keeping both families in one unsigned 128-bit value makes it one
 * code path. */
#ifndef CONTRAIL_IPADDR_H
#define CONTRAIL_IPADDR_H

#include <stdbool.h>
#include <stddef.h>

typedef unsigned __int128 ipaddr_u128;

struct ipaddr {
    int family;                 /* 4 or 6. */
    ipaddr_u128 v;              /* Host-order value; IPv4 uses the low 32 bits. */
};

#define IPADDR_STRLEN 46

/* Parses a textual IPv4 or IPv6 address.  Returns false if S is not one. */
bool ipaddr_parse(const char *s, struct ipaddr *);

/* Formats A into BUF (IPADDR_STRLEN bytes); returns BUF. */
char *ipaddr_format(const struct ipaddr *, char *buf);

/* Address width in bits: 32 or 128. */
int ipaddr_bits(int family);

/* Parses "A.B.C.D/N" or "X::/N" into the network address and length; checks that no host
 * bits are set when STRICT.  Returns false on a malformed prefix. */
bool ipaddr_parse_prefix(const char *s, bool strict, struct ipaddr *net, int *len);

/* The first and last address of NET/LEN. */
ipaddr_u128 ipaddr_prefix_first(const struct ipaddr *net, int len);
ipaddr_u128 ipaddr_prefix_last(const struct ipaddr *net, int len);

/* Whether A lies in NET/LEN (same family). */
bool ipaddr_in_prefix(const struct ipaddr *a, const struct ipaddr *net, int len);

/* Whether prefixes A/ALEN and B/BLEN overlap. */
bool ipaddr_prefixes_overlap(const struct ipaddr *a, int alen, const struct ipaddr *b, int blen);

#endif
