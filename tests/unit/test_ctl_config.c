/* Unit tests for control/config/ctl_config: contrail-control's own config derived from a
 * hand-built config graph. */
#include "ctl_config.h"

#include <stdio.h>
#include <string.h>

#include "cfg_graph_build.h"
#include "check.h"
#include "mem.h"
#include "schema.h"

#define MASTER CTL_CONFIG_MASTER_INSTANCE

struct rec {
    json_t *events;             /* ["op kind name", ...] since the last take. */
    json_t *last;               /* kind -> JSON of the last value reported. */
};

static struct ctl_config *cc_global;

static void
graph_changed(void *aux, struct cfg_obj *o, enum cfg_change what, const char *field,
              struct cfg_obj *other)
{
    (void) aux;
    if (cc_global) {
        ctl_config_graph_changed(cc_global, o, what, field, other);
    }
}

static void
record(struct rec *r, const char *kind, enum ctl_config_op op, const char *name, json_t *v)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s %s %s", ctl_config_op_name(op), kind, name);
    json_array_append_new(r->events, json_string(buf));
    json_object_set_new(r->last, name, v);
}

static void
on_global(void *aux, enum ctl_config_op op, const struct ctl_config_global *g)
{
    record(aux, "global", op, "global", ctl_config_global_to_json(g));
}

static void
on_self(void *aux, enum ctl_config_op op, const struct ctl_config_router *r)
{
    record(aux, "self", op, r->name, ctl_config_router_to_json(r));
}

static void
on_peer(void *aux, enum ctl_config_op op, const struct ctl_config_peer *p)
{
    record(aux, "peer", op, p->name, ctl_config_peer_to_json(p));
}

static void
on_instance(void *aux, enum ctl_config_op op, const struct ctl_config_instance *i)
{
    record(aux, "instance", op, i->name, ctl_config_instance_to_json(i));
}

static const struct ctl_config_hooks hooks = {
    .global = on_global, .self = on_self, .peer = on_peer, .instance = on_instance,
};

/* The events since the last call, sorted, joined with '|'. */
static char *
take(struct rec *r)
{
    size_t n = json_array_size(r->events);
    const char **v = calloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_string_value(json_array_get(r->events, i));
    }
    static char out[8192];
    out[0] = '\0';
    /* Insertion sort: a few entries. */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
            const char *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            strncat(out, "|", sizeof out - strlen(out) - 1);
        }
        strncat(out, v[i], sizeof out - strlen(out) - 1);
    }
    free(v);
    json_array_clear(r->events);
    return out;
}

static const char *
last_str(struct rec *r, const char *name, const char *field)
{
    return json_string_value(json_object_get(json_object_get(r->last, name), field));
}

static long long
last_int(struct rec *r, const char *name, const char *field)
{
    return json_integer_value(json_object_get(json_object_get(r->last, name), field));
}

static bool
last_bool(struct rec *r, const char *name, const char *field)
{
    return json_is_true(json_object_get(json_object_get(r->last, name), field));
}

