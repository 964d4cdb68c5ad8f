/* Unit tests of lib/vnc_ifmap: identifier names, the exact metadata XML the original publishes
 * for real objects, a render-parse round trip of every property and link attribute of the
 * schema, diffs, publish bodies, and malformed input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "check.h"
#include "json_util.h"
#include "mem.h"
#include "schema.h"
#include "vnc_ifmap.h"

static struct schema *S;
static char err[512];

static json_t *
J(const char *text)
{
    json_error_t jerr;
    json_t *j = json_util_loadb(text, strlen(text), &jerr);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", jerr.text, text);
        exit(2);
    }
    return j;
}

static const struct schema_ident *
ID(const char *name)
{
    const struct schema_ident *id = schema_ident(S, name);
    if (!id) {
        fprintf(stderr, "no identifier type %s\n", name);
        exit(2);
    }
    return id;
}

static void
check_item(const struct vnc_ifmap_items *l, size_t i, const char *id1, const char *id2,
           const char *name, const char *xml)
{
    CHECK(i < l->n);
    if (i >= l->n) {
        return;
    }
    const struct vnc_ifmap_item *it = &l->items[i];
    CHECK_STREQ(it->id1, id1);
    if (id2) {
        CHECK_STREQ(it->id2, id2);
    } else {
        CHECK(it->id2 == NULL);
    }
    CHECK_STREQ(it->meta_name, name);
    CHECK_STREQ(it->meta_xml, xml);
}

/* ---- Identifier names. ---- */

static void
test_ident_names(void)
{
    json_t *fq = J("[\"default-domain\", \"admin\", \"vn1\"]");
    char *n = vnc_ifmap_ident_name(ID("virtual-network"), fq);
    CHECK_STREQ(n, "contrail:virtual-network:default-domain:admin:vn1");

    const struct schema_ident *id;
    json_t *back;
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, n, &id, &back, err, sizeof err), 0);
    CHECK(id == ID("virtual-network"));
    CHECK(json_equal(back, fq));
    json_decref(back);
    xfree(n);
    json_decref(fq);

    /* config-root is always "root". */
    fq = J("[]");
    n = vnc_ifmap_ident_name(ID("config-root"), fq);
    CHECK_STREQ(n, "contrail:config-root:root");
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, n, &id, &back, err, sizeof err), 0);
    CHECK(id == ID("config-root"));
    xfree(n);
    json_decref(back);
    json_decref(fq);

    /* A route-target's name holds ':' and stays one element. */
    fq = J("[\"target:64512:8000001\"]");
    n = vnc_ifmap_ident_name(ID("route-target"), fq);
    CHECK_STREQ(n, "contrail:route-target:target:64512:8000001");
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, n, &id, &back, err, sizeof err), 0);
    CHECK(id == ID("route-target"));
    CHECK(json_equal(back, fq));
    json_decref(back);
    xfree(n);
    json_decref(fq);

    /* Types with several parents: an api-access-list under a domain (2) or a project (3). */
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, "contrail:api-access-list:d:acl", &id, &back, err,
                                       sizeof err), 0);
    json_decref(back);
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, "contrail:api-access-list:d:p:acl", &id, &back, err,
                                       sizeof err), 0);
    json_decref(back);
    /* logical-interface: physical-router (3) or physical-interface (4). */
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, "contrail:logical-interface:g:pr:pi:li", &id, &back,
                                       err, sizeof err), 0);
    json_decref(back);

    /* Characters that need escaping: kept raw in the name, escaped in the identity XML, and
     * an XML parser gives the raw name back. */
    fq = J("[\"dom<&>\\\"'\", \"p&q\", \"vn 'x'\"]");
    n = vnc_ifmap_ident_name(ID("virtual-network"), fq);
    CHECK_STREQ(n, "contrail:virtual-network:dom<&>\"':p&q:vn 'x'");
    char *xml = vnc_ifmap_identity_xml(n);
    CHECK_STREQ(xml, "<identity name=\"contrail:virtual-network:dom&lt;&amp;&gt;&quot;&apos;"
                ":p&amp;q:vn &apos;x&apos;\" type=\"other\" other-type-definition=\"extended\"/>");
    xmlDoc *doc = xmlReadMemory(xml, (int) strlen(xml), "x.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    CHECK(doc != NULL);
    if (doc) {
        xmlChar *name = xmlGetProp(xmlDocGetRootElement(doc), (const xmlChar *) "name");
        CHECK_STREQ((const char *) name, n);
        CHECK_EQ_INT(vnc_ifmap_parse_ident(S, (const char *) name, &id, &back, err,
                                           sizeof err), 0);
        CHECK(json_equal(back, fq));
        json_decref(back);
        xmlFree(name);
        xmlFreeDoc(doc);
    }
    xfree(xml);
    xfree(n);
    json_decref(fq);

    /* Not an fq_name. */
    fq = J("[\"a\", 3]");
    CHECK(vnc_ifmap_ident_name(ID("project"), fq) == NULL);
    json_decref(fq);
    fq = J("[]");
    CHECK(vnc_ifmap_ident_name(ID("project"), fq) == NULL);
    json_decref(fq);
    CHECK(vnc_ifmap_ident_name(ID("project"), NULL) == NULL);
    fq = J("[\"a\", \"b\\u0001\"]");
    CHECK(vnc_ifmap_ident_name(ID("project"), fq) == NULL);
    json_decref(fq);
    fq = J("[\"a\", \"b\\uffff\"]");
    CHECK(vnc_ifmap_ident_name(ID("project"), fq) == NULL);
    json_decref(fq);
    fq = J("[\"a\", \"tab\\tnl\\ncr\\r\"]");
    n = vnc_ifmap_ident_name(ID("project"), fq);
    CHECK_STREQ(n, "contrail:project:a:tab\tnl\ncr\r");
    xfree(n);
    json_decref(fq);
}

