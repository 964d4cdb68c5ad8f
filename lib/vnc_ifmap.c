/* vnc_ifmap: VNC config objects as IF-MAP identifiers and metadata, both ways (see
 * vnc_ifmap.h).  Used by the API server's IF-MAP publisher and by every IF-MAP consumer. */
#include "vnc_ifmap.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "hmap.h"
#include "mem.h"

static MEM_TYPE(mem_type_vnc_ifmap, "vnc_ifmap");

/* Deepest nesting of complex types followed, against a schema (or input) that loops. */
#define MAX_DEPTH 32

static int
fail(char *err, size_t errlen, int error, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return error;
}

/* ---- A growable string. ---- */

struct sbuf {
    char *s;
    size_t len, cap;
};

static void
sb_reserve(struct sbuf *b, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (b->len + n + 1 > cap) {
            cap *= 2;
        }
        b->s = mem_realloc(&mem_type_string, b->s, cap);
        b->cap = cap;
    }
}

static void
sb_addn(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void
sb_add(struct sbuf *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t) n < sizeof tmp) {
        sb_addn(b, tmp, (size_t) n);
        return;
    }
    sb_reserve(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

/* Appends S escaped for XML: &, < and > always; " and ' too with ALL (attribute values and
 * the original's escape() of identifier names and simple property values). */
static void
sb_add_escaped(struct sbuf *b, const char *s, bool all)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = all ? "&quot;" : NULL; break;
        case '\'': rep = all ? "&apos;" : NULL; break;
        default: break;
        }
        if (rep) {
            sb_addn(b, run, (size_t) (s - run));
            sb_add(b, rep);
            run = s + 1;
        }
    }
    sb_addn(b, run, (size_t) (s - run));
}

/* Whether UTF-8 string S holds only characters XML 1.0 can carry: no C0 controls other than
 * tab, newline and carriage return, no U+FFFE or U+FFFF.  (jansson strings are valid UTF-8
 * without surrogates.)  What fails this would make the whole publish request malformed. */
static bool
xml_chars_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
            return false;
        }
        if (p[0] == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) {
            return false;
        }
    }
    return true;
}

