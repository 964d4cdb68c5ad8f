/* schema: loader and validator of the config object model (see schema.h). */
#include "schema.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "json_util.h"
#include "mem.h"

static MEM_TYPE(mem_type_schema, "schema");

static char *
sdup(const char *s)
{
    return mem_strdup(&mem_type_schema, s);
}

static void *
salloc(size_t n)
{
    return mem_zalloc(&mem_type_schema, n);
}

static struct schema_type *
schema_type_find(const struct schema *s, const char *name)
{
    struct schema_type *t;
    HMAP_FOR_EACH_WITH_HASH (t, node, hash_string(name, 0), &s->types) {
        if (!strcmp(t->name, name)) {
            return t;
        }
    }
    return NULL;
}

const struct schema_type *
schema_type(const struct schema *s, const char *name)
{
    return schema_type_find(s, name);
}

static struct schema_type *
schema_type_add(struct schema *s, const char *name, enum schema_kind kind)
{
    struct schema_type *t = salloc(sizeof *t);
    t->name = sdup(name);
    t->kind = kind;
    hmap_insert(&s->types, &t->node, hash_string(name, 0));
    return t;
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return EINVAL;
}

static char *
xml_name(const char *json_name, const char *xml)
{
    if (xml) {
        return sdup(xml);
    }
    char *x = sdup(json_name);
    for (char *p = x; *p; p++) {
        if (*p == '_') {
            *p = '-';
        }
    }
    return x;
}

static enum schema_required
parse_required(const char *s)
{
    if (!s) {
        return SCHEMA_OPTIONAL;
    }
    if (!strcmp(s, "required")) {
        return SCHEMA_REQUIRED;
    }
    if (!strcmp(s, "system-only")) {
        return SCHEMA_SYSTEM_ONLY;
    }
    if (!strcmp(s, "exclusive")) {
        return SCHEMA_EXCLUSIVE;
    }
    if (!strcmp(s, "admin-only")) {
        return SCHEMA_ADMIN_ONLY;
    }
    return SCHEMA_OPTIONAL;
}

static struct schema_type *
resolve_type(struct schema *s, const char *name, const char *where, char *err, size_t errlen)
{
    struct schema_type *t = name ? schema_type_find(s, name) : NULL;
    if (!t) {
        fail(err, errlen, "%s: unknown type '%s'", where, name ? name : "(none)");
    }
    return t;
}

static int
load_prop(struct schema *s, json_t *j, struct schema_prop *p, const char *where,
          char *err, size_t errlen)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    if (!name) {
        return fail(err, errlen, "%s: property without name", where);
    }
    p->name = sdup(name);
    p->xml = xml_name(name, json_string_value(json_object_get(j, "xml")));
    p->type = resolve_type(s, json_string_value(json_object_get(j, "type")), name, err, errlen);
    if (!p->type) {
        return EINVAL;
    }
    const char *coll = json_string_value(json_object_get(j, "collection"));
    p->collection = !coll ? SCHEMA_SCALAR : !strcmp(coll, "list") ? SCHEMA_LIST
                    : !strcmp(coll, "map") ? SCHEMA_MAP : SCHEMA_SCALAR;
    const char *key = json_string_value(json_object_get(j, "key"));
    const char *lf = json_string_value(json_object_get(j, "list_field"));
    p->key = key ? sdup(key) : NULL;
    p->list_field = lf ? sdup(lf) : NULL;
    if (p->collection != SCHEMA_SCALAR && !p->list_field) {
        /* The wrapper type holds exactly one list field: take it. */
        if (p->type->kind == SCHEMA_COMPLEX && p->type->n_fields == 1) {
            p->list_field = sdup(p->type->fields[0].name);
        } else {
            return fail(err, errlen, "%s: collection property %s lacks list_field", where, name);
        }
    }
    p->required = parse_required(json_string_value(json_object_get(j, "required")));
    const char *ops = json_string_value(json_object_get(j, "ops"));
    p->ops = sdup(ops ? ops : "CRUD");
    json_t *def = json_object_get(j, "default");
    p->def = def ? json_incref(def) : NULL;
    return 0;
}

