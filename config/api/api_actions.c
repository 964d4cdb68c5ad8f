/* api_actions: the action URLs of the VNC API (config-plane reference §1.6): name/id
 * translation, reference and property-collection updates, user-agent key/values, ownership
 * and permissions, and address reservation on a virtual network. */
#include "api_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_ipam.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(api_actions);

static const struct schema_ident *
type_of(struct api_server *srv, const char *name)
{
    if (!name) {
        return NULL;
    }
    const struct schema_ident *id = schema_ident(srv->schema, name);
    return id ? id : schema_ident_by_type(srv->schema, name);
}

static json_t *
body_or_reply(struct api_server *srv, struct http_req *req)
{
    char err[512];
    json_t *j = http_req_json(req, err, sizeof err);
    if (!j) {
        srv->n_errors++;
        http_reply_text(req, 400, "%s", err);
    }
    return j;
}

static struct api_obj *
obj_or_reply(struct api_server *srv, struct http_req *req, const char *uuid)
{
    struct api_obj *o = uuid ? api_store_get(&srv->store, uuid) : NULL;
    if (!o) {
        srv->n_errors++;
        if (!uuid) {
            http_reply_text(req, 400, "Bad Request, uuid is required");
        } else {
            http_reply_text(req, 404, "No object found for uuid %s", uuid);
        }
    }
    return o;
}

