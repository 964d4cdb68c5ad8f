/* Unit tests of config/api/api_ipam: subnets of virtual networks and address allocation,
 * driven through a real api_store over a temporary SQLite database. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_ipam.h"
#include "api_store.h"
#include "cfgdb.h"
#include "check.h"
#include "mem.h"
#include "schema.h"
#include "uuid.h"


static char tmpdir[64];
static struct event_base *base;
static struct schema *schema;
static struct cfgdb *db;
static struct api_store store;
static const struct schema_ident *vn_ident, *ipam_ident;
static const struct schema_link *vn_ipam_link;
static struct api_obj *ipam1, *ipam2;
static int n_vns;

static void
freed_hook(struct api_store *s, struct api_obj *o, void *aux)
{
    if (o->ident == vn_ident) {
        api_ipam_destroy(o);
    }
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
txn_done(void *aux, int error)
{
    int *r = aux;
    *r = error + 1;
}

/* Commits T and waits for it to be durable. */
static void
commit(struct api_txn *t)
{
    int r = 0;
    api_txn_commit(t, txn_done, &r);
    double deadline = now() + 20;
    while (!r && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (!r) {
            usleep(500);
        }
    }
    CHECK_EQ_INT(r, 1);
}

static json_t *
fq3(const char *name)
{
    return json_pack("[sss]", "default-domain", "default-project", name);
}

static struct api_obj *
make_ipam(const char *name)
{
    struct api_txn t;
    api_txn_init(&t, &store);
    char uuid[UUID_LEN + 1];
    uuid_generate(uuid);
    json_t *fq = fq3(name);
    struct api_obj *o = api_obj_create(&t, ipam_ident, uuid, fq, NULL, NULL);
    json_decref(fq);
    commit(&t);
    return o;
}

static json_t *
parse(const char *text)
{
    json_error_t jerr;
    json_t *j = json_loads(text, 0, &jerr);
    if (!j) {
        fprintf(stderr, "bad test JSON: %s: %s\n", jerr.text, text);
        abort();
    }
    return j;
}

/* Creates a network whose reference to ipam1 carries ATTR1 (VnSubnetsType JSON text) and,
 * if ATTR2 is not NULL, whose reference to ipam2 carries ATTR2.  Returns the HTTP status of
 * api_ipam_prepare (0: created and *VNP set, its refs carrying the completed attrs). */
static int
make_vn2(const char *attr1, const char *attr2, struct api_obj **vnp, char *err, size_t errlen)
{
    json_t *a1 = parse(attr1), *a2 = attr2 ? parse(attr2) : NULL;
    json_t *attrs = json_array();
    json_array_append(attrs, a1);
    if (a2) {
        json_array_append(attrs, a2);
    }
    err[0] = '\0';
    int status = api_ipam_prepare(NULL, attrs, err, errlen);
    json_decref(attrs);
    *vnp = NULL;
    if (status) {
        json_decref(a1);
        json_decref(a2);
        return status;
    }
    struct api_txn t;
    api_txn_init(&t, &store);
    char uuid[UUID_LEN + 1], name[32];
    uuid_generate(uuid);
    snprintf(name, sizeof name, "vn%d", ++n_vns);
    json_t *fq = fq3(name);
    struct api_obj *vn = api_obj_create(&t, vn_ident, uuid, fq, NULL, NULL);
    json_decref(fq);
    api_ref_add(&t, vn, ipam1, vn_ipam_link, a1);
    if (a2) {
        api_ref_add(&t, vn, ipam2, vn_ipam_link, a2);
    }
    api_ipam_apply(vn);
    commit(&t);
    *vnp = vn;
    return 0;
}

static int
make_vn(const char *attr, struct api_obj **vnp, char *err, size_t errlen)
{
    return make_vn2(attr, NULL, vnp, err, errlen);
}

/* Replaces VN's reference to ipam1 with one carrying ATTR.  Returns the prepare status. */
static int
update_vn(struct api_obj *vn, const char *attr, char *err, size_t errlen)
{
    json_t *a = parse(attr);
    json_t *attrs = json_array();
    json_array_append(attrs, a);
    err[0] = '\0';
    int status = api_ipam_prepare(vn, attrs, err, errlen);
    json_decref(attrs);
    if (status) {
        json_decref(a);
        return status;
    }
    struct api_txn t;
    api_txn_init(&t, &store);
    struct api_ref *r = api_ref_find(vn, ipam1);
    if (r) {
        api_ref_remove(&t, r);
    }
    api_ref_add(&t, vn, ipam1, vn_ipam_link, a);
    api_ipam_apply(vn);
    commit(&t);
    return 0;
}

