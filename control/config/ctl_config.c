/* ctl_config: what contrail-control takes from the config graph (see ctl_config.h). */
#include "ctl_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(ctl_config);

static MEM_TYPE(mem_type_ctl_config, "ctl_config");

struct peer_entry {
    struct hmap_node node;          /* In ctl_config.peers, by fq_name. */
    struct ctl_config_peer p;
    json_t *json;                   /* ctl_config_peer_to_json(&p), to compare. */
};

struct inst_entry {
    struct hmap_node node;          /* In ctl_config.instances, by name. */
    struct ctl_config_instance i;
    json_t *json;
};

struct ctl_config {
    struct cfg_graph *graph;
    const struct schema_ident *gsc_id, *bgp_id, *ri_id, *vn_id, *rt_id;
    char *hostname;
    char *self_fq;
    struct ctl_config_hooks hooks;
    void *aux;

    bool synced;                    /* Reporting (the graph is complete). */
    bool full;                      /* The next flush also checks everything reported. */
    bool global_dirty, bgp_dirty;
    struct cfg_obj_set dirty_ris;

    /* What was reported. */
    struct ctl_config_global global;
    json_t *global_json;            /* NULL: absent. */
    struct ctl_config_router self;
    json_t *self_json;              /* NULL: absent. */
    struct hmap peers, instances;
};

const char *
ctl_config_op_name(enum ctl_config_op op)
{
    switch (op) {
    case CTL_CONFIG_ADD: return "add";
    case CTL_CONFIG_CHANGE: return "change";
    case CTL_CONFIG_DELETE: return "delete";
    }
    return "?";
}

/* ---- Small helpers. ---- */

static char *
cc_strdup(const char *s)
{
    return s ? mem_strdup(&mem_type_ctl_config, s) : NULL;
}

static const char *
jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t
jint(const json_t *o, const char *key, json_int_t def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? json_integer_value(v) : def;
}

static bool
jbool(const json_t *o, const char *key, bool def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        mem_free(&mem_type_ctl_config, v[i]);
    }
    mem_free(&mem_type_ctl_config, v);
}

static bool
strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(v[i], s)) {
            return true;
        }
    }
    return false;
}

/* Appends S to *V unless it is there already. */
static void
strv_add(char ***v, size_t *n, const char *s)
{
    if (!s || strv_has(*v, *n, s)) {
        return;
    }
    *v = mem_realloc(&mem_type_ctl_config, *v, (*n + 1) * sizeof **v);
    (*v)[(*n)++] = cc_strdup(s);
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static json_t *
strv_to_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_string(v[i]));
    }
    return a;
}

static const char *
last_element(const struct cfg_obj *o)
{
    size_t n = json_array_size(o->fq_name);
    const char *s = n ? json_string_value(json_array_get(o->fq_name, n - 1)) : NULL;
    return s ? s : "";
}

static void
auth_from_json(struct ctl_config_auth *a, const json_t *auth)
{
    const char *type = jstr(auth, "key_type");
    const json_t *items = json_object_get(auth, "key_items");
    const char *key = jstr(json_array_get(items, 0), "key");
    if (type && key) {
        a->key_type = cc_strdup(type);
        a->key = cc_strdup(key);
    }
}

static void
auth_clear(struct ctl_config_auth *a)
{
    mem_free(&mem_type_ctl_config, a->key_type);
    mem_free(&mem_type_ctl_config, a->key);
    a->key_type = a->key = NULL;
}

static json_t *
auth_to_json(const struct ctl_config_auth *a)
{
    if (!a->key_type) {
        return json_null();
    }
    return xjson_pack("{ssss}", "key_type", a->key_type, "key", a->key);
}

/* ---- Global. ---- */

