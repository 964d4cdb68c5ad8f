/* Unit tests for control/config/ctl_agent_config: the config each vRouter agent is sent,
 * from a hand-built config graph. */
#include "ctl_agent_config.h"

#include <errno.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

#include "cfg_graph_build.h"
#include "check.h"
#include "mem.h"
#include "schema.h"

static struct ctl_agent_config *ac_global;

static void
graph_changed(void *aux, struct cfg_obj *o, enum cfg_change what, const char *field,
              struct cfg_obj *other)
{
    (void) aux;
    if (ac_global) {
        ctl_agent_config_graph_changed(ac_global, o, what, field, other);
    }
}

/* What the agents were sent since the last take: per message, its checks; overall, one
 * line per object "AGENT update|delete node TYPE NAME" or "... link META A B". */
struct rec {
    json_t *lines;
    int messages;
    int bad_messages;           /* Not <config>, empty, or more than 16 objects. */
    json_t *last_node;          /* "TYPE NAME" -> the last <node> XML sent. */
};

static struct rec rec;

static char *
node_attr(xmlNode *n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *) name);
    static char buf[4][256];
    static int k;
    char *out = buf[k++ % 4];
    snprintf(out, 256, "%s", v ? (const char *) v : "");
    xmlFree(v);
    return out;
}

static char *
node_name(xmlNode *n)
{
    static char buf[4][512];
    static int k;
    char *out = buf[k++ % 4];
    out[0] = '\0';
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *) c->name, "name")) {
            xmlChar *t = xmlNodeGetContent(c);
            snprintf(out, 512, "%s", (const char *) t);
            xmlFree(t);
        }
    }
    return out;
}

static void
sink(void *aux, const char *agent, const char *xml)
{
    (void) aux;
    rec.messages++;
    xmlDoc *doc = xmlReadMemory(xml, (int) strlen(xml), NULL, NULL, XML_PARSE_NONET);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || strcmp((const char *) root->name, "config")) {
        rec.bad_messages++;
        xmlFreeDoc(doc);
        return;
    }
    int objs = 0;
    for (xmlNode *b = root->children; b; b = b->next) {
        if (b->type != XML_ELEMENT_NODE) {
            continue;
        }
        const char *op = (const char *) b->name;
        for (xmlNode *o = b->children; o; o = o->next) {
            if (o->type != XML_ELEMENT_NODE) {
                continue;
            }
            objs++;
            char line[2048];
            if (!strcmp((const char *) o->name, "node")) {
                snprintf(line, sizeof line, "%s %s node %s %s", agent, op,
                         node_attr(o, "type"), node_name(o));
                if (!strcmp(op, "update")) {
                    char key[1024];
                    snprintf(key, sizeof key, "%s %s", node_attr(o, "type"), node_name(o));
                    xmlBuffer *buf = xmlBufferCreate();
                    xmlNodeDump(buf, doc, o, 0, 0);
                    json_object_set_new(rec.last_node, key,
                                        json_string((const char *) xmlBufferContent(buf)));
                    xmlBufferFree(buf);
                }
            } else {
                xmlNode *ends[2] = { NULL, NULL }, *meta = NULL;
                int k = 0;
                for (xmlNode *c = o->children; c; c = c->next) {
                    if (c->type != XML_ELEMENT_NODE) {
                        continue;
                    }
                    if (!strcmp((const char *) c->name, "node") && k < 2) {
                        ends[k++] = c;
                    } else if (!strcmp((const char *) c->name, "metadata")) {
                        meta = c;
                    }
                }
                if (k != 2 || !meta) {
                    rec.bad_messages++;
                    continue;
                }
                snprintf(line, sizeof line, "%s %s link %s %s %s", agent, op,
                         node_attr(meta, "type"), node_name(ends[0]), node_name(ends[1]));
            }
            json_array_append_new(rec.lines, json_string(line));
        }
    }
    if (objs == 0 || objs > CTL_AGENT_CONFIG_OBJECTS_PER_MESSAGE) {
        rec.bad_messages++;
    }
    xmlFreeDoc(doc);
}

static bool
sent(const char *line)
{
    size_t i;
    json_t *l;
    json_array_foreach (rec.lines, i, l) {
        if (!strcmp(json_string_value(l), line)) {
            return true;
        }
    }
    return false;
}

