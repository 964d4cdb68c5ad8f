/* api_ipam: subnets and address allocation of virtual networks (see api_ipam.h). */
#include "api_ipam.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

LOG_MODULE(api_ipam);

static MEM_TYPE(mem_type_ipam, "ipam");

/* Bound on addresses examined by one allocation, so that a huge, nearly full pool cannot
 * stall the loop; in practice the cursor finds a free address in a step or two. */
#define IPAM_SCAN_LIMIT (1u << 22)

struct ipam_range {
    ipaddr_u128 lo, hi;
};

struct ipam_subnet {
    struct ipaddr net;
    int len;
    bool has_gw, has_dns;
    ipaddr_u128 gw, dns;
    struct ipam_range *ranges;  /* Ascending. */
    size_t n_ranges;
    bool from_start;
    char uuid[UUID_LEN + 1];
    size_t cursor_range;        /* Where the last allocation ended. */
    ipaddr_u128 cursor;
    bool cursor_valid;
};

struct ipam_used {
    struct hmap_node node;
    struct ipaddr a;
    char *owner;
};

struct vn_ipam {
    struct ipam_subnet *subnets;
    size_t n_subnets;
    struct hmap used;
};

static struct vn_ipam *
vn_ipam(struct api_obj *vn)
{
    if (!vn->ext) {
        struct vn_ipam *v = mem_zalloc(&mem_type_ipam, sizeof *v);
        hmap_init(&v->used);
        vn->ext = v;
    }
    return vn->ext;
}

static uint32_t
addr_hash(const struct ipaddr *a)
{
    return hash_bytes(&a->v, sizeof a->v, (uint32_t) a->family);
}

static struct ipam_used *
used_find(struct vn_ipam *v, const struct ipaddr *a)
{
    struct ipam_used *u;
    HMAP_FOR_EACH_WITH_HASH (u, node, addr_hash(a), &v->used) {
        if (u->a.family == a->family && u->a.v == a->v) {
            return u;
        }
    }
    return NULL;
}

static void
subnets_free(struct vn_ipam *v)
{
    for (size_t i = 0; i < v->n_subnets; i++) {
        mem_free(&mem_type_ipam, v->subnets[i].ranges);
    }
    mem_free(&mem_type_ipam, v->subnets);
    v->subnets = NULL;
    v->n_subnets = 0;
}

void
api_ipam_destroy(struct api_obj *vn)
{
    struct vn_ipam *v = vn->ext;
    if (!v) {
        return;
    }
    subnets_free(v);
    struct ipam_used *u;
    HMAP_FOR_EACH_SAFE (u, node, &v->used) {
        hmap_remove(&v->used, &u->node);
        xfree(u->owner);
        mem_free(&mem_type_ipam, u);
    }
    hmap_destroy(&v->used);
    mem_free(&mem_type_ipam, v);
    vn->ext = NULL;
}