static void
fqname_to_id(struct api_server *srv, struct http_req *req)
{
    json_t *j = body_or_reply(srv, req);
    if (!j) {
        return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    const struct schema_ident *id = type_of(srv, type);
    json_t *fq = json_object_get(j, "fq_name");
    char *fq_str = api_fq_join(fq);
    if (!id || !fq_str) {
        http_reply_text(req, 400, "Bad Request, fqname-to-id needs a valid 'type' and "
                        "'fq_name'");
    } else {
        struct api_obj *o = api_store_get_fq(&srv->store, id, fq_str);
        if (o) {
            http_reply_json(req, 200, xjson_pack("{ss}", "uuid", o->uuid));
        } else {
            char repr[1024];
            api_fq_repr(fq, repr, sizeof repr);
            http_reply_text(req, 404, "Name %s not found", repr);
        }
    }
    xfree(fq_str);
    json_decref(j);
}

/* The object a write action names by "uuid" in its body.  When the body is bad, writes are
 * refused or the object is unknown, replies and returns NULL; otherwise *JP owns the body. */
static struct api_obj *
write_target(struct api_server *srv, struct http_req *req, json_t **jp)
{
    json_t *j = body_or_reply(srv, req);
    if (!j || !api_writable(srv, req)) {
        json_decref(j);
        return NULL;
    }
    struct api_obj *o = obj_or_reply(srv, req, json_string_value(json_object_get(j, "uuid")));
    if (!o) {
        json_decref(j);
        return NULL;
    }
    *jp = j;
    return o;
}

static void
id_to_fqname(struct api_server *srv, struct http_req *req)
{
    json_t *j = body_or_reply(srv, req);
    if (!j) {
        return;
    }
    const char *uuid = json_string_value(json_object_get(j, "uuid"));
    struct api_obj *o = obj_or_reply(srv, req, uuid);
    if (o) {
        http_reply_json(req, 200, xjson_pack("{sOss}", "fq_name", o->fq_name, "type",
                                            o->ident->name));
    }
    json_decref(j);
}

static void
ref_update(struct api_server *srv, struct http_req *req)
{
    json_t *j = body_or_reply(srv, req);
    if (!j || !api_writable(srv, req)) {
        json_decref(j);
        return;
    }
    struct api_err e = { 0 };
    const char *uuid = json_string_value(json_object_get(j, "uuid"));
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *ref_type = json_string_value(json_object_get(j, "ref-type"));
    const char *op = json_string_value(json_object_get(j, "operation"));
    const struct schema_ident *id = type_of(srv, type);
    const struct schema_ident *rid = type_of(srv, ref_type);
    struct api_obj *o = uuid ? api_store_get(&srv->store, uuid) : NULL;
    const struct schema_link *link = id && rid ? schema_ident_ref_to(id, rid) : NULL;
    struct api_obj *to = NULL;
    if (!id || !rid || !uuid || !op || (strcasecmp(op, "ADD") && strcasecmp(op, "DELETE"))) {
        api_fail(&e, 400, "Bad Request, ref-update needs type, uuid, ref-type, ref-uuid or "
                 "ref-fq-name, and operation ADD or DELETE");
    } else if (!o || o->ident != id) {
        api_fail(&e, 404, "%s %s not found", id->name, uuid);
    } else if (!link) {
        api_fail(&e, 400, "Bad Request, %s has no reference to %s", id->name, rid->name);
    } else {
        json_t *item = json_object();
        json_t *ru = json_object_get(j, "ref-uuid");
        json_t *rfq = json_object_get(j, "ref-fq-name");
        if (json_is_string(ru)) {
            json_object_set(item, "uuid", ru);
        } else if (rfq) {
            json_object_set(item, "to", rfq);
        }
        api_resolve_ref(srv, rid, item, &to, &e);
        json_decref(item);
    }
    if (!e.status) {
        /* Rewrite the whole ref list through the update pipeline, so that the type rules
         * (subnets of a network-ipam reference, say) apply as to a PUT. */
        bool add = !strcasecmp(op, "ADD");
        json_t *list = json_array();
        struct api_ref *r;
        bool replaced = false;
        LIST_FOR_EACH (r, from_node, &o->refs) {
            if (r->link != link) {
                continue;
            }
            if (r->to == to) {
                replaced = true;
                if (!add) {
                    continue;
                }
                json_t *attr = json_object_get(j, "attr");
                json_array_append_new(list, xjson_pack("{sssO}", "uuid", to->uuid, "attr",
                                                      attr ? attr : json_null()));
            } else {
                json_array_append_new(list, xjson_pack("{sssO}", "uuid", r->to->uuid, "attr",
                                                      r->attr ? r->attr : json_null()));
            }
        }
        if (add && !replaced) {
            json_t *attr = json_object_get(j, "attr");
            json_array_append_new(list, xjson_pack("{sssO}", "uuid", to->uuid, "attr",
                                                  attr ? attr : json_null()));
        }
        json_t *body = xjson_pack("{so}", rid->refs_field, list);
        struct api_txn t;
        api_txn_init(&t, &srv->store);
        if (api_obj_update_from_json(srv, &t, o, body, &e)) {
            api_txn_abort(&t);
        } else {
            struct api_ref *nr = api_ref_find(o, to);
            if (nr && json_is_true(json_object_get(j, "relax_ref_for_delete"))) {
                nr->relaxed = true;
            }
            srv->n_updates++;
            api_commit_and_reply(srv, &t, req, 200, xjson_pack("{ss}", "uuid", o->uuid));
        }
        json_decref(body);
    }
    if (e.status) {
        api_reply_err(srv, req, &e);
    }
    json_decref(j);
}

static void
ref_relax(struct api_server *srv, struct http_req *req)
{
    json_t *j = body_or_reply(srv, req);
    if (!j || !api_writable(srv, req)) {
        json_decref(j);
        return;
    }
    struct api_obj *o = obj_or_reply(srv, req, json_string_value(json_object_get(j, "uuid")));
    if (o) {
        const char *ru = json_string_value(json_object_get(j, "ref-uuid"));
        struct api_obj *to = ru ? api_store_get(&srv->store, ru) : NULL;
        struct api_ref *r = to ? api_ref_find(o, to) : NULL;
        if (!ru) {
            http_reply_text(req, 400, "Bad Request, ref-uuid is required");
        } else if (!r) {
            http_reply_text(req, 404, "No reference from %s to %s", o->uuid, ru ? ru : "?");
        } else {
            struct api_txn t;
            api_txn_init(&t, &srv->store);
            api_txn_mark(&t, o);
            r->relaxed = true;
            api_commit_and_reply(srv, &t, req, 200, xjson_pack("{ss}", "uuid", o->uuid));
        }
    }
    json_decref(j);
}

/* The list inside a list/map property's wrapper, creating it if asked. */
static json_t *
collection_list(struct api_obj *o, const struct schema_prop *p, bool create)
{
    json_t *w = json_object_get(o->props, p->name);
    if (!json_is_object(w)) {
        if (!create) {
            return NULL;
        }
        w = json_object();
        json_object_set_new(o->props, p->name, w);
    }
    json_t *l = json_object_get(w, p->list_field);
    if (!json_is_array(l)) {
        if (!create) {
            return NULL;
        }
        l = json_array();
        json_object_set_new(w, p->list_field, l);
    }
    return l;
}

static void
prop_collection_get(struct api_server *srv, struct http_req *req)
{
    struct api_obj *o = obj_or_reply(srv, req, http_req_query(req, "uuid"));
    if (!o) {
        return;
    }
    const char *fields = http_req_query(req, "fields");
    const char *position = http_req_query(req, "position");
    if (!fields) {
        http_reply_text(req, 400, "Bad Request, fields is required");
        return;
    }
    json_t *out = json_object();
    char *copy = xstrdup(fields), *save = NULL;
    for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        const struct schema_prop *p = schema_ident_prop(o->ident, f);
        if (!p || p->collection == SCHEMA_SCALAR) {
            http_reply_text(req, 400, "Bad Request, %s is not a list or map property of %s", f,
                            o->ident->name);
            json_decref(out);
            xfree(copy);
            return;
        }
        json_t *res = json_array();
        json_t *l = collection_list(o, p, false);
        size_t i;
        json_t *v;
        json_array_foreach (l, i, v) {
            char pos[64];
            if (p->collection == SCHEMA_MAP) {
                json_t *k = json_object_get(v, p->key);
                snprintf(pos, sizeof pos, "%s", json_is_string(k) ? json_string_value(k) : "");
            } else {
                snprintf(pos, sizeof pos, "%zu", i);
            }
            if (!position || !strcmp(position, pos)) {
                json_array_append_new(res, xjson_pack("[Os]", v, pos));
            }
        }
        json_object_set_new(out, f, res);
    }
    xfree(copy);
    http_reply_json(req, 200, out);
}