static const struct { const char *name; enum schema_kind kind; } primitives[] = {
    { "string", SCHEMA_STRING }, { "integer", SCHEMA_INTEGER }, { "boolean", SCHEMA_BOOLEAN },
    { "number", SCHEMA_NUMBER }, { "dateTime", SCHEMA_DATETIME }, { "anyType", SCHEMA_ANY },
    { "unsignedLong", SCHEMA_INTEGER }, { "unsignedInt", SCHEMA_INTEGER },
};

static enum schema_kind
base_kind(const char *base)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        if (base && !strcmp(base, primitives[i].name)) {
            return primitives[i].kind;
        }
    }
    return SCHEMA_STRING;
}

static int
load_types(struct schema *s, json_t *root, char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof primitives / sizeof primitives[0]; i++) {
        struct schema_type *t = schema_type_add(s, primitives[i].name, primitives[i].kind);
        /* unsignedLong values past 2^63 are held as their signed bit pattern (json_util.h),
         * so only unsignedInt has a checkable range. */
        if (!strcmp(t->name, "unsignedInt")) {
            t->has_min = true;
            t->min = 0;
        }
        if (!strcmp(t->name, "unsignedInt")) {
            t->has_max = true;
            t->max = UINT_MAX;
        }
    }

    const char *name;
    json_t *j;
    json_object_foreach (json_object_get(root, "simple_types"), name, j) {
        if (schema_type_find(s, name)) {
            return fail(err, errlen, "simple type %s defined twice", name);
        }
        struct schema_type *t = schema_type_add(s, name,
                                                base_kind(json_string_value(
                                                              json_object_get(j, "base"))));
        json_t *en = json_object_get(j, "enum");
        if (json_is_array(en) && json_array_size(en)) {
            t->n_enums = json_array_size(en);
            t->enums = salloc(t->n_enums * sizeof *t->enums);
            for (size_t k = 0; k < t->n_enums; k++) {
                json_t *v = json_array_get(en, k);
                t->enums[k] = json_is_string(v) ? sdup(json_string_value(v))
                              : mem_asprintf(&mem_type_schema, "%lld",
                                             (long long) json_integer_value(v));
            }
        }
        json_t *min = json_object_get(j, "min"), *max = json_object_get(j, "max");
        if ((min && !json_is_integer(min)) || (max && !json_is_integer(max))) {
            return fail(err, errlen, "simple type %s: min and max must be integers", name);
        }
        if (min) {
            t->has_min = true;
            t->min = json_integer_value(min);
        }
        if (max) {
            t->has_max = true;
            t->max = json_integer_value(max);
        }
    }
    json_t *complex = json_object_get(root, "complex_types");
    json_object_foreach (complex, name, j) {
        if (schema_type_find(s, name)) {
            return fail(err, errlen, "complex type %s defined twice", name);
        }
        schema_type_add(s, name, SCHEMA_COMPLEX);
    }
    json_object_foreach (complex, name, j) {
        struct schema_type *t = schema_type_find(s, name);
        json_t *fields = json_object_get(j, "fields");
        t->n_fields = json_array_size(fields);
        t->fields = salloc((t->n_fields + 1) * sizeof *t->fields);
        for (size_t k = 0; k < t->n_fields; k++) {
            json_t *f = json_array_get(fields, k);
            struct schema_field *fd = &t->fields[k];
            const char *fname = json_string_value(json_object_get(f, "name"));
            if (!fname) {
                return fail(err, errlen, "complex type %s: field %zu without name", name, k);
            }
            char where[256];
            snprintf(where, sizeof where, "%s.%s", name, fname);
            fd->name = sdup(fname);
            fd->xml = xml_name(fname, json_string_value(json_object_get(f, "xml")));
            fd->type = resolve_type(s, json_string_value(json_object_get(f, "type")), where,
                                    err, errlen);
            if (!fd->type) {
                return EINVAL;
            }
            fd->list = json_is_true(json_object_get(f, "list"));
            if (!strcmp(fd->type->name, "unsignedLong")) {
                json_util_add_unsigned_key(fd->name);
            }
            fd->required = json_is_true(json_object_get(f, "required"));
            json_t *def = json_object_get(f, "default");
            fd->def = def ? json_incref(def) : NULL;
        }
    }
    return 0;
}