static void
test_bad_ident_names(void)
{
    static const struct { const char *name; int error; } cases[] = {
        { "", EINVAL },
        { "foo", EINVAL },
        { "contrail:", EINVAL },
        { "contrail:virtual-network", EINVAL },
        { "contrail:virtual-network:", EINVAL },
        { "contrail::a:b", EINVAL },
        { "Contrail:project:a:b", EINVAL },
        { "contrail:no-such-type:a", ENOENT },
        { "contrail:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx:a", ENOENT },
        { "contrail:virtual-network:a:b", EINVAL },          /* Too short. */
        { "contrail:virtual-network:a:b:c:d", EINVAL },      /* Too long. */
        { "contrail:virtual-network:a::c", EINVAL },         /* Empty element. */
        { "contrail:virtual-network:a:b:", EINVAL },
        { "contrail:virtual-machine:a:b", EINVAL },          /* Root-level: one element. */
        { "contrail:virtual-network:a:b:\xff\xfe", EINVAL }, /* Not UTF-8. */
        { "contrail:route-target:\xc3", EINVAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct schema_ident *id = (void *) 1;
        json_t *fq = (void *) 1;
        err[0] = '\0';
        int e = vnc_ifmap_parse_ident(S, cases[i].name, &id, &fq, err, sizeof err);
        if (e != cases[i].error) {
            fprintf(stderr, "case %zu '%s': %d\n", i, cases[i].name, e);
        }
        CHECK_EQ_INT(e, cases[i].error);
        CHECK(id == NULL && fq == NULL);
        CHECK(err[0] != '\0');
    }
    const struct schema_ident *id;
    json_t *fq;
    CHECK_EQ_INT(vnc_ifmap_parse_ident(S, NULL, &id, &fq, err, sizeof err), EINVAL);
}

/* ---- Exact XML of real objects. ---- */

static void
test_virtual_network(void)
{
    json_t *vn = J(
        "{\"fq_name\": [\"default-domain\", \"admin\", \"vn1\"], \"parent_type\": \"project\","
        " \"uuid\": \"8c84a5a1-6e2f-4b36-99da-1f3e4cd7a0ee\", \"name\": \"vn1\","
        " \"href\": \"http://127.0.0.1:8082/virtual-network/8c84a5a1\","
        " \"virtual_network_properties\": {\"forwarding_mode\": \"l2_l3\","
        "   \"vxlan_network_identifier\": 5, \"allow_transit\": false, \"rpf\": \"enable\","
        "   \"network_id\": null},"
        " \"route_target_list\": {\"route_target\": [\"target:64512:100\","
        "   \"target:64512:200\"]},"
        " \"router_external\": false,"
        " \"is_shared\": null,"
        " \"id_perms\": {\"permissions\": {\"owner\": \"cloud-admin\", \"owner_access\": 7,"
        "   \"group\": \"cloud-admin-group\", \"group_access\": 7, \"other_access\": 7},"
        "   \"uuid\": {\"uuid_mslong\": 10125498831222882614,"
        "              \"uuid_lslong\": 11086156774262128366},"
        "   \"enable\": true, \"created\": \"2013-09-13T00:26:05.290644\","
        "   \"last_modified\": \"2013-09-13T00:47:41.219833\", \"description\": null,"
        "   \"user_visible\": true, \"creator\": null},"
        " \"perms2\": {\"owner\": \"cloud-admin\", \"owner_access\": 7, \"global_access\": 0,"
        "   \"share\": []},"
        " \"display_name\": \"vn1\","
        " \"routing_instances\": [{\"to\": [\"default-domain\", \"admin\", \"vn1\", \"vn1\"]}],"
        " \"network_ipam_refs\": [{\"to\": [\"default-domain\", \"default-project\","
        "   \"default-network-ipam\"], \"uuid\": \"1a2b\", \"attr\": {\"ipam_subnets\": ["
        "   {\"subnet\": {\"ip_prefix\": \"10.1.1.0\", \"ip_prefix_len\": 24},"
        "    \"default_gateway\": \"10.1.1.254\", \"enable_dhcp\": true,"
        "    \"addr_from_start\": true, \"dns_nameservers\": []}], \"host_routes\": null}}]}");
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-network"), vn, &items, err,
                                         sizeof err), 0);
    const char *self = "contrail:virtual-network:default-domain:admin:vn1";
    CHECK_EQ_INT(items.n, 7);
    check_item(&items, 0, "contrail:project:default-domain:admin", self,
               "contrail:project-virtual-network",
               "<contrail:project-virtual-network ifmap-cardinality=\"singleValue\">"
               "</contrail:project-virtual-network>");
    check_item(&items, 1, self, NULL, "contrail:virtual-network-properties",
               "<contrail:virtual-network-properties ifmap-cardinality=\"singleValue\">"
               "<allow-transit>false</allow-transit>"
               "<vxlan-network-identifier>5</vxlan-network-identifier>"
               "<forwarding-mode>l2_l3</forwarding-mode><rpf>enable</rpf>"
               "</contrail:virtual-network-properties>");
    check_item(&items, 2, self, NULL, "contrail:route-target-list",
               "<contrail:route-target-list ifmap-cardinality=\"singleValue\">"
               "<route-target>target:64512:100</route-target>"
               "<route-target>target:64512:200</route-target>"
               "</contrail:route-target-list>");
    check_item(&items, 3, self, NULL, "contrail:router-external",
               "<contrail:router-external ifmap-cardinality=\"singleValue\">False"
               "</contrail:router-external>");
    check_item(&items, 4, self, NULL, "contrail:id-perms",
               "<contrail:id-perms ifmap-cardinality=\"singleValue\">"
               "<uuid><uuid-mslong>10125498831222882614</uuid-mslong>"
               "<uuid-lslong>11086156774262128366</uuid-lslong></uuid>"
               "<enable>true</enable></contrail:id-perms>");
    check_item(&items, 5, self, NULL, "contrail:display-name",
               "<contrail:display-name ifmap-cardinality=\"singleValue\">vn1"
               "</contrail:display-name>");
    check_item(&items, 6, self,
               "contrail:network-ipam:default-domain:default-project:default-network-ipam",
               "contrail:virtual-network-network-ipam",
               "<contrail:virtual-network-network-ipam ifmap-cardinality=\"singleValue\">"
               "<ipam-subnets><subnet><ip-prefix>10.1.1.0</ip-prefix>"
               "<ip-prefix-len>24</ip-prefix-len></subnet>"
               "<default-gateway>10.1.1.254</default-gateway>"
               "<enable-dhcp>true</enable-dhcp><addr_from_start>true</addr_from_start>"
               "</ipam-subnets></contrail:virtual-network-network-ipam>");

    /* Deterministic: the same object renders byte for byte the same. */
    struct vnc_ifmap_items again;
    vnc_ifmap_items_init(&again);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-network"), vn, &again, err,
                                         sizeof err), 0);
    CHECK_EQ_INT(again.n, items.n);
    for (size_t i = 0; i < items.n && i < again.n; i++) {
        CHECK_STREQ(again.items[i].meta_xml, items.items[i].meta_xml);
    }
    vnc_ifmap_items_clear(&again);

    /* The parse side gets back what was published. */
    struct vnc_ifmap_meta m;
    CHECK_EQ_INT(vnc_ifmap_parse_meta_xml(S, items.items[6].meta_xml,
                                          strlen(items.items[6].meta_xml),
                                          items.items[6].id1, items.items[6].id2, &m, err,
                                          sizeof err), 0);
    CHECK_EQ_INT(m.kind, VNC_IFMAP_REF);
    CHECK(m.ident == ID("virtual-network") && m.other == ID("network-ipam"));
    json_t *want = J("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.1.1.0\","
                     " \"ip_prefix_len\": 24}, \"default_gateway\": \"10.1.1.254\","
                     " \"enable_dhcp\": true, \"addr_from_start\": true}]}");
    CHECK(json_equal(m.value, want));
    json_decref(want);
    vnc_ifmap_meta_clear(&m);

    CHECK_EQ_INT(vnc_ifmap_parse_meta_xml(S, items.items[4].meta_xml,
                                          strlen(items.items[4].meta_xml), self, NULL, &m,
                                          err, sizeof err), 0);
    CHECK_EQ_INT(m.kind, VNC_IFMAP_PROP);
    CHECK_STREQ(m.prop->name, "id_perms");
    want = J("{\"uuid\": {\"uuid_mslong\": 10125498831222882614,"
             " \"uuid_lslong\": 11086156774262128366}, \"enable\": true}");
    CHECK(json_equal(m.value, want));
    json_decref(want);
    vnc_ifmap_meta_clear(&m);

    /* The parent link, identities in either order. */
    for (int swap = 0; swap < 2; swap++) {
        const struct vnc_ifmap_item *it = &items.items[0];
        CHECK_EQ_INT(vnc_ifmap_parse_meta_xml(S, it->meta_xml, strlen(it->meta_xml),
                                              swap ? it->id2 : it->id1,
                                              swap ? it->id1 : it->id2, &m, err, sizeof err),
                     0);
        CHECK_EQ_INT(m.kind, VNC_IFMAP_PARENT);
        CHECK(m.ident == ID("project") && m.other == ID("virtual-network"));
        CHECK(m.value == NULL);
        json_t *pfq = J("[\"default-domain\", \"admin\"]");
        CHECK(json_equal(m.fq_name, pfq));
        json_decref(pfq);
        vnc_ifmap_meta_clear(&m);
    }

    /* The simple boolean property, as the original's str() wrote it. */
    CHECK_EQ_INT(vnc_ifmap_parse_meta_xml(S, items.items[3].meta_xml,
                                          strlen(items.items[3].meta_xml), self, NULL, &m,
                                          err, sizeof err), 0);
    CHECK(json_is_false(m.value));
    vnc_ifmap_meta_clear(&m);

    vnc_ifmap_items_clear(&items);
    json_decref(vn);
}

