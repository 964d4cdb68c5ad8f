/* Unit tests of lib/coord: the wrappers and backend selection, and the tree, watch, ephemeral
 * and election semantics, run against the in-process backend, and against ZooKeeper too when
 * CONTRAIL_COORD_SPEC names an ensemble ("zk:127.0.0.1:2181,..."; the system test
 * tests/system/test_coord_election.py starts one and runs this program with it). */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coord.h"
#include "mem.h"

#define WAIT_S 20.0

static struct event_base *base;
static const char *spec = "local";
static bool is_local = true;
static char root[96];

/* What one callback saw. */
struct rec {
    int called;
    int error;
    char path[256];
    char value[256];
    size_t len;
    int version;
    size_t n;
    int versions[8];
    char names[8][96];
    char values[8][64];
};

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until *COUNTER reaches TARGET or WAIT_S pass.  Returns whether it did. */
static bool
run_until(const int *counter, int target)
{
    double deadline = now() + WAIT_S;
    while (*counter < target && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*counter < target) {
            usleep(1000);
        }
    }
    return *counter >= target;
}

/* Runs the loop for about SECONDS. */
static void
run_for(double seconds)
{
    double deadline = now() + seconds;
    while (now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

static void
on_done(void *aux, int error, const char *path)
{
    struct rec *r = aux;
    r->called++;
    r->error = error;
    snprintf(r->path, sizeof r->path, "%s", path ? path : "");
}

static void
on_get(void *aux, int error, const char *value, size_t len, int version)
{
    struct rec *r = aux;
    r->called++;
    r->error = error;
    r->len = len;
    r->version = version;
    memset(r->value, 0, sizeof r->value);
    if (value) {
        memcpy(r->value, value, len < sizeof r->value ? len : sizeof r->value - 1);
    }
}

static void
on_list(void *aux, int error, const struct coord_child *c, size_t n)
{
    struct rec *r = aux;
    r->called++;
    r->error = error;
    r->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(r->names[i], sizeof r->names[i], "%s", c[i].name);
        snprintf(r->values[i], sizeof r->values[i], "%.*s", (int) c[i].len, c[i].value);
        r->versions[i] = c[i].version;
    }
}

static void
on_watch(void *aux, const char *path)
{
    struct rec *r = aux;
    r->called++;
    snprintf(r->path, sizeof r->path, "%s", path);
}

struct leader_rec {
    int called;
    bool is_leader;
    int trues, falses;
};

static void
on_leader(void *aux, bool is_leader)
{
    struct leader_rec *r = aux;
    r->called++;
    r->is_leader = is_leader;
    if (is_leader) {
        r->trues++;
    } else {
        r->falses++;
    }
}

static char *
P(const char *suffix)
{
    static char bufs[8][256];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 256, "%s%s", root, suffix);
    return b;
}

/* Synchronous helpers over the asynchronous calls (they also check that the callback never
 * runs inside the call). */
static int
do_create(struct coord *c, const char *path, const char *value, size_t len, unsigned flags,
          char *created)
{
    struct rec r = { 0 };
    coord_create(c, path, value, len, flags, on_done, &r);
    CHECK(r.called == 0);
    CHECK(run_until(&r.called, 1));
    if (created) {
        strcpy(created, r.path);
    }
    return r.called ? r.error : ETIMEDOUT;
}

static int
do_set(struct coord *c, const char *path, const char *value)
{
    struct rec r = { 0 };
    coord_set(c, path, value, strlen(value), on_done, &r);
    CHECK(r.called == 0);
    CHECK(run_until(&r.called, 1));
    return r.called ? r.error : ETIMEDOUT;
}

static int
do_set_version(struct coord *c, const char *path, const char *value, int version)
{
    struct rec r = { 0 };
    coord_set_version(c, path, value, strlen(value), version, on_done, &r);
    CHECK(r.called == 0);
    CHECK(run_until(&r.called, 1));
    return r.called ? r.error : ETIMEDOUT;
}

static int
do_get(struct coord *c, const char *path, struct rec *r)
{
    memset(r, 0, sizeof *r);
    coord_get(c, path, on_get, r);
    CHECK(r->called == 0);
    CHECK(run_until(&r->called, 1));
    return r->called ? r->error : ETIMEDOUT;
}

static int
do_delete(struct coord *c, const char *path)
{
    struct rec r = { 0 };
    coord_delete(c, path, on_done, &r);
    CHECK(r.called == 0);
    CHECK(run_until(&r.called, 1));
    return r.called ? r.error : ETIMEDOUT;
}

