/* xmpp_proto: the XMPP dialect spoken between vRouter agents and contrail-control.
 *
 * Three layers, none of which knows about sockets:
 *   - the splitter cuts a TCP byte stream into frames: the stream open (which is never
 *     closed), each top-level stanza (<iq>, <message>, <stream:error>, ...) and the closing
 *     </stream:stream>; whitespace and the U+0200 keepalive character between stanzas are
 *     filler.  It is incremental and bounded (a frame larger than the limit is an error).
 *   - the decoder turns one stanza into a struct xmpp_event: subscribe / unsubscribe on the
 *     route and config channels, route publish + collection pairs merged into ROUTE_ADD /
 *     ROUTE_DELETE, End-of-RIB, route updates and config sent to agents, stream errors.  It
 *     parses with libxml2 (no network, no entity substitution, no DTD) and never crashes on
 *     bad input: it returns EBADMSG with a message and the stream error condition to send.
 *   - the encoders write the same stanzas (both directions) into an evbuffer, escaping text.
 *
 * Routes are struct xmpp_route: the key as text (the XMPP item id) next to its parsed binary
 * form (address bytes, prefix length, MAC, Ethernet tag, group/source), and the attributes of
 * §2.6 of the reference (next hops with labels, encapsulations as a bitmask, virtual network,
 * security groups, communities, MAC mobility, local preference, MED, sub-protocol). */
#ifndef CONTRAIL_XMPP_PROTO_H
#define CONTRAIL_XMPP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define XMPP_PORT 5269
#define XMPP_CONTROL_JID "network-control@contrailsystems.com"
#define XMPP_RES_BGP "bgp-peer"
#define XMPP_RES_CONFIG "config"
#define XMPP_NS_CLIENT "jabber:client"
#define XMPP_NS_STREAM "http://etherx.jabber.org/streams"
#define XMPP_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define XMPP_EOR_NODE "0/0/EndOfRib"

/* The keepalive "stanza": the character U+0200 in UTF-8. */
#define XMPP_KEEPALIVE "\xc8\x80"

#define XMPP_MAX_STANZA (4u << 20)      /* Default frame size limit of the splitter. */
#define XMPP_MAX_REACH 32               /* Route items per <message> (kMaxReachCount). */
#define XMPP_MAX_UNREACH 256            /* Retracts per <message> (kMaxUnreachCount). */
#define XMPP_KEY_MAX 160                /* Longest item id (key) text, NUL included. */

/* --- Splitter ---------------------------------------------------------------------------- */

enum xmpp_frame_type {
    XMPP_FRAME_NONE,            /* More bytes are needed. */
    XMPP_FRAME_OPEN,            /* "<stream:stream ...>" (the tag only). */
    XMPP_FRAME_STANZA,          /* One complete top-level element. */
    XMPP_FRAME_CLOSE,           /* "</stream:stream>". */
};

struct xmpp_frame {
    enum xmpp_frame_type type;
    const char *data;           /* Into the splitter's buffer: valid until the next feed. */
    size_t len;
    char name[64];              /* Top-level element name (may be truncated). */
};

struct xmpp_splitter {
    char *buf;
    size_t len, cap;
    size_t start;               /* Bytes before this are consumed. */
    size_t pos;                 /* Scan position. */
    size_t frame_start;
    size_t max;
    int state;                  /* Private scanner state. */
    int depth;                  /* Open elements in the current frame. */
    int quote;                  /* Quote character inside a tag, 0 outside quotes. */
    unsigned char prev[2];      /* Last bytes seen (for '/>', '?>', '-->', ']]>'). */
    char name[64];              /* Name of the tag being scanned. */
    size_t name_len;
    bool end_tag;               /* The tag being scanned is an end tag. */
    bool open_seen, closed;
    char top[64];               /* Name of the current top-level element. */
    uint32_t *open_names;       /* Hashes of the names of the open elements, by depth. */
    size_t open_cap;
    char error[128];
};

/* Initialises SP with frame limit MAX bytes (0: XMPP_MAX_STANZA). */
void xmpp_splitter_init(struct xmpp_splitter *sp, size_t max);
/* Frees SP's buffer (the struct stays usable after xmpp_splitter_init). */
void xmpp_splitter_destroy(struct xmpp_splitter *sp);
/* Appends LEN bytes.  Invalidates frames returned before. */
void xmpp_splitter_feed(struct xmpp_splitter *sp, const void *data, size_t len);
/* Finds the next frame.  Returns 0 (FRAME->type is XMPP_FRAME_NONE when more bytes are
 * needed) or EBADMSG (garbage, bad order) / EMSGSIZE (frame over the limit) with SP->error
 * set; after an error the splitter must be reset or discarded. */
