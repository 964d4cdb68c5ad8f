/* Unit tests of the IF-MAP server's graph, filters, SOAP parsing and incremental
 * subscriptions (config/ifmap), without the daemon.
 *
 * The subscription test is randomized: after every random publish or delete, a
 * subscription's reachable set and distances are compared with a breadth-first search from
 * scratch, and a simulated client that applies the emitted update/delete results must see
 * exactly the metadata the subscription covers. */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ifmap_graph.h"
#include "ifmap_soap.h"
#include "ifmap_sub.h"
#include "mem.h"

static struct ifmap_graph g;

/* ---- helpers ---- */

static struct ifmap_ident *
ident(const char *name)
{
    char key[256], xml[300];
    snprintf(key, sizeof key, "identity\x1fother\x1f" "extended\x1f\x1f%s", name);
    snprintf(xml, sizeof xml, "<identity name=\"%s\" type=\"other\" "
             "other-type-definition=\"extended\"/>", name);
    return ifmap_graph_ident(&g, IFMAP_IDENT_IDENTITY, key, name, xml);
}

static struct ifmap_meta *
meta(const char *ns, const char *name, bool single, const char *value)
{
    char *xml = mem_asprintf(&ifmap_graph_xml_type, "<x:%s xmlns:x=\"%s\">%s</x:%s>", name, ns,
                             value, name);
    return ifmap_meta_create(ns, name, xml, strlen(xml), single, "test");
}

static const char *
resolve(void *aux, const char *prefix)
{
    if (!strcmp(prefix, "contrail")) {
        return CONTRAIL_NS;
    }
    if (!strcmp(prefix, "meta")) {
        return IFMAP_META_NS;
    }
    return NULL;
}

/* ---- filters ---- */