static void
global_from_obj(struct ctl_config_global *g, const struct cfg_obj *o)
{
    const json_t *p = o->props;
    memset(g, 0, sizeof *g);
    g->asn = (uint32_t) jint(p, "autonomous_system", 0);
    g->ibgp_auto_mesh = jbool(p, "ibgp_auto_mesh", true);
    g->enable_4byte_as = jbool(p, "enable_4byte_as", false);
    g->bgp_always_compare_med = jbool(p, "bgp_always_compare_med", false);
    const json_t *gr = json_object_get(p, "graceful_restart_parameters");
    g->gr.enable = jbool(gr, "enable", false);
    g->gr.restart_time = (int) jint(gr, "restart_time", 300);
    g->gr.long_lived_restart_time = (int) jint(gr, "long_lived_restart_time", 300);
    g->gr.end_of_rib_timeout = (int) jint(gr, "end_of_rib_timeout", 300);
    g->gr.bgp_helper_enable = jbool(gr, "bgp_helper_enable", false);
    g->gr.xmpp_helper_enable = jbool(gr, "xmpp_helper_enable", false);
    const json_t *fc = json_object_get(p, "fast_convergence_parameters");
    g->fc_enable = jbool(fc, "enable", false);
    g->fc_xmpp_hold_time = (int) jint(fc, "xmpp_hold_time", 0);
}

json_t *
ctl_config_global_to_json(const struct ctl_config_global *g)
{
    return xjson_pack("{sIsbsbsbs{sbsisisisbsb}s{sbsi}}",
                      "autonomous_system", (json_int_t) g->asn,
                      "ibgp_auto_mesh", g->ibgp_auto_mesh,
                      "enable_4byte_as", g->enable_4byte_as,
                      "bgp_always_compare_med", g->bgp_always_compare_med,
                      "graceful_restart", "enable", g->gr.enable,
                      "restart_time", g->gr.restart_time,
                      "long_lived_restart_time", g->gr.long_lived_restart_time,
                      "end_of_rib_timeout", g->gr.end_of_rib_timeout,
                      "bgp_helper_enable", g->gr.bgp_helper_enable,
                      "xmpp_helper_enable", g->gr.xmpp_helper_enable,
                      "fast_convergence", "enable", g->fc_enable,
                      "xmpp_hold_time", g->fc_xmpp_hold_time);
}

static void
update_global(struct ctl_config *cc)
{
    const struct cfg_obj *o = cfg_graph_find(cc->graph, cc->gsc_id,
                                             CTL_CONFIG_GLOBAL_SYSTEM_CONFIG);
    if (!o || !cfg_obj_exists(o)) {
        if (cc->global_json) {
            json_decref(cc->global_json);
            cc->global_json = NULL;
            if (cc->hooks.global) {
                cc->hooks.global(cc->aux, CTL_CONFIG_DELETE, &cc->global);
            }
        }
        return;
    }
    struct ctl_config_global g;
    global_from_obj(&g, o);
    json_t *j = ctl_config_global_to_json(&g);
    if (cc->global_json && json_equal(j, cc->global_json)) {
        json_decref(j);
        return;
    }
    enum ctl_config_op op = cc->global_json ? CTL_CONFIG_CHANGE : CTL_CONFIG_ADD;
    json_decref(cc->global_json);
    cc->global_json = j;
    cc->global = g;
    if (cc->hooks.global) {
        cc->hooks.global(cc->aux, op, &cc->global);
    }
}

/* ---- This router. ---- */

static void
router_clear(struct ctl_config_router *r)
{
    mem_free(&mem_type_ctl_config, r->name);
    mem_free(&mem_type_ctl_config, r->fq_name);
    mem_free(&mem_type_ctl_config, r->uuid);
    mem_free(&mem_type_ctl_config, r->router_type);
    mem_free(&mem_type_ctl_config, r->vendor);
    mem_free(&mem_type_ctl_config, r->identifier);
    mem_free(&mem_type_ctl_config, r->address);
    strv_free(r->families, r->n_families);
    auth_clear(&r->auth);
    memset(r, 0, sizeof *r);
}

static void
families_from_json(char ***v, size_t *n, const json_t *address_families)
{
    const json_t *list = json_object_get(address_families, "family");
    size_t i;
    const json_t *f;
    json_array_foreach (list, i, f) {
        strv_add(v, n, json_string_value(f));
    }
}

