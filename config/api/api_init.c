/* api_init: the objects every config database starts with (config-plane reference §1.9), and
 * the non-object rows (user-agent key/values, /ip-alloc reservations).  Creation is
 * idempotent: an object already there is left alone, so every start runs it. */
#include "api_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_ipam.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(api_init);

struct init_ctx {
    struct api_server *srv;
    struct api_txn *t;
    int error;
    char *err;
    size_t errlen;
};

/* Creates TYPE FQ (a ':'-joined string) unless it exists; PROPS (stolen) are extra fields. */
static struct api_obj *
ensure(struct init_ctx *c, const char *type, const char *fq, const char *parent_type,
       json_t *props)
{
    const struct schema_ident *id = schema_ident(c->srv->schema, type);
    struct api_obj *o = id ? api_store_get_fq(&c->srv->store, id, fq) : NULL;
    if (o || c->error || !id) {
        json_decref(props);
        return o;
    }
    json_t *body = props ? props : json_object();
    json_t *fqj = json_array();
    const char *s = fq;
    for (const char *colon; (colon = strchr(s, ':')); s = colon + 1) {
        json_array_append_new(fqj, json_stringn(s, (size_t) (colon - s)));
    }
    json_array_append_new(fqj, json_string(s));
    json_object_set_new(body, "fq_name", fqj);
    if (parent_type) {
        json_object_set_new(body, "parent_type", json_string(parent_type));
    }
    struct api_err e;
    if (api_obj_create_from_json(c->srv, c->t, id, body, &o, &e)) {
        snprintf(c->err, c->errlen, "cannot create default %s %s: %s", type, fq, e.msg);
        c->error = EINVAL;
        o = NULL;
    }
    json_decref(body);
    return o;
}

static void
load_kv(void *aux, const char *key, const char *value, uint64_t rev)
{
    struct api_server *srv = aux;
    if (!strncmp(key, "ua/", 3)) {
        json_object_set_new(srv->useragent, key + 3, json_string(value));
    } else if (!strncmp(key, "ipres/", 6)) {
        char vn_uuid[UUID_LEN + 1];
        const char *ip = key + 6 + UUID_LEN + 1;
        if (strlen(key) > 6 + UUID_LEN + 1) {
            snprintf(vn_uuid, sizeof vn_uuid, "%.*s", UUID_LEN, key + 6);
            struct api_obj *vn = api_store_get(&srv->store, vn_uuid);
            if (vn) {
                api_ipam_mark(vn, ip, API_IPAM_RESERVED);
            }
        }
    }
}

/* A "ua/" or "ipres/" row written (VALUE NULL: deleted) by another API server. */
void
api_init_other_row(struct api_store *s, const char *key, const char *value, void *aux)
{
    struct api_server *srv = aux;
    if (value) {
        load_kv(srv, key, value, 0);
    } else if (!strncmp(key, "ua/", 3)) {
        json_object_del(srv->useragent, key + 3);
    } else if (!strncmp(key, "ipres/", 6) && strlen(key) > 6 + UUID_LEN + 1) {
        char vn_uuid[UUID_LEN + 1];
        const char *ip = key + 6 + UUID_LEN + 1;
        snprintf(vn_uuid, sizeof vn_uuid, "%.*s", UUID_LEN, key + 6);
        struct api_obj *vn = api_store_get(&srv->store, vn_uuid);
        json_t *reserved = vn ? api_ipam_owned_by(vn, API_IPAM_RESERVED) : NULL;
        size_t i;
        json_t *x;
        json_array_foreach (reserved, i, x) {
            if (!strcmp(json_string_value(x), ip)) {
                api_ipam_free(vn, ip);
                break;
            }
        }
        json_decref(reserved);
    }
}

static void
init_done(void *aux, int error)
{
    int *result = aux;
    *result = error ? error : -1;
}

static void
barrier_done(void *aux, int error, uint64_t rev)
{
    init_done(aux, error);
}

static int init_objects(struct api_server *, char *err, size_t errlen);

