/* bgp_server: the control node's BGP speaker: the listener, the peers, and the export of
 * best paths to them.
 *
 * Routes learned from a peer go into the master instance's table of their family (bgp_ri,
 * which replicates them into the routing instances that import them); when the best path of
 * a master route changes it is advertised to (or withdrawn from) every established peer that
 * negotiated the family, except the peer it came from, except iBGP-learned paths towards
 * iBGP peers (no reflection), and, for VPN families towards a peer that negotiated
 * route-target, except routes whose targets none of the peer's route-target routes asks for
 * (RFC 4684).  UPDATEs are packed: the changes of one event-loop turn with the same
 * attributes go in one message.
 *
 * Graceful restart helper (RFC 4724): when a peer that announced the capability with a
 * restart time goes down, its paths in the families it preserves stay, marked stale, until
 * its End-of-RIB for the family after it comes back, or until the restart time runs out.
 *
 * The node may also originate routes from a route file: bgp_server_load_routes makes those
 * local paths equal to the file's contents.
 *
 * Introspect pages: /Snh_BgpNeighborReq (neighbors), /Snh_ShowRouteReq (tables; ?table=NAME,
 * ?instance=NAME, ?limit=N), /Snh_ShowRouteSummaryReq, /Snh_ShowRoutingInstanceReq. */
#ifndef CONTRAIL_BGP_SERVER_H
#define CONTRAIL_BGP_SERVER_H

#include <event2/event.h>
#include <event2/listener.h>
#include <stddef.h>

#include "bgp_peer.h"
#include "bgp_rib.h"
#include "bgp_ri.h"

#define BGP_SERVER_MAX_PEERS 64

struct introspect;

struct bgp_server_config {
    const char *address;        /* Listen address (also the default source address). */
    int port;                   /* 0: any (see bgp_server_port). */
    uint32_t asn;
    uint32_t router_id;         /* Host order. */
    uint16_t hold_time;
    int connect_retry;
    bool gr_helper;             /* Keep a restarting peer's paths (graceful restart). */
};

struct bgp_peer_out;

struct bgp_server {
    struct bgp_local local;
    struct bgp_server_config cfg;
    struct evconnlistener *listener;
    int port;
    struct bgp_peer *peers[BGP_SERVER_MAX_PEERS];
    struct bgp_peer_out *out[BGP_SERVER_MAX_PEERS];    /* Export state of peers[i]. */
    int n_peers;
    struct bgp_ri_mgr *mgr;
    struct bgp_source file_src;         /* Routes from the route file. */
    uint64_t rt_dirty;                  /* Peers whose route-target filter must be rebuilt. */
    struct event *rt_event;
    uint64_t n_local_routes;
    uint64_t n_rejected_connections;
    uint64_t n_updates_sent;
};

/* Starts the listener; routes live in MGR's instances.  Returns 0 or an errno with a message
 * in ERR. */
int bgp_server_open(struct bgp_server *, struct event_base *, const struct bgp_server_config *,
                    struct bgp_ri_mgr *mgr, char *err, size_t errlen);
/* Stops every session and frees everything.  Accepts a server that failed to open. */
void bgp_server_close(struct bgp_server *);
int bgp_server_port(const struct bgp_server *);

/* Parses a peer specification:
 *   ADDRESS [port N] [as N] [passive] [password KEY] [hold N] [connect-retry N]
 *           [families F1,F2...] [name NAME]
 * Families are Contrail's names (inet, inet6, inet-vpn, inet6-vpn, route-target, e-vpn);
 * default inet,inet-vpn as the original.  Returns 0 or EINVAL with a message in ERR. */
int bgp_server_parse_peer(const struct bgp_server *, const char *text, struct bgp_peer_config *,
                          char *err, size_t errlen);
/* Adds a peer and starts its session.  Returns 0, EEXIST or ENOSPC (message in ERR). */
int bgp_server_add_peer(struct bgp_server *, const struct bgp_peer_config *, char *err,
                        size_t errlen);
/* The peer configured with address ADDR (the port is not compared), or NULL. */
struct bgp_peer *bgp_server_find_peer(const struct bgp_server *,
                                      const struct sockaddr_storage *addr);
/* Ends the session with PEER (Cease), removes its paths and frees it. */
void bgp_server_remove_peer(struct bgp_server *, struct bgp_peer *);
/* Parses "ADDRESS ...; ADDRESS ..." and adds each peer. */
int bgp_server_add_peers(struct bgp_server *, const char *list, char *err, size_t errlen);

/* Parses one route line:
 *   inet PREFIX | inet6 PREFIX
 *   inet-vpn RD:PREFIX label N | inet6-vpn RD:PREFIX label N
 *   e-vpn type 2 rd RD mac MAC [ip IP] label N [etag N] | e-vpn type 3 rd RD ip IP [etag N]
 *   route-target ORIGIN_AS target:X:Y | route-target default
 * followed by attributes: nexthop IP, target X:Y (repeatable), encap NAME (repeatable),
 * local-pref N, med N, origin igp|egp|incomplete.  Returns 0 or EINVAL (message in ERR). */
int bgp_server_parse_route(const char *line, struct bgp_nlri *, struct bgp_attrs *, char *err,
                           size_t errlen);
/* Makes the node's own routes equal to those in file PATH (lines as above, each optionally
 * preceded by "instance NAME" to put it in a routing instance's table; '#' comments):
 * adds new ones, changes changed ones, withdraws the ones no longer listed.  On a parse error
 * nothing changes.  Returns 0 or an errno with a message in ERR naming the line. */
int bgp_server_load_routes(struct bgp_server *, const char *path, char *err, size_t errlen);

void bgp_server_register_introspect(struct bgp_server *, struct introspect *);

#endif