int xmpp_splitter_next(struct xmpp_splitter *sp, struct xmpp_frame *frame);
/* Bytes buffered and not consumed yet. */
size_t xmpp_splitter_pending(const struct xmpp_splitter *sp);

/* --- Stream open ------------------------------------------------------------------------- */

struct xmpp_open {
    char *from, *to, *id, *version, *xmlns;     /* Attributes (NULL when absent). */
    const char *subcluster;     /* XMLNS unless it is "jabber:client" or absent, else "". */
};

/* Decodes the stream open tag TEXT (as a XMPP_FRAME_OPEN frame).  Returns 0 or EBADMSG with
 * a message in ERR (ERR_SIZE bytes).  OPEN is always left valid for xmpp_open_clear. */
int xmpp_open_decode(const char *text, size_t len, struct xmpp_open *open,
                     char *err, size_t err_size);
void xmpp_open_clear(struct xmpp_open *open);

/* --- Routes ------------------------------------------------------------------------------ */

enum xmpp_family {
    XMPP_FAM_INET,              /* 1/1 */
    XMPP_FAM_INET6,             /* 2/1 */
    XMPP_FAM_ENET,              /* 25/242 (EVPN) */
    XMPP_FAM_MCAST,             /* 1/241 (ERM-VPN) */
    XMPP_FAM_N,
};

/* The family for XMPP AFI/SAFI, or -1. */
int xmpp_family_from_afi_safi(unsigned afi, unsigned safi);
void xmpp_family_afi_safi(enum xmpp_family, unsigned *afi, unsigned *safi);
/* "inet", "inet6", "enet", "mcast"; and back (-1 when unknown). */
const char *xmpp_family_name(enum xmpp_family);
int xmpp_family_from_name(const char *);

enum {
    XMPP_ENCAP_GRE = 1u << 0,
    XMPP_ENCAP_UDP = 1u << 1,           /* MPLS over UDP */
    XMPP_ENCAP_VXLAN = 1u << 2,
    XMPP_ENCAP_NATIVE = 1u << 3,
    XMPP_ENCAP_MPLS = 1u << 4,
};

/* Parses one encapsulation name; 0 when unknown. */
unsigned xmpp_encap_from_name(const char *);
/* Writes the names of MASK, comma separated, into BUF (SIZE bytes); returns BUF. */
char *xmpp_encap_format(unsigned mask, char *buf, size_t size);

struct xmpp_nexthop {
    int family;                 /* 4 or 6: the address's family. */
    uint8_t addr[16];           /* Network order; IPv4 in the first 4 bytes. */
    char address[48];           /* The address as text. */
    bool has_mac;
    uint8_t mac[6];
    uint32_t label;             /* MPLS label or VNI; multicast range: the first label. */
    uint32_t label_last;        /* Multicast range "A-B": B; otherwise equal to label. */
    bool label_range;           /* The label was a range "A-B" (multicast from an agent). */
    uint32_t l3_label;          /* EVPN: the L3 label / VNI, 0 when none. */
    unsigned encap;             /* XMPP_ENCAP_* bits. */
    unsigned n_unknown_encap;   /* Listed encapsulations we do not know. */
    char *virtual_network;      /* NULL when absent. */
    uint32_t *tags;
    size_t n_tags;
    uint32_t local_seq;         /* <local-sequence-number> */
};

struct xmpp_route {
    enum xmpp_family family;
    char *vrf;                  /* The routing instance name. */
    char key[XMPP_KEY_MAX];     /* Canonical item id: see xmpp_route_set_key. */

    /* The key, parsed. */
    int ip_family;              /* 4 or 6; 0 for an EVPN route without IP. */
    uint8_t addr[16];           /* Prefix (host bits cleared) or EVPN IP; network order. */
    uint8_t plen;
    uint8_t mac[6];             /* EVPN */
    uint32_t etag;              /* EVPN Ethernet tag */
    uint8_t group[4], source[4];    /* Multicast (IPv4), network order. */
    uint32_t source_label;          /* Multicast, control -> agent: the agent's label in the
                                     * tree (<source-label>); 0: none. */

    /* Attributes (meaningful for an add or update). */
    struct xmpp_nexthop *nh;
    size_t n_nh;
    struct xmpp_nexthop *olist;         /* Multicast / EVPN flood list (control -> agent). */
    size_t n_olist;
    char *virtual_network;
    uint32_t *sgs;                      /* Security group ids. */
    size_t n_sgs;
    char **communities;                 /* Community tags as text ("no-export", "64512:1"). */
    size_t n_communities;
    uint32_t seq;                       /* <sequence-number> */
    bool has_mobility;
    uint32_t mobility_seq;
    bool sticky;
    uint32_t local_pref;                /* 0: absent */
    uint32_t med;                       /* 0: absent */
    char *sub_protocol;                 /* NULL when absent. */
    uint32_t version;
};