static char *
last_dump(struct rec *r, const char *name, const char *field)
{
    static char out[1024];
    char *s = json_dumps(json_object_get(json_object_get(r->last, name), field), JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(out, sizeof out, "%s", s ? s : "");
    free(s);
    return out;
}

static const char *control1_params =
    "{\"router_type\": \"control-node\", \"vendor\": \"contrail\", \"autonomous_system\": 64512,"
    " \"identifier\": \"10.0.0.1\", \"address\": \"10.0.0.1\", \"port\": 179,"
    " \"hold_time\": 90, \"address_families\": {\"family\": [\"route-target\", \"inet-vpn\","
    " \"e-vpn\", \"erm-vpn\", \"inet6-vpn\"]},"
    " \"auth_data\": {\"key_type\": \"md5\", \"key_items\": [{\"key_id\": 0, \"key\": \"s3\"}]}}";

static void
build_world(struct cfg_graph *g)
{
    struct cfg_obj *gsc = build_obj(g, "global-system-config", "default-global-system-config",
                                    "00000000-0000-0000-0000-000000000001", NULL);
    build_prop(g, gsc, "autonomous_system", "64512");
    build_prop(g, gsc, "graceful_restart_parameters",
               "{\"enable\": true, \"restart_time\": 60, \"xmpp_helper_enable\": true}");

    struct cfg_obj *fabric = build_obj(g, "virtual-network",
                                       "default-domain:default-project:ip-fabric",
                                       "00000000-0000-0000-0000-000000000002", NULL);
    build_prop(g, fabric, "virtual_network_network_id", "1");
    struct cfg_obj *master = build_obj(g, "routing-instance", MASTER,
                                       "00000000-0000-0000-0000-000000000003", fabric);
    build_prop(g, master, "routing_instance_is_default", "true");

    struct cfg_obj *c1 = build_obj(g, "bgp-router", MASTER ":control1",
                                   "00000000-0000-0000-0000-000000000011", master);
    build_prop(g, c1, "bgp_router_parameters", control1_params);
    struct cfg_obj *c2 = build_obj(g, "bgp-router", MASTER ":control2",
                                   "00000000-0000-0000-0000-000000000012", master);
    build_prop(g, c2, "bgp_router_parameters",
               "{\"router_type\": \"control-node\", \"autonomous_system\": 64512,"
               " \"identifier\": \"10.0.0.2\", \"address\": \"10.0.0.2\", \"port\": 179}");
    struct cfg_obj *mx = build_obj(g, "bgp-router", MASTER ":mx1",
                                   "00000000-0000-0000-0000-000000000013", master);
    build_prop(g, mx, "bgp_router_parameters",
               "{\"router_type\": \"router\", \"vendor\": \"mx\", \"autonomous_system\": 65000,"
               " \"local_autonomous_system\": 64999, \"identifier\": \"10.0.0.254\","
               " \"address\": \"10.0.0.254\", \"hold_time\": 60,"
               " \"address_families\": {\"family\": [\"inet-vpn\", \"route-target\"]}}");
    /* Unrelated: a router nobody peers with. */
    struct cfg_obj *lone = build_obj(g, "bgp-router", MASTER ":lone",
                                     "00000000-0000-0000-0000-000000000014", master);
    build_prop(g, lone, "bgp_router_parameters",
               "{\"router_type\": \"router\", \"autonomous_system\": 1,"
               " \"identifier\": \"1.1.1.1\", \"address\": \"1.1.1.1\"}");

    /* control1 -> control2: a session for both ends; mx1 -> control1: one naming control1. */
    build_ref(g, c1, c2,
              "{\"session\": [{\"uuid\": \"s1\", \"attributes\": [{\"address_families\":"
              " {\"family\": [\"inet-vpn\", \"route-target\"]}, \"hold_time\": 30}]}]}");
    build_ref(g, mx, c1,
              "{\"session\": [{\"uuid\": \"s2\", \"attributes\": [{\"bgp_router\": \"mx1\","
              " \"passive\": true}, {\"bgp_router\": \"control1\", \"passive\": true,"
              " \"auth_data\": {\"key_type\": \"md5\", \"key_items\": [{\"key_id\": 0,"
              " \"key\": \"mxkey\"}]}}]}]}");

    struct cfg_obj *vn1 = build_obj(g, "virtual-network", "default-domain:admin:vn1",
                                    "00000000-0000-0000-0000-000000000021", NULL);
    build_prop(g, vn1, "virtual_network_network_id", "5");
    struct cfg_obj *ri1 = build_obj(g, "routing-instance", "default-domain:admin:vn1:vn1",
                                    "00000000-0000-0000-0000-000000000022", vn1);
    build_prop(g, ri1, "routing_instance_is_default", "true");
    struct cfg_obj *rt1 = build_obj(g, "route-target", "target:64512:8000001",
                                    "00000000-0000-0000-0000-000000000031", NULL);
    struct cfg_obj *rt2 = build_obj(g, "route-target", "target:64512:100",
                                    "00000000-0000-0000-0000-000000000032", NULL);
    struct cfg_obj *rt3 = build_obj(g, "route-target", "target:64512:200",
                                    "00000000-0000-0000-0000-000000000033", NULL);
    build_ref(g, ri1, rt1, "{}");
    build_ref(g, ri1, rt2, "{\"import_export\": \"import\"}");
    build_ref(g, ri1, rt3, "{\"import_export\": \"export\"}");
}

static void
test_initial(struct cfg_graph *g, struct ctl_config *cc, struct rec *r)
{
    build_world(g);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "");              /* Nothing before the graph is complete. */
    ctl_config_synced(cc);
    CHECK_STREQ(take(r), "add global global"
                "|add instance default-domain:admin:vn1:vn1"
                "|add instance " MASTER
                "|add peer control2|add peer mx1|add self control1");

    CHECK_EQ_INT(last_int(r, "global", "autonomous_system"), 64512);
    CHECK(last_bool(r, "global", "ibgp_auto_mesh"));
    CHECK_STREQ(last_dump(r, "global", "graceful_restart"),
                "{\"enable\":true,\"restart_time\":60,\"long_lived_restart_time\":300,"
                "\"end_of_rib_timeout\":300,\"bgp_helper_enable\":false,"
                "\"xmpp_helper_enable\":true}");

    CHECK_STREQ(last_str(r, "control1", "identifier"), "10.0.0.1");
    CHECK_STREQ(last_str(r, "control1", "router_type"), "control-node");
    CHECK_EQ_INT(last_int(r, "control1", "hold_time"), 90);
    CHECK_STREQ(last_dump(r, "control1", "auth"), "{\"key_type\":\"md5\",\"key\":\"s3\"}");

    /* control2: the common session attributes. */
    CHECK_STREQ(last_str(r, "control2", "address"), "10.0.0.2");
    CHECK_EQ_INT(last_int(r, "control2", "hold_time"), 30);
    CHECK_STREQ(last_dump(r, "control2", "address_families"), "[\"inet-vpn\",\"route-target\"]");
    CHECK(!last_bool(r, "control2", "passive"));
    CHECK_STREQ(last_dump(r, "control2", "auth"), "{\"key_type\":\"md5\",\"key\":\"s3\"}");

    /* mx1: the attributes naming control1; families ours that it has; its local AS. */
    CHECK_EQ_INT(last_int(r, "mx1", "autonomous_system"), 64999);
    CHECK_EQ_INT(last_int(r, "mx1", "hold_time"), 60);
    CHECK(last_bool(r, "mx1", "passive"));
    CHECK_STREQ(last_dump(r, "mx1", "address_families"), "[\"route-target\",\"inet-vpn\"]");
    CHECK_STREQ(last_dump(r, "mx1", "auth"), "{\"key_type\":\"md5\",\"key\":\"mxkey\"}");
    CHECK_STREQ(last_str(r, "mx1", "router_type"), "router");

    const char *vn1ri = "default-domain:admin:vn1:vn1";
    CHECK_STREQ(last_str(r, vn1ri, "virtual_network"), "default-domain:admin:vn1");
    CHECK_EQ_INT(last_int(r, vn1ri, "virtual_network_index"), 5);
    CHECK(last_bool(r, vn1ri, "is_default"));
    CHECK(!last_bool(r, vn1ri, "is_master"));
    CHECK_STREQ(last_dump(r, vn1ri, "import_targets"),
                "[\"target:64512:100\",\"target:64512:8000001\"]");
    CHECK_STREQ(last_dump(r, vn1ri, "export_targets"),
                "[\"target:64512:200\",\"target:64512:8000001\"]");
    CHECK(last_bool(r, MASTER, "is_master"));
    CHECK_EQ_INT(last_int(r, MASTER, "virtual_network_index"), 1);

    CHECK(ctl_config_get_self(cc) != NULL);
    CHECK_EQ_INT(ctl_config_n_peers(cc), 2);
    CHECK_EQ_INT(ctl_config_n_instances(cc), 2);
    CHECK(ctl_config_find_peer(cc, "mx1") != NULL);
    CHECK(ctl_config_find_peer(cc, "lone") == NULL);
}