static void
delete_vn(struct api_obj *vn)
{
    struct api_txn t;
    api_txn_init(&t, &store);
    api_obj_delete(&t, vn);
    commit(&t);
}

/* The first ipam_subnets entry of VN's reference to ipam1. */
static json_t *
subnet0(struct api_obj *vn)
{
    struct api_ref *r = api_ref_find(vn, ipam1);
    return r ? json_array_get(json_object_get(r->attr, "ipam_subnets"), 0) : NULL;
}

static const char *
sfield(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* Allocates one address (FAMILY, no subnet, no wish) for OWNER; returns it in a static
 * buffer, or "ERR <status>". */
static const char *
alloc(struct api_obj *vn, int family, const char *owner)
{
    static char ip[IPADDR_STRLEN + 16];
    char err[512];
    int status = api_ipam_alloc(vn, family, NULL, NULL, owner, ip, NULL, err, sizeof err);
    if (status) {
        snprintf(ip, sizeof ip, "ERR %d", status);
    }
    return ip;
}

static int
want(struct api_obj *vn, const char *addr, const char *owner, char *err, size_t errlen)
{
    char ip[IPADDR_STRLEN];
    return api_ipam_alloc(vn, 0, NULL, addr, owner, ip, NULL, err, errlen);
}

static void
test_defaults(void)
{
    char err[512];
    struct api_obj *vn;
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.1.1.0\", "
                         "\"ip_prefix_len\": 24}}]}", &vn, err, sizeof err), 0);
    if (!vn) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    /* Completed: gateway = last usable, DNS = the one below, a subnet uuid, DHCP on. */
    json_t *s = subnet0(vn);
    CHECK_STREQ(sfield(s, "default_gateway"), "10.1.1.254");
    CHECK_STREQ(sfield(s, "dns_server_address"), "10.1.1.253");
    CHECK(uuid_is_valid(sfield(s, "subnet_uuid")));
    CHECK(json_is_true(json_object_get(s, "enable_dhcp")));
    char su[UUID_LEN + 1] = "";
    CHECK(api_ipam_subnet_uuid(vn, "10.1.1.0/24", su));
    CHECK_STREQ(su, sfield(s, "subnet_uuid"));
    CHECK(!api_ipam_subnet_uuid(vn, "10.1.2.0/24", su));
    CHECK(!api_ipam_subnet_uuid(vn, "garbage", su));
    CHECK(!api_ipam_in_use(vn));

    /* Allocation goes down from below the DNS address. */
    CHECK_STREQ(alloc(vn, 0, "o1"), "10.1.1.252");
    CHECK_STREQ(alloc(vn, 4, "o2"), "10.1.1.251");
    CHECK_STREQ(alloc(vn, 0, "o1"), "10.1.1.250");
    CHECK(api_ipam_in_use(vn));
    CHECK_STREQ(api_ipam_owner(vn, "10.1.1.252"), "o1");
    CHECK_STREQ(api_ipam_owner(vn, "10.1.1.251"), "o2");
    CHECK(api_ipam_owner(vn, "10.1.1.249") == NULL);
    CHECK(api_ipam_owner(vn, "junk") == NULL);
    CHECK_EQ_INT(api_ipam_count(vn, "10.1.1.0/24"), 3);
    CHECK_EQ_INT(api_ipam_count(vn, "10.1.1.250/31"), 2);
    CHECK_EQ_INT(api_ipam_count(vn, "10.9.0.0/16"), 0);
    CHECK_EQ_INT(api_ipam_count(vn, "bad"), -1);
    json_t *owned = api_ipam_owned_by(vn, "o1");
    CHECK_EQ_INT(json_array_size(owned), 2);
    json_decref(owned);
    owned = api_ipam_owned_by(vn, "nobody");
    CHECK_EQ_INT(json_array_size(owned), 0);
    json_decref(owned);

    /* The subnet uuid comes back with each allocation, and restricts it. */
    char ip[IPADDR_STRLEN], sub[UUID_LEN + 1] = "";
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, su, NULL, "o3", ip, sub, err, sizeof err), 0);
    CHECK_STREQ(ip, "10.1.1.249");
    CHECK_STREQ(sub, su);
    char other[UUID_LEN + 1];
    uuid_generate(other);
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, other, NULL, "o3", ip, sub, err, sizeof err), 404);
    CHECK_CONTAINS(err, other);
    /* No IPv6 subnet here. */
    CHECK_EQ_INT(api_ipam_alloc(vn, 6, NULL, NULL, "o3", ip, sub, err, sizeof err), 400);
    CHECK_CONTAINS(err, "IPv6");

    /* Free and reuse. */
    CHECK(api_ipam_free(vn, "10.1.1.251"));
    CHECK(!api_ipam_free(vn, "10.1.1.251"));
    CHECK(!api_ipam_free(vn, "10.1.1.1"));
    CHECK(!api_ipam_free(vn, "not an ip"));
    CHECK(api_ipam_owner(vn, "10.1.1.251") == NULL);
    CHECK_EQ_INT(api_ipam_count(vn, "10.1.1.0/24"), 3);
    CHECK_STREQ(alloc(vn, 0, "o4"), "10.1.1.251");        /* The first free from the top. */
    CHECK_STREQ(alloc(vn, 0, "o4"), "10.1.1.248");

    /* Mark (loading): refuses an address already used. */
    CHECK(api_ipam_mark(vn, "10.1.1.10", "o5"));
    CHECK(!api_ipam_mark(vn, "10.1.1.10", "o6"));
    CHECK(!api_ipam_mark(vn, "bogus", "o6"));
    CHECK_STREQ(api_ipam_owner(vn, "10.1.1.10"), "o5");

    /* Requested addresses. */
    CHECK_EQ_INT(want(vn, "10.1.1.100", "o7", err, sizeof err), 0);
    CHECK_STREQ(api_ipam_owner(vn, "10.1.1.100"), "o7");
    CHECK_EQ_INT(want(vn, "10.1.1.100", "o8", err, sizeof err), 409);
    CHECK_CONTAINS(err, "10.1.1.100");
    CHECK_EQ_INT(want(vn, "10.1.1.252", "o8", err, sizeof err), 409);
    CHECK_EQ_INT(want(vn, "10.1.2.1", "o8", err, sizeof err), 400);
    CHECK_EQ_INT(want(vn, "not-an-ip", "o8", err, sizeof err), 400);
    CHECK_EQ_INT(want(vn, "2001:db8::1", "o8", err, sizeof err), 400);
    /* Auto allocation skips requested ones. */
    CHECK(api_ipam_mark(vn, "10.1.1.247", "o9"));
    CHECK_STREQ(alloc(vn, 0, "o4"), "10.1.1.246");
    /* The DNS address is the system's; the gateway may be asked for (a router's port
     * takes it) but never handed out by itself. */
    CHECK_EQ_INT(want(vn, "10.1.1.253", "o8", err, sizeof err), 409);
    CHECK_EQ_INT(want(vn, "10.1.1.254", "o8", err, sizeof err), 0);
    CHECK_EQ_INT(want(vn, "10.1.1.254", "o8", err, sizeof err), 409);
    /* Network and broadcast addresses are never handed out. */
    CHECK(want(vn, "10.1.1.0", "o8", err, sizeof err) != 0);
    CHECK(want(vn, "10.1.1.255", "o8", err, sizeof err) != 0);
    delete_vn(vn);
}