static void
test_filters(void)
{
    struct ifmap_filter f;
    char err[256];
    CHECK_EQ_INT(ifmap_filter_parse(&f, "contrail:a or meta:b", resolve, NULL, err,
                                    sizeof err), 0);
    CHECK_EQ_INT(f.n, 2);
    struct ifmap_meta *a = meta(CONTRAIL_NS, "a", true, "1");
    struct ifmap_meta *b = meta(IFMAP_META_NS, "b", true, "1");
    struct ifmap_meta *c = meta(CONTRAIL_NS, "c", true, "1");
    CHECK(ifmap_filter_match(&f, a));
    CHECK(ifmap_filter_match(&f, b));
    CHECK(!ifmap_filter_match(&f, c));
    ifmap_filter_destroy(&f);

    CHECK_EQ_INT(ifmap_filter_parse(&f, "(contrail:*)", resolve, NULL, err, sizeof err), 0);
    CHECK(ifmap_filter_match(&f, a) && ifmap_filter_match(&f, c) && !ifmap_filter_match(&f, b));
    ifmap_filter_destroy(&f);

    CHECK_EQ_INT(ifmap_filter_parse(&f, NULL, resolve, NULL, err, sizeof err), 0);
    CHECK(f.all && ifmap_filter_match(&f, b));
    ifmap_filter_destroy(&f);

    CHECK(ifmap_filter_parse(&f, "nope:x", resolve, NULL, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "undeclared namespace prefix 'nope'");
    CHECK(ifmap_filter_parse(&f, "meta:role[@name='x']", resolve, NULL, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "unsupported filter term");
    ifmap_meta_unref(a);
    ifmap_meta_unref(b);
    ifmap_meta_unref(c);
}

/* ---- SOAP parsing ---- */

static xmlDoc *
parse_doc(const char *text)
{
    return xmlReadMemory(text, (int) strlen(text), "t.xml", NULL, XML_PARSE_NONET);
}

static void
test_soap(void)
{
    char err[256];
    struct ifmap_soap_req req;
    bool vm;
    const char *ok = "<env:Envelope xmlns:env=\"" SOAP12_NS "\" xmlns:ifmap=\"" IFMAP_NS "\">"
                     "<env:Body><ifmap:poll session-id=\"s1\"/></env:Body></env:Envelope>";
    CHECK_EQ_INT(ifmap_soap_parse(ok, strlen(ok), &req, &vm, err, sizeof err), 0);
    CHECK_STREQ(req.op_name, "poll");
    CHECK_STREQ(ifmap_soap_attr(req.op, "session-id"), "s1");
    ifmap_soap_req_free(&req);

    CHECK(ifmap_soap_parse("<a", 2, &req, &vm, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "malformed XML");
    const char *v11 = "<e:Envelope xmlns:e=\"" SOAP11_NS "\"><e:Body/></e:Envelope>";
    CHECK(ifmap_soap_parse(v11, strlen(v11), &req, &vm, err, sizeof err) != 0);
    CHECK(vm);
    const char *nobody = "<env:Envelope xmlns:env=\"" SOAP12_NS "\"/>";
    CHECK(ifmap_soap_parse(nobody, strlen(nobody), &req, &vm, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "no Body");

    xmlDoc *d = parse_doc("<r><identity name=\"contrail:vn:a&amp;b\" type=\"other\" "
                          "other-type-definition=\"extended\"/>"
                          "<identity name=\"x\"/><ip-address value=\"10.0.0.1\"/>"
                          "<frob name=\"x\"/><identity type=\"other\" "
                          "other-type-definition=\"extended\"/>"
                          "<device><name>dev1</name></device></r>");
    xmlNode *n = ifmap_soap_first_elem(xmlDocGetRootElement(d));
    struct ifmap_ident_desc id;
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err), IFMAP_OK);
    CHECK_STREQ(id.name, "contrail:vn:a&b");
    CHECK_STREQ(id.xml, "<identity name=\"contrail:vn:a&amp;b\" type=\"other\" "
                "other-type-definition=\"extended\"/>");
    ifmap_ident_desc_free(&id);
    n = ifmap_soap_next_elem(n);
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err), IFMAP_ERR_INVALID_IDENTIFIER);
    n = ifmap_soap_next_elem(n);
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err), IFMAP_OK);
    CHECK_STREQ(id.xml, "<ip-address value=\"10.0.0.1\" type=\"IPv4\"/>");
    ifmap_ident_desc_free(&id);
    n = ifmap_soap_next_elem(n);
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err),
                 IFMAP_ERR_INVALID_IDENTIFIER_TYPE);
    n = ifmap_soap_next_elem(n);
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err), IFMAP_ERR_INVALID_IDENTIFIER);
    CHECK_CONTAINS(err, "without name");
    n = ifmap_soap_next_elem(n);
    CHECK_EQ_INT(ifmap_soap_parse_ident(n, &id, err, sizeof err), IFMAP_OK);
    CHECK_STREQ(id.name, "dev1");
    ifmap_ident_desc_free(&id);
    xmlFreeDoc(d);

    char *big = malloc(IFMAP_MAX_IDENT_LEN + 100);
    memset(big, 'a', IFMAP_MAX_IDENT_LEN + 10);
    big[IFMAP_MAX_IDENT_LEN + 10] = '\0';
    char *doc = mem_asprintf(&mem_type_string, "<identity name=\"%s\" type=\"username\"/>", big);
    d = parse_doc(doc);
    CHECK_EQ_INT(ifmap_soap_parse_ident(xmlDocGetRootElement(d), &id, err, sizeof err),
                 IFMAP_ERR_IDENTIFIER_TOO_LONG);
    xmlFreeDoc(d);
    xfree(doc);
    free(big);

    /* Metadata: namespaces declared on the item; operational attributes added. */
    d = parse_doc("<env xmlns:contrail=\"" CONTRAIL_NS "\"><metadata>"
                  "<contrail:id-perms ifmap-cardinality=\"singleValue\"><enable>true</enable>"
                  "</contrail:id-perms><contrail:x/><y ifmap-cardinality=\"singleValue\"/>"
                  "</metadata></env>");
    xmlNode *md = ifmap_soap_first_elem(ifmap_soap_first_elem(xmlDocGetRootElement(d)) ?
                                        ifmap_soap_first_elem(xmlDocGetRootElement(d)) : NULL);
    struct ifmap_meta *m;
    CHECK_EQ_INT(ifmap_soap_parse_meta(md, "pub1", "2020-01-01T00:00:00Z", 4096, &m, err,
                                       sizeof err), IFMAP_OK);
    CHECK(m && m->single);
    CHECK_STREQ(m->name, "id-perms");
    CHECK_STREQ(m->ns, CONTRAIL_NS);
    CHECK_CONTAINS(m->xml, "xmlns:contrail=\"" CONTRAIL_NS "\"");
    CHECK_CONTAINS(m->xml, "ifmap-publisher-id=\"pub1\"");
    CHECK_CONTAINS(m->xml, "<enable>true</enable>");
    ifmap_meta_unref(m);
    CHECK_EQ_INT(ifmap_soap_parse_meta(md, "pub1", "t", 10, &m, err, sizeof err),
                 IFMAP_ERR_METADATA_TOO_LONG);
    md = ifmap_soap_next_elem(md);
    CHECK_EQ_INT(ifmap_soap_parse_meta(md, "pub1", "t", 4096, &m, err, sizeof err),
                 IFMAP_ERR_INVALID_METADATA);
    CHECK_CONTAINS(err, "ifmap-cardinality");
    md = ifmap_soap_next_elem(md);
    CHECK_EQ_INT(ifmap_soap_parse_meta(md, "pub1", "t", 4096, &m, err, sizeof err),
                 IFMAP_ERR_INVALID_METADATA);
    CHECK_CONTAINS(err, "no namespace");
    xmlFreeDoc(d);
}

