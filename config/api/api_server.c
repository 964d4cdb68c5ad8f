/* api_server: the VNC REST API's resources and collections (see api_server.h).
 *
 * URL scheme, JSON shapes and error texts follow the original contrail-api (config-plane
 * reference §1): collections at /<type>s, resources at /<type>/<uuid>, errors as plain text
 * with the original's status codes. */
#include "api_server.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "api_ifmap.h"
#include "api_notify.h"
#include "introspect.h"
#include "json_util.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(api_server);

static MEM_TYPE(mem_type_api, "api_request");

#define DEFAULT_MAX_PENDING 4096

int
api_fail(struct api_err *e, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->status = status;
    return status;
}

void
api_timestamp(char buf[32])
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, 32 - n, ".%06ld", (long) tv.tv_usec);
}

bool
api_refset_touches(const struct api_refset *rs, const struct schema_link *link)
{
    for (size_t i = 0; i < rs->n_replaced; i++) {
        if (rs->replaced[i] == link) {
            return true;
        }
    }
    return false;
}

static void
refset_add(struct api_refset *rs, struct api_obj *to, const struct schema_link *link,
           json_t *attr)
{
    if (rs->n == rs->allocated) {
        rs->allocated = rs->allocated ? 2 * rs->allocated : 4;
        rs->refs = mem_realloc(&mem_type_api, rs->refs, rs->allocated * sizeof *rs->refs);
    }
    rs->refs[rs->n++] = (struct api_pending_ref) { to, link, attr };
}

static void
refset_destroy(struct api_refset *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        json_decref(rs->refs[i].attr);
    }
    mem_free(&mem_type_api, rs->refs);
    mem_free(&mem_type_api, rs->replaced);
}

/* Rendering. */

static void
href(char *buf, size_t size, const char *base_url, const struct api_obj *o)
{
    snprintf(buf, size, "%s/%s/%s", base_url, o->ident->name, o->uuid);
}

static bool
field_wanted(json_t *fields, const char *name)
{
    if (!fields) {
        return true;
    }
    size_t i;
    json_t *f;
    json_array_foreach (fields, i, f) {
        if (json_is_string(f) && !strcmp(json_string_value(f), name)) {
            return true;
        }
    }
    return false;
}

static void
render_ident(const char *base_url, struct api_obj *o, json_t *j, bool exclude_hrefs)
{
    json_object_set_new(j, "uuid", json_string(o->uuid));
    json_object_set(j, "fq_name", o->fq_name);
    json_object_set_new(j, "name", json_string(json_string_value(
                                                   json_array_get(o->fq_name,
                                                                  json_array_size(o->fq_name)
                                                                  - 1))));
    if (!exclude_hrefs) {
        char h[512];
        href(h, sizeof h, base_url, o);
        json_object_set_new(j, "href", json_string(h));
    }
    if (o->parent) {
        json_object_set_new(j, "parent_type", json_string(o->parent->ident->name));
        json_object_set_new(j, "parent_uuid", json_string(o->parent->uuid));
        if (!exclude_hrefs) {
            char h[512];
            href(h, sizeof h, base_url, o->parent);
            json_object_set_new(j, "parent_href", json_string(h));
        }
    } else if (o->ident->n_parents && !strcmp(o->ident->parents[0]->from->name, "config-root")) {
        json_object_set_new(j, "parent_type", json_string("config-root"));
    }
}

/* Streaming output: replies are written straight into a text buffer, since building a JSON
 * tree for every object of a large list costs more than writing it. */
struct out {
    char *p;
    size_t len, cap;
};

static int
out_cb(const char *s, size_t n, void *aux)
{
    struct out *o = aux;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        while (o->len + n > cap) {
            cap *= 2;
        }
        o->p = mem_realloc(&mem_type_api, o->p, cap);
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    return 0;
}

#define OUT_LIT(O, S) out_cb(S, sizeof S - 1, O)

static void
out_str(struct out *o, const char *s)
{
    json_util_dump_string(s, strlen(s), out_cb, o);
}

static void
out_json(struct out *o, const json_t *j)
{
    json_util_dump(j, out_cb, o);
}

static void
out_key(struct out *o, bool *first, const char *key)
{
    if (!*first) {
        OUT_LIT(o, ",");
    }
    *first = false;
    out_str(o, key);
    OUT_LIT(o, ":");
}

static void
out_href(struct out *o, const char *base_url, const struct api_obj *x)
{
    char h[512];
    href(h, sizeof h, base_url, x);
    out_str(o, h);
}

static void
out_ref(struct out *o, const char *base_url, const struct api_obj *to, const json_t *attr,
        bool with_attr, bool exclude_hrefs)
{
    OUT_LIT(o, "{\"to\":");
    out_json(o, to->fq_name);
    OUT_LIT(o, ",\"uuid\":");
    out_str(o, to->uuid);
    if (!exclude_hrefs) {
        OUT_LIT(o, ",\"href\":");
        out_href(o, base_url, to);
    }
    if (with_attr) {
        OUT_LIT(o, ",\"attr\":");
        if (attr) {
            out_json(o, attr);
        } else {
            OUT_LIT(o, "null");
        }
    }
    OUT_LIT(o, "}");
}

/* Opens or continues the list named KEY: the first item opens it. */
static void
out_item(struct out *o, bool *first, bool *open, const char *key)
{
    if (!*open) {
        out_key(o, first, key);
        OUT_LIT(o, "[");
        *open = true;
    } else {
        OUT_LIT(o, ",");
    }
}

static void
out_close(struct out *o, bool open)
{
    if (open) {
        OUT_LIT(o, "]");
    }
}

static void
out_ident(struct out *o, bool *first, const char *base_url, const struct api_obj *x,
          bool exclude_hrefs)
{
    out_key(o, first, "uuid");
    out_str(o, x->uuid);
    out_key(o, first, "fq_name");
    out_json(o, x->fq_name);
    out_key(o, first, "name");
    out_json(o, json_array_get(x->fq_name, json_array_size(x->fq_name) - 1));
    if (!exclude_hrefs) {
        out_key(o, first, "href");
        out_href(o, base_url, x);
    }
    if (x->parent) {
        out_key(o, first, "parent_type");
        out_str(o, x->parent->ident->name);
        out_key(o, first, "parent_uuid");
        out_str(o, x->parent->uuid);
        if (!exclude_hrefs) {
            out_key(o, first, "parent_href");
            out_href(o, base_url, x->parent);
        }
    } else if (x->ident->n_parents && !strcmp(x->ident->parents[0]->from->name, "config-root")) {
        out_key(o, first, "parent_type");
        OUT_LIT(o, "\"config-root\"");
    }
}

/* The properties, refs, back-refs and children of X named in FIELDS (all when NULL). */
static void
out_fields(struct out *o, bool *first, const char *base_url, struct api_obj *x, json_t *fields,
           bool exclude_back_refs, bool exclude_children, bool exclude_hrefs)
{
    const char *key;
    json_t *v;
    json_object_foreach (x->props, key, v) {
        if (field_wanted(fields, key)) {
            out_key(o, first, key);
            out_json(o, v);
        }
    }
    const struct schema_ident *id = x->ident;
    struct api_ref *r;
    for (size_t i = 0; i < id->n_refs; i++) {
        const struct schema_link *l = id->refs[i];
        if (field_wanted(fields, l->to->refs_field)) {
            bool open = false;
            LIST_FOR_EACH (r, from_node, &x->refs) {
                if (r->link == l) {
                    out_item(o, first, &open, l->to->refs_field);
                    out_ref(o, base_url, r->to, r->attr, true, exclude_hrefs);
                }
            }
            out_close(o, open);
        }
    }
    for (size_t i = 0; !exclude_back_refs && i < id->n_back_refs; i++) {
        const struct schema_link *l = id->back_refs[i];
        if (field_wanted(fields, l->from->back_refs_field)) {
            bool open = false;
            LIST_FOR_EACH (r, to_node, &x->back_refs) {
                if (r->link == l) {
                    out_item(o, first, &open, l->from->back_refs_field);
                    out_ref(o, base_url, r->from, r->attr, true, exclude_hrefs);
                }
            }
            out_close(o, open);
        }
    }
    for (size_t i = 0; !exclude_children && i < id->n_children; i++) {
        const struct schema_link *l = id->children[i];
        if (field_wanted(fields, l->to->children_field)) {
            bool open = false;
            struct api_obj *c;
            LIST_FOR_EACH (c, child_node, &x->children) {
                if (c->ident == l->to) {
                    out_item(o, first, &open, l->to->children_field);
                    out_ref(o, base_url, c, NULL, false, exclude_hrefs);
                }
            }
            out_close(o, open);
        }
    }
}