static void
test_explicit_gateway(void)
{
    char err[512];
    struct api_obj *vn;
    /* Gateway given, DNS 0.0.0.0 (none): the top address is free for allocation. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.2.0.0\", "
                         "\"ip_prefix_len\": 24}, \"default_gateway\": \"10.2.0.1\", "
                         "\"dns_server_address\": \"0.0.0.0\", \"enable_dhcp\": false}]}",
                         &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    json_t *s = subnet0(vn);
    CHECK_STREQ(sfield(s, "default_gateway"), "10.2.0.1");
    CHECK_STREQ(sfield(s, "dns_server_address"), "0.0.0.0");
    CHECK(json_is_false(json_object_get(s, "enable_dhcp")));
    CHECK_STREQ(alloc(vn, 0, "x"), "10.2.0.254");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.2.0.253");
    delete_vn(vn);

    /* A given subnet_uuid is kept. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.2.1.0\", "
                         "\"ip_prefix_len\": 24}, \"subnet_uuid\": "
                         "\"11111111-2222-3333-4444-555555555555\"}]}", &vn, err, sizeof err),
                 0);
    if (vn) {
        CHECK_STREQ(sfield(subnet0(vn), "subnet_uuid"), "11111111-2222-3333-4444-555555555555");
        delete_vn(vn);
    }
}

static void
test_from_start(void)
{
    char err[512];
    struct api_obj *vn;
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.3.0.0\", "
                         "\"ip_prefix_len\": 24}, \"addr_from_start\": true}]}",
                         &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    json_t *s = subnet0(vn);
    CHECK_STREQ(sfield(s, "default_gateway"), "10.3.0.1");
    CHECK_STREQ(sfield(s, "dns_server_address"), "10.3.0.2");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.3.0.3");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.3.0.4");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.3.0.5");
    CHECK(api_ipam_free(vn, "10.3.0.4"));
    CHECK_STREQ(alloc(vn, 0, "x"), "10.3.0.4");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.3.0.6");
    delete_vn(vn);
}

static void
test_pools(void)
{
    char err[512];
    struct api_obj *vn;
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.4.0.0\", "
                         "\"ip_prefix_len\": 24}, \"allocation_pools\": [{\"start\": "
                         "\"10.4.0.10\", \"end\": \"10.4.0.12\"}]}]}", &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    CHECK_STREQ(alloc(vn, 0, "x"), "10.4.0.12");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.4.0.11");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.4.0.10");
    CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
    char ip[IPADDR_STRLEN];
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, NULL, NULL, "x", ip, NULL, err, sizeof err), 409);
    CHECK_CONTAINS(err, "exhausted");
    /* A requested address outside the pools is fine: pools bound auto allocation only. */
    CHECK_EQ_INT(want(vn, "10.4.0.50", "x", err, sizeof err), 0);
    CHECK(api_ipam_free(vn, "10.4.0.11"));
    CHECK_STREQ(alloc(vn, 0, "x"), "10.4.0.11");
    delete_vn(vn);

    /* Two pools given out of order, from the start. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.4.1.0\", "
                         "\"ip_prefix_len\": 24}, \"addr_from_start\": true, "
                         "\"allocation_pools\": [{\"start\": \"10.4.1.20\", \"end\": "
                         "\"10.4.1.21\"}, {\"start\": \"10.4.1.10\", \"end\": \"10.4.1.11\"}]}]}",
                         &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.1.10");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.1.11");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.1.20");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.1.21");
        CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
        delete_vn(vn);
    }
    /* Downwards across two pools. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.4.2.0\", "
                         "\"ip_prefix_len\": 24}, \"allocation_pools\": [{\"start\": "
                         "\"10.4.2.10\", \"end\": \"10.4.2.11\"}, {\"start\": \"10.4.2.20\", "
                         "\"end\": \"10.4.2.21\"}]}]}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.2.21");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.2.20");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.2.11");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.2.10");
        CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
        delete_vn(vn);
    }
    /* A pool covering the whole subnet never hands out network/broadcast/gateway/DNS. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.4.3.0\", "
                         "\"ip_prefix_len\": 29}, \"allocation_pools\": [{\"start\": "
                         "\"10.4.3.0\", \"end\": \"10.4.3.7\"}]}]}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.3.4");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.3.3");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.3.2");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.4.3.1");
        CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
        delete_vn(vn);
    }

    /* Bad pools. */
    static const char *const bad[] = {
        "[{\"start\": \"10.4.9.20\", \"end\": \"10.4.9.10\"}]",       /* start > end */
        "[{\"start\": \"10.4.8.1\", \"end\": \"10.4.9.10\"}]",        /* outside */
        "[{\"start\": \"10.4.9.1\"}]",                                /* no end */
        "[{\"start\": \"bogus\", \"end\": \"10.4.9.10\"}]",
        "[{\"start\": \"2001:db8::1\", \"end\": \"2001:db8::2\"}]",
        ("[{\"start\": \"10.4.9.1\", \"end\": \"10.4.9.10\"}, "
         "{\"start\": \"10.4.9.10\", \"end\": \"10.4.9.20\"}]"),      /* overlapping */
        "[7]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char attr[512];
        snprintf(attr, sizeof attr, "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": "
                 "\"10.4.9.0\", \"ip_prefix_len\": 24}, \"allocation_pools\": %s}]}", bad[i]);
        CHECK_EQ_INT(make_vn(attr, &vn, err, sizeof err), 400);
        CHECK_CONTAINS(err, "pool");
    }
}

