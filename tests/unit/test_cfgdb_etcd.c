/* Unit tests of lib/cfgdb_etcd against a real 3-member etcd cluster started here (private
 * data dirs, free loopback ports, killed by PID on exit): batches and revisions, every
 * precondition both ways, two handles (watch, barrier = read-your-writes across handles,
 * concurrent creates), the leader killed during a stream of commits, quorum lost and
 * regained, compaction (resync), oversized batches, unreachable clusters.  Without etcd
 * installed the program says so and exits 77 (skip). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
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

#include "cfgdb.h"
#include "check.h"
#include "log.h"
#include "mem.h"

#define N_MEMBERS 3

static char tmpdir[64];
static int client_port[N_MEMBERS], peer_port[N_MEMBERS];
static pid_t member_pid[N_MEMBERS];
static char endpoints[256];
static struct event_base *base;

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Cluster processes. */

static void
stop_member(int i)
{
    if (member_pid[i] > 0) {
        kill(member_pid[i], SIGKILL);
        waitpid(member_pid[i], NULL, 0);
        member_pid[i] = 0;
    }
}

static void
cleanup(void)
{
    for (int i = 0; i < N_MEMBERS; i++) {
        stop_member(i);
    }
    if (tmpdir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        if (system(cmd)) {
            fprintf(stderr, "cannot remove %s\n", tmpdir);
        }
        tmpdir[0] = '\0';
    }
}

static void
on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    if (bind(fd, (struct sockaddr *) &sin, sizeof sin) || getsockname(fd, (struct sockaddr *) &sin,
                                                                     &len)) {
        perror("bind");
        exit(1);
    }
    close(fd);
    return ntohs(sin.sin_port);
}

static void
start_member(int i, bool existing)
{
    char name[16], data[128], curl[64], purl[64], cluster[512] = "", token[64], log[128];
    snprintf(name, sizeof name, "m%d", i + 1);
    snprintf(data, sizeof data, "%s/%s.etcd", tmpdir, name);
    snprintf(curl, sizeof curl, "http://127.0.0.1:%d", client_port[i]);
    snprintf(purl, sizeof purl, "http://127.0.0.1:%d", peer_port[i]);
    snprintf(token, sizeof token, "cfgdb-test-%d", (int) getpid());
    snprintf(log, sizeof log, "%s/%s.log", tmpdir, name);
    for (int j = 0; j < N_MEMBERS; j++) {
        size_t n = strlen(cluster);
        snprintf(cluster + n, sizeof cluster - n, "%sm%d=http://127.0.0.1:%d", j ? "," : "",
                 j + 1, peer_port[j]);
    }
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execlp("etcd", "etcd", "--name", name, "--data-dir", data,
               "--listen-client-urls", curl, "--advertise-client-urls", curl,
               "--listen-peer-urls", purl, "--initial-advertise-peer-urls", purl,
               "--initial-cluster", cluster, "--initial-cluster-token", token,
               "--initial-cluster-state", existing ? "existing" : "new",
               "--heartbeat-interval", "50", "--election-timeout", "500",
               "--max-txn-ops", "10000", "--max-request-bytes", "33554432",
               "--logger", "zap", "--log-outputs", "stderr", "--log-level", "warn",
               (char *) NULL);
        _exit(127);
    }
    member_pid[i] = pid;
}

/* A blocking POST to member I (for the test's own look-ups).  Returns the body or NULL. */
static char *
member_post(int i, const char *path, const char *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(client_port[i]),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sin, sizeof sin)) {
        close(fd);
        return NULL;
    }
    char req[1024];
    int n = snprintf(req, sizeof req, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", path,
                     strlen(body), body);
    if (write(fd, req, (size_t) n) != n) {
        close(fd);
        return NULL;
    }
    static char buf[65536];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
        len += (size_t) r;
    }
    close(fd);
    buf[len] = '\0';
    char *b = strstr(buf, "\r\n\r\n");
    return b && strstr(buf, " 200 ") ? b + 4 : NULL;
}