/* The index of LINE in what was sent, or -1. */
static int
sent_at(const char *line)
{
    size_t i;
    json_t *l;
    json_array_foreach (rec.lines, i, l) {
        if (!strcmp(json_string_value(l), line)) {
            return (int) i;
        }
    }
    return -1;
}

static bool
sent_prefix(const char *prefix)
{
    size_t i;
    json_t *l;
    json_array_foreach (rec.lines, i, l) {
        if (!strncmp(json_string_value(l), prefix, strlen(prefix))) {
            return true;
        }
    }
    return false;
}

static void
reset_rec(void)
{
    json_array_clear(rec.lines);
    rec.messages = 0;
    rec.bad_messages = 0;
}

static struct cfg_obj *
find(struct cfg_graph *g, const char *type, const char *fq)
{
    return cfg_graph_find(g, schema_ident(cfg_graph_schema(g), type), fq);
}

#define VR1 "default-global-system-config:compute1"
#define VR2 "default-global-system-config:compute2"
#define VM1 "11111111-0000-0000-0000-000000000001"
#define VM2 "11111111-0000-0000-0000-000000000002"
#define VM3 "11111111-0000-0000-0000-000000000003"

static void
build_world(struct cfg_graph *g)
{
    struct cfg_obj *gsc = build_obj(g, "global-system-config", "default-global-system-config",
                                    "00000000-0000-0000-0000-000000000001", NULL);
    build_prop(g, gsc, "autonomous_system", "64512");
    build_obj(g, "global-vrouter-config",
              "default-global-system-config:default-global-vrouter-config",
              "00000000-0000-0000-0000-000000000002", gsc);
    struct cfg_obj *vr1 = build_obj(g, "virtual-router", VR1,
                                    "00000000-0000-0000-0000-000000000003", gsc);
    build_prop(g, vr1, "virtual_router_ip_address", "\"10.0.0.11\"");
    struct cfg_obj *vr2 = build_obj(g, "virtual-router", VR2,
                                    "00000000-0000-0000-0000-000000000004", gsc);
    build_prop(g, vr2, "virtual_router_ip_address", "\"10.0.0.12\"");

    struct cfg_obj *dom = build_obj(g, "domain", "default-domain",
                                    "00000000-0000-0000-0000-000000000005", NULL);
    struct cfg_obj *proj = build_obj(g, "project", "default-domain:admin",
                                     "00000000-0000-0000-0000-000000000006", dom);
    struct cfg_obj *ipam = build_obj(g, "network-ipam", "default-domain:admin:ipam1",
                                     "00000000-0000-0000-0000-000000000007", proj);
    struct cfg_obj *vn1 = build_obj(g, "virtual-network", "default-domain:admin:vn1",
                                    "00000000-0000-0000-0000-000000000008", proj);
    build_prop(g, vn1, "virtual_network_network_id", "5");
    build_prop(g, vn1, "virtual_network_properties",
               "{\"vxlan_network_identifier\": 5, \"forwarding_mode\": \"l2_l3\"}");
    build_ref(g, vn1, ipam, "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.1.1.0\","
              " \"ip_prefix_len\": 24}, \"default_gateway\": \"10.1.1.1\"}]}");
    struct cfg_obj *ri1 = build_obj(g, "routing-instance", "default-domain:admin:vn1:vn1",
                                    "00000000-0000-0000-0000-000000000009", vn1);
    build_prop(g, ri1, "routing_instance_is_default", "true");
    struct cfg_obj *acl = build_obj(g, "access-control-list", "default-domain:admin:vn1:acl1",
                                    "00000000-0000-0000-0000-000000000010", vn1);
    (void) acl;
    struct cfg_obj *vn2 = build_obj(g, "virtual-network", "default-domain:admin:vn2",
                                    "00000000-0000-0000-0000-000000000011", proj);
    build_obj(g, "routing-instance", "default-domain:admin:vn2:vn2",
              "00000000-0000-0000-0000-000000000012", vn2);

    /* compute1 hosts vm1 (port vmi1 in vn1 with an address); compute2 hosts vm2 in vn2. */
    struct cfg_obj *vm1 = build_obj(g, "virtual-machine", VM1, VM1, NULL);
    build_ref(g, vr1, vm1, NULL);
    struct cfg_obj *vmi1 = build_obj(g, "virtual-machine-interface", "default-domain:admin:vmi1",
                                     "00000000-0000-0000-0000-000000000013", proj);
    build_prop(g, vmi1, "virtual_machine_interface_mac_addresses",
               "{\"mac_address\": [\"02:00:00:00:00:01\"]}");
    build_ref(g, vmi1, vm1, NULL);
    build_ref(g, vmi1, vn1, NULL);
    build_ref(g, vmi1, ri1, "{\"direction\": \"both\"}");
    struct cfg_obj *iip = build_obj(g, "instance-ip", "iip1",
                                    "00000000-0000-0000-0000-000000000014", NULL);
    build_prop(g, iip, "instance_ip_address", "\"10.1.1.3\"");
    build_ref(g, iip, vmi1, NULL);
    build_ref(g, iip, vn1, NULL);

    struct cfg_obj *vm2 = build_obj(g, "virtual-machine", VM2, VM2, NULL);
    build_ref(g, vr2, vm2, NULL);
    struct cfg_obj *vmi2 = build_obj(g, "virtual-machine-interface", "default-domain:admin:vmi2",
                                     "00000000-0000-0000-0000-000000000015", proj);
    build_ref(g, vmi2, vm2, NULL);
    build_ref(g, vmi2, vn2, NULL);

    /* vm3 is on no virtual-router; its port is in vn2. */
    struct cfg_obj *vm3 = build_obj(g, "virtual-machine", VM3, VM3, NULL);
    struct cfg_obj *vmi3 = build_obj(g, "virtual-machine-interface", "default-domain:admin:vmi3",
                                     "00000000-0000-0000-0000-000000000016", proj);
    build_ref(g, vmi3, vm3, NULL);
    build_ref(g, vmi3, vn2, NULL);
}