static char *
underscores(const char *name)
{
    char *x = sdup(name);
    for (char *p = x; *p; p++) {
        if (*p == '-') {
            *p = '_';
        }
    }
    return x;
}

static void
add_link_ptr(struct schema_link ***v, size_t *n, struct schema_link *l)
{
    *v = mem_realloc(&mem_type_schema, *v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = l;
}

static struct schema_link *
new_link(struct schema *s, json_t *j, struct schema_ident *from, struct schema_ident *to,
         bool has, char *err, size_t errlen)
{
    struct schema_link *l = salloc(sizeof *l);
    const char *link = json_string_value(json_object_get(j, "link"));
    l->name = link ? sdup(link) : mem_asprintf(&mem_type_schema, "%s-%s", from->name, to->name);
    l->from = from;
    l->to = to;
    l->has = has;
    l->derived = json_is_true(json_object_get(j, "derived"));
    l->required = parse_required(json_string_value(json_object_get(j, "required")));
    const char *attr = json_string_value(json_object_get(j, "attr"));
    if (attr) {
        l->attr = resolve_type(s, attr, l->name, err, errlen);
        if (!l->attr) {
            mem_free(&mem_type_schema, l->name);
            mem_free(&mem_type_schema, l);
            return NULL;
        }
    }
    s->links = mem_realloc(&mem_type_schema, s->links, (s->n_links + 1) * sizeof *s->links);
    s->links[s->n_links++] = l;
    return l;
}

static int
load_idents(struct schema *s, json_t *root, char *err, size_t errlen)
{
    json_t *idents = json_object_get(root, "identifiers");
    if (!json_is_object(idents) || !json_object_size(idents)) {
        return fail(err, errlen, "no identifiers");
    }
    s->ident_list = salloc(json_object_size(idents) * sizeof *s->ident_list);
    const char *name;
    json_t *j;
    json_object_foreach (idents, name, j) {
        struct schema_ident *id = salloc(sizeof *id);
        id->name = sdup(name);
        id->obj_type = underscores(name);
        id->plural = mem_asprintf(&mem_type_schema, "%ss", name);
        id->children_field = mem_asprintf(&mem_type_schema, "%ss", id->obj_type);
        id->refs_field = mem_asprintf(&mem_type_schema, "%s_refs", id->obj_type);
        id->back_refs_field = mem_asprintf(&mem_type_schema, "%s_back_refs", id->obj_type);
        hmap_insert(&s->idents, &id->node, hash_string(id->name, 0));
        hmap_insert(&s->idents_by_type, &id->type_node, hash_string(id->obj_type, 0));
        hmap_insert(&s->idents_by_plural, &id->plural_node, hash_string(id->plural, 0));
        id->index = s->n_idents;
        s->ident_list[s->n_idents++] = id;
    }

    json_t *common = json_object_get(root, "common_properties");
    json_object_foreach (idents, name, j) {
        struct schema_ident *id = (struct schema_ident *) schema_ident(s, name);
        json_t *props = json_object_get(j, "properties");
        size_t n = json_array_size(props), nc = json_array_size(common);
        id->props = salloc((n + nc + 1) * sizeof *id->props);
        for (size_t k = 0; k < n + nc; k++) {
            json_t *pj = k < n ? json_array_get(props, k) : json_array_get(common, k - n);
            /* Counted before loading, so that a half-loaded property is freed too. */
            int error = load_prop(s, pj, &id->props[id->n_props++], name, err, errlen);
            if (error) {
                return error;
            }
        }

        size_t idx;
        json_t *pj;
        json_array_foreach (json_object_get(j, "parents"), idx, pj) {
            const char *pt = json_string_value(json_object_get(pj, "type"));
            struct schema_ident *parent = pt ? (struct schema_ident *) schema_ident(s, pt) : NULL;
            if (!parent) {
                return fail(err, errlen, "%s: unknown parent type '%s'", name, pt ? pt : "");
            }
            struct schema_link *l = new_link(s, pj, parent, id, true, err, errlen);
            if (!l) {
                return EINVAL;
            }
            add_link_ptr(&id->parents, &id->n_parents, l);
            add_link_ptr(&parent->children, &parent->n_children, l);
        }
        json_array_foreach (json_object_get(j, "refs"), idx, pj) {
            const char *tt = json_string_value(json_object_get(pj, "type"));
            struct schema_ident *to = tt ? (struct schema_ident *) schema_ident(s, tt) : NULL;
            if (!to) {
                return fail(err, errlen, "%s: unknown ref type '%s'", name, tt ? tt : "");
            }
            struct schema_link *l = new_link(s, pj, id, to, false, err, errlen);
            if (!l) {
                return EINVAL;
            }
            add_link_ptr(&id->refs, &id->n_refs, l);
            add_link_ptr(&to->back_refs, &to->n_back_refs, l);
        }
    }
    return 0;
}

int
schema_load(const char *path, struct schema **schemap, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) {
        return fail(err, errlen, "%s: %s (line %d)", path, jerr.text, jerr.line);
    }
    struct schema *s = salloc(sizeof *s);
    hmap_init(&s->types);
    hmap_init(&s->idents);
    hmap_init(&s->idents_by_type);
    hmap_init(&s->idents_by_plural);
    const char *version = json_string_value(json_object_get(root, "version"));
    s->version = sdup(version ? version : "unknown");

    int error = load_types(s, root, err, errlen);
    if (!error) {
        error = load_idents(s, root, err, errlen);
    }
    json_decref(root);
    if (error) {
        schema_destroy(s);
        return error;
    }
    *schemap = s;
    return 0;
}

