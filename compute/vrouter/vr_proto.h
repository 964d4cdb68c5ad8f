/* vr_proto: the vRouter control protocol and packet channel, version 1 (engine-neutral).
 *
 * This header is the contract between the forwarding plane (`contrail-vrouter`, whatever engine
 * runs it: the userspace engine today, an eBPF engine later) and its clients (the agent and the
 * tools in compute/utils).  It carries the object model of the original vRouter
 * (`vr.sandesh`: interfaces, next hops, routes, MPLS labels, VXLAN ids, flows, mirrors, drop
 * statistics, vrouter_ops) with the original's numeric types, flags and drop reasons, in a
 * binary framing of our own that is simpler than Sandesh over netlink and self-describing.
 *
 * Control channel: a unix stream socket (default /var/run/vrouter/vrouter_ctl).  Each message:
 *
 *     0      2        3    4        6        8             12            16
 *     +------+--------+----+--------+--------+-------------+-------------+---------------
 *     |magic |version | op | object | flags  |     seq     |   length    | attributes...
 *     +------+--------+----+--------+--------+-------------+-------------+---------------
 *
 *   magic    0x5652 ("VR"); version VR_PROTO_VERSION; op enum vr_op; object enum vr_obj;
 *   flags    VR_MSG_F_MORE in a dump response when more objects follow;
 *   seq      chosen by the client, echoed in the response;
 *   length   whole message in bytes, header included: 16 <= length <= VR_MSG_MAX.
 *   All integers are big-endian (network order).
 *
 * Attributes are TLVs: u16 type, u16 length of the value, the value, then zero padding to a
 * multiple of 4 bytes.  Integers are 1, 2, 4 or 8 bytes as the field's kind says; an IP
 * address is 4 or 16 bytes (the length gives the family; 0 bytes: no address); a MAC is 6
 * bytes; a string has no terminating NUL; a list is consecutive 4- or 8-byte integers.
 * Attribute types 1..15 are common (enum vr_attr); types from 16 are the fields of the
 * message's object (the VR_*_A_* enums below), each at most once.  Unknown attributes, wrong
 * lengths, out-of-range values and truncated messages are errors.
 *
 * Requests: ADD creates or replaces an object (the attributes are its fields); GET and DEL
 * name an object by its key fields; DUMP lists objects in key order, at most a page at a time:
 * the next request carries VR_A_MARKER, a nested attribute set holding the key fields of the
 * last object received, and the listing goes on after it; RESET empties the tables.
 * Every request gets exactly one RESPONSE (same object and seq) with VR_A_RESP_CODE (0 or a
 * positive errno), VR_A_RESP_MSG on errors (names the field and the problem), and VR_A_OBJECT
 * (a nested attribute set) per object returned: the stored object after ADD, the object for
 * GET, a page for DUMP with VR_MSG_F_MORE set when the listing is not finished.  A message
 * that cannot be framed (bad magic, impossible length) gets an error response and the
 * connection is closed, since the stream has lost its framing.
 *
 * Packet channel: unix datagram sockets, as the DPDK vRouter's pkt0.  The vRouter binds
 * pkt_socket (default /var/run/vrouter/dpdk_pkt0) and sends traps to the agent's socket
 * (default /var/run/vrouter/agent_pkt0) once an interface of type AGENT exists.  Each
 * datagram is struct vr_agent_hdr (30 bytes, network order) followed by an Ethernet frame.
 * Traps (vRouter -> agent) carry the command (flow miss, ARP, DHCP, ...), the ingress vif and
 * VRF; a flow miss carries the flow index in cmd_param and its generation in param_5, and the
 * frame is a copy of the packet held in the new HOLD flow.  Injects (agent -> vRouter): cmd
 * SWITCH sends the frame out of vif hdr_ifindex, cmd ROUTE routes it in VRF hdr_vrf. */
#ifndef CONTRAIL_VR_PROTO_H
#define CONTRAIL_VR_PROTO_H

#include <stdint.h>

#define VR_PROTO_MAGIC 0x5652
#define VR_PROTO_VERSION 1
#define VR_MSG_HDR_LEN 16
#define VR_MSG_MAX 65536

#define VR_DEFAULT_CTL_SOCKET "/var/run/vrouter/vrouter_ctl"
#define VR_DEFAULT_PKT_SOCKET "/var/run/vrouter/dpdk_pkt0"
#define VR_DEFAULT_AGENT_SOCKET "/var/run/vrouter/agent_pkt0"

