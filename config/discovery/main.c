/* contrail-discovery: the service registry.
 *
 * Wiring only: configuration, the coordination store (in-process, or ZooKeeper with
 * --zk_server_ip), and the REST server. */
#include <stdio.h>

#include "coord.h"
#include "daemon.h"
#include "disc_server.h"
#include "introspect.h"

static const struct conf_option options[] = {
    { "DEFAULTS", "listen_ip_addr", CONF_STRING, "127.0.0.1", "REST listen address" },
    { "DEFAULTS", "listen_port", CONF_INT, "5998", "REST port (0: any)" },
    { "DEFAULTS", "zk_server_ip", CONF_STRING, NULL,
      "ZooKeeper servers host:port[,host:port...] (default: in-process store)" },
    { "DEFAULTS", "zk_server_port", CONF_INT, "2181", "port for zk_server_ip entries without one" },
    { "DEFAULTS", "zk_session_timeout_ms", CONF_INT, "10000", "ZooKeeper session timeout" },
    { "DEFAULTS", "hc_interval", CONF_INT, "5", "seconds between publisher heartbeats" },
    { "DEFAULTS", "hc_max_miss", CONF_INT, "3", "heartbeats missed before a publisher is down" },
    { "DEFAULTS", "ttl_min", CONF_INT, "300", "minimum subscription TTL, seconds" },
    { "DEFAULTS", "ttl_max", CONF_INT, "1800", "maximum subscription TTL, seconds" },
    DAEMON_COMMON_OPTIONS("5997"),
    { NULL, NULL, 0, NULL, NULL },
};

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "contrail-discovery", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    char err[512], spec[1024];
    const char *zk = conf_get(d.conf, "zk_server_ip");
    coord_spec_from_conf(spec, sizeof spec, zk, (int) conf_get_int(d.conf, "zk_server_port"));
    struct coord *coord = NULL;
    if (coord_open(d.base, spec, (int) conf_get_int(d.conf, "zk_session_timeout_ms"), &coord,
                   err, sizeof err)) {
        fprintf(stderr, "contrail-discovery: %s\n", err);
        daemon_finish(&d);
        return 1;
    }
    static struct disc_server ds;
    if (disc_server_open(&ds, d.base, coord, d.conf, conf_get(d.conf, "listen_ip_addr"),
                         (int) conf_get_int(d.conf, "listen_port"), err, sizeof err)) {
        fprintf(stderr, "contrail-discovery: %s\n", err);
        rc = 1;
    } else {
        disc_server_register_introspect(&ds, d.introspect);
        daemon_run(&d);
        rc = 0;
    }
    disc_server_close(&ds);
    coord_close(coord);
    daemon_finish(&d);
    return rc;
}
