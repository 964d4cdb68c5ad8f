/* st_rules: policy and security-group rule expansion (see st_rules.h). */
#include "st_rules.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ipaddr.h"
#include "mem.h"

const char *
st_rules_protocol(const char *proto, const char *ethertype)
{
    if (!proto) {
        return "any";
    }
    if (*proto) {
        const char *p = proto;
        while (isdigit((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            return proto;
        }
    }
    bool v6 = ethertype && !strcmp(ethertype, "IPv6");
    if (!strcasecmp(proto, "any")) {
        return "any";
    } else if (!strcasecmp(proto, "tcp")) {
        return "6";
    } else if (!strcasecmp(proto, "udp")) {
        return "17";
    } else if (!strcasecmp(proto, "icmp")) {
        return v6 ? "58" : "1";
    } else if (!strcasecmp(proto, "icmp6")) {
        return "58";
    }
    return NULL;
}

static const char *
jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A copy of object O without null members and empty arrays (the canonical form of the
 * address and action values we write). */
static json_t *
canon(const json_t *o)
{
    json_t *c = json_object();
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *) o, k, v) {
        if (json_is_null(v) || (json_is_array(v) && !json_array_size(v))) {
            continue;
        }
        json_object_set_new(c, k, json_deep_copy(v));
    }
    return c;
}

static json_t *
port_any(void)
{
    return xjson_pack("{sisi}", "start_port", 0, "end_port", 65535);
}

static json_t *
canon_port(const json_t *p)
{
    json_t *s = json_object_get(p, "start_port"), *e = json_object_get(p, "end_port");
    return xjson_pack("{sIsI}", "start_port", json_is_integer(s) ? json_integer_value(s) : 0,
                      "end_port", json_is_integer(e) ? json_integer_value(e) : 65535);
}

static bool
same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool
port_subset(const json_t *l, const json_t *r)
{
    json_int_t ls = json_integer_value(json_object_get(l, "start_port"));
    json_int_t le = json_integer_value(json_object_get(l, "end_port"));
    json_int_t rs = json_integer_value(json_object_get(r, "start_port"));
    json_int_t re = json_integer_value(json_object_get(r, "end_port"));
    return ls >= rs && (re == -1 || le <= re);
}

/* Appends the prefixes of address A (subnet_list, then subnet) to NETS/LENS (room for 64). */
static size_t
address_subnets(const json_t *a, struct ipaddr *nets, int *lens, size_t max)
{
    size_t n = 0;
    const json_t *list = json_object_get(a, "subnet_list");
    size_t i;
    json_t *s;
    json_t *all = json_array();
    json_array_foreach (list, i, s) {
        json_array_append(all, s);
    }
    if (json_is_object(json_object_get(a, "subnet"))) {
        json_array_append(all, json_object_get(a, "subnet"));
    }
    json_array_foreach (all, i, s) {
        const char *p = jstr(s, "ip_prefix");
        json_t *len = json_object_get(s, "ip_prefix_len");
        if (n < max && p && json_is_integer(len) && ipaddr_parse(p, &nets[n])) {
            lens[n++] = (int) json_integer_value(len);
        }
    }
    json_decref(all);
    return n;
}

static bool
has_subnets(const json_t *a)
{
    return json_is_object(json_object_get(a, "subnet"))
           || json_array_size(json_object_get(a, "subnet_list")) > 0;
}

static bool
address_subset(const json_t *l, const json_t *r)
{
    if (!has_subnets(l) && !has_subnets(r)) {
        const char *rv = jstr(r, "virtual_network");
        return same_str(rv, jstr(l, "virtual_network")) || (rv && !strcmp(rv, "any"));
    }
    struct ipaddr ln[64], rn[64];
    int ll[64], rl[64];
    size_t nl = address_subnets(l, ln, ll, 64), nr = address_subnets(r, rn, rl, 64);
    for (size_t i = 0; i < nl; i++) {
        for (size_t j = 0; j < nr; j++) {
            if (ln[i].family == rn[j].family && ll[i] >= rl[j]
                && ipaddr_in_prefix(&ln[i], &rn[j], rl[j])) {
                return true;
            }
        }
    }
    return false;
}