/* The member index of the leader, or -1. */
static int
find_leader(void)
{
    for (int i = 0; i < N_MEMBERS; i++) {
        if (member_pid[i] <= 0) {
            continue;
        }
        char *reply = member_post(i, "/v3/maintenance/status", "{}");
        json_t *j = reply ? json_loads(strstr(reply, "{"), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
        const char *leader = json_string_value(json_object_get(j, "leader"));
        const char *self = json_string_value(json_object_get(json_object_get(j, "header"),
                                                             "member_id"));
        bool is = leader && self && !strcmp(leader, self);
        json_decref(j);
        if (is) {
            return i;
        }
    }
    return -1;
}

static int
wait_leader(double timeout)
{
    double deadline = now() + timeout;
    int l;
    while ((l = find_leader()) < 0 && now() < deadline) {
        usleep(50 * 1000);
    }
    return l;
}

/* Loop helpers. */

static bool
run_until(const int *counter, int target, double timeout)
{
    double deadline = now() + timeout;
    while (*counter < target && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*counter < target) {
            usleep(500);
        }
    }
    return *counter >= target;
}

struct done_rec {
    int called;
    int error;
    uint64_t rev;
    double at;
};

static void
on_done(void *aux, int error, uint64_t rev)
{
    struct done_rec *r = aux;
    r->called++;
    r->error = error;
    r->rev = rev;
    r->at = now();
}

/* Commits B on DB and waits for it.  Returns the error (-1: no completion). */
static int
commit_wait(struct cfgdb *db, struct cfgdb_batch *b, uint64_t *revp)
{
    struct done_rec r = { 0 };
    cfgdb_commit(db, b, on_done, &r);
    if (r.called) {
        fprintf(stderr, "done ran inside cfgdb_commit\n");
        return -2;
    }
    if (!run_until(&r.called, 1, 20)) {
        return -1;
    }
    if (revp) {
        *revp = r.rev;
    }
    return r.error;
}

static int
put_wait(struct cfgdb *db, const char *key, const char *value, uint64_t *revp)
{
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_put(b, key, value);
    return commit_wait(db, b, revp);
}

static int
barrier_wait(struct cfgdb *db, uint64_t *revp)
{
    struct done_rec r = { 0 };
    cfgdb_barrier(db, on_done, &r);
    if (!run_until(&r.called, 1, 20)) {
        return -1;
    }
    if (revp) {
        *revp = r.rev;
    }
    return r.error;
}

/* Scan into a string "k=v@rev;..." (revisions shown when WITH_REV). */
struct scan_buf {
    char s[8192];
    int n;
    bool with_rev;
};

static void
scan_cb(void *aux, const char *key, const char *value, uint64_t rev)
{
    struct scan_buf *sb = aux;
    size_t len = strlen(sb->s);
    if (sb->with_rev) {
        snprintf(sb->s + len, sizeof sb->s - len, "%s=%s@%llu;", key, value,
                 (unsigned long long) rev);
    } else {
        snprintf(sb->s + len, sizeof sb->s - len, "%s=%s;", key, value);
    }
    sb->n++;
}

static const char *
scan_str(struct cfgdb *db, const char *prefix, bool with_rev, uint64_t *revp)
{
    static struct scan_buf sb;
    memset(&sb, 0, sizeof sb);
    sb.with_rev = with_rev;
    int error = cfgdb_scan(db, prefix, scan_cb, &sb, revp);
    if (error) {
        snprintf(sb.s, sizeof sb.s, "error %d", error);
    }
    return sb.s;
}

static void
count_cb(void *aux, const char *key, const char *value, uint64_t rev)
{
    (*(int *) aux)++;
}

/* Watch recorder. */
#define MAX_EVENTS 4096
struct watch_rec {
    int n;
    int resyncs;
    uint64_t last_rev;
    bool out_of_order;
    struct {
        enum cfgdb_event type;
        char key[64];
        char value[64];
        uint64_t rev;
    } ev[MAX_EVENTS];
};

static void
watch_cb(void *aux, enum cfgdb_event type, const char *key, const char *value, uint64_t rev)
{
    struct watch_rec *w = aux;
    if (type == CFGDB_EV_RESYNC) {
        w->resyncs++;
        w->last_rev = rev;
        return;
    }
    if (rev < w->last_rev) {
        w->out_of_order = true;
    }
    w->last_rev = rev;
    if (w->n < MAX_EVENTS) {
        w->ev[w->n].type = type;
        snprintf(w->ev[w->n].key, sizeof w->ev[w->n].key, "%s", key);
        snprintf(w->ev[w->n].value, sizeof w->ev[w->n].value, "%s", value ? value : "");
        w->ev[w->n].rev = rev;
    }
    w->n++;
}

