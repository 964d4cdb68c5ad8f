/* Unit tests for the schema transformer's rule expansion (config/schema/st_rules). */
#include <string.h>

#include "check.h"
#include "mem.h"
#include "st_rules.h"

#define RED "default-domain:p:red"
#define BLUE "default-domain:p:blue"
#define GREEN "default-domain:p:green"

static json_t *
J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j) {
        fprintf(stderr, "bad JSON in test: %s: %s\n", e.text, text);
        abort();
    }
    return j;
}

/* Whether A equals the JSON in TEXT; prints both when not. */
static bool
json_is(const json_t *a, const char *text)
{
    json_t *b = J(text);
    bool eq = a && json_equal(a, b);
    if (!eq) {
        char *s = a ? json_dumps(a, JSON_SORT_KEYS) : NULL;
        char *t = json_dumps(b, JSON_SORT_KEYS);
        fprintf(stderr, "got:      %s\nexpected: %s\n", s ? s : "(null)", t);
        free(s);
        free(t);
    }
    json_decref(b);
    return eq;
}

/* Policy networks: pol-x is attached to red and green. */
static const json_t *
policy_vns(void *aux, const char *policy)
{
    static json_t *vns;
    if (!vns) {
        vns = J("[\"" GREEN "\", \"" RED "\"]");
    }
    return !strcmp(policy, "default-domain:p:pol-x") ? vns : NULL;
}

#define ANYPORT "{\"start_port\": 0, \"end_port\": 65535}"
#define ADDR(VN) "{\"virtual_network\": \"" VN "\"}"
#define RULE(PROTO, SA, SP, DA, DP, ACTION, UUID)                                          \
    "{\"match_condition\": {\"protocol\": \"" PROTO "\", \"src_address\": " SA            \
    ", \"src_port\": " SP ", \"dst_address\": " DA ", \"dst_port\": " DP                   \
    ", \"ethertype\": \"IPv4\"}, \"action_list\": {\"simple_action\": \"" ACTION "\"}"     \
    UUID "}"
#define U(X) ", \"rule_uuid\": \"" X "\""

static void
test_protocols(void)
{
    CHECK_STREQ(st_rules_protocol("tcp", NULL), "6");
    CHECK_STREQ(st_rules_protocol("UDP", "IPv4"), "17");
    CHECK_STREQ(st_rules_protocol("icmp", "IPv4"), "1");
    CHECK_STREQ(st_rules_protocol("icmp", "IPv6"), "58");
    CHECK_STREQ(st_rules_protocol("icmp6", NULL), "58");
    CHECK_STREQ(st_rules_protocol("any", NULL), "any");
    CHECK_STREQ(st_rules_protocol(NULL, NULL), "any");
    CHECK_STREQ(st_rules_protocol("47", NULL), "47");
    CHECK(st_rules_protocol("gre", NULL) == NULL);
}