static struct cfg_obj *
find(struct cfg_graph *g, const char *type, const char *fq)
{
    return cfg_graph_find(g, schema_ident(cfg_graph_schema(g), type), fq);
}

static void
test_changes(struct cfg_graph *g, struct ctl_config *cc, struct rec *r)
{
    /* Global. */
    build_prop(g, find(g, "global-system-config", "default-global-system-config"),
               "autonomous_system", "64513");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change global global");
    CHECK_EQ_INT(last_int(r, "global", "autonomous_system"), 64513);
    build_prop(g, find(g, "global-system-config", "default-global-system-config"),
               "ibgp_auto_mesh", "false");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change global global");
    CHECK(!last_bool(r, "global", "ibgp_auto_mesh"));

    /* A change that does not touch what is derived reports nothing. */
    build_prop(g, find(g, "global-system-config", "default-global-system-config"),
               "display_name", "\"x\"");
    build_prop(g, find(g, "routing-instance", "default-domain:admin:vn1:vn1"),
               "display_name", "\"y\"");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "");

    /* A peer's parameters. */
    struct cfg_obj *c2 = find(g, "bgp-router", MASTER ":control2");
    build_prop(g, c2, "bgp_router_parameters",
               "{\"router_type\": \"control-node\", \"autonomous_system\": 64512,"
               " \"identifier\": \"10.0.0.2\", \"address\": \"10.0.0.22\", \"port\": 1179}");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change peer control2");
    CHECK_STREQ(last_str(r, "control2", "address"), "10.0.0.22");
    CHECK_EQ_INT(last_int(r, "control2", "port"), 1179);

    /* The session attribute changes: admin down. */
    struct cfg_obj *c1 = find(g, "bgp-router", MASTER ":control1");
    build_ref(g, c1, c2, "{\"session\": [{\"attributes\": [{\"admin_down\": true}]}]}");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change peer control2");
    CHECK(last_bool(r, "control2", "admin_down"));
    /* No session families: ours the peer lists (none: all of ours); our hold time unused. */
    CHECK_STREQ(last_dump(r, "control2", "address_families"),
                "[\"route-target\",\"inet-vpn\",\"e-vpn\",\"erm-vpn\",\"inet6-vpn\"]");
    CHECK_EQ_INT(last_int(r, "control2", "hold_time"), 0);

    /* A new peering, from the unrelated router. */
    struct cfg_obj *lone = find(g, "bgp-router", MASTER ":lone");
    build_ref(g, lone, c1, NULL);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "add peer lone");
    CHECK_STREQ(last_dump(r, "lone", "address_families"), "[\"route-target\",\"inet-vpn\","
                "\"e-vpn\",\"erm-vpn\",\"inet6-vpn\"]");
    /* Its peering goes. */
    cfg_graph_del_ref(g, lone, c1);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "delete peer lone");
    CHECK_STREQ(last_str(r, "lone", "address"), "1.1.1.1");  /* The last reported value. */

    /* Our own parameters change: the peers that take our families or key change too. */
    build_prop(g, c1, "bgp_router_parameters",
               "{\"router_type\": \"control-node\", \"autonomous_system\": 64512,"
               " \"identifier\": \"10.0.0.1\", \"address\": \"10.0.0.1\","
               " \"address_families\": {\"family\": [\"inet-vpn\"]}}");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change peer control2|change peer mx1|change self control1");
    CHECK_STREQ(last_dump(r, "control2", "address_families"), "[\"inet-vpn\"]");
    CHECK_STREQ(last_dump(r, "control2", "auth"), "null");

    /* Route targets and the network index. */
    struct cfg_obj *ri1 = find(g, "routing-instance", "default-domain:admin:vn1:vn1");
    cfg_graph_del_ref(g, ri1, find(g, "route-target", "target:64512:100"));
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change instance default-domain:admin:vn1:vn1");
    CHECK_STREQ(last_dump(r, "default-domain:admin:vn1:vn1", "import_targets"),
                "[\"target:64512:8000001\"]");
    build_prop(g, find(g, "virtual-network", "default-domain:admin:vn1"),
               "virtual_network_network_id", "6");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "change instance default-domain:admin:vn1:vn1");
    CHECK_EQ_INT(last_int(r, "default-domain:admin:vn1:vn1", "virtual_network_index"), 6);

    /* A new network and instance, then both go. */
    struct cfg_obj *vn2 = build_obj(g, "virtual-network", "default-domain:admin:vn2",
                                    "00000000-0000-0000-0000-000000000041", NULL);
    build_prop(g, vn2, "virtual_network_network_id", "7");
    struct cfg_obj *ri2 = build_obj(g, "routing-instance", "default-domain:admin:vn2:vn2",
                                    "00000000-0000-0000-0000-000000000042", vn2);
    build_ref(g, ri2, find(g, "route-target", "target:64512:8000001"),
              "{\"import_export\": \"import\"}");
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "add instance default-domain:admin:vn2:vn2");
    CHECK_STREQ(last_dump(r, "default-domain:admin:vn2:vn2", "export_targets"), "[]");
    CHECK_EQ_INT(last_int(r, "default-domain:admin:vn2:vn2", "virtual_network_index"), 7);
    cfg_graph_forget(g, ri2);
    cfg_graph_forget(g, vn2);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "delete instance default-domain:admin:vn2:vn2");
    CHECK(ctl_config_find_instance(cc, "default-domain:admin:vn2:vn2") == NULL);

    /* This router goes (IF-MAP deletes its links too): its peers go first. */
    cfg_graph_del_ref(g, find(g, "bgp-router", MASTER ":mx1"), c1);
    cfg_graph_forget(g, c1);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "delete peer control2|delete peer mx1|delete self control1");
    CHECK(ctl_config_get_self(cc) == NULL);
    CHECK_EQ_INT(ctl_config_n_peers(cc), 0);
    /* And comes back. */
    c1 = build_obj(g, "bgp-router", MASTER ":control1", "00000000-0000-0000-0000-000000000011",
                   find(g, "routing-instance", MASTER));
    build_prop(g, c1, "bgp_router_parameters", control1_params);
    build_ref(g, c1, c2, NULL);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "add peer control2|add self control1");

    /* global-system-config goes. */
    cfg_graph_forget(g, find(g, "global-system-config", "default-global-system-config"));
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "delete global global");
    CHECK(ctl_config_get_global(cc) == NULL);
}