static void
test_exhaustion(void)
{
    char err[512];
    struct api_obj *vn;
    /* A /29: .1-.6 usable; gateway .6, DNS .5. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.5.0.0\", "
                         "\"ip_prefix_len\": 29}}]}", &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    CHECK_STREQ(alloc(vn, 0, "x"), "10.5.0.4");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.5.0.3");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.5.0.2");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.5.0.1");
    CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
    CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
    CHECK(api_ipam_free(vn, "10.5.0.3"));
    CHECK_STREQ(alloc(vn, 0, "x"), "10.5.0.3");
    CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
    delete_vn(vn);

    /* A /30: the two usable addresses are the gateway and DNS: nothing to hand out. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.5.1.0\", "
                         "\"ip_prefix_len\": 30}}]}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 0, "x"), "ERR 409");
        delete_vn(vn);
    }
    /* A network without subnets has nothing to allocate from. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": []}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 0, "x"), "ERR 400");
        delete_vn(vn);
    }
    CHECK_EQ_INT(make_vn("{}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 4, "x"), "ERR 400");
        CHECK_EQ_INT(want(vn, "10.0.0.1", "x", err, sizeof err), 400);
        delete_vn(vn);
    }
}

static void
test_ipv6(void)
{
    char err[512];
    struct api_obj *vn;
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.6.0.0\", "
                         "\"ip_prefix_len\": 24}}, {\"subnet\": {\"ip_prefix\": \"2001:db8::\", "
                         "\"ip_prefix_len\": 64}}]}", &vn, err, sizeof err), 0);
    if (!vn) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    struct api_ref *r = api_ref_find(vn, ipam1);
    json_t *s6 = r ? json_array_get(json_object_get(r->attr, "ipam_subnets"), 1) : NULL;
    CHECK_STREQ(sfield(s6, "default_gateway"), "2001:db8::ffff:ffff:ffff:fffe");
    CHECK_STREQ(sfield(s6, "dns_server_address"), "2001:db8::ffff:ffff:ffff:fffd");
    CHECK_STREQ(alloc(vn, 6, "x"), "2001:db8::ffff:ffff:ffff:fffc");
    CHECK_STREQ(alloc(vn, 6, "x"), "2001:db8::ffff:ffff:ffff:fffb");
    CHECK_STREQ(alloc(vn, 4, "x"), "10.6.0.252");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.6.0.251");      /* Any family: the first subnet. */
    char err2[512];
    CHECK_EQ_INT(want(vn, "2001:db8::1234", "x", err2, sizeof err2), 0);
    CHECK_EQ_INT(want(vn, "2001:db8::1234", "x", err2, sizeof err2), 409);
    CHECK_EQ_INT(want(vn, "2001:db9::1", "x", err2, sizeof err2), 400);
    CHECK_EQ_INT(api_ipam_count(vn, "2001:db8::/64"), 3);
    CHECK(api_ipam_free(vn, "2001:db8::ffff:ffff:ffff:fffc"));
    CHECK(api_ipam_free(vn, "2001:DB8::1234"));          /* Any spelling of the address. */
    CHECK_EQ_INT(api_ipam_count(vn, "2001:db8::/64"), 1);
    char su[UUID_LEN + 1];
    CHECK(api_ipam_subnet_uuid(vn, "2001:db8::/64", su));
    char ip[IPADDR_STRLEN], sub[UUID_LEN + 1];
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, su, NULL, "y", ip, sub, err, sizeof err), 0);
    CHECK_STREQ(ip, "2001:db8::ffff:ffff:ffff:fffc");
    CHECK_STREQ(sub, su);
    delete_vn(vn);

    /* From the start, v6. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"fd00:1::\", "
                         "\"ip_prefix_len\": 120}, \"addr_from_start\": true}]}",
                         &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(sfield(subnet0(vn), "default_gateway"), "fd00:1::1");
        CHECK_STREQ(alloc(vn, 6, "x"), "fd00:1::3");
        CHECK_STREQ(alloc(vn, 0, "x"), "fd00:1::4");
        CHECK_STREQ(alloc(vn, 4, "x"), "ERR 400");
        delete_vn(vn);
    }
}

static void
test_bad_subnets(void)
{
    char err[512];
    struct api_obj *vn;
    static const char *const bad[] = {
        /* Host bits set. */
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.1\", \"ip_prefix_len\": 24}}",
        /* Missing or mistyped parts. */
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\"}}",
        "{\"subnet\": {\"ip_prefix_len\": 24}}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": \"24\"}}",
        "{}",
        "{\"subnet\": {\"ip_prefix\": \"bogus\", \"ip_prefix_len\": 24}}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 33}}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": -1}}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0/8\", \"ip_prefix_len\": 24}}",
        /* Too small. */
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 31}}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 32}}",
        "{\"subnet\": {\"ip_prefix\": \"2001:db8::\", \"ip_prefix_len\": 127}}",
        /* Gateway / DNS outside the subnet, of the other family, not a string. */
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 24}, "
        "\"default_gateway\": \"10.8.0.1\"}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 24}, "
        "\"dns_server_address\": \"2001:db8::1\"}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 24}, "
        "\"default_gateway\": 5}",
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 24}, "
        "\"default_gateway\": \"junk\"}",
        /* Bad subnet uuid. */
        "{\"subnet\": {\"ip_prefix\": \"10.7.0.0\", \"ip_prefix_len\": 24}, "
        "\"subnet_uuid\": \"not-a-uuid\"}",
        /* Not an object. */
        "\"10.7.0.0/24\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char attr[512];
        snprintf(attr, sizeof attr, "{\"ipam_subnets\": [%s]}", bad[i]);
        int status = make_vn(attr, &vn, err, sizeof err);
        if (status != 400) {
            fprintf(stderr, "subnet %s: status %d\n", bad[i], status);
        }
        CHECK_EQ_INT(status, 400);
        CHECK(err[0] != '\0');
        if (vn) {
            delete_vn(vn);
        }
    }

    /* Overlaps, within one reference and across two. */
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.8.0.0\", "
                         "\"ip_prefix_len\": 16}}, {\"subnet\": {\"ip_prefix\": \"10.8.1.0\", "
                         "\"ip_prefix_len\": 24}}]}", &vn, err, sizeof err), 400);
    CHECK_CONTAINS(err, "Overlapping");
    CHECK_CONTAINS(err, "10.8.0.0/16");
    CHECK_CONTAINS(err, "10.8.1.0/24");
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.8.0.0\", "
                         "\"ip_prefix_len\": 24}}, {\"subnet\": {\"ip_prefix\": \"10.8.0.0\", "
                         "\"ip_prefix_len\": 24}}]}", &vn, err, sizeof err), 400);
    CHECK_EQ_INT(make_vn2("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.9.0.0\", "
                          "\"ip_prefix_len\": 24}}]}",
                          "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.9.0.128\", "
                          "\"ip_prefix_len\": 25}}]}", &vn, err, sizeof err), 400);
    CHECK_CONTAINS(err, "Overlapping");
    /* Disjoint subnets on two references are fine; v4 and v6 never overlap. */
    CHECK_EQ_INT(make_vn2("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.9.0.0\", "
                          "\"ip_prefix_len\": 25}}]}",
                          "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.9.0.128\", "
                          "\"ip_prefix_len\": 25}}, {\"subnet\": {\"ip_prefix\": \"::\", "
                          "\"ip_prefix_len\": 0}}]}", &vn, err, sizeof err), 0);
    if (vn) {
        CHECK_STREQ(alloc(vn, 4, "x"), "10.9.0.124");
        CHECK_EQ_INT(want(vn, "10.9.0.200", "x", err, sizeof err), 0);
        CHECK_STREQ(alloc(vn, 6, "x"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc");
        delete_vn(vn);
    }
}

static void
test_update(void)
{
    char err[512];
    struct api_obj *vn;
    const char *two = "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.10.1.0\", "
                      "\"ip_prefix_len\": 24}}, {\"subnet\": {\"ip_prefix\": \"10.10.2.0\", "
                      "\"ip_prefix_len\": 24}}]}";
    CHECK_EQ_INT(make_vn(two, &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    char su1[UUID_LEN + 1], su2[UUID_LEN + 1];
    CHECK(api_ipam_subnet_uuid(vn, "10.10.1.0/24", su1));
    CHECK(api_ipam_subnet_uuid(vn, "10.10.2.0/24", su2));
    CHECK(strcmp(su1, su2) != 0);
    CHECK_STREQ(alloc(vn, 0, "x"), "10.10.1.252");

    /* Removing the subnet in use is refused, and nothing changes. */
    const char *only2 = "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.10.2.0\", "
                        "\"ip_prefix_len\": 24}}]}";
    CHECK_EQ_INT(update_vn(vn, only2, err, sizeof err), 409);
    CHECK_CONTAINS(err, "10.10.1.0/24");
    CHECK_CONTAINS(err, "in use");
    CHECK(api_ipam_subnet_uuid(vn, "10.10.1.0/24", su1));

    /* Removing the unused one is fine; the kept subnet keeps its uuid. */
    const char *only1 = "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.10.1.0\", "
                        "\"ip_prefix_len\": 24}}]}";
    CHECK_EQ_INT(update_vn(vn, only1, err, sizeof err), 0);
    char su[UUID_LEN + 1] = "";
    CHECK(api_ipam_subnet_uuid(vn, "10.10.1.0/24", su));
    CHECK_STREQ(su, su1);
    CHECK(!api_ipam_subnet_uuid(vn, "10.10.2.0/24", su));
    /* Allocation state survives the update. */
    CHECK_STREQ(api_ipam_owner(vn, "10.10.1.252"), "x");
    CHECK_STREQ(alloc(vn, 0, "x"), "10.10.1.251");

    /* Once its addresses are freed the subnet can go. */
    CHECK(api_ipam_free(vn, "10.10.1.252"));
    CHECK(api_ipam_free(vn, "10.10.1.251"));
    CHECK_EQ_INT(update_vn(vn, only2, err, sizeof err), 0);
    CHECK(!api_ipam_subnet_uuid(vn, "10.10.1.0/24", su));
    CHECK_STREQ(alloc(vn, 0, "x"), "10.10.2.252");

    /* Changing the pool of a subnet: allocation follows the new pool. */
    const char *pool_a = "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.10.2.0\", "
                         "\"ip_prefix_len\": 24}, \"allocation_pools\": [{\"start\": "
                         "\"10.10.2.10\", \"end\": \"10.10.2.20\"}]}]}";
    const char *pool_b = "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.10.2.0\", "
                         "\"ip_prefix_len\": 24}, \"allocation_pools\": [{\"start\": "
                         "\"10.10.2.100\", \"end\": \"10.10.2.110\"}]}]}";
    {
        /* Changing the pools of an existing subnet: the original refuses it (400, "has
         * invalid subnet"); if accepted, allocation must at least follow the new pool. */
        int status = update_vn(vn, pool_a, err, sizeof err);
        if (status) {
            CHECK_EQ_INT(status, 400);
        } else {
            CHECK_STREQ(alloc(vn, 0, "x"), "10.10.2.20");
        }
        status = update_vn(vn, pool_b, err, sizeof err);
        if (status) {
            CHECK_EQ_INT(status, 400);
        } else {
            CHECK_STREQ(alloc(vn, 0, "x"), "10.10.2.110");
        }
    }
    /* A new subnet with a pool: allocation stays inside the pool. */
    CHECK_EQ_INT(update_vn(vn, "{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": "
                           "\"10.10.2.0\", \"ip_prefix_len\": 24}}, {\"subnet\": "
                           "{\"ip_prefix\": \"10.10.3.0\", \"ip_prefix_len\": 24}, "
                           "\"allocation_pools\": [{\"start\": \"10.10.3.10\", \"end\": "
                           "\"10.10.3.11\"}]}]}", err, sizeof err), 0);
    char su3[UUID_LEN + 1] = "", ip[IPADDR_STRLEN];
    CHECK(api_ipam_subnet_uuid(vn, "10.10.3.0/24", su3));
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, su3, NULL, "x", ip, NULL, err, sizeof err), 0);
    CHECK_STREQ(ip, "10.10.3.11");
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, su3, NULL, "x", ip, NULL, err, sizeof err), 0);
    CHECK_STREQ(ip, "10.10.3.10");
    CHECK_EQ_INT(api_ipam_alloc(vn, 0, su3, NULL, "x", ip, NULL, err, sizeof err), 409);
    delete_vn(vn);
}

