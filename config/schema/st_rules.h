/* st_rules: the schema transformer's rule expansion (config-plane reference §6.1, §6.2).
 *
 * Pure functions from policy JSON (PolicyEntriesType, as the API stores it) to access-control-
 * list JSON (AclEntriesType) and network connections, the way the original's VirtualNetworkST
 * and SecurityGroupST did it: protocol names to numbers, "local" to the network's own name,
 * network-policy addresses expanded to the networks attached to that policy, the cartesian
 * product of addresses and ports, a bidirectional rule emitted a second time with source and
 * destination swapped, rules that are subsets of earlier ones dropped, and after the policy
 * rules of a static ACL the trailing rules (own network to itself pass, then with
 * logical_routers_enabled one "deny any" per rule's address pair and a final any-to-any pass;
 * without it a final any-to-any deny).  Security groups give an ingress and an egress ACL with
 * group names replaced by their numeric ids.
 *
 * Everything here is deterministic: the same input gives byte-identical JSON, which is what
 * lets a restarted transformer find that nothing needs writing (the hash of the entries is
 * compared with access_control_list_hash). */
#ifndef CONTRAIL_ST_RULES_H
#define CONTRAIL_ST_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The ACL protocol for a policy protocol: "any" for NULL or "any", digits unchanged, "tcp" 6,
 * "udp" 17, "icmp" 1 (58 when ETHERTYPE is "IPv6"), "icmp6" 58.  Returns a static string or
 * NULL for an unknown name. */
const char *st_rules_protocol(const char *proto, const char *ethertype);

/* The networks attached to network-policy POLICY (fq_name string), as an array of fq_name
 * strings (borrowed), or NULL when the policy is unknown. */
typedef const json_t *st_rules_policy_vns_fn(void *aux, const char *policy);

/* One policy attached to a network, in the network's order (by sequence). */
struct st_rules_policy {
    const char *name;           /* fq_name string. */
    const json_t *entries;      /* network_policy_entries (PolicyEntriesType), or NULL. */
    bool dynamic;               /* Attached with a timer: goes to the "dynamic" ACL. */
};

struct st_rules_vn_result {
    json_t *static_entries;     /* AclEntriesType {"dynamic": false, ...}, or NULL: no ACL. */
    json_t *dynamic_entries;    /* {"dynamic": true, ...}, or NULL. */
    json_t *connections;        /* Sorted array of the network names this network's pass
                                 * rules connect it to ("*" for any). */
    json_t *chains;             /* Array of the service chains its apply_service rules ask
                                 * for where it is the left or the right network (see
                                 * st_rules_chain), without duplicates, in rule order. */
};

/* Expands the N policies POLS of network VN (fq_name string).  LOGICAL_ROUTERS_ENABLED selects
 * the trailing rules.  POLICY_VNS resolves network-policy addresses.  Fills OUT (new
 * references; release with st_rules_vn_result_clear). */
void st_rules_vn(const char *vn, const struct st_rules_policy *pols, size_t n,
                 bool logical_routers_enabled, st_rules_policy_vns_fn *policy_vns, void *aux,
                 struct st_rules_vn_result *out);
void st_rules_vn_result_clear(struct st_rules_vn_result *);

/* Service chains (§6.3).  A policy rule with action_list.apply_service [si, ...] between a
 * concrete source network (left) and destination network (right) asks for one chain,
 * identified as in the original by left, right, direction, source ports, destination ports,
 * protocol and service list.  The original named a chain with a random uuid kept in
 * ZooKeeper; here the uuid is derived from that identity (st_rules_chain_uuid), so that a
 * restarted or new leader finds the same chain, and the same names, without any store.
 *
 * A chain is the JSON object {"uuid", "left", "right", "direction", "src_ports",
 * "dst_ports", "protocol", "services"} (ports canonical {start_port, end_port} arrays,
 * protocol as in ACLs).  In the ACL of the left network an apply_service rule becomes a pass
 * rule with assign_routing_instance = the left service instance of the first service; in the
 * right network's, the right service instance of the last one; such rules make no
 * connection between the networks' primary instances (the chain connects them). */

/* The chain uuid of identity CHAIN (its members but "uuid"): 128 bits of two FNV-1a hashes
 * over the canonical JSON, formatted as a version-5-looking uuid into OUT. */
void st_rules_chain_uuid(const json_t *chain, char out[37]);

/* The service routing instance of service instance SI (fq string) of chain UUID in network
 * VN: "<vn>:service-<uuid>-<si with ':' -> '_'>" (new string, free with xfree). */
char *st_rules_service_ri(const char *vn, const char *uuid, const char *si);

/* The id of security group NAME (fq_name string), or -1 when unknown. */
typedef long long st_rules_sg_id_fn(void *aux, const char *sg);

/* The ingress and egress ACL entries of security group SG (fq_name string) with id SG_ID and
 * security_group_entries ENTRIES (may be NULL).  Both results are always set (new references,
 * {"acl_rule": [...]}). */
void st_rules_sg(const char *sg, long long sg_id, const json_t *entries,
                 st_rules_sg_id_fn *sg_id_of, void *aux, json_t **ingress, json_t **egress);

/* The access_control_list_hash of ENTRIES: 63 bits of FNV-1a over its canonical JSON
 * (sorted keys), so that it is a positive JSON integer. */
uint64_t st_rules_hash(const json_t *entries);

/* Whether ACL rule A's match is a subset of rule B's (same protocol or B "any", ports within,
 * addresses equal or B "any", subnets contained): the original's test for dropping A. */
bool st_rules_is_subset(const json_t *a, const json_t *b);

#endif
