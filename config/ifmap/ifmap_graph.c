/* ifmap_graph: the in-memory IF-MAP graph (see ifmap_graph.h). */
#include "ifmap_graph.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifmap_sub.h"
#include "mem.h"

static MEM_TYPE(mem_type_ident, "ifmap_ident");
static MEM_TYPE(mem_type_link, "ifmap_link");
static MEM_TYPE(mem_type_meta, "ifmap_meta");
static MEM_TYPE(mem_type_filter, "ifmap_filter");
static MEM_TYPE(mem_type_scratch, "ifmap_scratch");
MEM_TYPE(ifmap_graph_xml_type, "ifmap_xml");

static const char *const ident_type_names[IFMAP_IDENT_N_TYPES] = {
    [IFMAP_IDENT_ACCESS_REQUEST] = "access-request",
    [IFMAP_IDENT_DEVICE] = "device",
    [IFMAP_IDENT_IDENTITY] = "identity",
    [IFMAP_IDENT_IP_ADDRESS] = "ip-address",
    [IFMAP_IDENT_MAC_ADDRESS] = "mac-address",
};

const char *
ifmap_ident_type_name(enum ifmap_ident_type t)
{
    return (unsigned) t < IFMAP_IDENT_N_TYPES ? ident_type_names[t] : "?";
}

int
ifmap_ident_type_from_name(const char *name)
{
    for (int i = 0; i < IFMAP_IDENT_N_TYPES; i++) {
        if (!strcmp(name, ident_type_names[i])) {
            return i;
        }
    }
    return -1;
}

/* ---- Filters ---- */

static void
filter_add(struct ifmap_filter *f, const char *ns, const char *name)
{
    f->terms = mem_realloc(&mem_type_filter, f->terms, (f->n + 1) * sizeof *f->terms);
    f->terms[f->n].ns = ns ? mem_strdup(&mem_type_filter, ns) : NULL;
    f->terms[f->n].name = name ? mem_strdup(&mem_type_filter, name) : NULL;
    f->n++;
}

static bool
qname_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_' || c == '.' || (unsigned char) c >= 0x80;
}

/* Parses one term "prefix:local", "local", "*", "prefix:*", optionally in parentheses. */
static int
filter_term(struct ifmap_filter *f, const char *t, size_t len, ifmap_ns_resolve_fn *resolve,
            void *aux, char *err, size_t errlen)
{
    while (len && (*t == ' ' || *t == '(')) {
        t++, len--;
    }
    while (len && (t[len - 1] == ' ' || t[len - 1] == ')')) {
        len--;
    }
    char term[512];
    if (!len || len >= sizeof term) {
        snprintf(err, errlen, "empty or too long term in filter");
        return EINVAL;
    }
    memcpy(term, t, len);
    term[len] = '\0';
    if (!strcmp(term, "*")) {
        filter_add(f, NULL, NULL);
        return 0;
    }
    char *colon = strchr(term, ':');
    const char *local = colon ? colon + 1 : term;
    const char *ns = "";
    if (colon) {
        *colon = '\0';
        for (const char *p = term; *p; p++) {
            if (!qname_char_ok(*p)) {
                goto bad;
            }
        }
        ns = resolve ? resolve(aux, term) : NULL;
        if (!ns) {
            snprintf(err, errlen, "filter term '%s:%s': undeclared namespace prefix '%s'",
                     term, local, term);
            return EINVAL;
        }
    }
    if (!strcmp(local, "*")) {
        filter_add(f, ns, NULL);
        return 0;
    }
    if (!*local) {
        goto bad;
    }
    for (const char *p = local; *p; p++) {
        if (!qname_char_ok(*p)) {
            goto bad;
        }
    }
    filter_add(f, ns, local);
    return 0;

bad:
    snprintf(err, errlen, "unsupported filter term '%.*s' (only QNames joined by \" or \")",
             (int) len, t);
    return EINVAL;
}

