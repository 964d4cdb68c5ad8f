/* bgp_msg: the BGP-4 message codec (RFC 4271) with multiprotocol extensions.
 *
 * Decodes and encodes OPEN (capabilities: multiprotocol RFC 4760, route refresh RFC 2918,
 * 4-octet AS RFC 6793, graceful restart RFC 4724), UPDATE, KEEPALIVE, NOTIFICATION and
 * ROUTE-REFRESH for the families the control node speaks: inet, inet6, inet-vpn, inet6-vpn
 * (RFC 4364 / 4659), route-target (RFC 4684) and evpn (RFC 7432, route types 2 and 3).
 *
 * It sits below the session state machine (bgp_peer) and knows nothing about sockets.  Every
 * decoder takes untrusted bytes: a malformed message yields either "treat-as-withdraw" (RFC 7606,
 * where that RFC allows it) or the NOTIFICATION code and subcode to send, never a crash. */
#ifndef CONTRAIL_BGP_MSG_H
#define CONTRAIL_BGP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BGP_HEADER_LEN 19
#define BGP_MAX_MSG 4096
#define BGP_AS_TRANS 23456

enum bgp_msg_type {
    BGP_MSG_OPEN = 1,
    BGP_MSG_UPDATE = 2,
    BGP_MSG_NOTIFICATION = 3,
    BGP_MSG_KEEPALIVE = 4,
    BGP_MSG_ROUTE_REFRESH = 5,
};

/* NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313). */
enum bgp_err_code {
    BGP_ERR_HEADER = 1,
    BGP_ERR_OPEN = 2,
    BGP_ERR_UPDATE = 3,
    BGP_ERR_HOLD = 4,
    BGP_ERR_FSM = 5,
    BGP_ERR_CEASE = 6,
    BGP_ERR_ROUTE_REFRESH = 7,
};

/* Subcodes used by this implementation. */
enum {
    BGP_HDR_NOT_SYNC = 1, BGP_HDR_BAD_LEN = 2, BGP_HDR_BAD_TYPE = 3,
    BGP_OPEN_BAD_VERSION = 1, BGP_OPEN_BAD_AS = 2, BGP_OPEN_BAD_ID = 3,
    BGP_OPEN_BAD_PARAM = 4, BGP_OPEN_BAD_HOLD = 6, BGP_OPEN_BAD_CAP = 7,
    BGP_UPD_MALFORMED_ATTRS = 1, BGP_UPD_UNKNOWN_WELLKNOWN = 2, BGP_UPD_MISSING_WELLKNOWN = 3,
    BGP_UPD_ATTR_FLAGS = 4, BGP_UPD_ATTR_LEN = 5, BGP_UPD_BAD_ORIGIN = 6,
    BGP_UPD_BAD_NEXTHOP = 8, BGP_UPD_OPTIONAL_ATTR = 9, BGP_UPD_BAD_NETWORK = 10,
    BGP_UPD_BAD_ASPATH = 11,
    BGP_CEASE_MAX_PREFIX = 1, BGP_CEASE_ADMIN_SHUTDOWN = 2, BGP_CEASE_PEER_DECONFIGURED = 3,
    BGP_CEASE_ADMIN_RESET = 4, BGP_CEASE_CONN_REJECTED = 5, BGP_CEASE_COLLISION = 7,
    BGP_RR_BAD_LEN = 1,
};

/* Address families this speaker knows, as dense indexes (bit N of a family mask). */
enum bgp_family {
    BGP_FAM_INET,               /* 1/1 */
    BGP_FAM_INET6,              /* 2/1 */
    BGP_FAM_INET_VPN,           /* 1/128 */
    BGP_FAM_INET6_VPN,          /* 2/128 */
    BGP_FAM_RTARGET,            /* 1/132 */
    BGP_FAM_EVPN,               /* 25/70 */
    BGP_FAM_N,
};