static void
test_initial(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    build_world(g);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vm(ac, "compute1", VM1), EPERM);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vr(ac, "compute1", VR1), 0);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vr(ac, "compute1", VR1), EEXIST);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vr(ac, "", VR1), EINVAL);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);         /* Not before the graph is complete. */
    ctl_agent_config_synced(ac);
    CHECK(rec.messages >= 2);
    CHECK_EQ_INT(rec.bad_messages, 0);

    const char *nodes[] = {
        "virtual-router " VR1, "global-system-config default-global-system-config",
        "global-vrouter-config default-global-system-config:default-global-vrouter-config",
        "virtual-machine " VM1, "virtual-machine-interface default-domain:admin:vmi1",
        "virtual-network default-domain:admin:vn1", "instance-ip iip1",
        "routing-instance default-domain:admin:vn1:vn1",
        "network-ipam default-domain:admin:ipam1",
        "access-control-list default-domain:admin:vn1:acl1",
    };
    char line[512];
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++) {
        snprintf(line, sizeof line, "compute1 update node %s", nodes[i]);
        CHECK(sent(line));
        if (!sent(line)) {
            fprintf(stderr, "missing: %s\n", line);
        }
    }
    size_t n_nodes = 0, n_links = 0;
    CHECK(ctl_agent_config_sent(ac, "compute1", &n_nodes, &n_links));
    CHECK_EQ_INT(n_nodes, sizeof nodes / sizeof nodes[0]);
    /* Not reachable: the other compute, its VM, the other network, the project. */
    CHECK(!sent_prefix("compute1 update node virtual-router " VR2));
    CHECK(!sent_prefix("compute1 update node virtual-machine " VM2));
    CHECK(!sent_prefix("compute1 update node virtual-network default-domain:admin:vn2"));
    CHECK(!sent_prefix("compute1 update node project"));
    CHECK(!sent_prefix("compute1 update node domain"));

    const char *links[] = {
        "global-system-config-virtual-router default-global-system-config " VR1,
        "global-system-config-global-vrouter-config default-global-system-config "
        "default-global-system-config:default-global-vrouter-config",
        "virtual-router-virtual-machine " VR1 " " VM1,
        "virtual-machine-interface-virtual-machine default-domain:admin:vmi1 " VM1,
        "virtual-machine-interface-virtual-network default-domain:admin:vmi1 "
        "default-domain:admin:vn1",
        "virtual-machine-interface-routing-instance default-domain:admin:vmi1 "
        "default-domain:admin:vn1:vn1",
        "instance-ip-virtual-machine-interface iip1 default-domain:admin:vmi1",
        "instance-ip-virtual-network iip1 default-domain:admin:vn1",
        "virtual-network-routing-instance default-domain:admin:vn1 "
        "default-domain:admin:vn1:vn1",
        "virtual-network-access-control-list default-domain:admin:vn1 "
        "default-domain:admin:vn1:acl1",
        "virtual-network-network-ipam default-domain:admin:vn1 default-domain:admin:ipam1",
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        snprintf(line, sizeof line, "compute1 update link %s", links[i]);
        CHECK(sent(line));
        if (!sent(line)) {
            fprintf(stderr, "missing: %s\n", line);
        }
    }
    CHECK_EQ_INT(n_links, sizeof links / sizeof links[0]);
    /* Nodes come before the links that name them. */
    CHECK(sent_at("compute1 update node virtual-network default-domain:admin:vn1")
          < sent_at("compute1 update link virtual-network-network-ipam "
                    "default-domain:admin:vn1 default-domain:admin:ipam1"));

    /* Properties in the XSD serialization. */
    const char *vn = json_string_value(json_object_get(rec.last_node,
                                       "virtual-network default-domain:admin:vn1"));
    CHECK_CONTAINS(vn, "<virtual-network-properties><vxlan-network-identifier>5"
                   "</vxlan-network-identifier><forwarding-mode>l2_l3</forwarding-mode>"
                   "</virtual-network-properties>");
    CHECK_CONTAINS(vn, "<virtual-network-network-id>5</virtual-network-network-id>");
    CHECK_CONTAINS(vn, "<id-perms><uuid><uuid-mslong>");
    const char *vmi = json_string_value(json_object_get(rec.last_node,
                                        "virtual-machine-interface default-domain:admin:vmi1"));
    CHECK_CONTAINS(vmi, "<mac-address>02:00:00:00:00:01</mac-address>");
    reset_rec();
}

