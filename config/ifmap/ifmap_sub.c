/* ifmap_sub: subscriptions with incrementally maintained reachable sets (see ifmap_sub.h). */
#include "ifmap_sub.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"

static MEM_TYPE(mem_type_sub, "ifmap_sub");
static MEM_TYPE(mem_type_member, "ifmap_member");
static MEM_TYPE(mem_type_result, "ifmap_result");
static MEM_TYPE(mem_type_walk, "ifmap_walk");

#define INF INT_MAX

const char *
ifmap_result_kind_name(enum ifmap_result_kind k)
{
    switch (k) {
    case IFMAP_RESULT_SEARCH: return "searchResult";
    case IFMAP_RESULT_UPDATE: return "updateResult";
    case IFMAP_RESULT_DELETE: return "deleteResult";
    case IFMAP_RESULT_NOTIFY: return "notifyResult";
    }
    return "?";
}

void
ifmap_result_free(struct ifmap_graph *g, struct ifmap_result *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_meta; i++) {
        ifmap_meta_unref(r->metas[i]);
    }
    ifmap_ident_unref(g, r->ident[0]);
    ifmap_ident_unref(g, r->ident[1]);
    mem_free(&mem_type_result, r->metas);
    mem_free(&mem_type_result, r->sub_name);
    mem_free(&mem_type_result, r);
}

/* ---- Growable arrays of identifiers ---- */

struct walk_entry {
    struct ifmap_ident *x;
    int dist;
};

struct walk_vec {
    struct walk_entry *v;
    size_t n, cap;
};

static void
walk_push(struct walk_vec *w, struct ifmap_ident *x, int dist)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->v = mem_realloc(&mem_type_walk, w->v, w->cap * sizeof *w->v);
    }
    w->v[w->n].x = x;
    w->v[w->n].dist = dist;
    w->n++;
}

static void
walk_free(struct walk_vec *w)
{
    mem_free(&mem_type_walk, w->v);
    memset(w, 0, sizeof *w);
}

/* ---- Membership ---- */

static struct ifmap_member *
ident_member(const struct ifmap_sub *s, const struct ifmap_ident *x)
{
    struct ifmap_member *m;
    LIST_FOR_EACH (m, obj_node, &x->members) {
        if (m->sub == s) {
            return m;
        }
    }
    return NULL;
}

static struct ifmap_member *
link_member(const struct ifmap_sub *s, const struct ifmap_link *l)
{
    struct ifmap_member *m;
    LIST_FOR_EACH (m, obj_node, &l->members) {
        if (m->sub == s) {
            return m;
        }
    }
    return NULL;
}

int
ifmap_sub_dist(const struct ifmap_sub *s, const struct ifmap_ident *x)
{
    const struct ifmap_member *m = ident_member(s, x);
    return m ? m->dist : -1;
}

bool
ifmap_sub_has_link(const struct ifmap_sub *s, const struct ifmap_link *l)
{
    return link_member(s, l) != NULL;
}

static struct ifmap_member *
member_add(struct ifmap_sub *s, struct ifmap_ident *x, struct ifmap_link *l, int dist)
{
    struct ifmap_member *m = mem_zalloc(&mem_type_member, sizeof *m);
    m->sub = s;
    m->ident = x;
    m->link = l;
    m->dist = dist;
    if (x) {
        ifmap_ident_ref(x);
        list_push_back(&x->members, &m->obj_node);
        list_push_back(&s->idents, &m->sub_node);
        s->n_idents++;
    } else {
        ifmap_link_ref(l);
        list_push_back(&l->members, &m->obj_node);
        list_push_back(&s->links, &m->sub_node);
        s->n_links++;
    }
    return m;
}

static void
member_remove(struct ifmap_sub *s, struct ifmap_member *m)
{
    list_remove(&m->obj_node);
    list_remove(&m->sub_node);
    if (m->ident) {
        s->n_idents--;
        ifmap_ident_unref(s->graph, m->ident);
    } else {
        s->n_links--;
        ifmap_link_unref(s->graph, m->link);
    }
    mem_free(&mem_type_member, m);
}

/* ---- The predicates the walks are built on ---- */

