/* vr_client: the tools' side of the vRouter control protocol (vr_proto.h), plus helpers
 * the tools share (names of types and flags, option parsing). */
#ifndef CONTRAIL_VR_CLIENT_H
#define CONTRAIL_VR_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vr_msg.h"

struct vr_client {
    int fd;
    uint32_t seq;
    uint8_t *req, *resp;
    char err[300];              /* the last error, for the user */
};

/* Connects to PATH; NULL takes $VROUTER_CTL_SOCKET, then VR_DEFAULT_CTL_SOCKET.  Returns 0
 * or an errno (message in client->err). */
int vr_client_open(struct vr_client *, const char *path);
void vr_client_close(struct vr_client *);

/* Called for each object of a response, decoded into a struct of the object's type. */
typedef void vr_client_obj_fn(const void *obj, void *aux);

/* Sends OP on OBJ with the fields of S selected by WHICH (bits of the object's field table;
 * ~0: all writable fields) and MARKER (key fields, may be NULL); calls CB for each object
 * returned.  Returns the response code (0 or an errno; the message in client->err); *MORE
 * (may be NULL) tells whether a dump has more. */
int vr_client_request(struct vr_client *, uint8_t op, uint16_t obj, const void *s,
                      uint64_t which, const void *marker, vr_client_obj_fn *cb, void *aux,
                      bool *more);

/* Lists every object of OBJ (dump, page after page) matching the filter fields of S
 * (WHICH), calling CB for each.  Returns 0 or the error code. */
int vr_client_dump(struct vr_client *, uint16_t obj, const void *s, uint64_t which,
                   vr_client_obj_fn *cb, void *aux);

/* A mask of the fields of OBJ given as attribute ids, ending with 0. */
uint64_t vr_fields(uint16_t obj, ...);

/* Parsing helpers for the tools: each prints "<prog>: <what>: <problem>" and exits 2. */
uint32_t vr_arg_u32(const char *prog, const char *what, const char *s, uint32_t max);
void vr_arg_ip(const char *prog, const char *what, const char *s, struct vr_ip *ip);
void vr_arg_mac(const char *prog, const char *what, const char *s, uint8_t mac[6]);

/* Prints the client's error for WHAT and returns exit status 1. */
int vr_client_fail(const struct vr_client *, const char *prog, const char *what);

#endif
