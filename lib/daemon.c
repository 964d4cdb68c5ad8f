/* daemon: common daemon start-up (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "introspect.h"
#include "log.h"
#include "mem.h"

LOG_MODULE(daemon);

static void
daemon_signal(evutil_socket_t sig, short what, void *aux)
{
    struct daemon *d = aux;
    LOG_NOTICE("%s: signal %d, stopping", d->name, (int) sig);
    event_base_loopbreak(d->base);
}

bool
daemon_start(struct daemon *d, const char *name, const struct conf_option *opts,
             int argc, char **argv, int *exit_code)
{
    memset(d, 0, sizeof *d);
    d->name = name;
    mem_init_json();
    signal(SIGPIPE, SIG_IGN);

    d->conf = conf_create(name, opts);
    char err[512];
    int error = conf_parse(d->conf, argc, argv, err, sizeof err);
    *exit_code = 2;
    if (error == EAGAIN) {
        *exit_code = 0;
        return false;
    }
    if (error) {
        fprintf(stderr, "%s: %s\n", name, err);
        return false;
    }
    error = log_open(conf_get(d->conf, "log_file"));
    if (error) {
        fprintf(stderr, "%s: log_file %s: %s\n", name, conf_get(d->conf, "log_file"),
                strerror(error));
        return false;
    }
    int level = log_level_from_string(conf_get(d->conf, "log_level"));
    if (level < 0) {
        fprintf(stderr, "%s: invalid log_level '%s'\n", name, conf_get(d->conf, "log_level"));
        return false;
    }
    log_set_level(NULL, level);

    d->base = event_base_new();
    d->sigterm = evsignal_new(d->base, SIGTERM, daemon_signal, d);
    d->sigint = evsignal_new(d->base, SIGINT, daemon_signal, d);
    event_add(d->sigterm, NULL);
    event_add(d->sigint, NULL);

    const char *ip = conf_get(d->conf, "http_server_ip");
    int port = (int) conf_get_int(d->conf, "http_server_port");
    error = introspect_create(d->base, name, ip, port, &d->introspect);
    if (error) {
        fprintf(stderr, "%s: introspect %s:%d: %s\n", name, ip, port, strerror(error));
        *exit_code = 1;
        return false;
    }
    LOG_NOTICE("%s starting, introspect on %s:%d", name, ip, introspect_port(d->introspect));
    return true;
}

void
daemon_run(struct daemon *d)
{
    event_base_dispatch(d->base);
}

void
daemon_stop(struct daemon *d)
{
    event_base_loopbreak(d->base);
}

void
daemon_finish(struct daemon *d)
{
    introspect_destroy(d->introspect);
    if (d->sigterm) {
        event_free(d->sigterm);
        event_free(d->sigint);
    }
    if (d->base) {
        /* Objects freed on the way out may leave deferred work (a TLS bufferevent freed
         * with callbacks queued is only released when they run): one last pass runs it. */
        event_base_loop(d->base, EVLOOP_NONBLOCK);
        event_base_free(d->base);
    }
    conf_destroy(d->conf);
}