/* Whether S follows link L: it has an item matching match-links. */
static bool
traversable(const struct ifmap_sub *s, const struct ifmap_link *l)
{
    if (!l->n_meta) {
        return false;
    }
    if (s->match_links.all) {
        return true;
    }
    const struct ifmap_meta *m;
    LIST_FOR_EACH (m, node, &l->metas) {
        if (ifmap_filter_match(&s->match_links, m)) {
            return true;
        }
    }
    return false;
}

/* Whether the walk goes on from X at distance D (-1: not reached). */
static bool
expanding(const struct ifmap_sub *s, const struct ifmap_ident *x, int d)
{
    return d >= 0 && d < s->max_depth
        && (d == 0 || !(s->terminal_mask & (1u << x->type)));
}

static bool
link_should(const struct ifmap_sub *s, const struct ifmap_link *l)
{
    if (!traversable(s, l)) {
        return false;
    }
    int da = ifmap_sub_dist(s, l->a), db = ifmap_sub_dist(s, l->b);
    return (expanding(s, l->a, da) && db >= 0) || (expanding(s, l->b, db) && da >= 0);
}

/* Scratch state of X for the current walk. */
static void
scratch(struct ifmap_graph *g, struct ifmap_ident *x)
{
    if (x->stamp != g->stamp) {
        x->stamp = g->stamp;
        x->tdist = INF;
        x->affected = false;
        x->done = false;
    }
}

/* ---- Emitting results ---- */

static void
emit(struct ifmap_sub *s, enum ifmap_result_kind kind, struct ifmap_ident *x,
     struct ifmap_link *l, struct ifmap_meta **metas, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += ifmap_filter_match(&s->result_filter, metas[i]);
    }
    if (!k) {
        return;
    }
    struct ifmap_result *r = mem_zalloc(&mem_type_result, sizeof *r);
    r->kind = kind;
    r->sub_name = mem_strdup(&mem_type_result, s->name);
    r->ident[0] = l ? l->a : x;
    r->ident[1] = l ? l->b : NULL;
    ifmap_ident_ref(r->ident[0]);
    r->bytes = 64 + r->ident[0]->xml_len;
    if (r->ident[1]) {
        ifmap_ident_ref(r->ident[1]);
        r->bytes += r->ident[1]->xml_len;
    }
    r->metas = mem_zalloc(&mem_type_result, k * sizeof *r->metas);
    for (size_t i = 0; i < n; i++) {
        if (ifmap_filter_match(&s->result_filter, metas[i])) {
            ifmap_meta_ref(metas[i]);
            r->metas[r->n_meta++] = metas[i];
            r->bytes += metas[i]->xml_len;
        }
    }
    s->n_results++;
    s->emit(s->aux, s, r);
}

/* Emits every item of X (or L) as one result. */
static void
emit_all(struct ifmap_sub *s, enum ifmap_result_kind kind, struct ifmap_ident *x,
         struct ifmap_link *l)
{
    struct list *metas = l ? &l->metas : &x->metas;
    size_t n = l ? l->n_meta : x->n_meta;
    if (!n) {
        return;
    }
    struct ifmap_meta *stack[16];
    struct ifmap_meta **v = n <= 16 ? stack : mem_zalloc(&mem_type_walk, n * sizeof *v);
    size_t i = 0;
    struct ifmap_meta *m;
    LIST_FOR_EACH (m, node, metas) {
        v[i++] = m;
    }
    emit(s, kind, x, l, v, i);
    if (v != stack) {
        mem_free(&mem_type_walk, v);
    }
}

static enum ifmap_result_kind
kind_add(const struct ifmap_sub *s)
{
    return s->initial ? IFMAP_RESULT_SEARCH : IFMAP_RESULT_UPDATE;
}

/* Brings L's membership in line with the current distances. */
static void
link_reeval(struct ifmap_sub *s, struct ifmap_link *l)
{
    bool should = link_should(s, l);
    struct ifmap_member *m = link_member(s, l);
    if (should && !m) {
        member_add(s, NULL, l, 0);
        emit_all(s, kind_add(s), NULL, l);
    } else if (!should && m) {
        emit_all(s, IFMAP_RESULT_DELETE, NULL, l);
        member_remove(s, m);
    }
}

static void
reeval_links_of(struct ifmap_sub *s, struct ifmap_ident *x)
{
    struct ifmap_link_end *e;
    LIST_FOR_EACH (e, node, &x->links) {
        link_reeval(s, e->link);
    }
}