enum vr_op {
    VR_OP_ADD = 1,
    VR_OP_GET = 2,
    VR_OP_DEL = 3,
    VR_OP_DUMP = 4,
    VR_OP_RESPONSE = 5,
    VR_OP_RESET = 6,
};

enum vr_obj {
    VR_OBJ_IF = 1,              /* vr_interface_req */
    VR_OBJ_NH = 2,              /* vr_nexthop_req */
    VR_OBJ_ROUTE = 3,           /* vr_route_req: inet, inet6, bridge */
    VR_OBJ_MPLS = 4,            /* vr_mpls_req */
    VR_OBJ_VXLAN = 5,           /* vr_vxlan_req */
    VR_OBJ_FLOW = 6,            /* vr_flow_req */
    VR_OBJ_MIRROR = 7,          /* vr_mirror_req */
    VR_OBJ_DROPSTATS = 8,       /* vr_drop_stats_req (GET only) */
    VR_OBJ_INFO = 9,            /* vrouter_ops: limits, counters, runtime knobs (GET, ADD) */
    VR_OBJ_MAX = 10,
};

#define VR_MSG_F_MORE 0x0001

enum vr_attr {
    VR_A_RESP_CODE = 1,         /* u32: 0 or errno */
    VR_A_RESP_MSG = 2,          /* string */
    VR_A_OBJECT = 3,            /* nested: one object's attributes */
    VR_A_MARKER = 4,            /* nested: key of the last object of the previous page */
    VR_A_FIRST_FIELD = 16,
};

/* Address families, as Linux numbers them (the original's "Fmly"). */
#define VR_AF_INET 2
#define VR_AF_BRIDGE 7
#define VR_AF_INET6 10

/* An address of either family; family 0 means none. */
struct vr_ip {
    uint8_t family;             /* 0, 4 or 6. */
    uint8_t a[16];              /* Network order; IPv4 in the first 4 bytes. */
};

/* ---- Interfaces (vif) ---------------------------------------------------------------- */

enum vr_if_type {
    VIF_TYPE_HOST = 0,
    VIF_TYPE_AGENT = 1,
    VIF_TYPE_PHYSICAL = 2,
    VIF_TYPE_VIRTUAL = 3,
    VIF_TYPE_MAX = 4,
};

#define VIF_FLAG_POLICY_ENABLED 0x1
#define VIF_FLAG_XCONNECT 0x2
#define VIF_FLAG_SERVICE_IF 0x4
#define VIF_FLAG_MIRROR_RX 0x8
#define VIF_FLAG_MIRROR_TX 0x10
#define VIF_FLAG_TX_CSUM_OFFLOAD 0x20
#define VIF_FLAG_L3_ENABLED 0x40
#define VIF_FLAG_L2_ENABLED 0x80
#define VIF_FLAG_DHCP_ENABLED 0x100
#define VIF_FLAG_VHOST_PHYS 0x200
#define VIF_FLAG_PROMISCOUS 0x400
#define VIF_FLAG_NATIVE_VLAN_TAG 0x800
#define VIF_FLAG_NO_ARP_PROXY 0x1000
#define VIF_FLAG_PMD 0x2000
#define VIF_FLAG_FILTERING_OFFLOAD 0x4000
#define VIF_FLAG_MONITORED 0x8000
#define VIF_FLAG_UNKNOWN_UC_FLOOD 0x10000
#define VIF_FLAG_VLAN_OFFLOAD 0x20000
#define VIF_FLAG_DROP_NEW_FLOWS 0x40000
#define VIF_FLAG_MAC_LEARN 0x80000
#define VIF_FLAG_MAC_PROXY 0x100000
#define VIF_FLAG_ETREE_ROOT 0x200000

struct vr_if_req {
    uint32_t idx;               /* key */
    uint8_t type;               /* enum vr_if_type */
    uint8_t transport;          /* 0 virtual, 1 eth, 2 pmd, 3 socket (informational) */
    uint32_t flags;             /* VIF_FLAG_* */
    uint32_t vrf;
    uint32_t mcast_vrf;
    uint32_t mtu;
    char name[32];              /* OS interface name (tap..., the fabric NIC) */
    uint8_t mac[6];
    struct vr_ip ip;
    struct vr_ip ip6;
    uint32_t nh_id;             /* The interface's own (encap) next hop: the flow key NH. */
    uint32_t os_idx;            /* read-only: OS ifindex */
    uint32_t ref_cnt;           /* read-only */
    uint64_t ipackets, ibytes, ierrors, opackets, obytes, oerrors, drops; /* read-only */
};