bool
st_rules_is_subset(const json_t *a, const json_t *b)
{
    const json_t *l = json_object_get(a, "match_condition");
    const json_t *r = json_object_get(b, "match_condition");
    const char *rp = jstr(r, "protocol");
    return port_subset(json_object_get(l, "src_port"), json_object_get(r, "src_port"))
           && port_subset(json_object_get(l, "dst_port"), json_object_get(r, "dst_port"))
           && rp && (same_str(rp, jstr(l, "protocol")) || !strcmp(rp, "any"))
           && address_subset(json_object_get(l, "src_address"),
                             json_object_get(r, "src_address"))
           && address_subset(json_object_get(l, "dst_address"),
                             json_object_get(r, "dst_address"));
}

static const char *
analyzer(const json_t *rule)
{
    return jstr(json_object_get(json_object_get(rule, "action_list"), "mirror_to"),
                "analyzer_name");
}

/* The original's AclRuleListST.append: adds RULE (stolen) to LIST unless it is a subset of a
 * rule already there (in a dynamic list, only of one mirroring to the same analyzer).
 * Returns whether it was added. */
static bool
list_append(json_t *list, json_t *rule, bool dynamic)
{
    size_t i;
    json_t *e;
    json_array_foreach (list, i, e) {
        if (st_rules_is_subset(rule, e) && (!dynamic || same_str(analyzer(rule), analyzer(e)))) {
            json_decref(rule);
            return false;
        }
    }
    json_array_append_new(list, rule);
    return true;
}

static json_t *
make_rule(const json_t *sa, const json_t *sp, const json_t *da, const json_t *dp,
          const char *proto, const char *ethertype, const json_t *action, const char *uuid)
{
    json_t *r = xjson_pack("{s{sssOsOsOsOss}sO}", "match_condition", "protocol", proto,
                           "src_address", sa, "src_port", sp, "dst_address", da,
                           "dst_port", dp, "ethertype", ethertype ? ethertype : "IPv4",
                           "action_list", action);
    if (uuid) {
        json_object_set_new(r, "rule_uuid", json_string(uuid));
    }
    return r;
}

static bool
me(const char *vn, const char *name)
{
    return name && (!strcmp(name, vn) || !strcmp(name, "any"));
}

/* Addresses for A: the networks of its network-policy, or A itself. */
static json_t *
expand_address(const json_t *a, st_rules_policy_vns_fn *policy_vns, void *aux)
{
    json_t *out = json_array();
    const char *pol = jstr(a, "network_policy");
    if (pol) {
        const json_t *vns = policy_vns(aux, pol);
        size_t i;
        json_t *v;
        json_array_foreach (vns, i, v) {
            json_array_append_new(out, xjson_pack("{sO}", "virtual_network", v));
        }
    } else {
        json_array_append(out, (json_t *) a);
    }
    return out;
}

static bool
attached(const char *vn, const char *pol, st_rules_policy_vns_fn *policy_vns, void *aux)
{
    const json_t *vns = policy_vns(aux, pol);
    size_t i;
    json_t *v;
    json_array_foreach (vns, i, v) {
        if (!strcmp(json_string_value(v), vn)) {
            return true;
        }
    }
    return false;
}

static json_t *
canon_ports(const json_t *ports)
{
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach (ports, i, p) {
        json_array_append_new(out, canon_port(p));
    }
    return out;
}

void
st_rules_chain_uuid(const json_t *chain, char out[37])
{
    json_t *c = json_deep_copy(chain);
    json_object_del(c, "uuid");
    char *s = mem_json_dumps(c, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(c);
    uint64_t h1 = 14695981039346656037ull, h2 = 0x6c62272e07bb0142ull;
    for (const unsigned char *p = (const unsigned char *) s; p && *p; p++) {
        h1 = (h1 ^ *p) * 1099511628211ull;
        h2 = (h2 ^ *p) * 0x100000001b3ull;
        h2 ^= h2 >> 29;
    }
    xfree(s);
    /* Version 5 and the RFC 4122 variant, as a name-based uuid. */
    h1 = (h1 & ~0xf000ull) | 0x5000ull;
    h2 = (h2 & 0x3fffffffffffffffull) | 0x8000000000000000ull;
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned) (h1 >> 32),
             (unsigned) ((h1 >> 16) & 0xffff), (unsigned) (h1 & 0xffff),
             (unsigned) (h2 >> 48), (unsigned long long) (h2 & 0xffffffffffffull));
}