/* The string built so far (an empty one if nothing was added); B is reset. */
static char *
sb_steal(struct sbuf *b)
{
    char *s = b->s ? b->s : xstrdup("");
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

static void
sb_free(struct sbuf *b)
{
    xfree(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

/* ---- Identifiers. ---- */

static bool
is_config_root(const struct schema_ident *id)
{
    return !strcmp(id->name, "config-root");
}

char *
vnc_ifmap_ident_name(const struct schema_ident *id, const json_t *fq_name)
{
    if (is_config_root(id)) {
        return xstrdup(VNC_IFMAP_ROOT_NAME);
    }
    if (!json_is_array(fq_name) || !json_array_size(fq_name)) {
        return NULL;
    }
    struct sbuf b = { 0 };
    sb_add(&b, "contrail:");
    sb_add(&b, id->name);
    size_t i;
    json_t *e;
    json_array_foreach (fq_name, i, e) {
        if (!json_is_string(e) || !xml_chars_ok(json_string_value(e))) {
            sb_free(&b);
            return NULL;
        }
        sb_add(&b, ":");
        sb_add(&b, json_string_value(e));
    }
    return sb_steal(&b);
}

static void
sb_add_identity(struct sbuf *b, const char *name)
{
    sb_add(b, "<identity name=\"");
    sb_add_escaped(b, name, true);
    sb_add(b, "\" type=\"other\" other-type-definition=\"extended\"/>");
}

char *
vnc_ifmap_identity_xml(const char *name)
{
    struct sbuf b = { 0 };
    sb_add_identity(&b, name);
    return sb_steal(&b);
}

/* Bit N set: an object of type ID can have an fq_name of N elements. */
static uint32_t
fq_depths(const struct schema_ident *id, int guard)
{
    if (is_config_root(id)) {
        return 1u << 0;
    }
    if (!id->n_parents) {
        return 1u << 1;         /* Root-level types: a one-element fq_name. */
    }
    if (guard > MAX_DEPTH) {
        return 0;
    }
    uint32_t mask = 0;
    for (size_t i = 0; i < id->n_parents; i++) {
        mask |= fq_depths(id->parents[i]->from, guard + 1) << 1;
    }
    return mask;
}

int
vnc_ifmap_parse_ident(const struct schema *s, const char *name,
                      const struct schema_ident **identp, json_t **fq_namep,
                      char *err, size_t errlen)
{
    *identp = NULL;
    *fq_namep = NULL;
    static const char prefix[] = "contrail:";
    if (!name || strncmp(name, prefix, sizeof prefix - 1)) {
        return fail(err, errlen, EINVAL, "identifier '%s' does not start with 'contrail:'",
                    name ? name : "(null)");
    }
    const char *type = name + sizeof prefix - 1;
    const char *colon = strchr(type, ':');
    if (!colon || colon == type) {
        return fail(err, errlen, EINVAL, "identifier '%s' has no type and name", name);
    }
    char tname[128];
    size_t tlen = (size_t) (colon - type);
    if (tlen >= sizeof tname) {
        return fail(err, errlen, ENOENT, "identifier '%s': unknown type", name);
    }
    memcpy(tname, type, tlen);
    tname[tlen] = '\0';
    const struct schema_ident *id = schema_ident(s, tname);
    if (!id) {
        return fail(err, errlen, ENOENT, "identifier '%s': unknown type '%s'", name, tname);
    }
    const char *rest = colon + 1;
    if (!*rest) {
        return fail(err, errlen, EINVAL, "identifier '%s' has an empty name", name);
    }

    json_t *fq = json_array();
    bool whole = is_config_root(id) || !strcmp(id->name, "route-target");
    for (const char *p = rest;;) {
        /* A route-target's one name element holds ':' ("target:64512:8000001"). */
        const char *end = whole ? NULL : strchr(p, ':');
        size_t n = end ? (size_t) (end - p) : strlen(p);
        json_t *e = n ? json_stringn(p, n) : NULL;
        if (!e) {
            json_decref(fq);
            return fail(err, errlen, EINVAL, "identifier '%s' has an empty or non-UTF-8 name "
                        "element", name);
        }
        json_array_append_new(fq, e);
        if (!end) {
            break;
        }
        p = end + 1;
    }
    size_t depth = json_array_size(fq);
    if (!is_config_root(id) && (depth >= 32 || !(fq_depths(id, 0) & (1u << depth)))) {
        json_decref(fq);
        return fail(err, errlen, EINVAL,
                    "identifier '%s': %zu name elements do not fit type %s", name, depth,
                    id->name);
    }
    *identp = id;
    *fq_namep = fq;
    return 0;
}

/* ---- Items. ---- */

void
vnc_ifmap_items_init(struct vnc_ifmap_items *l)
{
    l->items = NULL;
    l->n = l->allocated = 0;
}

void
vnc_ifmap_items_clear(struct vnc_ifmap_items *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct vnc_ifmap_item *it = &l->items[i];
        xfree(it->id1);
        xfree(it->id2);
        xfree(it->meta_name);
        xfree(it->meta_xml);
    }
    mem_free(&mem_type_vnc_ifmap, l->items);
    vnc_ifmap_items_init(l);
}

static struct vnc_ifmap_item *
items_push(struct vnc_ifmap_items *l)
{
    if (l->n == l->allocated) {
        l->allocated = l->allocated ? 2 * l->allocated : 8;
        l->items = mem_realloc(&mem_type_vnc_ifmap, l->items,
                               l->allocated * sizeof *l->items);
    }
    return &l->items[l->n++];
}

void
vnc_ifmap_items_add(struct vnc_ifmap_items *l, const char *id1, const char *id2,
                    const char *meta_name, const char *meta_xml)
{
    struct vnc_ifmap_item *it = items_push(l);
    it->id1 = xstrdup(id1);
    it->id2 = id2 ? xstrdup(id2) : NULL;
    it->meta_name = xstrdup(meta_name);
    it->meta_xml = xstrdup(meta_xml);
}

/* Takes ownership of the four strings. */
static void
items_add_owned(struct vnc_ifmap_items *l, char *id1, char *id2, char *meta_name,
                char *meta_xml)
{
    struct vnc_ifmap_item *it = items_push(l);
    it->id1 = id1;
    it->id2 = id2;
    it->meta_name = meta_name;
    it->meta_xml = meta_xml;
}

/* ---- Rendering values. ---- */

static bool
is_unsigned_long(const struct schema_type *t)
{
    return !strcmp(t->name, "unsignedLong");
}

/* Appends the text of simple value V of type T inside a complex type, as the generateDS
 * serializers write it.  TOP: a simple-typed property instead, written as the original's
 * escape(str(value)). */
static int
render_simple(struct sbuf *b, const struct schema_type *t, const json_t *v, bool top,
              const char *path, char *err, size_t errlen)
{
    switch (t->kind) {
    case SCHEMA_STRING:
    case SCHEMA_DATETIME:
        if (!json_is_string(v)) {
            return fail(err, errlen, EINVAL, "%s: expected a string", path);
        }
        if (!xml_chars_ok(json_string_value(v))) {
            return fail(err, errlen, EINVAL, "%s: holds characters XML cannot carry", path);
        }
        sb_add_escaped(b, json_string_value(v), top);
        return 0;
    case SCHEMA_INTEGER:
        if (!json_is_integer(v)) {
            return fail(err, errlen, EINVAL, "%s: expected an integer", path);
        }
        if (is_unsigned_long(t)) {
            sb_printf(b, "%llu", (unsigned long long) json_integer_value(v));
        } else {
            sb_printf(b, "%lld", (long long) json_integer_value(v));
        }
        return 0;
    case SCHEMA_BOOLEAN:
        if (!json_is_boolean(v)) {
            return fail(err, errlen, EINVAL, "%s: expected a boolean", path);
        }
        if (top) {
            sb_add(b, json_is_true(v) ? "True" : "False");
        } else {
            sb_add(b, json_is_true(v) ? "true" : "false");
        }
        return 0;
    case SCHEMA_NUMBER:
        if (!json_is_number(v)) {
            return fail(err, errlen, EINVAL, "%s: expected a number", path);
        }
        if (json_is_integer(v)) {
            sb_printf(b, "%lld", (long long) json_integer_value(v));
        } else {
            sb_printf(b, "%.17g", json_real_value(v));
        }
        return 0;
    case SCHEMA_ANY:
        if (json_is_string(v)) {
            if (!xml_chars_ok(json_string_value(v))) {
                return fail(err, errlen, EINVAL, "%s: holds characters XML cannot carry",
                            path);
            }
            sb_add_escaped(b, json_string_value(v), top);
        } else {
            char *text = mem_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            sb_add_escaped(b, text ? text : "", top);
            xfree(text);
        }
        return 0;
    case SCHEMA_COMPLEX:
        break;
    }
    return fail(err, errlen, EINVAL, "%s: not a simple type", path);
}

static int render_complex(struct sbuf *, const struct schema_type *, const json_t *,
                          const char *path, int depth, char *err, size_t errlen);

/* Appends one element NAME holding V of type T. */
static int
render_element(struct sbuf *b, const char *name, const struct schema_type *t, const json_t *v,
               const char *path, int depth, char *err, size_t errlen)
{
    if (t->kind == SCHEMA_COMPLEX) {
        struct sbuf inner = { 0 };
        int error = render_complex(&inner, t, v, path, depth + 1, err, errlen);
        if (!error) {
            if (inner.len) {
                sb_printf(b, "<%s>", name);
                sb_addn(b, inner.s, inner.len);
                sb_printf(b, "</%s>", name);
            } else {
                sb_printf(b, "<%s/>", name);    /* generateDS: no content, empty element. */
            }
        }
        sb_free(&inner);
        return error;
    }
    sb_printf(b, "<%s>", name);
    int error = render_simple(b, t, v, false, path, err, errlen);
    sb_printf(b, "</%s>", name);
    return error;
}

/* Appends the children of complex value V of type T: its fields in schema order, absent and
 * null ones left out, a list as one element per entry.  Keys the type lacks are ignored, as
 * the generated constructors ignore unknown keyword arguments. */
static int
render_complex(struct sbuf *b, const struct schema_type *t, const json_t *v, const char *path,
               int depth, char *err, size_t errlen)
{
    if (depth > MAX_DEPTH) {
        return fail(err, errlen, EINVAL, "%s: nested too deep", path);
    }
    if (!json_is_object(v)) {
        return fail(err, errlen, EINVAL, "%s: expected an object of type %s", path, t->name);
    }
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct schema_field *f = &t->fields[i];
        const json_t *fv = json_object_get(v, f->name);
        if (!fv || json_is_null(fv)) {
            continue;
        }
        char sub[512];
        snprintf(sub, sizeof sub, "%s.%s", path, f->name);
        if (!f->list) {
            int error = render_element(b, f->xml, f->type, fv, sub, depth, err, errlen);
            if (error) {
                return error;
            }
            continue;
        }
        if (!json_is_array(fv)) {
            return fail(err, errlen, EINVAL, "%s: expected a list", sub);
        }
        size_t k;
        const json_t *e;
        json_array_foreach (fv, k, e) {
            if (json_is_null(e)) {
                continue;
            }
            char esub[544];
            snprintf(esub, sizeof esub, "%s[%zu]", sub, k);
            int error = render_element(b, f->xml, f->type, e, esub, depth, err, errlen);
            if (error) {
                return error;
            }
        }
    }
    return 0;
}

static void
sb_meta_open(struct sbuf *b, const char *name)
{
    sb_printf(b, "<contrail:%s ifmap-cardinality=\"singleValue\">", name);
}

static void
sb_meta_close(struct sbuf *b, const char *name)
{
    sb_printf(b, "</contrail:%s>", name);
}

/* id-perms as the original publishes it: uuid and enable only (build_idperms_ifmap_obj). */
static int
render_id_perms(struct sbuf *b, const json_t *v, char *err, size_t errlen)
{
    if (!json_is_object(v)) {
        return fail(err, errlen, EINVAL, "id_perms: expected an object");
    }
    const json_t *uuid = json_object_get(v, "uuid");
    if (uuid && !json_is_null(uuid)) {
        const json_t *ms = json_object_get(uuid, "uuid_mslong");
        const json_t *ls = json_object_get(uuid, "uuid_lslong");
        if (!json_is_integer(ms) || !json_is_integer(ls)) {
            return fail(err, errlen, EINVAL, "id_perms.uuid: expected uuid_mslong and "
                        "uuid_lslong integers");
        }
        sb_printf(b, "<uuid><uuid-mslong>%llu</uuid-mslong><uuid-lslong>%llu</uuid-lslong>"
                  "</uuid>", (unsigned long long) json_integer_value(ms),
                  (unsigned long long) json_integer_value(ls));
    }
    const json_t *enable = json_object_get(v, "enable");
    if (enable && !json_is_null(enable)) {
        if (!json_is_boolean(enable)) {
            return fail(err, errlen, EINVAL, "id_perms.enable: expected a boolean");
        }
        sb_printf(b, "<enable>%s</enable>", json_is_true(enable) ? "true" : "false");
    }
    return 0;
}

int
vnc_ifmap_render_prop(const struct schema_prop *p, const json_t *v, char **xmlp,
                      char *err, size_t errlen)
{
    *xmlp = NULL;
    struct sbuf b = { 0 };
    int error;
    sb_meta_open(&b, p->xml);
    if (!strcmp(p->name, "id_perms")) {
        error = render_id_perms(&b, v, err, errlen);
    } else if (p->type->kind == SCHEMA_COMPLEX) {
        /* List and map properties too: the value is their wrapper type's object. */
        error = render_complex(&b, p->type, v, p->name, 0, err, errlen);
    } else {
        error = render_simple(&b, p->type, v, true, p->name, err, errlen);
    }
    if (error) {
        sb_free(&b);
        return error;
    }
    sb_meta_close(&b, p->xml);
    *xmlp = sb_steal(&b);
    return 0;
}

int
vnc_ifmap_render_link(const struct schema_link *l, const json_t *attr, char **xmlp,
                      char *err, size_t errlen)
{
    *xmlp = NULL;
    struct sbuf b = { 0 };
    sb_meta_open(&b, l->name);
    /* The original writes an attribute only when there is one and it is not empty. */
    if (l->attr && attr && !json_is_null(attr)) {
        int error;
        if (l->attr->kind == SCHEMA_COMPLEX) {
            error = render_complex(&b, l->attr, attr, "attr", 0, err, errlen);
        } else {
            error = render_simple(&b, l->attr, attr, false, "attr", err, errlen);
        }
        if (error) {
            sb_free(&b);
            return error;
        }
    }
    sb_meta_close(&b, l->name);
    *xmlp = sb_steal(&b);
    return 0;
}

static char *
meta_name(const char *name)
{
    return mem_asprintf(&mem_type_string, "contrail:%s", name);
}

static const struct schema_link *
config_root_link(const struct schema_ident *id)
{
    for (size_t i = 0; i < id->n_parents; i++) {
        if (is_config_root(id->parents[i]->from)) {
            return id->parents[i];
        }
    }
    return NULL;
}

int
vnc_ifmap_render(const struct schema_ident *id, const json_t *fq_name, const json_t *props,
                 const struct schema_ident *parent, const json_t *parent_fq_name,
                 const struct vnc_ifmap_ref *refs, size_t n_refs,
                 struct vnc_ifmap_items *out, char *err, size_t errlen)
{
    char *self = vnc_ifmap_ident_name(id, fq_name);
    if (!self) {
        return fail(err, errlen, EINVAL, "%s: fq_name must be a list of strings", id->name);
    }
    int error = 0;

    /* Parent link. */
    const struct schema_link *plink = NULL;
    char *pname = NULL;
    if (parent && !is_config_root(parent)) {
        plink = schema_ident_parent(id, parent);
        if (!plink) {
            error = fail(err, errlen, EINVAL, "%s is not a parent type of %s", parent->name,
                         id->name);
            goto out;
        }
        pname = vnc_ifmap_ident_name(parent, parent_fq_name);
        if (!pname) {
            error = fail(err, errlen, EINVAL, "%s: parent fq_name must be a list of strings",
                         id->name);
            goto out;
        }
    } else if (!is_config_root(id)) {
        plink = config_root_link(id);
        pname = plink ? xstrdup(VNC_IFMAP_ROOT_NAME) : NULL;
    }
    if (plink) {
        char *xml;
        error = vnc_ifmap_render_link(plink, NULL, &xml, err, errlen);
        if (error) {
            goto out;
        }
        items_add_owned(out, pname, xstrdup(self), meta_name(plink->name), xml);
        pname = NULL;
    }

    /* Properties. */
    if (props && !json_is_object(props)) {
        error = fail(err, errlen, EINVAL, "%s: properties must be an object", id->name);
        goto out;
    }
    for (size_t i = 0; props && i < id->n_props; i++) {
        const struct schema_prop *p = &id->props[i];
        const json_t *v = json_object_get(props, p->name);
        if (!v || json_is_null(v) || !strcmp(p->name, "perms2")) {
            continue;
        }
        char *xml;
        error = vnc_ifmap_render_prop(p, v, &xml, err, errlen);
        if (error) {
            goto out;
        }
        items_add_owned(out, xstrdup(self), NULL, meta_name(p->xml), xml);
    }

    /* References. */
    for (size_t i = 0; i < n_refs; i++) {
        const struct vnc_ifmap_ref *r = &refs[i];
        if (!r->link || r->link->has || r->link->from != id) {
            error = fail(err, errlen, EINVAL, "%s: reference %zu is not one of its ref links",
                         id->name, i);
            goto out;
        }
        char *to = vnc_ifmap_ident_name(r->link->to, r->to_fq_name);
        if (!to) {
            error = fail(err, errlen, EINVAL, "%s: %s reference %zu: 'to' must be a list of "
                         "strings", id->name, r->link->to->name, i);
            goto out;
        }
        char *xml;
        error = vnc_ifmap_render_link(r->link, r->attr, &xml, err, errlen);
        if (error) {
            xfree(to);
            goto out;
        }
        items_add_owned(out, xstrdup(self), to, meta_name(r->link->name), xml);
    }

out:
    xfree(pname);
    xfree(self);
    return error;
}

int
vnc_ifmap_render_object(const struct schema *s, const struct schema_ident *id,
                        const json_t *obj, struct vnc_ifmap_items *out,
                        char *err, size_t errlen)
{
    if (!json_is_object(obj)) {
        return fail(err, errlen, EINVAL, "%s: expected an object", id->name);
    }
    const json_t *fq = json_object_get(obj, "fq_name");
    if (!json_is_array(fq) || !json_array_size(fq)) {
        return fail(err, errlen, EINVAL, "%s: no fq_name", id->name);
    }

    const struct schema_ident *parent = NULL;
    json_t *parent_fq = NULL;
    const char *ptype = json_string_value(json_object_get(obj, "parent_type"));
    if (ptype && strcmp(ptype, "config-root")) {
        parent = schema_ident(s, ptype);
        if (!parent) {
            return fail(err, errlen, EINVAL, "%s: unknown parent_type '%s'", id->name, ptype);
        }
    } else if (!ptype && id->n_parents == 1) {
        parent = id->parents[0]->from;
    }
    if (parent && !is_config_root(parent)) {
        size_t n = json_array_size(fq);
        if (n < 2) {
            return fail(err, errlen, EINVAL, "%s: fq_name too short for a parent", id->name);
        }
        parent_fq = json_array();
        for (size_t i = 0; i + 1 < n; i++) {
            json_array_append(parent_fq, json_array_get(fq, i));
        }
    }

    size_t n_refs = 0, cap = 0;
    struct vnc_ifmap_ref *refs = NULL;
    int error = 0;
    for (size_t i = 0; i < id->n_refs; i++) {
        const struct schema_link *l = id->refs[i];
        const json_t *list = json_object_get(obj, l->to->refs_field);
        if (!list || json_is_null(list)) {
            continue;
        }
        if (!json_is_array(list)) {
            error = fail(err, errlen, EINVAL, "%s: %s must be a list", id->name,
                         l->to->refs_field);
            goto out;
        }
        size_t k;
        const json_t *r;
        json_array_foreach (list, k, r) {
            if (n_refs == cap) {
                cap = cap ? 2 * cap : 8;
                refs = mem_realloc(&mem_type_vnc_ifmap, refs, cap * sizeof *refs);
            }
            refs[n_refs].link = l;
            refs[n_refs].to_fq_name = json_object_get(r, "to");
            refs[n_refs].attr = json_object_get(r, "attr");
            n_refs++;
        }
    }
    error = vnc_ifmap_render(id, fq, obj, parent, parent_fq, refs, n_refs, out, err, errlen);
out:
    mem_free(&mem_type_vnc_ifmap, refs);
    json_decref(parent_fq);
    return error;
}

/* ---- Diff and publish. ---- */

struct item_node {
    struct hmap_node node;
    const struct vnc_ifmap_item *item;
};

static uint32_t
item_hash(const struct vnc_ifmap_item *it)
{
    uint32_t h = hash_string(it->id1, 0);
    h = hash_string(it->id2 ? it->id2 : "", h);
    return hash_string(it->meta_name, h);
}

static bool
item_same_key(const struct vnc_ifmap_item *a, const struct vnc_ifmap_item *b)
{
    return !strcmp(a->id1, b->id1) && !strcmp(a->meta_name, b->meta_name)
           && ((!a->id2 && !b->id2) || (a->id2 && b->id2 && !strcmp(a->id2, b->id2)));
}

static const struct vnc_ifmap_item *
item_find(const struct hmap *h, const struct vnc_ifmap_item *key)
{
    struct item_node *n;
    HMAP_FOR_EACH_WITH_HASH (n, node, item_hash(key), h) {
        if (item_same_key(n->item, key)) {
            return n->item;
        }
    }
    return NULL;
}

static void
index_items(struct hmap *h, struct item_node *nodes, const struct vnc_ifmap_items *l)
{
    hmap_init(h);
    for (size_t i = 0; l && i < l->n; i++) {
        nodes[i].item = &l->items[i];
        hmap_insert(h, &nodes[i].node, item_hash(&l->items[i]));
    }
}

void
vnc_ifmap_diff(const struct vnc_ifmap_items *old, const struct vnc_ifmap_items *new_,
               struct vnc_ifmap_items *updates, struct vnc_ifmap_items *deletes)
{
    size_t n_old = old ? old->n : 0, n_new = new_ ? new_->n : 0;
    struct item_node *old_nodes = mem_zalloc(&mem_type_vnc_ifmap,
                                             (n_old + 1) * sizeof *old_nodes);
    struct item_node *new_nodes = mem_zalloc(&mem_type_vnc_ifmap,
                                             (n_new + 1) * sizeof *new_nodes);
    struct hmap old_h, new_h;
    index_items(&old_h, old_nodes, old);
    index_items(&new_h, new_nodes, new_);

    for (size_t i = 0; i < n_new; i++) {
        const struct vnc_ifmap_item *it = &new_->items[i];
        const struct vnc_ifmap_item *was = item_find(&old_h, it);
        if (!was || strcmp(was->meta_xml, it->meta_xml)) {
            vnc_ifmap_items_add(updates, it->id1, it->id2, it->meta_name, it->meta_xml);
        }
    }
    for (size_t i = 0; i < n_old; i++) {
        const struct vnc_ifmap_item *it = &old->items[i];
        if (!item_find(&new_h, it)) {
            vnc_ifmap_items_add(deletes, it->id1, it->id2, it->meta_name, it->meta_xml);
        }
    }
    hmap_destroy(&old_h);
    hmap_destroy(&new_h);
    mem_free(&mem_type_vnc_ifmap, old_nodes);
    mem_free(&mem_type_vnc_ifmap, new_nodes);
}

char *
vnc_ifmap_publish_body(const char *session_id, const struct vnc_ifmap_items *updates,
                       const struct vnc_ifmap_items *deletes)
{
    struct sbuf b = { 0 };
    if (session_id) {
        sb_add(&b, "<ifmap:publish session-id=\"");
        sb_add_escaped(&b, session_id, true);
        sb_add(&b, "\">");
    }
    for (size_t i = 0; deletes && i < deletes->n; i++) {
        const struct vnc_ifmap_item *it = &deletes->items[i];
        sb_add(&b, "<delete filter=\"");
        sb_add_escaped(&b, it->meta_name, true);
        sb_add(&b, "\">");
        sb_add_identity(&b, it->id1);
        if (it->id2) {
            sb_add_identity(&b, it->id2);
        }
        sb_add(&b, "</delete>");
    }
    for (size_t i = 0; updates && i < updates->n; i++) {
        const struct vnc_ifmap_item *it = &updates->items[i];
        sb_add(&b, "<update lifetime=\"forever\">");
        sb_add_identity(&b, it->id1);
        if (it->id2) {
            sb_add_identity(&b, it->id2);
        }
        sb_add(&b, "<metadata>");
        sb_add(&b, it->meta_xml);
        sb_add(&b, "</metadata></update>");
    }
    if (session_id) {
        sb_add(&b, "</ifmap:publish>");
    }
    return sb_steal(&b);
}

/* ---- Parsing. ---- */

static bool
has_element_children(const xmlNode *n)
{
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return true;
        }
    }
    return false;
}