static int
bad(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
bad(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return status;
}

/* Parses one IpamSubnetType into S (no side effects).  Returns 0 or 400. */
static int
parse_subnet(const json_t *js, struct ipam_subnet *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    json_t *sub = json_object_get(js, "subnet");
    const char *prefix = json_string_value(json_object_get(sub, "ip_prefix"));
    json_t *plen = json_object_get(sub, "ip_prefix_len");
    char text[128];
    if (!prefix || !json_is_integer(plen)) {
        return bad(err, errlen, 400, "Bad Request: ipam_subnets: subnet needs ip_prefix and "
                   "ip_prefix_len");
    }
    snprintf(text, sizeof text, "%s/%lld", prefix, (long long) json_integer_value(plen));
    if (!ipaddr_parse_prefix(text, true, &s->net, &s->len)) {
        return bad(err, errlen, 400, "Bad Request: ipam_subnets: invalid subnet %s", text);
    }
    int bits = ipaddr_bits(s->net.family);
    if (s->len > bits - 2) {
        return bad(err, errlen, 400, "Bad Request: ipam_subnets: subnet %s is too small",
                   text);
    }
    ipaddr_u128 first = ipaddr_prefix_first(&s->net, s->len);
    ipaddr_u128 last = ipaddr_prefix_last(&s->net, s->len);
    s->from_start = json_is_true(json_object_get(js, "addr_from_start"));

    static const char *const names[2] = { "default_gateway", "dns_server_address" };
    for (int k = 0; k < 2; k++) {
        json_t *jv = json_object_get(js, names[k]);
        bool *has = k ? &s->has_dns : &s->has_gw;
        ipaddr_u128 *val = k ? &s->dns : &s->gw;
        if (json_is_string(jv)) {
            struct ipaddr a;
            if (!ipaddr_parse(json_string_value(jv), &a) || a.family != s->net.family) {
                return bad(err, errlen, 400, "Bad Request: ipam_subnets: invalid %s '%s' for "
                           "subnet %s", names[k], json_string_value(jv), text);
            }
            if (a.v == 0) {
                continue;       /* 0.0.0.0 / :: means none. */
            }
            if (!ipaddr_in_prefix(&a, &s->net, s->len)) {
                return bad(err, errlen, 400, "Bad Request: ipam_subnets: %s %s is not in "
                           "subnet %s", names[k], json_string_value(jv), text);
            }
            *has = true;
            *val = a.v;
        } else if (!jv || json_is_null(jv)) {
            *has = true;
            *val = s->from_start ? first + 1 + (ipaddr_u128) k : last - 1 - (ipaddr_u128) k;
        } else {
            return bad(err, errlen, 400, "Bad Request: ipam_subnets: %s must be a string",
                       names[k]);
        }
    }

    json_t *pools = json_object_get(js, "allocation_pools");
    size_t n = json_array_size(pools);
    if (n) {
        s->ranges = mem_zalloc(&mem_type_ipam, n * sizeof *s->ranges);
        for (size_t i = 0; i < n; i++) {
            json_t *p = json_array_get(pools, i);
            struct ipaddr lo, hi;
            if (!ipaddr_parse(json_string_value(json_object_get(p, "start")), &lo)
                || !ipaddr_parse(json_string_value(json_object_get(p, "end")), &hi)
                || !ipaddr_in_prefix(&lo, &s->net, s->len)
                || !ipaddr_in_prefix(&hi, &s->net, s->len) || lo.v > hi.v) {
                mem_free(&mem_type_ipam, s->ranges);
                s->ranges = NULL;
                return bad(err, errlen, 400, "Bad Request: ipam_subnets: invalid allocation "
                           "pool %zu for subnet %s", i, text);
            }
            /* Network and broadcast addresses are never handed out. */
            s->ranges[i].lo = lo.v > first ? lo.v : first + 1;
            s->ranges[i].hi = hi.v < last ? hi.v : last - 1;
        }
        s->n_ranges = n;
        /* Sort ascending (insertion sort: pools are few). */
        for (size_t i = 1; i < n; i++) {
            struct ipam_range r = s->ranges[i];
            size_t j = i;
            while (j && s->ranges[j - 1].lo > r.lo) {
                s->ranges[j] = s->ranges[j - 1];
                j--;
            }
            s->ranges[j] = r;
        }
        for (size_t i = 1; i < n; i++) {
            if (s->ranges[i].lo <= s->ranges[i - 1].hi) {
                mem_free(&mem_type_ipam, s->ranges);
                s->ranges = NULL;
                return bad(err, errlen, 400, "Bad Request: ipam_subnets: overlapping "
                           "allocation pools in subnet %s", text);
            }
        }
    } else {
        s->ranges = mem_zalloc(&mem_type_ipam, sizeof *s->ranges);
        s->ranges[0].lo = first + 1;
        s->ranges[0].hi = last - 1;
        s->n_ranges = 1;
    }
    const char *su = json_string_value(json_object_get(js, "subnet_uuid"));
    if (su && !uuid_is_valid(su)) {
        mem_free(&mem_type_ipam, s->ranges);
        s->ranges = NULL;
        return bad(err, errlen, 400, "Bad Request: ipam_subnets: invalid subnet_uuid '%s'", su);
    }
    if (su) {
        snprintf(s->uuid, sizeof s->uuid, "%s", su);
    }
    return 0;
}

static char *
fmt_prefix(const struct ipam_subnet *s, char *buf, size_t size)
{
    char a[IPADDR_STRLEN];
    snprintf(buf, size, "%s/%d", ipaddr_format(&s->net, a), s->len);
    return buf;
}

static bool
subnet_has_used(struct vn_ipam *v, const struct ipam_subnet *s)
{
    struct ipam_used *u;
    HMAP_FOR_EACH (u, node, &v->used) {
        if (ipaddr_in_prefix(&u->a, &s->net, s->len)) {
            return true;
        }
    }
    return false;
}

int
api_ipam_prepare(struct api_obj *vn, json_t *attrs, char *err, size_t errlen)
{
    struct ipam_subnet *all = NULL;
    size_t n_all = 0;
    int status = 0;
    size_t i;
    json_t *attr;
    json_array_foreach (attrs, i, attr) {
        json_t *subs = json_object_get(attr, "ipam_subnets");
        size_t k;
        json_t *js;
        json_array_foreach (subs, k, js) {
            if (!json_is_object(js)) {
                status = bad(err, errlen, 400, "Bad Request: ipam_subnets[%zu] must be an "
                             "object", k);
                goto out;
            }
            struct ipam_subnet s;
            status = parse_subnet(js, &s, err, errlen);
            if (status) {
                goto out;
            }
            char p1[64], p2[64];
            for (size_t m = 0; m < n_all; m++) {
                if (ipaddr_prefixes_overlap(&all[m].net, all[m].len, &s.net, s.len)) {
                    status = bad(err, errlen, 400, "Bad Request: Overlapping addresses: "
                                 "[%s, %s]", fmt_prefix(&all[m], p1, sizeof p1),
                                 fmt_prefix(&s, p2, sizeof p2));
                    mem_free(&mem_type_ipam, s.ranges);
                    goto out;
                }
            }
            /* Complete what the user left out: gateway, DNS, subnet_uuid, DHCP. */
            char a[IPADDR_STRLEN];
            struct ipaddr x = { s.net.family, 0 };
            if (s.has_gw && !json_is_string(json_object_get(js, "default_gateway"))) {
                x.v = s.gw;
                json_object_set_new(js, "default_gateway", json_string(ipaddr_format(&x, a)));
            }
            if (s.has_dns && !json_is_string(json_object_get(js, "dns_server_address"))) {
                x.v = s.dns;
                json_object_set_new(js, "dns_server_address",
                                    json_string(ipaddr_format(&x, a)));
            }
            if (!s.uuid[0]) {
                /* Keep the uuid of the same subnet on update. */
                struct vn_ipam *v = vn ? vn->ext : NULL;
                for (size_t m = 0; v && m < v->n_subnets; m++) {
                    if (v->subnets[m].len == s.len && v->subnets[m].net.v == s.net.v
                        && v->subnets[m].net.family == s.net.family) {
                        snprintf(s.uuid, sizeof s.uuid, "%s", v->subnets[m].uuid);
                    }
                }
                if (!s.uuid[0]) {
                    uuid_generate(s.uuid);
                }
                json_object_set_new(js, "subnet_uuid", json_string(s.uuid));
            }
            if (!json_object_get(js, "enable_dhcp")) {
                json_object_set_new(js, "enable_dhcp", json_true());
            }
            all = mem_realloc(&mem_type_ipam, all, (n_all + 1) * sizeof *all);
            all[n_all++] = s;
        }
    }
    /* A subnet that goes away must hold no address. */
    struct vn_ipam *v = vn ? vn->ext : NULL;
    for (size_t m = 0; v && m < v->n_subnets; m++) {
        bool kept = false;
        for (size_t k = 0; k < n_all && !kept; k++) {
            kept = all[k].len == v->subnets[m].len && all[k].net.v == v->subnets[m].net.v
                   && all[k].net.family == v->subnets[m].net.family;
        }
        if (!kept && subnet_has_used(v, &v->subnets[m])) {
            char p[64];
            status = bad(err, errlen, 409, "Cannot delete IP block %s: IP(s) in use",
                         fmt_prefix(&v->subnets[m], p, sizeof p));
            goto out;
        }
    }
out:
    for (size_t k = 0; k < n_all; k++) {
        mem_free(&mem_type_ipam, all[k].ranges);
    }
    mem_free(&mem_type_ipam, all);
    return status;
}

void
api_ipam_apply(struct api_obj *vn)
{
    struct vn_ipam *v = vn_ipam(vn);
    struct ipam_subnet *old = v->subnets;
    size_t n_old = v->n_subnets;
    v->subnets = NULL;
    v->n_subnets = 0;

    struct api_ref *r;
    LIST_FOR_EACH (r, from_node, &vn->refs) {
        if (strcmp(r->to->ident->name, "network-ipam")) {
            continue;
        }
        size_t k;
        json_t *js;
        json_array_foreach (json_object_get(r->attr, "ipam_subnets"), k, js) {
            struct ipam_subnet s;
            char err[256];
            if (parse_subnet(js, &s, err, sizeof err)) {
                LOG_WARN("network %s: ignoring subnet: %s", vn->fq_str, err);
                continue;
            }
            /* Keep the search position of an unchanged subnet, if it is still inside one of
             * its pools. */
            for (size_t m = 0; m < n_old; m++) {
                if (old[m].len == s.len && old[m].net.v == s.net.v
                    && old[m].net.family == s.net.family && old[m].cursor_valid) {
                    for (size_t q = 0; q < s.n_ranges; q++) {
                        if (old[m].cursor >= s.ranges[q].lo && old[m].cursor <= s.ranges[q].hi) {
                            s.cursor = old[m].cursor;
                            s.cursor_range = q;
                            s.cursor_valid = true;
                        }
                    }
                }
            }
            v->subnets = mem_realloc(&mem_type_ipam, v->subnets,
                                     (v->n_subnets + 1) * sizeof *v->subnets);
            v->subnets[v->n_subnets++] = s;
        }
    }
    for (size_t m = 0; m < n_old; m++) {
        mem_free(&mem_type_ipam, old[m].ranges);
    }
    mem_free(&mem_type_ipam, old);
}

static void
used_add(struct vn_ipam *v, const struct ipaddr *a, const char *owner)
{
    struct ipam_used *u = mem_zalloc(&mem_type_ipam, sizeof *u);
    u->a = *a;
    u->owner = xstrdup(owner);
    hmap_insert(&v->used, &u->node, addr_hash(a));
}

static bool
subnet_try(struct vn_ipam *v, const struct ipam_subnet *s, ipaddr_u128 x)
{
    if ((s->has_gw && x == s->gw) || (s->has_dns && x == s->dns)) {
        return false;
    }
    struct ipaddr a = { s->net.family, x };
    return !used_find(v, &a);
}

/* Finds a free address in S, walking the pools from the cursor in S's direction. */
static bool
subnet_alloc(struct vn_ipam *v, struct ipam_subnet *s, ipaddr_u128 *out)
{
    bool down = !s->from_start;
    size_t ri = s->cursor_valid ? s->cursor_range : down ? s->n_ranges - 1 : 0;
    ipaddr_u128 x = s->cursor_valid ? s->cursor : down ? s->ranges[ri].hi : s->ranges[ri].lo;
    size_t ri0 = ri;
    ipaddr_u128 x0 = x;
    bool wrapped = false;
    for (unsigned long steps = 0; steps < IPAM_SCAN_LIMIT; steps++) {
        if (subnet_try(v, s, x)) {
            *out = x;
            s->cursor = x;
            s->cursor_range = ri;
            s->cursor_valid = true;
            return true;
        }
        /* Step to the next address in pool order, wrapping once. */
        if (down ? x > s->ranges[ri].lo : x < s->ranges[ri].hi) {
            x = down ? x - 1 : x + 1;
        } else if (down ? ri > 0 : ri + 1 < s->n_ranges) {
            ri = down ? ri - 1 : ri + 1;
            x = down ? s->ranges[ri].hi : s->ranges[ri].lo;
        } else if (!wrapped) {
            wrapped = true;
            ri = down ? s->n_ranges - 1 : 0;
            x = down ? s->ranges[ri].hi : s->ranges[ri].lo;
        } else {
            break;
        }
        if (wrapped && ri == ri0 && x == x0) {
            break;              /* Back where we started: full. */
        }
    }
    return false;
}

int
api_ipam_alloc(struct api_obj *vn, int family, const char *subnet_uuid, const char *want,
               const char *owner, char ip[IPADDR_STRLEN], char subnet_uuid_out[UUID_LEN + 1],
               char *err, size_t errlen)
{
    struct vn_ipam *v = vn_ipam(vn);
    if (want) {
        struct ipaddr a;
        if (!ipaddr_parse(want, &a)) {
            return bad(err, errlen, 400, "Bad Request: invalid IP address '%s'", want);
        }
        for (size_t i = 0; i < v->n_subnets; i++) {
            struct ipam_subnet *s = &v->subnets[i];
            if (!ipaddr_in_prefix(&a, &s->net, s->len)
                || (subnet_uuid && strcmp(subnet_uuid, s->uuid))) {
                continue;
            }
            /* The network and broadcast addresses and the DNS service address are the
             * system's.  The gateway may be asked for: a router's port takes it. */
            if (used_find(v, &a) || a.v == ipaddr_prefix_first(&s->net, s->len)
                || a.v == ipaddr_prefix_last(&s->net, s->len) || (s->has_dns && a.v == s->dns)) {
                return bad(err, errlen, 409, "Ip address already in use: %s", want);
            }
            used_add(v, &a, owner);
            ipaddr_format(&a, ip);
            if (subnet_uuid_out) {
                snprintf(subnet_uuid_out, UUID_LEN + 1, "%s", s->uuid);
            }
            return 0;
        }
        return bad(err, errlen, 400, "Bad Request: address %s is not in any subnet of "
                   "network %s", want, vn->fq_str);
    }
    bool any = false;
    for (size_t i = 0; i < v->n_subnets; i++) {
        struct ipam_subnet *s = &v->subnets[i];
        if ((family && s->net.family != family) || (subnet_uuid && strcmp(subnet_uuid, s->uuid))) {
            continue;
        }
        any = true;
        ipaddr_u128 x;
        if (subnet_alloc(v, s, &x)) {
            struct ipaddr a = { s->net.family, x };
            used_add(v, &a, owner);
            ipaddr_format(&a, ip);
            if (subnet_uuid_out) {
                snprintf(subnet_uuid_out, UUID_LEN + 1, "%s", s->uuid);
            }
            return 0;
        }
    }
    if (!any) {
        if (subnet_uuid) {
            return bad(err, errlen, 404, "Subnet %s not found in network %s", subnet_uuid,
                       vn->fq_str);
        }
        return bad(err, errlen, 400, "Bad Request: network %s has no %ssubnet to allocate "
                   "from", vn->fq_str, family == 4 ? "IPv4 " : family == 6 ? "IPv6 " : "");
    }
    return bad(err, errlen, 409, "Virtual-Network(%s) has exhausted subnet(all)", vn->fq_str);
}

bool
api_ipam_mark(struct api_obj *vn, const char *ip, const char *owner)
{
    struct vn_ipam *v = vn_ipam(vn);
    struct ipaddr a;
    if (!ipaddr_parse(ip, &a) || used_find(v, &a)) {
        return false;
    }
    used_add(v, &a, owner);
    return true;
}

/* A freed address ahead of the cursor (in allocation order) is where the next search
 * starts, so that allocation always hands out the first free address, as the original's
 * bitmap allocator does. */
static void
subnet_rewind(struct vn_ipam *v, const struct ipaddr *a)
{
    for (size_t i = 0; i < v->n_subnets; i++) {
        struct ipam_subnet *s = &v->subnets[i];
        if (!ipaddr_in_prefix(a, &s->net, s->len) || !s->cursor_valid) {
            continue;
        }
        for (size_t r = 0; r < s->n_ranges; r++) {
            if (a->v >= s->ranges[r].lo && a->v <= s->ranges[r].hi
                && (s->from_start ? a->v < s->cursor : a->v > s->cursor)) {
                s->cursor = a->v;
                s->cursor_range = r;
            }
        }
    }
}

bool
api_ipam_free(struct api_obj *vn, const char *ip)
{
    struct vn_ipam *v = vn->ext;
    struct ipaddr a;
    if (!v || !ipaddr_parse(ip, &a)) {
        return false;
    }
    struct ipam_used *u = used_find(v, &a);
    if (!u) {
        return false;
    }
    hmap_remove(&v->used, &u->node);
    xfree(u->owner);
    mem_free(&mem_type_ipam, u);
    subnet_rewind(v, &a);
    return true;
}

const char *
api_ipam_owner(struct api_obj *vn, const char *ip)
{
    struct vn_ipam *v = vn->ext;
    struct ipaddr a;
    struct ipam_used *u = v && ipaddr_parse(ip, &a) ? used_find(v, &a) : NULL;
    return u ? u->owner : NULL;
}

long
api_ipam_count(struct api_obj *vn, const char *prefix)
{
    struct ipaddr net;
    int len;
    if (!ipaddr_parse_prefix(prefix, false, &net, &len)) {
        return -1;
    }
    struct vn_ipam *v = vn->ext;
    long n = 0;
    struct ipam_used *u;
    if (v) {
        HMAP_FOR_EACH (u, node, &v->used) {
            n += ipaddr_in_prefix(&u->a, &net, len);
        }
    }
    return n;
}

bool
api_ipam_in_use(struct api_obj *vn)
{
    struct vn_ipam *v = vn->ext;
    return v && hmap_count(&v->used);
}

json_t *
api_ipam_owned_by(struct api_obj *vn, const char *owner)
{
    json_t *a = json_array();
    struct vn_ipam *v = vn->ext;
    struct ipam_used *u;
    if (v) {
        HMAP_FOR_EACH (u, node, &v->used) {
            if (!strcmp(u->owner, owner)) {
                char buf[IPADDR_STRLEN];
                json_array_append_new(a, json_string(ipaddr_format(&u->a, buf)));
            }
        }
    }
    return a;
}

bool
api_ipam_subnet_uuid(struct api_obj *vn, const char *prefix, char out[UUID_LEN + 1])
{
    struct ipaddr net;
    int len;
    struct vn_ipam *v = vn->ext;
    if (!v || !ipaddr_parse_prefix(prefix, false, &net, &len)) {
        return false;
    }
    for (size_t i = 0; i < v->n_subnets; i++) {
        if (v->subnets[i].len == len && v->subnets[i].net.family == net.family
            && v->subnets[i].net.v == net.v) {
            snprintf(out, UUID_LEN + 1, "%s", v->subnets[i].uuid);
            return true;
        }
    }
    return false;
}
