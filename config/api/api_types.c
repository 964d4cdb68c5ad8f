/* api_types: the per-type rules of the create/update/delete pipeline (config-plane reference
 * §1.8, §3): network ids, security-group ids, subnets and addresses, MAC addresses, primary
 * routing instances and default children. */
#include "api_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_ipam.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(api_types);

#define SG_ID_MIN 8000000

static bool
is(const struct schema_ident *id, const char *name)
{
    return !strcmp(id->name, name);
}

static const char *
last_name(const struct api_obj *o)
{
    return json_string_value(json_array_get(o->fq_name, json_array_size(o->fq_name) - 1));
}

/* ip-fabric and __link_local__: the system networks whose addresses are not from IPAM. */
static bool
is_system_vn(const struct api_obj *vn)
{
    return !strcmp(vn->fq_str, "default-domain:default-project:ip-fabric")
           || !strcmp(vn->fq_str, "default-domain:default-project:__link_local__");
}

static struct api_obj *
refset_first(const struct api_refset *rs, const char *to_type)
{
    for (size_t i = 0; i < rs->n; i++) {
        if (is(rs->refs[i].to->ident, to_type)) {
            return rs->refs[i].to;
        }
    }
    return NULL;
}

static struct api_obj *
obj_first_ref(const struct api_obj *o, const char *to_type)
{
    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        if (is(r->to->ident, to_type)) {
            return r->to;
        }
    }
    return NULL;
}

/* The JSON array of the network-ipam attributes in RS (borrowed references). */
static json_t *
ipam_attrs(struct api_refset *rs)
{
    json_t *attrs = json_array();
    for (size_t i = 0; i < rs->n; i++) {
        if (is(rs->refs[i].to->ident, "network-ipam")) {
            if (!rs->refs[i].attr) {
                rs->refs[i].attr = json_object();
            }
            json_array_append(attrs, rs->refs[i].attr);
        }
    }
    return attrs;
}

static void
shared_perms(json_t *props)
{
    json_t *shared = json_object_get(props, "is_shared");
    json_t *p2 = json_is_boolean(shared) ? api_props_mut(props, "perms2") : NULL;
    if (json_is_boolean(shared) && json_is_object(p2)) {
        json_object_set_new(p2, "global_access", json_integer(json_is_true(shared) ? 7 : 0));
    }
}

static int
vn_pre_create(struct api_server *srv, json_t *props, struct api_refset *rs, struct api_err *e)
{
    json_t *attrs = ipam_attrs(rs);
    char err[1024];
    int status = api_ipam_prepare(NULL, attrs, err, sizeof err);
    json_decref(attrs);
    if (status) {
        return api_fail(e, status, "%s", err);
    }
    json_t *nid = json_object_get(props, "virtual_network_network_id");
    uint32_t id;
    if (json_is_integer(nid)) {
        json_int_t v = json_integer_value(nid);
        if (v < 1 || v > (1 << 24) || !idalloc_reserve(&srv->vn_ids, (uint32_t) v)) {
            return api_fail(e, 409, "virtual_network_network_id %lld is in use or out of range",
                            (long long) v);
        }
    } else {
        if (!idalloc_alloc(&srv->vn_ids, &id)) {
            return api_fail(e, 409, "No virtual network id left");
        }
        json_object_set_new(props, "virtual_network_network_id", json_integer(id));
    }
    shared_perms(props);
    return 0;
}

static int
sg_pre_create(struct api_server *srv, json_t *props, struct api_err *e)
{
    json_t *conf = json_object_get(props, "configured_security_group_id");
    if (json_is_integer(conf) && json_integer_value(conf) > 0) {
        if (json_integer_value(conf) >= SG_ID_MIN) {
            return api_fail(e, 400, "Bad Request, configured_security_group_id must be below "
                            "%d", SG_ID_MIN);
        }
        json_object_set(props, "security_group_id", conf);
        return 0;
    }
    uint32_t id;
    if (!idalloc_alloc(&srv->sg_ids, &id)) {
        return api_fail(e, 409, "No security group id left");
    }
    json_object_set_new(props, "security_group_id", json_integer(id));
    return 0;
}