int
api_init_defaults(struct api_server *srv, char *err, size_t errlen)
{
    int error = cfgdb_scan(srv->store.db, "ua/", load_kv, srv, NULL);
    if (!error) {
        error = cfgdb_scan(srv->store.db, "ipres/", load_kv, srv, NULL);
    }
    if (error) {
        snprintf(err, errlen, "cannot read the config database: %s", strerror(error));
        return error;
    }

    for (int attempt = 0;; attempt++) {
        error = init_objects(srv, err, errlen);
        if (error != EEXIST || !srv->store.shared || attempt >= 10) {
            break;
        }
        /* Another API server created some of them at the same time: catch up, retry. */
        LOG_INFO("default objects: concurrent creation by another API server, retrying");
        int result = 0;
        cfgdb_barrier(srv->store.db, barrier_done, &result);
        while (!result) {
            event_base_loop(srv->base, EVLOOP_ONCE);
        }
        api_store_flush(&srv->store);
    }
    if (error == EEXIST) {
        snprintf(err, errlen, "cannot write the default objects: %s", strerror(error));
    }
    return error;
}

static int
init_objects(struct api_server *srv, char *err, size_t errlen)
{
    struct api_txn t;
    api_txn_init(&t, &srv->store);
    struct init_ctx c = { srv, &t, 0, err, errlen };
    ensure(&c, "global-system-config", "default-global-system-config", NULL,
           xjson_pack("{si}", "autonomous_system", 64512));
    ensure(&c, "global-vrouter-config",
           "default-global-system-config:default-global-vrouter-config",
           "global-system-config",
           xjson_pack("{s{s[sss]}}", "encapsulation_priorities", "encapsulation", "MPLSoGRE",
                     "MPLSoUDP", "VXLAN"));
    ensure(&c, "global-qos-config", "default-global-system-config:default-global-qos-config",
           "global-system-config", NULL);
    ensure(&c, "domain", "default-domain", NULL, NULL);
    ensure(&c, "project", "default-domain:default-project", "domain", NULL);
    ensure(&c, "network-ipam", "default-domain:default-project:default-network-ipam",
           "project", NULL);
    ensure(&c, "virtual-network", "default-domain:default-project:default-virtual-network",
           "project", NULL);
    ensure(&c, "virtual-network", "default-domain:default-project:ip-fabric", "project", NULL);
    ensure(&c, "virtual-network", "default-domain:default-project:__link_local__", "project",
           NULL);
    ensure(&c, "security-group", "default-domain:default-project:__no_rule__", "project",
           xjson_pack("{s{s[]}s{sssisis[]}}", "security_group_entries", "policy_rule",
                     "perms2", "owner", "cloud-admin", "owner_access", 7, "global_access", 5,
                     "share"));
    ensure(&c, "discovery-service-assignment", "default-discovery-service-assignment", NULL,
           NULL);
    /* The default IPAM is usable by every tenant. */
    const struct schema_ident *ipam_id = schema_ident(srv->schema, "network-ipam");
    struct api_obj *ipam = ipam_id ? api_store_get_fq(&srv->store, ipam_id,
                                                      "default-domain:default-project:"
                                                      "default-network-ipam") : NULL;
    json_t *p2 = ipam ? json_object_get(ipam->props, "perms2") : NULL;
    if (p2 && json_integer_value(json_object_get(p2, "global_access")) != 5) {
        api_txn_mark(&t, ipam);
        json_object_set_new(api_props_mut(ipam->props, "perms2"), "global_access",
                            json_integer(5));
    }
    if (c.error) {
        /* Partially created defaults stay in memory only; the process exits. */
        api_txn_abort(&t);
        return c.error;
    }
    int result = 0;
    api_txn_commit(&t, init_done, &result);
    while (!result) {
        event_base_loop(srv->base, EVLOOP_ONCE);
    }
    if (result > 0) {
        if (result != EEXIST) {
            snprintf(err, errlen, "cannot write the default objects: %s", strerror(result));
        }
        return result;
    }
    return 0;
}