enum {
    VR_IF_A_IDX = VR_A_FIRST_FIELD, VR_IF_A_TYPE, VR_IF_A_TRANSPORT, VR_IF_A_FLAGS, VR_IF_A_VRF,
    VR_IF_A_MCAST_VRF, VR_IF_A_MTU, VR_IF_A_NAME, VR_IF_A_MAC, VR_IF_A_IP, VR_IF_A_IP6,
    VR_IF_A_NH_ID, VR_IF_A_OS_IDX, VR_IF_A_REF_CNT, VR_IF_A_IPACKETS, VR_IF_A_IBYTES,
    VR_IF_A_IERRORS, VR_IF_A_OPACKETS, VR_IF_A_OBYTES, VR_IF_A_OERRORS, VR_IF_A_DROPS,
};

/* ---- Next hops ------------------------------------------------------------------------- */

enum vr_nh_type {
    NH_DEAD = 0,
    NH_RCV = 1,
    NH_ENCAP = 2,
    NH_TUNNEL = 3,
    NH_RESOLVE = 4,
    NH_DISCARD = 5,
    NH_COMPOSITE = 6,
    NH_VRF_TRANSLATE = 7,
    NH_L2_RCV = 8,
    NH_TYPE_MAX = 9,
};

#define NH_FLAG_VALID 0x1
#define NH_FLAG_POLICY_ENABLED 0x2
#define NH_FLAG_TUNNEL_GRE 0x4
#define NH_FLAG_TUNNEL_UDP 0x8
#define NH_FLAG_MCAST 0x10
#define NH_FLAG_TUNNEL_UDP_MPLS 0x20
#define NH_FLAG_TUNNEL_VXLAN 0x40
#define NH_FLAG_RELAXED_POLICY 0x80
#define NH_FLAG_COMPOSITE_FABRIC 0x100
#define NH_FLAG_COMPOSITE_ECMP 0x200
#define NH_FLAG_COMPOSITE_LU_ECMP 0x400
#define NH_FLAG_COMPOSITE_EVPN 0x800
#define NH_FLAG_COMPOSITE_ENCAP 0x1000
#define NH_FLAG_COMPOSITE_TOR 0x2000
#define NH_FLAG_ROUTE_LOOKUP 0x4000
#define NH_FLAG_UNKNOWN_UC_FLOOD 0x8000
#define NH_FLAG_TUNNEL_SIP_COPY 0x10000
#define NH_FLAG_FLOW_LOOKUP 0x20000
#define NH_FLAG_TUNNEL_PBB 0x40000
#define NH_FLAG_MAC_LEARN 0x80000
#define NH_FLAG_ETREE_ROOT 0x100000
#define NH_FLAG_INDIRECT 0x200000
#define NH_FLAG_L2_CONTROL_DATA 0x400000
#define NH_FLAG_CRYPT_TRAFFIC 0x800000
#define NH_FLAG_L3_VXLAN 0x1000000
#define NH_FLAG_TUNNEL_MPLS_O_MPLS 0x2000000
#define NH_FLAG_VALIDATE_MCAST_SRC 0x4000000
#define NH_FLAG_TUNNEL_UNDERLAY_ECMP 0x8000000

#define NH_TUNNEL_FLAGS (NH_FLAG_TUNNEL_GRE | NH_FLAG_TUNNEL_UDP | NH_FLAG_TUNNEL_UDP_MPLS \
                         | NH_FLAG_TUNNEL_VXLAN)

/* ECMP hash fields (ecmp_config_hash). */
#define NH_ECMP_CONFIG_HASH_PROTO 0x01
#define NH_ECMP_CONFIG_HASH_SRC_IP 0x02
#define NH_ECMP_CONFIG_HASH_SRC_PORT 0x04
#define NH_ECMP_CONFIG_HASH_DST_IP 0x08
#define NH_ECMP_CONFIG_HASH_DST_PORT 0x10
#define NH_ECMP_CONFIG_HASH_MASK 0x1f

#define VR_NH_MAX_COMPONENTS 32
#define VR_NH_MAX_ENCAP 64

#define VR_MPLS_UDP_PORT 6635
#define VR_MPLS_UDP_LEGACY_PORT 51234
#define VR_VXLAN_UDP_PORT 4789
#define VR_GRE_PROTO_MPLS 0x8847

