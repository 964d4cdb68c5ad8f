/* ctl_config: what contrail-control takes from the config graph for itself.
 *
 * The control node reads the whole config graph from IF-MAP (lib/cfg_graph, fed by
 * ctl_ifmap) and derives from it (control-compute reference §3.1-3.8):
 *   - the global settings: global-system-config's autonomous-system, ibgp-auto-mesh,
 *     enable-4byte-as, bgp-always-compare-med, graceful-restart-parameters and
 *     fast-convergence-parameters (the last ones, and enable-4byte-as, are not in the R3.2
 *     schema: they read as unset until the schema carries them);
 *   - this node: the bgp-router default-domain:default-project:ip-fabric:__default__:HOSTNAME
 *     (whatever its router-type: the original looked its own router up by name too);
 *   - its peers: the bgp-routers it refers to or that refer to it with bgp-peering, with the
 *     session parameters the original derived (bgp_config_ifmap.cc): the peer's router
 *     parameters, overridden by the peering's session attributes (the first session; its
 *     attribute entry for every router, else the one naming this router);
 *   - every routing-instance: its virtual network, the network's index, whether it is the
 *     network's default instance, whether it is the master instance
 *     default-domain:default-project:ip-fabric:__default__, and its import and export route
 *     targets (instance-target refs: import_export "import", "export", or absent = both).
 *
 * Changes are reported through callbacks, incrementally: the graph's change callback marks
 * what a change may affect (ctl_config_graph_changed), and ctl_config_flush(), called after
 * each batch of graph changes (one IF-MAP poll result), recomputes only that and reports
 * what differs from what was reported before.  Nothing is reported before the graph is
 * complete (ctl_config_synced()); after the graph was cleared for a new IF-MAP session
 * (ctl_config_reset()), the next ctl_config_synced() reports only the differences between
 * the old and the new graph, so a reconnection does not flap sessions or instances. */
#ifndef CONTRAIL_CTL_CONFIG_H
#define CONTRAIL_CTL_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg_graph.h"

#define CTL_CONFIG_MASTER_INSTANCE "default-domain:default-project:ip-fabric:__default__"
#define CTL_CONFIG_GLOBAL_SYSTEM_CONFIG "default-global-system-config"

enum ctl_config_op {
    CTL_CONFIG_ADD,
    CTL_CONFIG_CHANGE,
    CTL_CONFIG_DELETE,          /* The struct is the one last reported. */
};

const char *ctl_config_op_name(enum ctl_config_op);     /* "add", "change", "delete". */

/* TCP MD5 authentication (AuthenticationData): the first key only, as the BGP sessions use. */
struct ctl_config_auth {
    char *key_type;             /* "md5", or NULL when there is no key. */
    char *key;
};

struct ctl_config_graceful_restart {
    bool enable;
    int restart_time;           /* Seconds; the schema's defaults when unset (300). */
    int long_lived_restart_time;
    int end_of_rib_timeout;
    bool bgp_helper_enable, xmpp_helper_enable;
};

/* global-system-config default-global-system-config. */
struct ctl_config_global {
    uint32_t asn;                   /* autonomous_system; 0 when unset. */
    bool ibgp_auto_mesh;            /* Default true. */
    bool enable_4byte_as;
    bool bgp_always_compare_med;
    struct ctl_config_graceful_restart gr;
    bool fc_enable;                 /* fast_convergence_parameters.enable. */
    int fc_xmpp_hold_time;          /* fast_convergence_parameters.xmpp_hold_time; 0 unset. */
};

/* This control node's bgp-router (BgpRouterParams as configured). */
struct ctl_config_router {
    char *name;                 /* "control1": the last element of the fq_name. */
    char *fq_name;              /* "default-domain:...:ip-fabric:__default__:control1". */
    char *uuid;
    char *router_type;          /* "control-node", "router", ...; "" when unset. */
    char *vendor;               /* "" when unset. */
    char *identifier;           /* BGP identifier, dotted quad; "" when unset. */
    char *address;              /* "" when unset. */
    int port;                   /* 0: unset (179). */
    int source_port;
    uint32_t asn;               /* autonomous_system. */
    uint32_t local_asn;         /* local_autonomous_system; 0 unset. */
    int hold_time;              /* 0: default (90 s). */
    uint32_t cluster_id;        /* 0: none (full mesh). */
    bool admin_down;
    char **families;            /* address_families.family, as configured. */
    size_t n_families;
    struct ctl_config_auth auth;
};