int
ifmap_filter_parse(struct ifmap_filter *f, const char *text, ifmap_ns_resolve_fn *resolve,
                   void *aux, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    if (!text) {
        f->all = true;
        return 0;
    }
    const char *p = text;
    for (;;) {
        const char *sep = strstr(p, " or ");
        const char *bar = strchr(p, '|');
        size_t skip = 4;
        if (bar && (!sep || bar < sep)) {
            sep = bar;
            skip = 1;
        }
        size_t len = sep ? (size_t) (sep - p) : strlen(p);
        int error = filter_term(f, p, len, resolve, aux, err, errlen);
        if (error) {
            ifmap_filter_destroy(f);
            return error;
        }
        if (!sep) {
            break;
        }
        p = sep + skip;
    }
    return 0;
}

void
ifmap_filter_destroy(struct ifmap_filter *f)
{
    for (size_t i = 0; i < f->n; i++) {
        mem_free(&mem_type_filter, f->terms[i].ns);
        mem_free(&mem_type_filter, f->terms[i].name);
    }
    mem_free(&mem_type_filter, f->terms);
    memset(f, 0, sizeof *f);
}

void
ifmap_filter_copy(struct ifmap_filter *dst, const struct ifmap_filter *src)
{
    memset(dst, 0, sizeof *dst);
    dst->all = src->all;
    for (size_t i = 0; i < src->n; i++) {
        filter_add(dst, src->terms[i].ns, src->terms[i].name);
    }
}

bool
ifmap_filter_match(const struct ifmap_filter *f, const struct ifmap_meta *m)
{
    if (f->all) {
        return true;
    }
    for (size_t i = 0; i < f->n; i++) {
        const struct ifmap_filter_term *t = &f->terms[i];
        if ((!t->ns || !strcmp(t->ns, m->ns)) && (!t->name || !strcmp(t->name, m->name))) {
            return true;
        }
    }
    return false;
}

/* ---- Metadata items ---- */

struct ifmap_meta *
ifmap_meta_create(const char *ns, const char *name, char *xml, size_t len, bool single,
                  const char *publisher)
{
    struct ifmap_meta *m = mem_zalloc(&mem_type_meta, sizeof *m);
    list_init(&m->node);
    list_init(&m->owner_node);
    m->ns = mem_strdup(&mem_type_meta, ns ? ns : "");
    m->name = mem_strdup(&mem_type_meta, name);
    m->xml = xml;
    m->xml_len = len;
    m->single = single;
    m->publisher = mem_strdup(&mem_type_meta, publisher ? publisher : "");
    m->refcnt = 1;
    return m;
}

void
ifmap_meta_ref(struct ifmap_meta *m)
{
    m->refcnt++;
}

void
ifmap_meta_unref(struct ifmap_meta *m)
{
    if (m && !--m->refcnt) {
        list_remove(&m->owner_node);
        mem_free(&mem_type_meta, m->ns);
        mem_free(&mem_type_meta, m->name);
        mem_free(&ifmap_graph_xml_type, m->xml);
        mem_free(&mem_type_meta, m->publisher);
        mem_free(&mem_type_meta, m);
    }
}

/* ---- Identifiers and links ---- */

void
ifmap_graph_init(struct ifmap_graph *g)
{
    memset(g, 0, sizeof *g);
    hmap_init(&g->idents);
    hmap_init(&g->links);
    list_init(&g->subs);
}

unsigned
ifmap_graph_new_stamp(struct ifmap_graph *g)
{
    return ++g->stamp ? g->stamp : ++g->stamp;
}

struct ifmap_ident *
ifmap_graph_find_ident(const struct ifmap_graph *g, const char *key)
{
    struct ifmap_ident *x;
    HMAP_FOR_EACH_WITH_HASH (x, node, hash_string(key, 0), &g->idents) {
        if (!strcmp(x->key, key)) {
            return x;
        }
    }
    return NULL;
}

