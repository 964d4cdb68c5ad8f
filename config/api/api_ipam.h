/* api_ipam: IP address management of virtual networks (the original's §3.3 rules).
 *
 * A network's subnets come from the attributes of its network-ipam references
 * (VnSubnetsType.ipam_subnets).  On create/update they are checked and completed (default
 * gateway = last usable address, DNS = the one below, or .1/.2 with addr_from_start; a
 * subnet_uuid each), and every address handed out (instance-ip, floating-ip, /ip-alloc) is
 * tracked per network, so that allocation takes the next free address from the top down (or
 * from the start) inside the allocation pools. */
#ifndef CONTRAIL_API_IPAM_H
#define CONTRAIL_API_IPAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "api_store.h"
#include "ipaddr.h"

/* Checks and completes the VnSubnetsType attributes in ATTRS (a JSON array of the attrs of
 * every network-ipam reference the network will have; modified in place).  VN is the existing
 * network on update (NULL on create): a subnet that is removed while addresses in it are in
 * use is refused.  Returns 0, or an HTTP status with a message in ERR. */
int api_ipam_prepare(struct api_obj *vn, json_t *attrs, char *err, size_t errlen);

/* Rebuilds VN's subnet table from its current network-ipam references. */
void api_ipam_apply(struct api_obj *vn);

/* Frees VN's IPAM state (when the network is freed). */
void api_ipam_destroy(struct api_obj *vn);

/* Allocates an address in VN for OWNER (a uuid or "reserved").  FAMILY is 4, 6 or 0 (any);
 * SUBNET_UUID restricts to one subnet; WANT asks for that exact address.  On success writes
 * the address to IP and the subnet's uuid to SUBNET_UUID_OUT (may be NULL) and returns 0;
 * otherwise an HTTP status (400 bad address, 409 in use, 409 exhausted) with ERR. */
int api_ipam_alloc(struct api_obj *vn, int family, const char *subnet_uuid, const char *want,
                   const char *owner, char ip[IPADDR_STRLEN], char subnet_uuid_out[UUID_LEN + 1],
                   char *err, size_t errlen);

/* Marks IP used by OWNER without checks (loading).  Returns false if it was already used. */
bool api_ipam_mark(struct api_obj *vn, const char *ip, const char *owner);

/* Releases IP in VN.  Returns false if it was not allocated. */
bool api_ipam_free(struct api_obj *vn, const char *ip);

/* The owner of IP in VN, or NULL. */
const char *api_ipam_owner(struct api_obj *vn, const char *ip);

/* Number of allocated addresses inside PREFIX ("a.b.c.d/n") in VN; -1 if PREFIX is bad. */
long api_ipam_count(struct api_obj *vn, const char *prefix);

/* The owner of addresses reserved through /ip-alloc. */
#define API_IPAM_RESERVED "reserved"

/* The addresses of VN owned by OWNER, as a new JSON array of strings. */
json_t *api_ipam_owned_by(struct api_obj *vn, const char *owner);

/* The uuid of VN's subnet PREFIX ("a.b.c.d/n") into OUT.  Returns false if there is none. */
bool api_ipam_subnet_uuid(struct api_obj *vn, const char *prefix, char out[UUID_LEN + 1]);

/* Whether VN has any allocated address. */
bool api_ipam_in_use(struct api_obj *vn);

#endif