/* A new IF-MAP session: the graph is cleared and comes again, partly changed. */
static void
test_resync(struct cfg_graph *g, struct ctl_config *cc, struct rec *r)
{
    ctl_config_reset(cc);
    cfg_graph_clear(g);
    build_world(g);
    /* control2 no longer peers with us; vn1's instance is gone; a new one appears. */
    cfg_graph_del_ref(g, find(g, "bgp-router", MASTER ":control1"),
                      find(g, "bgp-router", MASTER ":control2"));
    cfg_graph_forget(g, find(g, "routing-instance", "default-domain:admin:vn1:vn1"));
    struct cfg_obj *vn3 = build_obj(g, "virtual-network", "default-domain:admin:vn3",
                                    "00000000-0000-0000-0000-000000000051", NULL);
    build_obj(g, "routing-instance", "default-domain:admin:vn3:vn3",
              "00000000-0000-0000-0000-000000000052", vn3);
    ctl_config_flush(cc);
    CHECK_STREQ(take(r), "");
    ctl_config_synced(cc);
    /* Before the reset: control2 peered without session attributes, control1 had the
     * families of control1_params; the global config had been deleted.  control2 stays a
     * peer without the reference: ibgp-auto-mesh (default on) meshes control nodes. */
    CHECK_STREQ(take(r), "add global global|add instance default-domain:admin:vn3:vn3"
                "|add peer mx1|change peer control2"
                "|delete instance default-domain:admin:vn1:vn1");
    ctl_config_reset(cc);
    ctl_config_synced(cc);
    CHECK_STREQ(take(r), "");               /* The same graph again: nothing. */
}