/* X as GET shows it; with FIELDS, only those (plus id_perms, perms2, display_name). */
static void
out_obj(struct out *o, const char *base_url, struct api_obj *x, json_t *fields,
        bool exclude_back_refs, bool exclude_children, bool exclude_hrefs)
{
    bool first = true;
    OUT_LIT(o, "{");
    out_ident(o, &first, base_url, x, exclude_hrefs);
    json_t *f = NULL;
    if (fields) {
        f = json_deep_copy(fields);
        json_array_append_new(f, json_string("id_perms"));
        json_array_append_new(f, json_string("perms2"));
        json_array_append_new(f, json_string("display_name"));
    }
    out_fields(o, &first, base_url, x, f, exclude_back_refs, exclude_children, exclude_hrefs);
    json_decref(f);
    OUT_LIT(o, "}");
}

static void
reply_out(struct http_req *req, int status, struct out *o)
{
    http_reply(req, status, "application/json; charset=\"UTF-8\"", o->p, o->len);
    mem_free(&mem_type_api, o->p);
}

/* Replies. */

void
api_reply_err(struct api_server *srv, struct http_req *req, const struct api_err *e)
{
    srv->n_errors++;
    http_reply_text(req, e->status, "%s", e->msg);
}

bool
api_writable(struct api_server *srv, struct http_req *req)
{
    if (srv->store.failed) {
        http_reply_text(req, 503, "Config database write failed earlier: restart required");
        return false;
    }
    if (srv->pending >= srv->max_pending) {
        http_reply_text(req, 503, "Too many pending updates: %zu", srv->pending);
        return false;
    }
    char msg[200];
    if (api_notify_full(srv->notify, msg, sizeof msg)) {
        srv->n_errors++;
        http_reply_text(req, 500, "%s", msg);
        return false;
    }
    return true;
}

struct pending_reply {
    struct api_server *srv;
    struct http_req *req;
    int status;
    json_t *body;
    int tries;
};

static void gate_enqueue(struct api_server *, struct http_req *, int tries);
static void gate_retry_later(struct api_server *, struct http_req *, int tries);

static void
pending_done(void *aux, int error)
{
    struct pending_reply *p = aux;
    struct api_server *srv = p->srv;
    srv->pending--;
    if (!error) {
        http_reply_json(p->req, p->status, p->body);
    } else if (!srv->store.shared) {
        http_reply_text(p->req, 500, "Config database write failed: %s", strerror(error));
        json_decref(p->body);
    } else if (error == EEXIST && p->tries < API_MAX_TRIES) {
        /* Another API server changed what the request depended on; the change has been
         * undone here.  Run the request again on the store's current content, after a
         * random pause growing with the tries, so that two servers allocating the same
         * next id do not collide again in step. */
        srv->n_retries++;
        json_decref(p->body);
        gate_retry_later(srv, p->req, p->tries + 1);
    } else if (error == EEXIST) {
        http_reply_text(p->req, 409, "Conflict: the objects changed concurrently on another "
                        "API server %d times; try again", API_MAX_TRIES);
        json_decref(p->body);
    } else {
        http_reply_text(p->req, 503, "Config database unavailable: %s (nothing was changed%s)",
                        strerror(error), error == ETIMEDOUT ? ", unless the store applied "
                        "the write after the timeout" : "");
        json_decref(p->body);
    }
    mem_free(&mem_type_api, p);
}

void
api_commit_and_reply(struct api_server *srv, struct api_txn *t, struct http_req *req,
                     int status, json_t *body)
{
    struct pending_reply *p = mem_zalloc(&mem_type_api, sizeof *p);
    p->srv = srv;
    p->req = req;
    p->status = status;
    p->body = body;
    p->tries = srv->cur_tries;
    srv->pending++;
    api_txn_commit(t, pending_done, p);
}

/* The create/update/delete pipeline. */

static bool
valid_name(const struct schema_ident *id, const char *name, struct api_err *e)
{
    /* U+FFFE and U+FFFF are not XML characters (the names become IF-MAP identifiers). */
    if (strstr(name, "\xef\xbf\xbe") || strstr(name, "\xef\xbf\xbf")) {
        api_fail(e, 400, "Bad Request, name has a character not allowed in XML");
        return false;
    }
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if (c < 0x20 || c == 0x7f || strchr("<>&\"'", c)
            || (c == ':' && strcmp(id->name, "route-target"))) {
            api_fail(e, 400, "Bad Request, name '%s' has an invalid character '%c'", name,
                     c >= 0x20 ? c : '?');
            return false;
        }
    }
    return true;
}

static bool
is_config_root_child(const struct schema_ident *id)
{
    return id->n_parents && !strcmp(id->parents[0]->from->name, "config-root");
}

/* Resolves the parent of a new object of type ID named FQ.  Returns 0 or an error. */
static int
resolve_parent(struct api_server *srv, const struct schema_ident *id, json_t *fq,
               const char *parent_type, struct api_obj **parentp, struct api_err *e)
{
    size_t len = json_array_size(fq);
    char repr[1024];
    *parentp = NULL;
    if (!id->n_parents || is_config_root_child(id)) {
        if (parent_type && strcmp(parent_type, "config-root")) {
            return api_fail(e, 400, "Invalid parent type: %s. Allowed types: ['config-root']",
                            parent_type);
        }
        if (len != 1) {
            api_fq_repr(fq, repr, sizeof repr);
            return api_fail(e, 400, "Bad Request, fq_name %s of %s must have 1 element", repr,
                            id->name);
        }
        return 0;
    }
    if (len < 2) {
        api_fq_repr(fq, repr, sizeof repr);
        return api_fail(e, 400, "Bad Request, fq_name %s of %s needs its parent's fq_name",
                        repr, id->name);
    }
    json_t *pfq = json_array();
    for (size_t i = 0; i + 1 < len; i++) {
        json_array_append(pfq, json_array_get(fq, i));
    }
    api_fq_repr(pfq, repr, sizeof repr);
    int status = 0;
    if (parent_type) {
        const struct schema_ident *pid = schema_ident(srv->schema, parent_type);
        if (!pid || !schema_ident_parent(id, pid)) {
            char allowed[512] = "";
            size_t n = 0;
            for (size_t i = 0; i < id->n_parents && n < sizeof allowed; i++) {
                n += (size_t) snprintf(allowed + n, sizeof allowed - n, "%s'%s'", i ? ", " : "",
                                       id->parents[i]->from->name);
            }
            status = api_fail(e, 400, "Invalid parent type: %s. Allowed types: [%s]",
                              parent_type, allowed);
        } else {
            *parentp = api_store_get_fq_json(&srv->store, pid, pfq);
            if (!*parentp) {
                status = api_fail(e, 400, "Parent %s type %s does not exist", repr,
                                  parent_type);
            }
        }
    } else if (id->n_parents > 1) {
        status = api_fail(e, 400, "Bad Request, parent_type is required: %s has several "
                          "parent types", id->name);
    } else {
        *parentp = api_store_get_fq_json(&srv->store, id->parents[0]->from, pfq);
        if (!*parentp) {
            status = api_fail(e, 400, "Parent %s type %s does not exist", repr,
                              id->parents[0]->from->name);
        }
    }
    json_decref(pfq);
    return status;
}

int
api_resolve_ref(struct api_server *srv, const struct schema_ident *to_ident,
                const json_t *item, struct api_obj **objp, struct api_err *e)
{
    const char *uuid = json_string_value(json_object_get(item, "uuid"));
    json_t *to = json_object_get(item, "to");
    struct api_obj *o = NULL;
    if (uuid) {
        o = api_store_get(&srv->store, uuid);
        if (!o || o->ident != to_ident) {
            return api_fail(e, 404, "No %s object found for uuid %s", to_ident->name, uuid);
        }
    } else if (to) {
        char *fq = api_fq_join(to);
        if (!fq) {
            return api_fail(e, 400, "Bad Request, invalid 'to' in %s reference",
                            to_ident->name);
        }
        o = api_store_get_fq(&srv->store, to_ident, fq);
        if (!o) {
            char repr[1024];
            api_fq_repr(to, repr, sizeof repr);
            xfree(fq);
            return api_fail(e, 404, "Name %s not found (type %s)", repr, to_ident->name);
        }
        xfree(fq);
    } else {
        return api_fail(e, 400, "Bad Request, %s reference needs 'to' or 'uuid'",
                        to_ident->name);
    }
    *objp = o;
    return 0;
}