struct vr_nh_req {
    uint32_t id;                /* key; 0 is the built-in discard next hop */
    uint8_t type;               /* enum vr_nh_type */
    uint8_t family;             /* VR_AF_INET, VR_AF_INET6 (L3) or VR_AF_BRIDGE (L2) */
    uint32_t flags;             /* NH_FLAG_* */
    uint32_t vrf;               /* VRF of the NH; the target VRF of a VRF-translate NH */
    uint32_t rid;
    uint32_t encap_oif;         /* encap: the outgoing vif */
    uint16_t encap_family;      /* ethertype of the rewrite (0x0800, 0x0806 ...) */
    uint32_t encap_len;
    uint8_t encap[VR_NH_MAX_ENCAP]; /* L2 rewrite: dst MAC, src MAC, ethertype */
    struct vr_ip tun_sip, tun_dip;
    uint16_t tun_sport, tun_dport;  /* 0: the default port of the encapsulation */
    uint32_t nh_count;
    uint32_t nh_list[VR_NH_MAX_COMPONENTS];
    uint32_t label_count;
    uint32_t label_list[VR_NH_MAX_COMPONENTS];
    uint8_t ecmp_config_hash;
    uint32_t ref_cnt;           /* read-only */
};

enum {
    VR_NH_A_ID = VR_A_FIRST_FIELD, VR_NH_A_TYPE, VR_NH_A_FAMILY, VR_NH_A_FLAGS, VR_NH_A_VRF,
    VR_NH_A_RID, VR_NH_A_ENCAP_OIF, VR_NH_A_ENCAP_FAMILY, VR_NH_A_ENCAP, VR_NH_A_TUN_SIP,
    VR_NH_A_TUN_DIP, VR_NH_A_TUN_SPORT, VR_NH_A_TUN_DPORT, VR_NH_A_NH_LIST,
    VR_NH_A_LABEL_LIST, VR_NH_A_ECMP_CONFIG_HASH, VR_NH_A_REF_CNT,
};

/* ---- Routes (inet, inet6: per-VRF LPM; bridge: per-VRF MAC table) ----------------------- */

#define VR_RT_LABEL_VALID_FLAG 0x1
#define VR_RT_ARP_PROXY_FLAG 0x2
#define VR_RT_ARP_TRAP_FLAG 0x4
#define VR_RT_ARP_FLOOD_FLAG 0x8
#define VR_RT_MAC_IP_LEARN_FLAG 0x10

#define VR_BE_VALID_FLAG 0x1
#define VR_BE_LABEL_VALID_FLAG 0x2
#define VR_BE_FLOOD_DHCP_FLAG 0x4
#define VR_BE_MAC_MOVED_FLAG 0x8

struct vr_route_req {
    uint32_t vrf;               /* key */
    uint8_t family;             /* key: VR_AF_INET, VR_AF_INET6, VR_AF_BRIDGE */
    struct vr_ip prefix;        /* key (inet/inet6), host bits clear */
    uint8_t plen;               /* key (inet/inet6) */
    uint8_t mac[6];             /* key (bridge); stitched MAC (inet/inet6) */
    uint32_t label_flags;       /* VR_RT_* (inet) or VR_BE_* (bridge) */
    uint32_t label;             /* MPLS label or VNI */
    uint32_t nh_id;
    uint32_t index;             /* read-only: bridge entry index */
    uint8_t ppl;                /* read-only: parent prefix length */
    uint64_t packets;           /* read-only: bridge entry hits */
};

enum {
    VR_RT_A_VRF = VR_A_FIRST_FIELD, VR_RT_A_FAMILY, VR_RT_A_PREFIX, VR_RT_A_PLEN, VR_RT_A_MAC,
    VR_RT_A_LABEL_FLAGS, VR_RT_A_LABEL, VR_RT_A_NH_ID, VR_RT_A_INDEX, VR_RT_A_PPL,
    VR_RT_A_PACKETS,
};

/* ---- MPLS and VXLAN tables ---------------------------------------------------------------- */

#define VR_MPLS_MIN_LABEL 16        /* Labels below are reserved. */
#define VR_MPLS_MAX_LABEL 0xfffff
#define VR_VXLAN_MAX_VNID 0xffffff

struct vr_mpls_req {
    uint32_t label;             /* key */
    uint32_t nh_id;
};

enum { VR_MPLS_A_LABEL = VR_A_FIRST_FIELD, VR_MPLS_A_NH_ID };

struct vr_vxlan_req {
    uint32_t vnid;              /* key */
    uint32_t nh_id;
};

enum { VR_VXLAN_A_VNID = VR_A_FIRST_FIELD, VR_VXLAN_A_NH_ID };