static void
test_project(void)
{
    json_t *o = J("{\"fq_name\": [\"default-domain\", \"admin\"], \"parent_type\": \"domain\","
                  " \"quota\": {\"defaults\": -1, \"virtual_network\": 10},"
                  " \"id_perms\": {\"uuid\": {\"uuid_mslong\": 1, \"uuid_lslong\": 2},"
                  "   \"enable\": false},"
                  " \"display_name\": \"admin\"}");
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("project"), o, &items, err, sizeof err), 0);
    const char *self = "contrail:project:default-domain:admin";
    CHECK_EQ_INT(items.n, 4);
    check_item(&items, 0, "contrail:domain:default-domain", self, "contrail:domain-project",
               "<contrail:domain-project ifmap-cardinality=\"singleValue\">"
               "</contrail:domain-project>");
    check_item(&items, 1, self, NULL, "contrail:quota",
               "<contrail:quota ifmap-cardinality=\"singleValue\"><defaults>-1</defaults>"
               "<virtual-network>10</virtual-network></contrail:quota>");
    check_item(&items, 2, self, NULL, "contrail:id-perms",
               "<contrail:id-perms ifmap-cardinality=\"singleValue\"><uuid>"
               "<uuid-mslong>1</uuid-mslong><uuid-lslong>2</uuid-lslong></uuid>"
               "<enable>false</enable></contrail:id-perms>");
    check_item(&items, 3, self, NULL, "contrail:display-name",
               "<contrail:display-name ifmap-cardinality=\"singleValue\">admin"
               "</contrail:display-name>");
    vnc_ifmap_items_clear(&items);
    json_decref(o);
}

static void
test_vmi(void)
{
    json_t *o = J(
        "{\"fq_name\": [\"default-domain\", \"admin\", \"port1\"], \"parent_type\": \"project\","
        " \"virtual_machine_interface_mac_addresses\": {\"mac_address\": [\"02:aa:bb:cc:dd:ee\","
        "   \"02:11:22:33:44:55\"]},"
        " \"virtual_machine_interface_bindings\": {\"key_value_pair\": [{\"key\": \"host_id\","
        "   \"value\": \"compute1\"}, {\"key\": \"vif_type\", \"value\": \"vrouter\"}]},"
        " \"routing_instance_refs\": [{\"to\": [\"default-domain\", \"admin\", \"red\","
        "   \"red\"], \"attr\": {\"direction\": \"both\", \"vlan_tag\": 10}}],"
        " \"virtual_network_refs\": [{\"to\": [\"default-domain\", \"admin\", \"red\"],"
        "   \"attr\": null}]}");
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-machine-interface"), o, &items, err,
                                         sizeof err), 0);
    const char *self = "contrail:virtual-machine-interface:default-domain:admin:port1";
    CHECK_EQ_INT(items.n, 5);
    check_item(&items, 0, "contrail:project:default-domain:admin", self,
               "contrail:project-virtual-machine-interface",
               "<contrail:project-virtual-machine-interface ifmap-cardinality=\"singleValue\">"
               "</contrail:project-virtual-machine-interface>");
    check_item(&items, 1, self, NULL, "contrail:virtual-machine-interface-mac-addresses",
               "<contrail:virtual-machine-interface-mac-addresses "
               "ifmap-cardinality=\"singleValue\"><mac-address>02:aa:bb:cc:dd:ee</mac-address>"
               "<mac-address>02:11:22:33:44:55</mac-address>"
               "</contrail:virtual-machine-interface-mac-addresses>");
    check_item(&items, 2, self, NULL, "contrail:virtual-machine-interface-bindings",
               "<contrail:virtual-machine-interface-bindings ifmap-cardinality=\"singleValue\">"
               "<key-value-pair><key>host_id</key><value>compute1</value></key-value-pair>"
               "<key-value-pair><key>vif_type</key><value>vrouter</value></key-value-pair>"
               "</contrail:virtual-machine-interface-bindings>");
    /* References in the schema's order, not the object's. */
    check_item(&items, 3, self, "contrail:virtual-network:default-domain:admin:red",
               "contrail:virtual-machine-interface-virtual-network",
               "<contrail:virtual-machine-interface-virtual-network "
               "ifmap-cardinality=\"singleValue\">"
               "</contrail:virtual-machine-interface-virtual-network>");
    check_item(&items, 4, self, "contrail:routing-instance:default-domain:admin:red:red",
               "contrail:virtual-machine-interface-routing-instance",
               "<contrail:virtual-machine-interface-routing-instance "
               "ifmap-cardinality=\"singleValue\"><direction>both</direction>"
               "<vlan-tag>10</vlan-tag></contrail:virtual-machine-interface-routing-instance>");

    /* Under a virtual-machine instead. */
    json_object_set_new(o, "parent_type", json_string("virtual-machine"));
    json_object_set_new(o, "fq_name", J("[\"vm1\", \"port1\"]"));
    vnc_ifmap_items_clear(&items);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-machine-interface"), o, &items, err,
                                         sizeof err), 0);
    check_item(&items, 0, "contrail:virtual-machine:vm1",
               "contrail:virtual-machine-interface:vm1:port1",
               "contrail:virtual-machine-virtual-machine-interface",
               "<contrail:virtual-machine-virtual-machine-interface "
               "ifmap-cardinality=\"singleValue\">"
               "</contrail:virtual-machine-virtual-machine-interface>");
    vnc_ifmap_items_clear(&items);
    json_decref(o);
}