/* Index of the last event for KEY in W, or -1. */
static int
watch_find(const struct watch_rec *w, const char *key)
{
    for (int i = (w->n < MAX_EVENTS ? w->n : MAX_EVENTS) - 1; i >= 0; i--) {
        if (!strcmp(w->ev[i].key, key)) {
            return i;
        }
    }
    return -1;
}

static struct cfgdb *
open_db(const char *opts)
{
    char spec[512], err[256] = "";
    snprintf(spec, sizeof spec, "etcd:%s?prefix=/test-%d/%s", endpoints, (int) getpid(), opts);
    struct cfgdb *db = NULL;
    int error = cfgdb_open(base, spec, &db, err, sizeof err);
    if (error) {
        fprintf(stderr, "open %s: %s\n", spec, err);
    }
    return db;
}

/* Tests. */

static void
test_basic(struct cfgdb *db)
{
    CHECK(cfgdb_is_shared(db));
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/a", "1");
    cfgdb_batch_put(b, "obj/b", "2");
    cfgdb_batch_put(b, "obj/c", "x");
    cfgdb_batch_put(b, "obj/c", "3");           /* The last write of a key wins. */
    cfgdb_batch_put(b, "other/z", "26");
    uint64_t r1 = 0, r2 = 0, srev = 0;
    CHECK_EQ_INT(commit_wait(db, b, &r1), 0);
    CHECK(r1 > 0);

    char want[256];
    snprintf(want, sizeof want, "obj/a=1@%llu;obj/b=2@%llu;obj/c=3@%llu;",
             (unsigned long long) r1, (unsigned long long) r1, (unsigned long long) r1);
    CHECK_STREQ(scan_str(db, "obj/", true, &srev), want);
    CHECK(srev >= r1);
    /* The whole store: no marker, no other deployment's keys. */
    CHECK_STREQ(scan_str(db, "", false, NULL), "obj/a=1;obj/b=2;obj/c=3;other/z=26;");

    b = cfgdb_batch_create();
    cfgdb_batch_delete(b, "obj/b");
    cfgdb_batch_put(b, "obj/a", "1b");
    cfgdb_batch_put(b, "obj/d", "gone");
    cfgdb_batch_delete(b, "obj/d");
    CHECK_EQ_INT(commit_wait(db, b, &r2), 0);
    CHECK(r2 > r1);
    snprintf(want, sizeof want, "obj/a=1b@%llu;obj/c=3@%llu;", (unsigned long long) r2,
             (unsigned long long) r1);
    CHECK_STREQ(scan_str(db, "obj/", true, NULL), want);

    /* Empty keys are refused, from the loop. */
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "", "x");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EINVAL);

    /* Paginated scan (more than one page of 1000), in key order. */
    b = cfgdb_batch_create();
    for (int i = 0; i < 2500; i++) {
        char k[32];
        snprintf(k, sizeof k, "big/%05d", i);
        cfgdb_batch_put(b, k, "v");
    }
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    int n = 0;
    CHECK_EQ_INT(cfgdb_scan(db, "big/", count_cb, &n, NULL), 0);
    CHECK_EQ_INT(n, 2500);

    /* Over the cluster's --max-txn-ops: refused as a whole. */
    b = cfgdb_batch_create();
    for (int i = 0; i < 10001; i++) {
        char k[32];
        snprintf(k, sizeof k, "huge/%05d", i);
        cfgdb_batch_put(b, k, "v");
    }
    CHECK_EQ_INT(commit_wait(db, b, NULL), E2BIG);
    n = 0;
    CHECK_EQ_INT(cfgdb_scan(db, "huge/", count_cb, &n, NULL), 0);
    CHECK_EQ_INT(n, 0);
}