/* The whole ACL of red for a bidirectional tcp/80 policy between red and blue. */
static void
test_bidirectional_policy(void)
{
    json_t *entries = J("{\"policy_rule\": [{\"direction\": \"<>\", \"protocol\": \"tcp\","
                        " \"rule_uuid\": \"r1\","
                        " \"src_addresses\": [{\"virtual_network\": \"local\"}],"
                        " \"src_ports\": [{\"start_port\": -1, \"end_port\": -1}],"
                        " \"dst_addresses\": [{\"virtual_network\": \"" BLUE "\"}],"
                        " \"dst_ports\": [{\"start_port\": 80, \"end_port\": 80}],"
                        " \"action_list\": {\"simple_action\": \"pass\", \"apply_service\": [],"
                        " \"gateway_name\": null}}]}");
    struct st_rules_policy pol = { "default-domain:p:pol", entries, false };
    struct st_rules_vn_result r;
    st_rules_vn(RED, &pol, 1, true, policy_vns, NULL, &r);
    CHECK(json_is(r.static_entries, "{\"dynamic\": false, \"acl_rule\": ["
        RULE("6", ADDR(RED), "{\"start_port\": -1, \"end_port\": -1}", ADDR(BLUE),
             "{\"start_port\": 80, \"end_port\": 80}", "pass", U("r1")) ","
        RULE("6", ADDR(BLUE), "{\"start_port\": 80, \"end_port\": 80}", ADDR(RED),
             "{\"start_port\": -1, \"end_port\": -1}", "pass", U("r1")) ","
        RULE("any", ADDR(RED), ANYPORT, ADDR(RED), ANYPORT, "pass", "") ","
        RULE("any", ADDR(RED), ANYPORT, ADDR(BLUE), ANYPORT, "deny", U("r1")) ","
        RULE("any", ADDR(BLUE), ANYPORT, ADDR(RED), ANYPORT, "deny", U("r1")) ","
        RULE("any", ADDR("any"), ANYPORT, ADDR("any"), ANYPORT, "pass", "") "]}"));
    CHECK(r.dynamic_entries == NULL);
    CHECK(json_is(r.connections, "[\"" BLUE "\"]"));
    st_rules_vn_result_clear(&r);

    /* Without logical routers: a final deny instead of the per-pair denies. */
    st_rules_vn(RED, &pol, 1, false, policy_vns, NULL, &r);
    size_t n = json_array_size(json_object_get(r.static_entries, "acl_rule"));
    CHECK_EQ_INT(n, 4);
    CHECK(json_is(json_array_get(json_object_get(r.static_entries, "acl_rule"), 3),
                  RULE("any", ADDR("any"), ANYPORT, ADDR("any"), ANYPORT, "deny", "")));
    st_rules_vn_result_clear(&r);

    json_decref(entries);

    /* A network the rule does not name gets no rule from it, but still the trailing ones. */
    entries = J("{\"policy_rule\": [{\"direction\": \"<>\", \"protocol\": \"tcp\","
                " \"src_addresses\": [{\"virtual_network\": \"" RED "\"}],"
                " \"src_ports\": [{\"start_port\": -1, \"end_port\": -1}],"
                " \"dst_addresses\": [{\"virtual_network\": \"" BLUE "\"}],"
                " \"dst_ports\": [{\"start_port\": 80, \"end_port\": 80}],"
                " \"action_list\": {\"simple_action\": \"pass\"}}]}");
    pol.entries = entries;
    st_rules_vn(GREEN, &pol, 1, true, policy_vns, NULL, &r);
    CHECK(json_is(r.static_entries, "{\"dynamic\": false, \"acl_rule\": ["
        RULE("any", ADDR(GREEN), ANYPORT, ADDR(GREEN), ANYPORT, "pass", "") ","
        RULE("any", ADDR("any"), ANYPORT, ADDR("any"), ANYPORT, "pass", "") "]}"));
    CHECK_EQ_INT(json_array_size(r.connections), 0);
    st_rules_vn_result_clear(&r);
    json_decref(entries);

    /* No policy: no ACL at all. */
    st_rules_vn(RED, NULL, 0, true, policy_vns, NULL, &r);
    CHECK(r.static_entries == NULL && r.dynamic_entries == NULL);
    st_rules_vn_result_clear(&r);
}