static int
vmi_pre_create(struct api_server *srv, json_t *props, struct api_refset *rs, const char *uuid,
               struct api_err *e)
{
    if (!refset_first(rs, "virtual-network")) {
        return api_fail(e, 400, "Bad Request, virtual-machine-interface needs "
                        "virtual_network_refs");
    }
    json_t *macs = json_object_get(json_object_get(props,
                                                   "virtual_machine_interface_mac_addresses"),
                                   "mac_address");
    char mac[18];
    if (json_array_size(macs) == 1 && json_is_string(json_array_get(macs, 0))) {
        const char *m = json_string_value(json_array_get(macs, 0));
        size_t n = strlen(m);
        if (n != 17) {
            return api_fail(e, 400, "Bad Request, invalid MAC address '%s'", m);
        }
        for (size_t i = 0; i < n; i++) {
            char c = m[i];
            bool sep = i % 3 == 2;
            if (sep ? (c != ':' && c != '-') : !strchr("0123456789abcdefABCDEF", c)) {
                return api_fail(e, 400, "Bad Request, invalid MAC address '%s'", m);
            }
            mac[i] = sep ? ':' : (char) (c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c);
        }
        mac[17] = '\0';
    } else {
        /* 02: + the first ten hex digits of the uuid, skipping its dash. */
        snprintf(mac, sizeof mac, "02:%.2s:%.2s:%.2s:%.2s:%.2s", uuid, uuid + 2, uuid + 4,
                 uuid + 6, uuid + 9);
    }
    json_object_set_new(props, "virtual_machine_interface_mac_addresses",
                        xjson_pack("{s[s]}", "mac_address", mac));

    json_t *b = json_object_get(props, "virtual_machine_interface_bindings");
    json_t *kvs = json_object_get(b, "key_value_pair");
    static const char *const defaults[][2] = { { "vif_type", "vrouter" },
                                               { "vnic_type", "normal" } };
    if (json_is_array(kvs)) {
        for (size_t d = 0; d < 2; d++) {
            bool found = false;
            size_t i;
            json_t *kv;
            json_array_foreach (kvs, i, kv) {
                const char *k = json_string_value(json_object_get(kv, "key"));
                found |= k && !strcmp(k, defaults[d][0]);
            }
            if (!found) {
                json_array_append_new(kvs, xjson_pack("{ssss}", "key", defaults[d][0], "value",
                                                     defaults[d][1]));
            }
        }
    }
    return 0;
}

static int
family_of(json_t *props, const char *key, int *family, struct api_err *e)
{
    const char *f = json_string_value(json_object_get(props, key));
    *family = !f ? 0 : !strcmp(f, "v4") ? 4 : !strcmp(f, "v6") ? 6 : -1;
    if (*family < 0) {
        return api_fail(e, 400, "Bad Request, %s must be v4 or v6", key);
    }
    return 0;
}

static int
iip_pre_create(struct api_server *srv, json_t *props, struct api_refset *rs, const char *uuid,
               struct api_err *e)
{
    struct api_obj *vn = refset_first(rs, "virtual-network");
    if (!vn) {
        return api_fail(e, 400, "Bad Request, instance-ip needs virtual_network_refs");
    }
    int family;
    int status = family_of(props, "instance_ip_family", &family, e);
    if (status) {
        return status;
    }
    const char *want = json_string_value(json_object_get(props, "instance_ip_address"));
    if (is_system_vn(vn)) {
        struct ipaddr a;
        if (want && !ipaddr_parse(want, &a)) {
            return api_fail(e, 400, "Bad Request, invalid instance_ip_address '%s'", want);
        }
        return 0;
    }
    char ip[IPADDR_STRLEN], sub[UUID_LEN + 1], err[512];
    status = api_ipam_alloc(vn, family,
                            json_string_value(json_object_get(props, "subnet_uuid")), want,
                            uuid, ip, sub, err, sizeof err);
    if (status) {
        return api_fail(e, status, "%s", err);
    }
    json_object_set_new(props, "instance_ip_address", json_string(ip));
    json_object_set_new(props, "subnet_uuid", json_string(sub));
    if (!family) {
        json_object_set_new(props, "instance_ip_family", json_string(strchr(ip, ':') ? "v6"
                                                                                    : "v4"));
    }
    return 0;
}

static struct api_obj *
fip_vn(struct api_obj *parent)
{
    if (parent && is(parent->ident, "floating-ip-pool") && parent->parent
        && is(parent->parent->ident, "virtual-network")) {
        return parent->parent;
    }
    return NULL;
}