const char *
schema_default_path(void)
{
    const char *env = getenv("CONTRAIL_SCHEMA");
    if (env && *env) {
        return env;
    }
    static const char *const candidates[] = {
        CONTRAIL_SOURCE_SCHEMA_DIR "/vnc_cfg.json",
        CONTRAIL_SCHEMA_DIR "/vnc_cfg.json",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!access(candidates[i], R_OK)) {
            return candidates[i];
        }
    }
    return candidates[0];
}

static void
free_prop(struct schema_prop *p)
{
    mem_free(&mem_type_schema, p->name);
    mem_free(&mem_type_schema, p->xml);
    mem_free(&mem_type_schema, p->key);
    mem_free(&mem_type_schema, p->list_field);
    mem_free(&mem_type_schema, p->ops);
    json_decref(p->def);
}

void
schema_destroy(struct schema *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < s->n_idents; i++) {
        struct schema_ident *id = s->ident_list[i];
        for (size_t k = 0; k < id->n_props; k++) {
            free_prop(&id->props[k]);
        }
        mem_free(&mem_type_schema, id->props);
        mem_free(&mem_type_schema, id->parents);
        mem_free(&mem_type_schema, id->children);
        mem_free(&mem_type_schema, id->refs);
        mem_free(&mem_type_schema, id->back_refs);
        mem_free(&mem_type_schema, id->name);
        mem_free(&mem_type_schema, id->obj_type);
        mem_free(&mem_type_schema, id->plural);
        mem_free(&mem_type_schema, id->children_field);
        mem_free(&mem_type_schema, id->refs_field);
        mem_free(&mem_type_schema, id->back_refs_field);
        mem_free(&mem_type_schema, id);
    }
    for (size_t i = 0; i < s->n_links; i++) {
        mem_free(&mem_type_schema, s->links[i]->name);
        mem_free(&mem_type_schema, s->links[i]);
    }
    struct schema_type *t;
    HMAP_FOR_EACH_SAFE (t, node, &s->types) {
        hmap_remove(&s->types, &t->node);
        for (size_t k = 0; k < t->n_enums; k++) {
            mem_free(&mem_type_schema, t->enums[k]);
        }
        mem_free(&mem_type_schema, t->enums);
        for (size_t k = 0; k < t->n_fields; k++) {
            mem_free(&mem_type_schema, t->fields[k].name);
            mem_free(&mem_type_schema, t->fields[k].xml);
            json_decref(t->fields[k].def);
        }
        mem_free(&mem_type_schema, t->fields);
        mem_free(&mem_type_schema, t->name);
        mem_free(&mem_type_schema, t);
    }
    mem_free(&mem_type_schema, s->links);
    mem_free(&mem_type_schema, s->ident_list);
    hmap_destroy(&s->types);
    hmap_destroy(&s->idents);
    hmap_destroy(&s->idents_by_type);
    hmap_destroy(&s->idents_by_plural);
    mem_free(&mem_type_schema, s->version);
    mem_free(&mem_type_schema, s);
}

