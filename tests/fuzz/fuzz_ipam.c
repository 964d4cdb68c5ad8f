/* Fuzz target: a virtual network's subnets (VnSubnetsType, from a REST body) through
 * api_ipam_prepare and api_ipam_apply, then a few allocations, each checked to lie inside its
 * subnet and allocation pools and to be neither the gateway nor the DNS address. */
#include "api_ipam.h"
#include "api_store.h"
#include "fuzz_common.h"
#include "ipaddr.h"

static struct api_obj ipam_obj;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ipam_obj.ident = schema_ident(fuzz_schema(), "network-ipam");
    if (!ipam_obj.ident) {
        abort();
    }
    return 0;
}

static json_t *
find_subnet(json_t *attr, const char *uuid)
{
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get(attr, "ipam_subnets"), i, s) {
        const char *u = json_string_value(json_object_get(s, "subnet_uuid"));
        if (u && !strcmp(u, uuid)) {
            return s;
        }
    }
    return NULL;
}

static void
check_addr(json_t *attr, const char *ip, const char *sub_uuid)
{
    json_t *s = find_subnet(attr, sub_uuid);
    if (!s) {
        abort();
    }
    struct ipaddr a, net;
    int len;
    char text[128];
    json_t *sn = json_object_get(s, "subnet");
    snprintf(text, sizeof text, "%s/%lld", json_string_value(json_object_get(sn, "ip_prefix")),
             (long long) json_integer_value(json_object_get(sn, "ip_prefix_len")));
    if (!ipaddr_parse(ip, &a) || !ipaddr_parse_prefix(text, true, &net, &len)
        || !ipaddr_in_prefix(&a, &net, len)) {
        abort();
    }
    if (a.v == ipaddr_prefix_first(&net, len) || a.v == ipaddr_prefix_last(&net, len)) {
        abort();                /* Network or broadcast address. */
    }
    static const char *const reserved[] = { "default_gateway", "dns_server_address" };
    for (int k = 0; k < 2; k++) {
        struct ipaddr r;
        if (ipaddr_parse(json_string_value(json_object_get(s, reserved[k])), &r)
            && r.family == a.family && r.v == a.v) {
            abort();
        }
    }
    json_t *pools = json_object_get(s, "allocation_pools");
    if (json_array_size(pools)) {
        bool inside = false;
        size_t i;
        json_t *p;
        json_array_foreach (pools, i, p) {
            struct ipaddr lo, hi;
            if (ipaddr_parse(json_string_value(json_object_get(p, "start")), &lo)
                && ipaddr_parse(json_string_value(json_object_get(p, "end")), &hi)
                && lo.family == a.family && lo.v <= a.v && a.v <= hi.v) {
                inside = true;
            }
        }
        if (!inside) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *attr = json_loadb((const char *) data, size, 0, &jerr);
    if (!attr) {
        return 0;
    }
    json_t *attrs = json_array();
    json_array_append(attrs, attr);
    char err[1024];
    int status = api_ipam_prepare(NULL, attrs, err, sizeof err);
    json_decref(attrs);
    if (status) {
        if (status != 400 && status != 409) {
            abort();
        }
        json_decref(attr);
        return 0;
    }

    struct api_obj vn;
    memset(&vn, 0, sizeof vn);
    vn.ident = schema_ident(fuzz_schema(), "virtual-network");
    vn.fq_str = (char *) "default-domain:p:vn";
    list_init(&vn.refs);
    struct api_ref ref;
    memset(&ref, 0, sizeof ref);
    ref.from = &vn;
    ref.to = &ipam_obj;
    ref.attr = attr;
    list_push_back(&vn.refs, &ref.from_node);
    api_ipam_apply(&vn);

    char ips[8][IPADDR_STRLEN];
    int n = 0;
    for (int i = 0; i < 8; i++) {
        char sub[UUID_LEN + 1];
        int family = i % 3 == 2 ? 6 : i % 3 == 1 ? 4 : 0;
        status = api_ipam_alloc(&vn, family, NULL, NULL, "owner", ips[n], sub, err,
                                sizeof err);
        if (status) {
            if (status != 400 && status != 404 && status != 409) {
                abort();
            }
            continue;
        }
        check_addr(attr, ips[n], sub);
        for (int k = 0; k < n; k++) {
            if (!strcmp(ips[k], ips[n])) {
                abort();        /* Handed out twice. */
            }
        }
        n++;
    }
    for (int k = 0; k < n; k++) {
        if (!api_ipam_free(&vn, ips[k])) {
            abort();
        }
    }
    if (api_ipam_in_use(&vn)) {
        abort();
    }
    api_ipam_destroy(&vn);
    json_decref(attr);
    return 0;
}