/* Frees what R holds and zeroes it. */
void xmpp_route_clear(struct xmpp_route *r);
/* Deep copy of SRC into DST (DST is overwritten, not cleared first). */
void xmpp_route_copy(struct xmpp_route *dst, const struct xmpp_route *src);
/* Sets R's VRF name (copied). */
void xmpp_route_set_vrf(struct xmpp_route *r, const char *vrf);
/* Parses KEY as an item id of FAMILY and sets R->family, R->key (canonical form) and the
 * parsed fields:
 *   inet / inet6   "10.1.1.0/24" (an optional trailing "/N" native VRF id is ignored)
 *   enet           "[ETAG-]MAC,IP/PLEN" or "[ETAG-]MAC" (no IP)
 *   mcast          "[RD:]GROUP,SOURCE" (IPv4)
 * Returns 0 or EINVAL. */
int xmpp_route_set_key(struct xmpp_route *r, enum xmpp_family family, const char *key);
/* Rebuilds R->key from the parsed fields. */
void xmpp_route_format_key(struct xmpp_route *r);
/* Appends a zeroed next hop to R (or to its olist) and returns it. */
struct xmpp_nexthop *xmpp_route_add_nexthop(struct xmpp_route *r);
struct xmpp_nexthop *xmpp_route_add_olist(struct xmpp_route *r);
/* Sets NH's address from text.  Returns 0 or EINVAL. */
int xmpp_nexthop_set_address(struct xmpp_nexthop *nh, const char *text);
void xmpp_nexthop_set_vn(struct xmpp_nexthop *nh, const char *vn);
void xmpp_nexthop_add_tag(struct xmpp_nexthop *nh, uint32_t tag);
void xmpp_route_set_vn(struct xmpp_route *r, const char *vn);
void xmpp_route_set_sub_protocol(struct xmpp_route *r, const char *sp);
void xmpp_route_add_sg(struct xmpp_route *r, uint32_t sg);
void xmpp_route_add_community(struct xmpp_route *r, const char *c);

/* Parses "aa:bb:cc:dd:ee:ff".  Returns true on success. */
bool xmpp_parse_mac(const char *s, uint8_t mac[6]);

/* --- Decoded stanzas --------------------------------------------------------------------- */

enum xmpp_event_type {
    XMPP_EV_NONE,               /* Nothing to act on (a publish waiting for its collection,
                                 * an iq result). */
    XMPP_EV_ROUTE_SUBSCRIBE,    /* node = VRF, instance_id, no_ribout */
    XMPP_EV_ROUTE_UNSUBSCRIBE,  /* node = VRF */
    XMPP_EV_CONFIG_SUBSCRIBE,   /* node = "virtual-router:..." / "virtual-machine:..." */
    XMPP_EV_CONFIG_UNSUBSCRIBE,
    XMPP_EV_ROUTE_ADD,          /* routes[0]: publish + associate (add or update) */
    XMPP_EV_ROUTE_DELETE,       /* routes[0]: publish + dissociate (key fields only) */
    XMPP_EV_EOR,                /* End-of-RIB (iq publish without item, or the message form) */
    XMPP_EV_ROUTE_UPDATE,       /* Control -> agent: node = items node, routes[] with
                                 * deleted[] (retracts carry key fields only) */
    XMPP_EV_CONFIG,             /* Control -> agent: config = the <config> element as XML */
    XMPP_EV_STREAM_ERROR,       /* node = condition, text = the <text> (or NULL) */
};

const char *xmpp_event_name(enum xmpp_event_type);

struct xmpp_event {
    enum xmpp_event_type type;
    char *from, *to, *id;       /* The stanza's attributes (NULL when absent). */
    char *node;
    char *text;
    uint32_t instance_id;
    bool no_ribout;
    enum xmpp_family family;    /* ROUTE_ADD / ROUTE_DELETE / ROUTE_UPDATE */
    char *vrf;                  /* ROUTE_UPDATE: from the items node */
    struct xmpp_route *routes;
    bool *deleted;              /* ROUTE_UPDATE: routes[i] is a retract */
    size_t n_routes;
    char *config;               /* CONFIG */
};

void xmpp_event_clear(struct xmpp_event *ev);

/* The decoder keeps the state that spans stanzas: a publish waiting for its collection. */
struct xmpp_decoder {
    struct xmpp_route pending;
    char *pending_node;         /* Publish node; NULL when none pending. */
    bool pending_has_item;
    char error[256];            /* Why the last decode failed. */
    const char *condition;      /* Stream error condition for that failure. */
};