static void
test_parse_target(void)
{
    uint64_t rt = 0;
    CHECK(ctl_config_parse_target("target:64512:8000001", &rt));
    CHECK(rt == 0x0002fc00007a1201ULL);
    CHECK(ctl_config_parse_target("target:10.1.2.3:7", &rt));
    CHECK(rt == 0x01020a0102030007ULL);
    CHECK(ctl_config_parse_target("target:4200000000:9", &rt));
    CHECK(rt == 0x0202fa56ea000009ULL);
    CHECK(!ctl_config_parse_target("target:4200000000:70000", &rt));
    CHECK(!ctl_config_parse_target("target:64512", &rt));
    CHECK(!ctl_config_parse_target("target::1", &rt));
    CHECK(!ctl_config_parse_target("route:1:2", &rt));
    CHECK(!ctl_config_parse_target("target:1.2.3:4", &rt));
    CHECK(!ctl_config_parse_target("target:1:-4", &rt));
    CHECK(!ctl_config_parse_target("target:10.1.2.3:65536", &rt));
}

int
main(void)
{
    mem_init_json();
    struct schema *schema;
    char err[256];
    if (schema_load(schema_default_path(), &schema, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    struct rec r = { json_array(), json_object() };
    struct cfg_graph *g = cfg_graph_create(schema, graph_changed, NULL);
    cc_global = ctl_config_create(g, "control1", &hooks, &r);
    test_initial(g, cc_global, &r);
    test_changes(g, cc_global, &r);
    test_resync(g, cc_global, &r);
    test_parse_target();

    json_t *j = ctl_config_to_json(cc_global);
    CHECK(json_object_size(json_object_get(j, "instances")) == 2);
    json_decref(j);

    ctl_config_destroy(cc_global);
    cc_global = NULL;
    cfg_graph_destroy(g);
    schema_destroy(schema);
    json_decref(r.events);
    json_decref(r.last);
    return check_finish();
}