static int
apply_collection_update(struct api_obj *o, json_t *u, struct api_err *e)
{
    const char *field = json_string_value(json_object_get(u, "field"));
    const char *op = json_string_value(json_object_get(u, "operation"));
    const struct schema_prop *p = field ? schema_ident_prop(o->ident, field) : NULL;
    if (!p || p->collection == SCHEMA_SCALAR) {
        return api_fail(e, 400, "Bad Request, %s is not a list or map property of %s",
                        field ? field : "(none)", o->ident->name);
    }
    if (!op) {
        return api_fail(e, 400, "Bad Request, operation is required");
    }
    json_t *value = json_object_get(u, "value");
    json_t *pos = json_object_get(u, "position");
    const char *pos_s = json_is_string(pos) ? json_string_value(pos) : NULL;
    char pos_buf[32];
    if (json_is_integer(pos)) {
        snprintf(pos_buf, sizeof pos_buf, "%lld", (long long) json_integer_value(pos));
        pos_s = pos_buf;
    }
    const struct schema_field *elem = NULL;
    for (size_t i = 0; i < p->type->n_fields; i++) {
        if (!strcmp(p->type->fields[i].name, p->list_field)) {
            elem = &p->type->fields[i];
        }
    }
    bool needs_value = !strcmp(op, "add") || !strcmp(op, "modify") || !strcmp(op, "set");
    if (needs_value) {
        char err[768];
        if (!value || (elem && !schema_validate(elem->type, false, value, field, err,
                                                sizeof err))) {
            return api_fail(e, 400, "Bad Request, invalid value for %s: %s", field,
                            value ? err : "missing");
        }
    }
    json_t *l = collection_list(o, p, true);
    if (p->collection == SCHEMA_LIST) {
        long idx = -1;
        if (pos_s) {
            char *end;
            idx = strtol(pos_s, &end, 10);
            if (*end || idx < 0) {
                return api_fail(e, 400, "Bad Request, invalid position '%s'", pos_s);
            }
        }
        if (!strcmp(op, "add")) {
            if (idx >= 0 && (size_t) idx <= json_array_size(l)) {
                json_array_insert(l, (size_t) idx, value);
            } else {
                json_array_append(l, value);
            }
        } else if (!strcmp(op, "modify") || !strcmp(op, "delete")) {
            if (idx < 0 || (size_t) idx >= json_array_size(l)) {
                return api_fail(e, 404, "No element at position %s of %s",
                                pos_s ? pos_s : "(none)", field);
            }
            if (!strcmp(op, "modify")) {
                json_array_set(l, (size_t) idx, value);
            } else {
                json_array_remove(l, (size_t) idx);
            }
        } else {
            return api_fail(e, 400, "Bad Request, operation %s is not add, modify or delete",
                            op);
        }
    } else {
        const char *key = NULL;
        if (!strcmp(op, "set")) {
            key = json_string_value(json_object_get(value, p->key));
            if (!key) {
                return api_fail(e, 400, "Bad Request, map value needs its key '%s'", p->key);
            }
        } else if (!strcmp(op, "delete")) {
            key = pos_s;
            if (!key) {
                return api_fail(e, 400, "Bad Request, delete needs a position (the key)");
            }
        } else {
            return api_fail(e, 400, "Bad Request, operation %s is not set or delete", op);
        }
        size_t i;
        json_t *v;
        bool found = false;
        json_array_foreach (l, i, v) {
            const char *k = json_string_value(json_object_get(v, p->key));
            if (k && !strcmp(k, key)) {
                found = true;
                break;
            }
        }
        if (!strcmp(op, "set")) {
            if (found) {
                json_array_set(l, i, value);
            } else {
                json_array_append(l, value);
            }
        } else if (found) {
            json_array_remove(l, i);
        } else {
            return api_fail(e, 404, "No key %s in %s", key, field);
        }
    }
    return 0;
}