const struct schema_ident *
schema_ident(const struct schema *s, const char *name)
{
    struct schema_ident *id;
    HMAP_FOR_EACH_WITH_HASH (id, node, hash_string(name, 0), &s->idents) {
        if (!strcmp(id->name, name)) {
            return id;
        }
    }
    return NULL;
}

const struct schema_ident *
schema_ident_by_type(const struct schema *s, const char *obj_type)
{
    struct schema_ident *id;
    HMAP_FOR_EACH_WITH_HASH (id, type_node, hash_string(obj_type, 0), &s->idents_by_type) {
        if (!strcmp(id->obj_type, obj_type)) {
            return id;
        }
    }
    return NULL;
}

const struct schema_ident *
schema_ident_by_plural(const struct schema *s, const char *plural)
{
    struct schema_ident *id;
    HMAP_FOR_EACH_WITH_HASH (id, plural_node, hash_string(plural, 0), &s->idents_by_plural) {
        if (!strcmp(id->plural, plural)) {
            return id;
        }
    }
    return NULL;
}

const struct schema_prop *
schema_ident_prop(const struct schema_ident *id, const char *name)
{
    for (size_t i = 0; i < id->n_props; i++) {
        if (!strcmp(id->props[i].name, name)) {
            return &id->props[i];
        }
    }
    return NULL;
}

const struct schema_link *
schema_ident_ref(const struct schema_ident *id, const char *field)
{
    for (size_t i = 0; i < id->n_refs; i++) {
        if (!strcmp(id->refs[i]->to->refs_field, field)) {
            return id->refs[i];
        }
    }
    return NULL;
}

const struct schema_link *
schema_ident_ref_to(const struct schema_ident *id, const struct schema_ident *to)
{
    for (size_t i = 0; i < id->n_refs; i++) {
        if (id->refs[i]->to == to) {
            return id->refs[i];
        }
    }
    return NULL;
}

const struct schema_link *
schema_ident_parent(const struct schema_ident *id, const struct schema_ident *parent)
{
    for (size_t i = 0; i < id->n_parents; i++) {
        if (id->parents[i]->from == parent) {
            return id->parents[i];
        }
    }
    return NULL;
}

const struct schema_link *
schema_ident_back_ref(const struct schema_ident *id, const char *field)
{
    for (size_t i = 0; i < id->n_back_refs; i++) {
        if (!strcmp(id->back_refs[i]->from->back_refs_field, field)) {
            return id->back_refs[i];
        }
    }
    return NULL;
}

const struct schema_link *
schema_ident_child(const struct schema_ident *id, const char *field)
{
    for (size_t i = 0; i < id->n_children; i++) {
        if (!strcmp(id->children[i]->to->children_field, field)) {
            return id->children[i];
        }
    }
    return NULL;
}