/* ---- Growing: distances only drop ---- */

/* Lowers distances from the SEEDS (identifier, proposed distance), walking breadth first
 * through every identifier whose distance drops.  New members report their items, then the
 * links around every changed identifier are re-examined. */
static void
grow(struct ifmap_sub *s, struct walk_vec *seeds)
{
    struct ifmap_graph *g = s->graph;
    ifmap_graph_new_stamp(g);
    struct walk_vec changed = { 0 }, queue = { 0 };
    for (size_t i = 0; i < seeds->n; i++) {
        walk_push(&queue, seeds->v[i].x, seeds->v[i].dist);
    }
    for (size_t qi = 0; qi < queue.n; qi++) {
        struct ifmap_ident *x = queue.v[qi].x;
        int d = queue.v[qi].dist;
        struct ifmap_member *m = ident_member(s, x);
        if (m && m->dist <= d) {
            continue;
        }
        scratch(g, x);
        if (!x->done) {
            x->done = true;             /* Listed in CHANGED. */
            x->affected = !m;           /* New member. */
            walk_push(&changed, x, d);
        }
        if (m) {
            m->dist = d;
        } else {
            member_add(s, x, NULL, d);
        }
        if (!expanding(s, x, d)) {
            continue;
        }
        struct ifmap_link_end *e;
        LIST_FOR_EACH (e, node, &x->links) {
            if (!traversable(s, e->link)) {
                continue;
            }
            struct ifmap_ident *y = ifmap_link_other(e->link, x);
            int dy = ifmap_sub_dist(s, y);
            if (dy < 0 || dy > d + 1) {
                walk_push(&queue, y, d + 1);
            }
        }
    }
    for (size_t i = 0; i < changed.n; i++) {
        if (changed.v[i].x->affected) {
            emit_all(s, kind_add(s), changed.v[i].x, NULL);
        }
    }
    for (size_t i = 0; i < changed.n; i++) {
        reeval_links_of(s, changed.v[i].x);
    }
    walk_free(&changed);
    walk_free(&queue);
}

static void
edge_added(struct ifmap_sub *s, struct ifmap_link *l)
{
    struct walk_vec seeds = { 0 };
    int da = ifmap_sub_dist(s, l->a), db = ifmap_sub_dist(s, l->b);
    if (expanding(s, l->a, da) && (db < 0 || db > da + 1)) {
        walk_push(&seeds, l->b, da + 1);
    }
    if (expanding(s, l->b, db) && (da < 0 || da > db + 1)) {
        walk_push(&seeds, l->a, db + 1);
    }
    if (seeds.n) {
        grow(s, &seeds);
    }
    link_reeval(s, l);
    walk_free(&seeds);
}

/* ---- Shrinking: distances only rise ---- */

/* Whether X keeps a shortest-path parent outside the affected region. */
static bool
has_support(struct ifmap_sub *s, struct ifmap_ident *x, int dx)
{
    if (dx == 0) {
        return true;
    }
    struct ifmap_link_end *e;
    LIST_FOR_EACH (e, node, &x->links) {
        if (!traversable(s, e->link)) {
            continue;
        }
        struct ifmap_ident *y = ifmap_link_other(e->link, x);
        scratch(s->graph, y);
        if (y->affected) {
            continue;
        }
        int dy = ifmap_sub_dist(s, y);
        if (dy == dx - 1 && expanding(s, y, dy)) {
            return true;
        }
    }
    return false;
}

static int
walk_cmp(const void *a_, const void *b_)
{
    const struct walk_entry *a = a_, *b = b_;
    return a->dist < b->dist ? -1 : a->dist > b->dist;
}

/* L stopped being traversable.  The identifiers that may be further away now are found level
 * by level from L's far end (those left without a parent one step closer); their distances
 * are recomputed from the region's boundary; those beyond reach leave the subscription. */