static void
test_route_target_and_gsc(void)
{
    json_t *o = J("{\"fq_name\": [\"target:64512:8000001\"],"
                  " \"id_perms\": {\"uuid\": {\"uuid_mslong\": 3, \"uuid_lslong\": 4},"
                  "   \"enable\": true}, \"display_name\": \"target:64512:8000001\"}");
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("route-target"), o, &items, err, sizeof err),
                 0);
    /* No has-link reaches a route-target: no parent link, as in the original. */
    CHECK_EQ_INT(items.n, 2);
    check_item(&items, 0, "contrail:route-target:target:64512:8000001", NULL,
               "contrail:id-perms",
               "<contrail:id-perms ifmap-cardinality=\"singleValue\"><uuid>"
               "<uuid-mslong>3</uuid-mslong><uuid-lslong>4</uuid-lslong></uuid>"
               "<enable>true</enable></contrail:id-perms>");
    check_item(&items, 1, "contrail:route-target:target:64512:8000001", NULL,
               "contrail:display-name",
               "<contrail:display-name ifmap-cardinality=\"singleValue\">target:64512:8000001"
               "</contrail:display-name>");
    vnc_ifmap_items_clear(&items);
    json_decref(o);

    o = J("{\"fq_name\": [\"default-global-system-config\"], \"parent_type\": \"config-root\","
          " \"autonomous_system\": 64512, \"ibgp_auto_mesh\": true,"
          " \"config_version\": \"1<2 & \\\"3\\\"\","
          " \"bgp_router_refs\": [{\"to\": [\"default-domain\", \"default-project\","
          "   \"ip-fabric\", \"__default__\", \"cn1\"]}]}");
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("global-system-config"), o, &items, err,
                                         sizeof err), 0);
    const char *self = "contrail:global-system-config:default-global-system-config";
    CHECK_EQ_INT(items.n, 5);
    check_item(&items, 0, "contrail:config-root:root", self,
               "contrail:config-root-global-system-config",
               "<contrail:config-root-global-system-config ifmap-cardinality=\"singleValue\">"
               "</contrail:config-root-global-system-config>");
    check_item(&items, 1, self, NULL, "contrail:autonomous-system",
               "<contrail:autonomous-system ifmap-cardinality=\"singleValue\">64512"
               "</contrail:autonomous-system>");
    /* A simple string property is escaped like the original's escape(): quotes too. */
    check_item(&items, 2, self, NULL, "contrail:config-version",
               "<contrail:config-version ifmap-cardinality=\"singleValue\">"
               "1&lt;2 &amp; &quot;3&quot;</contrail:config-version>");
    check_item(&items, 3, self, NULL, "contrail:ibgp-auto-mesh",
               "<contrail:ibgp-auto-mesh ifmap-cardinality=\"singleValue\">True"
               "</contrail:ibgp-auto-mesh>");
    check_item(&items, 4, self,
               "contrail:bgp-router:default-domain:default-project:ip-fabric:__default__:cn1",
               "contrail:global-system-config-bgp-router",
               "<contrail:global-system-config-bgp-router ifmap-cardinality=\"singleValue\">"
               "</contrail:global-system-config-bgp-router>");

    /* Without parent_type: still the config-root link (the only parent type). */
    json_object_del(o, "parent_type");
    struct vnc_ifmap_items again;
    vnc_ifmap_items_init(&again);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("global-system-config"), o, &again, err,
                                         sizeof err), 0);
    CHECK_EQ_INT(again.n, 5);
    check_item(&again, 0, "contrail:config-root:root", self,
               "contrail:config-root-global-system-config",
               items.items[0].meta_xml);

    /* The publish body of the first two items, and the delete form. */
    struct vnc_ifmap_items two, dels;
    vnc_ifmap_items_init(&two);
    vnc_ifmap_items_init(&dels);
    for (size_t i = 0; i < 2; i++) {
        vnc_ifmap_items_add(&two, items.items[i].id1, items.items[i].id2,
                            items.items[i].meta_name, items.items[i].meta_xml);
    }
    vnc_ifmap_items_add(&dels, self, NULL, "contrail:display-name", "<x/>");
    char *body = vnc_ifmap_publish_body("S1&", &two, &dels);
    CHECK_STREQ(body,
        "<ifmap:publish session-id=\"S1&amp;\">"
        "<delete filter=\"contrail:display-name\"><identity name=\"contrail:global-system-"
        "config:default-global-system-config\" type=\"other\" other-type-definition="
        "\"extended\"/></delete>"
        "<update lifetime=\"forever\"><identity name=\"contrail:config-root:root\" "
        "type=\"other\" other-type-definition=\"extended\"/><identity name=\"contrail:"
        "global-system-config:default-global-system-config\" type=\"other\" "
        "other-type-definition=\"extended\"/><metadata><contrail:config-root-global-system-"
        "config ifmap-cardinality=\"singleValue\"></contrail:config-root-global-system-config>"
        "</metadata></update>"
        "<update lifetime=\"forever\"><identity name=\"contrail:global-system-config:"
        "default-global-system-config\" type=\"other\" other-type-definition=\"extended\"/>"
        "<metadata><contrail:autonomous-system ifmap-cardinality=\"singleValue\">64512"
        "</contrail:autonomous-system></metadata></update>"
        "</ifmap:publish>");
    xfree(body);
    body = vnc_ifmap_publish_body(NULL, NULL, NULL);
    CHECK_STREQ(body, "");
    xfree(body);

    /* The body is well-formed XML once the prefixes are declared. */
    body = vnc_ifmap_publish_body(NULL, &items, &dels);
    char *doc_text = mem_asprintf(&mem_type_string,
                                  "<b xmlns:contrail=\"%s\">%s</b>", VNC_IFMAP_CONTRAIL_NS,
                                  body);
    xmlDoc *doc = xmlReadMemory(doc_text, (int) strlen(doc_text), "b.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    CHECK(doc != NULL);
    xmlFreeDoc(doc);
    xfree(doc_text);
    xfree(body);

    vnc_ifmap_items_clear(&two);
    vnc_ifmap_items_clear(&dels);
    vnc_ifmap_items_clear(&again);
    vnc_ifmap_items_clear(&items);
    json_decref(o);
}

/* ---- Diff. ---- */

