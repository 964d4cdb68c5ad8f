/* Unit tests of lib/cfgdb and the SQLite backend: batches, preconditions, completions on the
 * event loop, scans, durability across reopen, group commit. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cfgdb.h"
#include "check.h"
#include "mem.h"

static char tmpdir[64];
static char dbspec[160];

/* Completion record of one batch. */
struct done_rec {
    int called;
    int error;
    int order;
};

static int done_seq;

static void
on_done(void *aux, int error, uint64_t rev)
{
    struct done_rec *r = aux;
    r->called++;
    r->error = error;
    r->order = ++done_seq;
}

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until *COUNTER reaches TARGET (or 20 s pass).  Returns whether it did. */
static bool
run_until(struct event_base *base, const int *counter, int target)
{
    double deadline = now() + 20;
    while (*counter < target && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        if (*counter < target) {
            usleep(1000);
        }
    }
    return *counter >= target;
}

/* Scan collector: "k=v;" for every pair. */
struct scan_buf {
    char text[8192];
    int n;
};

static void
on_scan(void *aux, const char *key, const char *value, uint64_t rev)
{
    struct scan_buf *b = aux;
    size_t len = strlen(b->text);
    snprintf(b->text + len, sizeof b->text - len, "%s=%s;", key, value);
    b->n++;
}

static const char *
scan(struct cfgdb *db, const char *prefix, int *n)
{
    static struct scan_buf b;
    memset(&b, 0, sizeof b);
    int error = cfgdb_scan(db, prefix, on_scan, &b, NULL);
    CHECK_EQ_INT(error, 0);
    if (n) {
        *n = b.n;
    }
    return b.text;
}

static int
commit_wait(struct event_base *base, struct cfgdb *db, struct cfgdb_batch *b)
{
    struct done_rec r = { 0 };
    cfgdb_commit(db, b, on_done, &r);
    CHECK_EQ_INT(r.called, 0);          /* Never from inside cfgdb_commit. */
    CHECK(run_until(base, &r.called, 1));
    CHECK_EQ_INT(r.called, 1);
    return r.error;
}

