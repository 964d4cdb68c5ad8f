/* Unit tests of lib/schema: loading schema/vnc_cfg.json, lookups, links, validation, and
 * malformed schema files. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"
#include "check.h"
#include "mem.h"
#include "schema.h"

static char tmpdir[64];

static const char *
write_file(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

static long long
schema_live(void)
{
    json_t *j = mem_to_json();
    long long n = json_integer_value(json_object_get(json_object_get(j, "schema"), "live"));
    json_decref(j);
    return n;
}

static void
test_default_path(void)
{
    const char *p = schema_default_path();
    CHECK(p != NULL);
    CHECK_CONTAINS(p, "vnc_cfg.json");
    CHECK(access(p, R_OK) == 0);
    CHECK_STREQ(p, CONTRAIL_SOURCE_SCHEMA_DIR "/vnc_cfg.json");
    setenv("CONTRAIL_SCHEMA", "/some/where/else.json", 1);
    CHECK_STREQ(schema_default_path(), "/some/where/else.json");
    setenv("CONTRAIL_SCHEMA", "", 1);
    CHECK_STREQ(schema_default_path(), CONTRAIL_SOURCE_SCHEMA_DIR "/vnc_cfg.json");
    unsetenv("CONTRAIL_SCHEMA");
}

static void
test_idents(const struct schema *s)
{
    CHECK_EQ_INT(s->n_idents, 59);
    CHECK_STREQ(s->version, "R3.2");
    CHECK_STREQ(s->ident_list[0]->name, "config-root");     /* File order. */

    const struct schema_ident *vn = schema_ident(s, "virtual-network");
    CHECK(vn != NULL);
    if (!vn) {
        return;
    }
    CHECK_STREQ(vn->name, "virtual-network");
    CHECK_STREQ(vn->obj_type, "virtual_network");
    CHECK_STREQ(vn->plural, "virtual-networks");
    CHECK_STREQ(vn->children_field, "virtual_networks");
    CHECK_STREQ(vn->refs_field, "virtual_network_refs");
    CHECK_STREQ(vn->back_refs_field, "virtual_network_back_refs");
    CHECK(schema_ident_by_type(s, "virtual_network") == vn);
    CHECK(schema_ident_by_plural(s, "virtual-networks") == vn);
    CHECK(schema_ident_by_type(s, "virtual-network") == NULL);
    CHECK(schema_ident_by_plural(s, "virtual-network") == NULL);
    CHECK(schema_ident(s, "virtual_network") == NULL);
    CHECK(schema_ident(s, "no-such-thing") == NULL);
    CHECK(schema_ident(s, "") == NULL);

    /* Every identifier is found by each of its names, and the names are consistent. */
    int bad = 0;
    for (size_t i = 0; i < s->n_idents; i++) {
        const struct schema_ident *id = s->ident_list[i];
        bad += schema_ident(s, id->name) != id;
        bad += schema_ident_by_type(s, id->obj_type) != id;
        bad += schema_ident_by_plural(s, id->plural) != id;
        bad += strchr(id->obj_type, '-') != NULL;
        bad += id->n_props < 3;      /* At least the common id_perms, perms2, annotations. */
        bad += schema_ident_prop(id, "id_perms") == NULL;
    }
    CHECK_EQ_INT(bad, 0);

    const struct schema_ident *dns = schema_ident(s, "virtual-DNS");
    CHECK(dns && !strcmp(dns->obj_type, "virtual_DNS") && !strcmp(dns->plural, "virtual-DNSs"));
    const struct schema_ident *root = schema_ident(s, "config-root");
    CHECK(root && root->n_parents == 0);
}