char *
st_rules_service_ri(const char *vn, const char *uuid, const char *si)
{
    char *s = mem_asprintf(&mem_type_string, "%s:service-%s-%s", vn, uuid, si);
    for (char *p = s + strlen(vn) + 1; *p; p++) {
        if (*p == ':') {
            *p = '_';
        }
    }
    return s;
}

/* The action of apply_service rule PRULE between SVN (left) and DVN (right) in network VN:
 * ACT with pass and the service instance traffic enters in VN.  Adds the chain to CHAINS
 * (when not NULL and not there yet).  Returns a new reference. */
static json_t *
chain_action(const char *vn, const char *svn, const char *dvn, const json_t *prule,
             const char *proto, const json_t *services, const json_t *act, json_t *chains)
{
    json_t *sps = canon_ports(json_object_get(prule, "src_ports"));
    json_t *dps = canon_ports(json_object_get(prule, "dst_ports"));
    const char *dir = jstr(prule, "direction");
    json_t *c = xjson_pack("{sssssssosossso}", "left", svn, "right", dvn, "direction",
                           dir ? dir : ">", "src_ports", sps, "dst_ports", dps,
                           "protocol", proto, "services", json_deep_copy(services));
    char uuid[37];
    st_rules_chain_uuid(c, uuid);
    json_object_set_new(c, "uuid", json_string(uuid));
    bool left = !strcmp(vn, svn);
    size_t n = json_array_size(services);
    const char *si = json_string_value(json_array_get(services, left ? 0 : n - 1));
    char *ri = st_rules_service_ri(vn, uuid, si ? si : "");
    json_t *a = json_deep_copy(act);
    json_object_set_new(a, "simple_action", json_string("pass"));
    json_object_set_new(a, "assign_routing_instance", json_string(ri));
    xfree(ri);
    bool dup = false;
    size_t i;
    json_t *e;
    json_array_foreach (chains, i, e) {
        dup |= !strcmp(jstr(e, "uuid"), uuid);
    }
    if (chains && !dup) {
        json_array_append(chains, c);
    }
    json_decref(c);
    return a;
}

/* The original's policy_to_acl_rule: the ACL rules of policy rule PRULE for network VN
 * (chains it asks for are added to CHAINS). */