struct ifmap_ident *
ifmap_graph_ident(struct ifmap_graph *g, enum ifmap_ident_type type, const char *key,
                  const char *name, const char *xml)
{
    struct ifmap_ident *x = ifmap_graph_find_ident(g, key);
    if (x) {
        x->refcnt++;
        return x;
    }
    x = mem_zalloc(&mem_type_ident, sizeof *x);
    x->type = type;
    x->key = mem_strdup(&mem_type_ident, key);
    x->name = mem_strdup(&mem_type_ident, name ? name : "");
    x->xml = mem_strdup(&mem_type_ident, xml);
    x->xml_len = strlen(xml);
    x->refcnt = 1;
    list_init(&x->metas);
    list_init(&x->links);
    list_init(&x->members);
    hmap_insert(&g->idents, &x->node, hash_string(key, 0));
    return x;
}

void
ifmap_ident_ref(struct ifmap_ident *x)
{
    x->refcnt++;
}

void
ifmap_ident_unref(struct ifmap_graph *g, struct ifmap_ident *x)
{
    if (x && !--x->refcnt) {
        hmap_remove(&g->idents, &x->node);
        mem_free(&mem_type_ident, x->key);
        mem_free(&mem_type_ident, x->name);
        mem_free(&mem_type_ident, x->xml);
        mem_free(&mem_type_ident, x);
    }
}

/* Present while it has metadata or (present) links; the graph holds a reference then. */
static void
ident_presence(struct ifmap_graph *g, struct ifmap_ident *x)
{
    bool want = x->n_meta || x->n_links;
    if (want && !x->present) {
        x->present = true;
        x->refcnt++;
        g->n_idents++;
    } else if (!want && x->present) {
        x->present = false;
        g->n_idents--;
        ifmap_ident_unref(g, x);
    }
}

static uint32_t
link_hash(const struct ifmap_ident *a, const struct ifmap_ident *b)
{
    const void *pair[2] = { a, b };
    return hash_bytes(pair, sizeof pair, 0);
}

static void
link_order(const struct ifmap_ident **a, const struct ifmap_ident **b)
{
    if (strcmp((*a)->key, (*b)->key) > 0) {
        const struct ifmap_ident *t = *a;
        *a = *b;
        *b = t;
    }
}

struct ifmap_link *
ifmap_graph_find_link(const struct ifmap_graph *g, const struct ifmap_ident *a,
                      const struct ifmap_ident *b)
{
    link_order(&a, &b);
    struct ifmap_link *l;
    HMAP_FOR_EACH_WITH_HASH (l, node, link_hash(a, b), &g->links) {
        if (l->a == a && l->b == b) {
            return l;
        }
    }
    return NULL;
}

/* The link A-B, created when absent.  Returns a new reference. */
static struct ifmap_link *
link_get(struct ifmap_graph *g, struct ifmap_ident *a, struct ifmap_ident *b)
{
    struct ifmap_link *l = ifmap_graph_find_link(g, a, b);
    if (l) {
        l->refcnt++;
        return l;
    }
    if (strcmp(a->key, b->key) > 0) {
        struct ifmap_ident *t = a;
        a = b;
        b = t;
    }
    l = mem_zalloc(&mem_type_link, sizeof *l);
    l->a = a;
    l->b = b;
    a->refcnt++;
    b->refcnt++;
    l->refcnt = 1;
    list_init(&l->metas);
    list_init(&l->members);
    l->end[0].link = l;
    l->end[1].link = l;
    list_push_back(&a->links, &l->end[0].node);
    list_push_back(&b->links, &l->end[1].node);
    hmap_insert(&g->links, &l->node, link_hash(a, b));
    return l;
}

void
ifmap_link_ref(struct ifmap_link *l)
{
    l->refcnt++;
}

void
ifmap_link_unref(struct ifmap_graph *g, struct ifmap_link *l)
{
    if (l && !--l->refcnt) {
        hmap_remove(&g->links, &l->node);
        list_remove(&l->end[0].node);
        list_remove(&l->end[1].node);
        ifmap_ident_unref(g, l->a);
        ifmap_ident_unref(g, l->b);
        mem_free(&mem_type_link, l);
    }
}

