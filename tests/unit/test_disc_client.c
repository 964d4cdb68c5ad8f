/* Unit test of lib/disc_client against a real contrail-discovery server (config/discovery)
 * in the same event loop, over the in-process coordination store: publish with heartbeats,
 * subscribe with callbacks on change, withdrawal of a publisher that stops, and working from
 * the last answer while the server is away. */
#include <event2/event.h>
#include <stdlib.h>
#include <sys/time.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "coord.h"
#include "disc_client.h"
#include "disc_server.h"
#include "http.h"
#include "mem.h"

static struct event_base *base;

struct sub_rec {
    int calls;
    size_t n;
};

static void
on_change(void *aux, const json_t *instances)
{
    struct sub_rec *r = aux;
    r->calls++;
    r->n = json_array_size(instances);
}

static double
now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

/* Runs the loop until *N == WANT (size_t) or SECONDS pass. */
static bool
run_until_n(const size_t *n, size_t want, double seconds)
{
    double deadline = now() + seconds;
    while (*n != want && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(2000);
    }
    return *n == want;
}

static bool
run_until_true(bool (*pred)(const void *), const void *arg, double seconds)
{
    double deadline = now() + seconds;
    while (!pred(arg) && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(2000);
    }
    return pred(arg);
}

static bool
connected(const void *dc)
{
    return disc_client_connected(dc);
}

static bool
disconnected(const void *dc)
{
    return !disc_client_connected(dc);
}

static const struct conf_option options[] = {
    { "DEFAULTS", "hc_interval", CONF_INT, "1", "" },
    { "DEFAULTS", "hc_max_miss", CONF_INT, "2", "" },
    { "DEFAULTS", "ttl_min", CONF_INT, "1", "" },
    { "DEFAULTS", "ttl_max", CONF_INT, "2", "" },
    { NULL, NULL, 0, NULL, NULL },
};

int
main(void)
{
    mem_init_json();
    base = event_base_new();
    char err[256];
    struct coord *coord = NULL;
    CHECK_EQ_INT(coord_open(base, "local", 0, &coord, err, sizeof err), 0);
    struct conf *conf = conf_create("test", options);
    char *argv[] = { "test", NULL };
    CHECK_EQ_INT(conf_parse(conf, 1, argv, err, sizeof err), 0);

    struct disc_server ds;
    CHECK_EQ_INT(disc_server_open(&ds, base, coord, conf, "127.0.0.1", 0, err, sizeof err), 0);
    int port = http_server_port(ds.http);
    char servers[64];
    /* A server that is never there comes first: clients must move on to the live one. */
    snprintf(servers, sizeof servers, "127.0.0.1:1,127.0.0.1:%d", port);

    struct disc_client *pa = disc_client_create(base, servers, "host-a:test", "test");
    struct disc_client *pb = disc_client_create(base, servers, "host-b:test", "test");
    struct disc_client *sub = disc_client_create(base, servers, "host-c:agent", "agent");
    CHECK(pa && pb && sub);
    CHECK(disc_client_create(base, "", "x", "x") == NULL);
    disc_client_set_heartbeat(pa, 0.2);
    disc_client_set_heartbeat(pb, 0.2);
    disc_client_set_max_refresh(sub, 0.3);

    json_t *info_a = xjson_pack("{ssss}", "ip-address", "198.51.100.1", "port", "5269");
    json_t *info_b = xjson_pack("{ssss}", "ip-address", "198.51.100.2", "port", "5269");
    struct disc_pub *a = disc_client_publish(pa, "xmpp-server", info_a);
    struct disc_pub *b = disc_client_publish(pb, "xmpp-server", info_b);
    json_decref(info_a);
    json_decref(info_b);

    struct sub_rec r = { 0 };
    struct disc_sub *s = disc_client_subscribe(sub, "xmpp-server", 2, on_change, &r);
    CHECK(run_until_n(&r.n, 2, 15));
    CHECK(disc_pub_is_up(a) && disc_pub_is_up(b));
    CHECK(disc_client_connected(sub));
    const json_t *inst = disc_sub_instances(s);
    CHECK_EQ_INT(json_array_size(inst), 2);
    CHECK(json_is_string(json_object_get(json_array_get(inst, 0), "@publisher-id")));
    int calls = r.calls;

    /* Publisher B goes away (no more heartbeats): withdrawn after hc_interval x hc_max_miss,
     * and the subscriber hears of it. */
    disc_client_destroy(pb);
    CHECK(run_until_n(&r.n, 1, 15));
    CHECK(r.calls > calls);
    CHECK_STREQ(json_string_value(json_object_get(json_array_get(disc_sub_instances(s), 0),
                                                  "ip-address")), "198.51.100.1");

    /* Discovery goes away: the subscriber keeps its last answer. */
    disc_server_close(&ds);
    CHECK(run_until_true(disconnected, sub, 15));
    CHECK_EQ_INT(json_array_size(disc_sub_instances(s)), 1);
    CHECK_EQ_INT(r.n, 1);

    /* It comes back on the same port (its store kept A): the clients find it again. */
    CHECK_EQ_INT(disc_server_open(&ds, base, coord, conf, "127.0.0.1", port, err, sizeof err),
                 0);
    CHECK(run_until_true(connected, sub, 20));
    CHECK(run_until_true(connected, pa, 20));
    CHECK_EQ_INT(json_array_size(disc_sub_instances(s)), 1);

    disc_client_destroy(sub);
    disc_client_destroy(pa);
    disc_server_close(&ds);
    coord_close(coord);
    conf_destroy(conf);
    event_base_free(base);
    return check_finish();
}
