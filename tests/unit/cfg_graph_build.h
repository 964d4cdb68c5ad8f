/* cfg_graph_build.h: building config graphs by hand in unit tests (lib/cfg_graph), as IF-MAP
 * items would.  Static helpers for one test program. */
#ifndef CONTRAIL_TESTS_CFG_GRAPH_BUILD_H
#define CONTRAIL_TESTS_CFG_GRAPH_BUILD_H

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cfg_graph.h"
#include "schema.h"
#include "uuid.h"

/* FQ split at ':' (route-target names are one element). */
static json_t * __attribute__((unused))
build_fq(const char *type, const char *fq)
{
    json_t *a = json_array();
    if (!strcmp(type, "route-target")) {
        json_array_append_new(a, json_string(fq));
        return a;
    }
    const char *p = fq;
    for (;;) {
        const char *c = strchr(p, ':');
        json_array_append_new(a, c ? json_stringn(p, (size_t) (c - p)) : json_string(p));
        if (!c) {
            return a;
        }
        p = c + 1;
    }
}

/* Finds or creates the object (not existing yet). */
static struct cfg_obj * __attribute__((unused))
build_locate(struct cfg_graph *g, const char *type, const char *fq)
{
    const struct schema_ident *id = schema_ident(cfg_graph_schema(g), type);
    if (!id) {
        fprintf(stderr, "no type %s\n", type);
        abort();
    }
    json_t *f = build_fq(type, fq);
    struct cfg_obj *o = cfg_graph_locate(g, id, f);
    json_decref(f);
    return o;
}

/* Makes the object exist with UUID (its id-perms, as IF-MAP brings it), under PARENT (may be
 * NULL). */
static struct cfg_obj * __attribute__((unused))
build_obj(struct cfg_graph *g, const char *type, const char *fq, const char *uuid,
          struct cfg_obj *parent)
{
    struct cfg_obj *o = build_locate(g, type, fq);
    uint64_t ms, ls;
    if (!uuid_to_halves(uuid, &ms, &ls)) {
        fprintf(stderr, "bad uuid %s\n", uuid);
        abort();
    }
    json_t *id_perms = json_pack("{s{sIsI}sb}", "uuid", "uuid_mslong", (json_int_t) ms,
                                 "uuid_lslong", (json_int_t) ls, "enable", 1);
    cfg_graph_set_prop(g, o, "id_perms", id_perms);
    json_decref(id_perms);
    if (parent) {
        cfg_graph_set_parent(g, o, parent);
    }
    return o;
}

/* Sets property PROP to the JSON text VALUE (NULL: removes it). */
static void __attribute__((unused))
build_prop(struct cfg_graph *g, struct cfg_obj *o, const char *prop, const char *value)
{
    if (!value) {
        cfg_graph_set_prop(g, o, prop, NULL);
        return;
    }
    json_error_t e;
    json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
    if (!v) {
        fprintf(stderr, "bad JSON %s: %s\n", value, e.text);
        abort();
    }
    cfg_graph_set_prop(g, o, prop, v);
    json_decref(v);
}

/* Sets the reference FROM -> TO with attribute ATTR (JSON text or NULL). */
static void __attribute__((unused))
build_ref(struct cfg_graph *g, struct cfg_obj *from, struct cfg_obj *to, const char *attr)
{
    json_t *a = attr ? json_loads(attr, 0, NULL) : NULL;
    if (attr && !a) {
        fprintf(stderr, "bad JSON %s\n", attr);
        abort();
    }
    cfg_graph_set_ref(g, from, to, a);
    json_decref(a);
}

#endif