static int
do_list(struct coord *c, const char *path, struct rec *r)
{
    memset(r, 0, sizeof *r);
    coord_list(c, path, on_list, r);
    CHECK(r->called == 0);
    CHECK(run_until(&r->called, 1));
    return r->called ? r->error : ETIMEDOUT;
}

static void
on_state(void *aux, enum coord_state s)
{
    int *connected = aux;
    if (s == COORD_CONNECTED) {
        (*connected)++;
    }
}

static struct coord *
open_connected(void)
{
    char err[256] = "";
    struct coord *c = NULL;
    int error = coord_open(base, spec, 4000, &c, err, sizeof err);
    CHECK_EQ_INT(error, 0);
    if (error) {
        fprintf(stderr, "coord_open %s: %s\n", spec, err);
        exit(1);
    }
    int connected = 0;
    coord_set_state_cb(c, on_state, &connected);
    if (coord_state(c) != COORD_CONNECTED) {
        CHECK(run_until(&connected, 1));
    }
    CHECK_EQ_INT(coord_state(c), COORD_CONNECTED);
    coord_set_state_cb(c, NULL, NULL);
    return c;
}

static void
test_open(void)
{
    char err[256] = "";
    struct coord *c = NULL;
    CHECK_EQ_INT(coord_open(base, "bogus", 0, &c, err, sizeof err), EINVAL);
    CHECK(c == NULL);
    CHECK_CONTAINS(err, "bogus");
    CHECK_EQ_INT(coord_open(base, "zk:", 0, &c, err, sizeof err), EINVAL);
    CHECK_EQ_INT(coord_open(base, "local", -1, &c, err, sizeof err), EINVAL);

    CHECK_EQ_INT(coord_open(base, NULL, 0, &c, err, sizeof err), 0);
    CHECK(c && c->class == &coord_local_class);
    CHECK_EQ_INT(coord_state(c), COORD_CONNECTED);
    coord_close(c);
    CHECK_EQ_INT(coord_open(base, "", 0, &c, err, sizeof err), 0);
    CHECK(c && c->class == &coord_local_class);
    coord_close(c);

    /* A ZooKeeper spec opens without waiting for a server (nobody listens on port 1). */
    CHECK_EQ_INT(coord_open(base, "zk:127.0.0.1:1", 2000, &c, err, sizeof err), 0);
    CHECK(c && c->class == &coord_zk_class);
    CHECK_EQ_INT(coord_state(c), COORD_CONNECTING);
    struct rec r = { 0 };
    coord_get(c, "/x", on_get, &r);         /* No session: try again later. */
    CHECK(r.called == 0);
    CHECK(run_until(&r.called, 1));
    CHECK_EQ_INT(r.error, ENOTCONN);
    memset(&r, 0, sizeof r);
    coord_get(c, "/x", on_get, &r);
    coord_close(c);                 /* A pending callback is never run. */
    run_for(0.1);
    CHECK(r.called == 0);
    CHECK_EQ_INT(coord_open(base, "127.0.0.1:1,127.0.0.1:2", 2000, &c, err, sizeof err), 0);
    CHECK(c && c->class == &coord_zk_class);
    coord_close(c);

    coord_close(NULL);
    coord_resign(NULL);
    CHECK(!coord_is_leader(NULL));
}