static void
test_preconditions(struct cfgdb *db)
{
    uint64_t ra = 0, rp = 0;
    CHECK_EQ_INT(put_wait(db, "pc/a", "1", &ra), 0);

    /* CHECK_ABSENT. */
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_check_absent(b, "pc/a");
    cfgdb_batch_put(b, "pc/x", "no");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);
    b = cfgdb_batch_create();
    cfgdb_batch_check_absent(b, "pc/new");
    cfgdb_batch_put(b, "pc/new", "yes");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);

    /* CHECK_REV: the right revision passes, a stale one fails; 0 means absent. */
    b = cfgdb_batch_create();
    cfgdb_batch_check_rev(b, "pc/a", ra);
    cfgdb_batch_put(b, "pc/a", "2");
    uint64_t ra2 = 0;
    CHECK_EQ_INT(commit_wait(db, b, &ra2), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_rev(b, "pc/a", ra);
    cfgdb_batch_put(b, "pc/a", "stale");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);
    b = cfgdb_batch_create();
    cfgdb_batch_check_rev(b, "pc/absent", 0);
    cfgdb_batch_put(b, "pc/b", "1");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_rev(b, "pc/a", 0);
    cfgdb_batch_put(b, "pc/y", "no");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);

    /* CHECK_PREFIX_REV: nothing under the prefix changed after REV. */
    CHECK_EQ_INT(put_wait(db, "pp/1", "1", &rp), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "pp/", rp);
    cfgdb_batch_put(b, "pc/c", "1");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "empty/", 1);       /* An empty range passes. */
    cfgdb_batch_put(b, "pc/d", "1");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    CHECK_EQ_INT(put_wait(db, "pp/2", "2", NULL), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "pp/", rp);
    cfgdb_batch_put(b, "pc/z", "no");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);

    /* One failing check among passing ones: nothing of the batch is applied. */
    b = cfgdb_batch_create();
    cfgdb_batch_check_absent(b, "pc/fresh");
    cfgdb_batch_check_rev(b, "pc/a", ra2);
    cfgdb_batch_check_rev(b, "pc/b", 1);                /* Fails. */
    cfgdb_batch_put(b, "pc/fresh", "no");
    cfgdb_batch_delete(b, "pc/a");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);
    CHECK_STREQ(scan_str(db, "pc/", false, NULL), "pc/a=2;pc/b=1;pc/c=1;pc/d=1;pc/new=yes;");
    CHECK(db->n_conflicts >= 5);

    /* A prefix check of the whole store: a delete after REV changes no existing key. */
    uint64_t rx = 0;
    CHECK_EQ_INT(put_wait(db, "pz/x", "1", &rx), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_delete(b, "pz/x");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "", rx);
    cfgdb_batch_put(b, "pz/y", "1");
    CHECK_EQ_INT(commit_wait(db, b, NULL), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "", rx);            /* pz/y changed since. */
    cfgdb_batch_put(b, "pz/z", "1");
    CHECK_EQ_INT(commit_wait(db, b, NULL), EEXIST);
}

