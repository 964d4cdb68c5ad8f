/* contrail-control: the control node.
 *
 * Wiring only: configuration, the BGP speaker (listener, peers from --bgp_peers, the node's
 * own routes from --route_file, re-read on SIGHUP), and its introspect pages.  The XMPP
 * server for the vRouter agents and configuration from IF-MAP come later. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>

#include "bgp_server.h"
#include "daemon.h"
#include "introspect.h"
#include "log.h"

LOG_MODULE(control);

static const struct conf_option options[] = {
    { "DEFAULTS", "hostip", CONF_STRING, "127.0.0.1", "address BGP listens on and connects from" },
    { "DEFAULTS", "bgp_port", CONF_INT, "179", "BGP port (0: any)" },
    { "DEFAULTS", "bgp_router_id", CONF_STRING, NULL, "BGP identifier (default: hostip)" },
    { "DEFAULTS", "asn", CONF_INT, "64512", "autonomous system number" },
    { "DEFAULTS", "bgp_hold_time", CONF_INT, "90", "proposed BGP hold time, seconds" },
    { "DEFAULTS", "bgp_connect_retry", CONF_INT, "30", "base connect-retry delay, seconds" },
    { "DEFAULTS", "bgp_peers", CONF_STRING, NULL,
      "peers: 'ADDR [port N] [as N] [passive] [password K] [families a,b] [hold N]; ...'" },
    { "DEFAULTS", "gr_helper_bgp_disable", CONF_BOOL, "false",
      "do not keep a restarting BGP peer's routes" },
    { "DEFAULTS", "route_file", CONF_STRING, NULL,
      "routes this node originates, one per line (re-read on SIGHUP)" },
    DAEMON_COMMON_OPTIONS("8083"),
    { NULL, NULL, 0, NULL, NULL },
};

struct control {
    struct bgp_ri_mgr ri;
    struct bgp_server bgp;
    const char *route_file;
    struct event *sighup;
};

static void
reload_routes(evutil_socket_t sig, short what, void *arg)
{
    struct control *c = arg;
    char err[512];
    if (c->route_file && bgp_server_load_routes(&c->bgp, c->route_file, err, sizeof err)) {
        LOG_ERR("%s", err);
    }
}

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "contrail-control", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    static struct control c;
    char err[512];
    const char *hostip = conf_get(d.conf, "hostip");
    const char *rid_text = conf_get(d.conf, "bgp_router_id");
    struct in_addr rid;
    long asn = conf_get_int(d.conf, "asn"), hold = conf_get_int(d.conf, "bgp_hold_time");
    if (inet_pton(AF_INET, rid_text ? rid_text : hostip, &rid) != 1) {
        fprintf(stderr, "contrail-control: bgp_router_id '%s' is not an IPv4 address\n",
                rid_text ? rid_text : hostip);
        daemon_finish(&d);
        return 2;
    }
    if (asn <= 0 || asn > 0xffffffffL || hold < 0 || hold > 65535 || hold == 1 || hold == 2) {
        fprintf(stderr, "contrail-control: bad asn or bgp_hold_time\n");
        daemon_finish(&d);
        return 2;
    }
    struct bgp_server_config bc = {
        .address = hostip,
        .port = (int) conf_get_int(d.conf, "bgp_port"),
        .asn = (uint32_t) asn,
        .router_id = ntohl(rid.s_addr),
        .hold_time = (uint16_t) hold,
        .connect_retry = (int) conf_get_int(d.conf, "bgp_connect_retry"),
        .gr_helper = !conf_get_bool(d.conf, "gr_helper_bgp_disable"),
    };
    bgp_ri_mgr_init(&c.ri, bc.asn, bc.router_id);
    c.route_file = conf_get(d.conf, "route_file");
    rc = 1;
    if (bgp_server_open(&c.bgp, d.base, &bc, &c.ri, err, sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else if (conf_get(d.conf, "bgp_peers")
               && bgp_server_add_peers(&c.bgp, conf_get(d.conf, "bgp_peers"), err, sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else if (c.route_file && bgp_server_load_routes(&c.bgp, c.route_file, err, sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else {
        bgp_server_register_introspect(&c.bgp, d.introspect);
        c.sighup = evsignal_new(d.base, SIGHUP, reload_routes, &c);
        event_add(c.sighup, NULL);
        daemon_run(&d);
        event_free(c.sighup);
        rc = 0;
    }
    bgp_server_close(&c.bgp);
    bgp_ri_mgr_destroy(&c.ri);
    daemon_finish(&d);
    return rc;
}