static int
fip_pre_create(struct api_server *srv, json_t *props, struct api_obj *parent, const char *uuid,
               struct api_err *e)
{
    struct api_obj *vn = fip_vn(parent);
    if (!vn) {
        return 0;
    }
    int family;
    int status = family_of(props, "floating_ip_address_family", &family, e);
    if (status) {
        return status;
    }
    const char *want = json_string_value(json_object_get(props, "floating_ip_address"));
    char ip[IPADDR_STRLEN], err[512];
    status = api_ipam_alloc(vn, family, NULL, want, uuid, ip, NULL, err, sizeof err);
    if (status) {
        return api_fail(e, status, "%s", err);
    }
    json_object_set_new(props, "floating_ip_address", json_string(ip));
    if (!family) {
        json_object_set_new(props, "floating_ip_address_family",
                            json_string(strchr(ip, ':') ? "v6" : "v4"));
    }
    return 0;
}

int
api_types_pre_create(struct api_server *srv, const struct schema_ident *id, json_t *props,
                     struct api_refset *rs, struct api_obj *parent, const char *uuid,
                     struct api_err *e)
{
    if (is(id, "virtual-network")) {
        return vn_pre_create(srv, props, rs, e);
    } else if (is(id, "security-group")) {
        return sg_pre_create(srv, props, e);
    } else if (is(id, "virtual-machine-interface")) {
        return vmi_pre_create(srv, props, rs, uuid, e);
    } else if (is(id, "instance-ip")) {
        return iip_pre_create(srv, props, rs, uuid, e);
    } else if (is(id, "floating-ip")) {
        return fip_pre_create(srv, props, parent, uuid, e);
    }
    return 0;
}

struct api_obj *
api_types_primary_ri(struct api_obj *vn)
{
    struct api_obj *c;
    const char *want = !strcmp(vn->fq_str, "default-domain:default-project:ip-fabric")
                       ? "__default__" : last_name(vn);
    LIST_FOR_EACH (c, child_node, &vn->children) {
        if (is(c->ident, "routing-instance") && !strcmp(last_name(c), want)) {
            return c;
        }
    }
    return NULL;
}

/* Creates a child NAME of type TYPE under PARENT with extra properties PROPS (stolen). */
static struct api_obj *
create_child(struct api_server *srv, struct api_txn *t, struct api_obj *parent,
             const char *type, const char *name, json_t *props)
{
    const struct schema_ident *id = schema_ident(srv->schema, type);
    json_t *fq = json_deep_copy(parent->fq_name);
    json_array_append_new(fq, json_string(name));
    json_t *body = props ? props : json_object();
    json_object_set_new(body, "fq_name", fq);
    json_object_set_new(body, "parent_type", json_string(parent->ident->name));
    struct api_obj *o = NULL;
    struct api_err e;
    if (id && !api_store_get_fq_json(&srv->store, id, fq)
        && api_obj_create_from_json(srv, t, id, body, &o, &e)) {
        LOG_ERR("cannot create %s %s: %s", type, name, e.msg);
    }
    json_decref(body);
    return o;
}

static void
vmi_link_ri(struct api_server *srv, struct api_txn *t, struct api_obj *vmi)
{
    const struct schema_ident *ri_id = schema_ident(srv->schema, "routing-instance");
    const struct schema_link *link = schema_ident_ref_to(vmi->ident, ri_id);
    struct api_obj *vn = obj_first_ref(vmi, "virtual-network");
    struct api_obj *ri = vn ? api_types_primary_ri(vn) : NULL;
    if (!link) {
        return;
    }
    struct api_ref *r;
    LIST_FOR_EACH_SAFE (r, from_node, &vmi->refs) {
        if (r->to->ident == ri_id && json_is_true(json_object_get(r->to->props,
                                                                  "routing_instance_is_default"))
            && r->to != ri) {
            api_ref_remove(t, r);
        }
    }
    if (ri && !api_ref_find(vmi, ri)) {
        api_ref_add(t, vmi, ri, link, xjson_pack("{ss}", "direction", "both"));
    }
}