/* The family for AFI/SAFI, or -1 when unknown. */
int bgp_family_from_afi_safi(uint16_t afi, uint8_t safi);
void bgp_family_afi_safi(enum bgp_family, uint16_t *afi, uint8_t *safi);
/* Contrail's name ("inet-vpn", "e-vpn", ...) and the master-instance table ("bgp.l3vpn.0"). */
const char *bgp_family_name(enum bgp_family);
const char *bgp_family_table(enum bgp_family);
/* Parses a family name (Contrail's or "evpn"/"route-target"); -1 when unknown. */
int bgp_family_from_name(const char *);

/* A NOTIFICATION to send, or one received. */
struct bgp_error {
    uint8_t code, subcode;
    uint8_t data[64];
    size_t data_len;            /* Data beyond 64 bytes is truncated. */
};

/* --- Header ------------------------------------------------------------------------------ */

/* Checks the 19-byte header at BUF (LEN bytes available, at least 19).  On success stores the
 * message length and type and returns 0; on error fills ERR and returns EBADMSG. */
int bgp_msg_check_header(const uint8_t *buf, size_t len, uint16_t *msg_len, uint8_t *type,
                         struct bgp_error *err);

/* --- OPEN -------------------------------------------------------------------------------- */

struct bgp_open {
    uint8_t version;
    uint32_t asn;               /* 4-octet AS from the capability when present. */
    uint16_t my_as2;            /* The 2-octet field as sent. */
    uint16_t hold_time;
    uint32_t bgp_id;            /* Host order. */
    uint32_t families;          /* Multiprotocol capability: mask of 1 << bgp_family. */
    bool mp_cap;                /* Any multiprotocol capability was present. */
    bool as4_cap;
    bool route_refresh;
    bool gr_cap;
    bool gr_restarting;         /* R bit. */
    uint16_t gr_time;
    uint32_t gr_families;       /* Families listed in the GR capability. */
    uint32_t gr_forwarding;     /* Of those, the ones with the F bit. */
};

/* Decodes the OPEN body (BODY/LEN: the bytes after the header).  Returns 0 or EBADMSG with
 * ERR filled (version, hold time, BGP identifier, parameter errors). */
int bgp_open_decode(const uint8_t *body, size_t len, struct bgp_open *, struct bgp_error *err);

/* Encodes a whole OPEN message into BUF (BGP_MAX_MSG bytes).  Returns its length. */
size_t bgp_open_encode(const struct bgp_open *, uint8_t *buf);

/* --- Prefixes and paths ------------------------------------------------------------------ */

/* The key of a route in one family's table.  Built zeroed, so memcmp compares keys. */
struct bgp_prefix {
    uint8_t family;             /* enum bgp_family */
    uint8_t plen;               /* Prefix length (bits); route-target: bits after origin AS. */
    uint8_t evpn_type;          /* 2 or 3 */
    uint8_t ip_len;             /* EVPN: IP length in bits (0, 32, 128). */
    uint8_t rd[8];
    uint8_t addr[16];           /* Prefix or EVPN IP (originator IP for type 3). */
    uint8_t mac[6];             /* EVPN type 2 */
    uint8_t esi[10];            /* EVPN type 2 */
    uint32_t etag;              /* EVPN Ethernet tag */
    uint32_t origin_as;         /* Route target: origin AS */
    uint8_t rt[8];              /* Route target: the extended community (prefix of plen-32 bits). */
};

/* An NLRI as carried in an UPDATE: the key and its labels. */
struct bgp_nlri {
    struct bgp_prefix p;
    uint32_t label;             /* 20-bit MPLS label (VPN, EVPN label 1); 0 when none. */
    uint32_t label2;            /* EVPN label 2 (L3 VNI), 0 when absent. */
    bool has_label2;
};

/* Next hop: family 4 or 6 (IPv4-mapped IPv6 next hops come back as 4). */
struct bgp_nexthop {
    int family;                 /* 0: none */
    uint8_t addr[16];
};

