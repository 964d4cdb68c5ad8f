/* ifmap-server: the IF-MAP 2.x server of the config plane, in place of irond.
 *
 * Wiring only: configuration, the IF-MAP listener (HTTPS with basic authentication, see
 * ifmap_server.h) and its introspect pages. */
#include <stdio.h>

#include "daemon.h"
#include "ifmap_server.h"
#include "introspect.h"

static const struct conf_option options[] = {
    { "DEFAULTS", "ifmap_listen_ip", CONF_STRING, "127.0.0.1", "IF-MAP listen address" },
    { "DEFAULTS", "ifmap_listen_port", CONF_INT, "8443", "IF-MAP port (0: any)" },
    { "DEFAULTS", "ifmap_tls", CONF_BOOL, "true", "HTTPS (false: plain HTTP, for debugging)" },
    { "DEFAULTS", "certfile", CONF_STRING, NULL,
      "server certificate, PEM (default: self-signed, made at start)" },
    { "DEFAULTS", "keyfile", CONF_STRING, NULL, "private key of certfile, PEM" },
    { "DEFAULTS", "credentials_file", CONF_STRING, NULL,
      "basicauthusers.properties: user:password lines (default: the original's users)" },
    { "DEFAULTS", "session_timeout", CONF_INT, "180",
      "seconds without a request after which a session ends" },
    { "DEFAULTS", "max_pending_bytes", CONF_INT, "268435456",
      "per session: bytes of change results waiting for a poll before its subscriptions "
      "are dropped (PollResultsTooBig)" },
    { "DEFAULTS", "max_poll_result_size", CONF_INT, "5000000",
      "largest poll answer, bytes (clients may ask for less)" },
    { "DEFAULTS", "max_metadata_size", CONF_INT, "4194304",
      "largest metadata item, bytes (MetadataTooLong)" },
    DAEMON_COMMON_OPTIONS("8449"),
    { NULL, NULL, 0, NULL, NULL },
};

int
main(int argc, char **argv)
{
    struct daemon d;
    int rc;
    if (!daemon_start(&d, "ifmap-server", options, argc, argv, &rc)) {
        daemon_finish(&d);
        return rc;
    }
    struct ifmap_server_config cfg;
    ifmap_server_config_defaults(&cfg);
    cfg.addr = conf_get(d.conf, "ifmap_listen_ip");
    cfg.port = (int) conf_get_int(d.conf, "ifmap_listen_port");
    cfg.tls = conf_get_bool(d.conf, "ifmap_tls");
    cfg.certfile = conf_get(d.conf, "certfile");
    cfg.keyfile = conf_get(d.conf, "keyfile");
    cfg.credentials_file = conf_get(d.conf, "credentials_file");
    cfg.session_timeout = (int) conf_get_int(d.conf, "session_timeout");
    cfg.max_pending_bytes = (size_t) conf_get_int(d.conf, "max_pending_bytes");
    cfg.max_poll_result_size = (size_t) conf_get_int(d.conf, "max_poll_result_size");
    cfg.max_metadata_size = (size_t) conf_get_int(d.conf, "max_metadata_size");

    char err[512];
    struct ifmap_server *srv = NULL;
    if (ifmap_server_open(d.base, &cfg, &srv, err, sizeof err)) {
        fprintf(stderr, "ifmap-server: %s\n", err);
        rc = 1;
    } else {
        ifmap_server_register_introspect(srv, d.introspect);
        daemon_run(&d);
        rc = 0;
    }
    ifmap_server_close(srv);
    daemon_finish(&d);
    return rc;
}