/* Deny rules make no connection; "any" makes "*"; a timer puts rules in the dynamic ACL. */
static void
test_connections_and_dynamic(void)
{
    json_t *entries = J("{\"policy_rule\": ["
        "{\"direction\": \">\", \"protocol\": \"any\","
        " \"src_addresses\": [{\"virtual_network\": \"" RED "\"}],"
        " \"src_ports\": [{\"start_port\": 0, \"end_port\": 65535}],"
        " \"dst_addresses\": [{\"virtual_network\": \"" GREEN "\"}],"
        " \"dst_ports\": [{\"start_port\": 0, \"end_port\": 65535}],"
        " \"action_list\": {\"simple_action\": \"deny\"}},"
        "{\"direction\": \">\", \"protocol\": \"udp\","
        " \"src_addresses\": [{\"virtual_network\": \"local\"}],"
        " \"src_ports\": [{\"start_port\": 0, \"end_port\": 65535}],"
        " \"dst_addresses\": [{\"virtual_network\": \"any\"}],"
        " \"dst_ports\": [{\"start_port\": 53, \"end_port\": 53}],"
        " \"action_list\": {\"simple_action\": \"pass\"}}]}");
    struct st_rules_policy pol = { "default-domain:p:pol", entries, false };
    struct st_rules_vn_result r;
    st_rules_vn(RED, &pol, 1, true, policy_vns, NULL, &r);
    CHECK(json_is(r.connections, "[\"*\"]"));
    /* deny, pass, then: self pass, deny red->any, any pass (deny red->green is a subset of
     * the policy's own deny rule and is dropped). */
    json_t *rules = json_object_get(r.static_entries, "acl_rule");
    CHECK_EQ_INT(json_array_size(rules), 5);
    CHECK(json_is(json_array_get(rules, 3),
                  RULE("any", ADDR(RED), ANYPORT, ADDR("any"), ANYPORT, "deny", "")));
    CHECK(json_is(json_array_get(rules, 1),
                  RULE("17", ADDR(RED), ANYPORT, ADDR("any"),
                       "{\"start_port\": 53, \"end_port\": 53}", "pass", "")));
    st_rules_vn_result_clear(&r);

    pol.dynamic = true;
    st_rules_vn(RED, &pol, 1, true, policy_vns, NULL, &r);
    CHECK(r.static_entries == NULL);
    CHECK(json_is_true(json_object_get(r.dynamic_entries, "dynamic")));
    CHECK_EQ_INT(json_array_size(json_object_get(r.dynamic_entries, "acl_rule")), 2);
    st_rules_vn_result_clear(&r);
    json_decref(entries);
}

/* A network-policy address stands for the policy's networks; subset rules are dropped. */
static void
test_policy_address_and_subsets(void)
{
    json_t *entries = J("{\"policy_rule\": ["
        "{\"direction\": \">\", \"protocol\": \"tcp\","
        " \"src_addresses\": [{\"network_policy\": \"default-domain:p:pol-x\"}],"
        " \"src_ports\": [{\"start_port\": 0, \"end_port\": 65535}],"
        " \"dst_addresses\": [{\"virtual_network\": \"" BLUE "\"}],"
        " \"dst_ports\": [{\"start_port\": 0, \"end_port\": 65535}],"
        " \"action_list\": {\"simple_action\": \"pass\"}},"
        "{\"direction\": \">\", \"protocol\": \"tcp\","
        " \"src_addresses\": [{\"virtual_network\": \"" GREEN "\"}],"
        " \"src_ports\": [{\"start_port\": 10, \"end_port\": 20}],"
        " \"dst_addresses\": [{\"virtual_network\": \"" BLUE "\"}],"
        " \"dst_ports\": [{\"start_port\": 80, \"end_port\": 80}],"
        " \"action_list\": {\"simple_action\": \"pass\"}}]}");
    struct st_rules_policy pol = { "default-domain:p:pol", entries, false };
    struct st_rules_vn_result r;
    st_rules_vn(BLUE, &pol, 1, true, policy_vns, NULL, &r);
    json_t *rules = json_object_get(r.static_entries, "acl_rule");
    /* green->blue and red->blue from the policy address; the second rule is a subset. */
    CHECK(json_is(json_array_get(rules, 0),
                  RULE("6", ADDR(GREEN), ANYPORT, ADDR(BLUE), ANYPORT, "pass", "")));
    CHECK(json_is(json_array_get(rules, 1),
                  RULE("6", ADDR(RED), ANYPORT, ADDR(BLUE), ANYPORT, "pass", "")));
    CHECK(json_is(json_array_get(rules, 2),
                  RULE("any", ADDR(BLUE), ANYPORT, ADDR(BLUE), ANYPORT, "pass", "")));
    CHECK_EQ_INT(json_array_size(rules), 6);
    CHECK(json_is(r.connections, "[\"" GREEN "\", \"" RED "\"]"));
    st_rules_vn_result_clear(&r);
    json_decref(entries);

    json_t *a = J(RULE("6", ADDR(RED), "{\"start_port\": 80, \"end_port\": 80}", ADDR(BLUE),
                       ANYPORT, "pass", ""));
    json_t *b = J(RULE("any", ADDR(RED), ANYPORT, ADDR("any"), ANYPORT, "pass", ""));
    CHECK(st_rules_is_subset(a, b));
    CHECK(!st_rules_is_subset(b, a));
    json_t *s1 = J("{\"match_condition\": {\"protocol\": \"6\", \"src_address\": {\"subnet\":"
                   " {\"ip_prefix\": \"10.1.1.0\", \"ip_prefix_len\": 24}}, \"src_port\": "
                   ANYPORT ", \"dst_address\": " ADDR(BLUE) ", \"dst_port\": " ANYPORT "}}");
    json_t *s2 = J("{\"match_condition\": {\"protocol\": \"6\", \"src_address\": {\"subnet\":"
                   " {\"ip_prefix\": \"10.1.0.0\", \"ip_prefix_len\": 16}}, \"src_port\": "
                   ANYPORT ", \"dst_address\": " ADDR(BLUE) ", \"dst_port\": " ANYPORT "}}");
    CHECK(st_rules_is_subset(s1, s2));
    CHECK(!st_rules_is_subset(s2, s1));
    json_decref(a);
    json_decref(b);
    json_decref(s1);
    json_decref(s2);
}