static void
router_from_obj(struct ctl_config_router *r, const struct cfg_obj *o)
{
    const json_t *p = json_object_get(o->props, "bgp_router_parameters");
    memset(r, 0, sizeof *r);
    r->name = cc_strdup(last_element(o));
    r->fq_name = cc_strdup(o->fq_str);
    r->uuid = cc_strdup(o->uuid);
    r->router_type = cc_strdup(jstr(p, "router_type") ? jstr(p, "router_type") : "");
    r->vendor = cc_strdup(jstr(p, "vendor") ? jstr(p, "vendor") : "");
    r->identifier = cc_strdup(jstr(p, "identifier") ? jstr(p, "identifier") : "");
    r->address = cc_strdup(jstr(p, "address") ? jstr(p, "address") : "");
    r->port = (int) jint(p, "port", 0);
    r->source_port = (int) jint(p, "source_port", 0);
    r->asn = (uint32_t) jint(p, "autonomous_system", 0);
    r->local_asn = (uint32_t) jint(p, "local_autonomous_system", 0);
    r->hold_time = (int) jint(p, "hold_time", 0);
    r->cluster_id = (uint32_t) jint(p, "cluster_id", 0);
    r->admin_down = jbool(p, "admin_down", false);
    families_from_json(&r->families, &r->n_families, json_object_get(p, "address_families"));
    auth_from_json(&r->auth, json_object_get(p, "auth_data"));
}

json_t *
ctl_config_router_to_json(const struct ctl_config_router *r)
{
    return xjson_pack("{sssssssssssssssisisIsIsisIsbsoso}",
                      "name", r->name, "fq_name", r->fq_name, "uuid", r->uuid,
                      "router_type", r->router_type, "vendor", r->vendor,
                      "identifier", r->identifier, "address", r->address,
                      "port", r->port, "source_port", r->source_port,
                      "autonomous_system", (json_int_t) r->asn,
                      "local_autonomous_system", (json_int_t) r->local_asn,
                      "hold_time", r->hold_time, "cluster_id", (json_int_t) r->cluster_id,
                      "admin_down", r->admin_down,
                      "address_families", strv_to_json(r->families, r->n_families),
                      "auth", auth_to_json(&r->auth));
}

/* ---- Peers. ---- */

static void
peer_clear(struct ctl_config_peer *p)
{
    mem_free(&mem_type_ctl_config, p->name);
    mem_free(&mem_type_ctl_config, p->fq_name);
    mem_free(&mem_type_ctl_config, p->uuid);
    mem_free(&mem_type_ctl_config, p->router_type);
    mem_free(&mem_type_ctl_config, p->vendor);
    mem_free(&mem_type_ctl_config, p->identifier);
    mem_free(&mem_type_ctl_config, p->address);
    strv_free(p->families, p->n_families);
    auth_clear(&p->auth);
    memset(p, 0, sizeof *p);
}

/* The session attributes that apply to the session between LOCAL_NAME and the peer, from
 * BgpPeeringAttributes ATTR: the first session's entry for both ends (no bgp_router), else
 * its entry naming the local router. */
static const json_t *
session_attributes(const json_t *attr, const char *local_name)
{
    const json_t *session = json_array_get(json_object_get(attr, "session"), 0);
    const json_t *list = json_object_get(session, "attributes");
    const json_t *common = NULL, *local = NULL, *a;
    size_t i;
    json_array_foreach (list, i, a) {
        const char *br = jstr(a, "bgp_router");
        if (!br || !*br) {
            common = common ? common : a;
        } else if (!strcmp(br, local_name)) {
            local = local ? local : a;
        }
    }
    return common ? common : local;
}

