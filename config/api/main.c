/* contrail-api: the VNC config REST API server.
 *
 * Wiring only: configuration, the schema, the config database, the API server and its
 * introspect pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api_ifmap.h"
#include "api_notify.h"
#include "api_server.h"
#include "cfgdb.h"
#include "daemon.h"
#include "disc_client.h"
#include "hostlist.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"
#include "schema.h"

LOG_MODULE(contrail_api);

static const struct conf_option options[] = {
    { "DEFAULTS", "listen_ip_addr", CONF_STRING, "127.0.0.1", "REST API listen address" },
    { "DEFAULTS", "listen_port", CONF_INT, "8082", "REST API port (0: any)" },
    { "DEFAULTS", "config_db", CONF_STRING, "sqlite:/var/lib/contrail/config.db",
      "config database: sqlite:PATH, or etcd:URL[,URL...] shared by several API servers" },
    { "DEFAULTS", "schema_file", CONF_STRING, NULL, "config schema data file" },
    { "DEFAULTS", "disc_server_ip", CONF_STRING, NULL,
      "discovery servers host[:port][,host[:port]...] to publish ApiServer/IfmapServer to" },
    { "DEFAULTS", "disc_server_port", CONF_INT, "5998", "discovery port for entries without one" },
    { "DEFAULTS", "ifmap_server_ip", CONF_STRING, "127.0.0.1",
      "IF-MAP server to publish to (empty: do not publish)" },
    { "DEFAULTS", "ifmap_server_port", CONF_INT, "8443", "IF-MAP server port to publish" },
    { "DEFAULTS", "ifmap_username", CONF_STRING, "api-server", "IF-MAP user" },
    { "DEFAULTS", "ifmap_password", CONF_STRING, "api-server", "IF-MAP password" },
    { "DEFAULTS", "ifmap_tls", CONF_BOOL, "true", "IF-MAP over HTTPS" },
    { "DEFAULTS", "rabbit_server", CONF_STRING, NULL,
      "RabbitMQ servers host[:port][,...] (none: changes go straight to IF-MAP)" },
    { "DEFAULTS", "rabbit_port", CONF_INT, "5672", "RabbitMQ port for entries without one" },
    { "DEFAULTS", "rabbit_user", CONF_STRING, "guest", "RabbitMQ user" },
    { "DEFAULTS", "rabbit_password", CONF_STRING, "guest", "RabbitMQ password" },
    { "DEFAULTS", "rabbit_vhost", CONF_STRING, "/", "RabbitMQ virtual host" },
    { "DEFAULTS", "rabbit_max_pending_updates", CONF_INT, "4096",
      "changes waiting for RabbitMQ before writes are refused (500)" },
    { "DEFAULTS", "max_requests", CONF_INT, "1024", "accepted for compatibility" },
    { "DEFAULTS", "worker_id", CONF_INT, "0", "accepted for compatibility" },
    DAEMON_COMMON_OPTIONS("8084"),
    { NULL, NULL, 0, NULL, NULL },
};

/* Publishes ApiServer and IfmapServer to discovery, when one is configured. */
static struct disc_client *
api_publish(struct daemon *d, struct api_server *srv)
{
    const char *servers = conf_get(d->conf, "disc_server_ip");
    if (!servers || !*servers) {
        return NULL;
    }
    char list[1024];
    hostlist_format(list, sizeof list, servers,
                            (int) conf_get_int(d->conf, "disc_server_port"));
    char host[256], client[300];
    if (gethostname(host, sizeof host)) {
        snprintf(host, sizeof host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    snprintf(client, sizeof client, "%s:contrail-api", host);
    struct disc_client *dc = disc_client_create(d->base, list, client, "contrail-api");
    if (!dc) {
        LOG_ERR("disc_server_ip '%s' names no server", servers);
        return NULL;
    }
    char port[16];
    snprintf(port, sizeof port, "%d", api_server_port(srv));
    json_t *info = xjson_pack("{ssss}", "ip-address", conf_get(d->conf, "listen_ip_addr"),
                              "port", port);
    disc_client_publish(dc, "ApiServer", info);
    json_decref(info);
    snprintf(port, sizeof port, "%ld", conf_get_int(d->conf, "ifmap_server_port"));
    info = xjson_pack("{ssss}", "ip-address", conf_get(d->conf, "ifmap_server_ip"), "port",
                      port);
    disc_client_publish(dc, "IfmapServer", info);
    json_decref(info);
    return dc;
}

static struct api_ifmap *
api_ifmap_from_conf(struct daemon *d, struct api_server *srv)
{
    const char *host = conf_get(d->conf, "ifmap_server_ip");
    if (!host || !*host) {
        return NULL;
    }
    struct api_ifmap_config cfg = {
        .host = host,
        .port = (int) conf_get_int(d->conf, "ifmap_server_port"),
        .user = conf_get(d->conf, "ifmap_username"),
        .password = conf_get(d->conf, "ifmap_password"),
        .tls = conf_get_bool(d->conf, "ifmap_tls"),
    };
    return api_ifmap_create(srv, &cfg);
}

static struct api_notify *
api_notify_from_conf(struct daemon *d, struct api_server *srv)
{
    char host[256], queue[400];
    if (gethostname(host, sizeof host)) {
        snprintf(host, sizeof host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    snprintf(queue, sizeof queue, "vnc_config.%s-%d", host, api_server_port(srv));
    struct api_notify_config cfg = {
        .rabbit_server = conf_get(d->conf, "rabbit_server"),
        .rabbit_port = (int) conf_get_int(d->conf, "rabbit_port"),
        .rabbit_user = conf_get(d->conf, "rabbit_user"),
        .rabbit_password = conf_get(d->conf, "rabbit_password"),
        .rabbit_vhost = conf_get(d->conf, "rabbit_vhost"),
        .rabbit_max_pending = (size_t) conf_get_int(d->conf, "rabbit_max_pending_updates"),
        .queue = queue,
    };
    struct api_notify *n = api_notify_create(srv, &cfg, srv->ifmap);
    if (!n) {
        fprintf(stderr, "contrail-api: rabbit_server '%s' is not usable\n", cfg.rabbit_server);
    }
    return n;
}

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
        srv.ifmap = api_ifmap_from_conf(&d, &srv);
        srv.notify = api_notify_from_conf(&d, &srv);
        if (!srv.notify) {
            rc = 1;
        } else {
            api_server_register_introspect(&srv, d.introspect);
            struct disc_client *dc = api_publish(&d, &srv);
            daemon_run(&d);
            disc_client_destroy(dc);
            rc = 0;
        }
        api_notify_destroy(srv.notify);
        api_ifmap_destroy(srv.ifmap);
    }
    api_server_close(&srv);
    cfgdb_close(db);
    schema_destroy(schema);
    daemon_finish(&d);
    return rc;
}