/* ---- graph basics ---- */

static void
test_graph_basics(void)
{
    struct ifmap_ident *a = ident("a"), *b = ident("b");
    ifmap_graph_update(&g, a, NULL, meta(CONTRAIL_NS, "p", true, "1"));
    ifmap_graph_update(&g, a, NULL, meta(CONTRAIL_NS, "p", true, "2"));
    CHECK_EQ_INT(a->n_meta, 1);
    struct ifmap_meta *first = CONTAINER_OF(a->metas.next, struct ifmap_meta, node);
    CHECK_CONTAINS(first->xml, ">2<");
    ifmap_graph_update(&g, a, NULL, meta(CONTRAIL_NS, "m", false, "1"));
    ifmap_graph_update(&g, a, NULL, meta(CONTRAIL_NS, "m", false, "2"));
    CHECK_EQ_INT(a->n_meta, 3);
    ifmap_graph_update(&g, a, b, meta(CONTRAIL_NS, "l", true, ""));
    ifmap_graph_update(&g, a, b, meta(CONTRAIL_NS, "k", true, ""));
    CHECK_EQ_INT(g.n_links, 1);
    CHECK_EQ_INT(g.n_idents, 2);
    CHECK_EQ_INT(g.n_metas, 5);

    struct ifmap_filter f;
    char err[128];
    ifmap_filter_parse(&f, "contrail:m", resolve, NULL, err, sizeof err);
    CHECK_EQ_INT(ifmap_graph_delete(&g, a, NULL, &f), 2);
    ifmap_filter_destroy(&f);
    CHECK_EQ_INT(a->n_meta, 1);
    ifmap_filter_parse(&f, "contrail:l", resolve, NULL, err, sizeof err);
    CHECK_EQ_INT(ifmap_graph_delete(&g, b, a, &f), 1);   /* Links are unordered. */
    ifmap_filter_destroy(&f);
    CHECK_EQ_INT(g.n_links, 1);
    CHECK_EQ_INT(ifmap_graph_delete(&g, a, b, NULL), 1);
    CHECK_EQ_INT(g.n_links, 0);
    CHECK_EQ_INT(g.n_idents, 1);            /* b had only the link. */
    CHECK_EQ_INT(ifmap_graph_delete(&g, a, NULL, NULL), 1);
    CHECK_EQ_INT(g.n_idents, 0);
    ifmap_ident_unref(&g, a);
    ifmap_ident_unref(&g, b);
    CHECK_EQ_INT(hmap_count(&g.idents), 0);  /* Nothing left behind. */
    CHECK_EQ_INT(hmap_count(&g.links), 0);
    CHECK_EQ_INT(g.meta_bytes, 0);
}

/* ---- randomized subscriptions ---- */

#define N_NODES 30

/* The simulated client: the metadata items it holds, with the object they are on. */
struct view_entry {
    char obj[64];
    struct ifmap_meta *m;
};

struct view {
    struct view_entry *v;
    size_t n, cap;
    int errors;
};

static void
obj_key(const struct ifmap_result *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s|%s", r->ident[0]->name, r->ident[1] ? r->ident[1]->name : "");
}