static void
test_tree(struct coord *c)
{
    char created[256];
    struct rec r;

    /* Create with missing parents. */
    CHECK_EQ_INT(do_create(c, P("/a/b"), "v1", 2, 0, created), 0);
    CHECK_STREQ(created, P("/a/b"));
    CHECK_EQ_INT(do_get(c, P("/a"), &r), 0);
    CHECK_EQ_INT(r.len, 0);
    CHECK_EQ_INT(do_get(c, P("/a/b"), &r), 0);
    CHECK_STREQ(r.value, "v1");
    CHECK_EQ_INT(r.len, 2);
    CHECK_EQ_INT(do_create(c, P("/a/b"), "v1", 2, 0, NULL), EEXIST);
    CHECK_EQ_INT(do_get(c, P("/a/nope"), &r), ENOENT);
    CHECK_EQ_INT(do_create(c, "no-slash", "", 0, 0, NULL), EINVAL);
    CHECK_EQ_INT(do_create(c, P("/a//b"), "", 0, 0, NULL), EINVAL);

    /* Values are bytes. */
    CHECK_EQ_INT(do_create(c, P("/a/bin"), "x\0y", 3, 0, NULL), 0);
    CHECK_EQ_INT(do_get(c, P("/a/bin"), &r), 0);
    CHECK_EQ_INT(r.len, 3);
    CHECK(!memcmp(r.value, "x\0y", 3));

    /* Set. */
    CHECK_EQ_INT(do_set(c, P("/a/b"), "v2"), 0);
    CHECK_EQ_INT(do_get(c, P("/a/b"), &r), 0);
    CHECK_STREQ(r.value, "v2");
    CHECK_EQ_INT(do_set(c, P("/a/nope"), "x"), ENOENT);

    /* Versions: compare-and-set succeeds on the version read, fails (EAGAIN) after another
     * write; lists report the same versions. */
    struct rec g;
    CHECK_EQ_INT(do_get(c, P("/a/b"), &g), 0);
    int v = g.version;
    CHECK_EQ_INT(do_set_version(c, P("/a/b"), "cas1", v), 0);
    CHECK_EQ_INT(do_set_version(c, P("/a/b"), "cas2", v), EAGAIN);
    CHECK_EQ_INT(do_get(c, P("/a/b"), &g), 0);
    CHECK_STREQ(g.value, "cas1");
    CHECK_EQ_INT(g.version, v + 1);
    CHECK_EQ_INT(do_set_version(c, P("/a/b"), "cas3", v + 1), 0);
    CHECK_EQ_INT(do_set_version(c, P("/a/nope"), "x", 0), ENOENT);
    CHECK_EQ_INT(do_set(c, P("/a/b"), "v2"), 0);

    /* List: sorted by name, with values. */
    CHECK_EQ_INT(do_create(c, P("/a/c"), "vc", 2, 0, NULL), 0);
    CHECK_EQ_INT(do_create(c, P("/a/a"), "va", 2, 0, NULL), 0);
    CHECK_EQ_INT(do_list(c, P("/a"), &r), 0);
    CHECK_EQ_INT(r.n, 4);
    CHECK_STREQ(r.names[0], "a");
    CHECK_STREQ(r.values[0], "va");
    CHECK_STREQ(r.names[1], "b");
    CHECK_STREQ(r.values[1], "v2");
    CHECK_STREQ(r.names[2], "bin");
    CHECK_STREQ(r.names[3], "c");
    CHECK_STREQ(r.values[3], "vc");
    CHECK_EQ_INT(do_list(c, P("/a/a"), &r), 0);
    CHECK_EQ_INT(r.n, 0);
    CHECK_EQ_INT(do_list(c, P("/nope"), &r), ENOENT);
    CHECK_EQ_INT(do_list(c, "/", &r), 0);
    bool found = false;
    for (size_t i = 0; i < r.n && i < 8; i++) {
        found |= !strcmp(r.names[i], root + 1);
    }
    CHECK(found);

    /* Delete. */
    CHECK_EQ_INT(do_delete(c, P("/a")), ENOTEMPTY);
    CHECK_EQ_INT(do_delete(c, P("/a/c")), 0);
    CHECK_EQ_INT(do_delete(c, P("/a/c")), ENOENT);
    CHECK_EQ_INT(do_get(c, P("/a/c"), &r), ENOENT);
    CHECK_EQ_INT(do_list(c, P("/a"), &r), 0);
    CHECK_EQ_INT(r.n, 3);

    /* Sequence suffixes: 10 digits, counted per parent. */
    CHECK_EQ_INT(do_create(c, P("/seq/n-"), "s", 1, COORD_SEQUENCE, created), 0);
    CHECK_STREQ(created, P("/seq/n-0000000000"));
    CHECK_EQ_INT(do_create(c, P("/seq/n-"), "s", 1, COORD_SEQUENCE, created), 0);
    CHECK_STREQ(created, P("/seq/n-0000000001"));
    CHECK_EQ_INT(do_create(c, P("/seq/m-"), "s", 1, COORD_SEQUENCE, created), 0);
    CHECK_STREQ(created, P("/seq/m-0000000002"));
}