static long long
sg_ids(void *aux, const char *sg)
{
    return !strcmp(sg, "default-domain:p:web") ? 8000007 : -1;
}

static void
test_security_group(void)
{
    json_t *entries = J("{\"policy_rule\": ["
        "{\"direction\": \">\", \"protocol\": \"tcp\", \"rule_uuid\": \"i1\","
        " \"ethertype\": \"IPv4\","
        " \"src_addresses\": [{\"security_group\": \"default-domain:p:web\"}],"
        " \"dst_addresses\": [{\"security_group\": \"local\"}],"
        " \"dst_ports\": [{\"start_port\": 22, \"end_port\": 22}]},"
        "{\"direction\": \">\", \"protocol\": \"any\", \"rule_uuid\": \"e1\","
        " \"ethertype\": \"IPv4\","
        " \"src_addresses\": [{\"security_group\": \"local\"}],"
        " \"dst_addresses\": [{\"subnet\": {\"ip_prefix\": \"0.0.0.0\", \"ip_prefix_len\": 0}}]},"
        "{\"direction\": \">\", \"protocol\": \"any\", \"rule_uuid\": \"i2\","
        " \"src_addresses\": [{\"security_group\": \"default-domain:p:db\"}],"
        " \"dst_addresses\": [{\"security_group\": \"local\"}]},"
        "{\"direction\": \">\", \"protocol\": \"icmp\", \"rule_uuid\": \"i3\","
        " \"src_addresses\": [{\"security_group\": \"any\"}],"
        " \"dst_addresses\": [{\"security_group\": \"local\"}]}]}");
    json_t *in, *eg;
    st_rules_sg("default-domain:p:app", 8000003, entries, sg_ids, NULL, &in, &eg);
    CHECK(json_is(in, "{\"acl_rule\": ["
        RULE("6", "{\"security_group\": \"8000007\"}", ANYPORT, "{}",
             "{\"start_port\": 22, \"end_port\": 22}", "pass", U("i1")) ","
        RULE("1", "{\"security_group\": \"-1\"}", ANYPORT, "{}", ANYPORT, "pass",
             U("i3")) "]}"));
    CHECK(json_is(eg, "{\"acl_rule\": ["
        RULE("any", "{}", ANYPORT,
             "{\"subnet\": {\"ip_prefix\": \"0.0.0.0\", \"ip_prefix_len\": 0}}", ANYPORT,
             "pass", U("e1")) "]}"));
    json_decref(in);
    json_decref(eg);
    json_decref(entries);

    st_rules_sg("default-domain:p:app", 8000003, NULL, sg_ids, NULL, &in, &eg);
    CHECK(json_is(in, "{\"acl_rule\": []}"));
    CHECK(json_is(eg, "{\"acl_rule\": []}"));
    json_decref(in);
    json_decref(eg);
}

static void
test_hash(void)
{
    json_t *a = J("{\"dynamic\": false, \"acl_rule\": [{\"x\": 1}]}");
    json_t *b = J("{\"acl_rule\": [{\"x\": 1}], \"dynamic\": false}");
    json_t *c = J("{\"dynamic\": false, \"acl_rule\": [{\"x\": 2}]}");
    CHECK(st_rules_hash(a) == st_rules_hash(b));
    CHECK(st_rules_hash(a) != st_rules_hash(c));
    CHECK(st_rules_hash(a) < (1ull << 63));
    json_decref(a);
    json_decref(b);
    json_decref(c);
}