static void
edge_removed(struct ifmap_sub *s, struct ifmap_link *l)
{
    struct ifmap_graph *g = s->graph;
    int da = ifmap_sub_dist(s, l->a), db = ifmap_sub_dist(s, l->b);
    struct ifmap_ident *child = NULL;
    if (da >= 0 && db == da + 1 && expanding(s, l->a, da)) {
        child = l->b;
    } else if (db >= 0 && da == db + 1 && expanding(s, l->b, db)) {
        child = l->a;
    }
    ifmap_graph_new_stamp(g);
    if (!child || has_support(s, child, ifmap_sub_dist(s, child))) {
        link_reeval(s, l);
        return;
    }

    /* The affected region, in breadth-first (nondecreasing distance) order. */
    struct walk_vec aff = { 0 };
    scratch(g, child);
    child->affected = true;
    walk_push(&aff, child, ifmap_sub_dist(s, child));
    for (size_t i = 0; i < aff.n; i++) {
        struct ifmap_ident *x = aff.v[i].x;
        int dx = aff.v[i].dist;
        if (!expanding(s, x, dx)) {
            continue;
        }
        struct ifmap_link_end *e;
        LIST_FOR_EACH (e, node, &x->links) {
            if (!traversable(s, e->link)) {
                continue;
            }
            struct ifmap_ident *y = ifmap_link_other(e->link, x);
            scratch(g, y);
            int dy = ifmap_sub_dist(s, y);
            if (!y->affected && dy == dx + 1 && !has_support(s, y, dy)) {
                y->affected = true;
                walk_push(&aff, y, dy);
            }
        }
    }

    /* Distances from the boundary, then inside the region in nondecreasing order (a sorted
     * list of boundary proposals merged with a FIFO of relaxations). */
    struct walk_vec start = { 0 }, fifo = { 0 };
    for (size_t i = 0; i < aff.n; i++) {
        struct ifmap_ident *x = aff.v[i].x;
        int best = INF;
        struct ifmap_link_end *e;
        LIST_FOR_EACH (e, node, &x->links) {
            if (!traversable(s, e->link)) {
                continue;
            }
            struct ifmap_ident *y = ifmap_link_other(e->link, x);
            scratch(g, y);
            if (y->affected) {
                continue;
            }
            int dy = ifmap_sub_dist(s, y);
            if (expanding(s, y, dy) && dy + 1 < best) {
                best = dy + 1;
            }
        }
        x->tdist = best;
        if (best != INF) {
            walk_push(&start, x, best);
        }
    }
    if (start.n) {
        qsort(start.v, start.n, sizeof *start.v, walk_cmp);
    }
    size_t si = 0, fi = 0;
    while (si < start.n || fi < fifo.n) {
        struct walk_entry *we = fi < fifo.n && (si >= start.n || fifo.v[fi].dist
                                                < start.v[si].dist)
                                ? &fifo.v[fi++] : &start.v[si++];
        struct ifmap_ident *x = we->x;
        if (x->done || we->dist != x->tdist) {
            continue;
        }
        x->done = true;
        int d = x->tdist;
        if (!expanding(s, x, d)) {
            continue;
        }
        struct ifmap_link_end *e;
        LIST_FOR_EACH (e, node, &x->links) {
            if (!traversable(s, e->link)) {
                continue;
            }
            struct ifmap_ident *y = ifmap_link_other(e->link, x);
            scratch(g, y);
            if (y->affected && !y->done && d + 1 < y->tdist) {
                y->tdist = d + 1;
                walk_push(&fifo, y, d + 1);
            }
        }
    }

    /* Apply: new distances, departures; then links (their deletes first), then the
     * departed identifiers' deletes. */
    struct walk_vec gone = { 0 };
    for (size_t i = 0; i < aff.n; i++) {
        struct ifmap_ident *x = aff.v[i].x;
        struct ifmap_member *m = ident_member(s, x);
        if (x->done) {
            m->dist = x->tdist;
        } else {
            ifmap_ident_ref(x);
            member_remove(s, m);
            walk_push(&gone, x, 0);
        }
    }
    link_reeval(s, l);
    for (size_t i = 0; i < aff.n; i++) {
        reeval_links_of(s, aff.v[i].x);
    }
    for (size_t i = 0; i < gone.n; i++) {
        emit_all(s, IFMAP_RESULT_DELETE, gone.v[i].x, NULL);
        ifmap_ident_unref(g, gone.v[i].x);
    }
    walk_free(&gone);
    walk_free(&start);
    walk_free(&fifo);
    walk_free(&aff);
}

/* ---- Hooks of the graph ---- */

void
ifmap_sub_link_pre(struct ifmap_graph *g, struct ifmap_link *l)
{
    struct ifmap_sub *s;
    LIST_FOR_EACH (s, graph_node, &g->subs) {
        s->trav_before = traversable(s, l);
    }
}