/* Validates the ref list VALUE of field KEY; adds the resolved refs to RS. */
static int
parse_ref_list(struct api_server *srv, const struct schema_link *link, const char *key,
               json_t *value, struct api_refset *rs, struct api_err *e)
{
    if (json_is_null(value)) {
        return 0;
    }
    if (!json_is_array(value)) {
        return api_fail(e, 400, "Bad Request, %s must be a list", key);
    }
    size_t i;
    json_t *item;
    json_array_foreach (value, i, item) {
        if (!json_is_object(item)) {
            return api_fail(e, 400, "Bad Request, %s[%zu] must be an object", key, i);
        }
        struct api_obj *to;
        int status = api_resolve_ref(srv, link->to, item, &to, e);
        if (status) {
            return status;
        }
        json_t *attr = json_object_get(item, "attr");
        if (attr && json_is_null(attr)) {
            attr = NULL;
        }
        if (attr && link->attr) {
            char path[256], err[768];
            snprintf(path, sizeof path, "%s[%zu].attr", key, i);
            if (!schema_validate(link->attr, false, attr, path, err, sizeof err)) {
                return api_fail(e, 400, "Bad Request, invalid reference attribute: %s", err);
            }
        } else if (attr && !link->attr && !json_is_object(attr)) {
            attr = NULL;
        }
        /* A second ref to the same object replaces the first, as the original's columns do. */
        bool dup = false;
        for (size_t k = 0; k < rs->n; k++) {
            if (rs->refs[k].to == to) {
                json_decref(rs->refs[k].attr);
                rs->refs[k].attr = attr ? json_deep_copy(attr) : NULL;
                dup = true;
            }
        }
        if (!dup) {
            refset_add(rs, to, link, attr && link->attr ? json_deep_copy(attr) : NULL);
        }
    }
    return 0;
}

static bool
is_meta_key(const struct schema_ident *id, const char *key)
{
    static const char *const meta[] = {
        "fq_name", "uuid", "parent_type", "parent_uuid", "parent_href", "href", "name",
        "parent_name",
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++) {
        if (!strcmp(key, meta[i])) {
            return true;
        }
    }
    return schema_ident_back_ref(id, key) || schema_ident_child(id, key);
}

/* Splits BODY into validated properties (PROPS: name -> value, null for removal on update)
 * and references (RS).  Returns 0 or an error. */
static int
parse_body(struct api_server *srv, const struct schema_ident *id, json_t *body, bool update,
           json_t *props, struct api_refset *rs, struct api_err *e)
{
    const char *key;
    json_t *v;
    json_object_foreach (body, key, v) {
        if (is_meta_key(id, key)) {
            continue;
        }
        const struct schema_prop *p = schema_ident_prop(id, key);
        if (p) {
            char err[768];
            if (!schema_validate_prop(p, v, err, sizeof err)) {
                return api_fail(e, 400, "Bad property in %s: %s", update ? "update" : "create",
                                err);
            }
            if (!json_is_null(v) || update) {
                json_object_set(props, key, v);
            }
            continue;
        }
        const struct schema_link *l = schema_ident_ref(id, key);
        if (l) {
            int status = parse_ref_list(srv, l, key, v, rs, e);
            if (status) {
                return status;
            }
            rs->replaced = mem_realloc(&mem_type_api, rs->replaced,
                                       (rs->n_replaced + 1) * sizeof *rs->replaced);
            rs->replaced[rs->n_replaced++] = l;
            continue;
        }
        return api_fail(e, 400, "Bad Request, unknown field '%s' for %s", key, id->name);
    }
    return 0;
}

static json_t *
default_id_perms(const char *uuid, json_t *given)
{
    char ts[32];
    api_timestamp(ts);
    uint64_t ms = 0, ls = 0;
    uuid_to_halves(uuid, &ms, &ls);
    json_t *ip = json_object();
    json_object_set(ip, "permissions", api_default_permissions());
    /* id_perms.uuid halves are unsigned 64-bit; jansson integers are signed, so the halves
     * are stored as their two's-complement bit pattern. */
    json_object_set_new(ip, "uuid", xjson_pack("{sIsI}", "uuid_mslong", (json_int_t) ms,
                                              "uuid_lslong", (json_int_t) ls));
    json_object_set_new(ip, "enable", json_true());
    json_object_set_new(ip, "created", json_string(ts));
    json_object_set_new(ip, "last_modified", json_string(ts));
    json_object_set_new(ip, "description", json_null());
    json_object_set_new(ip, "user_visible", json_true());
    json_object_set_new(ip, "creator", json_null());
    if (json_is_object(given)) {
        static const char *const user_keys[] = { "enable", "description", "user_visible",
                                                 "permissions", "creator" };
        for (size_t i = 0; i < sizeof user_keys / sizeof user_keys[0]; i++) {
            json_t *v = json_object_get(given, user_keys[i]);
            if (v) {
                json_object_set(ip, user_keys[i], v);
            }
        }
    }
    return ip;
}

static json_t *
default_perms2(json_t *given)
{
    if (!json_is_object(given)) {
        return json_incref(api_default_perms2());
    }
    json_t *p = json_deep_copy(api_default_perms2());
    json_object_update_existing(p, given);
    return p;
}

/* The project quota (QuotaType: per-type limits, "defaults", -1 = unlimited) on the number
 * of objects of type ID directly under PARENT. */
static int
check_quota(const struct schema_ident *id, const struct api_obj *parent, struct api_err *e)
{
    if (!parent || strcmp(parent->ident->name, "project")) {
        return 0;
    }
    json_t *quota = json_object_get(parent->props, "quota");
    json_t *limit = json_object_get(quota, id->obj_type);
    if (!json_is_integer(limit)) {
        limit = json_object_get(quota, "defaults");
    }
    if (!json_is_integer(limit) || json_integer_value(limit) < 0) {
        return 0;
    }
    json_int_t n = 0;
    struct api_obj *c;
    LIST_FOR_EACH (c, child_node, &parent->children) {
        n += c->ident == id;
    }
    if (n >= json_integer_value(limit)) {
        return api_fail(e, 412, "quota limit (%lld) exceeded for resource %s",
                        (long long) json_integer_value(limit), id->obj_type);
    }
    return 0;
}

int
api_obj_create_from_json(struct api_server *srv, struct api_txn *t,
                         const struct schema_ident *id, json_t *body, struct api_obj **objp,
                         struct api_err *e)
{
    if (!strcmp(id->name, "config-root")) {
        return api_fail(e, 400, "Bad Request, config-root cannot be created");
    }
    json_t *fq = json_object_get(body, "fq_name");
    if (!fq) {
        return api_fail(e, 400, "Bad Request, no fq_name in POST body");
    }
    char *fq_str = api_fq_join(fq);
    if (!fq_str) {
        return api_fail(e, 400, "Bad Request, fq_name must be a non-empty list of non-empty "
                        "strings");
    }
    xfree(fq_str);
    const char *name = json_string_value(json_array_get(fq, json_array_size(fq) - 1));
    if (!valid_name(id, name, e)) {
        return e->status;
    }
    json_t *pt = json_object_get(body, "parent_type");
    if (pt && !json_is_string(pt) && !json_is_null(pt)) {
        return api_fail(e, 400, "Bad Request, parent_type must be a string");
    }
    struct api_obj *parent;
    int status = resolve_parent(srv, id, fq, json_string_value(pt), &parent, e);
    if (status) {
        return status;
    }

    char uuid[UUID_LEN + 1];
    json_t *ju = json_object_get(body, "uuid");
    if (ju && !json_is_null(ju)) {
        const char *us = json_string_value(ju);
        if (!us || !uuid_is_valid(us) || strpbrk(us, "ABCDEF")) {
            return api_fail(e, 400, "Bad Request, invalid uuid '%s' (canonical lower-case "
                            "form required)", us ? us : "");
        }
        snprintf(uuid, sizeof uuid, "%s", us);
        if (api_store_get(&srv->store, uuid)) {
            return api_fail(e, 409, "uuid %s already exists", uuid);
        }
    } else {
        uuid_generate(uuid);
    }
    struct api_obj *dup = api_store_get_fq_json(&srv->store, id, fq);
    if (dup) {
        char repr[1024];
        api_fq_repr(fq, repr, sizeof repr);
        return api_fail(e, 409, "%s already exists with uuid: %s", repr, dup->uuid);
    }

    status = check_quota(id, parent, e);
    if (status) {
        return status;
    }