/* ---- Flows --------------------------------------------------------------------------------- */

enum vr_flow_action {
    VR_FLOW_ACTION_DROP = 0,
    VR_FLOW_ACTION_HOLD = 1,
    VR_FLOW_ACTION_FORWARD = 2,
    VR_FLOW_ACTION_NAT = 3,
    VR_FLOW_ACTION_MAX = 4,
};

#define VR_FLOW_FLAG_ACTIVE 0x0001
#define VR_FLOW_FLAG_SNAT 0x0002
#define VR_FLOW_FLAG_SPAT 0x0004
#define VR_FLOW_FLAG_DNAT 0x0008
#define VR_FLOW_FLAG_DPAT 0x0010
#define VR_FLOW_FLAG_TRAP_ECMP 0x0020
#define VR_FLOW_FLAG_DELETE_MARKED 0x0040
#define VR_FLOW_FLAG_EVICT_CANDIDATE 0x0080
#define VR_FLOW_FLAG_EVICTED 0x0100
#define VR_FLOW_FLAG_NEW_FLOW 0x0200
#define VR_FLOW_FLAG_MODIFIED 0x0400
#define VR_RFLOW_VALID 0x1000
#define VR_FLOW_FLAG_MIRROR 0x2000
#define VR_FLOW_FLAG_VRFT 0x4000
#define VR_FLOW_FLAG_LINK_LOCAL 0x8000
#define VR_FLOW_FLAG_NAT_MASK (VR_FLOW_FLAG_SNAT | VR_FLOW_FLAG_SPAT | VR_FLOW_FLAG_DNAT \
                               | VR_FLOW_FLAG_DPAT)

#define VR_FLOW_INDEX_NONE 0xffffffffu
#define VR_FLOW_HOLD_QUEUE 3            /* Packets kept per HOLD flow. */

/* TCP state bits of a flow (tcp_flags). */
#define VR_FLOW_TCP_SYN 0x01
#define VR_FLOW_TCP_SYN_R 0x02
#define VR_FLOW_TCP_ESTABLISHED 0x04
#define VR_FLOW_TCP_ESTABLISHED_R 0x08
#define VR_FLOW_TCP_FIN 0x10
#define VR_FLOW_TCP_FIN_R 0x20
#define VR_FLOW_TCP_RST 0x40
#define VR_FLOW_TCP_HALF_CLOSE 0x80

/* Flow drop reasons (drop_reason of DROP flows), as VR_FLOW_DR_*. */
enum vr_flow_dr {
    VR_FLOW_DR_UNKNOWN, VR_FLOW_DR_UNAVIALABLE_INTF, VR_FLOW_DR_IPv4_FWD_DIS,
    VR_FLOW_DR_UNAVAILABLE_VRF, VR_FLOW_DR_NO_SRC_ROUTE, VR_FLOW_DR_NO_DST_ROUTE,
    VR_FLOW_DR_AUDIT_ENTRY, VR_FLOW_DR_VRF_CHANGE, VR_FLOW_DR_NO_REVERSE_FLOW,
    VR_FLOW_DR_REVERSE_FLOW_CHANGE, VR_FLOW_DR_NAT_CHANGE, VR_FLOW_DR_FLOW_LIMIT,
    VR_FLOW_DR_LINKLOCAL_SRC_NAT, VR_FLOW_DR_FAILED_VROUTER_INSTALL, VR_FLOW_DR_INVALID_L2_FLOW,
    VR_FLOW_DR_FLOW_ON_TSN, VR_FLOW_DR_NO_MIRROR_ENTRY, VR_FLOW_DR_SAME_FLOW_RFLOW_KEY,
    VR_FLOW_DR_PORT_MAP_DROP, VR_FLOW_DR_NO_SRC_ROUTE_L2RPF, VR_FLOW_DR_FAT_FLOW_NAT_CONFLICT,
    VR_FLOW_DR_POLICY, VR_FLOW_DR_OUT_POLICY, VR_FLOW_DR_SG, VR_FLOW_DR_OUT_SG,
    VR_FLOW_DR_REVERSE_SG, VR_FLOW_DR_REVERSE_OUT_SG, VR_FLOW_DR_MAX,
};