/* Batches submitted together: pipelined, but those sharing a key apply in order. */
static void
test_ordering(struct cfgdb *db)
{
    enum { N = 24 };
    struct done_rec r[N];
    memset(r, 0, sizeof r);
    int completed = 0;
    for (int i = 0; i < N; i++) {
        struct cfgdb_batch *b = cfgdb_batch_create();
        char k[32], v[32];
        snprintf(k, sizeof k, "ord/%d", i % 3);
        snprintf(v, sizeof v, "%d", i);
        if (i == N - 4) {
            cfgdb_batch_delete(b, k);
        } else {
            cfgdb_batch_put(b, k, v);
        }
        cfgdb_commit(db, b, on_done, &r[i]);
    }
    /* A prefix check queued behind a write under the prefix sees it. */
    uint64_t before = 0;
    scan_str(db, "ordp/", false, &before);
    struct done_rec rc = { 0 }, rd = { 0 };
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_put(b, "ordp/child", "1");
    cfgdb_commit(db, b, on_done, &rc);
    b = cfgdb_batch_create();
    cfgdb_batch_check_prefix_rev(b, "ordp/", before);
    cfgdb_batch_delete(b, "ordp");
    cfgdb_commit(db, b, on_done, &rd);
    double deadline = now() + 10;
    int never = 0;
    while (now() < deadline && (completed < N || !rd.called)) {
        run_until(&never, 1, 0.01);
        completed = 0;
        for (int i = 0; i < N; i++) {
            completed += r[i].called;
        }
    }
    CHECK_EQ_INT(completed, N);
    bool in_order = true;
    for (int i = 3; i < N; i++) {
        in_order &= !r[i].error && r[i].rev > r[i - 3].rev;
    }
    CHECK(in_order);
    CHECK_EQ_INT(rc.error, 0);
    CHECK_EQ_INT(rd.error, EEXIST);
    /* N-4 = 20 deleted ord/2, then 23 wrote it; 21 and 22 are the last of ord/0, ord/1. */
    CHECK_STREQ(scan_str(db, "ord/", false, NULL), "ord/0=21;ord/1=22;ord/2=23;");
    json_t *st = cfgdb_status(db);
    CHECK(json_integer_value(json_object_get(st, "batches_held")) > 0);
    json_decref(st);

    /* A big batch then a small one on the same key: the small one, quicker to send and
     * apply, must not overtake. */
    size_t big_len = 4 << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'b', big_len);
    big[big_len] = '\0';
    struct done_rec r1 = { 0 }, r2 = { 0 };
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "ordbig/k", big);
    cfgdb_batch_put(b, "ordbig/other", "1");
    cfgdb_commit(db, b, on_done, &r1);
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "ordbig/k", "small");
    cfgdb_commit(db, b, on_done, &r2);
    run_until(&r2.called, 1, 10);
    run_until(&r1.called, 1, 10);
    CHECK(!r1.error && !r2.error && r2.rev > r1.rev);
    CHECK(!strcmp(scan_str(db, "ordbig/k", false, NULL), "ordbig/k=small;"));
    free(big);
}

/* Two handles: watch, barrier, concurrent creates. */
static struct watch_rec w2;

static void
test_two_handles(struct cfgdb *h1, struct cfgdb *h2)
{
    uint64_t from = 0;
    scan_str(h2, "w/", false, &from);
    CHECK(from > 0);
    CHECK_EQ_INT(cfgdb_watch(h2, "w/", from, watch_cb, &w2), 0);

    /* Read-your-writes across handles: once h1's commit is acknowledged, a barrier on h2
     * returns only after h2's watch delivered it. */
    int ok = 0;
    for (int i = 0; i < 30; i++) {
        char k[32], v[32];
        /* Every fifth step deletes the key the step before wrote. */
        snprintf(k, sizeof k, "w/k%d", (i % 5 == 4 ? i - 1 : i) % 7);
        snprintf(v, sizeof v, "v%d", i);
        uint64_t rev = 0, brev = 0;
        int error;
        if (i % 5 == 4) {
            struct cfgdb_batch *b = cfgdb_batch_create();
            cfgdb_batch_delete(b, k);
            error = commit_wait(h1, b, &rev);
        } else {
            error = put_wait(h1, k, v, &rev);
        }
        CHECK_EQ_INT(error, 0);
        CHECK_EQ_INT(barrier_wait(h2, &brev), 0);
        CHECK(brev >= rev);
        int at = watch_find(&w2, k);
        if (at >= 0 && w2.ev[at].rev == rev
            && (i % 5 == 4 ? w2.ev[at].type == CFGDB_EV_DELETE
                : w2.ev[at].type == CFGDB_EV_PUT && !strcmp(w2.ev[at].value, v))) {
            ok++;
        } else {
            fprintf(stderr, "iteration %d: %s at rev %llu not yet delivered after barrier\n",
                    i, k, (unsigned long long) rev);
        }
    }
    CHECK_EQ_INT(ok, 30);
    CHECK(!w2.out_of_order);

    /* Writes outside the watched prefix do not hold a barrier up. */
    CHECK_EQ_INT(put_wait(h1, "elsewhere/1", "1", NULL), 0);
    double t0 = now();
    CHECK_EQ_INT(barrier_wait(h2, NULL), 0);
    CHECK(now() - t0 < 2);

    /* A second watch on the same handle, from an older revision: replays, in order. */
    static struct watch_rec w2b;
    CHECK_EQ_INT(cfgdb_watch(h2, "w/k1", from, watch_cb, &w2b), 0);
    CHECK_EQ_INT(barrier_wait(h2, NULL), 0);
    CHECK(w2b.n >= 4);
    CHECK(!w2b.out_of_order);
    int n_before = w2.n;
    CHECK_EQ_INT(put_wait(h1, "w/k1", "again", NULL), 0);
    CHECK_EQ_INT(barrier_wait(h2, NULL), 0);
    CHECK_EQ_INT(w2.n, n_before + 1);                   /* No replay to the first watch. */
    CHECK_STREQ(w2b.ev[w2b.n - 1].value, "again");

    /* Concurrent creates of one key from both handles: exactly one wins. */
    for (int round = 0; round < 5; round++) {
        char k[32];
        snprintf(k, sizeof k, "race/%d", round);
        struct done_rec r1 = { 0 }, r2 = { 0 };
        struct cfgdb_batch *b1 = cfgdb_batch_create(), *b2 = cfgdb_batch_create();
        cfgdb_batch_check_absent(b1, k);
        cfgdb_batch_put(b1, k, "h1");
        cfgdb_batch_check_absent(b2, k);
        cfgdb_batch_put(b2, k, "h2");
        cfgdb_commit(h1, b1, on_done, &r1);
        cfgdb_commit(h2, b2, on_done, &r2);
        int both = 0;
        while (both < 2 && run_until(&r1.called, 1, 10) && run_until(&r2.called, 1, 10)) {
            both = 2;
        }
        CHECK((r1.error == 0) != (r2.error == 0));
        CHECK(r1.error == EEXIST || r2.error == EEXIST);
        char want[64];
        snprintf(want, sizeof want, "%s=%s;", k, r1.error ? "h2" : "h1");
        CHECK_STREQ(scan_str(h1, k, false, NULL), want);
    }

    json_t *st = cfgdb_status(h2);
    CHECK_STREQ(json_string_value(json_object_get(st, "backend")), "etcd");
    CHECK(json_is_array(json_object_get(st, "endpoints")));
    CHECK(json_object_get(st, "member") != NULL);
    CHECK(json_integer_value(json_object_get(st, "revision")) > 0);
    CHECK(json_object_get(st, "watch_reconnects") != NULL);
    CHECK(json_object_get(st, "failovers") != NULL);
    CHECK(json_object_get(st, "in_flight") != NULL);
    json_decref(st);
}