static void
prop_collection_update(struct api_server *srv, struct http_req *req)
{
    json_t *j;
    struct api_obj *o = write_target(srv, req, &j);
    if (!o) {
        return;
    }
    json_t *updates = json_object_get(j, "updates");
    struct api_err e = { 0 };
    if (!json_is_array(updates)) {
        api_fail(&e, 400, "Bad Request, updates must be a list");
    }
    /* All or nothing: work on a copy of the properties. */
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    api_txn_mark(&t, o);
    json_t *saved = json_deep_copy(o->props);
    size_t i;
    json_t *u;
    json_array_foreach (updates, i, u) {
        if (e.status || apply_collection_update(o, u, &e)) {
            break;
        }
    }
    if (e.status) {
        json_decref(o->props);
        o->props = saved;
        api_txn_abort(&t);
        api_reply_err(srv, req, &e);
    } else {
        json_decref(saved);
        char ts[32];
        api_timestamp(ts);
        json_object_set_new(json_object_get(o->props, "id_perms"), "last_modified",
                            json_string(ts));
        srv->n_updates++;
        api_commit_and_reply(srv, &t, req, 200, json_object());
    }
    json_decref(j);
}

static void
useragent_kv(struct api_server *srv, struct http_req *req)
{
    json_t *j = body_or_reply(srv, req);
    if (!j) {
        return;
    }
    const char *op = json_string_value(json_object_get(j, "operation"));
    const char *key = json_string_value(json_object_get(j, "key"));
    char rowkey[1100];
    if (!op || !key || strlen(key) > 1024) {
        http_reply_text(req, 400, "Bad Request, useragent-kv needs operation and key");
    } else if (!strcmp(op, "RETRIEVE")) {
        json_t *v = json_object_get(srv->useragent, key);
        if (v) {
            http_reply_json(req, 200, xjson_pack("{sO}", "value", v));
        } else {
            http_reply_text(req, 404, "Unknown key %s", key);
        }
    } else if (!strcmp(op, "STORE") || !strcmp(op, "DELETE")) {
        if (!api_writable(srv, req)) {
            json_decref(j);
            return;
        }
        const char *value = json_string_value(json_object_get(j, "value"));
        bool store = !strcmp(op, "STORE");
        if (store && !value) {
            http_reply_text(req, 400, "Bad Request, STORE needs a string value");
            json_decref(j);
            return;
        }
        snprintf(rowkey, sizeof rowkey, "ua/%s", key);
        struct api_txn t;
        api_txn_init(&t, &srv->store);
        if (store) {
            json_object_set_new(srv->useragent, key, json_string(value));
            cfgdb_batch_put(t.batch, rowkey, value);
        } else {
            json_object_del(srv->useragent, key);
            cfgdb_batch_delete(t.batch, rowkey);
        }
        api_commit_and_reply(srv, &t, req, 200, json_object());
    } else {
        http_reply_text(req, 400, "Bad Request, operation must be STORE, RETRIEVE or DELETE");
    }
    json_decref(j);
}