static void
test_open_errors(struct event_base *base)
{
    struct cfgdb *db = NULL;
    char err[512];
    CHECK_EQ_INT(cfgdb_open(base, "sqlite:", &db, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "path");
    /* The etcd backend connects lazily (test_cfgdb_etcd runs it against a cluster). */
    CHECK_EQ_INT(cfgdb_open(base, "etcd:http://127.0.0.1:2379", &db, err, sizeof err), 0);
    CHECK(db && cfgdb_is_shared(db));
    cfgdb_close(db);
    CHECK_EQ_INT(cfgdb_open(base, "etcd:https://127.0.0.1:2379", &db, err, sizeof err),
                 EINVAL);
    CHECK_CONTAINS(err, "http://");
    CHECK_EQ_INT(cfgdb_open(base, "bogus:/tmp/x", &db, err, sizeof err), EINVAL);
    CHECK_CONTAINS(err, "bogus");
    char bad[200];
    snprintf(bad, sizeof bad, "sqlite:%s/no/such/dir/db", tmpdir);
    CHECK(cfgdb_open(base, bad, &db, err, sizeof err) != 0);
    CHECK_CONTAINS(err, "no/such/dir");
    /* A directory is not a database. */
    snprintf(bad, sizeof bad, "sqlite:%s", tmpdir);
    CHECK(cfgdb_open(base, bad, &db, err, sizeof err) != 0);
    cfgdb_close(NULL);
}

static void
test_batches(struct event_base *base)
{
    struct cfgdb *db = NULL;
    char err[512] = "";
    CHECK_EQ_INT(cfgdb_open(base, dbspec, &db, err, sizeof err), 0);
    if (!db) {
        fprintf(stderr, "open: %s\n", err);
        return;
    }
    int n;
    scan(db, "", &n);
    CHECK_EQ_INT(n, 0);

    struct cfgdb_batch *b = cfgdb_batch_create();
    CHECK(cfgdb_batch_is_empty(b));
    cfgdb_batch_put(b, "obj/b", "2");
    cfgdb_batch_put(b, "obj/a", "1");
    cfgdb_batch_put(b, "ua/x", "{\"k\": \"v\"}");
    cfgdb_batch_put(b, "obj/c", "");
    cfgdb_batch_put(b, "obj/u", "h\xc3\xa9llo");
    char *owned = mem_strdup(&mem_type_string, "owned");
    cfgdb_batch_put_owned(b, "obj/o", owned);
    CHECK(!cfgdb_batch_is_empty(b));
    CHECK_EQ_INT(commit_wait(base, db, b), 0);

    /* Scans are in key order and by prefix. */
    CHECK_STREQ(scan(db, "obj/", &n), "obj/a=1;obj/b=2;obj/c=;obj/o=owned;obj/u=h\xc3\xa9llo;");
    CHECK_EQ_INT(n, 5);
    CHECK_STREQ(scan(db, "ua/", &n), "ua/x={\"k\": \"v\"};");
    CHECK_STREQ(scan(db, "obj/a", &n), "obj/a=1;");
    CHECK_STREQ(scan(db, "nothing/", &n), "");
    CHECK_EQ_INT(n, 0);
    scan(db, "", &n);
    CHECK_EQ_INT(n, 6);
    /* "obj" without the slash also matches "obj/..." keys, and "ob" too. */
    scan(db, "ob", &n);
    CHECK_EQ_INT(n, 5);

    /* Overwrite and delete (deleting a missing key is fine). */
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/a", "1bis");
    cfgdb_batch_delete(b, "obj/b");
    cfgdb_batch_delete(b, "obj/never-was");
    CHECK_EQ_INT(commit_wait(base, db, b), 0);
    CHECK_STREQ(scan(db, "obj/", &n), "obj/a=1bis;obj/c=;obj/o=owned;obj/u=h\xc3\xa9llo;");

    /* A precondition that holds. */
    b = cfgdb_batch_create();
    cfgdb_batch_check_absent(b, "obj/b");
    cfgdb_batch_put(b, "obj/b", "again");
    CHECK_EQ_INT(commit_wait(base, db, b), 0);
    CHECK_STREQ(scan(db, "obj/b", &n), "obj/b=again;");

    /* A failed precondition undoes its whole batch (even the ops before it) and nothing
     * else: submit it between two good batches so that they share a commit. */
    struct done_rec r1 = { 0 }, r2 = { 0 }, r3 = { 0 };
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/d", "4");
    cfgdb_commit(db, b, on_done, &r1);
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/e", "5");
    cfgdb_batch_delete(b, "obj/a");
    cfgdb_batch_check_absent(b, "obj/c");      /* Exists. */
    cfgdb_batch_put(b, "obj/f", "6");
    cfgdb_commit(db, b, on_done, &r2);
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/g", "7");
    cfgdb_commit(db, b, on_done, &r3);
    CHECK(run_until(base, &r3.called, 1));
    run_until(base, &r2.called, 1);
    run_until(base, &r1.called, 1);
    CHECK_EQ_INT(r1.error, 0);
    CHECK_EQ_INT(r2.error, EEXIST);
    CHECK_EQ_INT(r3.error, 0);
    /* Completions come in submission order. */
    CHECK(r1.order < r2.order && r2.order < r3.order);
    CHECK_STREQ(scan(db, "obj/", &n),
                "obj/a=1bis;obj/b=again;obj/c=;obj/d=4;obj/g=7;obj/o=owned;obj/u=h\xc3\xa9llo;");
    CHECK_EQ_INT(db->n_errors, 0);          /* EEXIST is not a write error. */

    /* An empty batch completes too, and a NULL callback is allowed. */
    CHECK_EQ_INT(commit_wait(base, db, cfgdb_batch_create()), 0);
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/h", "8");
    uint64_t before = db->n_batches;
    cfgdb_commit(db, b, NULL, NULL);
    double deadline = now() + 20;
    while (db->n_batches == before && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    CHECK(db->n_batches == before + 1);
    CHECK_STREQ(scan(db, "obj/h", &n), "obj/h=8;");

    /* Large values. */
    size_t big_len = 1 << 20;
    char *big = malloc(big_len + 1);
    memset(big, 'v', big_len);
    big[big_len] = '\0';
    b = cfgdb_batch_create();
    cfgdb_batch_put(b, "big/1", big);
    CHECK_EQ_INT(commit_wait(base, db, b), 0);
    free(big);
    b = cfgdb_batch_create();
    cfgdb_batch_delete(b, "big/1");
    CHECK_EQ_INT(commit_wait(base, db, b), 0);

    cfgdb_close(db);
}

static void
test_reopen(struct event_base *base)
{
    struct cfgdb *db = NULL;
    char err[512] = "";
    CHECK_EQ_INT(cfgdb_open(base, dbspec, &db, err, sizeof err), 0);
    if (!db) {
        return;
    }
    int n;
    CHECK_STREQ(scan(db, "obj/", &n), "obj/a=1bis;obj/b=again;obj/c=;obj/d=4;obj/g=7;obj/h=8;"
                "obj/o=owned;obj/u=h\xc3\xa9llo;");
    CHECK_STREQ(scan(db, "ua/", &n), "ua/x={\"k\": \"v\"};");
    CHECK_EQ_INT(db->n_batches, 0);

    /* Close waits for submitted batches and reports them. */
    struct done_rec r = { 0 };
    struct cfgdb_batch *b = cfgdb_batch_create();
    cfgdb_batch_put(b, "obj/late", "x");
    cfgdb_commit(db, b, on_done, &r);
    cfgdb_close(db);
    CHECK_EQ_INT(r.called, 1);
    CHECK_EQ_INT(r.error, 0);

    /* A bare path names an SQLite file too. */
    const char *path = dbspec + strlen("sqlite:");
    db = NULL;
    CHECK_EQ_INT(cfgdb_open(base, path, &db, err, sizeof err), 0);
    if (db) {
        CHECK_STREQ(scan(db, "obj/late", &n), "obj/late=x;");
        cfgdb_close(db);
    }
}

static void
test_group_commit(struct event_base *base)
{
    enum { N = 400 };
    char spec[200];
    snprintf(spec, sizeof spec, "sqlite:%s/group.db", tmpdir);
    struct cfgdb *db = NULL;
    char err[512] = "";
    CHECK_EQ_INT(cfgdb_open(base, spec, &db, err, sizeof err), 0);
    if (!db) {
        return;
    }
    static struct done_rec recs[N];
    int n_done = 0;
    for (int i = 0; i < N; i++) {
        struct cfgdb_batch *b = cfgdb_batch_create();
        char key[32], value[32];
        snprintf(key, sizeof key, "k/%04d", i);
        snprintf(value, sizeof value, "%d", i);
        cfgdb_batch_put(b, key, value);
        if (i % 10 == 9) {
            /* Every tenth batch fails its precondition on the previous batch's key. */
            snprintf(key, sizeof key, "k/%04d", i - 1);
            cfgdb_batch_check_absent(b, key);
        }
        cfgdb_commit(db, b, on_done, &recs[i]);
    }
    double deadline = now() + 60;
    while (n_done < N && now() < deadline) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        n_done = 0;
        for (int i = 0; i < N; i++) {
            n_done += recs[i].called;
        }
        if (n_done < N) {
            usleep(500);
        }
    }
    CHECK_EQ_INT(n_done, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        bad += recs[i].called != 1 || recs[i].error != (i % 10 == 9 ? EEXIST : 0);
        bad += i && recs[i].order < recs[i - 1].order;
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(db->n_batches, N);
    CHECK(db->n_commits >= 1 && db->n_commits <= db->n_batches);
    CHECK_EQ_INT(db->n_errors, 0);
    printf("group commit: %llu batches in %llu commits\n", (unsigned long long) db->n_batches,
           (unsigned long long) db->n_commits);
    int n;
    scan(db, "k/", &n);
    CHECK_EQ_INT(n, N - N / 10);
    cfgdb_close(db);
}

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cfgdb.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(dbspec, sizeof dbspec, "sqlite:%s/config.db", tmpdir);
    struct event_base *base = event_base_new();

    test_open_errors(base);
    test_batches(base);
    test_reopen(base);
    test_group_commit(base);

    json_t *j = mem_to_json();
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "cfgdb_batch"), "live")),
                 0);
    CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "cfgdb_sqlite"),
                                                    "live")), 0);
    json_decref(j);
    event_base_free(base);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    }
    return check_finish();
}