static void
test_watch(struct coord *c)
{
    struct rec w = { 0 }, r;

    /* Watching a node that does not exist yet: its creation counts. */
    coord_watch_children(c, P("/w"), on_watch, &w);
    run_for(0.2);
    int before = w.called;
    CHECK_EQ_INT(do_create(c, P("/w/x"), "1", 1, 0, NULL), 0);
    CHECK(run_until(&w.called, before + 1));
    CHECK_STREQ(w.path, P("/w"));
    CHECK_EQ_INT(do_list(c, P("/w"), &r), 0);
    CHECK_EQ_INT(r.n, 1);

    /* Each later change fires again: the watch is persistent. */
    run_for(0.2);
    before = w.called;
    CHECK_EQ_INT(do_create(c, P("/w/y"), "2", 1, 0, NULL), 0);
    CHECK(run_until(&w.called, before + 1));
    run_for(0.2);
    before = w.called;
    CHECK_EQ_INT(do_delete(c, P("/w/y")), 0);
    CHECK(run_until(&w.called, before + 1));
    CHECK_EQ_INT(do_list(c, P("/w"), &r), 0);
    CHECK_EQ_INT(r.n, 1);
    CHECK_STREQ(r.names[0], "x");

    /* A value change is not a children change. */
    run_for(0.2);
    before = w.called;
    CHECK_EQ_INT(do_set(c, P("/w/x"), "changed"), 0);
    run_for(0.3);
    CHECK_EQ_INT(w.called, before);
}

static void
test_ephemeral(struct coord *c1)
{
    struct coord *c2 = open_connected();
    struct rec r, w = { 0 };
    char created[256];

    CHECK_EQ_INT(do_create(c2, P("/eph/e1"), "mine", 4, COORD_EPHEMERAL, NULL), 0);
    CHECK_EQ_INT(do_create(c2, P("/eph/s-"), "mine", 4, COORD_EPHEMERAL | COORD_SEQUENCE,
                           created), 0);
    CHECK_STREQ(created, P("/eph/s-0000000001"));
    CHECK_EQ_INT(do_create(c2, P("/eph/e1/child"), "", 0, 0, NULL), EINVAL);
    CHECK_EQ_INT(do_get(c1, P("/eph/e1"), &r), 0);
    CHECK_STREQ(r.value, "mine");

    coord_watch_children(c1, P("/eph"), on_watch, &w);
    run_for(0.3);
    int before = w.called;
    coord_close(c2);            /* Its session ends: its ephemerals go, now. */
    CHECK(run_until(&w.called, before + 1));
    CHECK_EQ_INT(do_get(c1, P("/eph/e1"), &r), ENOENT);
    CHECK_EQ_INT(do_list(c1, P("/eph"), &r), 0);
    CHECK_EQ_INT(r.n, 0);
}

static void
test_election(struct coord *c1)
{
    struct coord *c2 = open_connected();
    struct leader_rec l1 = { 0 }, l2 = { 0 }, l3 = { 0 }, l4 = { 0 };
    struct rec r;

    struct coord_election *e1 = coord_elect(c1, P("/el"), "one", on_leader, &l1);
    CHECK(l1.called == 0);
    CHECK(run_until(&l1.called, 1));
    CHECK(l1.is_leader);
    CHECK(coord_is_leader(e1));

    struct coord_election *e2 = coord_elect(c2, P("/el"), "two", on_leader, &l2);
    CHECK(run_until(&l2.called, 1));
    CHECK(!l2.is_leader);       /* Followers learn their place too. */
    struct coord_election *e3 = coord_elect(c2, P("/el"), "three", on_leader, &l3);
    CHECK(run_until(&l3.called, 1));
    CHECK(!l3.is_leader);
    CHECK(!coord_is_leader(e2));
    CHECK(!coord_is_leader(e3));
    CHECK(coord_is_leader(e1));

    /* The contenders are visible, with their ids as values. */
    CHECK_EQ_INT(do_list(c1, P("/el"), &r), 0);
    CHECK_EQ_INT(r.n, 3);
    int seen = 0;
    for (size_t i = 0; i < r.n && i < 8; i++) {
        CHECK_CONTAINS(r.names[i], "__lock__");
        seen |= !strcmp(r.values[i], "one") ? 1 : !strcmp(r.values[i], "two") ? 2
                : !strcmp(r.values[i], "three") ? 4 : 0;
    }
    CHECK_EQ_INT(seen, 7);

    /* The leader resigns: the next in line (two) leads, three stays. */
    coord_resign(e1);
    CHECK(run_until(&l2.called, 2));
    CHECK(l2.is_leader);
    CHECK(coord_is_leader(e2));
    CHECK(!coord_is_leader(e3));
    CHECK_EQ_INT(l1.called, 1);     /* Nothing more for a resigned contender. */

    /* The follower in line leaves: nothing changes for anyone. */
    int l3_calls = l3.called;
    coord_resign(e3);
    run_for(0.3);
    CHECK_EQ_INT(l3.called, l3_calls);
    CHECK(coord_is_leader(e2));

    /* A new contender queues behind; when the leader's session ends it takes over. */
    struct coord_election *e4 = coord_elect(c1, P("/el"), "four", on_leader, &l4);
    CHECK(run_until(&l4.called, 1));
    CHECK(!l4.is_leader);
    int l2_calls = l2.called;
    coord_close(c2);
    CHECK(run_until(&l4.called, 2));
    CHECK(l4.is_leader);
    CHECK(coord_is_leader(e4));
    CHECK_EQ_INT(l2.called, l2_calls);      /* No callback after close. */

    coord_resign(e4);
    CHECK_EQ_INT(do_list(c1, P("/el"), &r), 0);
    CHECK_EQ_INT(r.n, 0);

    /* A path that cannot hold contenders: told once that it is not leader. */
    struct leader_rec lbad = { 0 };
    struct coord_election *bad = coord_elect(c1, "no-slash", "bad", on_leader, &lbad);
    CHECK(run_until(&lbad.called, 1));
    CHECK(!lbad.is_leader);
    CHECK(!coord_is_leader(bad));
    run_for(0.5);
    CHECK_EQ_INT(lbad.called, 1);
    coord_resign(bad);
}