static void
test_link_attr(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    /* A link attribute change sends that link only. */
    build_ref(g, find(g, "virtual-network", "default-domain:admin:vn1"),
              find(g, "network-ipam", "default-domain:admin:ipam1"),
              "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.1.2.0\","
              " \"ip_prefix_len\": 24}}]}");
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 1);
    CHECK_EQ_INT(json_array_size(rec.lines), 1);
    CHECK(sent("compute1 update link virtual-network-network-ipam default-domain:admin:vn1 "
               "default-domain:admin:ipam1"));
    reset_rec();
}

static void
test_changes(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    /* A property of a sent object: that node only. */
    build_prop(g, find(g, "virtual-network", "default-domain:admin:vn1"), "display_name",
               "\"blue\"");
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 1);
    CHECK_EQ_INT(json_array_size(rec.lines), 1);
    CHECK(sent("compute1 update node virtual-network default-domain:admin:vn1"));
    CHECK_CONTAINS(json_string_value(json_object_get(rec.last_node,
                   "virtual-network default-domain:admin:vn1")),
                   "<display-name>blue</display-name>");
    reset_rec();

    /* A change elsewhere: nothing. */
    build_prop(g, find(g, "virtual-network", "default-domain:admin:vn2"), "display_name",
               "\"red\"");
    build_prop(g, find(g, "project", "default-domain:admin"), "display_name", "\"p\"");
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);

    /* A new security group on the port: the node and the link. */
    struct cfg_obj *sg = build_obj(g, "security-group", "default-domain:admin:sg1",
                                   "00000000-0000-0000-0000-000000000020",
                                   find(g, "project", "default-domain:admin"));
    struct cfg_obj *vmi1 = find(g, "virtual-machine-interface", "default-domain:admin:vmi1");
    build_ref(g, vmi1, sg, NULL);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.bad_messages, 0);
    CHECK(sent("compute1 update node security-group default-domain:admin:sg1"));
    CHECK(sent("compute1 update link virtual-machine-interface-security-group "
               "default-domain:admin:vmi1 default-domain:admin:sg1"));
    CHECK_EQ_INT(json_array_size(rec.lines), 2);
    reset_rec();

    /* Its ACL appears after the link (an object that becomes existing next to a sent one). */
    struct cfg_obj *sgacl = build_locate(g, "access-control-list",
                                         "default-domain:admin:sg1:ingress");
    cfg_graph_set_parent(g, sgacl, sg);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);          /* Not existing yet. */
    cfg_graph_set_uuid(g, sgacl, "00000000-0000-0000-0000-000000000021");
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 update node access-control-list default-domain:admin:sg1:ingress"));
    CHECK(sent("compute1 update link security-group-access-control-list "
               "default-domain:admin:sg1 default-domain:admin:sg1:ingress"));
    CHECK_EQ_INT(json_array_size(rec.lines), 2);
    reset_rec();

    /* The port leaves vn1: vn1, its ACL and the IPAM go; the instance stays (the port's
     * routing-instance link reaches it). */
    cfg_graph_del_ref(g, vmi1, find(g, "virtual-network", "default-domain:admin:vn1"));
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.bad_messages, 0);
    CHECK(sent("compute1 delete node virtual-network default-domain:admin:vn1"));
    CHECK(sent("compute1 delete node network-ipam default-domain:admin:ipam1"));
    CHECK(sent("compute1 delete node access-control-list default-domain:admin:vn1:acl1"));
    CHECK(sent("compute1 delete link virtual-machine-interface-virtual-network "
               "default-domain:admin:vmi1 default-domain:admin:vn1"));
    CHECK(sent("compute1 delete link virtual-network-routing-instance "
               "default-domain:admin:vn1 default-domain:admin:vn1:vn1"));
    CHECK(sent("compute1 delete link instance-ip-virtual-network iip1 "
               "default-domain:admin:vn1"));
    CHECK(!sent_prefix("compute1 delete node routing-instance"));
    /* Links are deleted before the nodes they name. */
    CHECK(sent_at("compute1 delete link virtual-network-network-ipam "
                  "default-domain:admin:vn1 default-domain:admin:ipam1")
          < sent_at("compute1 delete node network-ipam default-domain:admin:ipam1"));
    CHECK(!sent_prefix("compute1 update"));
    reset_rec();

    /* And comes back. */
    build_ref(g, vmi1, find(g, "virtual-network", "default-domain:admin:vn1"), NULL);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 update node virtual-network default-domain:admin:vn1"));
    CHECK(sent("compute1 update node network-ipam default-domain:admin:ipam1"));
    CHECK(!sent_prefix("compute1 delete"));
    reset_rec();

    /* The object is deleted: the instance-ip goes. */
    struct cfg_obj *iip = find(g, "instance-ip", "iip1");
    cfg_graph_forget(g, iip);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 delete node instance-ip iip1"));
    CHECK(sent("compute1 delete link instance-ip-virtual-machine-interface iip1 "
               "default-domain:admin:vmi1"));
    CHECK(!sent_prefix("compute1 update"));
    reset_rec();
}