static void
test_reload(void)
{
    /* The completed attrs are what is persisted: reopening the store and rebuilding the
     * subnet table gives the same subnets. */
    char err[512];
    struct api_obj *vn;
    CHECK_EQ_INT(make_vn("{\"ipam_subnets\": [{\"subnet\": {\"ip_prefix\": \"10.11.0.0\", "
                         "\"ip_prefix_len\": 24}}]}", &vn, err, sizeof err), 0);
    if (!vn) {
        return;
    }
    char uuid[UUID_LEN + 1], su[UUID_LEN + 1];
    snprintf(uuid, sizeof uuid, "%s", vn->uuid);
    CHECK(api_ipam_subnet_uuid(vn, "10.11.0.0/24", su));
    api_store_close(&store);

    struct api_store_hooks hooks = { .freed = freed_hook };
    CHECK_EQ_INT(api_store_open(&store, schema, db, &hooks, err, sizeof err), 0);
    vn = api_store_get(&store, uuid);
    CHECK(vn != NULL);
    ipam1 = api_store_get_fq(&store, ipam_ident, "default-domain:default-project:ipam1");
    ipam2 = api_store_get_fq(&store, ipam_ident, "default-domain:default-project:ipam2");
    CHECK(ipam1 && ipam2);
    if (vn) {
        api_ipam_apply(vn);
        char su2[UUID_LEN + 1] = "";
        CHECK(api_ipam_subnet_uuid(vn, "10.11.0.0/24", su2));
        CHECK_STREQ(su2, su);
        CHECK_STREQ(sfield(subnet0(vn), "default_gateway"), "10.11.0.254");
        CHECK_STREQ(alloc(vn, 0, "x"), "10.11.0.252");
    }
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_api_ipam.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    char err[512] = "";
    if (schema_load(schema_default_path(), &schema, err, sizeof err)) {
        fprintf(stderr, "schema: %s\n", err);
        return 2;
    }
    vn_ident = schema_ident(schema, "virtual-network");
    ipam_ident = schema_ident(schema, "network-ipam");
    vn_ipam_link = schema_ident_ref_to(vn_ident, ipam_ident);
    base = event_base_new();
    char spec[160];
    snprintf(spec, sizeof spec, "sqlite:%s/config.db", tmpdir);
    if (cfgdb_open(base, spec, &db, err, sizeof err)) {
        fprintf(stderr, "cfgdb: %s\n", err);
        return 2;
    }
    struct api_store_hooks hooks = { .freed = freed_hook };
    if (api_store_open(&store, schema, db, &hooks, err, sizeof err)) {
        fprintf(stderr, "store: %s\n", err);
        return 2;
    }
    ipam1 = make_ipam("ipam1");
    ipam2 = make_ipam("ipam2");

    test_defaults();
    test_explicit_gateway();
    test_from_start();
    test_pools();
    test_exhaustion();
    test_ipv6();
    test_bad_subnets();
    test_update();
    test_reload();

    api_store_close(&store);
    cfgdb_close(db);
    event_base_free(base);
    schema_destroy(schema);
    json_t *j = mem_to_json();
    static const char *const types[] = { "ipam", "api_obj", "api_ref", "api_txn", "schema",
                                         "cfgdb_batch" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        long long live = json_integer_value(json_object_get(json_object_get(j, types[i]),
                                                            "live"));
        if (live) {
            fprintf(stderr, "memory type %s: %lld live\n", types[i], live);
        }
        CHECK_EQ_INT(live, 0);
    }
    json_decref(j);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    return check_finish();
}