void
api_types_post_create(struct api_server *srv, struct api_txn *t, struct api_obj *o)
{
    const struct schema_ident *id = o->ident;
    if (is(id, "virtual-network")) {
        api_ipam_apply(o);
        const char *ri = !strcmp(o->fq_str, "default-domain:default-project:ip-fabric")
                         ? "__default__" : last_name(o);
        create_child(srv, t, o, "routing-instance", ri,
                     xjson_pack("{sb}", "routing_instance_is_default", 1));
    } else if (is(id, "virtual-machine-interface")) {
        vmi_link_ri(srv, t, o);
    } else if (is(id, "domain")) {
        create_child(srv, t, o, "project", "default-project", NULL);
        create_child(srv, t, o, "namespace", "default-namespace", NULL);
    } else if (is(id, "project")) {
        create_child(srv, t, o, "network-ipam", "default-network-ipam", NULL);
        create_child(srv, t, o, "virtual-network", "default-virtual-network", NULL);
    }
}

int
api_types_pre_update(struct api_server *srv, struct api_obj *o, json_t *props,
                     struct api_refset *rs, struct api_err *e)
{
    /* Properties whose operations exclude U are fixed at create. */
    const char *key;
    json_t *v;
    json_object_foreach (props, key, v) {
        const struct schema_prop *p = schema_ident_prop(o->ident, key);
        /* id_perms and perms2 are partly the user's; the update pipeline merges them. */
        if (p && !strchr(p->ops, 'U') && strcmp(key, "id_perms") && strcmp(key, "perms2")
            && !json_equal(v, json_object_get(o->props, key))) {
            return api_fail(e, 400, "Bad Request, %s cannot be updated", key);
        }
    }
    if (is(o->ident, "virtual-network")) {
        const struct schema_link *l = schema_ident_ref(o->ident, "network_ipam_refs");
        if (l && api_refset_touches(rs, l)) {
            json_t *attrs = ipam_attrs(rs);
            char err[1024];
            int status = api_ipam_prepare(o, attrs, err, sizeof err);
            json_decref(attrs);
            if (status) {
                return api_fail(e, status, "%s", err);
            }
        }
        if (json_object_get(props, "is_shared")) {
            json_t *p2 = json_object_get(props, "perms2");
            if (!p2) {
                json_object_set_new(props, "perms2",
                                    json_deep_copy(json_object_get(o->props, "perms2")));
            }
            shared_perms(props);
        }
    } else if (is(o->ident, "virtual-machine-interface")) {
        const struct schema_link *l = schema_ident_ref(o->ident, "virtual_network_refs");
        if (l && api_refset_touches(rs, l) && !refset_first(rs, "virtual-network")) {
            return api_fail(e, 400, "Bad Request, virtual-machine-interface needs "
                            "virtual_network_refs");
        }
    } else if (is(o->ident, "instance-ip")) {
        const struct schema_link *l = schema_ident_ref(o->ident, "virtual_network_refs");
        if (l && api_refset_touches(rs, l)
            && refset_first(rs, "virtual-network") != obj_first_ref(o, "virtual-network")) {
            return api_fail(e, 400, "Bad Request, the network of an instance-ip cannot "
                            "change");
        }
    }
    return 0;
}

void
api_types_post_update(struct api_server *srv, struct api_txn *t, struct api_obj *o)
{
    if (is(o->ident, "virtual-network")) {
        api_ipam_apply(o);
    } else if (is(o->ident, "virtual-machine-interface")) {
        vmi_link_ri(srv, t, o);
    }
}

int
api_types_pre_delete(struct api_server *srv, struct api_obj *o, struct api_err *e)
{
    if (is(o->ident, "virtual-network") && is_system_vn(o)) {
        return api_fail(e, 409, "Cannot delete system virtual network %s", o->fq_str);
    }
    return 0;
}

/* Releases what O holds in the allocators (its network id, group id or address). */
void
api_types_unloaded(struct api_store *s, struct api_obj *o, void *aux)
{
    struct api_server *srv = aux;
    if (is(o->ident, "virtual-network")) {
        json_t *nid = json_object_get(o->props, "virtual_network_network_id");
        if (json_is_integer(nid)) {
            idalloc_free(&srv->vn_ids, (uint32_t) json_integer_value(nid));
        }
    } else if (is(o->ident, "security-group")) {
        json_t *sid = json_object_get(o->props, "security_group_id");
        if (json_is_integer(sid) && json_integer_value(sid) > SG_ID_MIN) {
            idalloc_free(&srv->sg_ids, (uint32_t) json_integer_value(sid));
        }
    } else if (is(o->ident, "instance-ip")) {
        struct api_obj *vn = obj_first_ref(o, "virtual-network");
        const char *ip = json_string_value(json_object_get(o->props, "instance_ip_address"));
        if (vn && ip && !is_system_vn(vn)) {
            api_ipam_free(vn, ip);
        }
    } else if (is(o->ident, "floating-ip")) {
        struct api_obj *vn = fip_vn(o->parent);
        const char *ip = json_string_value(json_object_get(o->props, "floating_ip_address"));
        if (vn && ip) {
            api_ipam_free(vn, ip);
        }
    }
}