struct vr_flow_req {
    uint32_t index;             /* key for GET/DEL; ADD: VR_FLOW_INDEX_NONE finds by key */
    uint32_t rindex;            /* reverse flow (with VR_RFLOW_VALID) */
    uint8_t action;             /* enum vr_flow_action */
    uint16_t flags;             /* VR_FLOW_FLAG_* */
    uint8_t proto;
    struct vr_ip sip, dip;      /* the key's addresses (same family) */
    uint16_t sport, dport;      /* the key's ports (ICMP echo: id and 0) */
    uint32_t nh_id;             /* the key's next hop: the source interface NH */
    uint32_t vrf, dvrf;
    uint32_t ecmp_nh_index;     /* component of an ECMP NH to use; VR_FLOW_INDEX_NONE: hash */
    uint32_t src_nh_index;
    uint8_t drop_reason;        /* enum vr_flow_dr */
    uint8_t gen_id;             /* ADD: must match the entry's when updating by index */
    uint32_t mirror_id;
    uint16_t udp_src_port;
    uint64_t packets, bytes;    /* read-only */
    uint32_t hold_count;        /* read-only: packets held */
    uint8_t tcp_flags;          /* read-only: VR_FLOW_TCP_* */
    uint32_t idle_ms;           /* read-only: time since the last packet */
};

enum {
    VR_FL_A_INDEX = VR_A_FIRST_FIELD, VR_FL_A_RINDEX, VR_FL_A_ACTION, VR_FL_A_FLAGS,
    VR_FL_A_PROTO, VR_FL_A_SIP, VR_FL_A_DIP, VR_FL_A_SPORT, VR_FL_A_DPORT, VR_FL_A_NH_ID,
    VR_FL_A_VRF, VR_FL_A_DVRF, VR_FL_A_ECMP_NH_INDEX, VR_FL_A_SRC_NH_INDEX,
    VR_FL_A_DROP_REASON, VR_FL_A_GEN_ID, VR_FL_A_MIRROR_ID, VR_FL_A_UDP_SRC_PORT,
    VR_FL_A_PACKETS, VR_FL_A_BYTES, VR_FL_A_HOLD_COUNT, VR_FL_A_TCP_FLAGS, VR_FL_A_IDLE_MS,
};

/* ---- Mirrors ----------------------------------------------------------------------------- */

#define VR_MIRROR_FLAG_DYNAMIC 0x1

struct vr_mirror_req {
    uint32_t idx;               /* key */
    uint32_t nh_id;             /* where mirrored copies go */
    uint32_t flags;
    uint32_t vni;
    uint64_t packets;           /* read-only */
};

enum {
    VR_MIR_A_IDX = VR_A_FIRST_FIELD, VR_MIR_A_NH_ID, VR_MIR_A_FLAGS, VR_MIR_A_VNI,
    VR_MIR_A_PACKETS,
};

/* ---- Drop statistics ---------------------------------------------------------------------- */

/* Reasons a packet is discarded (vr_drop_stats_req), in the original's order.  Every discard
 * in an engine increments exactly one of these. */