/* A chain rule: pass with the service instance of the network's end, no connection, the
 * chain identity with a derived uuid that depends on every part of it. */
static void
test_service_chain(void)
{
    json_t *entries = J("{\"policy_rule\": [{\"direction\": \"<>\", \"protocol\": \"tcp\","
                        " \"src_addresses\": [" ADDR(RED) "],"
                        " \"src_ports\": [{\"start_port\": -1, \"end_port\": -1}],"
                        " \"dst_addresses\": [" ADDR(BLUE) "],"
                        " \"dst_ports\": [{\"start_port\": 80, \"end_port\": 80}],"
                        " \"action_list\": {\"simple_action\": \"deny\", \"apply_service\":"
                        " [\"default-domain:p:fw1\", \"default-domain:p:fw2\"]}}]}");
    struct st_rules_policy pol = { "default-domain:p:pol", entries, false };
    struct st_rules_vn_result red, blue, green;
    st_rules_vn(RED, &pol, 1, true, policy_vns, NULL, &red);
    st_rules_vn(BLUE, &pol, 1, true, policy_vns, NULL, &blue);
    st_rules_vn(GREEN, &pol, 1, true, policy_vns, NULL, &green);
    CHECK(json_array_size(red.chains) == 1);
    CHECK(json_equal(red.chains, blue.chains));
    CHECK(json_array_size(green.chains) == 0);
    CHECK(json_array_size(red.connections) == 0 && json_array_size(blue.connections) == 0);
    const json_t *c = json_array_get(red.chains, 0);
    const char *uuid = json_string_value(json_object_get(c, "uuid"));
    CHECK(uuid && strlen(uuid) == 36 && uuid[14] == '5');
    json_t *id = json_deep_copy(c);
    json_object_del(id, "uuid");
    CHECK(json_is(id, "{\"left\": \"" RED "\", \"right\": \"" BLUE "\", \"direction\": \"<>\","
                      " \"src_ports\": [{\"start_port\": -1, \"end_port\": -1}],"
                      " \"dst_ports\": [{\"start_port\": 80, \"end_port\": 80}],"
                      " \"protocol\": \"6\", \"services\": [\"default-domain:p:fw1\","
                      " \"default-domain:p:fw2\"]}"));
    char u2[37];
    st_rules_chain_uuid(id, u2);
    CHECK(!strcmp(u2, uuid));
    json_array_remove(json_object_get(id, "services"), 1);
    st_rules_chain_uuid(id, u2);
    CHECK(strcmp(u2, uuid) != 0);
    json_decref(id);

    char *ri = st_rules_service_ri(RED, uuid, "default-domain:p:fw1");
    char want[256];
    snprintf(want, sizeof want, RED ":service-%s-default-domain_p_fw1", uuid);
    CHECK(!strcmp(ri, want));
    const json_t *r0 = json_array_get(json_object_get(red.static_entries, "acl_rule"), 0);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(r0, "action_list"),
                                                    "assign_routing_instance")), ri));
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(r0, "action_list"),
                                                    "simple_action")), "pass"));
    CHECK(!json_object_get(json_object_get(r0, "action_list"), "apply_service"));
    xfree(ri);
    ri = st_rules_service_ri(BLUE, uuid, "default-domain:p:fw2");
    r0 = json_array_get(json_object_get(blue.static_entries, "acl_rule"), 1);
    CHECK(!strcmp(json_string_value(json_object_get(json_object_get(r0, "action_list"),
                                                    "assign_routing_instance")), ri));
    xfree(ri);
    st_rules_vn_result_clear(&red);
    st_rules_vn_result_clear(&blue);
    st_rules_vn_result_clear(&green);
    json_decref(entries);
}

int
main(void)
{
    mem_init_json();
    test_protocols();
    test_bidirectional_policy();
    test_connections_and_dynamic();
    test_policy_address_and_subsets();
    test_security_group();
    test_hash();
    test_service_chain();
    json_decref((json_t *) policy_vns(NULL, "default-domain:p:pol-x"));
    return check_finish();
}
