/* Unit tests of lib/amqp_bus against a real RabbitMQ broker.
 *
 * The test starts its own broker (and its own epmd) in a private temporary directory, on
 * free loopback ports, under a unique node name, and kills both by process id when it ends,
 * also when it is interrupted (SIGTERM, SIGINT) or dies (the children carry
 * PR_SET_PDEATHSIG).  Without RabbitMQ installed it exits 77 (skipped). */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amqp_bus.h"
#include "check.h"
#include "log.h"
#include "mem.h"

#define RABBITMQ_SERVER "/usr/lib/rabbitmq/bin/rabbitmq-server"
#define EPMD "/usr/bin/epmd"
#define BROKER_START_S 40.0
#define WAIT_S 15.0

static struct event_base *base;
static char tmpdir[64];
static char nodename[64];
static int amqp_port, dist_port, epmd_port;
static volatile pid_t broker_pid = -1, epmd_pid = -1;

/* Processes. */

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET,
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof sin)
        || getsockname(fd, (struct sockaddr *) &sin, &len)) {
        perror("free port");
        exit(1);
    }
    close(fd);
    return ntohs(sin.sin_port);
}

static bool
port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    bool ok = fd >= 0 && !connect(fd, (struct sockaddr *) &sin, sizeof sin);
    if (fd >= 0) {
        close(fd);
    }
    return ok;
}