static void
test_diff(void)
{
    json_t *v1 = J("{\"fq_name\": [\"d\", \"p\", \"vn\"], \"parent_type\": \"project\","
                   " \"display_name\": \"one\", \"router_external\": true,"
                   " \"network_ipam_refs\": [{\"to\": [\"d\", \"p\", \"ipam1\"],"
                   "   \"attr\": {\"ipam_subnets\": []}},"
                   "  {\"to\": [\"d\", \"p\", \"ipam2\"], \"attr\": null}]}");
    json_t *v2 = J("{\"fq_name\": [\"d\", \"p\", \"vn\"], \"parent_type\": \"project\","
                   " \"display_name\": \"two\", \"router_external\": true, \"is_shared\": false,"
                   " \"network_ipam_refs\": [{\"to\": [\"d\", \"p\", \"ipam2\"],"
                   "   \"attr\": null}]}");
    struct vnc_ifmap_items a, b, up, del;
    vnc_ifmap_items_init(&a);
    vnc_ifmap_items_init(&b);
    vnc_ifmap_items_init(&up);
    vnc_ifmap_items_init(&del);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-network"), v1, &a, err, sizeof err), 0);
    CHECK_EQ_INT(vnc_ifmap_render_object(S, ID("virtual-network"), v2, &b, err, sizeof err), 0);

    /* Nothing to do between equal lists. */
    vnc_ifmap_diff(&a, &a, &up, &del);
    CHECK_EQ_INT(up.n, 0);
    CHECK_EQ_INT(del.n, 0);

    vnc_ifmap_diff(&a, &b, &up, &del);
    CHECK_EQ_INT(up.n, 2);
    if (up.n == 2) {
        CHECK_STREQ(up.items[0].meta_name, "contrail:is-shared");
        CHECK_STREQ(up.items[1].meta_name, "contrail:display-name");
        CHECK_CONTAINS(up.items[1].meta_xml, ">two<");
    }
    CHECK_EQ_INT(del.n, 1);
    if (del.n == 1) {
        CHECK_STREQ(del.items[0].meta_name, "contrail:virtual-network-network-ipam");
        CHECK_STREQ(del.items[0].id2, "contrail:network-ipam:d:p:ipam1");
    }
    vnc_ifmap_items_clear(&up);
    vnc_ifmap_items_clear(&del);

    /* Deleting the object: everything goes. */
    vnc_ifmap_diff(&b, NULL, &up, &del);
    CHECK_EQ_INT(up.n, 0);
    CHECK_EQ_INT(del.n, b.n);
    /* Creating it: everything is new. */
    vnc_ifmap_items_clear(&up);
    vnc_ifmap_items_clear(&del);
    vnc_ifmap_diff(NULL, &b, &up, &del);
    CHECK_EQ_INT(up.n, b.n);
    CHECK_EQ_INT(del.n, 0);

    vnc_ifmap_items_clear(&up);
    vnc_ifmap_items_clear(&del);
    vnc_ifmap_items_clear(&a);
    vnc_ifmap_items_clear(&b);
    json_decref(v1);
    json_decref(v2);
}

/* ---- Round trip of every property and link attribute in the schema. ---- */

static unsigned salt;

/* A representative value of TYPE: every field of a complex type, two entries in lists, the
 * first enum value, integers inside their range, strings that need escaping. */
static json_t *
gen_value(const struct schema_type *t, const char *name, int depth)
{
    salt++;
    switch (t->kind) {
    case SCHEMA_STRING:
    case SCHEMA_ANY:
        if (t->n_enums) {
            return json_string(t->enums[0]);
        }
        return json_sprintf("%s <&>\"' %u", name, salt);
    case SCHEMA_DATETIME:
        return json_string("2013-09-13T00:26:05.290644");
    case SCHEMA_INTEGER:
        if (!strcmp(t->name, "unsignedLong")) {
            return json_integer((json_int_t) 0xF00000000000002AULL);    /* Past 2^63. */
        }
        if (t->n_enums) {
            return json_integer(atoll(t->enums[0]));
        }
        if (t->has_min && t->has_max) {
            return json_integer(t->min + (t->max > t->min ? 1 : 0));
        }
        if (t->has_min) {
            return json_integer(t->min + 7);
        }
        if (t->has_max) {
            return json_integer(t->max - 7);
        }
        return json_integer(salt % 2 ? -42 - (json_int_t) salt : 42 + (json_int_t) salt);
    case SCHEMA_BOOLEAN:
        return json_boolean(salt % 2);
    case SCHEMA_NUMBER:
        return json_real(1.5);
    case SCHEMA_COMPLEX:
        break;
    }
    json_t *o = json_object();
    if (depth > 12) {
        return o;
    }
    for (size_t i = 0; i < t->n_fields; i++) {
        const struct schema_field *f = &t->fields[i];
        if (f->list) {
            json_t *a = json_array();
            json_array_append_new(a, gen_value(f->type, f->name, depth + 1));
            json_array_append_new(a, gen_value(f->type, f->name, depth + 1));
            json_object_set_new(o, f->name, a);
        } else {
            json_object_set_new(o, f->name, gen_value(f->type, f->name, depth + 1));
        }
    }
    return o;
}

/* A valid fq_name for type ID: up its first parents to the root. */
static json_t *
gen_fq_name(const struct schema_ident *id)
{
    json_t *fq = json_array();
    for (int guard = 0; guard < 16; guard++) {
        if (!strcmp(id->name, "config-root")) {
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "%s-n<&>'\"", id->name);
        json_array_insert_new(fq, 0, json_string(name));
        if (!id->n_parents) {
            break;
        }
        id = id->parents[0]->from;
    }
    return fq;
}

static int round_trips;