static void
view_emit(void *aux, struct ifmap_sub *sub, struct ifmap_result *r)
{
    struct view *vw = aux;
    char obj[64];
    obj_key(r, obj, sizeof obj);
    for (size_t i = 0; i < r->n_meta; i++) {
        struct ifmap_meta *m = r->metas[i];
        if (r->kind == IFMAP_RESULT_DELETE) {
            bool found = false;
            for (size_t k = 0; k < vw->n; k++) {
                if (vw->v[k].m == m && !strcmp(vw->v[k].obj, obj)) {
                    ifmap_meta_unref(m);
                    vw->v[k] = vw->v[--vw->n];
                    found = true;
                    break;
                }
            }
            if (!found) {
                vw->errors++;
                fprintf(stderr, "delete of an item the client does not have: %s %s\n", obj,
                        m->name);
            }
            continue;
        }
        /* update / search: a singleValue item replaces the client's item of that name. */
        for (size_t k = 0; k < vw->n; k++) {
            if (!strcmp(vw->v[k].obj, obj)
                && (vw->v[k].m == m || (m->single && !strcmp(vw->v[k].m->name, m->name)))) {
                ifmap_meta_unref(vw->v[k].m);
                vw->v[k--] = vw->v[--vw->n];
            }
        }
        if (vw->n == vw->cap) {
            vw->cap = vw->cap ? 2 * vw->cap : 64;
            vw->v = realloc(vw->v, vw->cap * sizeof *vw->v);
        }
        snprintf(vw->v[vw->n].obj, sizeof vw->v[vw->n].obj, "%s", obj);
        ifmap_meta_ref(m);
        vw->v[vw->n++].m = m;
    }
    ifmap_result_free(&g, r);
}

static void
view_clear(struct view *vw)
{
    for (size_t i = 0; i < vw->n; i++) {
        ifmap_meta_unref(vw->v[i].m);
    }
    free(vw->v);
    memset(vw, 0, sizeof *vw);
}

static struct ifmap_ident *nodes[N_NODES];

static bool
link_matches(const struct ifmap_link *l, const struct ifmap_filter *f)
{
    const struct ifmap_meta *m;
    LIST_FOR_EACH (m, node, &l->metas) {
        if (ifmap_filter_match(f, m)) {
            return true;
        }
    }
    return false;
}

/* Checks S against a breadth-first search from scratch and VW against what S covers.
 * Returns the number of mismatches. */
static int
verify(struct ifmap_sub *s, struct view *vw)
{
    int dist[N_NODES];
    int queue[N_NODES], qh = 0, qt = 0, bad = 0;
    for (int i = 0; i < N_NODES; i++) {
        dist[i] = -1;
    }
    int start = 0;
    dist[start] = 0;
    queue[qt++] = start;
    while (qh < qt) {
        int x = queue[qh++];
        bool terminal = x && (s->terminal_mask & (1u << nodes[x]->type));
        if (dist[x] >= s->max_depth || terminal) {
            continue;
        }
        for (int y = 0; y < N_NODES; y++) {
            struct ifmap_link *l = ifmap_graph_find_link(&g, nodes[x], nodes[y]);
            if (y != x && l && link_matches(l, &s->match_links) && dist[y] < 0) {
                dist[y] = dist[x] + 1;
                queue[qt++] = y;
            }
        }
    }
    size_t expect_items = 0;
    for (int i = 0; i < N_NODES; i++) {
        int got = ifmap_sub_dist(s, nodes[i]);
        if (got != dist[i]) {
            fprintf(stderr, "node %d: distance %d, expected %d\n", i, got, dist[i]);
            bad++;
        }
        if (dist[i] >= 0) {
            struct ifmap_meta *m;
            LIST_FOR_EACH (m, node, &nodes[i]->metas) {
                expect_items += ifmap_filter_match(&s->result_filter, m);
            }
        }
        for (int j = i + 1; j < N_NODES; j++) {
            struct ifmap_link *l = ifmap_graph_find_link(&g, nodes[i], nodes[j]);
            if (!l) {
                continue;
            }
            bool ti = i && (s->terminal_mask & (1u << nodes[i]->type));
            bool tj = j && (s->terminal_mask & (1u << nodes[j]->type));
            bool in = link_matches(l, &s->match_links)
                && ((dist[i] >= 0 && dist[i] < s->max_depth && !ti && dist[j] >= 0)
                    || (dist[j] >= 0 && dist[j] < s->max_depth && !tj && dist[i] >= 0));
            if (in != ifmap_sub_has_link(s, l)) {
                fprintf(stderr, "link %d-%d: in subscription %d, expected %d\n", i, j,
                        ifmap_sub_has_link(s, l), in);
                bad++;
            }
            if (in) {
                struct ifmap_meta *m;
                LIST_FOR_EACH (m, node, &l->metas) {
                    expect_items += ifmap_filter_match(&s->result_filter, m);
                }
            }
        }
    }
    /* Every item the client holds is attached where the subscription covers it, and the
     * count matches: the client sees exactly the covered items. */
    for (size_t k = 0; k < vw->n; k++) {
        const struct ifmap_meta *m = vw->v[k].m;
        bool ok = false;
        if (m->ident) {
            ok = ifmap_sub_dist(s, m->ident) >= 0;
        } else if (m->link) {
            ok = ifmap_sub_has_link(s, m->link);
        }
        if (!ok) {
            fprintf(stderr, "client holds %s on %s, which the subscription does not cover\n",
                    m->name, vw->v[k].obj);
            bad++;
        }
    }
    if (vw->n != expect_items) {
        fprintf(stderr, "client holds %zu items, expected %zu\n", vw->n, expect_items);
        bad++;
    }
    return bad + vw->errors;
}