/* A BGP neighbor of this node, with the effective session parameters. */
struct ctl_config_peer {
    char *name;                 /* The peer bgp-router's name (last fq_name element). */
    char *fq_name;
    char *uuid;
    char *router_type;
    char *vendor;
    char *identifier;           /* The peer's BGP identifier. */
    char *address;
    int port;                   /* 0: 179. */
    int source_port;
    uint32_t asn;               /* The peer's AS: its local-autonomous-system if set, else its
                                 * autonomous-system. */
    int hold_time;              /* The session's if not 0, else the peer router's (0 default). */
    bool admin_down;            /* The peer router, the session or this router is down. */
    bool passive;
    bool as_override;
    int loop_count;
    /* The session's families (family-attributes then address-families); without any, this
     * router's families that the peer also has (all of ours if it lists none); without
     * those, inet and inet-vpn (those the peer has). */
    char **families;
    size_t n_families;
    struct ctl_config_auth auth;    /* The session's key, else this router's. */
};

struct ctl_config_instance {
    char *name;                 /* The routing-instance's fq name. */
    char *uuid;
    char *vn_name;              /* Its virtual-network's fq name, or NULL. */
    int64_t vn_index;           /* virtual_network_network_id; 0 unset. */
    bool is_default;            /* routing_instance_is_default. */
    bool is_master;             /* CTL_CONFIG_MASTER_INSTANCE. */
    char **import_targets;      /* "target:64512:8000001", sorted, no duplicates. */
    size_t n_import_targets;
    char **export_targets;
    size_t n_export_targets;
};

/* Callbacks; any may be NULL.  The structs are valid during the call only. */
struct ctl_config_hooks {
    void (*global)(void *aux, enum ctl_config_op, const struct ctl_config_global *);
    void (*self)(void *aux, enum ctl_config_op, const struct ctl_config_router *);
    void (*peer)(void *aux, enum ctl_config_op, const struct ctl_config_peer *);
    void (*instance)(void *aux, enum ctl_config_op, const struct ctl_config_instance *);
};

struct ctl_config;

/* Derives contrail-control's config from GRAPH (borrowed) for the node named HOSTNAME.  The
 * graph's change callback must pass every change to ctl_config_graph_changed(). */
struct ctl_config *ctl_config_create(struct cfg_graph *graph, const char *hostname,
                                     const struct ctl_config_hooks *, void *aux);
/* Frees CC (reports nothing).  NULL accepted. */
void ctl_config_destroy(struct ctl_config *);

/* The graph's change callback (see cfg_graph_change_fn). */
void ctl_config_graph_changed(struct ctl_config *, struct cfg_obj *, enum cfg_change,
                              const char *field, struct cfg_obj *other);
/* Reports what the changes since the last flush changed (nothing before the first
 * ctl_config_synced()). */
void ctl_config_flush(struct ctl_config *);
/* The graph is about to be cleared (a new IF-MAP session): stop reporting until synced.
 * Call before cfg_graph_clear(). */
void ctl_config_reset(struct ctl_config *);
/* The graph is complete: report every difference with what was reported before. */
void ctl_config_synced(struct ctl_config *);

/* What was last reported: NULL when absent. */
const struct ctl_config_global *ctl_config_get_global(const struct ctl_config *);
const struct ctl_config_router *ctl_config_get_self(const struct ctl_config *);
const struct ctl_config_peer *ctl_config_find_peer(const struct ctl_config *, const char *name);
const struct ctl_config_instance *ctl_config_find_instance(const struct ctl_config *,
                                                           const char *name);
size_t ctl_config_n_peers(const struct ctl_config *);
size_t ctl_config_n_instances(const struct ctl_config *);

/* JSON forms (new references), as ctl-config-dump prints them. */
json_t *ctl_config_global_to_json(const struct ctl_config_global *);
json_t *ctl_config_router_to_json(const struct ctl_config_router *);
json_t *ctl_config_peer_to_json(const struct ctl_config_peer *);
json_t *ctl_config_instance_to_json(const struct ctl_config_instance *);
/* Everything last reported: {"global", "self", "peers", "instances"}. */
json_t *ctl_config_to_json(const struct ctl_config *);

/* Parses route target "target:ASN:N", "target:A.B.C.D:N" into the 8 bytes of its extended
 * community as a number (type 0x0002 for a 2-byte AS with a 4-byte number, 0x0202 for a
 * 4-byte AS, 0x0102 for an IPv4 address).  Returns false when S is not one. */
bool ctl_config_parse_target(const char *s, uint64_t *rt);

#endif