#define VR_DROP_REASONS(X)                                                                 \
    X(DISCARD, "discard", "Discards")                                                      \
    X(PULL, "pull", "Pull")                                                                \
    X(INVALID_IF, "invalid_if", "Invalid IF")                                              \
    X(INVALID_ARP, "invalid_arp", "Invalid ARPs")                                          \
    X(TRAP_NO_IF, "trap_no_if", "Trap No IF")                                              \
    X(NOWHERE_TO_GO, "nowhere_to_go", "Nowhere to go")                                     \
    X(FLOW_QUEUE_LIMIT_EXCEEDED, "flow_queue_limit_exceeded", "Flow Queue Limit Exceeded")  \
    X(FLOW_NO_MEMORY, "flow_no_memory", "Flow No Memory")                                  \
    X(FLOW_INVALID_PROTOCOL, "flow_invalid_protocol", "Flow Invalid Protocol")             \
    X(FLOW_NAT_NO_RFLOW, "flow_nat_no_rflow", "Flow NAT no reverse flow")                  \
    X(FLOW_ACTION_DROP, "flow_action_drop", "Flow Action Drop")                            \
    X(FLOW_ACTION_INVALID, "flow_action_invalid", "Flow Action Invalid")                   \
    X(FLOW_UNUSABLE, "flow_unusable", "Flow Unusable")                                     \
    X(FLOW_TABLE_FULL, "flow_table_full", "Flow Table Full")                               \
    X(INTERFACE_TX_DISCARD, "interface_tx_discard", "IF TX Discard")                       \
    X(INTERFACE_DROP, "interface_drop", "IF Drop")                                         \
    X(DUPLICATED, "duplicated", "Duplicated")                                              \
    X(PUSH, "push", "Push")                                                                \
    X(TTL_EXCEEDED, "ttl_exceeded", "TTL Exceeded")                                        \
    X(INVALID_NH, "invalid_nh", "Invalid NH")                                              \
    X(INVALID_LABEL, "invalid_label", "Invalid Label")                                     \
    X(INVALID_PROTOCOL, "invalid_protocol", "Invalid Protocol")                            \
    X(INTERFACE_RX_DISCARD, "interface_rx_discard", "IF RX Discard")                       \
    X(INVALID_MCAST_SOURCE, "invalid_mcast_source", "Invalid Mcast Source")                \
    X(HEAD_ALLOC_FAIL, "head_alloc_fail", "Head Alloc Failures")                           \
    X(PCOW_FAIL, "pcow_fail", "PCOW fail")                                                 \
    X(MCAST_DF_BIT, "mcast_df_bit", "Mcast df bit")                                        \
    X(MCAST_CLONE_FAIL, "mcast_clone_fail", "Mcast Clone Fail")                            \
    X(NO_MEMORY, "no_memory", "No Memory")                                                 \
    X(REWRITE_FAIL, "rewrite_fail", "Rewrite Fail")                                        \
    X(MISC, "misc", "Misc")                                                                \
    X(INVALID_PACKET, "invalid_packet", "Invalid Packets")                                 \
    X(CKSUM_ERR, "cksum_err", "Checksum errors")                                           \
    X(NO_FMD, "no_fmd", "No Fmd")                                                          \
    X(CLONED_ORIGINAL, "cloned_original", "Cloned Original")                               \
    X(INVALID_VNID, "invalid_vnid", "Invalid VNID")                                        \
    X(FRAG_ERR, "frag_err", "Fragment errors")                                             \
    X(INVALID_SOURCE, "invalid_source", "Invalid Source")                                  \
    X(L2_NO_ROUTE, "l2_no_route", "L2 No Route")                                           \
    X(FRAGMENT_QUEUE_FAIL, "fragment_queue_fail", "Fragment Queueing Failures")            \
    X(VLAN_FWD_TX, "vlan_fwd_tx", "VLAN fwd intf failed TX")                               \
    X(VLAN_FWD_ENQ, "vlan_fwd_enq", "VLAN fwd intf failed enq")                            \
    X(DROP_NEW_FLOW, "drop_new_flow", "New Flow Drops")                                    \
    X(FLOW_EVICT, "flow_evict", "Flow Evict")                                              \
    X(TRAP_ORIGINAL, "trap_original", "Original Packet Trapped")                           \
    X(LEAF_TO_LEAF, "leaf_to_leaf", "Etree Leaf to Leaf")                                  \
    X(BMAC_ISID_MISMATCH, "bmac_isid_mismatch", "Bmac/ISID Mismatch")                      \
    X(PKT_LOOP, "pkt_loop", "Packet Loop")                                                 \
    X(NO_CRYPT_PATH, "no_crypt_path", "No Encrypt Path Failures")                          \
    X(INVALID_HBS_PKT, "invalid_hbs_pkt", "Invalid HBS received packet")                   \
    X(NO_FRAG_ENTRY, "no_frag_entry", "No Fragment Entry")                                 \
    X(ICMP_ERROR, "icmp_error", "ICMP errors")                                             \
    X(CLONE_FAIL, "clone_fail", "Clone Failures")                                          \
    X(INVALID_UNDERLAY_ECMP, "invalid_underlay_ecmp", "Invalid underlay ECMP")

enum vr_drop_reason {
#define VR_DROP_ENUM(ID, NAME, TEXT) VP_DROP_##ID,
    VR_DROP_REASONS(VR_DROP_ENUM)
#undef VR_DROP_ENUM
    VP_DROP_MAX
};

struct vr_drop_stats_req {
    uint32_t vif;               /* key: VR_FLOW_INDEX_NONE (absent) for the whole vRouter */
    uint32_t count;             /* read-only: VP_DROP_MAX as the vRouter knows it */
    uint64_t counters[VP_DROP_MAX]; /* read-only */
};

enum { VR_DS_A_VIF = VR_A_FIRST_FIELD, VR_DS_A_COUNTERS };

/* ---- vrouter_ops: limits, counters and runtime parameters -------------------------------- */

