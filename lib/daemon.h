/* daemon: what every contrail-c daemon does at start: parse its configuration, open its log,
 * create the event loop, stop cleanly on SIGTERM/SIGINT, and start its introspect server. */
#ifndef CONTRAIL_DAEMON_H
#define CONTRAIL_DAEMON_H

#include <event2/event.h>
#include <stdbool.h>

#include "conf.h"

struct introspect;

struct daemon {
    const char *name;
    struct conf *conf;
    struct event_base *base;
    struct introspect *introspect;
    struct event *sigterm, *sigint;
};

/* The options every daemon has: log_file, log_level, log_local (ignored), and the introspect
 * listener http_server_ip / http_server_port.  Append to a daemon's own table. */
#define DAEMON_COMMON_OPTIONS(INTROSPECT_PORT)                                              \
    { "DEFAULTS", "log_file", CONF_STRING, NULL, "log file (default: stderr)" },             \
    { "DEFAULTS", "log_level", CONF_STRING, "SYS_NOTICE", "log level (SYS_ERR..SYS_DEBUG)" }, \
    { "DEFAULTS", "log_local", CONF_BOOL, "true", "log locally (always on)" },               \
    { "DEFAULTS", "http_server_ip", CONF_STRING, "127.0.0.1", "introspect listen address" }, \
    { "DEFAULTS", "http_server_port", CONF_INT, INTROSPECT_PORT, "introspect port (0: any)" }

/* Parses ARGV with OPTS, opens the log, creates the loop and the introspect server.
 * Returns true to go on; false after --help or an error (printed), with the process's exit
 * status in *EXIT_CODE (0 after --help, 2 for a usage error, 1 otherwise). */
bool daemon_start(struct daemon *, const char *name, const struct conf_option *opts,
                  int argc, char **argv, int *exit_code);

/* Runs the loop until SIGTERM/SIGINT or daemon_stop. */
void daemon_run(struct daemon *);
void daemon_stop(struct daemon *);
void daemon_finish(struct daemon *);

#endif