void xmpp_decoder_init(struct xmpp_decoder *);
void xmpp_decoder_destroy(struct xmpp_decoder *);

/* Decodes one stanza (a XMPP_FRAME_STANZA frame) into EV (cleared first).  Returns 0 (EV->type
 * may be XMPP_EV_NONE) or EBADMSG with DEC->error and DEC->condition set; EV is always left
 * valid for xmpp_event_clear. */
int xmpp_decode_stanza(struct xmpp_decoder *dec, const char *data, size_t len,
                       struct xmpp_event *ev);

/* --- Encoders ---------------------------------------------------------------------------- */

/* Appends S as XML character data / attribute value (escaped; control characters that XML
 * cannot carry are dropped). */
void xmpp_escape(struct evbuffer *out, const char *s);

/* "<?xml version='1.0'?><stream:stream ...>": FROM, TO, XMLNS (NULL or "": jabber:client; an
 * agent puts its subcluster name here), ID (the server's answer; NULL for a client). */
void xmpp_encode_open(struct evbuffer *out, const char *from, const char *to,
                      const char *xmlns, const char *id);
/* "</stream:stream>" */
void xmpp_encode_close(struct evbuffer *out);
/* <stream:error> with CONDITION (an RFC 6120 condition name) and optional TEXT. */
void xmpp_encode_stream_error(struct evbuffer *out, const char *condition, const char *text);
void xmpp_encode_keepalive(struct evbuffer *out);

/* Agent -> control: subscribe (SUBSCRIBE) or unsubscribe VRF on the route channel. */
void xmpp_encode_route_subscribe(struct evbuffer *out, const char *from, const char *vrf,
                                 uint32_t instance_id, bool no_ribout, bool subscribe,
                                 unsigned seq);
/* Agent -> control: (un)subscribe NODE ("virtual-router:default-global-system-config:NAME",
 * "virtual-machine:UUID") on the config channel. */
void xmpp_encode_config_subscribe(struct evbuffer *out, const char *from, const char *node,
                                  bool subscribe, unsigned seq);
/* Agent -> control: the publish + collection pair for R (ADD: associate, else dissociate). */
void xmpp_encode_publish(struct evbuffer *out, const char *from, const struct xmpp_route *r,
                         bool add, unsigned seq);
/* Agent -> control: End-of-RIB as the original control node expects it (iq publish of node
 * 0/0/EndOfRib without item). */
void xmpp_encode_publish_eor(struct evbuffer *out, const char *from, unsigned seq);
/* End-of-RIB as a <message> (what both sides of the original send). */
void xmpp_encode_eor(struct evbuffer *out, const char *from, const char *to);

/* <item id=KEY><entry>...</entry></item> for R (control -> agent); cacheable per route. */
void xmpp_encode_item(struct evbuffer *out, const struct xmpp_route *r);
/* Control -> agent: route updates of one table (FAMILY, VRF) for agent TO (its bare name; the
 * "/bgp-peer" resource is added): REACH routes then UNREACH retracts, split into messages of at
 * most XMPP_MAX_REACH items / XMPP_MAX_UNREACH retracts.  Returns the number of messages. */
size_t xmpp_encode_routes(struct evbuffer *out, const char *to, enum xmpp_family family,
                          const char *vrf, const struct xmpp_route *const *reach, size_t n_reach,
                          const struct xmpp_route *const *unreach, size_t n_unreach);
/* The pieces of xmpp_encode_routes, for a sender that keeps encoded items (one per route,
 * shared by the agents it goes to): the message head for table (FAMILY, VRF) to agent TO,
 * then at most XMPP_MAX_REACH items (xmpp_encode_item) or XMPP_MAX_UNREACH retracts, then
 * the tail. */
void xmpp_encode_items_head(struct evbuffer *out, const char *to, enum xmpp_family family,
                            const char *vrf);
void xmpp_encode_retract(struct evbuffer *out, const char *key);
void xmpp_encode_items_tail(struct evbuffer *out);
/* Control -> agent: one config iq to TO ("/config" added): <config><update>UPDATE_XML
 * </update><delete>DELETE_XML</delete></config>; either may be NULL (block omitted).  The
 * texts are the caller's XML, inserted as they are. */
void xmpp_encode_config(struct evbuffer *out, const char *to, const char *update_xml,
                        const char *delete_xml);
/* Control -> agent: one config iq to TO ("/config" added) around CONFIG_XML, a whole
 * <config>...</config> element (as lib/ctl_agent_config makes them), inserted as it is. */
void xmpp_encode_config_element(struct evbuffer *out, const char *to, const char *config_xml);

#endif
