/* contrail-schema: the schema transformer.
 *
 * Wiring only: configuration, the schema, the coordination service (ZooKeeper with
 * --zk_server_ip, else in-process), and the transformer with its connections. */
#include <stdio.h>
#include <unistd.h>

#include "coord.h"
#include "daemon.h"
#include "hostlist.h"
#include "introspect.h"
#include "schema.h"
#include "st_server.h"

static const struct conf_option options[] = {
    { "DEFAULTS", "api_server_ip", CONF_STRING, "127.0.0.1",
      "contrail-api address (without discovery)" },
    { "DEFAULTS", "api_server_port", CONF_INT, "8082", "contrail-api port" },
    { "DEFAULTS", "ifmap_server_ip", CONF_STRING, "127.0.0.1",
      "IF-MAP server address (without discovery)" },
    { "DEFAULTS", "ifmap_server_port", CONF_INT, "8443", "IF-MAP server port" },
    { "DEFAULTS", "ifmap_username", CONF_STRING, "schema-transformer", "IF-MAP user" },
    { "DEFAULTS", "ifmap_password", CONF_STRING, "schema-transformer", "IF-MAP password" },
    { "DEFAULTS", "ifmap_tls", CONF_BOOL, "true", "IF-MAP over HTTPS" },
    { "DEFAULTS", "disc_server_ip", CONF_STRING, NULL,
      "discovery servers host[:port][,...] to find ApiServer and IfmapServer" },
    { "DEFAULTS", "disc_server_port", CONF_INT, "5998", "discovery port for entries without one" },
    { "DEFAULTS", "zk_server_ip", CONF_STRING, NULL,
      "ZooKeeper servers host:port[,...] for the election (default: in-process)" },
    { "DEFAULTS", "zk_server_port", CONF_INT, "2181", "port for zk_server_ip entries without one" },
    { "DEFAULTS", "zk_session_timeout_ms", CONF_INT, "10000", "ZooKeeper session timeout" },
    { "DEFAULTS", "logical_routers_enabled", CONF_BOOL, "true",
      "append the logical-router rules to network ACLs" },
    { "DEFAULTS", "api_connections", CONF_INT, "4", "parallel connections to contrail-api" },
    { "DEFAULTS", "schema_file", CONF_STRING, NULL, "config schema data file" },
    { "DEFAULTS", "worker_id", CONF_INT, "0", "accepted for compatibility" },
    DAEMON_COMMON_OPTIONS("8087"),
    { NULL, NULL, 0, NULL, NULL },
};

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "contrail-schema", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    char err[1024];
    const char *schema_file = conf_get(d.conf, "schema_file");
    struct schema *schema = NULL;
    if (schema_load(schema_file ? schema_file : schema_default_path(), &schema, err,
                    sizeof err)) {
        fprintf(stderr, "contrail-schema: schema: %s\n", err);
        daemon_finish(&d);
        return 1;
    }
    char spec[1024];
    coord_spec_from_conf(spec, sizeof spec, conf_get(d.conf, "zk_server_ip"),
                         (int) conf_get_int(d.conf, "zk_server_port"));
    struct coord *coord = NULL;
    if (coord_open(d.base, spec, (int) conf_get_int(d.conf, "zk_session_timeout_ms"), &coord,
                   err, sizeof err)) {
        fprintf(stderr, "contrail-schema: %s\n", err);
        schema_destroy(schema);
        daemon_finish(&d);
        return 1;
    }
    char disc[1024], host[256], id[320];
    hostlist_format(disc, sizeof disc, conf_get(d.conf, "disc_server_ip"),
                    (int) conf_get_int(d.conf, "disc_server_port"));
    if (gethostname(host, sizeof host)) {
        snprintf(host, sizeof host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    snprintf(id, sizeof id, "%s:%d", host, (int) getpid());
    struct st_server_config cfg = {
        .disc_servers = disc,
        .api_host = conf_get(d.conf, "api_server_ip"),
        .api_port = (int) conf_get_int(d.conf, "api_server_port"),
        .ifmap_host = conf_get(d.conf, "ifmap_server_ip"),
        .ifmap_port = (int) conf_get_int(d.conf, "ifmap_server_port"),
        .ifmap_user = conf_get(d.conf, "ifmap_username"),
        .ifmap_password = conf_get(d.conf, "ifmap_password"),
        .ifmap_tls = conf_get_bool(d.conf, "ifmap_tls"),
        .election_id = id,
        .logical_routers_enabled = conf_get_bool(d.conf, "logical_routers_enabled"),
        .api_conns = (int) conf_get_int(d.conf, "api_connections"),
    };
    struct st_server *st = st_server_open(d.base, schema, coord, &cfg, err, sizeof err);
    if (!st) {
        fprintf(stderr, "contrail-schema: %s\n", err);
        rc = 2;
    } else {
        st_server_register_introspect(st, d.introspect);
        daemon_run(&d);
        rc = 0;
    }
    st_server_close(st);
    coord_close(coord);
    schema_destroy(schema);
    daemon_finish(&d);
    return rc;
}