/* A callback may close its instance: nothing queued after it runs. */
struct closer {
    struct coord *c;
    int called;
};

static void
close_in_callback(void *aux, int error, const char *value, size_t len, int version)
{
    struct closer *k = aux;
    k->called++;
    coord_close(k->c);
}

static void
test_close_in_callback(void)
{
    struct coord *c = open_connected();
    struct closer k = { .c = c };
    struct rec r = { 0 };
    coord_get(c, "/", close_in_callback, &k);
    coord_get(c, "/", on_get, &r);
    CHECK(run_until(&k.called, 1));
    run_for(0.2);
    CHECK_EQ_INT(k.called, 1);
    CHECK_EQ_INT(r.called, 0);
}

/* A leader callback may resign its own election. */
struct resigner {
    struct coord_election *e;
    int called;
};

static void
resign_in_callback(void *aux, bool is_leader)
{
    struct resigner *s = aux;
    s->called++;
    coord_resign(s->e);
    s->e = NULL;
}

static void
test_resign_in_callback(struct coord *c)
{
    struct resigner s = { 0 };
    s.e = coord_elect(c, P("/el2"), "self", resign_in_callback, &s);
    CHECK(run_until(&s.called, 1));
    run_for(0.2);
    CHECK_EQ_INT(s.called, 1);
    struct rec r;
    CHECK_EQ_INT(do_list(c, P("/el2"), &r), 0);
    CHECK_EQ_INT(r.n, 0);
}

/* Removes everything under PATH (for ZooKeeper, whose tree outlives the test). */
static void
remove_tree(struct coord *c, const char *path)
{
    struct rec r;
    if (do_list(c, path, &r)) {
        return;
    }
    char names[8][96];
    size_t n = r.n < 8 ? r.n : 8;
    memcpy(names, r.names, sizeof names);
    for (size_t i = 0; i < n; i++) {
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, names[i]);
        remove_tree(c, child);
    }
    do_delete(c, path);
}

static void
check_live(const struct mem_type *t, void *aux)
{
    if (!strncmp(t->name, "coord_", 6) && t->live) {
        fprintf(stderr, "memory type %s: %lld live allocations\n", t->name,
                (long long) t->live);
        ++*(int *) aux;
    }
}

int
main(void)
{
    const char *env = getenv("CONTRAIL_COORD_SPEC");
    if (env && *env) {
        spec = env;
        is_local = !strcmp(spec, "local");
    }
    snprintf(root, sizeof root, is_local ? "/t" : "/test-coord-%ld-%ld", (long) getpid(),
             (long) time(NULL));
    printf("backend: %s, root %s\n", spec, root);
    base = event_base_new();

    test_open();
    struct coord *c = open_connected();
    test_tree(c);
    test_watch(c);
    test_ephemeral(c);
    test_election(c);
    test_resign_in_callback(c);
    test_close_in_callback();
    remove_tree(c, root);
    struct rec r;
    CHECK_EQ_INT(do_get(c, root, &r), ENOENT);
    coord_close(c);

    int leaks = 0;
    mem_foreach(check_live, &leaks);
    CHECK_EQ_INT(leaks, 0);
    event_base_free(base);
    return check_finish();
}