static bool
validate_scalar(const struct schema_type *t, const json_t *v, const char *path,
                char *err, size_t errlen)
{
    switch (t->kind) {
    case SCHEMA_ANY:
        return true;
    case SCHEMA_BOOLEAN:
        if (!json_is_boolean(v)) {
            fail(err, errlen, "%s: expected a boolean", path);
            return false;
        }
        return true;
    case SCHEMA_NUMBER:
        if (!json_is_number(v)) {
            fail(err, errlen, "%s: expected a number", path);
            return false;
        }
        return true;
    case SCHEMA_INTEGER: {
        if (!json_is_integer(v)) {
            fail(err, errlen, "%s: expected an integer", path);
            return false;
        }
        long long n = json_integer_value(v);
        if ((t->has_min && n < t->min) || (t->has_max && n > t->max)) {
            fail(err, errlen, "%s: value %lld out of range [%lld..%lld]", path, n,
                 t->has_min ? t->min : LLONG_MIN, t->has_max ? t->max : LLONG_MAX);
            return false;
        }
        if (t->n_enums) {
            char buf[32];
            snprintf(buf, sizeof buf, "%lld", n);
            for (size_t i = 0; i < t->n_enums; i++) {
                if (!strcmp(t->enums[i], buf)) {
                    return true;
                }
            }
            fail(err, errlen, "%s: value %lld not one of the allowed values", path, n);
            return false;
        }
        return true;
    }
    case SCHEMA_STRING:
    case SCHEMA_DATETIME:
        if (!json_is_string(v)) {
            fail(err, errlen, "%s: expected a string", path);
            return false;
        }
        if (t->n_enums) {
            const char *sv = json_string_value(v);
            for (size_t i = 0; i < t->n_enums; i++) {
                if (!strcmp(t->enums[i], sv)) {
                    return true;
                }
            }
            char allowed[512] = "";
            size_t len = 0;
            for (size_t i = 0; i < t->n_enums && len < sizeof allowed - 1; i++) {
                len += (size_t) snprintf(allowed + len, sizeof allowed - len, "%s%s",
                                         i ? ", " : "", t->enums[i]);
            }
            fail(err, errlen, "%s: invalid value '%s' (allowed: %s)", path, sv, allowed);
            return false;
        }
        return true;
    case SCHEMA_COMPLEX:
        break;
    }
    return true;
}

static bool
validate_one(const struct schema_type *t, const json_t *v, const char *path,
             char *err, size_t errlen)
{
    if (json_is_null(v)) {
        return true;
    }
    if (t->kind != SCHEMA_COMPLEX) {
        return validate_scalar(t, v, path, err, errlen);
    }
    if (!json_is_object(v)) {
        fail(err, errlen, "%s: expected an object of type %s", path, t->name);
        return false;
    }
    const char *key;
    json_t *fv;
    json_object_foreach ((json_t *) v, key, fv) {
        const struct schema_field *f = NULL;
        for (size_t i = 0; i < t->n_fields; i++) {
            if (!strcmp(t->fields[i].name, key)) {
                f = &t->fields[i];
                break;
            }
        }
        char sub[512];
        snprintf(sub, sizeof sub, "%s.%s", path, key);
        if (!f) {
            fail(err, errlen, "%s: unknown field (type %s)", sub, t->name);
            return false;
        }
        if (!schema_validate(f->type, f->list, fv, sub, err, errlen)) {
            return false;
        }
    }
    return true;
}

bool
schema_validate(const struct schema_type *t, bool list, const json_t *v, const char *path,
                char *err, size_t errlen)
{
    if (!list || json_is_null(v)) {
        return validate_one(t, v, path, err, errlen);
    }
    if (!json_is_array(v)) {
        fail(err, errlen, "%s: expected a list", path);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach (v, i, e) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (!validate_one(t, e, sub, err, errlen)) {
            return false;
        }
    }
    return true;
}

bool
schema_validate_prop(const struct schema_prop *p, const json_t *v, char *err, size_t errlen)
{
    return schema_validate(p->type, false, v, p->name, err, errlen);
}