static json_t *
policy_rule_to_acl(const char *vn, const json_t *prule, bool dynamic,
                   st_rules_policy_vns_fn *policy_vns, void *aux, json_t *chains)
{
    json_t *result = json_array();
    const char *ethertype = jstr(prule, "ethertype");
    const char *proto = st_rules_protocol(jstr(prule, "protocol"), ethertype);
    const json_t *action = json_object_get(prule, "action_list");
    if (!proto || !json_is_object(action)) {
        return result;
    }
    const json_t *services = json_object_get(action, "apply_service");
    bool chain = json_array_size(services) > 0;
    json_t *act = canon(action);
    json_object_del(act, "assign_routing_instance");
    json_object_del(act, "apply_service");
    const char *uuid = jstr(prule, "rule_uuid");
    bool bidir = same_str(jstr(prule, "direction"), "<>");
    const json_t *sps = json_object_get(prule, "src_ports");
    const json_t *dps = json_object_get(prule, "dst_ports");
    size_t i, j;
    json_t *saddr, *daddr;
    json_array_foreach (json_object_get(prule, "src_addresses"), i, saddr) {
        json_t *sm = canon(saddr);
        const char *svn = jstr(saddr, "virtual_network");
        const char *spol = jstr(saddr, "network_policy");
        if (svn && !strcmp(svn, "local")) {
            svn = vn;
            json_object_set_new(sm, "virtual_network", json_string(vn));
        }
        json_array_foreach (json_object_get(prule, "dst_addresses"), j, daddr) {
            json_t *dm = canon(daddr);
            const char *dvn = jstr(daddr, "virtual_network");
            const char *dpol = jstr(daddr, "network_policy");
            if (dvn && !strcmp(dvn, "local")) {
                dvn = vn;
                json_object_set_new(dm, "virtual_network", json_string(vn));
            }
            json_t *sm2 = json_deep_copy(sm);
            bool ok = true;
            json_t *pair_act = json_incref(act);
            if (chain) {
                /* A chain needs two real networks, this one being either end. */
                ok = svn && dvn && strcmp(svn, "any") && strcmp(dvn, "any") && strcmp(svn, dvn)
                     && (!strcmp(vn, svn) || !strcmp(vn, dvn));
                if (ok) {
                    json_decref(pair_act);
                    pair_act = chain_action(vn, svn, dvn, prule, proto, services, act, chains);
                }
            } else if (me(vn, dvn) || me(vn, svn)) {
                /* This network is one end. */
            } else if (!dvn && dpol) {
                ok = attached(vn, dpol, policy_vns, aux);
                if (ok) {
                    json_object_del(dm, "network_policy");
                    json_object_set_new(dm, "virtual_network", json_string(vn));
                }
            } else if (!svn && spol) {
                ok = attached(vn, spol, policy_vns, aux);
                if (ok) {
                    json_object_del(sm2, "network_policy");
                    json_object_set_new(sm2, "virtual_network", json_string(vn));
                }
            } else {
                ok = !svn && !dvn && !spol && !dpol && has_subnets(saddr) && has_subnets(daddr);
            }
            if (ok) {
                json_t *sa_list = expand_address(sm2, policy_vns, aux);
                json_t *da_list = expand_address(dm, policy_vns, aux);
                size_t a, b, c, d;
                json_t *sp, *dp, *sa, *da;
                json_array_foreach (sps, a, sp) {
                    json_array_foreach (dps, b, dp) {
                        json_array_foreach (sa_list, c, sa) {
                            json_array_foreach (da_list, d, da) {
                                json_t *p1 = canon_port(sp), *p2 = canon_port(dp);
                                list_append(result, make_rule(sa, p1, da, p2, proto, ethertype,
                                                              pair_act, uuid), dynamic);
                                if (bidir && (!json_equal(sa, da) || !json_equal(p1, p2))) {
                                    list_append(result, make_rule(da, p2, sa, p1, proto,
                                                                  ethertype, pair_act, uuid),
                                                dynamic);
                                }
                                json_decref(p1);
                                json_decref(p2);
                            }
                        }
                    }
                }
                json_decref(sa_list);
                json_decref(da_list);
            }
            json_decref(pair_act);
            json_decref(sm2);
            json_decref(dm);
        }
        json_decref(sm);
    }
    json_decref(act);
    return result;
}

static void
add_connection(json_t *conns, const char *vn, const char *other)
{
    if (!other) {
        return;
    }
    const char *name = !strcmp(other, "any") ? "*" : other;
    if (!strcmp(name, vn)) {
        return;
    }
    size_t i;
    json_t *c;
    json_array_foreach (conns, i, c) {
        if (!strcmp(json_string_value(c), name)) {
            return;
        }
    }
    json_array_append_new(conns, json_string(name));
}

static int
cmp_json_str(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *) a),
                  json_string_value(*(json_t *const *) b));
}

static void
sort_strings(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = mem_zalloc(&mem_type_string, (n + 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v[i] = json_incref(json_array_get(arr, i));
    }
    qsort(v, n, sizeof *v, cmp_json_str);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, v[i]);
    }
    mem_free(&mem_type_string, v);
}