static void
link_presence(struct ifmap_graph *g, struct ifmap_link *l)
{
    bool want = l->n_meta > 0;
    if (want == l->present) {
        return;
    }
    l->present = want;
    int delta = want ? 1 : -1;
    g->n_links += delta;
    l->a->n_links += delta;
    l->b->n_links += delta;
    if (want) {
        l->refcnt++;
    }
    ident_presence(g, l->a);
    ident_presence(g, l->b);
    if (!want) {
        ifmap_link_unref(g, l);
    }
}

static void
meta_attach(struct ifmap_graph *g, struct ifmap_ident *x, struct ifmap_link *l,
            struct ifmap_meta *m)
{
    m->ident = x;
    m->link = l;
    list_push_back(l ? &l->metas : &x->metas, &m->node);
    if (l) {
        l->n_meta++;
    } else {
        x->n_meta++;
    }
    g->n_metas++;
    g->meta_bytes += m->xml_len;
}

/* Detaches M; the reference the container held passes to the caller. */
static void
meta_detach(struct ifmap_graph *g, struct ifmap_meta *m)
{
    list_remove(&m->node);
    list_remove(&m->owner_node);
    if (m->link) {
        m->link->n_meta--;
    } else {
        m->ident->n_meta--;
    }
    m->ident = NULL;
    m->link = NULL;
    g->n_metas--;
    g->meta_bytes -= m->xml_len;
}

/* A growable array of item pointers. */
struct meta_vec {
    struct ifmap_meta **v;
    size_t n, cap;
};

static void
meta_vec_push(struct meta_vec *mv, struct ifmap_meta *m)
{
    if (mv->n == mv->cap) {
        mv->cap = mv->cap ? 2 * mv->cap : 8;
        mv->v = mem_realloc(&mem_type_scratch, mv->v, mv->cap * sizeof *mv->v);
    }
    mv->v[mv->n++] = m;
}

static void
meta_vec_release(struct meta_vec *mv)
{
    for (size_t i = 0; i < mv->n; i++) {
        ifmap_meta_unref(mv->v[i]);
    }
    mem_free(&mem_type_scratch, mv->v);
}

static bool
same_qname(const struct ifmap_meta *a, const struct ifmap_meta *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->ns, b->ns);
}

void
ifmap_graph_update(struct ifmap_graph *g, struct ifmap_ident *a, struct ifmap_ident *b,
                   struct ifmap_meta *m)
{
    struct ifmap_link *l = b ? link_get(g, a, b) : NULL;
    struct ifmap_ident *x = b ? NULL : a;
    struct list *metas = l ? &l->metas : &x->metas;
    if (l) {
        ifmap_sub_link_pre(g, l);
    }
    struct meta_vec removed = { 0 };
    if (m->single) {
        struct ifmap_meta *old;
        LIST_FOR_EACH_SAFE (old, node, metas) {
            if (same_qname(old, m)) {
                meta_detach(g, old);
                meta_vec_push(&removed, old);
            }
        }
    }
    meta_attach(g, x, l, m);
    g->n_updates++;
    if (l) {
        link_presence(g, l);
    } else {
        ident_presence(g, x);
    }
    ifmap_sub_changed(g, x, l, &m, 1, removed.v, removed.n);
    meta_vec_release(&removed);
    ifmap_link_unref(g, l);
}

/* Deletes the items of MV (attached to X or L) and tells the subscriptions. */
static void
delete_items(struct ifmap_graph *g, struct ifmap_ident *x, struct ifmap_link *l,
             struct meta_vec *mv)
{
    if (l) {
        ifmap_sub_link_pre(g, l);
    }
    for (size_t i = 0; i < mv->n; i++) {
        meta_detach(g, mv->v[i]);
    }
    g->n_deletes += mv->n;
    if (l) {
        l->refcnt++;            /* Keep it across the hooks even if it lost its metadata. */
        link_presence(g, l);
    } else {
        x->refcnt++;
        ident_presence(g, x);
    }
    ifmap_sub_changed(g, x, l, NULL, 0, mv->v, mv->n);
    if (l) {
        ifmap_link_unref(g, l);
    } else {
        ifmap_ident_unref(g, x);
    }
}