/* The text of N, leading and trailing XML whitespace kept (strings keep theirs). */
static char *
node_text(const xmlNode *n)
{
    xmlChar *c = xmlNodeGetContent(n);
    char *s = xstrdup(c ? (const char *) c : "");
    xmlFree(c);
    return s;
}

static const char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
        s++;
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r')) {
        s[--n] = '\0';
    }
    return s;
}

static int
parse_simple(const struct schema_type *t, const xmlNode *n, const char *path, json_t **vp,
             char *err, size_t errlen)
{
    *vp = NULL;
    if (has_element_children(n)) {
        return fail(err, errlen, EINVAL, "%s: expected a %s value, found elements", path,
                    t->name);
    }
    char *text = node_text(n);
    int error = 0;
    switch (t->kind) {
    case SCHEMA_STRING:
    case SCHEMA_DATETIME:
    case SCHEMA_ANY:
        *vp = json_string(text);
        if (!*vp) {
            error = fail(err, errlen, EINVAL, "%s: text is not valid UTF-8", path);
        }
        break;
    case SCHEMA_INTEGER: {
        const char *s = trim(text);
        char *end;
        errno = 0;
        long long v;
        if (is_unsigned_long(t) && *s != '-') {
            unsigned long long u = strtoull(s, &end, 10);
            v = (long long) u;
        } else {
            v = strtoll(s, &end, 10);
        }
        if (!*s || *end || errno) {
            error = fail(err, errlen, EINVAL, "%s: '%s' is not an integer", path, s);
        } else {
            *vp = json_integer(v);
        }
        break;
    }
    case SCHEMA_BOOLEAN: {
        const char *s = trim(text);
        if (!strcasecmp(s, "true") || !strcmp(s, "1")) {
            *vp = json_true();
        } else if (!strcasecmp(s, "false") || !strcmp(s, "0")) {
            *vp = json_false();
        } else {
            error = fail(err, errlen, EINVAL, "%s: '%s' is not a boolean", path, s);
        }
        break;
    }
    case SCHEMA_NUMBER: {
        const char *s = trim(text);
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (!*s || *end || errno) {
            error = fail(err, errlen, EINVAL, "%s: '%s' is not a number", path, s);
        } else {
            *vp = json_real(d);
        }
        break;
    }
    case SCHEMA_COMPLEX:
        error = fail(err, errlen, EINVAL, "%s: not a simple type", path);
        break;
    }
    xfree(text);
    return error;
}

