/* bgp_peer: one BGP neighbour and its RFC 4271 session state machine, on libevent.
 *
 * States Idle, Connect, Active, OpenSent, OpenConfirm, Established; the hold, keepalive and
 * connect-retry timers, with an exponential backoff of the retry delay while the session keeps
 * failing; active and passive peers; collision detection (RFC 4271 §6.8) between the connection
 * we open and the one the peer opens; TCP MD5 signatures (RFC 2385, TCP_MD5SIG).
 *
 * The peer knows nothing about tables: it hands decoded UPDATEs and session events to its
 * owner through struct bgp_peer_hooks (bgp_server is the owner in contrail-control). */
#ifndef CONTRAIL_BGP_PEER_H
#define CONTRAIL_BGP_PEER_H

#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "bgp_msg.h"
#include "bgp_rib.h"

enum bgp_state {
    BGP_IDLE,
    BGP_CONNECT,
    BGP_ACTIVE,
    BGP_OPENSENT,
    BGP_OPENCONFIRM,
    BGP_ESTABLISHED,
};

const char *bgp_state_name(enum bgp_state);

struct bgp_peer_config {
    char name[64];
    struct sockaddr_storage addr;   /* The peer's address; its port is where we connect. */
    struct sockaddr_storage local;  /* Source address for our connection (family 0: any). */
    uint32_t peer_as;
    uint16_t hold_time;             /* Proposed hold time, seconds (0: no keepalives). */
    int connect_retry;              /* Base connect-retry delay, seconds. */
    bool passive;                   /* Never connect; wait for the peer. */
    char password[80];              /* TCP MD5 key; empty: none. */
    uint32_t families;              /* Families to offer (mask of 1 << bgp_family). */
};

/* What the node running the session is: its AS, identifier, event loop. */
struct bgp_local {
    struct event_base *base;
    uint32_t asn;
    uint32_t router_id;             /* Host order. */
};

struct bgp_peer;

struct bgp_peer_hooks {
    void (*established)(struct bgp_peer *, void *aux);
    void (*down)(struct bgp_peer *, void *aux);
    /* A decoded UPDATE (treat-as-withdraw already flagged by the codec). */
    void (*update)(struct bgp_peer *, const struct bgp_update *, void *aux);
    void (*route_refresh)(struct bgp_peer *, enum bgp_family, void *aux);
};

enum { BGP_STAT_RX, BGP_STAT_TX };

struct bgp_conn;

struct bgp_peer {
    struct bgp_peer_config cfg;
    const struct bgp_local *local;
    const struct bgp_peer_hooks *hooks;
    void *aux;
    int index;                      /* Owner's index (bit in bgp_route.advertised). */

    enum bgp_state state;
    struct bgp_conn *out, *in;      /* Connection we opened, and the one the peer opened. */
    struct bgp_conn *est;           /* The established one (one of the above). */
    struct bgp_conn *closing;       /* Closed, flushing their last NOTIFICATION. */
    struct event *retry_timer;
    unsigned int retry_attempts;    /* Failures since the last Established (backoff). */
    bool running;

    /* Negotiated when Established. */
    struct bgp_open remote;
    uint32_t families;              /* Both sides offered these. */
    uint16_t hold_time;
    struct bgp_codec codec;
    struct bgp_source src;          /* Paths learned from this peer. */

    /* Counters for introspect. */
    uint64_t msgs[2][6];            /* [rx/tx][message type] */
    uint64_t flaps;
    uint64_t updates_withdrawn_7606;    /* UPDATEs handled as treat-as-withdraw. */
    uint64_t attrs_discarded;
    time_t established_at, last_change;
    struct bgp_error last_sent, last_received;
    bool sent_any, received_any;
    char last_reason[128];
};

/* Creates a peer (stopped).  CFG is copied. */
struct bgp_peer *bgp_peer_create(const struct bgp_local *, const struct bgp_peer_config *,
                                 const struct bgp_peer_hooks *, void *aux);
/* Closes the session (Cease, administrative shutdown) and frees the peer.  NULL is fine. */
void bgp_peer_destroy(struct bgp_peer *);

/* Starts the FSM: connects now (active peer) or waits in Active (passive peer). */
void bgp_peer_start(struct bgp_peer *);

/* Hands over a TCP connection the peer opened to us (FD accepted by the owner's listener). */
void bgp_peer_accept(struct bgp_peer *, int fd);

/* Sends a raw, already encoded message on the established session.  Returns 0 or ENOTCONN. */
int bgp_peer_send(struct bgp_peer *, const uint8_t *msg, size_t len);

/* Sets TCP_MD5SIG for peer address ADDR on socket FD (KEY empty: removes it).  Returns 0 or an
 * errno. */
int bgp_md5_set(int fd, const struct sockaddr_storage *addr, const char *key);

#endif