static void
peer_from_objs(struct ctl_config_peer *p, const struct cfg_obj *self, const struct cfg_obj *o,
               const json_t *attr)
{
    const json_t *params = json_object_get(o->props, "bgp_router_parameters");
    const json_t *local = json_object_get(self->props, "bgp_router_parameters");
    memset(p, 0, sizeof *p);
    p->name = cc_strdup(last_element(o));
    p->fq_name = cc_strdup(o->fq_str);
    p->uuid = cc_strdup(o->uuid);
    p->router_type = cc_strdup(jstr(params, "router_type") ? jstr(params, "router_type") : "");
    p->vendor = cc_strdup(jstr(params, "vendor") ? jstr(params, "vendor") : "");
    p->identifier = cc_strdup(jstr(params, "identifier") ? jstr(params, "identifier") : "");
    p->address = cc_strdup(jstr(params, "address") ? jstr(params, "address") : "");
    p->port = (int) jint(params, "port", 0);
    p->source_port = (int) jint(params, "source_port", 0);
    json_int_t las = jint(params, "local_autonomous_system", 0);
    p->asn = (uint32_t) (las ? las : jint(params, "autonomous_system", 0));
    p->hold_time = (int) jint(params, "hold_time", 0);
    p->admin_down = jbool(params, "admin_down", false) || jbool(local, "admin_down", false);

    const json_t *sa = session_attributes(attr, last_element(self));
    if (sa) {
        p->passive = jbool(sa, "passive", false);
        p->as_override = jbool(sa, "as_override", false);
        p->loop_count = (int) jint(sa, "loop_count", 0);
        p->admin_down |= jbool(sa, "admin_down", false);
        if (jint(sa, "hold_time", 0)) {
            p->hold_time = (int) jint(sa, "hold_time", 0);
        }
        size_t i;
        const json_t *fa;
        json_array_foreach (json_object_get(sa, "family_attributes"), i, fa) {
            strv_add(&p->families, &p->n_families, jstr(fa, "address_family"));
        }
        families_from_json(&p->families, &p->n_families,
                           json_object_get(sa, "address_families"));
        auth_from_json(&p->auth, json_object_get(sa, "auth_data"));
    }

    /* Families both ends have: ours (else the defaults) that the peer lists, or all of them
     * when it lists none. */
    char **remote = NULL;
    size_t n_remote = 0;
    families_from_json(&remote, &n_remote, json_object_get(params, "address_families"));
    for (int pass = 0; pass < 2 && !p->n_families; pass++) {
        char **mine = NULL;
        size_t n_mine = 0;
        if (pass == 0) {
            families_from_json(&mine, &n_mine, json_object_get(local, "address_families"));
        } else {
            strv_add(&mine, &n_mine, "inet");
            strv_add(&mine, &n_mine, "inet-vpn");
        }
        for (size_t i = 0; i < n_mine; i++) {
            if (!n_remote || strv_has(remote, n_remote, mine[i])) {
                strv_add(&p->families, &p->n_families, mine[i]);
            }
        }
        strv_free(mine, n_mine);
    }
    strv_free(remote, n_remote);
    if (!p->auth.key_type) {
        auth_from_json(&p->auth, json_object_get(local, "auth_data"));
    }
}

json_t *
ctl_config_peer_to_json(const struct ctl_config_peer *p)
{
    return xjson_pack("{sssssssssssssssisisIsisbsbsbsisoso}",
                      "name", p->name, "fq_name", p->fq_name, "uuid", p->uuid,
                      "router_type", p->router_type, "vendor", p->vendor,
                      "identifier", p->identifier, "address", p->address,
                      "port", p->port, "source_port", p->source_port,
                      "autonomous_system", (json_int_t) p->asn, "hold_time", p->hold_time,
                      "admin_down", p->admin_down, "passive", p->passive,
                      "as_override", p->as_override, "loop_count", p->loop_count,
                      "address_families", strv_to_json(p->families, p->n_families),
                      "auth", auth_to_json(&p->auth));
}

static struct peer_entry *
peer_find(const struct hmap *h, const char *fq)
{
    struct peer_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_string(fq, 0), h) {
        if (!strcmp(e->p.fq_name, fq)) {
            return e;
        }
    }
    return NULL;
}

static void
peer_entry_free(struct peer_entry *e)
{
    peer_clear(&e->p);
    json_decref(e->json);
    mem_free(&mem_type_ctl_config, e);
}

/* Adds the peering of SELF with O (attribute ATTR) to NEW unless there already. */
static bool
is_control_node(const struct cfg_obj *o)
{
    const json_t *p = json_object_get(o->props, "bgp_router_parameters");
    const char *t = jstr(p, "router_type");
    return t && !strcmp(t, "control-node");
}

static int64_t
router_asn(const struct cfg_obj *o)
{
    return jint(json_object_get(o->props, "bgp_router_parameters"), "autonomous_system", 0);
}

static void
collect_peer(struct hmap *new_, const struct cfg_obj *self, const struct cfg_obj *o,
             const json_t *attr)
{
    if (!cfg_obj_exists(o) || o == self || peer_find(new_, o->fq_str)) {
        return;
    }
    struct peer_entry *e = mem_zalloc(&mem_type_ctl_config, sizeof *e);
    peer_from_objs(&e->p, self, o, attr);
    e->json = ctl_config_peer_to_json(&e->p);
    hmap_insert(new_, &e->node, hash_string(e->p.fq_name, 0));
}

static void
emit_peer(struct ctl_config *cc, enum ctl_config_op op, const struct ctl_config_peer *p)
{
    if (cc->hooks.peer) {
        cc->hooks.peer(cc->aux, op, p);
    }
}