static int
parse_value(const struct schema_type *t, const xmlNode *n, const char *path, int depth,
            json_t **vp, char *err, size_t errlen)
{
    *vp = NULL;
    if (t->kind != SCHEMA_COMPLEX) {
        return parse_simple(t, n, path, vp, err, errlen);
    }
    if (depth > MAX_DEPTH) {
        return fail(err, errlen, EINVAL, "%s: nested too deep", path);
    }
    json_t *obj = json_object();
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_COMMENT_NODE
            || c->type == XML_PI_NODE) {
            continue;       /* Whitespace between elements; text in a complex value. */
        }
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        const struct schema_field *f = NULL;
        for (size_t i = 0; i < t->n_fields; i++) {
            if (!strcmp(t->fields[i].xml, (const char *) c->name)) {
                f = &t->fields[i];
                break;
            }
        }
        if (!f) {
            continue;       /* Unknown element: ignored, as the generated build() does. */
        }
        char sub[512];
        snprintf(sub, sizeof sub, "%s.%s", path, f->name);
        json_t *fv;
        int error = parse_value(f->type, c, sub, depth + 1, &fv, err, errlen);
        if (error) {
            json_decref(obj);
            return error;
        }
        if (f->list) {
            json_t *arr = json_object_get(obj, f->name);
            if (!arr) {
                arr = json_array();
                json_object_set_new(obj, f->name, arr);
            }
            json_array_append_new(arr, fv);
        } else {
            json_object_set_new(obj, f->name, fv);
        }
    }
    *vp = obj;
    return 0;
}