static void
chown_chmod(struct api_server *srv, struct http_req *req, bool is_chmod)
{
    json_t *j;
    struct api_obj *o = write_target(srv, req, &j);
    if (!o) {
        return;
    }
    json_t *owner = json_object_get(j, "owner");
    struct api_err e = { 0 };
    if ((!is_chmod && !json_is_string(owner)) || (owner && !json_is_string(owner))) {
        api_fail(&e, 400, "Bad Request, owner must be a string");
    }
    static const char *const access[] = { "owner_access", "global_access" };
    for (size_t i = 0; is_chmod && i < 2 && !e.status; i++) {
        json_t *v = json_object_get(j, access[i]);
        if (v && (!json_is_integer(v) || json_integer_value(v) < 0
                  || json_integer_value(v) > 7)) {
            api_fail(&e, 400, "Bad Request, %s must be an integer 0..7", access[i]);
        }
    }
    json_t *share = json_object_get(j, "share");
    if (is_chmod && share && !e.status) {
        const struct schema_type *st = schema_type(srv->schema, "ShareType");
        char err[512];
        if (!json_is_array(share)
            || (st && !schema_validate(st, true, share, "share", err, sizeof err))) {
            api_fail(&e, 400, "Bad Request, invalid share list");
        }
    }
    if (e.status) {
        api_reply_err(srv, req, &e);
        json_decref(j);
        return;
    }
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    api_txn_mark(&t, o);
    json_t *p2 = api_props_mut(o->props, "perms2");
    if (owner) {
        json_object_set(p2, "owner", owner);
    }
    if (is_chmod) {
        for (size_t i = 0; i < 2; i++) {
            json_t *v = json_object_get(j, access[i]);
            if (v) {
                json_object_set(p2, access[i], v);
            }
        }
        if (share) {
            json_object_set(p2, "share", share);
        }
    }
    api_commit_and_reply(srv, &t, req, 200, json_object());
    json_decref(j);
}

static void
obj_perms(struct api_server *srv, struct http_req *req)
{
    struct api_obj *o = obj_or_reply(srv, req, http_req_query(req, "uuid"));
    if (o) {
        /* Without authentication every caller is the cloud admin. */
        http_reply_json(req, 200, xjson_pack("{sssO}", "permissions", "RWX", "perms2",
                                            json_object_get(o->props, "perms2")));
    }
}

static void
aaa_mode(struct api_server *srv, struct http_req *req)
{
    if (req->method == EVHTTP_REQ_PUT) {
        json_t *j = body_or_reply(srv, req);
        if (!j) {
            return;
        }
        const char *mode = json_string_value(json_object_get(j, "aaa-mode"));
        if (!mode || strcmp(mode, "no-auth")) {
            http_reply_text(req, 400, "Bad Request, only aaa-mode no-auth is supported "
                            "(no identity service is configured)");
        } else {
            http_reply_json(req, 200, xjson_pack("{ss}", "aaa-mode", mode));
        }
        json_decref(j);
        return;
    }
    http_reply_json(req, 200, xjson_pack("{ss}", "aaa-mode", "no-auth"));
}