static void
test_links(const struct schema *s)
{
    const struct schema_ident *vn = schema_ident(s, "virtual-network");
    const struct schema_ident *project = schema_ident(s, "project");
    const struct schema_ident *ipam = schema_ident(s, "network-ipam");
    const struct schema_ident *iip = schema_ident(s, "instance-ip");
    const struct schema_ident *ri = schema_ident(s, "routing-instance");
    CHECK(vn && project && ipam && iip && ri);
    if (!vn || !project || !ipam || !iip || !ri) {
        return;
    }

    /* Parents. */
    CHECK_EQ_INT(vn->n_parents, 1);
    const struct schema_link *pl = schema_ident_parent(vn, project);
    CHECK(pl != NULL);
    if (pl) {
        CHECK(pl->has);
        CHECK(pl->from == project && pl->to == vn);
        CHECK_STREQ(pl->name, "project-virtual-network");
        CHECK(schema_ident_child(project, "virtual_networks") == pl);
    }
    CHECK(schema_ident_parent(vn, ipam) == NULL);

    /* References. */
    CHECK_EQ_INT(vn->n_refs, 7);
    const struct schema_link *rl = schema_ident_ref(vn, "network_ipam_refs");
    CHECK(rl != NULL);
    if (rl) {
        CHECK(!rl->has);
        CHECK(rl->from == vn && rl->to == ipam);
        CHECK_STREQ(rl->name, "virtual-network-network-ipam");
        CHECK(rl->attr && !strcmp(rl->attr->name, "VnSubnetsType"));
        CHECK(schema_ident_ref_to(vn, ipam) == rl);
        CHECK(schema_ident_back_ref(ipam, "virtual_network_back_refs") == rl);
    }
    const struct schema_link *self = schema_ident_ref(vn, "virtual_network_refs");
    CHECK(self && self->to == vn && self->attr == NULL);
    CHECK(schema_ident_ref(vn, "project_refs") == NULL);
    CHECK(schema_ident_ref(vn, "bogus") == NULL);
    CHECK(schema_ident_ref_to(vn, project) == NULL);

    /* Back-references. */
    CHECK_EQ_INT(vn->n_back_refs, 6);
    const struct schema_link *bl = schema_ident_back_ref(vn, "instance_ip_back_refs");
    CHECK(bl && bl->from == iip && bl->to == vn);
    CHECK(schema_ident_back_ref(vn, "virtual_network_back_refs") == self);
    CHECK(schema_ident_back_ref(vn, "project_back_refs") == NULL);

    /* Children. */
    CHECK_EQ_INT(vn->n_children, 4);
    const struct schema_link *cl = schema_ident_child(vn, "routing_instances");
    CHECK(cl && cl->has && cl->from == vn && cl->to == ri);
    CHECK(schema_ident_child(vn, "floating_ip_pools") != NULL);
    CHECK(schema_ident_child(vn, "alias_ip_pools") != NULL);
    CHECK(schema_ident_child(vn, "access_control_lists") != NULL);
    CHECK(schema_ident_child(vn, "instance_ips") == NULL);

    /* Every link is in the lists of both ends. */
    int bad = 0;
    for (size_t i = 0; i < s->n_links; i++) {
        const struct schema_link *l = s->links[i];
        if (l->has) {
            bad += schema_ident_parent(l->to, l->from) != l;
        } else {
            int found = 0;
            for (size_t k = 0; k < l->to->n_back_refs; k++) {
                found += l->to->back_refs[k] == l;
            }
            bad += found != 1;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

static void
test_props_and_types(const struct schema *s)
{
    const struct schema_ident *vn = schema_ident(s, "virtual-network");
    if (!vn) {
        return;
    }
    const struct schema_prop *p = schema_ident_prop(vn, "virtual_network_properties");
    CHECK(p && p->collection == SCHEMA_SCALAR && !strcmp(p->type->name, "VirtualNetworkType"));
    CHECK(p && !strcmp(p->xml, "virtual-network-properties"));
    p = schema_ident_prop(vn, "id_perms");
    CHECK(p && p->required == SCHEMA_SYSTEM_ONLY && !strcmp(p->ops, "R"));
    p = schema_ident_prop(vn, "annotations");
    CHECK(p && p->collection == SCHEMA_MAP && p->key && !strcmp(p->key, "key")
          && !strcmp(p->list_field, "key_value_pair"));
    p = schema_ident_prop(vn, "virtual_network_fat_flow_protocols");
    CHECK(p && p->collection == SCHEMA_LIST && !strcmp(p->list_field, "fat_flow_protocol"));
    p = schema_ident_prop(vn, "virtual_network_category");
    CHECK(p && json_is_string(p->def) && !strcmp(json_string_value(p->def), "tenant"));
    p = schema_ident_prop(vn, "is_provider_network");
    CHECK(p && json_is_false(p->def));
    p = schema_ident_prop(vn, "virtual_network_network_id");
    CHECK(p && p->required == SCHEMA_SYSTEM_ONLY && p->type->kind == SCHEMA_INTEGER);
    CHECK(schema_ident_prop(vn, "no_such_prop") == NULL);

    const struct schema_type *t = schema_type(s, "AccessType");
    CHECK(t && t->kind == SCHEMA_INTEGER && t->has_min && t->min == 0 && t->has_max
          && t->max == 7);
    t = schema_type(s, "ActionType");
    CHECK(t && t->kind == SCHEMA_STRING && t->n_enums == 3);
    t = schema_type(s, "unsignedInt");
    CHECK(t && t->kind == SCHEMA_INTEGER && t->min == 0 && t->max == UINT_MAX);
    t = schema_type(s, "PermType2");
    CHECK(t && t->kind == SCHEMA_COMPLEX && t->n_fields == 4);
    if (t && t->n_fields == 4) {
        CHECK_STREQ(t->fields[3].name, "share");
        CHECK(t->fields[3].list);
        CHECK(t->fields[0].required);
        CHECK(json_integer_value(t->fields[1].def) == 7);
    }
    CHECK(schema_type(s, "string") && schema_type(s, "string")->kind == SCHEMA_STRING);
    CHECK(schema_type(s, "boolean")->kind == SCHEMA_BOOLEAN);
    CHECK(schema_type(s, "dateTime")->kind == SCHEMA_DATETIME);
    CHECK(schema_type(s, "anyType")->kind == SCHEMA_ANY);
    CHECK(schema_type(s, "NoSuchType") == NULL);
}

/* Validates JSON TEXT against type NAME; returns the result, message in ERR. */
static bool
valid(const struct schema *s, const char *type, bool list, const char *text, char *err,
      size_t errlen)
{
    const struct schema_type *t = schema_type(s, type);
    if (!t) {
        snprintf(err, errlen, "no type %s", type);
        return false;
    }
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!j) {
        snprintf(err, errlen, "bad test JSON %s", text);
        return false;
    }
    err[0] = '\0';
    bool ok = schema_validate(t, list, j, "x", err, errlen);
    json_decref(j);
    return ok;
}

static void
test_validate(const struct schema *s)
{
    char err[512];

    /* Ranges. */
    for (int i = 0; i <= 7; i++) {
        char text[8];
        snprintf(text, sizeof text, "%d", i);
        CHECK(valid(s, "AccessType", false, text, err, sizeof err));
    }
    CHECK(!valid(s, "AccessType", false, "8", err, sizeof err));
    CHECK_CONTAINS(err, "x:");
    CHECK_CONTAINS(err, "8");
    CHECK(!valid(s, "AccessType", false, "-1", err, sizeof err));
    CHECK(!valid(s, "AccessType", false, "\"3\"", err, sizeof err));
    CHECK_CONTAINS(err, "integer");
    CHECK(!valid(s, "AccessType", false, "3.0", err, sizeof err));
    CHECK(!valid(s, "AccessType", false, "true", err, sizeof err));
    CHECK(valid(s, "AccessType", false, "null", err, sizeof err));
    /* unsignedLong values past 2^63 are held as their signed bit pattern (json_util.h). */
    CHECK(valid(s, "unsignedLong", false, "-1", err, sizeof err));
    CHECK(valid(s, "unsignedLong", false, "9223372036854775807", err, sizeof err));
    CHECK(valid(s, "unsignedInt", false, "4294967295", err, sizeof err));
    CHECK(!valid(s, "unsignedInt", false, "4294967296", err, sizeof err));
    CHECK(valid(s, "integer", false, "-9223372036854775807", err, sizeof err));

    /* Enums. */
    CHECK(valid(s, "ActionType", false, "\"accept\"", err, sizeof err));
    CHECK(!valid(s, "ActionType", false, "\"bogus\"", err, sizeof err));
    CHECK_CONTAINS(err, "bogus");
    CHECK_CONTAINS(err, "accept");
    CHECK(!valid(s, "ActionType", false, "\"Accept\"", err, sizeof err));
    CHECK(!valid(s, "ActionType", false, "1", err, sizeof err));
    CHECK_CONTAINS(err, "string");
    CHECK(valid(s, "ActionType", false, "null", err, sizeof err));
    CHECK(valid(s, "VirtualNetworkCategory", false, "\"infra\"", err, sizeof err));
    /* An enum with many values: the message is cut, not overflowed. */
    CHECK(!valid(s, "AlarmOperation", false, "\"nope\"", err, sizeof err));
    CHECK_CONTAINS(err, "allowed");

    /* Primitive kinds. */
    CHECK(valid(s, "boolean", false, "false", err, sizeof err));
    CHECK(!valid(s, "boolean", false, "0", err, sizeof err));
    CHECK(!valid(s, "boolean", false, "\"true\"", err, sizeof err));
    CHECK(valid(s, "number", false, "1", err, sizeof err));
    CHECK(valid(s, "number", false, "1.5", err, sizeof err));
    CHECK(!valid(s, "number", false, "\"1\"", err, sizeof err));
    CHECK(valid(s, "string", false, "\"\"", err, sizeof err));
    CHECK(!valid(s, "string", false, "{}", err, sizeof err));
    CHECK(valid(s, "dateTime", false, "\"2013-09-13T00:26:05.290644\"", err, sizeof err));
    CHECK(valid(s, "anyType", false, "{\"a\": [1, {\"b\": null}]}", err, sizeof err));
    CHECK(valid(s, "anyType", false, "7", err, sizeof err));

    /* Lists. */
    CHECK(valid(s, "string", true, "[]", err, sizeof err));
    CHECK(valid(s, "string", true, "[\"a\", \"b\", null]", err, sizeof err));
    CHECK(valid(s, "string", true, "null", err, sizeof err));
    CHECK(!valid(s, "string", true, "[\"a\", 1]", err, sizeof err));
    CHECK_CONTAINS(err, "x[1]");
    CHECK(!valid(s, "string", true, "\"a\"", err, sizeof err));
    CHECK_CONTAINS(err, "list");
    CHECK(!valid(s, "string", false, "[\"a\"]", err, sizeof err));

    /* Complex types, with field paths in the messages. */
    const char *perms = "{\"owner\": \"admin\", \"owner_access\": 7, \"global_access\": 0, "
                        "\"share\": [{\"tenant\": \"t1\", \"tenant_access\": 5}]}";
    CHECK(valid(s, "PermType2", false, perms, err, sizeof err));
    CHECK(valid(s, "PermType2", false, "{}", err, sizeof err));
    CHECK(valid(s, "PermType2", false, "{\"owner\": null, \"share\": null}", err, sizeof err));
    CHECK(!valid(s, "PermType2", false, "{\"owner\": \"a\", \"bogus\": 1}", err, sizeof err));
    CHECK_CONTAINS(err, "x.bogus");
    CHECK_CONTAINS(err, "unknown field");
    CHECK(!valid(s, "PermType2", false,
                 "{\"share\": [{\"tenant\": \"t\", \"tenant_access\": 5}, "
                 "{\"tenant\": \"u\", \"tenant_access\": 9}]}", err, sizeof err));
    CHECK_CONTAINS(err, "x.share[1].tenant_access");
    CHECK(!valid(s, "PermType2", false, "{\"share\": {\"tenant\": \"t\"}}", err, sizeof err));
    CHECK_CONTAINS(err, "x.share");
    CHECK(!valid(s, "PermType2", false, "[]", err, sizeof err));
    CHECK_CONTAINS(err, "PermType2");
    CHECK(!valid(s, "PermType2", false, "\"str\"", err, sizeof err));
    CHECK(!valid(s, "PermType2", true, "[{}, 3]", err, sizeof err));
    CHECK_CONTAINS(err, "x[1]");
    CHECK(valid(s, "IdPermsType", false, "{\"uuid\": {\"uuid_mslong\": -5}}", err,
                sizeof err));
    CHECK(!valid(s, "IdPermsType", false, "{\"uuid\": {\"uuid_mslong\": \"5\"}}", err,
                 sizeof err));
    CHECK_CONTAINS(err, "x.uuid.uuid_mslong");
    CHECK(!valid(s, "IdPermsType", false, "{\"permissions\": {\"owner_access\": 9}}", err,
                 sizeof err));
    CHECK_CONTAINS(err, "x.permissions.owner_access");

    /* Through a property: the path starts at the property name. */
    const struct schema_ident *vn = schema_ident(s, "virtual-network");
    const struct schema_prop *p = vn ? schema_ident_prop(vn, "id_perms") : NULL;
    if (p) {
        json_t *j = json_pack("{sb}", "enable", 1);
        CHECK(schema_validate_prop(p, j, err, sizeof err));
        json_decref(j);
        j = json_pack("{ss}", "enable", "yes");
        CHECK(!schema_validate_prop(p, j, err, sizeof err));
        CHECK_CONTAINS(err, "id_perms.enable");
        CHECK_CONTAINS(err, "boolean");
        json_decref(j);
        CHECK(schema_validate_prop(p, json_null(), err, sizeof err));
    }
    p = vn ? schema_ident_prop(vn, "annotations") : NULL;
    if (p) {
        json_t *j = json_loads("{\"key_value_pair\": [{\"key\": \"k\", \"value\": \"v\"}]}", 0,
                               NULL);
        CHECK(schema_validate_prop(p, j, err, sizeof err));
        json_decref(j);
        j = json_loads("{\"key_value_pair\": [{\"key\": 1}]}", 0, NULL);
        CHECK(!schema_validate_prop(p, j, err, sizeof err));
        CHECK_CONTAINS(err, "annotations.key_value_pair[0].key");
        json_decref(j);
    }
    p = vn ? schema_ident_prop(vn, "virtual_network_properties") : NULL;
    if (p) {
        json_t *j = json_loads("{\"forwarding_mode\": \"l2_l3\", \"rpf\": \"enable\", "
                               "\"vxlan_network_identifier\": 5}", 0, NULL);
        CHECK(schema_validate_prop(p, j, err, sizeof err));
        json_decref(j);
        j = json_loads("{\"forwarding_mode\": \"l4\"}", 0, NULL);
        CHECK(!schema_validate_prop(p, j, err, sizeof err));
        CHECK_CONTAINS(err, "virtual_network_properties.forwarding_mode");
        json_decref(j);
    }

    /* A very long path is cut, not overflowed. */
    char longkey[2000];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    json_t *j = json_object();
    json_object_set_new(j, longkey, json_integer(1));
    char small[32];
    CHECK(!schema_validate(schema_type(s, "PermType2"), false, j, "x", small, sizeof small));
    CHECK(strlen(small) < sizeof small);
    json_decref(j);
}

/* A small schema file, to check the loader on its own terms. */
static const char *const mini_schema =
    "{\"version\": \"test\",\n"
    " \"simple_types\": {\"Small\": {\"base\": \"integer\", \"min\": 1, \"max\": 3},\n"
    "                  \"Color\": {\"base\": \"string\", \"enum\": [\"red\", \"blue\"]},\n"
    "                  \"Num\": {\"base\": \"integer\", \"enum\": [1, 2]}},\n"
    " \"complex_types\": {\"Wrap\": {\"fields\": [{\"name\": \"items\", \"type\": \"Color\","
    " \"list\": true}]},\n"
    "                   \"Attr\": {\"fields\": [{\"name\": \"weight\", \"type\": \"Small\"}]}},\n"
    " \"common_properties\": [{\"name\": \"display_name\", \"type\": \"string\"}],\n"
    " \"identifiers\": {\n"
    "   \"top\": {\"properties\": [{\"name\": \"colors\", \"type\": \"Wrap\", \"collection\":"
    " \"list\"}]},\n"
    "   \"leaf\": {\"parents\": [{\"type\": \"top\"}],\n"
    "            \"refs\": [{\"type\": \"top\", \"attr\": \"Attr\"}],\n"
    "            \"properties\": [{\"name\": \"size\", \"type\": \"Small\", \"required\":"
    " \"required\", \"default\": 2}]}}}\n";

static void
test_mini(void)
{
    struct schema *s = NULL;
    char err[512] = "";
    const char *path = write_file("mini.json", mini_schema);
    CHECK_EQ_INT(schema_load(path, &s, err, sizeof err), 0);
    if (!s) {
        fprintf(stderr, "mini schema: %s\n", err);
        return;
    }
    CHECK_STREQ(s->version, "test");
    CHECK_EQ_INT(s->n_idents, 2);
    const struct schema_ident *top = schema_ident(s, "top"), *leaf = schema_ident(s, "leaf");
    CHECK(top && leaf);
    if (top && leaf) {
        CHECK_EQ_INT(top->n_props, 2);
        CHECK_EQ_INT(leaf->n_props, 2);
        const struct schema_prop *p = schema_ident_prop(top, "colors");
        /* The list_field defaults to the wrapper's only field. */
        CHECK(p && p->collection == SCHEMA_LIST && !strcmp(p->list_field, "items"));
        CHECK(schema_ident_prop(leaf, "display_name") != NULL);
        p = schema_ident_prop(leaf, "size");
        CHECK(p && p->required == SCHEMA_REQUIRED && json_integer_value(p->def) == 2);
        const struct schema_link *l = schema_ident_parent(leaf, top);
        CHECK(l && !strcmp(l->name, "top-leaf") && l->has);
        CHECK(schema_ident_child(top, "leafs") == l);
        l = schema_ident_ref(leaf, "top_refs");
        CHECK(l && l->attr && !strcmp(l->attr->name, "Attr"));
        CHECK(schema_ident_back_ref(top, "leaf_back_refs") == l);
        CHECK_EQ_INT(s->n_links, 2);
    }
    char e[256];
    json_t *j = json_integer(2);
    CHECK(schema_validate(schema_type(s, "Num"), false, j, "n", e, sizeof e));
    json_decref(j);
    j = json_integer(3);
    CHECK(!schema_validate(schema_type(s, "Num"), false, j, "n", e, sizeof e));
    CHECK_CONTAINS(e, "n:");
    json_decref(j);
    j = json_integer(4);
    CHECK(!schema_validate(schema_type(s, "Small"), false, j, "n", e, sizeof e));
    CHECK_CONTAINS(e, "out of range");
    json_decref(j);
    j = json_loads("{\"items\": [\"red\", \"green\"]}", 0, NULL);
    CHECK(!schema_validate(schema_type(s, "Wrap"), false, j, "w", e, sizeof e));
    CHECK_CONTAINS(e, "w.items[1]");
    CHECK_CONTAINS(e, "green");
    json_decref(j);
    schema_destroy(s);
    schema_destroy(NULL);
}

static void
expect_load_error(const char *name, const char *text, const char *needle)
{
    struct schema *s = NULL;
    char err[512] = "";
    const char *path = write_file(name, text);
    int error = schema_load(path, &s, err, sizeof err);
    if (!error) {
        fprintf(stderr, "schema %s loaded but should not have\n", name);
        schema_destroy(s);
    }
    CHECK(error != 0);
    CHECK(err[0] != '\0');
    if (needle) {
        CHECK_CONTAINS(err, needle);
    }
}

static void
test_malformed(void)
{
    long long live0 = schema_live();
    struct schema *s = NULL;
    char err[512] = "";
    char missing[128];
    snprintf(missing, sizeof missing, "%s/nope.json", tmpdir);
    CHECK(schema_load(missing, &s, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "nope.json");

    expect_load_error("empty.json", "", "empty.json");
    expect_load_error("garbage.json", "this is not json", "garbage.json");
    expect_load_error("truncated.json", "{\"identifiers\": {\"a\": {", "truncated.json");
    expect_load_error("array.json", "[1, 2, 3]", "identifiers");
    expect_load_error("noidents.json", "{\"identifiers\": {}}", "identifiers");
    expect_load_error("identsarray.json", "{\"identifiers\": [1]}", "identifiers");
    expect_load_error("badparent.json",
                      "{\"identifiers\": {\"a\": {\"parents\": [{\"type\": \"zz\"}]}}}", "zz");
    expect_load_error("parentnotype.json",
                      "{\"identifiers\": {\"a\": {\"parents\": [{}]}}}", "parent");
    expect_load_error("badref.json",
                      "{\"identifiers\": {\"a\": {\"refs\": [{\"type\": \"zz\"}]}}}", "zz");
    expect_load_error("badattr.json",
                      "{\"identifiers\": {\"a\": {\"refs\": [{\"type\": \"a\", \"attr\": "
                      "\"NoType\"}]}}}", "NoType");
    expect_load_error("badfield.json",
                      "{\"complex_types\": {\"C\": {\"fields\": [{\"name\": \"f\", \"type\": "
                      "\"Nope\"}]}}, \"identifiers\": {\"a\": {}}}", "Nope");
    expect_load_error("fieldnoname.json",
                      "{\"complex_types\": {\"C\": {\"fields\": [{\"type\": \"string\"}]}}, "
                      "\"identifiers\": {\"a\": {}}}", "C");
    expect_load_error("dupsimple.json",
                      "{\"simple_types\": {\"string\": {\"base\": \"string\"}}, "
                      "\"identifiers\": {\"a\": {}}}", "twice");
    expect_load_error("dupcomplex.json",
                      "{\"simple_types\": {\"T\": {}}, \"complex_types\": {\"T\": {}}, "
                      "\"identifiers\": {\"a\": {}}}", "twice");
    expect_load_error("propnoname.json",
                      "{\"identifiers\": {\"a\": {\"properties\": [{\"type\": \"string\"}]}}}",
                      "name");
    expect_load_error("propnotobject.json",
                      "{\"identifiers\": {\"a\": {\"properties\": [7]}}}", NULL);
    {
        expect_load_error("badproptype.json",
                          "{\"identifiers\": {\"a\": {\"properties\": [{\"name\": \"p\", "
                          "\"type\": \"Nope\"}]}}}", "Nope");
        expect_load_error("nolistfield.json",
                          "{\"identifiers\": {\"a\": {\"properties\": [{\"name\": \"p\", "
                          "\"type\": \"string\", \"collection\": \"list\"}]}}}", "list_field");
    }
    /* Odd but loadable: fields and properties that are not arrays are empty. */
    s = NULL;
    const char *path = write_file("odd.json", "{\"simple_types\": 5, \"complex_types\": "
                                  "{\"C\": {\"fields\": 3}}, \"identifiers\": {\"a\": "
                                  "{\"properties\": {}, \"parents\": 1}}}");
    CHECK_EQ_INT(schema_load(path, &s, err, sizeof err), 0);
    if (s) {
        CHECK_EQ_INT(s->n_idents, 1);
        CHECK(schema_type(s, "C") && schema_type(s, "C")->n_fields == 0);
        schema_destroy(s);
    }
    /* Nothing is left allocated by failed loads. */
    CHECK_EQ_INT(schema_live(), live0);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_schema.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_default_path();

    struct schema *s = NULL;
    char err[512] = "";
    int error = schema_load(schema_default_path(), &s, err, sizeof err);
    CHECK_EQ_INT(error, 0);
    if (!error) {
        test_idents(s);
        test_links(s);
        test_props_and_types(s);
        test_validate(s);
        schema_destroy(s);
    } else {
        fprintf(stderr, "cannot load schema: %s\n", err);
    }
    CHECK_EQ_INT(schema_live(), 0);
    test_mini();
    CHECK_EQ_INT(schema_live(), 0);
    test_malformed();

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    return check_finish();
}