static void
test_random_subscriptions(unsigned seed, int max_depth, bool filtered)
{
    srandom(seed);
    for (int i = 0; i < N_NODES; i++) {
        char name[32];
        snprintf(name, sizeof name, "n%02d", i);
        nodes[i] = ident(name);
        if (i % 7 == 3) {
            nodes[i]->type = IFMAP_IDENT_IP_ADDRESS;    /* Terminal in the filtered run. */
        }
    }
    struct ifmap_sub_params p = { .max_depth = max_depth };
    char err[128];
    if (filtered) {
        ifmap_filter_parse(&p.match_links, "contrail:l1 or contrail:l2", resolve, NULL, err,
                           sizeof err);
        ifmap_filter_parse(&p.result_filter, "contrail:p1 or contrail:l1 or contrail:l3",
                           resolve, NULL, err, sizeof err);
        p.terminal_mask = 1u << IFMAP_IDENT_IP_ADDRESS;
    } else {
        p.match_links.all = p.result_filter.all = true;
    }
    /* Some content before the subscription exists (its initial searchResult). */
    for (int i = 0; i < 40; i++) {
        int a = (int) (random() % N_NODES), b = (int) (random() % N_NODES);
        if (a != b) {
            ifmap_graph_update(&g, nodes[a], nodes[b], meta(CONTRAIL_NS, "l1", true, ""));
        }
    }
    struct view vw = { 0 };
    struct ifmap_sub *s = ifmap_sub_create(&g, "root", nodes[0], &p, view_emit, &vw);
    int mismatches = verify(s, &vw);
    static const char *const link_types[] = { "l1", "l2", "l3" };
    static const char *const prop_types[] = { "p1", "p2" };
    for (int step = 0; step < 1500 && !mismatches; step++) {
        int a = (int) (random() % N_NODES), b = (int) (random() % N_NODES);
        int op = (int) (random() % 10);
        if (a == b) {
            b = (b + 1) % N_NODES;
        }
        char value[16];
        snprintf(value, sizeof value, "%d", step);
        if (op < 4) {
            const char *lt = link_types[random() % 3];
            ifmap_graph_update(&g, nodes[a], nodes[b],
                               meta(CONTRAIL_NS, lt, random() % 4 != 0, value));
        } else if (op < 7) {
            struct ifmap_filter f;
            char text[32];
            snprintf(text, sizeof text, "contrail:%s", link_types[random() % 3]);
            ifmap_filter_parse(&f, text, resolve, NULL, err, sizeof err);
            ifmap_graph_delete(&g, nodes[a], nodes[b], random() % 3 ? &f : NULL);
            ifmap_filter_destroy(&f);
        } else if (op < 9) {
            ifmap_graph_update(&g, nodes[a], NULL,
                               meta(CONTRAIL_NS, prop_types[random() % 2], random() % 2,
                                    value));
        } else {
            ifmap_graph_delete(&g, nodes[a], NULL, NULL);
        }
        mismatches += verify(s, &vw);
        if (mismatches) {
            fprintf(stderr, "seed %u depth %d filtered %d: mismatch after step %d (op %d, "
                    "%d-%d)\n", seed, max_depth, filtered, step, op, a, b);
        }
    }
    CHECK_EQ_INT(mismatches, 0);

    /* A second subscription created now sees the same as the long-lived one. */
    struct view vw2 = { 0 };
    struct ifmap_sub *s2 = ifmap_sub_create(&g, "late", nodes[0], &p, view_emit, &vw2);
    CHECK_EQ_INT(verify(s2, &vw2), 0);
    CHECK_EQ_INT(vw2.n, vw.n);
    ifmap_sub_destroy(s2);
    view_clear(&vw2);

    ifmap_sub_destroy(s);
    view_clear(&vw);
    for (int i = 0; i < N_NODES; i++) {
        for (int j = i + 1; j < N_NODES; j++) {
            if (ifmap_graph_find_link(&g, nodes[i], nodes[j])) {
                ifmap_graph_delete(&g, nodes[i], nodes[j], NULL);
            }
        }
        ifmap_graph_delete(&g, nodes[i], NULL, NULL);
    }
    for (int i = 0; i < N_NODES; i++) {
        ifmap_ident_unref(&g, nodes[i]);
    }
    CHECK_EQ_INT(hmap_count(&g.idents), 0);
    CHECK_EQ_INT(hmap_count(&g.links), 0);
    ifmap_filter_destroy(&p.match_links);
    ifmap_filter_destroy(&p.result_filter);
}

