/* vr_lpm: longest-prefix-match table of one VRF and family (a binary trie).
 *
 * Keys are up to 128 bits, most significant bit first (IPv4 addresses use the first 4 bytes of
 * the 16-byte key).  Each trie node may hold a route; a lookup walks the address bits and
 * keeps the deepest route seen.  The walk visits routes in key order: by prefix bits, a
 * shorter prefix before the longer ones it covers, which is the order of paginated dumps. */
#ifndef CONTRAIL_VR_LPM_H
#define CONTRAIL_VR_LPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vr_lpm_route {
    uint32_t nh_id;
    uint32_t label;
    uint32_t flags;             /* VR_RT_* */
    uint8_t mac[6];             /* stitched MAC */
};

struct vr_lpm_node;

struct vr_lpm {
    struct vr_lpm_node *root;
    int bits;                   /* 32 or 128 */
    size_t n_routes;
};

void vr_lpm_init(struct vr_lpm *, int bits);
void vr_lpm_destroy(struct vr_lpm *);

/* Adds or replaces the route for PREFIX/PLEN (bits beyond PLEN must be clear).  Returns 0 or
 * EINVAL (PLEN out of range). */
int vr_lpm_add(struct vr_lpm *, const uint8_t prefix[16], int plen,
               const struct vr_lpm_route *);
/* Removes the route for PREFIX/PLEN.  Returns 0 or ENOENT. */
int vr_lpm_del(struct vr_lpm *, const uint8_t prefix[16], int plen);
/* The longest-prefix route covering ADDR, or NULL. *PLEN (if not NULL) gets its length. */
const struct vr_lpm_route *vr_lpm_lookup(const struct vr_lpm *, const uint8_t addr[16],
                                         int *plen);
/* The route for exactly PREFIX/PLEN, or NULL; *PPL gets the length of the closest covering
 * route (the original's "parent prefix length"), 0 when none. */
const struct vr_lpm_route *vr_lpm_get(const struct vr_lpm *, const uint8_t prefix[16],
                                      int plen, int *ppl);

/* Calls CB for each route in key order, starting after AFTER/AFTER_LEN when AFTER is not
 * NULL; stops when CB returns false. */
typedef bool vr_lpm_walk_fn(const uint8_t prefix[16], int plen, int ppl,
                            const struct vr_lpm_route *, void *aux);
void vr_lpm_walk(const struct vr_lpm *, const uint8_t *after, int after_len,
                 vr_lpm_walk_fn *cb, void *aux);

/* Orders two prefixes as the walk does: <0, 0, >0. */
int vr_lpm_cmp(const uint8_t a[16], int alen, const uint8_t b[16], int blen);

/* Clears the bits of PREFIX beyond PLEN; returns true if any was set. */
bool vr_lpm_mask(uint8_t prefix[16], int plen);

#endif