void
api_types_post_delete(struct api_server *srv, struct api_txn *t, struct api_obj *o)
{
    if (is(o->ident, "virtual-network")) {
        /* Reservations made by /ip-alloc go with the network. */
        json_t *ips = api_ipam_owned_by(o, API_IPAM_RESERVED);
        size_t i;
        json_t *ip;
        json_array_foreach (ips, i, ip) {
            char key[128];
            snprintf(key, sizeof key, "ipres/%s/%s", o->uuid, json_string_value(ip));
            cfgdb_batch_delete(t->batch, key);
        }
        json_decref(ips);
    }
    api_types_unloaded(&srv->store, o, srv);
}

/* Shared stores: what must be unique across API servers. */
void
api_types_claims(const struct api_obj *o, void (*add)(void *ctx, const char *key), void *ctx)
{
    char key[600];
    snprintf(key, sizeof key, "fq/%s/%s", o->ident->name, o->fq_str);
    add(ctx, key);
    if (is(o->ident, "virtual-network")) {
        json_t *nid = json_object_get(o->props, "virtual_network_network_id");
        if (json_is_integer(nid)) {
            snprintf(key, sizeof key, "vn-id/%lld", (long long) json_integer_value(nid));
            add(ctx, key);
        }
    } else if (is(o->ident, "security-group")) {
        json_t *sid = json_object_get(o->props, "security_group_id");
        if (json_is_integer(sid) && json_integer_value(sid) > SG_ID_MIN) {
            snprintf(key, sizeof key, "sg-id/%lld", (long long) json_integer_value(sid));
            add(ctx, key);
        }
    } else if (is(o->ident, "instance-ip") || is(o->ident, "floating-ip")) {
        struct api_obj *vn = is(o->ident, "instance-ip") ? obj_first_ref(o, "virtual-network")
                                                          : fip_vn(o->parent);
        const char *ip = json_string_value(json_object_get(
            o->props, is(o->ident, "instance-ip") ? "instance_ip_address"
                                                  : "floating_ip_address"));
        if (vn && ip && !is_system_vn(vn)) {
            snprintf(key, sizeof key, "ip/%s/%s", vn->uuid, ip);
            add(ctx, key);
        }
    }
}

void
api_types_loaded(struct api_store *s, struct api_obj *o, void *aux)
{
    struct api_server *srv = aux;
    if (is(o->ident, "virtual-network")) {
        json_t *nid = json_object_get(o->props, "virtual_network_network_id");
        if (json_is_integer(nid)) {
            idalloc_reserve(&srv->vn_ids, (uint32_t) json_integer_value(nid));
        }
        api_ipam_apply(o);
    } else if (is(o->ident, "security-group")) {
        json_t *sid = json_object_get(o->props, "security_group_id");
        if (json_is_integer(sid) && json_integer_value(sid) > SG_ID_MIN) {
            idalloc_reserve(&srv->sg_ids, (uint32_t) json_integer_value(sid));
        }
    } else if (is(o->ident, "instance-ip")) {
        struct api_obj *vn = obj_first_ref(o, "virtual-network");
        const char *ip = json_string_value(json_object_get(o->props, "instance_ip_address"));
        if (vn && ip && !is_system_vn(vn)) {
            api_ipam_mark(vn, ip, o->uuid);
        }
    } else if (is(o->ident, "floating-ip")) {
        struct api_obj *vn = fip_vn(o->parent);
        const char *ip = json_string_value(json_object_get(o->props, "floating_ip_address"));
        if (vn && ip) {
            api_ipam_mark(vn, ip, o->uuid);
        }
    }
}

void
api_types_freed(struct api_store *s, struct api_obj *o, void *aux)
{
    if (is(o->ident, "virtual-network")) {
        api_ipam_destroy(o);
    }
}