    json_t *props = json_object();
    struct api_refset rs = { 0 };
    status = parse_body(srv, id, body, false, props, &rs, e);
    if (!status) {
        json_object_set_new(props, "id_perms",
                            default_id_perms(uuid, json_object_get(props, "id_perms")));
        json_object_set_new(props, "perms2",
                            default_perms2(json_object_get(props, "perms2")));
        if (!json_is_string(json_object_get(props, "display_name"))) {
            json_object_set_new(props, "display_name", json_string(name));
        }
        status = api_types_pre_create(srv, id, props, &rs, parent, uuid, e);
    }
    if (status) {
        json_decref(props);
        refset_destroy(&rs);
        return status;
    }
    struct api_obj *o = api_obj_create(t, id, uuid, fq, parent, props);
    for (size_t i = 0; i < rs.n; i++) {
        api_ref_add(t, o, rs.refs[i].to, rs.refs[i].link, rs.refs[i].attr);
        rs.refs[i].attr = NULL;
    }
    refset_destroy(&rs);
    api_types_post_create(srv, t, o);
    *objp = o;
    return 0;
}

int
api_obj_update_from_json(struct api_server *srv, struct api_txn *t, struct api_obj *o,
                         json_t *body, struct api_err *e)
{
    json_t *fq = json_object_get(body, "fq_name");
    if (fq && !json_equal(fq, o->fq_name)) {
        return api_fail(e, 400, "Bad Request, fq_name cannot be updated");
    }
    json_t *ju = json_object_get(body, "uuid");
    if (ju && (!json_is_string(ju) || strcasecmp(json_string_value(ju), o->uuid))) {
        return api_fail(e, 400, "Bad Request, uuid cannot be updated");
    }
    json_t *props = json_object();
    struct api_refset rs = { 0 };
    int status = parse_body(srv, o->ident, body, true, props, &rs, e);
    if (!status) {
        json_t *p2 = json_object_get(props, "perms2");
        if (p2 && !json_is_null(p2) && !json_is_string(json_object_get(p2, "owner"))) {
            status = api_fail(e, 400, "Bad Request, perms2 must contain owner");
        }
    }
    if (!status) {
        status = api_types_pre_update(srv, o, props, &rs, e);
    }
    if (status) {
        json_decref(props);
        refset_destroy(&rs);
        return status;
    }

    api_txn_mark(t, o);
    const char *key;
    json_t *v;
    json_object_foreach (props, key, v) {
        if (!strcmp(key, "id_perms")) {
            /* Only enable, description (and user_visible) are the user's. */
            json_t *cur = json_object_get(o->props, "id_perms");
            static const char *const keys[] = { "enable", "description", "user_visible" };
            for (size_t i = 0; i < 3 && json_is_object(v); i++) {
                json_t *x = json_object_get(v, keys[i]);
                if (x) {
                    json_object_set(cur, keys[i], x);
                }
            }
        } else if (!strcmp(key, "perms2")) {
            if (json_is_object(v)) {
                json_object_update_existing(api_props_mut(o->props, "perms2"), v);
            }
        } else if (json_is_null(v)) {
            json_object_del(o->props, key);
        } else {
            json_object_set(o->props, key, v);
        }
    }
    json_decref(props);
    struct api_ref *r;
    for (size_t i = 0; i < rs.n_replaced; i++) {
        LIST_FOR_EACH_SAFE (r, from_node, &o->refs) {
            if (r->link == rs.replaced[i]) {
                api_ref_remove(t, r);
            }
        }
    }
    for (size_t i = 0; i < rs.n; i++) {
        api_ref_add(t, o, rs.refs[i].to, rs.refs[i].link, rs.refs[i].attr);
        rs.refs[i].attr = NULL;
    }
    refset_destroy(&rs);
    char ts[32];
    api_timestamp(ts);
    json_object_set_new(json_object_get(o->props, "id_perms"), "last_modified",
                        json_string(ts));
    api_txn_mark(t, o);
    api_types_post_update(srv, t, o);
    return 0;
}

static bool
is_default_child(const struct api_obj *c)
{
    const char *name = json_string_value(json_array_get(c->fq_name,
                                                        json_array_size(c->fq_name) - 1));
    char want[128];
    snprintf(want, sizeof want, "default-%s", c->ident->name);
    return name && !strcmp(name, want);
}

static void
add_href(const struct api_server *srv, char *buf, size_t size, size_t *n,
         const struct api_obj *o)
{
    char h[512];
    href(h, sizeof h, srv->base_url, o);
    char item[600];
    snprintf(item, sizeof item, "'%s'", h);
    if (*n < size && !strstr(buf, item)) {
        *n += (size_t) snprintf(buf + *n, size - *n, "%s%s", *n > 1 ? ", " : "", item);
    }
}

/* Marks O and what goes with it (derived and default children) doomed, and checks that
 * nothing else holds on to them. */
static int
doom(const struct api_server *srv, struct api_obj *o, struct api_obj ***list, size_t *n,
     struct api_err *e)
{
    char hrefs[900] = "[";
    size_t hn = 1;
    struct api_obj *c;
    LIST_FOR_EACH (c, child_node, &o->children) {
        const struct schema_link *l = schema_ident_parent(c->ident, o->ident);
        if (!(l && l->derived) && !is_default_child(c)) {
            add_href(srv, hrefs, sizeof hrefs, &hn, c);
        }
    }
    if (hn > 1) {
        return api_fail(e, 409, "Delete when children still present: %s]", hrefs);
    }
    o->scratch = true;
    *list = mem_realloc(&mem_type_api, *list, (*n + 1) * sizeof **list);
    (*list)[(*n)++] = o;
    LIST_FOR_EACH (c, child_node, &o->children) {
        int status = doom(srv, c, list, n, e);
        if (status) {
            return status;
        }
    }
    return 0;
}

static int
check_back_refs(const struct api_server *srv, struct api_obj **list, size_t n,
                struct api_err *e)
{
    char hrefs[900] = "[";
    size_t hn = 1;
    for (size_t i = 0; i < n; i++) {
        struct api_ref *r;
        LIST_FOR_EACH (r, to_node, &list[i]->back_refs) {
            if (!r->from->scratch && !r->link->derived && !r->relaxed) {
                add_href(srv, hrefs, sizeof hrefs, &hn, r->from);
            }
        }
    }
    if (hn > 1) {
        return api_fail(e, 409, "Delete when resource still referred: %s]", hrefs);
    }
    return 0;
}

int
api_obj_delete_checked(struct api_server *srv, struct api_txn *t, struct api_obj *o,
                       struct api_err *e)
{
    int status = api_types_pre_delete(srv, o, e);
    if (status) {
        return status;
    }
    struct api_obj **list = NULL;
    size_t n = 0;
    status = doom(srv, o, &list, &n, e);
    if (!status) {
        status = check_back_refs(srv, list, n, e);
    }
    for (size_t i = 0; i < n; i++) {
        list[i]->scratch = false;
    }
    if (!status) {
        /* Children first, so that each object goes after what hangs below it. */
        for (size_t i = n; i-- > 0;) {
            api_types_post_delete(srv, t, list[i]);
            api_obj_delete(t, list[i]);
        }
    }
    mem_free(&mem_type_api, list);
    return status;
}

/* REST handlers. */

static json_t *
request_json(struct http_req *req, struct api_err *e)
{
    char err[512];
    json_t *j = http_req_json(req, err, sizeof err);
    if (!j) {
        api_fail(e, 400, "%s", err);
    }
    return j;
}

/* Unwraps {"<type>": {...}}. */
static json_t *
unwrap(json_t *j, const struct schema_ident *id, struct api_err *e)
{
    json_t *inner = json_object_get(j, id->name);
    if (!json_is_object(inner)) {
        api_fail(e, 400, "Bad Request, body must be {\"%s\": {...}}", id->name);
        return NULL;
    }
    return inner;
}

static void
handle_create(struct api_server *srv, struct http_req *req, const struct schema_ident *id)
{
    struct api_err e;
    if (!api_writable(srv, req)) {
        return;
    }
    json_t *j = request_json(req, &e);
    json_t *body = j ? unwrap(j, id, &e) : NULL;
    if (!body) {
        json_decref(j);
        api_reply_err(srv, req, &e);
        return;
    }
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    struct api_obj *o;
    if (api_obj_create_from_json(srv, &t, id, body, &o, &e)) {
        json_decref(j);
        api_txn_abort(&t);
        api_reply_err(srv, req, &e);
        return;
    }
    json_decref(j);
    srv->n_creates++;
    char base[300];
    http_req_base_url(req, base, sizeof base);
    json_t *r = json_object();
    render_ident(base, o, r, false);
    api_commit_and_reply(srv, &t, req, 200, xjson_pack("{so}", id->name, r));
}

static bool
query_true(struct http_req *req, const char *key)
{
    const char *v = http_req_query(req, key);
    return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !*v);
}