static void
test_vm_subscribe(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    (void) g;
    CHECK_EQ_INT(ctl_agent_config_subscribe_vm(ac, "compute1", VM3), 0);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vm(ac, "compute1", VM3), EEXIST);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 update node virtual-machine " VM3));
    CHECK(sent("compute1 update node virtual-machine-interface default-domain:admin:vmi3"));
    CHECK(sent("compute1 update node virtual-network default-domain:admin:vn2"));
    CHECK(sent("compute1 update node routing-instance default-domain:admin:vn2:vn2"));
    CHECK(!sent_prefix("compute1 update node virtual-machine-interface default-domain:admin:vmi2"));
    reset_rec();
    CHECK_EQ_INT(ctl_agent_config_unsubscribe_vm(ac, "compute1", VM3), 0);
    CHECK_EQ_INT(ctl_agent_config_unsubscribe_vm(ac, "compute1", VM3), ENOENT);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 delete node virtual-machine " VM3));
    CHECK(sent("compute1 delete node virtual-network default-domain:admin:vn2"));
    CHECK(!sent_prefix("compute1 update"));
    reset_rec();

    /* A VM subscribed before it exists is sent when it appears. */
    const char *vm4 = "11111111-0000-0000-0000-000000000004";
    CHECK_EQ_INT(ctl_agent_config_subscribe_vm(ac, "compute1", vm4), 0);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);
    build_obj(g, "virtual-machine", vm4, vm4, NULL);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute1 update node virtual-machine 11111111-0000-0000-0000-000000000004"));
    CHECK_EQ_INT(json_array_size(rec.lines), 1);
    reset_rec();
}

