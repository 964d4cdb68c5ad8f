/* Unit tests for vr_lpm: longest-prefix match against a brute-force reference with random
 * prefixes (IPv4 and IPv6), deletion, parent prefix length, ordered and resumable walks. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vr_lpm.h"

#include <errno.h>
#define ENOENT_VALUE ENOENT
#define EINVAL_VALUE EINVAL

#define N 400

struct ref {
    uint8_t p[16];
    int len;
    uint32_t nh;
    int live;
};

static int
covers(const struct ref *r, const uint8_t *a)
{
    uint8_t x[16];
    memcpy(x, a, 16);
    vr_lpm_mask(x, r->len);
    return !memcmp(x, r->p, 16);
}

static const struct ref *
ref_lookup(const struct ref *refs, int n, const uint8_t *a)
{
    const struct ref *best = NULL;
    for (int i = 0; i < n; i++) {
        if (refs[i].live && covers(&refs[i], a) && (!best || refs[i].len > best->len)) {
            best = &refs[i];
        }
    }
    return best;
}

static void
random_addr(uint8_t *a, int bits)
{
    memset(a, 0, 16);
    for (int i = 0; i < bits / 8; i++) {
        a[i] = (uint8_t) (rand() & 0xff);
    }
    /* Concentrate on a few top bytes so that prefixes nest and collide. */
    a[0] = (uint8_t) (rand() % 4);
}

struct walk_state {
    int n;
    uint8_t last[16];
    int last_len;
    int ordered;
    int stop_after;
};

static bool
walk_cb(const uint8_t prefix[16], int plen, int ppl, const struct vr_lpm_route *r, void *aux)
{
    struct walk_state *w = aux;
    if (w->n && vr_lpm_cmp(w->last, w->last_len, prefix, plen) >= 0) {
        w->ordered = 0;
    }
    memcpy(w->last, prefix, 16);
    w->last_len = plen;
    w->n++;
    return w->stop_after == 0 || w->n < w->stop_after;
}

static void
run(int bits)
{
    struct vr_lpm t;
    vr_lpm_init(&t, bits);
    static struct ref refs[N];
    memset(refs, 0, sizeof refs);
    for (int i = 0; i < N; i++) {
        random_addr(refs[i].p, bits);
        refs[i].len = rand() % (bits + 1);
        vr_lpm_mask(refs[i].p, refs[i].len);
        refs[i].nh = (uint32_t) i + 1;
        refs[i].live = 1;
        /* A duplicate prefix replaces the older one in both. */
        for (int j = 0; j < i; j++) {
            if (refs[j].live && refs[j].len == refs[i].len && !memcmp(refs[j].p, refs[i].p, 16)) {
                refs[j].live = 0;
            }
        }
        struct vr_lpm_route r = { .nh_id = refs[i].nh };
        CHECK_EQ_INT(vr_lpm_add(&t, refs[i].p, refs[i].len, &r), 0);
    }
    for (int i = 0; i < N / 3; i++) {
        int k = rand() % N;
        if (refs[k].live) {
            CHECK_EQ_INT(vr_lpm_del(&t, refs[k].p, refs[k].len), 0);
            refs[k].live = 0;
            CHECK_EQ_INT(vr_lpm_del(&t, refs[k].p, refs[k].len), ENOENT_VALUE);
        }
    }
    int live = 0;
    for (int i = 0; i < N; i++) {
        live += refs[i].live;
    }
    CHECK_EQ_INT(t.n_routes, live);
    int mismatches = 0;
    for (int i = 0; i < 5000; i++) {
        uint8_t a[16];
        random_addr(a, bits);
        const struct ref *want = ref_lookup(refs, N, a);
        int plen;
        const struct vr_lpm_route *got = vr_lpm_lookup(&t, a, &plen);
        if ((want == NULL) != (got == NULL) || (want && (got->nh_id != want->nh
                                                         || plen != want->len))) {
            mismatches++;
        }
    }
    CHECK_EQ_INT(mismatches, 0);
    /* Exact get and the parent prefix length. */
    for (int i = 0; i < N; i++) {
        if (!refs[i].live) {
            continue;
        }
        int ppl;
        const struct vr_lpm_route *r = vr_lpm_get(&t, refs[i].p, refs[i].len, &ppl);
        CHECK(r && r->nh_id == refs[i].nh);
        int want_ppl = 0;
        for (int j = 0; j < N; j++) {
            if (refs[j].live && refs[j].len < refs[i].len && refs[j].len > want_ppl
                && covers(&refs[j], refs[i].p)) {
                want_ppl = refs[j].len;
            }
        }
        CHECK_EQ_INT(ppl, want_ppl);
    }
    /* A full walk is ordered and complete; a walk resumed after the 10th route sees the
     * rest. */
    struct walk_state w = { .ordered = 1 };
    vr_lpm_walk(&t, NULL, 0, walk_cb, &w);
    CHECK_EQ_INT(w.n, live);
    CHECK(w.ordered);
    struct walk_state first = { .ordered = 1, .stop_after = 10 };
    vr_lpm_walk(&t, NULL, 0, walk_cb, &first);
    struct walk_state rest = { .ordered = 1 };
    vr_lpm_walk(&t, first.last, first.last_len, walk_cb, &rest);
    CHECK_EQ_INT(first.n + rest.n, live);
    CHECK(rest.ordered);
    vr_lpm_destroy(&t);
}

int
main(void)
{
    srand(42);
    run(32);
    run(128);
    /* Default route and host route. */
    struct vr_lpm t;
    vr_lpm_init(&t, 32);
    uint8_t zero[16] = { 0 }, host[16] = { 203, 0, 113, 7 };
    struct vr_lpm_route d = { .nh_id = 1 }, h = { .nh_id = 2 };
    vr_lpm_add(&t, zero, 0, &d);
    vr_lpm_add(&t, host, 32, &h);
    uint8_t other[16] = { 203, 0, 113, 8 };
    CHECK_EQ_INT(vr_lpm_lookup(&t, host, NULL)->nh_id, 2);
    CHECK_EQ_INT(vr_lpm_lookup(&t, other, NULL)->nh_id, 1);
    CHECK_EQ_INT(vr_lpm_add(&t, host, 33, &h), EINVAL_VALUE);
    vr_lpm_destroy(&t);
    return check_finish();
}