enum bgp_attr_type {
    BGP_ATTR_ORIGIN = 1,
    BGP_ATTR_AS_PATH = 2,
    BGP_ATTR_NEXT_HOP = 3,
    BGP_ATTR_MED = 4,
    BGP_ATTR_LOCAL_PREF = 5,
    BGP_ATTR_ATOMIC_AGGREGATE = 6,
    BGP_ATTR_AGGREGATOR = 7,
    BGP_ATTR_COMMUNITIES = 8,
    BGP_ATTR_ORIGINATOR_ID = 9,
    BGP_ATTR_CLUSTER_LIST = 10,
    BGP_ATTR_MP_REACH = 14,
    BGP_ATTR_MP_UNREACH = 15,
    BGP_ATTR_EXT_COMMUNITIES = 16,
    BGP_ATTR_AS4_PATH = 17,
    BGP_ATTR_AS4_AGGREGATOR = 18,
    BGP_ATTR_PMSI_TUNNEL = 22,
};

#define BGP_ATTR_BIT(T) (UINT64_C(1) << (T))

enum { BGP_AS_SET = 1, BGP_AS_SEQUENCE = 2 };

/* Path attributes, decoded.  The arrays are owned (bgp_attrs_clear frees them). */
struct bgp_attrs {
    uint64_t present;           /* BGP_ATTR_BIT(type) for each attribute present. */
    uint8_t origin;             /* 0 IGP, 1 EGP, 2 INCOMPLETE */
    /* AS_PATH as segments: each is one word (type << 8 | count) then COUNT ASNs. */
    uint32_t *as_path;
    size_t as_path_n;           /* Words in as_path. */
    struct bgp_nexthop nexthop; /* NEXT_HOP or the MP_REACH next hop. */
    uint32_t med;
    uint32_t local_pref;
    uint32_t aggregator_as, aggregator_id;
    uint32_t *communities;
    size_t n_communities;
    uint64_t *ext_communities;  /* Big-endian 8 bytes read as a host integer. */
    size_t n_ext_communities;
    uint32_t originator_id;
    uint32_t *cluster_list;
    size_t n_cluster_list;
    uint8_t *pmsi;              /* PMSI tunnel attribute body, kept opaque. */
    size_t pmsi_len;
    /* Not on the wire: the route distinguisher a path from an agent gets in the VPN table
     * (reference §3.2, agent-IP:instance-id); all zero: the instance's own. */
    uint8_t source_rd[8];
};

void bgp_attrs_clear(struct bgp_attrs *);
void bgp_attrs_copy(struct bgp_attrs *dst, const struct bgp_attrs *src);
/* Whether two attribute sets are equal. */
bool bgp_attrs_equal(const struct bgp_attrs *, const struct bgp_attrs *);
/* Path length for best-path selection: an AS_SEQUENCE counts its ASNs, an AS_SET counts 1. */
unsigned int bgp_attrs_as_path_len(const struct bgp_attrs *);
/* Leftmost AS of the path (the neighbour AS), 0 when empty. */
uint32_t bgp_attrs_first_as(const struct bgp_attrs *);
/* Whether ASN occurs anywhere in the path (loop detection). */
bool bgp_attrs_as_path_contains(const struct bgp_attrs *, uint32_t asn);
/* Prepends ASN to the path (to the first AS_SEQUENCE, or as a new one). */
void bgp_attrs_prepend_as(struct bgp_attrs *, uint32_t asn);
/* Whether the path carries the VXLAN encapsulation community (EVPN labels are then VNIs). */
bool bgp_attrs_vxlan(const struct bgp_attrs *);
/* Appends one extended community / community. */
void bgp_attrs_add_ext_community(struct bgp_attrs *, uint64_t ec);
void bgp_attrs_add_community(struct bgp_attrs *, uint32_t c);

/* --- UPDATE ------------------------------------------------------------------------------ */

struct bgp_update {
    struct bgp_attrs attrs;
    struct bgp_nlri *reach;     /* Announced (body NLRI and MP_REACH). */
    size_t n_reach;
    struct bgp_nlri *unreach;   /* Withdrawn (withdrawn routes and MP_UNREACH). */
    size_t n_unreach;
    /* RFC 7606: the attributes were malformed in a way that makes every announced NLRI of
     * this message withdrawn.  The caller treats reach[] as withdrawals. */
    bool treat_as_withdraw;
    /* Attributes discarded under RFC 7606 "attribute discard" (counted for introspect). */
    unsigned int discarded;
    /* End-of-RIB marker (RFC 4724): an empty UPDATE (inet) or an empty MP_UNREACH. */
    bool eor;
    uint8_t eor_family;
};