/* Starts ARGV in its own process group with output to LOG; the child dies with us. */
static pid_t
spawn(char *const argv[], const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) {
            _exit(1);
        }
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int null = open("/dev/null", O_RDONLY);
        if (fd >= 0 && null >= 0) {
            dup2(null, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* Kills the process group of *PIDP with SIG and reaps its leader. */
static void
kill_group(volatile pid_t *pidp, int sig)
{
    pid_t pid = *pidp;
    if (pid > 0) {
        kill(-pid, sig);
        kill(pid, sig);
        waitpid(pid, NULL, 0);
        *pidp = -1;
    }
}

static void
on_signal(int sig)
{
    if (broker_pid > 0) {
        kill(-broker_pid, SIGKILL);
    }
    if (epmd_pid > 0) {
        kill(-epmd_pid, SIGKILL);
    }
    _exit(128 + sig);
}

static void
set_env(void)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s/home", tmpdir);
    setenv("HOME", buf, 1);
    snprintf(buf, sizeof buf, "%s/mnesia", tmpdir);
    setenv("RABBITMQ_MNESIA_BASE", buf, 1);
    snprintf(buf, sizeof buf, "%s/log", tmpdir);
    setenv("RABBITMQ_LOG_BASE", buf, 1);
    snprintf(buf, sizeof buf, "%s/rabbitmq", tmpdir);
    setenv("RABBITMQ_CONFIG_FILE", buf, 1);
    snprintf(buf, sizeof buf, "%s/enabled_plugins", tmpdir);
    setenv("RABBITMQ_ENABLED_PLUGINS_FILE", buf, 1);
    setenv("RABBITMQ_NODENAME", nodename, 1);
    setenv("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1", 1);
    snprintf(buf, sizeof buf, "%d", amqp_port);
    setenv("RABBITMQ_NODE_PORT", buf, 1);
    snprintf(buf, sizeof buf, "%d", dist_port);
    setenv("RABBITMQ_DIST_PORT", buf, 1);
    snprintf(buf, sizeof buf, "%d", epmd_port);
    setenv("ERL_EPMD_PORT", buf, 1);
    setenv("ERL_EPMD_ADDRESS", "127.0.0.1", 1);
    setenv("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
           "-kernel inet_dist_use_interface {127,0,0,1}", 1);
    /* Makes the start script exec the VM instead of waiting on it as a child, so the
     * process we started is the broker itself. */
    setenv("RUNNING_UNDER_SYSTEMD", "true", 1);
}

static bool
start_broker(void)
{
    char log[512];
    snprintf(log, sizeof log, "%s/broker.out", tmpdir);
    char *argv[] = { RABBITMQ_SERVER, NULL };
    broker_pid = spawn(argv, log);
    double deadline = now() + BROKER_START_S;
    while (now() < deadline) {
        if (port_open(amqp_port)) {
            return true;
        }
        if (waitpid(broker_pid, NULL, WNOHANG) == broker_pid) {
            broker_pid = -1;
            break;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "RabbitMQ did not start: see %s\n", log);
    return false;
}

static bool
setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_amqp_bus.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return false;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%s/home", tmpdir);
    mkdir(buf, 0700);
    snprintf(buf, sizeof buf, "%s/enabled_plugins", tmpdir);
    FILE *f = fopen(buf, "w");
    if (f) {
        fputs("[].\n", f);
        fclose(f);
    }
    snprintf(nodename, sizeof nodename, "amqpbus%d@localhost", (int) getpid());
    amqp_port = free_port();
    dist_port = free_port();
    epmd_port = free_port();
    set_env();

    /* A private epmd, so that stopping ours never disturbs another test's Erlang nodes. */
    char port[16];
    snprintf(port, sizeof port, "%d", epmd_port);
    char *argv[] = { EPMD, "-port", port, "-address", "127.0.0.1", NULL };
    snprintf(buf, sizeof buf, "%s/epmd.out", tmpdir);
    epmd_pid = spawn(argv, buf);
    double deadline = now() + 5;
    while (!port_open(epmd_port) && now() < deadline) {
        usleep(20 * 1000);
    }
    return start_broker();
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    remove(path);
    return 0;
}

static void
teardown(void)
{
    kill_group(&broker_pid, SIGKILL);
    kill_group(&epmd_pid, SIGKILL);
    if (tmpdir[0] && !getenv("TEST_AMQP_BUS_KEEP")) {
        nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* The loop. */

static void
tick(evutil_socket_t fd, short what, void *aux)
{
}

/* Runs the loop until COND(AUX) holds or SECONDS pass.  Returns COND's last value. */
static bool
wait_for(bool (*cond)(void *), void *aux, double seconds)
{
    double deadline = now() + seconds;
    while (!cond(aux)) {
        if (now() > deadline) {
            return false;
        }
        event_base_loop(base, EVLOOP_ONCE);
    }
    return true;
}

/* Runs the loop for SECONDS (to see that nothing more arrives). */
static void
run_for(double seconds)
{
    double deadline = now() + seconds;
    while (now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE);
    }
}

/* What one bus's callbacks saw. */
struct rx {
    char **msgs;
    size_t n, cap;
    int ups, downs;
    int bad_len;                /* Messages whose body was not NUL-terminated at LEN. */
    char states[32];            /* 'U' and 'D' in order. */
};

static void
rx_msg(void *aux, const char *body, size_t len)
{
    struct rx *rx = aux;
    if (rx->n == rx->cap) {
        rx->cap = rx->cap ? 2 * rx->cap : 64;
        rx->msgs = realloc(rx->msgs, rx->cap * sizeof *rx->msgs);
    }
    /* Counted, not checked here: how many messages a consumer sees may vary (see
     * test_broker_restart), the number of checks should not. */
    rx->bad_len += strlen(body) != len;
    rx->msgs[rx->n++] = strndup(body, len);
}

static void
rx_state(void *aux, bool up)
{
    struct rx *rx = aux;
    *(up ? &rx->ups : &rx->downs) += 1;
    size_t k = strlen(rx->states);
    if (k + 1 < sizeof rx->states) {
        rx->states[k] = up ? 'U' : 'D';
    }
}

static void
rx_clear(struct rx *rx)
{
    for (size_t i = 0; i < rx->n; i++) {
        free(rx->msgs[i]);
    }
    rx->n = 0;
}

static void
rx_free(struct rx *rx)
{
    CHECK_EQ_INT(rx->bad_len, 0);
    rx_clear(rx);
    free(rx->msgs);
    memset(rx, 0, sizeof *rx);
}

/* Index of message S in RX, or -1. */
static long
rx_find(const struct rx *rx, const char *s)
{
    for (size_t i = 0; i < rx->n; i++) {
        if (!strcmp(rx->msgs[i], s)) {
            return (long) i;
        }
    }
    return -1;
}

/* How many times S arrived. */
static int
rx_count(const struct rx *rx, const char *s)
{
    int n = 0;
    for (size_t i = 0; i < rx->n; i++) {
        n += !strcmp(rx->msgs[i], s);
    }
    return n;
}

struct want {
    const struct rx *rx;
    size_t n;
    int ups, downs;
};

static bool
has_msgs(void *aux)
{
    const struct want *w = aux;
    return w->rx->n >= w->n;
}

static bool
has_states(void *aux)
{
    const struct want *w = aux;
    return w->rx->ups >= w->ups && w->rx->downs >= w->downs;
}

static bool
wait_msgs(const struct rx *rx, size_t n)
{
    struct want w = { .rx = rx, .n = n };
    return wait_for(has_msgs, &w, WAIT_S);
}

static bool
wait_states(const struct rx *rx, int ups, int downs)
{
    struct want w = { .rx = rx, .ups = ups, .downs = downs };
    return wait_for(has_states, &w, WAIT_S);
}

struct want_msg {
    const struct rx *rx;
    const char *body;
};

static bool
has_msg(void *aux)
{
    const struct want_msg *w = aux;
    return rx_find(w->rx, w->body) >= 0;
}

/* Waits until message BODY is in RX. */
static bool
wait_msg(const struct rx *rx, const char *body)
{
    struct want_msg w = { .rx = rx, .body = body };
    return wait_for(has_msg, &w, WAIT_S);
}

static bool
no_pending(void *aux)
{
    return amqp_bus_pending(aux) == 0;
}

/* Integer member KEY of the bus status. */
static long long
status_int(const struct amqp_bus *bus, const char *key)
{
    json_t *j = amqp_bus_status(bus);
    long long v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

static char last_error[512];

static const char *
status_error(const struct amqp_bus *bus)
{
    json_t *j = amqp_bus_status(bus);
    snprintf(last_error, sizeof last_error, "%s",
             json_string_value(json_object_get(j, "last_error")) ?: "");
    json_decref(j);
    return last_error;
}

static bool
has_failures(void *aux)
{
    return status_int(aux, "connect_failures") >= 2;
}

static struct amqp_bus_config
config(const char *queue)
{
    static char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", amqp_port);
    return (struct amqp_bus_config) {
        .servers = servers,
        .queue = queue,
        .heartbeat = 2,
        .reconnect_min_ms = 50,
        .reconnect_max_ms = 400,
    };
}

static char qa[64], qb[64];

/* Cases. */

/* Two API servers, each with its own queue: what either publishes reaches both, in order. */
static void
test_fanout(struct amqp_bus *a, struct rx *ra, struct amqp_bus *b, struct rx *rb)
{
    CHECK_EQ_INT(amqp_bus_publish(a, "a1", 2), 0);
    CHECK_EQ_INT(amqp_bus_publish(b, "b1", 2), 0);
    CHECK_EQ_INT(amqp_bus_publish(a, "a2", 2), 0);
    CHECK_EQ_INT(amqp_bus_publish(b, "b2", 2), 0);
    CHECK(wait_msgs(ra, 4));
    CHECK(wait_msgs(rb, 4));
    run_for(0.2);
    struct rx *both[] = { ra, rb };
    for (int i = 0; i < 2; i++) {
        struct rx *r = both[i];
        CHECK_EQ_INT(r->n, 4);
        CHECK_EQ_INT(rx_count(r, "a1"), 1);
        CHECK_EQ_INT(rx_count(r, "a2"), 1);
        CHECK_EQ_INT(rx_count(r, "b1"), 1);
        CHECK_EQ_INT(rx_count(r, "b2"), 1);
        CHECK(rx_find(r, "a1") < rx_find(r, "a2"));
        CHECK(rx_find(r, "b1") < rx_find(r, "b2"));
    }
    CHECK(wait_for(no_pending, a, WAIT_S));
    CHECK(wait_for(no_pending, b, WAIT_S));
    CHECK_EQ_INT(status_int(a, "confirmed"), 2);
    CHECK_EQ_INT(status_int(a, "consumed"), 4);
    rx_clear(ra);
    rx_clear(rb);
}

/* Publish on one bus to on_msg on the other, one message at a time (printed, not
 * asserted: timing belongs in benchmarks). */
static void
test_latency(struct amqp_bus *a, struct rx *rb)
{
    enum { N = 50 };
    double lat[N];
    int got = 0;
    for (int i = 0; i < N; i++) {
        char body[32];
        snprintf(body, sizeof body, "ping-%d", i);
        double t0 = now();
        CHECK_EQ_INT(amqp_bus_publish(a, body, strlen(body)), 0);
        if (!wait_msgs(rb, (size_t) i + 1)) {
            break;
        }
        lat[got++] = now() - t0;
        CHECK_STREQ(rb->msgs[i], body);
    }
    CHECK_EQ_INT(got, N);
    for (int i = 1; i < got; i++) {
        for (int j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
            double t = lat[j];
            lat[j] = lat[j - 1];
            lat[j - 1] = t;
        }
    }
    if (got == N) {
        printf("publish to on_msg on another bus: median %.3f ms, max %.3f ms\n",
               lat[N / 2] * 1e3, lat[N - 1] * 1e3);
    }
}

/* 1000 messages arrive exactly once each, in order, at both queues. */
static void
test_thousand(struct amqp_bus *a, struct rx *ra, struct amqp_bus *b, struct rx *rb)
{
    enum { N = 1000 };
    double t0 = now();
    for (int i = 0; i < N; i++) {
        char body[64];
        int len = snprintf(body, sizeof body, "{\"oper\":\"UPDATE\",\"seq\":%d}", i);
        CHECK_EQ_INT(amqp_bus_publish(a, body, (size_t) len), 0);
    }
    CHECK(wait_msgs(rb, N));
    double t1 = now();
    CHECK(wait_msgs(ra, N));
    run_for(0.2);
    struct rx *both[] = { ra, rb };
    for (int k = 0; k < 2; k++) {
        struct rx *r = both[k];
        CHECK_EQ_INT(r->n, N);
        int in_order = 0;
        for (size_t i = 0; i < r->n && i < N; i++) {
            char body[64];
            snprintf(body, sizeof body, "{\"oper\":\"UPDATE\",\"seq\":%zu}", i);
            in_order += !strcmp(r->msgs[i], body);
        }
        CHECK_EQ_INT(in_order, N);
    }
    CHECK(wait_for(no_pending, a, WAIT_S));
    printf("1000 messages through the broker in %.1f ms\n", (t1 - t0) * 1e3);
    rx_clear(ra);
    rx_clear(rb);
}

/* The backlog is bounded; a bus that never reached a broker is destroyed cleanly. */
static void
test_backlog(void)
{
    char servers[64];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", free_port());
    struct amqp_bus_config c = { .servers = servers, .max_pending = 5,
                                 .reconnect_min_ms = 20, .reconnect_max_ms = 50 };
    struct rx r = { 0 };
    struct amqp_bus *bus = amqp_bus_create(base, &c, rx_msg, rx_state, &r);
    CHECK(bus != NULL);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_INT(amqp_bus_publish(bus, "x", 1), 0);
    }
    CHECK_EQ_INT(amqp_bus_publish(bus, "y", 1), ENOBUFS);
    CHECK_EQ_INT(amqp_bus_pending(bus), 5);
    CHECK_EQ_INT(status_int(bus, "rejected"), 1);
    CHECK_EQ_INT(status_int(bus, "published"), 5);
    CHECK(wait_for(has_failures, bus, WAIT_S));
    CHECK_CONTAINS(status_error(bus), "connect to 127.0.0.1");
    CHECK(!amqp_bus_connected(bus));
    CHECK_EQ_INT(r.ups + r.downs, 0);
    amqp_bus_destroy(bus);
    rx_free(&r);

    /* Bad configurations are refused. */
    struct amqp_bus_config bad = { .servers = "127.0.0.1:99999" };
    CHECK(amqp_bus_create(base, &bad, NULL, NULL, NULL) == NULL);
    bad.servers = " , ";
    CHECK(amqp_bus_create(base, &bad, NULL, NULL, NULL) == NULL);
}

/* The server list is tried in turn: a dead first entry does not keep the bus away. */
static void
test_failover(void)
{
    char servers[128], live[32];
    snprintf(servers, sizeof servers, "127.0.0.1:%d, localhost:%d", free_port(), amqp_port);
    snprintf(live, sizeof live, "localhost:%d", amqp_port);
    struct amqp_bus_config c = config(NULL);
    c.servers = servers;
    struct rx r = { 0 };
    struct amqp_bus *bus = amqp_bus_create(base, &c, NULL, rx_state, &r);
    CHECK(bus != NULL);
    CHECK(wait_states(&r, 1, 0));
    json_t *j = amqp_bus_status(bus);
    CHECK_STREQ(json_string_value(json_object_get(j, "server")), live);
    CHECK(json_integer_value(json_object_get(j, "connect_failures")) >= 1);
    json_decref(j);
    amqp_bus_destroy(bus);
    rx_free(&r);
}

/* Bad credentials: a clear error in the status, and retries without crashing. */
static void
test_bad_credentials(void)
{
    struct amqp_bus_config c = config(NULL);
    c.user = "nobody";
    c.password = "wrong";
    struct rx r = { 0 };
    struct amqp_bus *bus = amqp_bus_create(base, &c, rx_msg, rx_state, &r);
    CHECK(bus != NULL);
    CHECK_EQ_INT(amqp_bus_publish(bus, "z", 1), 0);
    CHECK(wait_for(has_failures, bus, WAIT_S));
    const char *err = status_error(bus);
    CHECK_CONTAINS(err, "login");
    CHECK_CONTAINS(err, "nobody");
    CHECK_CONTAINS(err, "ACCESS_REFUSED");
    printf("bad credentials: %s\n", err);
    CHECK(!amqp_bus_connected(bus));
    CHECK_EQ_INT(amqp_bus_pending(bus), 1);
    CHECK_EQ_INT(r.ups, 0);
    amqp_bus_destroy(bus);
    rx_free(&r);
}

/* The broker is killed and restarted: publishes made meanwhile are delivered once it is
 * back, on_state reports the loss and the return, later messages flow to every queue. */
static void
test_broker_restart(struct amqp_bus *a, struct rx *ra, struct amqp_bus *b, struct rx *rb)
{
    /* A third bus, destroyed while the broker is away. */
    struct rx rc = { 0 };
    struct amqp_bus_config c = config(NULL);
    struct amqp_bus *d = amqp_bus_create(base, &c, NULL, rx_state, &rc);
    CHECK(wait_states(&rc, 1, 0));

    int ups_a = ra->ups, ups_b = rb->ups;
    kill_group(&broker_pid, SIGKILL);
    CHECK(wait_states(ra, ups_a, 1));
    CHECK(wait_states(rb, ups_b, 1));
    CHECK(wait_states(&rc, 1, 1));
    CHECK(!amqp_bus_connected(a));
    amqp_bus_destroy(d);
    rx_free(&rc);

    for (int i = 0; i < 3; i++) {
        char body[32];
        snprintf(body, sizeof body, "while-down-%d", i);
        CHECK_EQ_INT(amqp_bus_publish(a, body, strlen(body)), 0);
    }
    CHECK_EQ_INT(amqp_bus_pending(a), 3);
    run_for(0.3);
    CHECK_EQ_INT(amqp_bus_pending(a), 3);

    CHECK(start_broker());
    CHECK(wait_states(ra, ups_a + 1, 1));
    CHECK(wait_states(rb, ups_b + 1, 1));
    CHECK_STREQ(ra->states + strlen(ra->states) - 2, "DU");
    CHECK_STREQ(rb->states + strlen(rb->states) - 2, "DU");
    CHECK(amqp_bus_connected(a));
    CHECK(status_int(a, "reconnects") >= 1);

    /* A's own queue is declared again before its backlog goes out: the messages made while
     * the broker was away reach it (B's queue may have come back later: its resync covers
     * what it missed). */
    CHECK(wait_for(no_pending, a, WAIT_S));
    CHECK(wait_msgs(ra, 3));
    CHECK_EQ_INT(rx_count(ra, "while-down-0"), 1);
    CHECK_EQ_INT(rx_count(ra, "while-down-2"), 1);
    CHECK(rx_find(ra, "while-down-0") < rx_find(ra, "while-down-1"));
    CHECK(rx_find(ra, "while-down-1") < rx_find(ra, "while-down-2"));

    rx_clear(ra);
    rx_clear(rb);
    CHECK_EQ_INT(amqp_bus_publish(a, "after-a", 7), 0);
    CHECK_EQ_INT(amqp_bus_publish(b, "after-b", 7), 0);
    /* B may still be receiving what A sent again (if its queue was back in time): look for
     * the new messages by name. */
    struct rx *both[] = { ra, rb };
    for (int i = 0; i < 2; i++) {
        CHECK(wait_msg(both[i], "after-a"));
        CHECK(wait_msg(both[i], "after-b"));
    }
    run_for(0.1);
    CHECK_EQ_INT(rx_count(ra, "after-a") + rx_count(ra, "after-b"), 2);
    CHECK_EQ_INT(rx_count(rb, "after-a") + rx_count(rb, "after-b"), 2);
    rx_clear(ra);
    rx_clear(rb);
}

/* A broker that stops answering (SIGSTOP: the socket stays open) is given up after two
 * heartbeat intervals, and the bus comes back when it answers again. */
static void
test_heartbeat(struct amqp_bus *a, struct rx *ra)
{
    int ups = ra->ups, downs = ra->downs;
    double t0 = now();
    kill(-broker_pid, SIGSTOP);
    CHECK(wait_states(ra, ups, downs + 1));
    double t1 = now();
    CHECK_CONTAINS(status_error(a), "heartbeat");
    printf("silent broker noticed after %.1f s\n", t1 - t0);
    CHECK_EQ_INT(amqp_bus_publish(a, "after-stop", 10), 0);
    kill(-broker_pid, SIGCONT);
    CHECK(wait_states(ra, ups + 1, downs + 1));
    CHECK(wait_for(no_pending, a, WAIT_S));
    CHECK(wait_msg(ra, "after-stop"));
    CHECK_EQ_INT(rx_count(ra, "after-stop"), 1);
    rx_clear(ra);
}

int
main(void)
{
    if (access(RABBITMQ_SERVER, X_OK) || access(EPMD, X_OK)) {
        printf("RabbitMQ is not installed: skipped\n");
        return 77;
    }
    mem_init_json();
    log_set_level(NULL, getenv("TEST_AMQP_BUS_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    base = event_base_new();
    struct event *ticker = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = { 0, 20 * 1000 };
    event_add(ticker, &tv);

    test_backlog();

    double t0 = now();
    if (!setup()) {
        teardown();
        CHECK(!"broker started");
        return check_finish();
    }
    printf("broker up after %.1f s\n", now() - t0);

    snprintf(qa, sizeof qa, "vnc_config.test%d-8082", (int) getpid());
    snprintf(qb, sizeof qb, "vnc_config.test%d-8083", (int) getpid());
    struct rx ra = { 0 }, rb = { 0 };
    struct amqp_bus_config ca = config(qa), cb = config(qb);
    struct amqp_bus *a = amqp_bus_create(base, &ca, rx_msg, rx_state, &ra);
    struct amqp_bus *b = amqp_bus_create(base, &cb, rx_msg, rx_state, &rb);
    CHECK(a && b);
    if (a && b) {
        CHECK(wait_states(&ra, 1, 0));
        CHECK(wait_states(&rb, 1, 0));
        CHECK(amqp_bus_connected(a));
        test_fanout(a, &ra, b, &rb);
        test_latency(a, &rb);
        CHECK(wait_msgs(&ra, 50));
        rx_clear(&ra);
        rx_clear(&rb);
        test_thousand(a, &ra, b, &rb);
        test_failover();
        test_bad_credentials();
        test_broker_restart(a, &ra, b, &rb);
        test_heartbeat(a, &ra);
    }
    amqp_bus_destroy(a);
    amqp_bus_destroy(b);
    rx_free(&ra);
    rx_free(&rb);
    teardown();
    event_free(ticker);
    event_base_free(base);
    printf("done in %.1f s\n", now() - t0);
    return check_finish();
}