/* The local name of metadata element N in the contrail namespace, or NULL. */
static const char *
contrail_local_name(const xmlNode *n)
{
    const char *name = (const char *) n->name;
    if (n->ns) {
        return n->ns->href && !strcmp((const char *) n->ns->href, VNC_IFMAP_CONTRAIL_NS)
               ? name : NULL;
    }
    /* An undeclared prefix stays in the name. */
    return !strncmp(name, "contrail:", 9) ? name + 9 : NULL;
}

static const struct schema_link *
find_link(const struct schema *s, const char *name, const struct schema_ident *a,
          const struct schema_ident *b, bool *swapped)
{
    for (size_t i = 0; i < s->n_links; i++) {
        const struct schema_link *l = s->links[i];
        if (strcmp(l->name, name)) {
            continue;
        }
        if (l->from == a && l->to == b) {
            *swapped = false;
            return l;
        }
        if (l->from == b && l->to == a) {
            *swapped = true;
            return l;
        }
    }
    return NULL;
}

void
vnc_ifmap_meta_clear(struct vnc_ifmap_meta *m)
{
    if (!m) {
        return;
    }
    json_decref(m->fq_name);
    json_decref(m->other_fq_name);
    json_decref(m->value);
    memset(m, 0, sizeof *m);
}

int
vnc_ifmap_parse_meta(const struct schema *s, const xmlNode *meta, const char *id1,
                     const char *id2, struct vnc_ifmap_meta *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!meta || meta->type != XML_ELEMENT_NODE) {
        return fail(err, errlen, EINVAL, "metadata is not an element");
    }
    const char *name = contrail_local_name(meta);
    if (!name) {
        return fail(err, errlen, EINVAL, "metadata '%s' is not in the contrail namespace",
                    (const char *) meta->name);
    }

    const struct schema_ident *i1, *i2 = NULL;
    json_t *fq1, *fq2 = NULL;
    int error = vnc_ifmap_parse_ident(s, id1, &i1, &fq1, err, errlen);
    if (error) {
        return error;
    }
    if (id2) {
        error = vnc_ifmap_parse_ident(s, id2, &i2, &fq2, err, errlen);
        if (error) {
            json_decref(fq1);
            return error;
        }
    }

    if (!i2) {
        const struct schema_prop *p = NULL;
        for (size_t i = 0; i < i1->n_props; i++) {
            if (!strcmp(i1->props[i].xml, name)) {
                p = &i1->props[i];
                break;
            }
        }
        if (!p) {
            json_decref(fq1);
            return fail(err, errlen, ENOENT, "unknown metadata 'contrail:%s' on %s", name,
                        i1->name);
        }
        json_t *v;
        error = parse_value(p->type, meta, p->name, 0, &v, err, errlen);
        if (error) {
            json_decref(fq1);
            return error;
        }
        out->kind = VNC_IFMAP_PROP;
        out->ident = i1;
        out->fq_name = fq1;
        out->prop = p;
        out->value = v;
        return 0;
    }

    bool swapped;
    const struct schema_link *l = find_link(s, name, i1, i2, &swapped);
    if (!l) {
        json_decref(fq1);
        json_decref(fq2);
        return fail(err, errlen, ENOENT, "unknown link metadata 'contrail:%s' between %s and %s",
                    name, i1->name, i2->name);
    }
    json_t *v = NULL;
    if (!l->has && l->attr) {
        error = parse_value(l->attr, meta, "attr", 0, &v, err, errlen);
        if (error) {
            json_decref(fq1);
            json_decref(fq2);
            return error;
        }
    }
    out->kind = l->has ? VNC_IFMAP_PARENT : VNC_IFMAP_REF;
    out->link = l;
    out->ident = swapped ? i2 : i1;
    out->fq_name = swapped ? fq2 : fq1;
    out->other = swapped ? i1 : i2;
    out->other_fq_name = swapped ? fq1 : fq2;
    out->value = v;
    return 0;
}