static json_t *
split_csv(const char *s)
{
    json_t *a = json_array();
    if (!s) {
        return a;
    }
    const char *p = s;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t) (c - p) : strlen(p);
        if (n) {
            json_array_append_new(a, json_stringn(p, n));
        }
        if (!c) {
            break;
        }
        p = c + 1;
    }
    return a;
}

static void
handle_read(struct api_server *srv, struct http_req *req, struct api_obj *o)
{
    srv->n_reads++;
    const char *etag_v = json_string_value(json_object_get(json_object_get(o->props,
                                                                           "id_perms"),
                                                           "last_modified"));
    char etag[64];
    snprintf(etag, sizeof etag, "\"%s\"", etag_v ? etag_v : "");
    const char *inm = http_req_header(req, "If-None-Match");
    http_reply_header(req, "ETag", etag);
    if (inm && (!strcmp(inm, etag) || (etag_v && !strcmp(inm, etag_v)))) {
        http_reply(req, 304, NULL, NULL, 0);
        return;
    }
    char base[300];
    http_req_base_url(req, base, sizeof base);
    const char *fs = http_req_query(req, "fields");
    json_t *fields = fs ? split_csv(fs) : NULL;
    struct out out = { 0 };
    OUT_LIT(&out, "{");
    out_str(&out, o->ident->name);
    OUT_LIT(&out, ":");
    out_obj(&out, base, o, fields, http_req_has_query(req, "exclude_back_refs"),
            http_req_has_query(req, "exclude_children"), http_req_has_query(req, "exclude_hrefs"));
    OUT_LIT(&out, "}");
    json_decref(fields);
    reply_out(req, 200, &out);
}

static void
handle_update(struct api_server *srv, struct http_req *req, struct api_obj *o)
{
    struct api_err e;
    if (!api_writable(srv, req)) {
        return;
    }
    json_t *j = request_json(req, &e);
    json_t *body = j ? unwrap(j, o->ident, &e) : NULL;
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    if (!body || api_obj_update_from_json(srv, &t, o, body, &e)) {
        json_decref(j);
        api_txn_abort(&t);
        api_reply_err(srv, req, &e);
        return;
    }
    json_decref(j);
    srv->n_updates++;
    char base[300], h[512];
    http_req_base_url(req, base, sizeof base);
    href(h, sizeof h, base, o);
    api_commit_and_reply(srv, &t, req, 200,
                         xjson_pack("{s{ssss}}", o->ident->name, "uuid", o->uuid, "href", h));
}

static void
handle_delete(struct api_server *srv, struct http_req *req, struct api_obj *o)
{
    struct api_err e;
    if (!api_writable(srv, req)) {
        return;
    }
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    if (api_obj_delete_checked(srv, &t, o, &e)) {
        api_txn_abort(&t);
        api_reply_err(srv, req, &e);
        return;
    }
    srv->n_deletes++;
    api_commit_and_reply(srv, &t, req, 200, NULL);
}

/* Collections. */

struct list_params {
    json_t *parent_ids;         /* Arrays of strings, or NULL. */
    json_t *back_ref_ids;
    json_t *obj_uuids;
    json_t *fq_names;           /* Array of fq strings. */
    const char *parent_fq_name_str;
    const char *parent_type;
    bool detail, count, exclude_hrefs, shared;
    json_t *fields;
    json_t *filters;            /* Object: key -> array of accepted values. */
    const char *page_marker;
    long page_limit;            /* 0: no paging. */
};

static void
list_params_destroy(struct list_params *p)
{
    json_decref(p->parent_ids);
    json_decref(p->back_ref_ids);
    json_decref(p->obj_uuids);
    json_decref(p->fq_names);
    json_decref(p->fields);
    json_decref(p->filters);
}

/* Parses "k==v,k2==v2" into P->filters.  Returns 0 or 400. */
static int
parse_filters(struct list_params *p, const char *s, struct api_err *e)
{
    p->filters = json_object();
    json_t *parts = split_csv(s);
    size_t i;
    json_t *part;
    json_array_foreach (parts, i, part) {
        const char *t = json_string_value(part);
        const char *eq = strstr(t, "==");
        if (!eq || eq == t) {
            api_fail(e, 400, "Bad Request, invalid filter '%s' (expected key==value)", t);
            json_decref(parts);
            return e->status;
        }
        char *key = mem_strndup(&mem_type_string, t, (size_t) (eq - t));
        const char *val = eq + 2;
        json_t *jv = json_loads(val, JSON_DECODE_ANY, NULL);
        if (!jv) {
            jv = json_string(val);
        }
        json_t *arr = json_object_get(p->filters, key);
        if (!arr) {
            arr = json_array();
            json_object_set_new(p->filters, key, arr);
        }
        json_array_append_new(arr, jv);
        xfree(key);
    }
    json_decref(parts);
    return 0;
}

