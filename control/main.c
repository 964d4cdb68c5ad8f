/* contrail-control: the control node.
 *
 * Wiring only: options, the schema (for the configuration feed), the control node
 * (control_node: routing instances, BGP, XMPP, configuration from IF-MAP), the node's own
 * routes from --route_file (re-read on SIGHUP), and its introspect pages. */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "control_node.h"
#include "daemon.h"
#include "introspect.h"
#include "log.h"
#include "schema.h"

LOG_MODULE(control);

static const struct conf_option options[] = {
    { "DEFAULTS", "hostip", CONF_STRING, "127.0.0.1",
      "address BGP and XMPP listen on and BGP connects from" },
    { "DEFAULTS", "hostname", CONF_STRING, NULL,
      "this node's bgp-router name in the configuration (default: the host name)" },
    { "DEFAULTS", "bgp_port", CONF_INT, "179", "BGP port (0: any)" },
    { "DEFAULTS", "xmpp_server_port", CONF_INT, "5269", "XMPP port for the agents (0: any)" },
    { "DEFAULTS", "bgp_router_id", CONF_STRING, NULL, "BGP identifier (default: hostip)" },
    { "DEFAULTS", "asn", CONF_INT, "64512", "autonomous system number" },
    { "DEFAULTS", "bgp_hold_time", CONF_INT, "90", "proposed BGP hold time, seconds" },
    { "DEFAULTS", "bgp_connect_retry", CONF_INT, "30", "base connect-retry delay, seconds" },
    { "DEFAULTS", "xmpp_hold_time", CONF_INT, "90", "XMPP hold time, seconds" },
    { "DEFAULTS", "subcluster_name", CONF_STRING, NULL,
      "refuse agents of another subcluster" },
    { "DEFAULTS", "bgp_peers", CONF_STRING, NULL,
      "peers: 'ADDR [port N] [as N] [passive] [password K] [families a,b] [hold N]; ...'" },
    { "DEFAULTS", "route_file", CONF_STRING, NULL,
      "routes this node originates, one per line (re-read on SIGHUP)" },
    { "DEFAULTS", "gr_helper_bgp_disable", CONF_BOOL, "false",
      "do not keep a restarting BGP peer's routes" },
    { "DEFAULTS", "gr_helper_xmpp_disable", CONF_BOOL, "false",
      "do not keep a restarting agent's routes" },
    { "DEFAULTS", "gr_xmpp_restart_time", CONF_INT, "300",
      "how long a restarting agent's routes are kept, seconds (until configured)" },
    { "DEFAULTS", "ifmap_server_ip", CONF_STRING, NULL,
      "IF-MAP server address: configuration (bgp-routers, routing instances, agents')" },
    { "DEFAULTS", "ifmap_server_port", CONF_INT, "8443", "IF-MAP server port" },
    { "DEFAULTS", "ifmap_username", CONF_STRING, "control-user", "IF-MAP user" },
    { "DEFAULTS", "ifmap_password", CONF_STRING, "control-user-passwd", "IF-MAP password" },
    { "DEFAULTS", "ifmap_tls", CONF_BOOL, "true", "IF-MAP over HTTPS" },
    { "DEFAULTS", "schema_file", CONF_STRING, NULL, "config schema data file" },
    DAEMON_COMMON_OPTIONS("8083"),
    { NULL, NULL, 0, NULL, NULL },
};

struct control {
    struct control_node node;
    const char *route_file;
    struct event *sighup;
};

static void
reload_routes(evutil_socket_t sig, short what, void *arg)
{
    struct control *c = arg;
    char err[512];
    if (c->route_file && bgp_server_load_routes(&c->node.bgp, c->route_file, err, sizeof err)) {
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
    long xhold = conf_get_int(d.conf, "xmpp_hold_time");
    if (inet_pton(AF_INET, rid_text ? rid_text : hostip, &rid) != 1) {
        fprintf(stderr, "contrail-control: bgp_router_id '%s' is not an IPv4 address\n",
                rid_text ? rid_text : hostip);
        daemon_finish(&d);
        return 2;
    }
    if (asn <= 0 || asn > 0xffffffffL || hold < 0 || hold > 65535 || hold == 1 || hold == 2
        || xhold < 1 || xhold > 65535) {
        fprintf(stderr, "contrail-control: bad asn, bgp_hold_time or xmpp_hold_time\n");
        daemon_finish(&d);
        return 2;
    }
    char hostname[256];
    if (gethostname(hostname, sizeof hostname)) {
        snprintf(hostname, sizeof hostname, "localhost");
    }
    hostname[sizeof hostname - 1] = '\0';
    struct control_node_config cc = {
        .bgp = {
            .address = hostip,
            .port = (int) conf_get_int(d.conf, "bgp_port"),
            .asn = (uint32_t) asn,
            .router_id = ntohl(rid.s_addr),
            .hold_time = (uint16_t) hold,
            .connect_retry = (int) conf_get_int(d.conf, "bgp_connect_retry"),
            .gr_helper = !conf_get_bool(d.conf, "gr_helper_bgp_disable"),
        },
        .xmpp = {
            .address = hostip,
            .port = (int) conf_get_int(d.conf, "xmpp_server_port"),
            .hold_time = (unsigned) xhold,
            .subcluster = conf_get(d.conf, "subcluster_name"),
            .gr_helper = !conf_get_bool(d.conf, "gr_helper_xmpp_disable"),
            .gr_time = (unsigned) conf_get_int(d.conf, "gr_xmpp_restart_time"),
        },
        .hostname = conf_get(d.conf, "hostname") ? conf_get(d.conf, "hostname") : hostname,
        .ifmap_host = conf_get(d.conf, "ifmap_server_ip"),
        .ifmap_port = (int) conf_get_int(d.conf, "ifmap_server_port"),
        .ifmap_user = conf_get(d.conf, "ifmap_username"),
        .ifmap_password = conf_get(d.conf, "ifmap_password"),
        .ifmap_tls = conf_get_bool(d.conf, "ifmap_tls"),
        .gr_helper_bgp_allowed = !conf_get_bool(d.conf, "gr_helper_bgp_disable"),
        .gr_helper_xmpp_allowed = !conf_get_bool(d.conf, "gr_helper_xmpp_disable"),
    };
    struct schema *schema = NULL;
    if (cc.ifmap_host) {
        const char *schema_file = conf_get(d.conf, "schema_file");
        if (schema_load(schema_file ? schema_file : schema_default_path(), &schema, err,
                        sizeof err)) {
            fprintf(stderr, "contrail-control: schema: %s\n", err);
            daemon_finish(&d);
            return 1;
        }
    }
    c.route_file = conf_get(d.conf, "route_file");
    rc = 1;
    if (control_node_open(&c.node, d.base, &cc, schema, err, sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else if (conf_get(d.conf, "bgp_peers")
               && bgp_server_add_peers(&c.node.bgp, conf_get(d.conf, "bgp_peers"), err,
                                       sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else if (c.route_file
               && bgp_server_load_routes(&c.node.bgp, c.route_file, err, sizeof err)) {
        fprintf(stderr, "contrail-control: %s\n", err);
    } else {
        control_node_register_introspect(&c.node, d.introspect);
        c.sighup = evsignal_new(d.base, SIGHUP, reload_routes, &c);
        event_add(c.sighup, NULL);
        daemon_run(&d);
        event_free(c.sighup);
        rc = 0;
    }
    control_node_close(&c.node);
    schema_destroy(schema);
    daemon_finish(&d);
    return rc;
}