int
vnc_ifmap_parse_meta_xml(const struct schema *s, const char *xml, size_t len, const char *id1,
                         const char *id2, struct vnc_ifmap_meta *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    static const char open[] = "<vnc-ifmap-fragment xmlns:contrail=\"" VNC_IFMAP_CONTRAIL_NS
                               "\" xmlns:meta=\"" VNC_IFMAP_META_NS "\">";
    static const char close[] = "</vnc-ifmap-fragment>";
    if (len > INT_MAX - sizeof open - sizeof close) {
        return fail(err, errlen, EINVAL, "metadata too large");
    }
    struct sbuf b = { 0 };
    sb_add(&b, open);
    sb_addn(&b, xml, len);
    sb_add(&b, close);
    /* No entity substitution and no network: outside input. */
    xmlDoc *doc = xmlReadMemory(b.s, (int) b.len, "metadata.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    sb_free(&b);
    if (!doc) {
        return fail(err, errlen, EINVAL, "metadata is not well-formed XML");
    }
    const xmlNode *root = xmlDocGetRootElement(doc), *elem = NULL;
    int n = 0;
    for (const xmlNode *c = root ? root->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            elem = c;
            n++;
        }
    }
    int error;
    if (n != 1) {
        error = fail(err, errlen, EINVAL, "expected one metadata element, found %d", n);
    } else {
        error = vnc_ifmap_parse_meta(s, elem, id1, id2, out, err, errlen);
    }
    xmlFreeDoc(doc);
    return error;
}