static json_t *
implicit_rule(const char *src, const char *dst, const char *action)
{
    json_t *sa = xjson_pack("{ss}", "virtual_network", src);
    json_t *da = xjson_pack("{ss}", "virtual_network", dst);
    json_t *p1 = port_any(), *p2 = port_any();
    json_t *act = xjson_pack("{ss}", "simple_action", action);
    json_t *r = make_rule(sa, p1, da, p2, "any", NULL, act, NULL);
    json_decref(sa);
    json_decref(da);
    json_decref(p1);
    json_decref(p2);
    json_decref(act);
    return r;
}

static json_t *
strip_subnets(const json_t *a)
{
    json_t *c = json_deep_copy(a);
    if (jstr(c, "virtual_network")) {
        json_object_del(c, "subnet");
        json_object_del(c, "subnet_list");
    }
    return c;
}

void
st_rules_vn(const char *vn, const struct st_rules_policy *pols, size_t n,
            bool logical_routers_enabled, st_rules_policy_vns_fn *policy_vns, void *aux,
            struct st_rules_vn_result *out)
{
    out->static_entries = out->dynamic_entries = NULL;
    out->connections = json_array();
    out->chains = json_array();
    json_t *st_rules = NULL, *dyn_rules = NULL;
    for (size_t k = 0; k < n; k++) {
        json_t **target = pols[k].dynamic ? &dyn_rules : &st_rules;
        if (!*target) {
            *target = json_array();
        }
        size_t i;
        json_t *prule;
        json_array_foreach (json_object_get(pols[k].entries, "policy_rule"), i, prule) {
            json_t *list = policy_rule_to_acl(vn, prule, pols[k].dynamic, policy_vns, aux,
                                              out->chains);
            size_t j;
            json_t *r;
            json_array_foreach (list, j, r) {
                /* update_acl_entries: only the rules that were new count for connections. */
                if (!list_append(*target, json_incref(r), pols[k].dynamic)) {
                    continue;
                }
                const json_t *m = json_object_get(r, "match_condition");
                const json_t *act = json_object_get(r, "action_list");
                const char *simple = jstr(act, "simple_action");
                if (!simple || !strcmp(simple, "deny") || jstr(act, "assign_routing_instance")) {
                    /* A service chain connects the networks through its instances. */
                    continue;
                }
                const char *s = jstr(json_object_get(m, "src_address"), "virtual_network");
                const char *d = jstr(json_object_get(m, "dst_address"), "virtual_network");
                if (me(vn, d)) {
                    add_connection(out->connections, vn, s);
                }
                if (me(vn, s)) {
                    add_connection(out->connections, vn, d);
                }
            }
            json_decref(list);
        }
    }
    if (st_rules) {
        json_t *tail = json_array();
        list_append(tail, implicit_rule(vn, vn, "pass"), false);
        if (logical_routers_enabled) {
            size_t i;
            json_t *r;
            json_array_foreach (st_rules, i, r) {
                const json_t *m = json_object_get(r, "match_condition");
                json_t *sa = strip_subnets(json_object_get(m, "src_address"));
                json_t *da = strip_subnets(json_object_get(m, "dst_address"));
                json_t *p1 = port_any(), *p2 = port_any();
                json_t *act = xjson_pack("{ss}", "simple_action", "deny");
                list_append(tail, make_rule(sa, p1, da, p2, "any", jstr(m, "ethertype"), act,
                                            jstr(r, "rule_uuid")), false);
                json_decref(sa);
                json_decref(da);
                json_decref(p1);
                json_decref(p2);
                json_decref(act);
            }
            list_append(tail, implicit_rule("any", "any", "pass"), false);
        } else {
            list_append(tail, implicit_rule("any", "any", "deny"), false);
        }
        size_t i;
        json_t *r;
        json_array_foreach (tail, i, r) {
            list_append(st_rules, json_incref(r), false);
        }
        json_decref(tail);
        out->static_entries = xjson_pack("{sbso}", "dynamic", 0, "acl_rule", st_rules);
    }
    if (dyn_rules) {
        out->dynamic_entries = xjson_pack("{sbso}", "dynamic", 1, "acl_rule", dyn_rules);
    }
    sort_strings(out->connections);
}

void
st_rules_vn_result_clear(struct st_rules_vn_result *r)
{
    json_decref(r->static_entries);
    json_decref(r->dynamic_entries);
    json_decref(r->connections);
    json_decref(r->chains);
    r->static_entries = r->dynamic_entries = r->connections = r->chains = NULL;
}