static void
emit_self(struct ctl_config *cc, enum ctl_config_op op)
{
    if (cc->hooks.self) {
        cc->hooks.self(cc->aux, op, &cc->self);
    }
}

/* Recomputes this router and its peers (a handful of objects: the router and its
 * neighbours). */
static void
update_bgp(struct ctl_config *cc)
{
    const struct cfg_obj *self = cfg_graph_find(cc->graph, cc->bgp_id, cc->self_fq);
    if (self && !cfg_obj_exists(self)) {
        self = NULL;
    }

    struct hmap new_;
    hmap_init(&new_);
    if (self) {
        const struct cfg_ref *r;
        LIST_FOR_EACH (r, from_node, &self->refs) {
            if (r->to->ident == cc->bgp_id) {
                collect_peer(&new_, self, r->to, r->attr);
            }
        }
        LIST_FOR_EACH (r, to_node, &self->back_refs) {
            if (r->from->ident == cc->bgp_id) {
                collect_peer(&new_, self, r->from, r->attr);
            }
        }
        /* ibgp-auto-mesh (default on): a control node peers with every other control node
         * of its AS, as the mesh the original's schema transformer wrote would say. */
        bool mesh = cc->global_json ? cc->global.ibgp_auto_mesh : true;
        if (mesh && is_control_node(self)) {
            const struct cfg_obj *o;
            LIST_FOR_EACH (o, type_node, cfg_graph_objects(cc->graph, cc->bgp_id)) {
                if (o != self && cfg_obj_exists(o) && is_control_node(o)
                    && router_asn(o) == router_asn(self)) {
                    collect_peer(&new_, self, o, NULL);
                }
            }
        }
    }

    /* This router first when it comes or changes, last when it goes. */
    if (self) {
        struct ctl_config_router nr;
        router_from_obj(&nr, self);
        json_t *j = ctl_config_router_to_json(&nr);
        if (!cc->self_json || !json_equal(j, cc->self_json)) {
            enum ctl_config_op op = cc->self_json ? CTL_CONFIG_CHANGE : CTL_CONFIG_ADD;
            router_clear(&cc->self);
            json_decref(cc->self_json);
            cc->self = nr;
            cc->self_json = j;
            emit_self(cc, op);
        } else {
            router_clear(&nr);
            json_decref(j);
        }
    }

    struct peer_entry *e, *old;
    HMAP_FOR_EACH_SAFE (old, node, &cc->peers) {
        if (!peer_find(&new_, old->p.fq_name)) {
            hmap_remove(&cc->peers, &old->node);
            emit_peer(cc, CTL_CONFIG_DELETE, &old->p);
            peer_entry_free(old);
        }
    }
    HMAP_FOR_EACH_SAFE (e, node, &new_) {
        hmap_remove(&new_, &e->node);
        old = peer_find(&cc->peers, e->p.fq_name);
        if (old && json_equal(old->json, e->json)) {
            peer_entry_free(e);
            continue;
        }
        if (old) {
            hmap_remove(&cc->peers, &old->node);
            peer_entry_free(old);
        }
        hmap_insert(&cc->peers, &e->node, hash_string(e->p.fq_name, 0));
        emit_peer(cc, old ? CTL_CONFIG_CHANGE : CTL_CONFIG_ADD, &e->p);
    }
    hmap_destroy(&new_);

    if (!self && cc->self_json) {
        json_decref(cc->self_json);
        cc->self_json = NULL;
        emit_self(cc, CTL_CONFIG_DELETE);
        router_clear(&cc->self);
    }
}

/* ---- Routing instances. ---- */

static void
instance_clear(struct ctl_config_instance *i)
{
    mem_free(&mem_type_ctl_config, i->name);
    mem_free(&mem_type_ctl_config, i->uuid);
    mem_free(&mem_type_ctl_config, i->vn_name);
    strv_free(i->import_targets, i->n_import_targets);
    strv_free(i->export_targets, i->n_export_targets);
    memset(i, 0, sizeof *i);
}

