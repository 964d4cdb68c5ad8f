/* contrail-api: the VNC config REST API server.
 *
 * Wiring only: configuration, the schema, the config database, the API server and its
 * introspect pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_server.h"
#include "cfgdb.h"
#include "daemon.h"
#include "introspect.h"
#include "log.h"
#include "schema.h"

LOG_MODULE(contrail_api);

static const struct conf_option options[] = {
    { "DEFAULTS", "listen_ip_addr", CONF_STRING, "127.0.0.1", "REST API listen address" },
    { "DEFAULTS", "listen_port", CONF_INT, "8082", "REST API port (0: any)" },
    { "DEFAULTS", "config_db", CONF_STRING, "sqlite:/var/lib/contrail/config.db",
      "config database: sqlite:PATH" },
    { "DEFAULTS", "schema_file", CONF_STRING, NULL, "config schema data file" },
    { "DEFAULTS", "max_requests", CONF_INT, "1024", "accepted for compatibility" },
    { "DEFAULTS", "worker_id", CONF_INT, "0", "accepted for compatibility" },
    DAEMON_COMMON_OPTIONS("8084"),
    { NULL, NULL, 0, NULL, NULL },
};

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "contrail-api", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }

    char err[1024];
    const char *schema_file = conf_get(d.conf, "schema_file");
    struct schema *schema = NULL;
    if (schema_load(schema_file ? schema_file : schema_default_path(), &schema, err,
                    sizeof err)) {
        fprintf(stderr, "contrail-api: schema: %s\n", err);
        daemon_finish(&d);
        return 1;
    }

    struct cfgdb *db = NULL;
    if (cfgdb_open(d.base, conf_get(d.conf, "config_db"), &db, err, sizeof err)) {
        fprintf(stderr, "contrail-api: %s\n", err);
        schema_destroy(schema);
        daemon_finish(&d);
        return 1;
    }

    static struct api_server srv;
    if (api_server_open(&srv, d.base, schema, db, conf_get(d.conf, "listen_ip_addr"),
                        (int) conf_get_int(d.conf, "listen_port"), err, sizeof err)) {
        fprintf(stderr, "contrail-api: %s\n", err);
        rc = 1;
    } else {
        api_server_register_introspect(&srv, d.introspect);
        daemon_run(&d);
        rc = 0;
    }
    api_server_close(&srv);
    cfgdb_close(db);
    schema_destroy(schema);
    daemon_finish(&d);
    return rc;
}