static void
vn_ip_alloc(struct api_server *srv, struct http_req *req, struct api_obj *vn)
{
    json_t *j = body_or_reply(srv, req);
    if (!j || !api_writable(srv, req)) {
        json_decref(j);
        return;
    }
    struct api_err e = { 0 };
    const char *subnet = json_string_value(json_object_get(j, "subnet"));
    json_t *count_j = json_object_get(j, "count");
    const char *fam = json_string_value(json_object_get(j, "family"));
    long count = json_is_integer(count_j) ? (long) json_integer_value(count_j) : 1;
    int family = !fam ? 0 : !strcmp(fam, "v4") ? 4 : !strcmp(fam, "v6") ? 6 : -1;
    char sub_uuid[UUID_LEN + 1];
    if ((count_j && !json_is_integer(count_j)) || count < 1 || count > 1024) {
        api_fail(&e, 400, "Bad Request, count must be an integer 1..1024");
    } else if (family < 0) {
        api_fail(&e, 400, "Bad Request, family must be v4 or v6");
    } else if (subnet && !api_ipam_subnet_uuid(vn, subnet, sub_uuid)) {
        api_fail(&e, 404, "Subnet %s not found in network %s", subnet, vn->fq_str);
    }
    json_t *ips = json_array();
    for (long i = 0; i < count && !e.status; i++) {
        char ip[IPADDR_STRLEN], err[512];
        int status = api_ipam_alloc(vn, family, subnet ? sub_uuid : NULL, NULL,
                                    API_IPAM_RESERVED, ip, NULL, err, sizeof err);
        if (status) {
            api_fail(&e, status, "%s", err);
        } else {
            json_array_append_new(ips, json_string(ip));
        }
    }
    size_t i;
    json_t *ip;
    if (e.status) {
        json_array_foreach (ips, i, ip) {
            api_ipam_free(vn, json_string_value(ip));
        }
        json_decref(ips);
        api_reply_err(srv, req, &e);
    } else {
        struct api_txn t;
        api_txn_init(&t, &srv->store);
        json_array_foreach (ips, i, ip) {
            char key[128];
            snprintf(key, sizeof key, "ipres/%s/%s", vn->uuid, json_string_value(ip));
            cfgdb_batch_put(t.batch, key, API_IPAM_RESERVED);
        }
        api_commit_and_reply(srv, &t, req, 200, xjson_pack("{so}", "ip_addr", ips));
    }
    json_decref(j);
}

static void
vn_ip_free(struct api_server *srv, struct http_req *req, struct api_obj *vn)
{
    json_t *j = body_or_reply(srv, req);
    if (!j || !api_writable(srv, req)) {
        json_decref(j);
        return;
    }
    json_t *ips = json_object_get(j, "ip_addr");
    if (!json_is_array(ips)) {
        http_reply_text(req, 400, "Bad Request, ip_addr must be a list");
        json_decref(j);
        return;
    }
    size_t i;
    json_t *ip;
    json_array_foreach (ips, i, ip) {
        const char *owner = json_is_string(ip) ? api_ipam_owner(vn, json_string_value(ip))
                                               : NULL;
        if (!owner || strcmp(owner, API_IPAM_RESERVED)) {
            http_reply_text(req, 400, "Bad Request, %s is not an address reserved with "
                            "ip-alloc", json_is_string(ip) ? json_string_value(ip) : "?");
            json_decref(j);
            return;
        }
    }
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    json_array_foreach (ips, i, ip) {
        char key[128];
        api_ipam_free(vn, json_string_value(ip));
        snprintf(key, sizeof key, "ipres/%s/%s", vn->uuid, json_string_value(ip));
        cfgdb_batch_delete(t.batch, key);
    }
    api_commit_and_reply(srv, &t, req, 200, json_object());
    json_decref(j);
}

