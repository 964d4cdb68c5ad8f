/* vr_lpm: binary-trie longest-prefix match (see vr_lpm.h). */
#include "vr_lpm.h"

#include <errno.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_lpm_node, "vr_lpm_node");

struct vr_lpm_node {
    struct vr_lpm_node *child[2];
    bool has_route;
    struct vr_lpm_route route;
};

static inline int
bit_at(const uint8_t *key, int i)
{
    return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

void
vr_lpm_init(struct vr_lpm *t, int bits)
{
    t->root = NULL;
    t->bits = bits;
    t->n_routes = 0;
}

static void
free_node(struct vr_lpm_node *n)
{
    /* Iterative on one side, recursive on the other: depth is at most 128. */
    while (n) {
        free_node(n->child[0]);
        struct vr_lpm_node *next = n->child[1];
        mem_free(&mem_type_lpm_node, n);
        n = next;
    }
}

void
vr_lpm_destroy(struct vr_lpm *t)
{
    if (t) {
        free_node(t->root);
        t->root = NULL;
        t->n_routes = 0;
    }
}

bool
vr_lpm_mask(uint8_t prefix[16], int plen)
{
    bool had = false;
    for (int i = 0; i < 16; i++) {
        int keep = plen - 8 * i;
        uint8_t mask = keep >= 8 ? 0xff : keep <= 0 ? 0 : (uint8_t) (0xff << (8 - keep));
        if (prefix[i] & ~mask) {
            had = true;
        }
        prefix[i] &= mask;
    }
    return had;
}

int
vr_lpm_add(struct vr_lpm *t, const uint8_t prefix[16], int plen, const struct vr_lpm_route *r)
{
    if (plen < 0 || plen > t->bits) {
        return EINVAL;
    }
    struct vr_lpm_node **np = &t->root;
    for (int i = 0;; i++) {
        if (!*np) {
            *np = mem_zalloc(&mem_type_lpm_node, sizeof **np);
        }
        if (i == plen) {
            break;
        }
        np = &(*np)->child[bit_at(prefix, i)];
    }
    if (!(*np)->has_route) {
        t->n_routes++;
    }
    (*np)->has_route = true;
    (*np)->route = *r;
    return 0;
}

/* Removes the route at depth I of the subtree at *NP; frees nodes left empty. */
static int
del_rec(struct vr_lpm *t, struct vr_lpm_node **np, const uint8_t *prefix, int plen, int i)
{
    struct vr_lpm_node *n = *np;
    if (!n) {
        return ENOENT;
    }
    int error;
    if (i == plen) {
        if (!n->has_route) {
            return ENOENT;
        }
        n->has_route = false;
        t->n_routes--;
        error = 0;
    } else {
        error = del_rec(t, &n->child[bit_at(prefix, i)], prefix, plen, i + 1);
    }
    if (!error && !n->has_route && !n->child[0] && !n->child[1]) {
        mem_free(&mem_type_lpm_node, n);
        *np = NULL;
    }
    return error;
}

int
vr_lpm_del(struct vr_lpm *t, const uint8_t prefix[16], int plen)
{
    if (plen < 0 || plen > t->bits) {
        return ENOENT;
    }
    return del_rec(t, &t->root, prefix, plen, 0);
}

const struct vr_lpm_route *
vr_lpm_lookup(const struct vr_lpm *t, const uint8_t addr[16], int *plen)
{
    const struct vr_lpm_route *best = NULL;
    int best_len = -1;
    const struct vr_lpm_node *n = t->root;
    for (int i = 0; n; i++) {
        if (n->has_route) {
            best = &n->route;
            best_len = i;
        }
        if (i == t->bits) {
            break;
        }
        n = n->child[bit_at(addr, i)];
    }
    if (plen) {
        *plen = best_len;
    }
    return best;
}

const struct vr_lpm_route *
vr_lpm_get(const struct vr_lpm *t, const uint8_t prefix[16], int plen, int *ppl)
{
    int parent = 0;
    const struct vr_lpm_node *n = t->root;
    if (plen < 0 || plen > t->bits) {
        return NULL;
    }
    for (int i = 0; n && i < plen; i++) {
        if (n->has_route) {
            parent = i;
        }
        n = n->child[bit_at(prefix, i)];
    }
    if (ppl) {
        *ppl = parent;
    }
    return n && n->has_route ? &n->route : NULL;
}

int
vr_lpm_cmp(const uint8_t a[16], int alen, const uint8_t b[16], int blen)
{
    int n = alen < blen ? alen : blen;
    for (int i = 0; i < n; i++) {
        int x = bit_at(a, i), y = bit_at(b, i);
        if (x != y) {
            return x - y;
        }
    }
    return alen - blen;
}

struct walk {
    vr_lpm_walk_fn *cb;
    void *aux;
    const uint8_t *after;
    int after_len;
    uint8_t key[16];
    bool stop;
};

static void
walk_rec(struct walk *w, const struct vr_lpm_node *n, int depth, int ppl)
{
    if (!n || w->stop) {
        return;
    }
    /* Skip whole subtrees that end before the marker: the subtree at KEY/DEPTH holds keys
     * that start with KEY/DEPTH, so if the marker's first DEPTH bits compare greater and
     * differ, everything here comes before it. */
    if (w->after) {
        int m = depth < w->after_len ? depth : w->after_len;
        for (int i = 0; i < m; i++) {
            int x = bit_at(w->key, i), y = bit_at(w->after, i);
            if (x != y) {
                if (x < y) {
                    return;
                }
                break;
            }
        }
    }
    if (n->has_route
        && (!w->after || vr_lpm_cmp(w->key, depth, w->after, w->after_len) > 0)) {
        if (!w->cb(w->key, depth, ppl, &n->route, w->aux)) {
            w->stop = true;
            return;
        }
    }
    int child_ppl = n->has_route ? depth : ppl;
    for (int b = 0; b < 2 && !w->stop; b++) {
        if (n->child[b]) {
            if (b) {
                w->key[depth >> 3] |= (uint8_t) (0x80 >> (depth & 7));
            }
            walk_rec(w, n->child[b], depth + 1, child_ppl);
            w->key[depth >> 3] &= (uint8_t) ~(0x80 >> (depth & 7));
        }
    }
}

void
vr_lpm_walk(const struct vr_lpm *t, const uint8_t *after, int after_len, vr_lpm_walk_fn *cb,
            void *aux)
{
    struct walk w = { .cb = cb, .aux = aux, .after = after, .after_len = after_len };
    memset(w.key, 0, sizeof w.key);
    walk_rec(&w, t->root, 0, 0);
}