/* A stream of commits, 4 in flight, while the leader is killed. */
#define STREAM_MAX 2000
struct stream {
    struct cfgdb *db;
    int next;
    int inflight;
    bool stop;
    int acked, failed, acked_after_kill;
    double kill_at;
    bool acked_key[STREAM_MAX];
};

struct stream_op {
    struct stream *s;
    int i;
};

static void stream_submit(struct stream *);

static void
stream_done(void *aux, int error, uint64_t rev)
{
    struct stream_op *op = aux;
    struct stream *s = op->s;
    s->inflight--;
    if (!error) {
        s->acked++;
        s->acked_key[op->i] = true;
        if (s->kill_at && now() > s->kill_at) {
            s->acked_after_kill++;
        }
    } else {
        s->failed++;
    }
    free(op);
    stream_submit(s);
}

static void
stream_submit(struct stream *s)
{
    while (!s->stop && s->inflight < 4 && s->next < STREAM_MAX) {
        struct stream_op *op = malloc(sizeof *op);
        op->s = s;
        op->i = s->next++;
        char k[32], v[32];
        snprintf(k, sizeof k, "s/%05d", op->i);
        snprintf(v, sizeof v, "%d", op->i);
        struct cfgdb_batch *b = cfgdb_batch_create();
        cfgdb_batch_put(b, k, v);
        s->inflight++;
        cfgdb_commit(s->db, b, stream_done, op);
    }
}

struct scan_keys {
    bool seen[STREAM_MAX];
};

static void
scan_keys_cb(void *aux, const char *key, const char *value, uint64_t rev)
{
    struct scan_keys *sk = aux;
    int i = atoi(key + 2);
    if (i >= 0 && i < STREAM_MAX && atoi(value) == i) {
        sk->seen[i] = true;
    }
}