/* Deleting the link that holds a subtree: deleteResults for the subtree, links first. */
static void
test_disconnect(void)
{
    struct ifmap_ident *root = ident("root"), *p = ident("proj"), *vn = ident("vn"),
                       *ri = ident("ri");
    ifmap_graph_update(&g, root, p, meta(CONTRAIL_NS, "root-project", true, ""));
    ifmap_graph_update(&g, p, vn, meta(CONTRAIL_NS, "project-vn", true, ""));
    ifmap_graph_update(&g, vn, ri, meta(CONTRAIL_NS, "vn-ri", true, ""));
    ifmap_graph_update(&g, vn, NULL, meta(CONTRAIL_NS, "vn-props", true, "x"));
    ifmap_graph_update(&g, ri, NULL, meta(CONTRAIL_NS, "ri-props", true, "y"));
    struct view vw = { 0 };
    struct ifmap_sub_params prm = { .max_depth = 255 };
    prm.match_links.all = prm.result_filter.all = true;
    struct ifmap_sub *s = ifmap_sub_create(&g, "root", root, &prm, view_emit, &vw);
    CHECK_EQ_INT(vw.n, 5);
    CHECK_EQ_INT(ifmap_sub_dist(s, ri), 3);
    ifmap_graph_delete(&g, p, vn, NULL);
    CHECK_EQ_INT(vw.n, 1);                  /* Only root-project is left. */
    CHECK_EQ_INT(ifmap_sub_dist(s, vn), -1);
    CHECK_EQ_INT(ifmap_sub_dist(s, ri), -1);
    ifmap_graph_update(&g, root, ri, meta(CONTRAIL_NS, "shortcut", true, ""));
    CHECK_EQ_INT(ifmap_sub_dist(s, ri), 1);
    CHECK_EQ_INT(ifmap_sub_dist(s, vn), 2);
    CHECK_EQ_INT(vw.n, 5);                  /* shortcut, ri-props, vn-ri, vn-props + 1. */
    ifmap_sub_destroy(s);
    view_clear(&vw);
    ifmap_graph_delete(&g, root, p, NULL);
    ifmap_graph_delete(&g, root, ri, NULL);
    ifmap_graph_delete(&g, vn, ri, NULL);
    ifmap_graph_delete(&g, vn, NULL, NULL);
    ifmap_graph_delete(&g, ri, NULL, NULL);
    ifmap_ident_unref(&g, root);
    ifmap_ident_unref(&g, p);
    ifmap_ident_unref(&g, vn);
    ifmap_ident_unref(&g, ri);
    CHECK_EQ_INT(hmap_count(&g.idents), 0);
}

int
main(void)
{
    ifmap_graph_init(&g);
    test_filters();
    test_soap();
    test_graph_basics();
    test_disconnect();
    for (unsigned seed = 1; seed <= 6; seed++) {
        test_random_subscriptions(seed, 255, false);
        test_random_subscriptions(seed + 100, 1 + (int) (seed % 3), false);
        test_random_subscriptions(seed + 200, seed % 2 ? 255 : 2, true);
    }
    ifmap_graph_destroy(&g);
    xmlCleanupParser();
    return check_finish();
}