static bool
matches_filters(const struct api_obj *o, json_t *filters)
{
    const char *key;
    json_t *vals;
    json_object_foreach (filters, key, vals) {
        json_t *v = json_object_get(o->props, key);
        if (!v) {
            return false;
        }
        bool ok = false;
        size_t i;
        json_t *want;
        json_array_foreach (vals, i, want) {
            if (json_equal(v, want)
                || (json_is_string(want) && json_is_string(v)
                    && !strcmp(json_string_value(v), json_string_value(want)))) {
                ok = true;
                break;
            }
        }
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool
in_list(json_t *list, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (list, i, v) {
        if (!strcmp(json_string_value(v), s)) {
            return true;
        }
    }
    return false;
}

static int
cmp_uuid(const void *a, const void *b)
{
    return strcmp((*(struct api_obj *const *) a)->uuid, (*(struct api_obj *const *) b)->uuid);
}

static void
collect(struct api_obj ***v, size_t *n, size_t *alloc, struct api_obj *o)
{
    if (*n == *alloc) {
        *alloc = *alloc ? 2 * *alloc : 64;
        *v = mem_realloc(&mem_type_api, *v, *alloc * sizeof **v);
    }
    (*v)[(*n)++] = o;
}

static bool
obj_matches(const struct api_obj *o, const struct list_params *p,
            const struct api_obj *fq_parent)
{
    if (p->obj_uuids && !in_list(p->obj_uuids, o->uuid)) {
        return false;
    }
    if (p->parent_ids && (!o->parent || !in_list(p->parent_ids, o->parent->uuid))) {
        return false;
    }
    if (p->parent_fq_name_str && o->parent != fq_parent) {
        return false;
    }
    if (p->fq_names && !in_list(p->fq_names, o->fq_str)) {
        return false;
    }
    if (p->back_ref_ids) {
        bool found = false;
        struct api_ref *r;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            if (in_list(p->back_ref_ids, r->to->uuid)) {
                found = true;
                break;
            }
        }
        if (!found) {
            return false;
        }
    }
    return !p->filters || matches_filters(o, p->filters);
}

static int
do_list(struct api_server *srv, const char *base, const struct schema_ident *id,
        struct list_params *p, struct out *out, struct api_err *e)
{
    struct api_obj **v = NULL;
    size_t n = 0, alloc = 0;
    struct api_obj *fq_parent = NULL;
    srv->n_lists++;

    if (p->parent_fq_name_str) {
        json_t *pfq = json_array();
        json_t *parts = json_array();
        const char *s = p->parent_fq_name_str;
        for (const char *c; (c = strchr(s, ':')); s = c + 1) {
            json_array_append_new(parts, json_stringn(s, (size_t) (c - s)));
        }
        json_array_append_new(parts, json_string(s));
        json_decref(pfq);
        for (size_t i = 0; i < id->n_parents && !fq_parent; i++) {
            if (!p->parent_type || !strcmp(p->parent_type, id->parents[i]->from->name)) {
                fq_parent = api_store_get_fq_json(&srv->store, id->parents[i]->from, parts);
            }
        }
        json_decref(parts);
        if (!fq_parent) {
            OUT_LIT(out, "{");
            out_str(out, id->plural);
            if (p->count) {
                OUT_LIT(out, ":{\"count\":0}}");
            } else {
                OUT_LIT(out, ":[]}");
            }
            return 0;
        }
    }

    /* Candidates from the most selective index, then every condition on each. */
    if (p->obj_uuids) {
        size_t i;
        json_t *u;
        json_array_foreach (p->obj_uuids, i, u) {
            struct api_obj *o = api_store_get(&srv->store, json_string_value(u));
            if (o && o->ident == id && obj_matches(o, p, fq_parent)) {
                collect(&v, &n, &alloc, o);
            }
        }
    } else if (p->parent_ids || fq_parent) {
        json_t *pids = p->parent_ids ? json_incref(p->parent_ids)
                                     : xjson_pack("[s]", fq_parent->uuid);
        size_t i;
        json_t *u;
        json_array_foreach (pids, i, u) {
            struct api_obj *par = api_store_get(&srv->store, json_string_value(u));
            struct api_obj *c;
            if (par) {
                LIST_FOR_EACH (c, child_node, &par->children) {
                    if (c->ident == id && obj_matches(c, p, fq_parent)) {
                        collect(&v, &n, &alloc, c);
                    }
                }
            }
        }
        json_decref(pids);
    } else if (p->back_ref_ids) {
        size_t i;
        json_t *u;
        json_array_foreach (p->back_ref_ids, i, u) {
            struct api_obj *to = api_store_get(&srv->store, json_string_value(u));
            struct api_ref *r;
            if (to) {
                LIST_FOR_EACH (r, to_node, &to->back_refs) {
                    if (r->from->ident == id && obj_matches(r->from, p, fq_parent)) {
                        bool seen = false;
                        for (size_t k = 0; k < n && !seen; k++) {
                            seen = v[k] == r->from;
                        }
                        if (!seen) {
                            collect(&v, &n, &alloc, r->from);
                        }
                    }
                }
            }
        }
    } else {
        struct api_obj *o;
        API_TYPE_FOR_EACH (o, api_store_type(&srv->store, id)) {
            if (obj_matches(o, p, fq_parent)) {
                collect(&v, &n, &alloc, o);
            }
        }
    }

    if (p->shared) {
        /* Also what is shared globally, wherever it lives (there is no tenant identity
         * without authentication, so only global shares apply). */
        for (size_t i = 0; i < n; i++) {
            v[i]->scratch = true;
        }
        struct api_obj *o;
        API_TYPE_FOR_EACH (o, api_store_type(&srv->store, id)) {
            json_t *p2 = json_object_get(o->props, "perms2");
            if (!o->scratch && json_integer_value(json_object_get(p2, "global_access")) > 0
                && (!p->fq_names || in_list(p->fq_names, o->fq_str))
                && (!p->filters || matches_filters(o, p->filters))) {
                collect(&v, &n, &alloc, o);
            }
        }
        for (size_t i = 0; i < n; i++) {
            v[i]->scratch = false;
        }
    }

    json_t *marker = NULL;
    size_t start = 0, end = n;
    if (p->page_limit > 0 || (p->page_marker && strcmp(p->page_marker, "None"))) {
        qsort(v, n, sizeof *v, cmp_uuid);
        if (p->page_marker && strcmp(p->page_marker, "None") && *p->page_marker) {
            while (start < n && strcmp(v[start]->uuid, p->page_marker) <= 0) {
                start++;
            }
        }
        if (p->page_limit > 0 && n - start > (size_t) p->page_limit) {
            end = start + (size_t) p->page_limit;
            marker = json_string(v[end - 1]->uuid);
        } else {
            marker = json_null();
        }
    }

    OUT_LIT(out, "{");
    out_str(out, id->plural);
    OUT_LIT(out, ":");
    if (p->count) {
        char buf[64];
        int len = snprintf(buf, sizeof buf, "{\"count\":%zu}", end - start);
        out_cb(buf, (size_t) len, out);
    } else {
        OUT_LIT(out, "[");
        for (size_t i = start; i < end; i++) {
            struct api_obj *o = v[i];
            if (i > start) {
                OUT_LIT(out, ",");
            }
            if (p->detail) {
                OUT_LIT(out, "{");
                out_str(out, id->name);
                OUT_LIT(out, ":");
                out_obj(out, base, o, p->fields, false, false, p->exclude_hrefs);
                OUT_LIT(out, "}");
            } else {
                bool first = true;
                OUT_LIT(out, "{");
                out_key(out, &first, "fq_name");
                out_json(out, o->fq_name);
                out_key(out, &first, "uuid");
                out_str(out, o->uuid);
                if (!p->exclude_hrefs) {
                    out_key(out, &first, "href");
                    out_href(out, base, o);
                }
                if (p->fields) {
                    out_fields(out, &first, base, o, p->fields, false, false, p->exclude_hrefs);
                }
                OUT_LIT(out, "}");
            }
        }
        OUT_LIT(out, "]");
    }
    if (marker) {
        OUT_LIT(out, ",\"marker\":");
        out_json(out, marker);
        json_decref(marker);
    }
    OUT_LIT(out, "}");
    mem_free(&mem_type_api, v);
    (void) e;
    return 0;
}

static int
list_params_from_query(struct http_req *req, struct list_params *p, struct api_err *e)
{
    memset(p, 0, sizeof *p);
    const char *s;
    if ((s = http_req_query(req, "parent_id"))) {
        p->parent_ids = split_csv(s);
    }
    if ((s = http_req_query(req, "back_ref_id"))) {
        p->back_ref_ids = split_csv(s);
    }
    if ((s = http_req_query(req, "obj_uuids"))) {
        p->obj_uuids = split_csv(s);
    }
    if ((s = http_req_query(req, "fq_names"))) {
        p->fq_names = split_csv(s);
    }
    if ((s = http_req_query(req, "fields"))) {
        p->fields = split_csv(s);
    }
    p->parent_fq_name_str = http_req_query(req, "parent_fq_name_str");
    p->parent_type = http_req_query(req, "parent_type");
    p->detail = query_true(req, "detail");
    p->count = query_true(req, "count");
    p->shared = query_true(req, "shared");
    p->exclude_hrefs = http_req_has_query(req, "exclude_hrefs");
    p->page_marker = http_req_query(req, "page_marker");
    if ((s = http_req_query(req, "page_limit"))) {
        char *end;
        p->page_limit = strtol(s, &end, 10);
        if (*end || end == s || p->page_limit < 1) {
            return api_fail(e, 400, "Bad Request, invalid page_limit '%s'", s);
        }
    }
    if ((s = http_req_query(req, "filters"))) {
        return parse_filters(p, s, e);
    }
    return 0;
}

static void
handle_list(struct api_server *srv, struct http_req *req, const struct schema_ident *id)
{
    struct list_params p;
    struct api_err e;
    struct out out = { 0 };
    char base[300];
    http_req_base_url(req, base, sizeof base);
    if (list_params_from_query(req, &p, &e) || do_list(srv, base, id, &p, &out, &e)) {
        list_params_destroy(&p);
        mem_free(&mem_type_api, out.p);
        api_reply_err(srv, req, &e);
        return;
    }
    list_params_destroy(&p);
    reply_out(req, 200, &out);
}

/* A body value given as a list or a comma-separated string. */
static json_t *
body_list(json_t *v)
{
    if (json_is_string(v)) {
        return split_csv(json_string_value(v));
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach (v, i, x) {
            if (!json_is_string(x)) {
                json_decref(a);
                return NULL;
            }
            json_array_append(a, x);
        }
        return a;
    }
    return NULL;
}

static bool
body_true(json_t *v)
{
    return json_is_true(v) || (json_is_string(v) && !strcasecmp(json_string_value(v), "true"));
}

static void
handle_list_bulk(struct api_server *srv, struct http_req *req)
{
    struct api_err e;
    json_t *j = request_json(req, &e);
    if (!j) {
        api_reply_err(srv, req, &e);
        return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    const struct schema_ident *id = type ? schema_ident(srv->schema, type) : NULL;
    if (!id && type) {
        id = schema_ident_by_type(srv->schema, type);
    }
    if (!id) {
        json_decref(j);
        http_reply_text(req, 400, "Bad Request, list-bulk-collection needs a valid 'type'");
        return;
    }
    struct list_params p = { 0 };
    static const char *const list_keys[] = { "parent_id", "back_ref_id", "obj_uuids",
                                              "fq_names", "fields" };
    json_t **dest[] = { &p.parent_ids, &p.back_ref_ids, &p.obj_uuids, &p.fq_names,
                        &p.fields };
    struct api_err e2 = { 0 };
    for (size_t k = 0; k < 5 && !e2.status; k++) {
        json_t *v = json_object_get(j, list_keys[k]);
        if (v && !json_is_null(v)) {
            *dest[k] = body_list(v);
            if (!*dest[k]) {
                api_fail(&e2, 400, "Bad Request, %s must be a list of strings or a "
                         "comma-separated string", list_keys[k]);
            }
        }
    }
    p.detail = body_true(json_object_get(j, "detail"));
    p.count = body_true(json_object_get(j, "count"));
    p.shared = body_true(json_object_get(j, "shared"));
    p.exclude_hrefs = body_true(json_object_get(j, "exclude_hrefs"));
    json_t *pm = json_object_get(j, "page_marker");
    p.page_marker = json_string_value(pm);
    json_t *pl = json_object_get(j, "page_limit");
    if (pl && !json_is_null(pl)) {
        char *end = NULL;
        p.page_limit = json_is_integer(pl) ? (long) json_integer_value(pl)
                       : json_is_string(pl) ? strtol(json_string_value(pl), &end, 10) : 0;
        if (p.page_limit < 1 || (end && *end)) {
            api_fail(&e2, 400, "Bad Request, page_limit must be a positive integer");
        }
    }
    if (pm && !json_is_null(pm) && !json_is_string(pm)) {
        api_fail(&e2, 400, "Bad Request, page_marker must be a string");
    }
    json_t *fj = json_object_get(j, "filters");
    if (fj && !json_is_null(fj) && !json_is_string(fj)) {
        api_fail(&e2, 400, "Bad Request, filters must be a string 'key==value,...'");
    }
    if (e2.status) {
        list_params_destroy(&p);
        json_decref(j);
        api_reply_err(srv, req, &e2);
        return;
    }
    const char *filters = json_string_value(json_object_get(j, "filters"));
    int status = filters ? parse_filters(&p, filters, &e) : 0;
    struct out out = { 0 };
    char base[300];
    http_req_base_url(req, base, sizeof base);
    if (!status) {
        status = do_list(srv, base, id, &p, &out, &e);
    }
    list_params_destroy(&p);
    json_decref(j);
    if (status) {
        mem_free(&mem_type_api, out.p);
        api_reply_err(srv, req, &e);
    } else {
        reply_out(req, 200, &out);
    }
}

static void
handle_root(struct api_server *srv, struct http_req *req)
{
    char base[300];
    http_req_base_url(req, base, sizeof base);
    json_t *links = json_array();
#define LINK(REL, PATH, NAME, METHOD)                                                       \
    do {                                                                                    \
        char h_[1024];                                                                       \
        snprintf(h_, sizeof h_, "%s%s", base, PATH);                                        \
        json_t *l_ = xjson_pack("{ssssss}", "rel", REL, "href", h_, "name", NAME);           \
        json_object_set_new(l_, "method", METHOD ? json_string(METHOD) : json_null());      \
        json_array_append_new(links, xjson_pack("{so}", "link", l_));                        \
    } while (0)
    LINK("documentation", "/documentation/index.html", "documentation", "GET");
    LINK("root", "/config-root", "config-root", (const char *) NULL);
    for (size_t i = 0; i < srv->schema->n_idents; i++) {
        const struct schema_ident *id = srv->schema->ident_list[i];
        char path[256];
        snprintf(path, sizeof path, "/%s", id->plural);
        LINK("collection", path, id->name, (const char *) NULL);
        snprintf(path, sizeof path, "/%s", id->name);
        LINK("resource-base", path, id->name, (const char *) NULL);
    }
    static const struct { const char *path, *name, *method; } actions[] = {
        { "/fqname-to-id", "name-to-id", "POST" },
        { "/id-to-fqname", "id-to-name", "POST" },
        { "/useragent-kv", "useragent-keyvalue", "POST" },
        { "/db-check", "database-check", "POST" },
        { "/fetch-records", "fetch-records", "POST" },
        { "/start-profile", "start-profile", "POST" },
        { "/stop-profile", "stop-profile", "POST" },
        { "/list-bulk-collection", "list-bulk-collection", "POST" },
        { "/obj-perms", "obj-perms", "GET" },
        { "/chown", "chown", "POST" },
        { "/chmod", "chmod", "POST" },
        { "/aaa-mode", "aaa-mode", "PUT" },
        { "/ref-update", "ref-update", "POST" },
        { "/ref-relax-for-delete", "ref-relax-for-delete", "POST" },
        { "/prop-collection-get", "prop-collection-get", "GET" },
        { "/prop-collection-update", "prop-collection-update", "POST" },
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        LINK("action", actions[i].path, actions[i].name, actions[i].method);
    }
#undef LINK
    http_reply_json(req, 200, xjson_pack("{ssso}", "href", base, "links", links));
}

/* Shared stores: the gate.  A request waits for a barrier issued after it arrived (so it
 * sees every write acknowledged by any API server before it), then runs when no
 * transaction is in flight (so it never sees one that may yet be undone). */

struct gate_req {
    struct list node;
    struct http_req *req;
    int tries;
};

static void api_dispatch(struct api_server *, struct http_req *);
static void gate_pump(void *aux);

static void
gate_barrier_done(void *aux, int error, uint64_t rev)
{
    struct api_server *srv = aux;
    srv->barrier_busy = false;
    struct gate_req *g;
    if (error) {
        LIST_FOR_EACH_SAFE (g, node, &srv->gate_barrier) {
            list_remove(&g->node);
            srv->n_errors++;
            http_reply_text(g->req, 503, "Config database unavailable: %s", strerror(error));
            mem_free(&mem_type_api, g);
        }
    } else {
        api_store_flush(&srv->store);
        list_splice_back(&srv->gate_ready, &srv->gate_barrier);
    }
    gate_pump(srv);
}

/* Requests that change nothing (the others may join a group commit). */
static bool
gate_is_read(const struct http_req *req)
{
    static const char *const read_posts[] = {
        "/fqname-to-id", "/id-to-fqname", "/list-bulk-collection", "/prop-collection-get",
    };
    if (req->method == EVHTTP_REQ_GET || req->method == EVHTTP_REQ_HEAD) {
        return true;
    }
    for (size_t i = 0; i < sizeof read_posts / sizeof read_posts[0]; i++) {
        if (!strcmp(req->path, read_posts[i])) {
            return true;
        }
    }
    return false;
}

static void
gate_pump(void *aux)
{
    struct api_server *srv = aux;
    if (srv->ifmap && !srv->store.in_flight) {
        api_ifmap_idle(srv->ifmap);
    }
    if (!srv->barrier_busy && !list_is_empty(&srv->gate_wait)) {
        list_splice_back(&srv->gate_barrier, &srv->gate_wait);
        srv->barrier_busy = true;
        cfgdb_barrier(srv->store.db, gate_barrier_done, srv);
    }
    /* The writes ready to run go to the store as one transaction (group commit); a read
     * waits until the writes before it are committed, so that it never sees a change that
     * may yet be undone. */
    while (!srv->store.in_flight && !list_is_empty(&srv->gate_ready)) {
        api_store_group_begin(&srv->store);
        for (size_t n = 0; n < API_GROUP_MAX && !list_is_empty(&srv->gate_ready); n++) {
            struct gate_req *g = CONTAINER_OF(srv->gate_ready.next, struct gate_req, node);
            if (api_store_group_pending(&srv->store) && gate_is_read(g->req)) {
                break;
            }
            list_remove(&g->node);
            struct http_req *req = g->req;
            srv->cur_tries = g->tries;
            mem_free(&mem_type_api, g);
            api_dispatch(srv, req);
            srv->cur_tries = 0;
        }
        api_store_group_end(&srv->store);
    }
}

static void
gate_enqueue(struct api_server *srv, struct http_req *req, int tries)
{
    struct gate_req *g = mem_zalloc(&mem_type_api, sizeof *g);
    g->req = req;
    g->tries = tries;
    list_push_back(&srv->gate_wait, &g->node);
    gate_pump(srv);
}

struct gate_retry {
    struct list node;           /* In srv->gate_retrying. */
    struct api_server *srv;
    struct http_req *req;
    int tries;
    struct event *ev;
};

static void
gate_retry_cb(evutil_socket_t fd, short what, void *aux)
{
    struct gate_retry *r = aux;
    list_remove(&r->node);
    gate_enqueue(r->srv, r->req, r->tries);
    event_free(r->ev);
    mem_free(&mem_type_api, r);
}

static void
gate_retry_later(struct api_server *srv, struct http_req *req, int tries)
{
    struct gate_retry *r = mem_zalloc(&mem_type_api, sizeof *r);
    list_push_back(&srv->gate_retrying, &r->node);
    r->srv = srv;
    r->req = req;
    r->tries = tries;
    r->ev = event_new(srv->base, -1, 0, gate_retry_cb, r);
    struct timeval tv = { 0, (suseconds_t) (random() % (1000 * tries)) };
    event_add(r->ev, &tv);
}

static void
api_handle(struct http_req *req, void *aux)
{
    struct api_server *srv = aux;
    srv->n_requests++;
    if (srv->store.shared) {
        gate_enqueue(srv, req, 0);
    } else {
        api_dispatch(srv, req);
    }
}

static void
api_dispatch(struct api_server *srv, struct http_req *req)
{
    http_req_base_url(req, srv->base_url, sizeof srv->base_url);
    const char *path = req->path;
    enum evhttp_cmd_type m = req->method;

    if (!strcmp(path, "/") || !*path) {
        handle_root(srv, req);
        return;
    }
    if (!strcmp(path, "/list-bulk-collection") && m == EVHTTP_REQ_POST) {
        handle_list_bulk(srv, req);
        return;
    }
    if (api_actions_handle(srv, req)) {
        return;
    }

    /* /<seg1>[/<seg2>] */
    char seg1[128], seg2[128];
    const char *p = path + 1;
    const char *slash = strchr(p, '/');
    size_t n1 = slash ? (size_t) (slash - p) : strlen(p);
    if (n1 >= sizeof seg1 || (slash && strlen(slash + 1) >= sizeof seg2)) {
        http_reply_text(req, 404, "Not Found: %s", path);
        return;
    }
    memcpy(seg1, p, n1);
    seg1[n1] = '\0';
    snprintf(seg2, sizeof seg2, "%s", slash ? slash + 1 : "");
    size_t n2 = strlen(seg2);
    if (n2 && seg2[n2 - 1] == '/') {
        seg2[--n2] = '\0';
    }

    if (!slash || !n2) {
        const struct schema_ident *id = schema_ident_by_plural(srv->schema, seg1);
        if (!id) {
            http_reply_text(req, 404, "Not Found: %s", path);
        } else if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) {
            handle_list(srv, req, id);
        } else if (m == EVHTTP_REQ_POST) {
            handle_create(srv, req, id);
        } else {
            http_reply_text(req, 405, "Method Not Allowed");
        }
        return;
    }
    const struct schema_ident *id = schema_ident(srv->schema, seg1);
    if (!id || strchr(seg2, '/')) {
        http_reply_text(req, 404, "Not Found: %s", path);
        return;
    }
    struct api_obj *o = api_store_get(&srv->store, seg2);
    if (!o || o->ident != id) {
        http_reply_text(req, 404, "%s %s not found", id->name, seg2);
        return;
    }
    if (m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD) {
        handle_read(srv, req, o);
    } else if (m == EVHTTP_REQ_PUT) {
        handle_update(srv, req, o);
    } else if (m == EVHTTP_REQ_DELETE) {
        handle_delete(srv, req, o);
    } else {
        http_reply_text(req, 405, "Method Not Allowed");
    }
}

/* Introspect pages. */

static json_t *
page_summary(struct http_req *req, void *aux)
{
    struct api_server *srv = aux;
    json_t *types = json_object();
    for (size_t i = 0; i < srv->schema->n_idents; i++) {
        if (srv->store.types[i].count) {
            json_object_set_new(types, srv->schema->ident_list[i]->name,
                                json_integer((json_int_t) srv->store.types[i].count));
        }
    }
    json_t *st = xjson_pack("{sIsIsIsIsIsIsIsIsIsIsIsbso}",
                     "objects", (json_int_t) srv->store.n_objs,
                     "requests", (json_int_t) srv->n_requests,
                     "creates", (json_int_t) srv->n_creates,
                     "updates", (json_int_t) srv->n_updates,
                     "deletes", (json_int_t) srv->n_deletes,
                     "reads", (json_int_t) srv->n_reads,
                     "lists", (json_int_t) srv->n_lists,
                     "errors", (json_int_t) srv->n_errors,
                     "pending_writes", (json_int_t) srv->pending,
                     "db_batches", (json_int_t) srv->store.db->n_batches,
                     "db_commits", (json_int_t) srv->store.db->n_commits,
                     "db_failed", srv->store.failed,
                     "objects_by_type", types);
    json_object_set_new(st, "config_db", cfgdb_status(srv->store.db));
    if (srv->store.shared) {
        json_object_set_new(st, "shared_store",
                            xjson_pack("{sIsIsIsIsbsIsI}", "view_revision",
                                       (json_int_t) srv->store.view_rev, "conflicts",
                                       (json_int_t) srv->store.n_conflicts, "retries",
                                       (json_int_t) srv->n_retries, "remote_changes",
                                       (json_int_t) srv->store.n_remote_changes, "in_flight",
                                       srv->store.in_flight, "commits",
                                       (json_int_t) srv->store.n_groups,
                                       "writes_committed",
                                       (json_int_t) srv->store.n_grouped));
    }
    json_object_set_new(st, "notify", srv->notify ? api_notify_status(srv->notify)
                                                  : json_null());
    json_object_set_new(st, "ifmap", srv->ifmap ? api_ifmap_status(srv->ifmap) : json_null());
    return st;
}

void
api_server_register_introspect(struct api_server *srv, struct introspect *is)
{
    introspect_add_page(is, "/api", "API server state and counters", page_summary, srv);
    introspect_add_counter(is, "api_requests_total", "REST requests", &srv->n_requests);
    introspect_add_counter(is, "api_creates_total", "Objects created", &srv->n_creates);
    introspect_add_counter(is, "api_updates_total", "Objects updated", &srv->n_updates);
    introspect_add_counter(is, "api_deletes_total", "Objects deleted", &srv->n_deletes);
    introspect_add_counter(is, "api_errors_total", "Requests answered with an error",
                           &srv->n_errors);
    introspect_add_counter(is, "api_db_batches_total", "Config DB batches",
                           &srv->store.db->n_batches);
    introspect_add_counter(is, "api_db_commits_total", "Config DB durable commits",
                           &srv->store.db->n_commits);
    introspect_add_gauge(is, "api_objects", "Objects in the config store",
                         &srv->store.n_objs_gauge);
}

static void
server_committed(struct api_store *s, json_t *msgs, void *aux)
{
    struct api_server *srv = aux;
    if (srv->notify) {
        api_notify_committed(srv->notify, msgs);
    }
}

/* A change by another API server reaches this server's IF-MAP server through RabbitMQ;
 * applying it from the store's watch too closes the gap of a message its server died
 * before sending (the publisher renders each object once either way). */
static void
server_remote(struct api_store *s, const char *uuid, void *aux)
{
    struct api_server *srv = aux;
    if (srv->ifmap) {
        api_ifmap_changed(srv->ifmap, uuid);
    }
}

int
api_server_open(struct api_server *srv, struct event_base *base, const struct schema *schema,
                struct cfgdb *db, const char *addr, int port, char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    srv->base = base;
    srv->schema = schema;
    srv->max_pending = DEFAULT_MAX_PENDING;
    srv->useragent = json_object();
    idalloc_init(&srv->vn_ids, 1, 1u << 24);
    idalloc_init(&srv->sg_ids, 8000001, (1u << 24) - 1);
    list_init(&srv->gate_wait);
    list_init(&srv->gate_barrier);
    list_init(&srv->gate_ready);
    list_init(&srv->gate_retrying);
    struct api_store_hooks hooks = { api_types_loaded, api_types_unloaded, api_types_freed,
                                     api_init_other_row, server_committed, server_remote,
                                     srv };
    int error = api_store_open(&srv->store, schema, db, &hooks, err, errlen);
    if (error) {
        return error;
    }
    srv->store.idle_cb = gate_pump;
    srv->store.idle_aux = srv;
    if (srv->store.shared) {
        api_store_set_claims(&srv->store, api_types_claims);
        error = api_store_watch(&srv->store);
        if (error) {
            snprintf(err, errlen, "cannot watch the config database: %s", strerror(error));
            return error;
        }
    }
    error = api_init_defaults(srv, err, errlen);
    if (error) {
        return error;
    }
    error = http_server_create(base, addr, port, 1024000, api_handle, srv, &srv->http);
    if (error) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr, port, strerror(error));
        return error;
    }
    LOG_NOTICE("contrail-api listening on %s:%d", addr, http_server_port(srv->http));
    return 0;
}

int
api_server_port(const struct api_server *srv)
{
    return http_server_port(srv->http);
}

void
api_server_close(struct api_server *srv)
{
    /* Requests still waiting in the gate (the process is stopping). */
    struct gate_req *g;
    struct list *lists[] = { &srv->gate_wait, &srv->gate_barrier, &srv->gate_ready };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        if (lists[i]->next) {
            LIST_FOR_EACH_SAFE (g, node, lists[i]) {
                list_remove(&g->node);
                mem_free(&mem_type_api, g);
            }
        }
    }
    struct gate_retry *r;
    if (srv->gate_retrying.next) {
        LIST_FOR_EACH_SAFE (r, node, &srv->gate_retrying) {
            list_remove(&r->node);
            event_free(r->ev);
            mem_free(&mem_type_api, r);
        }
    }
    http_server_destroy(srv->http);
    api_store_close(&srv->store);
    idalloc_destroy(&srv->vn_ids);
    idalloc_destroy(&srv->sg_ids);
    json_decref(srv->useragent);
}