/* _convert_security_group_name_to_id: replaces A's security_group by a numeric id string.
 * Returns false when the group is unknown (the rule is then skipped). */
static bool
sg_convert(json_t *a, const char *sg, long long sg_id, st_rules_sg_id_fn *sg_id_of, void *aux)
{
    const char *name = jstr(a, "security_group");
    if (!name) {
        return true;
    }
    long long id;
    if (!strcmp(name, "local") || !strcmp(name, sg)) {
        id = sg_id;
    } else if (!strcmp(name, "any")) {
        id = -1;
    } else {
        id = sg_id_of(aux, name);
        if (id < 0) {
            return false;
        }
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", id);
    json_object_set_new(a, "security_group", json_string(buf));
    return true;
}

void
st_rules_sg(const char *sg, long long sg_id, const json_t *entries,
            st_rules_sg_id_fn *sg_id_of, void *aux, json_t **ingress, json_t **egress)
{
    json_t *in = json_array(), *eg = json_array();
    size_t i;
    json_t *prule;
    json_array_foreach (json_object_get(entries, "policy_rule"), i, prule) {
        const char *ethertype = jstr(prule, "ethertype");
        const char *p = jstr(prule, "protocol");
        const char *proto = p ? st_rules_protocol(p, ethertype) : NULL;
        if (!proto) {
            continue;
        }
        const char *uuid = jstr(prule, "rule_uuid");
        json_t *sps = json_deep_copy(json_object_get(prule, "src_ports"));
        json_t *dps = json_deep_copy(json_object_get(prule, "dst_ports"));
        if (!json_array_size(sps)) {
            json_decref(sps);
            sps = xjson_pack("[o]", port_any());
        }
        if (!json_array_size(dps)) {
            json_decref(dps);
            dps = xjson_pack("[o]", port_any());
        }
        /* As in the original, the list chosen stays chosen for the following addresses. */
        json_t *list = NULL;
        size_t a;
        json_t *saddr;
        json_array_foreach (json_object_get(prule, "src_addresses"), a, saddr) {
            json_t *sm = canon(saddr);
            if (!sg_convert(sm, sg, sg_id, sg_id_of, aux)) {
                json_decref(sm);
                continue;
            }
            if (same_str(jstr(saddr, "security_group"), "local")) {
                json_object_del(sm, "security_group");
                list = eg;
            }
            size_t b;
            json_t *sp;
            json_array_foreach (sps, b, sp) {
                size_t c;
                json_t *daddr;
                json_array_foreach (json_object_get(prule, "dst_addresses"), c, daddr) {
                    json_t *dm = canon(daddr);
                    if (!sg_convert(dm, sg, sg_id, sg_id_of, aux)) {
                        json_decref(dm);
                        continue;
                    }
                    if (same_str(jstr(daddr, "security_group"), "local")) {
                        json_object_del(dm, "security_group");
                        list = in;
                    }
                    if (list) {
                        size_t d;
                        json_t *dp;
                        json_array_foreach (dps, d, dp) {
                            json_t *p1 = canon_port(sp), *p2 = canon_port(dp);
                            json_t *act = xjson_pack("{ss}", "simple_action", "pass");
                            json_array_append_new(list, make_rule(sm, p1, dm, p2, proto,
                                                                  ethertype, act, uuid));
                            json_decref(p1);
                            json_decref(p2);
                            json_decref(act);
                        }
                    }
                    json_decref(dm);
                }
            }
            json_decref(sm);
        }
        json_decref(sps);
        json_decref(dps);
    }
    *ingress = xjson_pack("{so}", "acl_rule", in);
    *egress = xjson_pack("{so}", "acl_rule", eg);
}

uint64_t
st_rules_hash(const json_t *entries)
{
    char *s = mem_json_dumps(entries, JSON_SORT_KEYS | JSON_COMPACT);
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *) s; p && *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    xfree(s);
    return h & 0x7fffffffffffffffull;
}