/* Options that change how an UPDATE is read or written. */
struct bgp_codec {
    bool as4;                   /* Both sides sent the 4-octet AS capability. */
    bool ibgp;                  /* LOCAL_PREF is mandatory (RFC 7606 treats its absence). */
};

/* Decodes an UPDATE body.  Returns 0 (check U->treat_as_withdraw) or EBADMSG with ERR filled
 * when the whole session must be reset.  U is always left valid for bgp_update_clear. */
int bgp_update_decode(const struct bgp_codec *, const uint8_t *body, size_t len,
                      struct bgp_update *u, struct bgp_error *err);
void bgp_update_clear(struct bgp_update *);

/* Encodes an UPDATE announcing N NLRIs of FAMILY with ATTRS into BUF (BGP_MAX_MSG bytes).  The
 * NLRIs go in the body (inet) or in MP_REACH (the others).  Stops before the message would
 * exceed BGP_MAX_MSG; *N_DONE says how many NLRIs were written.  Returns the length. */
size_t bgp_update_encode_reach(const struct bgp_codec *, enum bgp_family,
                               const struct bgp_attrs *, const struct bgp_nlri *, size_t n,
                               uint8_t *buf, size_t *n_done);
/* Encodes an UPDATE withdrawing N NLRIs (same family); like bgp_update_encode_reach. */
size_t bgp_update_encode_unreach(enum bgp_family, const struct bgp_nlri *, size_t n,
                                 uint8_t *buf, size_t *n_done);
/* Encodes the End-of-RIB marker for FAMILY. */
size_t bgp_update_encode_eor(enum bgp_family, uint8_t *buf);

/* --- Other messages ---------------------------------------------------------------------- */

size_t bgp_keepalive_encode(uint8_t *buf);
size_t bgp_notification_encode(const struct bgp_error *, uint8_t *buf);
/* Decodes a NOTIFICATION body.  Returns 0 or EBADMSG (too short: ERR says bad length). */
int bgp_notification_decode(const uint8_t *body, size_t len, struct bgp_error *out,
                            struct bgp_error *err);
size_t bgp_route_refresh_encode(enum bgp_family, uint8_t *buf);
/* Decodes a ROUTE-REFRESH body; *FAMILY is -1 for an unknown AFI/SAFI (to be ignored). */
int bgp_route_refresh_decode(const uint8_t *body, size_t len, int *family,
                             struct bgp_error *err);

/* --- Text forms (introspect, route files, tests) ----------------------------------------- */

#define BGP_PREFIX_STRLEN 160
/* "64512:100:10.1.1.0/24", "2:64512:100:00:11:22:33:44:55,10.1.1.5", "64512:target:64512:100". */
char *bgp_prefix_format(const struct bgp_prefix *, char *buf, size_t size);
/* "64512:100" (type 0), "1.2.3.4:5" (type 1), "70000:5" (type 2). */
char *bgp_rd_format(const uint8_t rd[8], char *buf, size_t size);
/* Parses an RD in the forms above.  Returns true on success. */
bool bgp_rd_parse(const char *, uint8_t rd[8]);
/* "target:64512:100", "encapsulation:gre", "mac-mobility:5", "router-mac:..." or hex. */
char *bgp_ext_community_format(uint64_t ec, char *buf, size_t size);
/* Parses "target:ASN:N", "target:A.B.C.D:N" or "encapsulation:NAME".  Returns true on success. */
bool bgp_ext_community_parse(const char *, uint64_t *ec);
/* "ASN:N" of a standard community, or its well-known name. */
char *bgp_community_format(uint32_t c, char *buf, size_t size);

/* Names of message types and of NOTIFICATION codes (for logs). */
const char *bgp_msg_type_name(int type);
const char *bgp_error_name(uint8_t code);

#endif