static void
test_leader_kill(struct cfgdb *h1, struct cfgdb *h2)
{
    int leader = wait_leader(5);
    CHECK(leader >= 0);
    if (leader < 0) {
        return;
    }
    static struct stream s;
    s.db = h1;
    stream_submit(&s);
    run_until(&s.acked, 50, 5);
    s.kill_at = now();
    stop_member(leader);
    /* Until commits have been acknowledged again for a while (or 10 s). */
    run_until(&s.acked_after_kill, 50, 10);
    s.stop = true;
    int zero = 0;
    double deadline = now() + 10;
    while (s.inflight && now() < deadline) {
        run_until(&zero, 1, 0.01);
    }
    CHECK_EQ_INT(s.inflight, 0);
    CHECK(s.acked_after_kill >= 50);
    fprintf(stderr, "leader m%d killed: %d commits acknowledged (%d after the kill), %d failed\n",
            leader + 1, s.acked, s.acked_after_kill, s.failed);

    static struct scan_keys sk;
    CHECK_EQ_INT(cfgdb_scan(h2, "s/", scan_keys_cb, &sk, NULL), 0);
    int lost = 0;
    for (int i = 0; i < STREAM_MAX; i++) {
        lost += s.acked_key[i] && !sk.seen[i];
    }
    CHECK_EQ_INT(lost, 0);

    start_member(leader, true);
    CHECK(wait_leader(10) >= 0);
}

static void
test_quorum_loss(struct cfgdb *h2)
{
    struct cfgdb *h3 = open_db("&timeout=1.5");
    CHECK(h3 != NULL);
    if (!h3) {
        return;
    }
    CHECK_EQ_INT(put_wait(h3, "w/q0", "before", NULL), 0);
    CHECK_EQ_INT(barrier_wait(h2, NULL), 0);

    int keep = wait_leader(5);
    int dead1 = (keep + 1) % N_MEMBERS, dead2 = (keep + 2) % N_MEMBERS;
    if (keep < 0) {
        keep = 0, dead1 = 1, dead2 = 2;
    }
    stop_member(dead1);
    stop_member(dead2);

    double t0 = now();
    int error = put_wait(h3, "w/q1", "lost?", NULL);
    double took = now() - t0;
    CHECK_EQ_INT(error, ETIMEDOUT);
    CHECK(took < 1.5 + 1.0);
    fprintf(stderr, "without quorum: commit failed with %s after %.2f s\n", strerror(error),
            took);
    t0 = now();
    CHECK_EQ_INT(barrier_wait(h3, NULL), ETIMEDOUT);
    CHECK(now() - t0 < 1.5 + 1.0);

    /* One member back: commits succeed again (retry while the cluster elects a leader). */
    start_member(dead1, true);
    double deadline = now() + 15;
    uint64_t rev = 0;
    while ((error = put_wait(h3, "w/q2", "after", &rev)) != 0 && now() < deadline) {
        continue;
    }
    CHECK_EQ_INT(error, 0);

    /* h2's watch resumed without missing anything: every write from here on is seen. */
    for (int i = 0; i < 10; i++) {
        char k[32];
        snprintf(k, sizeof k, "w/q3-%d", i);
        CHECK_EQ_INT(put_wait(h3, k, "x", NULL), 0);
    }
    CHECK_EQ_INT(barrier_wait(h2, NULL), 0);
    int at = watch_find(&w2, "w/q2");
    CHECK(at >= 0 && w2.ev[at].rev == rev);
    for (int i = 0; i < 10; i++) {
        char k[32];
        snprintf(k, sizeof k, "w/q3-%d", i);
        CHECK(watch_find(&w2, k) >= 0);
    }
    CHECK(!w2.out_of_order);
    /* Every event in revision order and none lost: the watch agrees with a scan. */
    uint64_t srev = 0;
    struct scan_buf *sb = calloc(1, sizeof *sb);
    cfgdb_scan(h2, "w/q", scan_cb, sb, &srev);
    int live = 0;
    for (int i = 0; i < (w2.n < MAX_EVENTS ? w2.n : MAX_EVENTS); i++) {
        if (!strncmp(w2.ev[i].key, "w/q", 3) && watch_find(&w2, w2.ev[i].key) == i
            && w2.ev[i].type == CFGDB_EV_PUT) {
            live++;
        }
    }
    CHECK_EQ_INT(live, sb->n);
    free(sb);

    start_member(dead2, true);
    cfgdb_close(h3);
}

