/* coord-contender: one contender in a leader election, printing what it sees.
 *
 *   coord-contender --coord zk:127.0.0.1:2181,... --path /schema-transformer --id NAME
 *                   [--session_timeout_ms N] [--log_level LEVEL]
 *
 * Joins the election at PATH through lib/coord and prints one line per change on stdout,
 * flushed at once: "<CLOCK_REALTIME seconds.micro> NAME leader" or "... NAME follower"; while
 * coord_is_leader() holds it also prints "... NAME acting" every 100 ms, as a daemon doing
 * leader-only work would.  The system tests read these lines to check that two contenders
 * never act at the same time.  Session state changes go to stderr.  SIGTERM or SIGINT ends it
 * (status 0) after resigning. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coord.h"
#include "log.h"

struct contender {
    struct event_base *base;
    const char *id;
    struct coord_election *election;
};

static void
say(const char *id, const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("%lld.%06ld %s %s\n", (long long) ts.tv_sec, ts.tv_nsec / 1000, id, what);
    fflush(stdout);
}

static void
on_leader(void *aux, bool is_leader)
{
    struct contender *c = aux;
    say(c->id, is_leader ? "leader" : "follower");
}

static void
on_state(void *aux, enum coord_state state)
{
    struct contender *c = aux;
    fprintf(stderr, "%s: coordination %s\n", c->id,
            state == COORD_CONNECTED ? "connected"
            : state == COORD_EXPIRED ? "session expired" : "connecting");
}

static void
on_tick(evutil_socket_t fd, short what, void *aux)
{
    struct contender *c = aux;
    if (coord_is_leader(c->election)) {
        say(c->id, "acting");
    }
}

static void
on_signal(evutil_socket_t sig, short what, void *aux)
{
    event_base_loopbreak(aux);
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: coord-contender --coord SPEC --path PATH --id NAME\n"
            "                       [--session_timeout_ms N] [--log_level LEVEL]\n"
            "  --coord SPEC             local, zk:host:port[,host:port...]\n"
            "  --path PATH              election path, e.g. /schema-transformer\n"
            "  --id NAME                this contender's name (the node's value)\n"
            "  --session_timeout_ms N   ZooKeeper session timeout (default 10000)\n"
            "  --log_level LEVEL        err, warn, notice, info, debug (default notice)\n");
}

int
main(int argc, char *argv[])
{
    static const struct option longopts[] = {
        { "coord", required_argument, NULL, 'c' },
        { "path", required_argument, NULL, 'p' },
        { "id", required_argument, NULL, 'i' },
        { "session_timeout_ms", required_argument, NULL, 't' },
        { "log_level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *spec = NULL, *path = NULL, *id = NULL;
    int timeout_ms = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            spec = optarg;
            break;
        case 'p':
            path = optarg;
            break;
        case 'i':
            id = optarg;
            break;
        case 't': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || v <= 0 || v > 600000) {
                fprintf(stderr, "coord-contender: --session_timeout_ms %s: expected a number "
                        "of milliseconds from 1 to 600000\n", optarg);
                return 2;
            }
            timeout_ms = (int) v;
            break;
        }
        case 'l': {
            int level = log_level_from_string(optarg);
            if (level < 0) {
                fprintf(stderr, "coord-contender: --log_level %s: unknown level\n", optarg);
                return 2;
            }
            log_set_level(NULL, level);
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || !path || !id) {
        fprintf(stderr, "coord-contender: %s\n",
                optind < argc ? "unexpected argument" : !path ? "--path is required"
                : "--id is required");
        usage(stderr);
        return 2;
    }

    struct contender c = { .base = event_base_new(), .id = id };
    char err[256];
    struct coord *coord;
    int error = coord_open(c.base, spec, timeout_ms, &coord, err, sizeof err);
    if (error) {
        fprintf(stderr, "coord-contender: %s\n", err);
        event_base_free(c.base);
        return 1;
    }
    coord_set_state_cb(coord, on_state, &c);
    c.election = coord_elect(coord, path, id, on_leader, &c);

    struct event *tick = event_new(c.base, -1, EV_PERSIST, on_tick, &c);
    struct timeval period = { 0, 100000 };
    event_add(tick, &period);
    struct event *term = evsignal_new(c.base, SIGTERM, on_signal, c.base);
    struct event *intr = evsignal_new(c.base, SIGINT, on_signal, c.base);
    event_add(term, NULL);
    event_add(intr, NULL);

    event_base_dispatch(c.base);

    coord_resign(c.election);
    coord_close(coord);
    event_free(tick);
    event_free(term);
    event_free(intr);
    event_base_free(c.base);
    return 0;
}