static void
test_round_trip_props(void)
{
    for (size_t i = 0; i < S->n_idents; i++) {
        const struct schema_ident *id = S->ident_list[i];
        json_t *fq = gen_fq_name(id);
        char *self = vnc_ifmap_ident_name(id, fq);
        CHECK(self != NULL);

        /* The identity name itself. */
        const struct schema_ident *pid;
        json_t *pfq;
        CHECK_EQ_INT(vnc_ifmap_parse_ident(S, self, &pid, &pfq, err, sizeof err), 0);
        CHECK(pid == id);
        if (strcmp(id->name, "config-root")) {
            CHECK(json_equal(pfq, fq));
        }
        json_decref(pfq);

        json_t *props = json_object();
        for (size_t k = 0; k < id->n_props; k++) {
            const struct schema_prop *p = &id->props[k];
            json_t *v = gen_value(p->type, p->name, 0);
            json_object_set_new(props, p->name, v);
            if (!strcmp(p->name, "perms2")) {
                continue;       /* Not published. */
            }
            char *xml = NULL;
            int e = vnc_ifmap_render_prop(p, v, &xml, err, sizeof err);
            if (e) {
                fprintf(stderr, "%s.%s: %s\n", id->name, p->name, err);
            }
            CHECK_EQ_INT(e, 0);
            if (e) {
                continue;
            }
            struct vnc_ifmap_meta m;
            e = vnc_ifmap_parse_meta_xml(S, xml, strlen(xml), self, NULL, &m, err,
                                         sizeof err);
            if (e) {
                fprintf(stderr, "%s.%s: %s\n%s\n", id->name, p->name, err, xml);
            }
            CHECK_EQ_INT(e, 0);
            if (!e) {
                CHECK_EQ_INT(m.kind, VNC_IFMAP_PROP);
                CHECK(m.ident == id && m.prop == p);
                json_t *want = json_incref(v);
                if (!strcmp(p->name, "id_perms")) {
                    json_decref(want);
                    want = json_pack("{s:O,s:O}", "uuid", json_object_get(v, "uuid"),
                                     "enable", json_object_get(v, "enable"));
                }
                bool eq = json_equal(m.value, want);
                if (!eq) {
                    char *a = json_dumps(want, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                    char *b = json_dumps(m.value, JSON_SORT_KEYS | JSON_ENCODE_ANY);
                    fprintf(stderr, "%s.%s differs:\n want %s\n  got %s\n xml %s\n", id->name,
                            p->name, a, b, xml);
                    free(a);
                    free(b);
                }
                CHECK(eq);
                round_trips += eq;
                json_decref(want);
                vnc_ifmap_meta_clear(&m);
            }
            xfree(xml);
        }

        /* The whole object: one item per published property, on the object's identity. */
        struct vnc_ifmap_items items;
        vnc_ifmap_items_init(&items);
        CHECK_EQ_INT(vnc_ifmap_render(id, fq, props, NULL, NULL, NULL, 0, &items, err,
                                      sizeof err), 0);
        size_t n_props = 0;
        for (size_t k = 0; k < items.n; k++) {
            if (!items.items[k].id2) {
                n_props++;
                CHECK_STREQ(items.items[k].id1, self);
                CHECK(strcmp(items.items[k].meta_name, "contrail:perms2") != 0);
            }
        }
        CHECK_EQ_INT(n_props, id->n_props - 1);
        vnc_ifmap_items_clear(&items);
        json_decref(props);
        xfree(self);
        json_decref(fq);
    }
}

static void
test_round_trip_links(void)
{
    for (size_t i = 0; i < S->n_links; i++) {
        const struct schema_link *l = S->links[i];
        json_t *ffq = gen_fq_name(l->from), *tfq = gen_fq_name(l->to);
        char *from = vnc_ifmap_ident_name(l->from, ffq);
        char *to = vnc_ifmap_ident_name(l->to, tfq);
        json_t *attr = l->attr ? gen_value(l->attr, "attr", 0) : NULL;
        char *xml = NULL;
        CHECK_EQ_INT(vnc_ifmap_render_link(l, attr, &xml, err, sizeof err), 0);
        for (int swap = 0; swap < 2 && xml; swap++) {
            struct vnc_ifmap_meta m;
            int e = vnc_ifmap_parse_meta_xml(S, xml, strlen(xml), swap ? to : from,
                                             swap ? from : to, &m, err, sizeof err);
            if (e) {
                fprintf(stderr, "%s: %s\n", l->name, err);
            }
            CHECK_EQ_INT(e, 0);
            if (e) {
                continue;
            }
            CHECK_EQ_INT(m.kind, l->has ? VNC_IFMAP_PARENT : VNC_IFMAP_REF);
            CHECK(m.link == l);
            if (l->from != l->to) {
                /* Whatever the order of the identities, the referrer comes first. */
                CHECK(m.ident == l->from && m.other == l->to);
                if (strcmp(l->from->name, "config-root")) {     /* Its name is "root". */
                    CHECK(json_equal(m.fq_name, ffq));
                }
                CHECK(json_equal(m.other_fq_name, tfq));
            }
            if (attr) {
                bool eq = json_equal(m.value, attr);
                if (!eq) {
                    fprintf(stderr, "%s attr differs\n xml %s\n", l->name, xml);
                }
                CHECK(eq);
                round_trips += eq;
            } else {
                CHECK(m.value == NULL);
            }
            vnc_ifmap_meta_clear(&m);
        }

        /* Through vnc_ifmap_render() for refs: the pair is (referrer, target). */
        if (!l->has) {
            struct vnc_ifmap_ref r = { .link = l, .to_fq_name = tfq, .attr = attr };
            struct vnc_ifmap_items items;
            vnc_ifmap_items_init(&items);
            CHECK_EQ_INT(vnc_ifmap_render(l->from, ffq, NULL, NULL, NULL, &r, 1, &items, err,
                                          sizeof err), 0);
            CHECK(items.n >= 1);
            if (items.n >= 1) {
                const struct vnc_ifmap_item *it = &items.items[items.n - 1];
                CHECK_STREQ(it->id1, from);
                CHECK_STREQ(it->id2, to);
                CHECK_STREQ(it->meta_xml, xml);
            }
            vnc_ifmap_items_clear(&items);
        }
        xfree(xml);
        json_decref(attr);
        xfree(from);
        xfree(to);
        json_decref(ffq);
        json_decref(tfq);
    }
}

/* ---- Parsing details and malformed input. ---- */

static int
parse(const char *xml, const char *id1, const char *id2, struct vnc_ifmap_meta *m)
{
    err[0] = '\0';
    return vnc_ifmap_parse_meta_xml(S, xml, strlen(xml), id1, id2, m, err, sizeof err);
}

static void
test_parse_details(void)
{
    const char *vn = "contrail:virtual-network:d:p:vn";
    struct vnc_ifmap_meta m;

    /* As a poll result carries it: own namespace declaration, more attributes, whitespace,
     * unknown elements (ignored), "1"/"0" booleans. */
    CHECK_EQ_INT(parse("<contrail:virtual-network-properties"
                       " xmlns:contrail=\"http://www.contrailsystems.com/vnc_cfg.xsd\""
                       " ifmap-cardinality=\"singleValue\" ifmap-publisher-id=\"p1\">\n"
                       "  <forwarding-mode>l2</forwarding-mode>\n"
                       "  <future-field><x>1</x></future-field>\n"
                       "  <allow-transit> 1 </allow-transit>\n"
                       "  <vxlan-network-identifier>\n 7 \n</vxlan-network-identifier>\n"
                       "</contrail:virtual-network-properties>", vn, NULL, &m), 0);
    json_t *want = J("{\"forwarding_mode\": \"l2\", \"allow_transit\": true,"
                     " \"vxlan_network_identifier\": 7}");
    CHECK(json_equal(m.value, want));
    json_decref(want);
    vnc_ifmap_meta_clear(&m);

    /* Simple properties: "True"/"true", and an integer. */
    CHECK_EQ_INT(parse("<contrail:router-external>true</contrail:router-external>", vn, NULL,
                       &m), 0);
    CHECK(json_is_true(m.value));
    vnc_ifmap_meta_clear(&m);
    CHECK_EQ_INT(parse("<contrail:virtual-network-network-id>12</contrail:virtual-network-"
                       "network-id>", vn, NULL, &m), 0);
    CHECK(json_is_integer(m.value) && json_integer_value(m.value) == 12);
    vnc_ifmap_meta_clear(&m);
    CHECK_EQ_INT(parse("<contrail:display-name ifmap-cardinality=\"singleValue\">"
                       "a&lt;b&amp;&quot;c&apos;</contrail:display-name>", vn, NULL, &m), 0);
    CHECK_STREQ(json_string_value(m.value), "a<b&\"c'");
    vnc_ifmap_meta_clear(&m);
    CHECK_EQ_INT(parse("<contrail:display-name/>", vn, NULL, &m), 0);
    CHECK_STREQ(json_string_value(m.value), "");
    vnc_ifmap_meta_clear(&m);

    /* A ref with an attribute type but an empty element: {}. */
    CHECK_EQ_INT(parse("<contrail:virtual-network-network-policy/>", vn,
                       "contrail:network-policy:d:p:pol", &m), 0);
    CHECK_EQ_INT(m.kind, VNC_IFMAP_REF);
    CHECK(json_is_object(m.value) && json_object_size(m.value) == 0);
    vnc_ifmap_meta_clear(&m);

    /* id-perms on the root. */
    CHECK_EQ_INT(parse("<contrail:id-perms><enable>true</enable></contrail:id-perms>",
                       "contrail:config-root:root", NULL, &m), 0);
    CHECK(m.ident == ID("config-root"));
    vnc_ifmap_meta_clear(&m);

    /* The config-root link. */
    CHECK_EQ_INT(parse("<contrail:config-root-domain/>", "contrail:domain:dd",
                       "contrail:config-root:root", &m), 0);
    CHECK_EQ_INT(m.kind, VNC_IFMAP_PARENT);
    CHECK(m.ident == ID("config-root") && m.other == ID("domain"));
    vnc_ifmap_meta_clear(&m);

    /* A self-reference: the first identity is taken as the referrer. */
    CHECK_EQ_INT(parse("<contrail:bgp-peering><session><uuid>u</uuid></session>"
                       "</contrail:bgp-peering>",
                       "contrail:bgp-router:d:p:v:ri:a", "contrail:bgp-router:d:p:v:ri:b",
                       &m), 0);
    CHECK_STREQ(json_string_value(json_array_get(m.fq_name, 4)), "a");
    CHECK_STREQ(json_string_value(json_array_get(m.other_fq_name, 4)), "b");
    want = J("{\"session\": [{\"uuid\": \"u\"}]}");
    CHECK(json_equal(m.value, want));
    json_decref(want);
    vnc_ifmap_meta_clear(&m);

    /* The xmlNode entry point straight from a poll result. */
    const char *poll =
        "<pollResult xmlns:contrail=\"http://www.contrailsystems.com/vnc_cfg.xsd\">"
        "<updateResult name=\"root\"><resultItem>"
        "<identity name=\"contrail:project:default-domain:admin\" type=\"other\""
        " other-type-definition=\"extended\"/>"
        "<identity name=\"contrail:virtual-network:default-domain:admin:red\" type=\"other\""
        " other-type-definition=\"extended\"/>"
        "<metadata><contrail:project-virtual-network ifmap-cardinality=\"singleValue\"/>"
        "</metadata></resultItem></updateResult></pollResult>";
    xmlDoc *doc = xmlReadMemory(poll, (int) strlen(poll), "p.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    CHECK(doc != NULL);
    if (doc) {
        xmlNode *item = xmlDocGetRootElement(doc)->children->children;
        xmlNode *i1 = item->children, *i2 = i1->next, *md = i2->next->children;
        xmlChar *n1 = xmlGetProp(i1, (const xmlChar *) "name");
        xmlChar *n2 = xmlGetProp(i2, (const xmlChar *) "name");
        CHECK_EQ_INT(vnc_ifmap_parse_meta(S, md, (const char *) n1, (const char *) n2, &m,
                                          err, sizeof err), 0);
        CHECK_EQ_INT(m.kind, VNC_IFMAP_PARENT);
        CHECK(m.ident == ID("project") && m.other == ID("virtual-network"));
        vnc_ifmap_meta_clear(&m);
        /* Not an element / NULL. */
        CHECK_EQ_INT(vnc_ifmap_parse_meta(S, NULL, (const char *) n1, NULL, &m, err,
                                          sizeof err), EINVAL);
        xmlFree(n1);
        xmlFree(n2);
        xmlFreeDoc(doc);
    }
    vnc_ifmap_meta_clear(NULL);
}

static void
test_malformed(void)
{
    static const struct {
        const char *xml, *id1, *id2;
        int error;
    } cases[] = {
        /* Unknown metadata. */
        { "<contrail:no-such-property/>", "contrail:virtual-network:d:p:vn", NULL, ENOENT },
        { "<contrail:quota/>", "contrail:virtual-network:d:p:vn", NULL, ENOENT },
        { "<contrail:no-such-link/>", "contrail:virtual-network:d:p:vn",
          "contrail:network-ipam:d:p:ipam", ENOENT },
        /* A link between the wrong types, a property given two identities. */
        { "<contrail:project-virtual-network/>", "contrail:virtual-network:d:p:vn",
          "contrail:network-ipam:d:p:ipam", ENOENT },
        { "<contrail:display-name>x</contrail:display-name>",
          "contrail:virtual-network:d:p:vn", "contrail:network-ipam:d:p:ipam", ENOENT },
        /* Bad identities. */
        { "<contrail:display-name>x</contrail:display-name>", "contrail:virtual-network:vn",
          NULL, EINVAL },
        { "<contrail:display-name>x</contrail:display-name>", "virtual-network:a:b:c", NULL,
          EINVAL },
        { "<contrail:virtual-network-network-ipam/>", "contrail:virtual-network:d:p:vn",
          "contrail:bogus:x", ENOENT },
        /* Other namespaces. */
        { "<meta:display-name xmlns:meta=\"http://www.trustedcomputinggroup.org/2010/"
          "IFMAP-METADATA/2\">x</meta:display-name>", "contrail:virtual-network:d:p:vn",
          NULL, EINVAL },
        { "<display-name>x</display-name>", "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<c:display-name xmlns:c=\"urn:other\">x</c:display-name>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        /* Wrong types. */
        { "<contrail:virtual-network-properties><vxlan-network-identifier>abc"
          "</vxlan-network-identifier></contrail:virtual-network-properties>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:virtual-network-properties><vxlan-network-identifier>12abc"
          "</vxlan-network-identifier></contrail:virtual-network-properties>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:virtual-network-properties><vxlan-network-identifier>"
          "</vxlan-network-identifier></contrail:virtual-network-properties>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:virtual-network-properties><network-id>99999999999999999999999"
          "</network-id></contrail:virtual-network-properties>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:virtual-network-properties><allow-transit>maybe</allow-transit>"
          "</contrail:virtual-network-properties>", "contrail:virtual-network:d:p:vn", NULL,
          EINVAL },
        { "<contrail:router-external>yes</contrail:router-external>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:display-name><b>x</b></contrail:display-name>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:virtual-network-network-ipam><ipam-subnets><subnet><ip-prefix-len>x"
          "</ip-prefix-len></subnet></ipam-subnets></contrail:virtual-network-network-ipam>",
          "contrail:virtual-network:d:p:vn", "contrail:network-ipam:d:p:ipam", EINVAL },
        { "<contrail:id-perms><uuid><uuid-mslong>-</uuid-mslong></uuid></contrail:id-perms>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        /* Not XML, or not one element. */
        { "<contrail:display-name>x", "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "", "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "text only", "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:display-name>x</contrail:display-name><contrail:display-name>y"
          "</contrail:display-name>", "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "</vnc-ifmap-fragment><x/><vnc-ifmap-fragment>", "contrail:virtual-network:d:p:vn",
          NULL, EINVAL },
        { "<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><x>&e;</x>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:display-name>&e;</contrail:display-name>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
        { "<contrail:display-name>\xff\xfe</contrail:display-name>",
          "contrail:virtual-network:d:p:vn", NULL, EINVAL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct vnc_ifmap_meta m;
        int e = parse(cases[i].xml, cases[i].id1, cases[i].id2, &m);
        if (e != cases[i].error) {
            fprintf(stderr, "malformed case %zu: got %d (%s)\n", i, e, err);
        }
        CHECK_EQ_INT(e, cases[i].error);
        CHECK(err[0] != '\0');
        CHECK(m.value == NULL && m.fq_name == NULL && m.ident == NULL);
        vnc_ifmap_meta_clear(&m);
    }

    /* Deep nesting: unknown elements are skipped; past libxml2's own depth limit the XML
     * is refused. */
    for (int levels = 200; levels <= 2000; levels += 1800) {
        char *deep = xstrdup("<contrail:quota>");
        for (int k = 0; k < levels; k++) {
            char *t = mem_asprintf(&mem_type_string, "%s<a>", deep);
            xfree(deep);
            deep = t;
        }
        for (int k = 0; k < levels; k++) {
            char *t = mem_asprintf(&mem_type_string, "%s</a>", deep);
            xfree(deep);
            deep = t;
        }
        char *t = mem_asprintf(&mem_type_string, "%s</contrail:quota>", deep);
        xfree(deep);
        deep = t;
        struct vnc_ifmap_meta m;
        CHECK_EQ_INT(parse(deep, "contrail:project:d:p", NULL, &m), levels < 256 ? 0 : EINVAL);
        vnc_ifmap_meta_clear(&m);
        xfree(deep);
    }

    /* Rendering what does not fit the schema. */
    struct vnc_ifmap_items items;
    vnc_ifmap_items_init(&items);
    static const char *const bad_objects[] = {
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"virtual_network_properties\":"
        " {\"vxlan_network_identifier\": \"five\"}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"virtual_network_properties\": [1]}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"route_target_list\": {\"route_target\": 1}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"route_target_list\":"
        " {\"route_target\": [true]}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"router_external\": \"yes\"}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"display_name\": 5}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"display_name\": \"bell\\u0007\"}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"route_target_list\":"
        " {\"route_target\": [\"x\\u001f\"]}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\\u0002\"]}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"id_perms\": {\"uuid\": {\"uuid_mslong\": 1}}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"id_perms\": {\"enable\": 1}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"id_perms\": 5}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"network_ipam_refs\": [{\"to\": \"x\"}]}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"network_ipam_refs\": [{\"attr\": {}}]}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"network_ipam_refs\": {}}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"network_ipam_refs\": [{\"to\": [\"d\", \"p\","
        " \"i\"], \"attr\": {\"ipam_subnets\": [{\"subnet\": {\"ip_prefix_len\": \"24\"}}]}}]}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"parent_type\": \"domain\"}",
        "{\"fq_name\": [\"d\", \"p\", \"vn\"], \"parent_type\": \"nope\"}",
        "{\"fq_name\": [\"vn\"], \"parent_type\": \"project\"}",
        "{\"fq_name\": \"d:p:vn\"}",
        "{\"fq_name\": [\"d\", 1, \"vn\"]}",
        "{}",
        "[]",
    };
    for (size_t i = 0; i < sizeof bad_objects / sizeof bad_objects[0]; i++) {
        json_t *o = J(bad_objects[i]);
        err[0] = '\0';
        int e = vnc_ifmap_render_object(S, ID("virtual-network"), o, &items, err, sizeof err);
        if (e != EINVAL) {
            fprintf(stderr, "bad object %zu rendered: %s\n", i, bad_objects[i]);
        }
        CHECK_EQ_INT(e, EINVAL);
        CHECK(err[0] != '\0');
        vnc_ifmap_items_clear(&items);
        json_decref(o);
    }
    /* The message names the field. */
    json_t *o = J(bad_objects[0]);
    vnc_ifmap_render_object(S, ID("virtual-network"), o, &items, err, sizeof err);
    CHECK_CONTAINS(err, "virtual_network_properties.vxlan_network_identifier");
    vnc_ifmap_items_clear(&items);
    json_decref(o);

    /* A ref link of another type, a has-link given as a ref. */
    json_t *fq = J("[\"d\", \"p\", \"vn\"]");
    struct vnc_ifmap_ref r = { .link = ID("virtual-machine-interface")->refs[0],
                               .to_fq_name = fq, .attr = NULL };
    CHECK_EQ_INT(vnc_ifmap_render(ID("virtual-network"), fq, NULL, NULL, NULL, &r, 1, &items,
                                  err, sizeof err), EINVAL);
    vnc_ifmap_items_clear(&items);
    r.link = ID("virtual-network")->parents[0];
    CHECK_EQ_INT(vnc_ifmap_render(ID("virtual-network"), fq, NULL, NULL, NULL, &r, 1, &items,
                                  err, sizeof err), EINVAL);
    vnc_ifmap_items_clear(&items);
    /* Parent of the wrong type, a parent without fq_name, props not an object. */
    CHECK_EQ_INT(vnc_ifmap_render(ID("virtual-network"), fq, NULL, ID("domain"), fq, NULL, 0,
                                  &items, err, sizeof err), EINVAL);
    vnc_ifmap_items_clear(&items);
    CHECK_EQ_INT(vnc_ifmap_render(ID("virtual-network"), fq, NULL, ID("project"), NULL, NULL,
                                  0, &items, err, sizeof err), EINVAL);
    vnc_ifmap_items_clear(&items);
    json_t *arr = J("[]");
    CHECK_EQ_INT(vnc_ifmap_render(ID("virtual-network"), fq, arr, NULL, NULL, NULL, 0,
                                  &items, err, sizeof err), EINVAL);
    vnc_ifmap_items_clear(&items);
    json_decref(arr);
    json_decref(fq);
}

int
main(void)
{
    mem_init_json();
    xmlInitParser();
    char e[512];
    if (schema_load(schema_default_path(), &S, e, sizeof e)) {
        fprintf(stderr, "cannot load schema: %s\n", e);
        return 2;
    }
    test_ident_names();
    test_bad_ident_names();
    test_virtual_network();
    test_project();
    test_vmi();
    test_route_target_and_gsc();
    test_diff();
    test_round_trip_props();
    test_round_trip_links();
    printf("%d values round-tripped\n", round_trips);
    CHECK(round_trips > 400);
    test_parse_details();
    test_malformed();
    schema_destroy(S);
    xmlCleanupParser();

    /* Everything the module allocated was released. */
    json_t *mem = mem_to_json();
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(mem, "vnc_ifmap"), "live")),
                 0);
    CHECK(json_object_get(mem, "vnc_ifmap") != NULL);
    json_decref(mem);
    return check_finish();
}