static void
instance_from_obj(const struct ctl_config *cc, struct ctl_config_instance *i,
                  const struct cfg_obj *o)
{
    memset(i, 0, sizeof *i);
    i->name = cc_strdup(o->fq_str);
    i->uuid = cc_strdup(o->uuid);
    if (o->parent && o->parent->ident == cc->vn_id) {
        i->vn_name = cc_strdup(o->parent->fq_str);
        i->vn_index = jint(o->parent->props, "virtual_network_network_id", 0);
    }
    i->is_default = jbool(o->props, "routing_instance_is_default", false);
    i->is_master = !strcmp(o->fq_str, CTL_CONFIG_MASTER_INSTANCE);
    const struct cfg_ref *r;
    LIST_FOR_EACH (r, from_node, &o->refs) {
        if (r->to->ident == cc->ri_id && cfg_obj_exists(r->to)) {
            /* A connection (the schema transformer's, for a policy between networks): the
             * connected instance's export targets are imported here too, as the original's
             * bgp_config_ifmap did. */
            const struct cfg_ref *t;
            LIST_FOR_EACH (t, from_node, &r->to->refs) {
                const char *ie = jstr(t->attr, "import_export");
                if (t->to->ident == cc->rt_id && (!ie || strcmp(ie, "import"))
                    && !strv_has(i->import_targets, i->n_import_targets, t->to->fq_str)) {
                    strv_add(&i->import_targets, &i->n_import_targets, t->to->fq_str);
                }
            }
            continue;
        }
        if (r->to->ident != cc->rt_id) {
            continue;
        }
        const char *ie = jstr(r->attr, "import_export");
        if ((!ie || strcmp(ie, "export"))
            && !strv_has(i->import_targets, i->n_import_targets, r->to->fq_str)) {
            strv_add(&i->import_targets, &i->n_import_targets, r->to->fq_str);
        }
        if (!ie || strcmp(ie, "import")) {
            strv_add(&i->export_targets, &i->n_export_targets, r->to->fq_str);
        }
    }
    if (i->n_import_targets) {
        qsort(i->import_targets, i->n_import_targets, sizeof *i->import_targets, cmp_str);
    }
    if (i->n_export_targets) {
        qsort(i->export_targets, i->n_export_targets, sizeof *i->export_targets, cmp_str);
    }
}

json_t *
ctl_config_instance_to_json(const struct ctl_config_instance *i)
{
    return xjson_pack("{sssssosIsbsbsoso}", "name", i->name, "uuid", i->uuid,
                      "virtual_network", i->vn_name ? json_string(i->vn_name) : json_null(),
                      "virtual_network_index", (json_int_t) i->vn_index,
                      "is_default", i->is_default, "is_master", i->is_master,
                      "import_targets", strv_to_json(i->import_targets, i->n_import_targets),
                      "export_targets", strv_to_json(i->export_targets, i->n_export_targets));
}

static struct inst_entry *
inst_find(const struct hmap *h, const char *name)
{
    struct inst_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_string(name, 0), h) {
        if (!strcmp(e->i.name, name)) {
            return e;
        }
    }
    return NULL;
}

static void
inst_entry_free(struct inst_entry *e)
{
    instance_clear(&e->i);
    json_decref(e->json);
    mem_free(&mem_type_ctl_config, e);
}

static void
emit_instance(struct ctl_config *cc, enum ctl_config_op op, const struct ctl_config_instance *i)
{
    if (cc->hooks.instance) {
        cc->hooks.instance(cc->aux, op, i);
    }
}

/* Brings the reported instance NAME in line with O (NULL or not existing: gone). */
static void
update_instance(struct ctl_config *cc, const char *name, const struct cfg_obj *o)
{
    struct inst_entry *old = inst_find(&cc->instances, name);
    if (!o || !cfg_obj_exists(o)) {
        if (old) {
            hmap_remove(&cc->instances, &old->node);
            emit_instance(cc, CTL_CONFIG_DELETE, &old->i);
            inst_entry_free(old);
        }
        return;
    }
    struct inst_entry *e = mem_zalloc(&mem_type_ctl_config, sizeof *e);
    instance_from_obj(cc, &e->i, o);
    e->json = ctl_config_instance_to_json(&e->i);
    if (old && json_equal(old->json, e->json)) {
        inst_entry_free(e);
        return;
    }
    if (old) {
        hmap_remove(&cc->instances, &old->node);
        inst_entry_free(old);
    }
    hmap_insert(&cc->instances, &e->node, hash_string(e->i.name, 0));
    emit_instance(cc, old ? CTL_CONFIG_CHANGE : CTL_CONFIG_ADD, &e->i);
}

/* ---- The module. ---- */