void
ifmap_sub_changed(struct ifmap_graph *g, struct ifmap_ident *x, struct ifmap_link *l,
                  struct ifmap_meta **added, size_t n_added,
                  struct ifmap_meta **removed, size_t n_removed)
{
    struct ifmap_sub *s;
    LIST_FOR_EACH (s, graph_node, &g->subs) {
        bool member = l ? link_member(s, l) != NULL : ident_member(s, x) != NULL;
        if (member) {
            /* A replaced singleValue item is superseded by the update, unless the
             * subscription does not see the new one. */
            bool superseded = false;
            for (size_t i = 0; i < n_added; i++) {
                superseded |= ifmap_filter_match(&s->result_filter, added[i]);
            }
            if (n_removed && !superseded) {
                emit(s, IFMAP_RESULT_DELETE, x, l, removed, n_removed);
            }
            if (n_added) {
                emit(s, IFMAP_RESULT_UPDATE, x, l, added, n_added);
            }
        }
        if (l) {
            bool after = traversable(s, l);
            if (after && !s->trav_before) {
                edge_added(s, l);
            } else if (!after && s->trav_before) {
                edge_removed(s, l);
            }
        }
    }
}

void
ifmap_sub_notify(struct ifmap_graph *g, struct ifmap_ident *x, struct ifmap_ident *y,
                 struct ifmap_meta *m)
{
    struct ifmap_link *l = y ? ifmap_graph_find_link(g, x, y) : NULL;
    struct ifmap_sub *s;
    LIST_FOR_EACH (s, graph_node, &g->subs) {
        int dx = ifmap_sub_dist(s, x);
        if (!y) {
            if (dx >= 0) {
                emit(s, IFMAP_RESULT_NOTIFY, x, NULL, &m, 1);
            }
            continue;
        }
        int dy = ifmap_sub_dist(s, y);
        if (dx >= 0 && dy >= 0 && (expanding(s, x, dx) || expanding(s, y, dy))) {
            /* The result names the pair in the link's canonical order. */
            struct ifmap_link tmp = { .a = x, .b = y };
            if (strcmp(x->key, y->key) > 0) {
                tmp.a = y;
                tmp.b = x;
            }
            emit(s, IFMAP_RESULT_NOTIFY, NULL, l ? l : &tmp, &m, 1);
        }
    }
}

/* ---- Life cycle ---- */

struct ifmap_sub *
ifmap_sub_create(struct ifmap_graph *g, const char *name, struct ifmap_ident *start,
                 const struct ifmap_sub_params *p, ifmap_sub_emit_fn *emit_fn, void *aux)
{
    struct ifmap_sub *s = mem_zalloc(&mem_type_sub, sizeof *s);
    s->graph = g;
    s->name = mem_strdup(&mem_type_sub, name ? name : "");
    s->start = start;
    ifmap_ident_ref(start);
    s->max_depth = p->max_depth < 0 ? 0 : p->max_depth;
    s->terminal_mask = p->terminal_mask;
    ifmap_filter_copy(&s->match_links, &p->match_links);
    ifmap_filter_copy(&s->result_filter, &p->result_filter);
    list_init(&s->idents);
    list_init(&s->links);
    s->emit = emit_fn;
    s->aux = aux;
    list_push_back(&g->subs, &s->graph_node);

    s->initial = true;
    struct walk_vec seeds = { 0 };
    walk_push(&seeds, start, 0);
    grow(s, &seeds);
    walk_free(&seeds);
    s->initial = false;
    return s;
}

void
ifmap_sub_destroy(struct ifmap_sub *s)
{
    if (!s) {
        return;
    }
    list_remove(&s->graph_node);
    struct ifmap_member *m;
    LIST_FOR_EACH_SAFE (m, sub_node, &s->links) {
        member_remove(s, m);
    }
    LIST_FOR_EACH_SAFE (m, sub_node, &s->idents) {
        member_remove(s, m);
    }
    ifmap_ident_unref(s->graph, s->start);
    ifmap_filter_destroy(&s->match_links);
    ifmap_filter_destroy(&s->result_filter);
    mem_free(&mem_type_sub, s->name);
    mem_free(&mem_type_sub, s);
}