size_t
ifmap_graph_delete(struct ifmap_graph *g, struct ifmap_ident *a, struct ifmap_ident *b,
                   const struct ifmap_filter *f)
{
    struct ifmap_link *l = NULL;
    if (b) {
        l = ifmap_graph_find_link(g, a, b);
        if (!l) {
            return 0;
        }
    }
    struct ifmap_ident *x = b ? NULL : a;
    struct meta_vec mv = { 0 };
    struct ifmap_meta *m;
    LIST_FOR_EACH (m, node, l ? &l->metas : &x->metas) {
        if (!f || ifmap_filter_match(f, m)) {
            meta_vec_push(&mv, m);
        }
    }
    size_t n = mv.n;
    if (n) {
        delete_items(g, x, l, &mv);
    }
    meta_vec_release(&mv);      /* The references detaching passed to us. */
    return n;
}

void
ifmap_graph_delete_meta(struct ifmap_graph *g, struct ifmap_meta *m)
{
    if (!m->ident && !m->link) {
        return;
    }
    struct meta_vec mv = { 0 };
    meta_vec_push(&mv, m);
    delete_items(g, m->link ? NULL : m->ident, m->link, &mv);
    meta_vec_release(&mv);
}

size_t
ifmap_graph_purge_publisher(struct ifmap_graph *g, const char *publisher)
{
    struct meta_vec mv = { 0 };
    struct ifmap_ident *x;
    HMAP_FOR_EACH (x, node, &g->idents) {
        struct ifmap_meta *m;
        LIST_FOR_EACH (m, node, &x->metas) {
            if (!strcmp(m->publisher, publisher)) {
                ifmap_meta_ref(m);
                meta_vec_push(&mv, m);
            }
        }
    }
    struct ifmap_link *l;
    HMAP_FOR_EACH (l, node, &g->links) {
        struct ifmap_meta *m;
        LIST_FOR_EACH (m, node, &l->metas) {
            if (!strcmp(m->publisher, publisher)) {
                ifmap_meta_ref(m);
                meta_vec_push(&mv, m);
            }
        }
    }
    for (size_t i = 0; i < mv.n; i++) {
        ifmap_graph_delete_meta(g, mv.v[i]);
    }
    size_t n = mv.n;
    meta_vec_release(&mv);
    return n;
}

void
ifmap_graph_notify(struct ifmap_graph *g, struct ifmap_ident *a, struct ifmap_ident *b,
                   struct ifmap_meta *m)
{
    g->n_notifies++;
    ifmap_sub_notify(g, a, b, m);
    ifmap_meta_unref(m);
}

void
ifmap_graph_destroy(struct ifmap_graph *g)
{
    /* Drop every item, then the presence references; what is left was leaked by a caller. */
    struct ifmap_link *l;
    HMAP_FOR_EACH_SAFE (l, node, &g->links) {
        struct ifmap_meta *m;
        LIST_FOR_EACH_SAFE (m, node, &l->metas) {
            meta_detach(g, m);
            ifmap_meta_unref(m);
        }
        l->refcnt++;
        link_presence(g, l);
        /* Unlinking may free other links' identifiers, never other links. */
        ifmap_link_unref(g, l);
    }
    struct ifmap_ident *x;
    HMAP_FOR_EACH_SAFE (x, node, &g->idents) {
        struct ifmap_meta *m;
        LIST_FOR_EACH_SAFE (m, node, &x->metas) {
            meta_detach(g, m);
            ifmap_meta_unref(m);
        }
        ident_presence(g, x);
    }
    hmap_destroy(&g->idents);
    hmap_destroy(&g->links);
}