static void
vn_subnet_ip_count(struct api_server *srv, struct http_req *req, struct api_obj *vn)
{
    json_t *j = body_or_reply(srv, req);
    if (!j) {
        return;
    }
    json_t *subs = json_object_get(j, "subnet_list");
    json_t *counts = json_array();
    size_t i;
    json_t *s;
    bool ok = json_is_array(subs);
    json_array_foreach (subs, i, s) {
        long n = json_is_string(s) ? api_ipam_count(vn, json_string_value(s)) : -1;
        if (n < 0) {
            ok = false;
            break;
        }
        json_array_append_new(counts, json_integer(n));
    }
    if (!ok) {
        json_decref(counts);
        http_reply_text(req, 400, "Bad Request, subnet_list must be a list of prefixes");
    } else {
        http_reply_json(req, 200, xjson_pack("{so}", "ip_count_list", counts));
    }
    json_decref(j);
}

bool
api_actions_handle(struct api_server *srv, struct http_req *req)
{
    static const struct {
        const char *path;
        enum evhttp_cmd_type method;
        void (*fn)(struct api_server *, struct http_req *);
    } actions[] = {
        { "/fqname-to-id", EVHTTP_REQ_POST, fqname_to_id },
        { "/id-to-fqname", EVHTTP_REQ_POST, id_to_fqname },
        { "/ref-update", EVHTTP_REQ_POST, ref_update },
        { "/ref-relax-for-delete", EVHTTP_REQ_POST, ref_relax },
        { "/prop-collection-get", EVHTTP_REQ_GET, prop_collection_get },
        { "/prop-collection-update", EVHTTP_REQ_POST, prop_collection_update },
        { "/useragent-kv", EVHTTP_REQ_POST, useragent_kv },
        { "/obj-perms", EVHTTP_REQ_GET, obj_perms },
    };
    const char *path = req->path;
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        if (!strcmp(path, actions[i].path)) {
            if (req->method != actions[i].method) {
                http_reply_text(req, 405, "Method Not Allowed");
            } else {
                actions[i].fn(srv, req);
            }
            return true;
        }
    }
    if (!strcmp(path, "/chown") || !strcmp(path, "/chmod")) {
        if (req->method != EVHTTP_REQ_POST) {
            http_reply_text(req, 405, "Method Not Allowed");
        } else {
            chown_chmod(srv, req, !strcmp(path, "/chmod"));
        }
        return true;
    }
    if (!strcmp(path, "/aaa-mode")) {
        aaa_mode(srv, req);
        return true;
    }
    static const char vn_prefix[] = "/virtual-network/";
    if (!strncmp(path, vn_prefix, sizeof vn_prefix - 1)) {
        const char *rest = path + sizeof vn_prefix - 1;
        const char *slash = strchr(rest, '/');
        if (!slash || slash - rest != UUID_LEN) {
            return false;
        }
        char uuid[UUID_LEN + 1];
        memcpy(uuid, rest, UUID_LEN);
        uuid[UUID_LEN] = '\0';
        const char *action = slash + 1;
        void (*fn)(struct api_server *, struct http_req *, struct api_obj *) =
            !strcmp(action, "ip-alloc") ? vn_ip_alloc
            : !strcmp(action, "ip-free") ? vn_ip_free
            : !strcmp(action, "subnet-ip-count") ? vn_subnet_ip_count : NULL;
        if (!fn) {
            return false;
        }
        struct api_obj *vn = api_store_get(&srv->store, uuid);
        if (!vn || strcmp(vn->ident->name, "virtual-network")) {
            http_reply_text(req, 404, "virtual-network %s not found", uuid);
        } else if (req->method != EVHTTP_REQ_POST) {
            http_reply_text(req, 405, "Method Not Allowed");
        } else {
            fn(srv, req, vn);
        }
        return true;
    }
    return false;
}
