/* Unit tests of lib/daemon: start-up from the command line, introspect, stopping. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "daemon.h"
#include "http.h"
#include "introspect.h"
#include "log.h"
#include "mem.h"

static const struct conf_option opts[] = {
    { "DEFAULTS", "listen_port", CONF_INT, "8082", "a daemon option" },
    DAEMON_COMMON_OPTIONS("0"),
    { NULL, NULL, 0, NULL, NULL },
};

static char tmpdir[64];

static bool
start(struct daemon *d, int *code, int argc, ...)
{
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    argv[0] = (char *) "test-daemon";
    for (int i = 1; i < argc && i < 16; i++) {
        argv[i] = va_arg(ap, char *);
    }
    va_end(ap);
    *code = -1;
    return daemon_start(d, "test-daemon", opts, argc, argv, code);
}

static void
stop_cb(evutil_socket_t fd, short what, void *aux)
{
    daemon_stop(aux);
}

static void
sigterm_cb(evutil_socket_t fd, short what, void *aux)
{
    raise(SIGTERM);
}

static void
handler(struct http_req *req, void *aux)
{
    http_reply_text(req, 200, "x");
}

static void
test_errors(void)
{
    struct daemon d;
    int code;
    fflush(stdout);
    CHECK(!start(&d, &code, 2, "--help"));
    fflush(stdout);
    CHECK_EQ_INT(code, 0);
    daemon_finish(&d);

    CHECK(!start(&d, &code, 2, "--no_such_option=1"));
    CHECK_EQ_INT(code, 2);
    daemon_finish(&d);

    CHECK(!start(&d, &code, 2, "--listen_port=abc"));
    CHECK_EQ_INT(code, 2);
    daemon_finish(&d);

    CHECK(!start(&d, &code, 2, "--log_level=loud"));
    CHECK_EQ_INT(code, 2);
    daemon_finish(&d);

    char bad[160];
    snprintf(bad, sizeof bad, "--log_file=%s/no/such/dir/log", tmpdir);
    CHECK(!start(&d, &code, 2, bad));
    CHECK(code != 0);
    daemon_finish(&d);

    /* The introspect port is taken. */
    struct event_base *base = event_base_new();
    struct http_server *blocker = NULL;
    CHECK_EQ_INT(http_server_create(base, "127.0.0.1", 0, 0, handler, NULL, &blocker), 0);
    if (blocker) {
        char port[32];
        snprintf(port, sizeof port, "--http_server_port=%d", http_server_port(blocker));
        CHECK(!start(&d, &code, 2, port));
        CHECK_EQ_INT(code, 1);
        daemon_finish(&d);
        http_server_destroy(blocker);
    }
    event_base_free(base);
}

static void
test_run(void)
{
    char logpath[160], logarg[200];
    snprintf(logpath, sizeof logpath, "%s/daemon.log", tmpdir);
    snprintf(logarg, sizeof logarg, "--log_file=%s", logpath);
    struct daemon d;
    int code;
    CHECK(start(&d, &code, 4, logarg, "--log_level", "SYS_INFO"));
    CHECK(d.base != NULL && d.introspect != NULL && d.conf != NULL);
    if (!d.base) {
        daemon_finish(&d);
        return;
    }
    CHECK(introspect_port(d.introspect) > 0);
    CHECK_EQ_INT(conf_get_int(d.conf, "listen_port"), 8082);
    CHECK_STREQ(conf_get(d.conf, "http_server_ip"), "127.0.0.1");

    /* daemon_stop ends daemon_run. */
    struct timeval tv = { 0, 20 * 1000 };
    event_base_once(d.base, -1, EV_TIMEOUT, stop_cb, &d, &tv);
    daemon_run(&d);
    CHECK(1);

    /* So does SIGTERM. */
    event_base_once(d.base, -1, EV_TIMEOUT, sigterm_cb, &d, &tv);
    daemon_run(&d);
    CHECK(1);
    daemon_finish(&d);

    FILE *f = fopen(logpath, "r");
    char text[4096] = "";
    if (f) {
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    CHECK_CONTAINS(text, "test-daemon starting");
    CHECK_CONTAINS(text, "signal 15");
    log_set_level(NULL, LOG_LEVEL_NOTICE);
    unlink(logpath);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_daemon.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    test_errors();
    test_run();
    rmdir(tmpdir);

    json_t *j = mem_to_json();
    static const char *const types[] = { "conf", "introspect", "http_server" };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, types[i]), "live")),
                     0);
    }
    json_decref(j);
    return check_finish();
}