struct ctl_config *
ctl_config_create(struct cfg_graph *graph, const char *hostname,
                  const struct ctl_config_hooks *hooks, void *aux)
{
    const struct schema *s = cfg_graph_schema(graph);
    struct ctl_config *cc = mem_zalloc(&mem_type_ctl_config, sizeof *cc);
    cc->graph = graph;
    cc->gsc_id = schema_ident(s, "global-system-config");
    cc->bgp_id = schema_ident(s, "bgp-router");
    cc->ri_id = schema_ident(s, "routing-instance");
    cc->vn_id = schema_ident(s, "virtual-network");
    cc->rt_id = schema_ident(s, "route-target");
    cc->hostname = cc_strdup(hostname);
    cc->self_fq = mem_asprintf(&mem_type_ctl_config, "%s:%s", CTL_CONFIG_MASTER_INSTANCE,
                               hostname);
    cc->hooks = *hooks;
    cc->aux = aux;
    cfg_obj_set_init(&cc->dirty_ris);
    hmap_init(&cc->peers);
    hmap_init(&cc->instances);
    return cc;
}

void
ctl_config_destroy(struct ctl_config *cc)
{
    if (!cc) {
        return;
    }
    cfg_obj_set_clear(&cc->dirty_ris, cc->graph);
    cfg_obj_set_destroy(&cc->dirty_ris);
    struct peer_entry *p;
    HMAP_FOR_EACH_SAFE (p, node, &cc->peers) {
        hmap_remove(&cc->peers, &p->node);
        peer_entry_free(p);
    }
    hmap_destroy(&cc->peers);
    struct inst_entry *i;
    HMAP_FOR_EACH_SAFE (i, node, &cc->instances) {
        hmap_remove(&cc->instances, &i->node);
        inst_entry_free(i);
    }
    hmap_destroy(&cc->instances);
    router_clear(&cc->self);
    json_decref(cc->self_json);
    json_decref(cc->global_json);
    mem_free(&mem_type_ctl_config, cc->hostname);
    mem_free(&mem_type_ctl_config, cc->self_fq);
    mem_free(&mem_type_ctl_config, cc);
}

static void
mark_network(struct ctl_config *cc, struct cfg_obj *vn)
{
    struct cfg_obj *c;
    LIST_FOR_EACH (c, child_node, &vn->children) {
        if (c->ident == cc->ri_id) {
            cfg_obj_set_add(&cc->dirty_ris, c);
        }
    }
}

void
ctl_config_graph_changed(struct ctl_config *cc, struct cfg_obj *o, enum cfg_change what,
                         const char *field, struct cfg_obj *other)
{
    if (!cc->synced) {
        return;                     /* ctl_config_synced() looks at everything. */
    }
    if (o->ident == cc->gsc_id) {
        cc->global_dirty = true;
        cc->bgp_dirty = true;       /* ibgp-auto-mesh may have changed. */
    } else if (o->ident == cc->bgp_id) {
        /* Its parameters, existence or peerings (a peering is reported on the referrer
         * only, which is a bgp-router too). */
        cc->bgp_dirty = true;
    } else if (o->ident == cc->ri_id) {
        /* Its properties, its network (parent), its route-target refs or its connections;
         * the instances connected to it import its export targets. */
        cfg_obj_set_add(&cc->dirty_ris, o);
        const struct cfg_ref *r;
        LIST_FOR_EACH (r, to_node, &o->back_refs) {
            if (r->from->ident == cc->ri_id) {
                cfg_obj_set_add(&cc->dirty_ris, r->from);
            }
        }
        if (other && other->ident == cc->ri_id) {
            cfg_obj_set_add(&cc->dirty_ris, other);
        }
    } else if (o->ident == cc->vn_id) {
        if (what == CFG_CHANGE_EXISTS
            || (what == CFG_CHANGE_PROP && !strcmp(field, "virtual_network_network_id"))) {
            mark_network(cc, o);
        }
    }
}