struct vr_info_req {
    char build_info[128];       /* read-only */
    char engine[32];            /* read-only: "userspace", ... */
    uint32_t proto_version;     /* read-only */
    uint32_t interfaces, vrfs, nexthops, mpls_labels, bridge_entries, flow_entries,
             oflow_entries, mirror_entries;                     /* read-only: limits */
    uint32_t flow_hold_limit;   /* settable */
    uint32_t flow_aging_ms;     /* settable: idle time before a flow is removed (0: never) */
    char log_level[16];         /* settable */
    uint64_t flows_created, flows_added, flows_deleted, flows_changed, flows_processed,
             flows_used, flows_oflow_used, flows_hold, bridge_used, routes_used; /* read-only */
    uint64_t uptime_ms;         /* read-only */
};

enum {
    VR_INFO_A_BUILD = VR_A_FIRST_FIELD, VR_INFO_A_ENGINE, VR_INFO_A_PROTO_VERSION,
    VR_INFO_A_INTERFACES, VR_INFO_A_VRFS, VR_INFO_A_NEXTHOPS, VR_INFO_A_MPLS_LABELS,
    VR_INFO_A_BRIDGE_ENTRIES, VR_INFO_A_FLOW_ENTRIES, VR_INFO_A_OFLOW_ENTRIES,
    VR_INFO_A_MIRROR_ENTRIES, VR_INFO_A_FLOW_HOLD_LIMIT, VR_INFO_A_FLOW_AGING_MS,
    VR_INFO_A_LOG_LEVEL, VR_INFO_A_FLOWS_CREATED, VR_INFO_A_FLOWS_ADDED,
    VR_INFO_A_FLOWS_DELETED, VR_INFO_A_FLOWS_CHANGED, VR_INFO_A_FLOWS_PROCESSED,
    VR_INFO_A_FLOWS_USED, VR_INFO_A_FLOWS_OFLOW_USED, VR_INFO_A_FLOWS_HOLD,
    VR_INFO_A_BRIDGE_USED, VR_INFO_A_ROUTES_USED, VR_INFO_A_UPTIME_MS,
};

/* ---- Packet channel ------------------------------------------------------------------------ */

/* Prepended to every frame on the packet channel (30 bytes, network order, packed). */
struct vr_agent_hdr {
    uint16_t hdr_ifindex;       /* ingress vif (traps) or egress vif (SWITCH inject) */
    uint16_t hdr_vrf;
    uint16_t hdr_cmd;           /* enum vr_agent_cmd */
    uint32_t hdr_cmd_param;     /* FLOW_MISS: flow index */
    uint32_t hdr_cmd_param_1;   /* FLOW_MISS: key next hop */
    uint32_t hdr_cmd_param_2;
    uint32_t hdr_cmd_param_3;
    uint32_t hdr_cmd_param_4;
    uint8_t hdr_cmd_param_5;    /* FLOW_MISS: flow generation */
    uint8_t hdr_pad[3];
} __attribute__((packed));

#define VR_AGENT_HDR_LEN 30
_Static_assert(sizeof(struct vr_agent_hdr) == VR_AGENT_HDR_LEN, "agent header is 30 bytes");

enum vr_agent_cmd {
    AGENT_CMD_SWITCH = 0,
    AGENT_CMD_ROUTE = 1,
    AGENT_TRAP_ARP = 2,
    AGENT_TRAP_L2_PROTOCOLS = 3,
    AGENT_TRAP_NEXTHOP = 4,
    AGENT_TRAP_RESOLVE = 5,
    AGENT_TRAP_FLOW_MISS = 6,
    AGENT_TRAP_L3_PROTOCOLS = 7,
    AGENT_TRAP_DIAG = 8,
    AGENT_TRAP_ECMP_RESOLVE = 9,
    AGENT_TRAP_SOURCE_MISMATCH = 10,
    AGENT_TRAP_HANDLE_DF = 11,
    AGENT_TRAP_ZERO_TTL = 12,
    AGENT_TRAP_ICMP_ERROR = 13,
    AGENT_TRAP_TOR_CONTROL_PKT = 14,
    AGENT_TRAP_FLOW_ACTION_HOLD = 15,
    AGENT_TRAP_ROUTER_ALERT = 16,
    AGENT_TRAP_MAC_LEARN = 17,
    AGENT_TRAP_MAC_MOVE = 18,
    AGENT_TRAP_MAC_IP_LEARNING = 19,
    AGENT_TRAP_BFD = 20,
};

/* The gateway (VRRP) MAC the vRouter answers with and routes for. */
#define VR_VRRP_MAC { 0x00, 0x00, 0x5e, 0x00, 0x01, 0x00 }

#endif