/* Many objects: messages of at most 16. */
static void
test_split(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    struct cfg_obj *vmi1 = find(g, "virtual-machine-interface", "default-domain:admin:vmi1");
    struct cfg_obj *proj = find(g, "project", "default-domain:admin");
    for (int i = 0; i < 30; i++) {
        char name[64], uuid[64];
        snprintf(name, sizeof name, "default-domain:admin:many%02d", i);
        snprintf(uuid, sizeof uuid, "00000000-0000-0000-0001-%012d", i);
        build_ref(g, vmi1, build_obj(g, "security-group", name, uuid, proj), NULL);
    }
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(json_array_size(rec.lines), 60);
    CHECK_EQ_INT(rec.messages, 4);
    CHECK_EQ_INT(rec.bad_messages, 0);
    reset_rec();
}

/* A second agent, and a new IF-MAP session. */
static void
test_resync(struct cfg_graph *g, struct ctl_agent_config *ac)
{
    build_prop(g, find(g, "virtual-network", "default-domain:admin:vn2"), "display_name", NULL);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);
    CHECK_EQ_INT(ctl_agent_config_subscribe_vr(ac, "compute2", VR2), 0);
    ctl_agent_config_flush(ac);
    CHECK(sent("compute2 update node virtual-machine " VM2));
    CHECK(!sent_prefix("compute1 "));
    reset_rec();

    size_t n1, l1, n2, l2;
    ctl_agent_config_sent(ac, "compute1", &n1, &l1);
    ctl_agent_config_sent(ac, "compute2", &n2, &l2);
    ctl_agent_config_reset(ac);
    cfg_graph_clear(g);
    build_world(g);
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);
    ctl_agent_config_synced(ac);
    /* compute2's config is the same; compute1 lost the security groups, but has vm4
     * subscribed (no such VM in the new graph). */
    CHECK(!sent_prefix("compute2 "));
    CHECK(sent("compute1 delete node security-group default-domain:admin:many07"));
    CHECK(sent("compute1 delete node security-group default-domain:admin:sg1"));
    CHECK(sent("compute1 update node instance-ip iip1"));
    CHECK(sent("compute1 delete node virtual-machine 11111111-0000-0000-0000-000000000004"));
    CHECK(sent("compute1 update node virtual-network default-domain:admin:vn1"));  /* name */
    CHECK(!sent_prefix("compute1 update node virtual-router"));
    CHECK_EQ_INT(rec.bad_messages, 0);
    reset_rec();

    size_t n, l;
    ctl_agent_config_sent(ac, "compute2", &n, &l);
    CHECK_EQ_INT(n, n2);
    CHECK_EQ_INT(l, l2);
    CHECK_EQ_INT(ctl_agent_config_unsubscribe_vr(ac, "compute2"), 0);
    CHECK_EQ_INT(ctl_agent_config_unsubscribe_vr(ac, "compute2"), ENOENT);
    CHECK(!ctl_agent_config_sent(ac, "compute2", &n, &l));
    ctl_agent_config_flush(ac);
    CHECK_EQ_INT(rec.messages, 0);

    json_t *j = ctl_agent_config_to_json(ac);
    CHECK(json_object_get(json_object_get(j, "agents"), "compute1") != NULL);
    json_decref(j);
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
    rec.lines = json_array();
    rec.last_node = json_object();
    struct cfg_graph *g = cfg_graph_create(schema, graph_changed, NULL);
    ac_global = ctl_agent_config_create(g, sink, NULL);
    test_initial(g, ac_global);
    test_link_attr(g, ac_global);
    test_changes(g, ac_global);
    test_vm_subscribe(g, ac_global);
    test_split(g, ac_global);
    test_resync(g, ac_global);
    ctl_agent_config_destroy(ac_global);
    ac_global = NULL;
    cfg_graph_destroy(g);
    schema_destroy(schema);
    json_decref(rec.lines);
    json_decref(rec.last_node);
    xmlCleanupParser();
    return check_finish();
}