void
ctl_config_flush(struct ctl_config *cc)
{
    if (!cc->synced) {
        return;
    }
    if (cc->global_dirty) {
        cc->global_dirty = false;
        update_global(cc);
    }
    if (cc->bgp_dirty) {
        cc->bgp_dirty = false;
        update_bgp(cc);
    }
    struct cfg_obj_set_node *n;
    CFG_OBJ_SET_FOR_EACH (n, &cc->dirty_ris) {
        update_instance(cc, n->obj->fq_str, n->obj);
    }
    cfg_obj_set_clear(&cc->dirty_ris, cc->graph);
    if (cc->full) {
        /* Instances reported before a new session that the new graph lacks. */
        cc->full = false;
        struct inst_entry *e;
        HMAP_FOR_EACH_SAFE (e, node, &cc->instances) {
            const struct cfg_obj *o = cfg_graph_find(cc->graph, cc->ri_id, e->i.name);
            if (!o || !cfg_obj_exists(o)) {
                update_instance(cc, e->i.name, NULL);
            }
        }
    }
}

void
ctl_config_reset(struct ctl_config *cc)
{
    cc->synced = false;
    cfg_obj_set_clear(&cc->dirty_ris, cc->graph);
}

void
ctl_config_synced(struct ctl_config *cc)
{
    cc->synced = true;
    cc->full = true;
    cc->global_dirty = cc->bgp_dirty = true;
    struct cfg_obj *o;
    LIST_FOR_EACH (o, type_node, cfg_graph_objects(cc->graph, cc->ri_id)) {
        cfg_obj_set_add(&cc->dirty_ris, o);
    }
    ctl_config_flush(cc);
}

const struct ctl_config_global *
ctl_config_get_global(const struct ctl_config *cc)
{
    return cc->global_json ? &cc->global : NULL;
}

const struct ctl_config_router *
ctl_config_get_self(const struct ctl_config *cc)
{
    return cc->self_json ? &cc->self : NULL;
}

const struct ctl_config_peer *
ctl_config_find_peer(const struct ctl_config *cc, const char *name)
{
    struct peer_entry *e;
    HMAP_FOR_EACH (e, node, &cc->peers) {
        if (!strcmp(e->p.name, name) || !strcmp(e->p.fq_name, name)) {
            return &e->p;
        }
    }
    return NULL;
}

const struct ctl_config_instance *
ctl_config_find_instance(const struct ctl_config *cc, const char *name)
{
    const struct inst_entry *e = inst_find(&cc->instances, name);
    return e ? &e->i : NULL;
}

size_t
ctl_config_n_peers(const struct ctl_config *cc)
{
    return hmap_count(&cc->peers);
}

size_t
ctl_config_n_instances(const struct ctl_config *cc)
{
    return hmap_count(&cc->instances);
}

json_t *
ctl_config_to_json(const struct ctl_config *cc)
{
    json_t *peers = json_object(), *insts = json_object();
    struct peer_entry *p;
    HMAP_FOR_EACH (p, node, &cc->peers) {
        json_object_set(peers, p->p.name, p->json);
    }
    struct inst_entry *i;
    HMAP_FOR_EACH (i, node, &cc->instances) {
        json_object_set(insts, i->i.name, i->json);
    }
    return xjson_pack("{sOsOsoso}", "global", cc->global_json ? cc->global_json : json_null(),
                      "self", cc->self_json ? cc->self_json : json_null(),
                      "peers", peers, "instances", insts);
}

/* ---- Route targets. ---- */

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!*s || *s == '-' || *s == '+') {
        return false;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool
ctl_config_parse_target(const char *s, uint64_t *rt)
{
    if (strncmp(s, "target:", 7)) {
        return false;
    }
    const char *admin = s + 7, *colon = strrchr(admin, ':');
    if (!colon || colon == admin) {
        return false;
    }
    char a[64];
    size_t alen = (size_t) (colon - admin);
    if (alen >= sizeof a) {
        return false;
    }
    memcpy(a, admin, alen);
    a[alen] = '\0';
    uint64_t n, asn;
    struct in_addr ip;
    if (strchr(a, '.')) {
        if (inet_pton(AF_INET, a, &ip) != 1 || !parse_u64(colon + 1, 0xffff, &n)) {
            return false;
        }
        *rt = (0x0102ULL << 48) | ((uint64_t) ntohl(ip.s_addr) << 16) | n;
        return true;
    }
    if (!parse_u64(a, 0xffffffffULL, &asn) || !parse_u64(colon + 1, 0xffffffffULL, &n)) {
        return false;
    }
    if (asn <= 0xffff) {
        *rt = (0x0002ULL << 48) | (asn << 32) | n;
        return true;
    }
    if (n > 0xffff) {
        return false;
    }
    *rt = (0x0202ULL << 48) | (asn << 16) | n;
    return true;
}