static void
test_compaction(struct cfgdb *h1)
{
    uint64_t old = 0, cur = 0;
    CHECK_EQ_INT(put_wait(h1, "cmp/a", "1", &old), 0);
    CHECK_EQ_INT(put_wait(h1, "cmp/a", "2", &cur), 0);
    char body[64];
    snprintf(body, sizeof body, "{\"revision\":\"%llu\"}", (unsigned long long) cur);
    int leader = wait_leader(5);
    CHECK(leader >= 0 && member_post(leader, "/v3/kv/compaction", body) != NULL);

    static struct watch_rec wc;
    struct cfgdb *h = open_db("");
    CHECK_EQ_INT(cfgdb_watch(h, "cmp/", old - 1, watch_cb, &wc), 0);
    run_until(&wc.resyncs, 1, 5);
    CHECK_EQ_INT(wc.resyncs, 1);
    CHECK(wc.last_rev >= cur);
    CHECK_EQ_INT(put_wait(h1, "cmp/b", "3", NULL), 0);
    CHECK_EQ_INT(barrier_wait(h, NULL), 0);
    CHECK(watch_find(&wc, "cmp/b") >= 0);
    cfgdb_close(h);
}

static void
test_unreachable(void)
{
    char spec[128], err[256];
    snprintf(spec, sizeof spec, "etcd:http://127.0.0.1:%d,127.0.0.1:%d?timeout=3", free_port(),
             free_port());
    struct cfgdb *db = NULL;
    CHECK_EQ_INT(cfgdb_open(base, spec, &db, err, sizeof err), 0);
    double t0 = now();
    CHECK_EQ_INT(put_wait(db, "k", "v", NULL), ECONNREFUSED);
    CHECK(now() - t0 < 3);
    json_t *st = cfgdb_status(db);
    CHECK(json_integer_value(json_object_get(st, "failovers")) > 0);
    json_decref(st);
    /* Close with a batch in flight: it completes (with an error) before close returns. */
    struct done_rec r = { 0 };
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_put(b, "k", "v");
    cfgdb_commit(db, b, on_done, &r);
    cfgdb_close(db);
    CHECK_EQ_INT(r.called, 1);
    CHECK(r.error != 0);

    CHECK_EQ_INT(cfgdb_open(base, "etcd:https://x:1", &db, err, sizeof err), EINVAL);
    CHECK_EQ_INT(cfgdb_open(base, "etcd:http://127.0.0.1:1?bogus=1", &db, err, sizeof err),
                 EINVAL);
    CHECK_CONTAINS(err, "bogus");
}

int
main(void)
{
    if (system("command -v etcd >/dev/null 2>&1")) {
        printf("etcd is not installed (apt-get install etcd-server): skipping\n");
        return 77;
    }
    mem_init_json();
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cfgdb-etcd-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    atexit(cleanup);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (getenv("CFGDB_ETCD_DEBUG")) {
        log_set_level(NULL, LOG_LEVEL_DEBUG);
    }
    for (int i = 0; i < N_MEMBERS; i++) {
        client_port[i] = free_port();
        peer_port[i] = free_port();
        size_t n = strlen(endpoints);
        snprintf(endpoints + n, sizeof endpoints - n, "%shttp://127.0.0.1:%d", i ? "," : "",
                 client_port[i]);
    }
    double t0 = now();
    for (int i = 0; i < N_MEMBERS; i++) {
        start_member(i, false);
    }
    if (wait_leader(15) < 0) {
        fprintf(stderr, "the etcd cluster did not elect a leader (logs in %s)\n", tmpdir);
        CHECK(false);
        return check_finish();
    }
    fprintf(stderr, "etcd cluster up in %.2f s\n", now() - t0);

    base = event_base_new();
    struct cfgdb *h1 = open_db("&timeout=2");
    struct cfgdb *h2 = open_db("&timeout=2");
    CHECK(h1 && h2);
    if (h1 && h2) {
        test_basic(h1);
        test_preconditions(h1);
        test_ordering(h1);
        test_two_handles(h1, h2);
        test_leader_kill(h1, h2);
        test_quorum_loss(h2);
        test_compaction(h1);
    }
    test_unreachable();
    cfgdb_close(h1);
    cfgdb_close(h2);
    event_base_free(base);
    fprintf(stderr, "total %.1f s\n", now() - t0);
    return check_finish();
}
